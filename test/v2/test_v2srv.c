/*
 * test_v2srv.c - the v2 server engine against raw ZeroMQ sockets.
 *
 * Why this exists: the engine's replies and filtered-PUB frames are wire
 * format, so they are checked here byte for byte against literals (never
 * against our own client decoding them), with real DEALER/SUB sockets over
 * inproc: queries, hostile requests, credit flow control, stream timeout,
 * 200 simultaneous joiners with bounded work per step, prefix filtering
 * (`spacemon.` vs `spacemonitor`), heartbeats and purges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "v2/tb_v2srv.h"
#include "v2_fakedir.h"

#define EPOCH 0xabcull
#define EPOCH_HEX "0000000000000abc"

typedef struct {
    void       *zctx;
    fakedir_t  *dir;
    tb_v2srv_t *srv;
    char        snap_ep[64], pub_ep[64];
} fixture_t;

static int fixture_counter;

static fixture_t *
fixture_new(const tb_v2srv_config_t *cfg_in)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->zctx = zmq_ctx_new();
    f->dir = fakedir_new();
    fixture_counter++;
    snprintf(f->snap_ep, sizeof f->snap_ep, "inproc://v2snap-%d", fixture_counter);
    snprintf(f->pub_ep, sizeof f->pub_ep, "inproc://v2pub-%d", fixture_counter);
    tb_v2srv_config_t cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        tb_v2srv_config_default(&cfg);
    cfg.epoch = EPOCH;
    int err = 0;
    f->srv = tb_v2srv_new(f->zctx, f->snap_ep, f->pub_ep, fakedir_iface(), f->dir, &cfg, &err);
    assert_non_null(f->srv);
    return f;
}

static void
fixture_free(fixture_t *f)
{
    tb_v2srv_destroy(&f->srv);
    assert_null(f->srv);
    tb_v2srv_destroy(&f->srv); /* NULL is fine */
    fakedir_destroy(&f->dir);
    zmq_ctx_term(f->zctx);
    free(f);
}

static void *
dealer(fixture_t *f)
{
    void *s = zmq_socket(f->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, f->snap_ep), 0);
    return s;
}

static void
send_frames(void *s, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *p = va_arg(ap, const char *);
        assert_true(zmq_send(s, p, strlen(p), i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    }
    va_end(ap);
}

typedef struct {
    int    n;
    char  *f[8];
    size_t len[8];
} msg_t;

static void
msg_free(msg_t *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->f[i]);
    m->n = 0;
}

/* Receive one message, pumping the engine meanwhile; false after a bounded
 * number of tries. */
static bool
recv_msg(fixture_t *f, void *s, msg_t *m, uint64_t now_ms)
{
    m->n = 0;
    for (int tries = 0; tries < 400; tries++) {
        tb_v2srv_handle_requests(f->srv, now_ms);
        tb_v2srv_handle_subscriptions(f->srv, now_ms);
        tb_v2srv_step(f->srv, now_ms, 1000);
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, tries < 20 ? 0 : 5) <= 0)
            continue;
        for (;;) {
            zmq_msg_t z;
            zmq_msg_init(&z);
            assert_true(zmq_msg_recv(&z, s, 0) >= 0);
            if (m->n < 8) {
                m->len[m->n] = zmq_msg_size(&z);
                m->f[m->n] = malloc(m->len[m->n] + 1);
                memcpy(m->f[m->n], zmq_msg_data(&z), m->len[m->n]);
                m->f[m->n][m->len[m->n]] = 0;
                m->n++;
            }
            bool more = zmq_msg_more(&z);
            zmq_msg_close(&z);
            if (!more)
                return true;
        }
    }
    return false;
}

static void
expect_frames(fixture_t *f, void *s, int n, ...)
{
    msg_t m;
    assert_true(recv_msg(f, s, &m, 0));
    assert_int_equal(m.n, n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(m.f[i], va_arg(ap, const char *));
    va_end(ap);
    msg_free(&m);
}

/* ------------------------------------------------------------ queries */

static void
test_get(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(NULL);
    fakedir_update(f->dir, "spacemon.electronics", "{\"luminance\":106.5}", NULL);
    void *d = dealer(f);
    send_frames(d, 3, "GET", "r1", "spacemon.electronics");
    expect_frames(f, d, 3, "THING", "r1",
                  "{\"spacemon.electronics\":{\"data\":{\"luminance\":106.5},"
                  "\"ts\":1700000000.5,\"ns\":\"spacemon.electronics\","
                  "\"documentation_url\":null,\"seq\":1}}");
    send_frames(d, 3, "GET", "r2", "spacemon");
    expect_frames(f, d, 4, "ERROR", "r2", "no_data", "the Thing has no data yet");
    send_frames(d, 3, "GET", "r3", "nothing.here");
    expect_frames(f, d, 4, "ERROR", "r3", "not_found", "no such Thing");
    zmq_close(d);
    fixture_free(f);
}

static void
test_children(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(NULL);
    fakedir_update(f->dir, "spacemon.a", "1", NULL);
    fakedir_update(f->dir, "spacemon.b.c", "2", NULL);
    fakedir_update(f->dir, "spacemonitor.x", "3", NULL);
    void *d = dealer(f);
    send_frames(d, 4, "CHILDREN", "c1", "spacemon", "4");
    /* children are listed newest first in this directory */
    expect_frames(f, d, 3, "BATCH", "c1",
                  "{\"type\":\"thing_children\",\"ns\":\"spacemon\","
                  "\"children\":[\"spacemon.b\",\"spacemon.a\"]}");
    expect_frames(f, d, 3, "END", "c1",
                  "{\"type\":\"snapshot_end\",\"ns\":\"spacemon\",\"seq\":3,\"start\":3,"
                  "\"last\":2,\"things\":2,\"batches\":1,\"epoch\":\"" EPOCH_HEX "\"}");
    zmq_close(d);
    fixture_free(f);
}

static void
test_snapshot_subtree(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(NULL);
    fakedir_update(f->dir, "spacemon", "0", NULL);
    fakedir_update(f->dir, "spacemonitor.x", "[1]", NULL);
    fakedir_update(f->dir, "spacemon.a", "\"s\"", NULL);
    void *d = dealer(f);
    send_frames(d, 4, "SNAPSHOT", "s1", "spacemon", "1");
    msg_t m;
    assert_true(recv_msg(f, d, &m, 0));
    assert_int_equal(m.n, 3);
    assert_string_equal(m.f[0], "BATCH");
    assert_string_equal(m.f[1], "s1");
    /* the batch is a v1 thing_snapshot whose entries carry "seq" */
    const char *tail = strstr(m.f[2], ",\"data\":{");
    assert_non_null(tail);
    assert_memory_equal(m.f[2], "{\"type\":\"thing_snapshot\",\"ts\":", 30);
    assert_string_equal(tail,
        ",\"data\":{\"spacemon\":{\"data\":0,\"ts\":1700000000.5,\"ns\":\"spacemon\","
        "\"documentation_url\":null,\"seq\":1},\"spacemon.a\":{\"data\":\"s\","
        "\"ts\":1700000000.5,\"ns\":\"spacemon.a\",\"documentation_url\":null,"
        "\"seq\":3}}}");
    msg_free(&m);
    expect_frames(f, d, 3, "END", "s1",
                  "{\"type\":\"snapshot_end\",\"ns\":\"spacemon\",\"seq\":3,\"start\":3,"
                  "\"last\":3,\"things\":2,\"batches\":1,\"epoch\":\"" EPOCH_HEX "\"}");
    zmq_close(d);
    fixture_free(f);
}

/* ------------------------------------------------------------ hostile */

static void
test_bad_requests(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(NULL);
    void *d = dealer(f);
    send_frames(d, 3, "FETCH", "x", "a");
    expect_frames(f, d, 4, "ERROR", "x", "unknown_command",
                  "unknown command (SNAPSHOT, CHILDREN, GET, CREDIT, CANCEL)");
    send_frames(d, 3, "GET", "x", "Bad.NS");
    expect_frames(f, d, 4, "ERROR", "x", "bad_ns", "the namespace breaks the namespace rule");
    send_frames(d, 3, "GET", "x", "a..b");
    expect_frames(f, d, 4, "ERROR", "x", "bad_ns", "the namespace breaks the namespace rule");
    send_frames(d, 4, "SNAPSHOT", "x", "", "0");
    expect_frames(f, d, 4, "ERROR", "x", "bad_credit",
                  "credit must be a decimal number from 1 to 999999");
    send_frames(d, 4, "SNAPSHOT", "x", "", "12a");
    expect_frames(f, d, 4, "ERROR", "x", "bad_credit",
                  "credit must be a decimal number from 1 to 999999");
    send_frames(d, 1, "GET");
    expect_frames(f, d, 4, "ERROR", "", "bad_frames",
                  "a request is COMMAND, REQUEST-ID and its arguments");
    send_frames(d, 2, "GET", "x");
    expect_frames(f, d, 4, "ERROR", "x", "bad_frames", "wrong number of frames for this command");
    send_frames(d, 3, "GET", "0123456789abcdef0123456789abcdefX", "a");
    expect_frames(f, d, 4, "ERROR", "", "bad_rid", "the request id must be 1 to 32 bytes");
    send_frames(d, 4, "GET", "x", "a", "extra");
    expect_frames(f, d, 4, "ERROR", "x", "bad_frames", "wrong number of frames for this command");
    send_frames(d, 8, "GET", "x", "a", "b", "c", "d", "e", "f");
    expect_frames(f, d, 4, "ERROR", "", "bad_frames",
                  "a request is COMMAND, REQUEST-ID and its arguments");
    char *huge = malloc(100000);
    memset(huge, 'a', 99999);
    huge[99999] = 0;
    send_frames(d, 3, "GET", "x", huge);
    free(huge);
    expect_frames(f, d, 4, "ERROR", "", "bad_frames",
                  "a request is COMMAND, REQUEST-ID and its arguments");
    /* CREDIT for nothing: counted, never answered */
    send_frames(d, 3, "CREDIT", "nope", "1");
    /* the engine still answers */
    fakedir_update(f->dir, "a", "true", NULL);
    send_frames(d, 3, "GET", "ok", "a");
    expect_frames(f, d, 3, "THING", "ok",
                  "{\"a\":{\"data\":true,\"ts\":1700000000.5,\"ns\":\"a\","
                  "\"documentation_url\":null,\"seq\":1}}");
    tb_v2srv_stats_t st;
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.rejected[TB_V2_REJECT_NO_STREAM], 1);
    assert_int_equal(st.rejected[TB_V2_REJECT_BAD_NS], 2);
    assert_int_equal(st.rejected[TB_V2_REJECT_BAD_FRAMES], 5);
    assert_string_equal(tb_v2srv_reject_name(TB_V2_REJECT_BUSY), "busy");
    zmq_close(d);
    fixture_free(f);
}

/* ------------------------------------------------------------ flow control */

static void
fill_dir(fakedir_t *dir, int n)
{
    char ns[64], data[64];
    for (int i = 0; i < n; i++) {
        snprintf(ns, sizeof ns, "g%d.t%d", i / 100, i);
        snprintf(data, sizeof data, "{\"v\":%d}", i);
        fakedir_update(dir, ns, data, NULL);
    }
}

/* Count BATCHes that arrive while the engine is pumped many times. */
static int
drain_batches(fixture_t *f, void *d, int pumps, bool *end_seen, uint64_t now)
{
    int batches = 0;
    for (int i = 0; i < pumps; i++) {
        tb_v2srv_handle_requests(f->srv, now);
        tb_v2srv_step(f->srv, now, 1000);
        for (;;) {
            msg_t m;
            zmq_pollitem_t it = { d, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&it, 1, 0) <= 0)
                break;
            assert_true(recv_msg(f, d, &m, now));
            if (strcmp(m.f[0], "BATCH") == 0)
                batches++;
            else if (strcmp(m.f[0], "END") == 0 && end_seen)
                *end_seen = true;
            msg_free(&m);
        }
    }
    return batches;
}

static void
test_credit_bounds_outstanding(void **state)
{
    (void)state;
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.batch_bytes = 1024;
    cfg.max_credit = 4;
    fixture_t *f = fixture_new(&cfg);
    fill_dir(f->dir, 2000);
    void *d = dealer(f);
    send_frames(d, 4, "SNAPSHOT", "s", "", "2");
    bool end = false;
    /* a reader that grants nothing more gets exactly its 2 batches */
    assert_int_equal(drain_batches(f, d, 200, &end, 0), 2);
    assert_false(end);
    send_frames(d, 3, "CREDIT", "s", "3");
    assert_int_equal(drain_batches(f, d, 200, &end, 0), 3);
    /* credit is capped: asking for 100 allows max_credit (4) */
    send_frames(d, 3, "CREDIT", "s", "100");
    assert_int_equal(drain_batches(f, d, 200, &end, 0), 4);
    tb_v2srv_stats_t st;
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.batches_sent, 9);
    assert_int_equal(st.active_streams, 1);
    /* a slow reader that keeps granting one at a time gets everything */
    int total = 9;
    for (int i = 0; i < 10000 && !end; i++) {
        send_frames(d, 3, "CREDIT", "s", "1");
        total += drain_batches(f, d, 3, &end, 0);
    }
    assert_true(end);
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.batches_sent, (uint64_t)total);
    assert_int_equal(st.things_sent, 2000);
    assert_int_equal(st.streams_finished, 1);
    assert_int_equal(st.active_streams, 0);
    zmq_close(d);
    fixture_free(f);
}

static void
test_stalled_stream_times_out(void **state)
{
    (void)state;
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.batch_bytes = 1024;
    cfg.stream_timeout_ms = 5000;
    fixture_t *f = fixture_new(&cfg);
    fill_dir(f->dir, 500);
    void *d = dealer(f);
    send_frames(d, 4, "SNAPSHOT", "s", "", "1");
    assert_int_equal(drain_batches(f, d, 50, NULL, 1000), 1);
    tb_v2srv_stats_t st;
    tb_v2srv_step(f->srv, 5999, 100);
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.active_streams, 1);
    tb_v2srv_step(f->srv, 6001, 100);
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.active_streams, 0);
    assert_int_equal(st.streams_timed_out, 1);
    /* CANCEL ends a stream at once */
    send_frames(d, 4, "SNAPSHOT", "t", "", "1");
    drain_batches(f, d, 20, NULL, 7000);
    send_frames(d, 2, "CANCEL", "t");
    drain_batches(f, d, 20, NULL, 7000);
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.streams_cancelled, 1);
    assert_int_equal(st.active_streams, 0);
    zmq_close(d);
    fixture_free(f);
}

/* ------------------------------------------------------------ many joiners */

#define JOINERS 200
#define JOIN_THINGS 2000

static void
test_200_joiners_bounded_work(void **state)
{
    (void)state;
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.max_requests_per_call = 64;
    fixture_t *f = fixture_new(&cfg);
    fill_dir(f->dir, JOIN_THINGS);
    void *d[JOINERS];
    int things[JOINERS] = { 0 };
    bool done[JOINERS] = { false };
    for (int i = 0; i < JOINERS; i++) {
        d[i] = dealer(f);
        send_frames(d[i], 4, "SNAPSHOT", "s", "", "8");
    }
    const unsigned budget = 500;
    int finished = 0, steps = 0;
    uint64_t updates = 0, max_work = 0;
    for (int round = 0; round < 200000 && finished < JOINERS; round++) {
        tb_v2srv_handle_requests(f->srv, 0);
        uint64_t before = fakedir_examined(f->dir);
        tb_v2srv_step(f->srv, 0, budget);
        uint64_t work = fakedir_examined(f->dir) - before;
        if (work > max_work)
            max_work = work;
        steps++;
        /* ingest goes on between slices */
        char ns[32];
        snprintf(ns, sizeof ns, "live.t%d", round % 50);
        fakedir_update(f->dir, ns, "1", f->srv);
        updates++;
        for (int i = 0; i < JOINERS; i++) {
            if (done[i])
                continue;
            for (;;) {
                zmq_pollitem_t it = { d[i], 0, ZMQ_POLLIN, 0 };
                if (zmq_poll(&it, 1, 0) <= 0)
                    break;
                msg_t m;
                assert_true(recv_msg(f, d[i], &m, 0));
                if (strcmp(m.f[0], "BATCH") == 0) {
                    const char *p = m.f[2];
                    while ((p = strstr(p, "\"seq\":")) != NULL) {
                        things[i]++;
                        p++;
                    }
                    send_frames(d[i], 3, "CREDIT", "s", "1");
                } else {
                    assert_string_equal(m.f[0], "END");
                    done[i] = true;
                    finished++;
                }
                msg_free(&m);
            }
        }
    }
    assert_int_equal(finished, JOINERS);
    assert_true(max_work <= budget);
    assert_true(updates == (uint64_t)steps);
    for (int i = 0; i < JOINERS; i++) {
        /* every stream holds the 2000 Things plus the live ones that
         * existed when its cursor passed them */
        assert_true(things[i] >= JOIN_THINGS);
        assert_true(things[i] <= JOIN_THINGS + 50);
        zmq_close(d[i]);
    }
    tb_v2srv_stats_t st;
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.streams_finished, JOINERS);
    assert_int_equal(st.rejected[TB_V2_REJECT_BUSY], 0);
    fixture_free(f);
}

static void
test_busy_beyond_max_streams(void **state)
{
    (void)state;
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.max_streams = 2;
    cfg.batch_bytes = 1024; /* streams stall on credit 1 and stay open */
    fixture_t *f = fixture_new(&cfg);
    fill_dir(f->dir, 300);
    void *d = dealer(f);
    send_frames(d, 4, "SNAPSHOT", "a", "", "1");
    send_frames(d, 4, "SNAPSHOT", "a", "", "1");
    expect_frames(f, d, 4, "ERROR", "a", "duplicate", "a stream with this request id is under way");
    send_frames(d, 4, "SNAPSHOT", "b", "", "1");
    send_frames(d, 4, "SNAPSHOT", "c", "", "1");
    msg_t m;
    bool busy = false;
    for (int i = 0; i < 10 && !busy; i++) {
        assert_true(recv_msg(f, d, &m, 0));
        busy = strcmp(m.f[0], "ERROR") == 0 && strcmp(m.f[1], "c") == 0 &&
               strcmp(m.f[2], "busy") == 0;
        msg_free(&m);
    }
    assert_true(busy);
    zmq_close(d);
    fixture_free(f);
}

/* ------------------------------------------------------------ filtered PUB */

static void *
subscriber(fixture_t *f, const char *topic)
{
    void *s = zmq_socket(f->zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    assert_int_equal(zmq_connect(s, f->pub_ep), 0);
    return s;
}

static void
test_filtered_pub_framing(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(NULL);
    fakedir_update(f->dir, "spacemon.old", "0", NULL); /* seq 1 */
    void *s = subscriber(f, "spacemon.");
    /* the welcome heartbeat proves the subscription is live */
    expect_frames(f, s, 2, "spacemon.",
                  "{\"type\":\"heartbeat\",\"ns\":\"spacemon\",\"seq\":1,\"last\":1,"
                  "\"epoch\":\"" EPOCH_HEX "\",\"interval\":1000}");
    fakedir_update(f->dir, "spacemonitor.b", "1", f->srv);      /* 2: filtered out */
    fakedir_update(f->dir, "spacemon", "{\"x\":2}", f->srv);    /* 3 */
    fakedir_update(f->dir, "other", "3", f->srv);               /* 4: filtered out */
    fakedir_update(f->dir, "spacemon.a.b", "[4]", f->srv);      /* 5 */
    fakedir_purge(f->dir, "spacemon.old", f->srv);              /* 6 */
    expect_frames(f, s, 2, "spacemon.",
                  "{\"type\":\"thing_update\",\"ns\":\"spacemon\",\"data\":{\"x\":2},"
                  "\"ts\":1700000000.5,\"documentation_url\":null,\"seq\":3,"
                  "\"prev\":[2,1]}");
    expect_frames(f, s, 2, "spacemon.a.b.",
                  "{\"type\":\"thing_update\",\"ns\":\"spacemon.a.b\",\"data\":[4],"
                  "\"ts\":1700000000.5,\"documentation_url\":null,\"seq\":5,"
                  "\"prev\":[4,3,0,0]}");
    expect_frames(f, s, 2, "spacemon.old.",
                  "{\"type\":\"thing_purge\",\"ns\":\"spacemon.old\",\"seq\":6,"
                  "\"prev\":[5,5,1]}");
    /* nothing else (spacemonitor.b, other) reached this subscriber */
    zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
    assert_int_equal(zmq_poll(&it, 1, 20), 0);
    /* periodic heartbeat on the subscribed prefix's own topic */
    assert_true(tb_v2srv_tick(f->srv, 10000) <= 1000);
    expect_frames(f, s, 2, "spacemon.",
                  "{\"type\":\"heartbeat\",\"ns\":\"spacemon\",\"seq\":6,\"last\":6,"
                  "\"epoch\":\"" EPOCH_HEX "\",\"interval\":1000}");
    assert_int_equal(tb_v2srv_tick(f->srv, 10500), 500);
    assert_int_equal(zmq_poll(&it, 1, 20), 0);
    tb_v2srv_stats_t st;
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.prefixes, 1);
    assert_int_equal(st.heartbeats_sent, 2);
    zmq_close(s);
    fixture_free(f);
}

static void
test_root_subscriber_and_bad_args(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(NULL);
    void *s = subscriber(f, "");
    expect_frames(f, s, 2, "",
                  "{\"type\":\"heartbeat\",\"ns\":\"\",\"seq\":0,\"last\":0,"
                  "\"epoch\":\"" EPOCH_HEX "\",\"interval\":1000}");
    fakedir_update(f->dir, "a", "1", f->srv);
    expect_frames(f, s, 2, "a.",
                  "{\"type\":\"thing_update\",\"ns\":\"a\",\"data\":1,"
                  "\"ts\":1700000000.5,\"documentation_url\":null,\"seq\":1,"
                  "\"prev\":[0,0]}");
    /* a prev chain of the wrong length is refused, not sent */
    uint64_t prev[3] = { 0, 0, 0 };
    tb_v2_thing_t t = { "a", 1, "1", 1, "1.0", 3, NULL, 0, 9, 0 };
    assert_int_equal(tb_v2srv_publish_update(f->srv, &t, prev, 3), -1);
    assert_int_equal(tb_v2srv_publish_purge(f->srv, "a.b", 3, 9, prev, 2), -1);
    assert_int_equal(tb_v2_ns_depth("", 0), 0);
    assert_int_equal(tb_v2_ns_depth("a.b.c", 5), 3);
    /* a subscription that is not "" or "ns." gets no heartbeat of its own */
    void *s2 = subscriber(f, "spa");
    for (int i = 0; i < 20; i++)
        tb_v2srv_handle_subscriptions(f->srv, 0);
    tb_v2srv_stats_t st;
    tb_v2srv_stats(f->srv, &st);
    assert_int_equal(st.prefixes, 1);
    zmq_close(s2);
    zmq_close(s);
    fixture_free(f);
}

static void
test_new_rejects_bad_args(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    int err = 0;
    assert_null(tb_v2srv_new(zctx, "inproc://x", NULL, NULL, NULL, NULL, &err));
    assert_int_equal(err, -1);
    fakedir_t *dir = fakedir_new();
    assert_null(tb_v2srv_new(zctx, "bogus://x", NULL, fakedir_iface(), dir, NULL, &err));
    assert_int_equal(err, -8);
    tb_v2srv_t *a = tb_v2srv_new(zctx, "inproc://dup", NULL, fakedir_iface(), dir, NULL, &err);
    assert_non_null(a);
    assert_null(tb_v2srv_new(zctx, "inproc://dup", NULL, fakedir_iface(), dir, NULL, &err));
    assert_true(tb_v2srv_epoch(a) != 0);
    tb_v2srv_destroy(&a);
    fakedir_destroy(&dir);
    zmq_ctx_term(zctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_children),
        cmocka_unit_test(test_snapshot_subtree),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_credit_bounds_outstanding),
        cmocka_unit_test(test_stalled_stream_times_out),
        cmocka_unit_test(test_200_joiners_bounded_work),
        cmocka_unit_test(test_busy_beyond_max_streams),
        cmocka_unit_test(test_filtered_pub_framing),
        cmocka_unit_test(test_root_subscriber_and_bad_args),
        cmocka_unit_test(test_new_rejects_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
