/*
 * thingsbus_firmware.h - the firmware-sized Things Bus sender: thing_updates
 * packed as msgpack into one UDP datagram.
 *
 * Why this exists: a microcontroller sensor cannot carry ZeroMQ, czmq or
 * jansson, nor allocate memory per reading.  This part of
 * libthingsbus-adaptor needs only msgpack-c's packing API (header-only
 * inline functions: nothing of libmsgpackc is linked) and BSD sockets.
 * It packs into a buffer the caller supplies, never allocates, and refuses
 * (never truncates) a message that does not fit the buffer or one datagram
 * (65507 bytes).  To build it into firmware, compile adaptor/tb_udp_packer.c
 * and common/tb_ns.c (namespace rule); `make firmware-size` shows the size.
 *
 * Wire forms (PROTOCOL-v1.md):
 *   list form (default, smallest): [ns, ts, data, documentation_url]
 *   map form: {"type":"thing_update","ns":…,"data":…,"ts":…,
 *              "documentation_url":…}
 * ts is a float64, or nil to let the broker stamp its receive time;
 * documentation_url is a string or nil.
 *
 * Thread-safety: no global state.  A tb_fw_udp_t and a buffer must not be
 * used by two threads at once.  Nothing prints, nothing aborts.
 */
#ifndef THINGSBUS_FIRMWARE_H
#define THINGSBUS_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <msgpack/pack.h>
#include "thingsbus_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest UDP payload over IPv4; larger messages are refused. */
#define TB_FW_MAX_DATAGRAM 65507u

typedef enum {
    TB_FW_LIST = 0,   /* [ns, ts, data, documentation_url] */
    TB_FW_MAP  = 1    /* {"type":"thing_update", …} */
} tb_fw_form_t;

/* Packs the data value: must pack exactly ONE msgpack object with pk
 * (a map, an array of anything, a number…).  arg is passed through.
 * Return 0 on success, anything else to abort the encoding (the encoder
 * then returns TB_ERR_BAD_DATA). */
typedef int (*tb_fw_pack_fn)(msgpack_packer *pk, void *arg);

/* Encode one thing_update into buf[0..cap) with the data packed by
 * pack_data(pk, arg).
 * ns: NUL-terminated, non-empty, valid namespace (checked: TB_ERR_BAD_NS).
 * ts: seconds since 1970 UTC, or NAN to send nil (broker's receive time).
 * doc_url: NUL-terminated, or NULL to send nil.
 * *out_len receives the message length on success.
 * Returns TB_OK; TB_ERR_TOO_LARGE if it does not fit min(cap, 65507)
 * bytes (buf contents then undefined, nothing to send);
 * TB_ERR_BAD_NS; TB_ERR_BAD_DATA (pack_data returned non-zero);
 * TB_ERR_INVALID_ARG (NULL buf/ns/pack_data/out_len, non-finite ts other
 * than NAN). */
int tb_fw_encode(void *buf, size_t cap, size_t *out_len, tb_fw_form_t form,
                 const char *ns, double ts, tb_fw_pack_fn pack_data, void *arg,
                 const char *doc_url);

/* Like tb_fw_encode() with data given as already-packed msgpack bytes
 * data[0..data_len) (exactly one msgpack object: the bytes are copied as
 * they are, the broker checks them). */
int tb_fw_encode_packed(void *buf, size_t cap, size_t *out_len,
                        tb_fw_form_t form, const char *ns, double ts,
                        const void *data, size_t data_len, const char *doc_url);

/* A UDP destination.  Plain struct, no heap: put it anywhere. */
typedef struct {
    int                     fd;        /* -1 when closed */
    struct sockaddr_storage addr;
    socklen_t               addr_len;
} tb_fw_udp_t;

/* Open a non-blocking UDP socket towards "host:port" (host: a name, an
 * IPv4 address, or an IPv6 address in brackets "[::1]:7955").
 * Returns TB_OK, TB_ERR_BAD_URL (malformed, or the name does not resolve)
 * or TB_ERR_SYSTEM (socket() failed; errno set). */
int tb_fw_udp_open(tb_fw_udp_t *udp, const char *host_port);

/* Send one datagram without blocking.  Returns TB_OK, TB_ERR_TOO_LARGE
 * (len > 65507), TB_ERR_INVALID_ARG (closed), or TB_ERR_NET (sendto failed,
 * e.g. no buffer space or no route; errno set; the datagram is lost). */
int tb_fw_udp_send(tb_fw_udp_t *udp, const void *msg, size_t len);

/* Close; safe to call twice. */
void tb_fw_udp_close(tb_fw_udp_t *udp);

#ifdef __cplusplus
}
#endif
#endif
