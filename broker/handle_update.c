/*
 * handle_update.c - the one handler for the one input message type,
 * thing_update: decode, store, republish.
 *
 * Why this exists: this is the broker's hot path.  The codec validates the
 * whole message in one pass and hands back byte spans; the directory copies
 * the data once into its outgoing form; the publisher splices the spans
 * into the normalized v1 message.  No DOM, no allocation per message in
 * the steady state.  on_update_accepted() is the single place where an
 * accepted update fans out (the state file, the v1 republish, the v2
 * filtered PUB).
 */
#include "broker.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include <time.h>
#include "tb_time.h"

/* Peer text for logs: "pull 127.0.0.1", "udp [::1]:40000". */
static void
describe_source(const broker_source_t *src, char *buf, size_t len)
{
    const char *name = broker_input_name(src->input);
    if (src->zmq_msg) {
        const char *addr = zmq_msg_gets((zmq_msg_t *)src->zmq_msg, "Peer-Address");
        if (addr)
            snprintf(buf, len, "%s %s", name, addr);
        else
            snprintf(buf, len, "%s", name);
        return;
    }
    if (src->peer) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (src->peer->sa_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)src->peer;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
            snprintf(buf, len, "%s %s:%u", name, host, port);
            return;
        }
        if (src->peer->sa_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)src->peer;
            port = ntohs(a->sin6_port);
            if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
                inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], host, sizeof host);
                snprintf(buf, len, "%s %s:%u", name, host, port);
            }
            else {
                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
                snprintf(buf, len, "%s [%s]:%u", name, host, port);
            }
            return;
        }
    }
    snprintf(buf, len, "%s", name);
}

void
broker_reject(broker_t *b, const broker_source_t *src, int reason, const char *detail)
{
    if (reason <= 0 || reason >= REJECT_COUNT)
        reason = TB_REASON_NOMEM;
    b->stats.rejected[reason]++;
    if (!tb_log_enabled(b->log, TB_LOG_DEBUG))
        return;
    char from[128];
    describe_source(src, from, sizeof from);
    tb_log_limited(b->log, tb_time_mono_ms(), "rejected a message from %s: %s%s%s", from,
                   broker_reject_name(reason), detail && *detail ? ": " : "",
                   detail ? detail : "");
}

static void
reject_decoded(broker_t *b, const broker_source_t *src, tb_reason_t reason,
               const tb_decode_error_t *err)
{
    char detail[200];
    if (err->line > 0)
        snprintf(detail, sizeof detail, "%s (line %d, column %d)", err->text, err->line,
                 err->column);
    else
        snprintf(detail, sizeof detail, "%s (byte %zu)", err->text, err->offset);
    broker_reject(b, src, reason, detail);
}

/* The broker's receive time, as a double and as a JSON float literal with
 * microseconds ("1700000000.123456").  Formatted from the integer clock:
 * printf's %g with a read-back check costs more than the rest of the hot
 * path for the list form, whose ts is usually null. */
static size_t
stamp_now(double *now, char out[32])
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    long long sec = (long long)t.tv_sec;
    long usec = t.tv_nsec / 1000;
    *now = (double)sec + (double)usec / 1e6;
    char digits[24];
    size_t n = 0;
    bool neg = sec < 0;
    unsigned long long u = neg ? 0ull - (unsigned long long)sec : (unsigned long long)sec;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    out[len++] = '.';
    for (int i = 5; i >= 0; i--) {
        out[len + (size_t)i] = (char)('0' + usec % 10);
        usec /= 10;
    }
    return len + 6;
}

/* Everything an accepted update causes happens here, once. */
static void
on_update_accepted(broker_t *b, const broker_source_t *src, tb_thing_t *thing,
                   const tb_update_t *upd, const char *ts_json, size_t ts_len)
{
    b->stats.accepted[src->input]++;
    persist_put(b, thing);
    publish_update(b, thing, upd, ts_json, ts_len, thing->seq);
    v2_publish_update(b, thing, upd);
}

void
handle_update(broker_t *b, const broker_source_t *src, const void *bytes, size_t len,
              bool msgpack)
{
    tb_update_t upd;
    tb_decode_error_t err;
    memset(&err, 0, sizeof err);
    tb_reason_t r = msgpack ? tb_decode_msgpack(b->decoder, bytes, len, &upd, &err)
                            : tb_decode_json(b->decoder, bytes, len, &upd, &err);
    if (r != TB_REASON_OK) {
        reject_decoded(b, src, r, &err);
        return;
    }
    double now;
    char stamp[32];
    size_t stamp_len = stamp_now(&now, stamp);
    const char *ts_json = upd.ts_json;
    size_t ts_len = upd.ts_json_len;
    if (!upd.has_ts) {
        ts_json = stamp;
        ts_len = stamp_len;
    }
    tb_thing_t *thing = tb_directory_get(b->dir, upd.ns, upd.ns_len);
    if (!thing) {
        broker_reject(b, src, TB_REASON_NOMEM, "directory out of memory");
        return;
    }
    if (tb_directory_set(b->dir, thing, upd.data, upd.data_len, ts_json, ts_len, upd.doc_url,
                         upd.doc_url_len, now, b->seq + 1) != 0) {
        broker_reject(b, src, TB_REASON_NOMEM, "directory out of memory");
        return;
    }
    b->seq++;
    on_update_accepted(b, src, thing, &upd, ts_json, ts_len);
}
