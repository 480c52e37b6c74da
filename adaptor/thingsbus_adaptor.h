/*
 * thingsbus_adaptor.h - libthingsbus-adaptor: put data on the Things Bus.
 *
 * Why this exists: sensors, machines and bridges ("adaptors") publish the
 * latest value of a Thing to the broker.  They must never block their own
 * loop on the network, never lose data silently, and need to know nothing
 * but a namespace and where the broker is.  This library gives them:
 *
 *   tb_adaptor_options_t o;
 *   tb_adaptor_options_init(&o);
 *   o.ns = "shop.shopbot";
 *   o.documentation_url = "http://example.com/Shopbot_Thingsbus_Documentation";
 *   o.broker_input_url = "tcp://127.0.0.1:7955";
 *   int err;
 *   tb_adaptor_t *a = tb_adaptor_new(&o, &err);
 *   if (!a) { fprintf(stderr, "%s\n", tb_adaptor_strerror(err)); ... }
 *   tb_adaptor_send_json(a, "spacemon", "{\"busy\":12.0}", (size_t)-1, NAN);
 *   tb_adaptor_destroy(&a);
 *
 * Transports (exactly one per adaptor):
 *   - ZeroMQ: PUSH (default) to the broker's PULL input, or PUB (to feed a
 *     deployed original broker, which binds SUB); one JSON frame per update.
 *   - UDP + msgpack: one datagram per update, list form by default.
 *   - a zone: the broker is found through the _thingsbus._tcp SRV record.
 *
 * Sending: every send validates and encodes in the caller's thread, then
 * appends the message to a bounded in-memory queue that a background thread
 * drains into the network.  A send never waits for the network; when the
 * queue is full the message is dropped, counted, and the call says so.
 *
 * Delivery guarantee (ZeroMQ): queued messages are handed to ZeroMQ in the
 * order they were sent, each exactly once.  While no broker is reachable
 * (not started yet, restarting) they wait in the queue (and in ZeroMQ's
 * small per-connection pipe, which survives reconnection) and are delivered
 * in order once it is.  What cannot be guaranteed without acknowledgements
 * (protocol v1 has none): messages already written into a TCP connection
 * that breaks (broker killed) before the broker read them.  That window is
 * at most one ZeroMQ write batch plus the kernel's socket buffers; each
 * broken connection is counted in stats.disconnects, so it is never silent.
 * UDP is datagram delivery: no reachability is known; send errors are
 * counted.
 *
 * Thread-safety: one adaptor may be used from any number of threads at once
 * (send, stats, flush); calls are serialised on an internal mutex held only
 * for a queue append.  tb_adaptor_destroy() must not run concurrently with
 * any other call on the same adaptor.  Different adaptors are independent.
 * The library prints nothing, installs no signal handler and never aborts.
 *
 * Errors: functions return 0 (TB_OK) or a negative enum tb_error code
 * (thingsbus_errors.h); tb_adaptor_strerror() turns it into plain words.
 *
 * Firmware: the UDP encoder alone, without ZeroMQ, czmq or jansson and
 * without heap allocation, is declared in thingsbus_firmware.h.
 */
#ifndef THINGSBUS_ADAPTOR_H
#define THINGSBUS_ADAPTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "thingsbus_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque adaptor handle. */
typedef struct tb_adaptor_t tb_adaptor_t;

/* jansson's value type, for tb_adaptor_send(); include <jansson.h> to use it. */
struct json_t;

/* ZeroMQ socket type used towards the broker. */
typedef enum {
    TB_ADAPTOR_PUSH = 0,   /* PUSH to the broker's PULL input (default) */
    TB_ADAPTOR_PUB  = 1    /* PUB to a broker that binds SUB (the original);
                              messages wait until the broker's subscription
                              has arrived, so none are lost to the
                              "slow joiner" effect */
} tb_adaptor_zmq_mode_t;

/* Message form on the wire. */
typedef enum {
    TB_ADAPTOR_FORM_DEFAULT = 0, /* map form over ZeroMQ, list form over UDP */
    TB_ADAPTOR_FORM_LIST    = 1, /* [ns, ts, data, documentation_url] */
    TB_ADAPTOR_FORM_MAP     = 2  /* {"type":"thing_update","ns":…,"data":…,
                                     "ts":…,"documentation_url":…} */
} tb_adaptor_form_t;

#define TB_ADAPTOR_DEFAULT_QUEUE_SIZE   10000
#define TB_ADAPTOR_DEFAULT_LINGER_MS    2000
#define TB_ADAPTOR_LINGER_NONE          (-1)
#define TB_ADAPTOR_DEFAULT_HEARTBEAT_S  60.0
#define TB_ADAPTOR_DEFAULT_RERESOLVE_S  30.0
#define TB_ADAPTOR_DEFAULT_DNS_TIMEOUT_MS 5000

/* Creation options.  Call tb_adaptor_options_init() first, then set fields.
 * A zero-initialised struct is also valid: every 0 means "the default".
 * Strings are copied by tb_adaptor_new(); the caller keeps ownership. */
typedef struct {
    /* The adaptor's namespace: required, non-empty, valid (parts matching
     * [a-z][a-z0-9_-]{0,63} joined by '.'). */
    const char *ns;
    /* URL documenting the data's format, sent with every update; NULL for
     * none (sent as null). */
    const char *documentation_url;

    /* Where the broker is: set exactly one of the next three. */
    const char *broker_input_url; /* ZeroMQ endpoint, "tcp://host:port" */
    const char *udp_address;      /* UDP "host:port" (host: name, IPv4 or
                                     [IPv6]); resolved once at creation */
    const char *zone;             /* discover _thingsbus._tcp.<zone> (SRV) */

    /* Zone only: DNS servers "host:port[,host:port]"; NULL = the
     * THINGSBUS_DNS_SERVERS environment variable, else the system's. */
    const char *dns_servers;
    /* Zone only: send UDP to the discovered <target>:<P+1> instead of
     * ZeroMQ. */
    bool zone_udp;

    tb_adaptor_zmq_mode_t zmq_mode;  /* ZeroMQ only; default PUSH */
    tb_adaptor_form_t form;          /* default: map over ZeroMQ, list over UDP */

    /* Messages the queue holds before sends are dropped; 0 = 10 000. */
    size_t queue_size;
    /* How long tb_adaptor_destroy() keeps delivering queued messages:
     * milliseconds; 0 = 2000; TB_ADAPTOR_LINGER_NONE = discard at once. */
    int linger_ms;

    /* When true, a send whose data equals the last one queued for the same
     * final namespace is skipped (counted in stats.suppressed), except that
     * one is still sent at least every heartbeat_s seconds.  Data are
     * compared after normalisation (key order and whitespace do not
     * matter). */
    bool suppress_unchanged;
    double heartbeat_s;              /* 0 = 60 s */

    /* Zone only: re-resolve the SRV record when no broker has been
     * reachable for this long (seconds; 0 = 30), and at TTL expiry. */
    double reresolve_s;
    /* Zone only: time allowed for one DNS resolution; 0 = 5000 ms. */
    int dns_timeout_ms;
} tb_adaptor_options_t;

/* Counters, all since creation.  Every send call ends in exactly one of:
 * queued (and later sent or counted in errors), suppressed, dropped,
 * rejected. */
typedef struct {
    uint64_t sent;        /* handed to the transport (ZeroMQ accepted the
                             frame / the datagram left with sendto) */
    uint64_t dropped;     /* refused because the queue was full */
    uint64_t rejected;    /* refused at the call: bad namespace, bad data,
                             too large, bad timestamp */
    uint64_t errors;      /* transport failures: datagram send errors,
                             messages discarded after linger ran out */
    uint64_t suppressed;  /* skipped as unchanged (suppress_unchanged) */
    uint64_t disconnects; /* ZeroMQ connections to a broker that broke */
    uint64_t resolutions; /* zone: SRV resolutions done (successful or not) */
    size_t   queue_depth; /* messages waiting in the queue now */
    size_t   queue_size;  /* the queue's capacity */
    bool     connected;   /* ZeroMQ: a broker connection is up now (and, in
                             PUB mode, has subscribed); UDP: always true */
    int      last_error;  /* last transport/discovery error code, or 0 */
} tb_adaptor_stats_t;

/* Fill *options with the defaults (all pointers NULL).  options: not NULL. */
void tb_adaptor_options_init(tb_adaptor_options_t *options);

/* Create an adaptor and start its background thread.  Never blocks on the
 * network, except that udp_address is resolved once here (getaddrinfo).
 * options: read during the call only.
 * error: if not NULL, receives TB_OK or the reason for a NULL return:
 *   TB_ERR_INVALID_ARG (no or several of url/udp/zone, bad sizes),
 *   TB_ERR_BAD_NS, TB_ERR_BAD_URL, TB_ERR_NOMEM, TB_ERR_NET, TB_ERR_SYSTEM.
 * Returns the adaptor (free with tb_adaptor_destroy) or NULL. */
tb_adaptor_t *tb_adaptor_new(const tb_adaptor_options_t *options, int *error);

/* Deliver what is queued for at most the linger time, then stop the
 * background thread, close the sockets and free everything.  Messages still
 * queued after the linger are discarded.  Accepts NULL and *self_p == NULL;
 * sets *self_p to NULL.  Must not race with other calls on the adaptor. */
void tb_adaptor_destroy(tb_adaptor_t **self_p);

/* Queue one update whose data is the JSON text json[0..len).
 * sub_ns: NULL or "" to send under the adaptor's namespace, else a
 *   sub-namespace joined with '.' (e.g. "spacemon"; may itself be dotted).
 * json: exactly one JSON value (any type, null included), optional
 *   surrounding whitespace; len == (size_t)-1 means NUL-terminated.
 * ts: seconds since 1970 UTC; NAN means "now" (taken at this call).
 *   Must be finite otherwise.
 * Returns TB_OK when queued or suppressed; TB_ERR_QUEUE_FULL when dropped
 * (counted in dropped); TB_ERR_BAD_NS, TB_ERR_BAD_DATA, TB_ERR_TOO_LARGE
 * (over 1 MiB, or over one datagram for UDP) or TB_ERR_INVALID_ARG (also
 * for a non-finite ts) when rejected: nothing is sent, counted in rejected;
 * TB_ERR_NOMEM; TB_ERR_CLOSED while being destroyed.
 * Never blocks on the network.  Thread-safe. */
int tb_adaptor_send_json(tb_adaptor_t *self, const char *sub_ns,
                         const char *json, size_t len, double ts);

/* Like tb_adaptor_send_json() with a jansson value (borrowed: the caller
 * keeps its reference; the value is read during the call only).  NaN or
 * infinite reals are rejected with TB_ERR_BAD_DATA. */
int tb_adaptor_send(tb_adaptor_t *self, const char *sub_ns,
                    const struct json_t *data, double ts);

/* Wait until the queue is empty (every message handed to the transport) or
 * timeout_ms passes.  Returns TB_OK, TB_ERR_TIMEOUT, or TB_ERR_INVALID_ARG.
 * Blocks the calling thread (use it at shutdown, not in a sensor loop).
 * Thread-safe. */
int tb_adaptor_flush(tb_adaptor_t *self, int timeout_ms);

/* Copy the counters into *stats.  Returns TB_OK or TB_ERR_INVALID_ARG.
 * Thread-safe. */
int tb_adaptor_stats(tb_adaptor_t *self, tb_adaptor_stats_t *stats);

/* The adaptor's namespace (owned by the adaptor, valid until destroy). */
const char *tb_adaptor_ns(const tb_adaptor_t *self);

/* Plain-words text for an error code; never NULL; static storage. */
const char *tb_adaptor_strerror(int error);

#ifdef __cplusplus
}
#endif
#endif
