/*
 * tb_udp_packer.c - thing_updates as msgpack in one UDP datagram, for
 * firmware (see thingsbus_firmware.h).
 *
 * Why this exists: the smallest useful Things Bus sender.  It must build
 * without ZeroMQ, czmq or jansson and without heap allocation, so it only
 * uses msgpack-c's inline packers with a write callback that fills the
 * caller's fixed buffer; on overflow the message is refused, never cut.
 * The full library's UDP mode uses the same encoder.
 */
#include "thingsbus_firmware.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include "tb_ns.h"

typedef struct {
    unsigned char *buf;
    size_t         cap;
    size_t         len;
    int            overflow;
} fixed_writer_t;

/* msgpack_packer write callback: append or mark overflow (and stay marked). */
static int
fixed_write(void *data, const char *bytes, size_t n)
{
    fixed_writer_t *w = data;
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return -1;
    }
    memcpy(w->buf + w->len, bytes, n);
    w->len += n;
    return 0;
}

static void
pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void
pack_cstr_or_nil(msgpack_packer *pk, const char *s)
{
    if (s)
        pack_cstr(pk, s);
    else
        msgpack_pack_nil(pk);
}

static void
pack_ts(msgpack_packer *pk, double ts)
{
    if (isnan(ts))
        msgpack_pack_nil(pk);
    else
        msgpack_pack_double(pk, ts);
}

typedef struct {
    const void *bytes;
    size_t      len;
} packed_data_t;

static int
copy_packed(msgpack_packer *pk, void *arg)
{
    const packed_data_t *d = arg;
    (void)pk->callback(pk->data, d->bytes, d->len);  /* overflow is sticky */
    return 0;
}

int
tb_fw_encode(void *buf, size_t cap, size_t *out_len, tb_fw_form_t form,
             const char *ns, double ts, tb_fw_pack_fn pack_data, void *arg,
             const char *doc_url)
{
    if (!buf || !out_len || !ns || !pack_data || isinf(ts))
        return TB_ERR_INVALID_ARG;
    size_t ns_len = strlen(ns);
    if (ns_len == 0 || !tb_ns_valid(ns, ns_len))
        return TB_ERR_BAD_NS;

    fixed_writer_t w = { buf, cap < TB_FW_MAX_DATAGRAM ? cap : TB_FW_MAX_DATAGRAM, 0, 0 };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, fixed_write);

    int data_rc;
    if (form == TB_FW_MAP) {
        msgpack_pack_map(&pk, 5);
        pack_cstr(&pk, "type");
        pack_cstr(&pk, "thing_update");
        pack_cstr(&pk, "ns");
        pack_cstr(&pk, ns);
        pack_cstr(&pk, "data");
        data_rc = pack_data(&pk, arg);
        pack_cstr(&pk, "ts");
        pack_ts(&pk, ts);
        pack_cstr(&pk, "documentation_url");
        pack_cstr_or_nil(&pk, doc_url);
    } else {
        msgpack_pack_array(&pk, 4);
        pack_cstr(&pk, ns);
        pack_ts(&pk, ts);
        data_rc = pack_data(&pk, arg);
        pack_cstr_or_nil(&pk, doc_url);
    }
    if (w.overflow)
        return TB_ERR_TOO_LARGE;
    if (data_rc != 0)
        return TB_ERR_BAD_DATA;
    *out_len = w.len;
    return TB_OK;
}

int
tb_fw_encode_packed(void *buf, size_t cap, size_t *out_len, tb_fw_form_t form,
                    const char *ns, double ts, const void *data, size_t data_len,
                    const char *doc_url)
{
    if (!data || data_len == 0)
        return TB_ERR_BAD_DATA;
    packed_data_t d = { data, data_len };
    return tb_fw_encode(buf, cap, out_len, form, ns, ts, copy_packed, &d, doc_url);
}

/* Split "host:port" / "[v6]:port" into host (NUL-terminated copy) and port. */
static int
split_host_port(const char *hp, char *host, size_t host_cap, const char **port)
{
    const char *colon;
    const char *h = hp;
    size_t hlen;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':')
            return -1;
        h = hp + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon || memchr(hp, ':', (size_t)(colon - hp)))
            return -1;   /* a bare IPv6 address needs brackets */
        hlen = (size_t)(colon - hp);
    }
    if (hlen == 0 || hlen >= host_cap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    const char *p = *port;
    if (!*p)
        return -1;
    unsigned long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535)
            return -1;
    }
    return v == 0 ? -1 : 0;
}

int
tb_fw_udp_open(tb_fw_udp_t *udp, const char *host_port)
{
    if (!udp || !host_port)
        return TB_ERR_INVALID_ARG;
    udp->fd = -1;
    char host[256];
    const char *port;
    if (split_host_port(host_port, host, sizeof host, &port) != 0)
        return TB_ERR_BAD_URL;

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return TB_ERR_BAD_URL;
    int fd = socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return TB_ERR_SYSTEM;
    }
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    memcpy(&udp->addr, res->ai_addr, res->ai_addrlen);
    udp->addr_len = res->ai_addrlen;
    udp->fd = fd;
    freeaddrinfo(res);
    return TB_OK;
}

int
tb_fw_udp_send(tb_fw_udp_t *udp, const void *msg, size_t len)
{
    if (!udp || udp->fd < 0 || (!msg && len))
        return TB_ERR_INVALID_ARG;
    if (len > TB_FW_MAX_DATAGRAM)
        return TB_ERR_TOO_LARGE;
    ssize_t n = sendto(udp->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&udp->addr, udp->addr_len);
    return n == (ssize_t)len ? TB_OK : TB_ERR_NET;
}

void
tb_fw_udp_close(tb_fw_udp_t *udp)
{
    if (udp && udp->fd >= 0) {
        close(udp->fd);
        udp->fd = -1;
    }
}
