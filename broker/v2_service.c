/*
 * v2_service.c - protocol version 2 inside thingsbusd: the snapshot
 * service (ROUTER, P+2), the filtered PUB (XPUB, P+3), heartbeats and the
 * purge sweep.
 *
 * Why this exists: the engine (broker/v2/, libtbv2srv.a) knows the wire
 * rules but nothing of the broker; the loop (loop.c) owns the poll but
 * should not learn v2.  This file is the glue: it binds the engine next to
 * the v1 sockets, feeds it every accepted update with its "prev" chain,
 * and gives it a bounded share of each loop turn (requests, a slice of the
 * snapshot streams, a slice of the purge sweep), so however many clients
 * join at once, input is read again between slices.  Purge removes a
 * Thing's value without moving it in the directory's dense array (the
 * engine's scan cursors depend on that), tells the state file, and
 * publishes thing_purge on P+3 only (v1 clients never see purges; their
 * snapshots simply stop listing the Thing).
 */
#include "broker.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include <time.h>
#include "store/tb_store.h"
#include "tb_error.h"
#include "tb_time.h"
#include "v2/tb_v2_dirview.h"
#include "v2/tb_v2srv.h"

/* Things examined per loop turn by the purge sweep. */
#define PURGE_BUDGET 4096

int
v2_open(broker_t *b)
{
    const broker_config_t *cfg = b->cfg;
    b->purge_next_ms = tb_time_mono_ms();
    if (cfg->no_v2) {
        tb_log(b->log, TB_LOG_INFO, "protocol v2 off (--no-v2): v1 PUB only");
        return 0;
    }
    b->v2view = tb_v2_dirview_new(b->dir, &b->seq);
    if (!b->v2view) {
        tb_log(b->log, TB_LOG_ERROR, "out of memory for the v2 directory view");
        return -1;
    }
    tb_v2srv_config_t vc;
    tb_v2srv_config_default(&vc);
    vc.max_streams = (unsigned)cfg->v2_max_streams;
    vc.max_credit = (unsigned)cfg->v2_credit_cap;
    vc.batch_bytes = cfg->v2_batch_bytes;
    vc.stream_timeout_ms = (unsigned)cfg->v2_stream_timeout_ms;
    vc.heartbeat_ms = (unsigned)cfg->heartbeat_ms;
    vc.pub_hwm = (int)cfg->v2_pub_hwm;
    int err = 0;
    b->v2 = tb_v2srv_new(b->zctx, cfg->snapshot_endpoint, cfg->v2_pub_endpoint,
                         tb_v2_dirview_iface(), b->v2view, &vc, &err);
    if (!b->v2) {
        int zerr = errno;
        if (err == TB_ERR_NET) {
            /* the engine binds the ROUTER first and closes it when the
             * XPUB fails: if the ROUTER's endpoint can be bound now (its
             * closed listener may take a moment to go), the XPUB failed */
            const char *which = cfg->snapshot_endpoint;
            const char *what = "snapshot service";
            for (int attempt = 0; attempt < 10; attempt++) {
                void *probe = zmq_socket(b->zctx, ZMQ_ROUTER);
                if (!probe)
                    break;
                int linger = 0, ipv6 = strchr(cfg->snapshot_endpoint, '[') ? 1 : 0;
                zmq_setsockopt(probe, ZMQ_LINGER, &linger, sizeof linger);
                zmq_setsockopt(probe, ZMQ_IPV6, &ipv6, sizeof ipv6);
                int bound = zmq_bind(probe, cfg->snapshot_endpoint) == 0;
                int perr = zmq_errno();
                zmq_close(probe);
                if (bound) {
                    which = cfg->v2_pub_endpoint;
                    what = "filtered PUB";
                    break;
                }
                if (perr != EADDRINUSE)
                    break;
                struct timespec pause = { 0, 20 * 1000 * 1000 };
                nanosleep(&pause, NULL);
            }
            tb_log(b->log, TB_LOG_ERROR, "cannot bind the %s endpoint %s: %s", what, which,
                   zmq_strerror(zerr));
        }
        else {
            tb_log(b->log, TB_LOG_ERROR, "cannot start the v2 service: %s",
                   tb_error_text(err));
        }
        return -1;
    }
    char epoch[17];
    snprintf(epoch, sizeof epoch, "%016llx", (unsigned long long)tb_v2srv_epoch(b->v2));
    tb_log(b->log, TB_LOG_INFO, "protocol v2: snapshot service %s, filtered PUB %s, epoch %s",
           cfg->snapshot_endpoint, cfg->v2_pub_endpoint, epoch);
    return 0;
}

void
v2_close(broker_t *b)
{
    tb_v2srv_destroy(&b->v2);
    tb_v2_dirview_destroy(&b->v2view);
}

void
v2_publish_update(broker_t *b, const tb_thing_t *thing, const tb_update_t *upd)
{
    if (!b->v2)
        return;
    uint64_t prev[TB_V2_MAX_CHAIN];
    size_t n = tb_v2_dirview_chain(b->v2view, thing, thing->seq, prev, TB_V2_MAX_CHAIN);
    if (n == 0)
        return;     /* out of memory: subscribers see a hole in the chain and resync */
    if (!tb_v2srv_has_subscribers(b->v2))
        return;     /* nobody listens: the chain above is all that must be kept */
    /* b->out still holds this update's v1 PUB bytes (publish_update): reuse them */
    if (!tb_buf_failed(&b->out) && b->out.len) {
        tb_v2srv_publish_encoded(b->v2, thing->ns, thing->ns_len, b->out.data, b->out.len,
                                 prev, n);
        return;
    }
    tb_v2_thing_t v;
    tb_v2_dirview_thing(thing, upd->doc_url, upd->doc_url_len, &v);
    tb_v2srv_publish_update(b->v2, &v, prev, n);
}

/* How often a purge sweep starts: often enough that a Thing is purged
 * soon after it reaches the age, rarely enough that an idle broker with a
 * large directory does not spin. */
static uint64_t
purge_interval_ms(const broker_t *b)
{
    double ms = b->cfg->purge_age * 1000.0 / 10.0;
    if (ms < 100)
        ms = 100;
    if (ms > 60000)
        ms = 60000;
    return (uint64_t)ms;
}

static void
purge_thing(broker_t *b, tb_thing_t *t)
{
    uint64_t seq = ++b->seq;
    uint64_t prev[TB_V2_MAX_CHAIN];
    size_t n = b->v2 ? tb_v2_dirview_chain(b->v2view, t, seq, prev, TB_V2_MAX_CHAIN) : 0;
    tb_directory_clear(b->dir, t, seq);
    if (b->store)
        tb_store_delete(b->store, t->ns, t->ns_len, seq);
    if (b->v2 && (n == 0 || tb_v2srv_publish_purge(b->v2, t->ns, t->ns_len, seq, prev, n) != 0))
        b->purge_unpublished++;
    b->purged++;
    tb_log(b->log, TB_LOG_DEBUG, "purged %.*s (seq %llu)", (int)t->ns_len, t->ns,
           (unsigned long long)seq);
}

/* One slice of the purge sweep; true while the sweep goes on. */
static bool
purge_step(broker_t *b, uint64_t now_ms)
{
    if (b->cfg->purge_age <= 0)
        return false;
    if (!b->purge_active) {
        if (now_ms < b->purge_next_ms)
            return false;
        b->purge_active = true;
        b->purge_cursor = 0;
        b->purge_next_ms = now_ms + purge_interval_ms(b);
    }
    double cutoff = tb_time_now() - b->cfg->purge_age;
    size_t count = tb_directory_count(b->dir);
    for (unsigned i = 0; i < PURGE_BUDGET && b->purge_cursor < count; i++) {
        tb_thing_t *t = tb_directory_at(b->dir, (uint32_t)b->purge_cursor++);
        if (t && t->value && t->received < cutoff)
            purge_thing(b, t);
    }
    if (b->purge_cursor >= count)
        b->purge_active = false;
    return b->purge_active;
}

static long
earliest(long x, long y)
{
    if (x < 0)
        return y;
    if (y < 0)
        return x;
    return x < y ? x : y;
}

long
v2_work(broker_t *b, uint64_t now_ms, bool router_ready, bool xpub_ready)
{
    if (!b->v2) {
        /* v1 only: the purge still frees memory and the state file */
        if (b->cfg->purge_age <= 0)
            return -1;
        if (purge_step(b, now_ms))
            return 0;
        return b->purge_next_ms > now_ms ? (long)(b->purge_next_ms - now_ms) : 0;
    }
    /* subscriptions first: one that arrived with a request is in force (and
     * welcomed) before the request's stream starts */
    if (xpub_ready)
        tb_v2srv_handle_subscriptions(b->v2, now_ms);
    if (router_ready)
        tb_v2srv_handle_requests(b->v2, now_ms);
    bool busy = tb_v2srv_step(b->v2, now_ms, (unsigned)b->cfg->v2_step_budget);
    busy = purge_step(b, now_ms) || busy;
    long timeout = busy ? 0 : (long)tb_v2srv_tick(b->v2, now_ms);
    if (busy)
        tb_v2srv_tick(b->v2, now_ms);   /* heartbeats stay due under load too */
    if (!busy && b->cfg->purge_age > 0) {
        long until = b->purge_next_ms > now_ms ? (long)(b->purge_next_ms - now_ms) : 0;
        timeout = earliest(timeout, until);
    }
    return timeout;
}

void
v2_stats_log(broker_t *b)
{
    if (!b->v2) {
        tb_log(b->log, TB_LOG_INFO, "stats: v2 enabled=0 purged=%llu",
               (unsigned long long)b->purged);
        return;
    }
    tb_v2srv_stats_t st;
    tb_v2srv_stats(b->v2, &st);
    char line[1024];
    uint64_t total = 0;
    for (int i = 0; i < TB_V2_REJECT_COUNT; i++)
        total += st.rejected[i];
    size_t n = (size_t)snprintf(line, sizeof line, "stats: v2 rejected total=%llu",
                                (unsigned long long)total);
    for (int i = 0; i < TB_V2_REJECT_COUNT && n < sizeof line; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " %s=%llu",
                              tb_v2srv_reject_name((tb_v2_reject_t)i),
                              (unsigned long long)st.rejected[i]);
    tb_log(b->log, TB_LOG_INFO,
           "stats: v2 enabled=1 requests=%llu streams_started=%llu streams_finished=%llu "
           "streams_cancelled=%llu streams_timed_out=%llu streams_lost=%llu "
           "active_streams=%u batches=%llu things_sent=%llu end_markers=%llu "
           "send_would_block=%llu",
           (unsigned long long)st.requests, (unsigned long long)st.streams_started,
           (unsigned long long)st.streams_finished, (unsigned long long)st.streams_cancelled,
           (unsigned long long)st.streams_timed_out, (unsigned long long)st.streams_lost,
           st.active_streams, (unsigned long long)st.batches_sent,
           (unsigned long long)st.things_sent, (unsigned long long)st.end_markers_sent,
           (unsigned long long)st.send_would_block);
    tb_log(b->log, TB_LOG_INFO, "%s", line);
    tb_log(b->log, TB_LOG_INFO,
           "stats: v2 pub published=%llu errors=%llu heartbeats=%llu subscribes=%llu "
           "unsubscribes=%llu prefixes=%u prefixes_refused=%llu purged=%llu "
           "purges_unpublished=%llu",
           (unsigned long long)st.published, (unsigned long long)st.publish_errors,
           (unsigned long long)st.heartbeats_sent, (unsigned long long)st.subscribes,
           (unsigned long long)st.unsubscribes, st.prefixes,
           (unsigned long long)st.prefixes_refused, (unsigned long long)b->purged,
           (unsigned long long)b->purge_unpublished);
}
