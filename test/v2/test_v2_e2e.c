/*
 * test_v2_e2e.c - server engine and client driver together, end to end.
 *
 * Why this exists: the promise of protocol v2 is that a client joining
 * while the directory changes ends with exactly the broker's state, that
 * loss is detected and repaired, that a filtered subscriber sees only its
 * subtree without false alarms, and that a dead or absent broker is
 * noticed.  Each is checked here with the real engine, the real driver and
 * real sockets (loopback TCP on ephemeral ports, or inproc where a tiny
 * pipe is needed to force loss), one thread interleaving both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>
#include "tb_ns.h"
#include "tb_time.h"
#include "v2/tb_v2srv.h"
#include "v2/tb_v2sync.h"
#include "v2_fakedir.h"

typedef struct {
    json_t *mirror;
    int     events[64];
    int     nevents;
    int     synced, losses, deaths, fallbacks;
} host_t;

static void
h_apply(void *ctx, const char *ns, const tb_v2_value_t *v, bool from_snapshot)
{
    (void)from_snapshot;
    host_t *h = ctx;
    json_object_set_new(h->mirror, ns, json_loadb(v->data, v->data_len, JSON_DECODE_ANY, NULL));
}

static void
h_remove(void *ctx, const char *ns)
{
    json_object_del(((host_t *)ctx)->mirror, ns);
}

static void
h_event(void *ctx, tb_v2sync_event_t ev, uint64_t detail)
{
    (void)detail;
    host_t *h = ctx;
    h->events[h->nevents++ % 64] = (int)ev;
    h->synced += ev == TB_V2SYNC_EV_SYNCED;
    h->losses += ev == TB_V2SYNC_EV_LOSS;
    h->deaths += ev == TB_V2SYNC_EV_BROKER_DEAD;
    h->fallbacks += ev == TB_V2SYNC_EV_FALLBACK_V1;
}

static const tb_v2sync_actions_t actions = { NULL, h_apply, h_remove, h_event };

static bool
sanitized(void)
{
    return getenv("TB_SANITIZED") != NULL;
}

static void
serve(tb_v2srv_t *srv)
{
    uint64_t now = tb_time_mono_ms();
    tb_v2srv_handle_requests(srv, now);
    tb_v2srv_handle_subscriptions(srv, now);
    tb_v2srv_step(srv, now, 2000);
    tb_v2srv_tick(srv, now);
}

/* This single thread publishes faster than one ZeroMQ I/O thread moves
 * messages over loopback TCP, so a bounded pipe would overflow and the
 * client would (correctly) report loss and resync.  The consistency tests
 * are about the join path, so they lift the publisher's high-water mark
 * (it must be set before the bind); loss has its own test. */
static tb_v2srv_t *
engine_no_drop(void *zctx, fakedir_t *dir)
{
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.pub_hwm = 0;
    tb_v2srv_t *srv = tb_v2srv_new(zctx, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*",
                                   fakedir_iface(), dir, &cfg, NULL);
    assert_non_null(srv);
    return srv;
}

static void
endpoint(void *socket, char *out, size_t cap)
{
    size_t len = cap;
    assert_int_equal(zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, out, &len), 0);
}

typedef struct {
    host_t     *h;
    const char *prefix;
    size_t      checked;
} cmp_t;

static void
cmp_one(void *arg, const char *ns, const char *data, uint64_t seq)
{
    (void)seq;
    cmp_t *c = arg;
    if (!tb_ns_within(ns, strlen(ns), c->prefix, strlen(c->prefix)))
        return;
    json_t *want = json_loads(data, JSON_DECODE_ANY, NULL);
    json_t *got = json_object_get(c->h->mirror, ns);
    if (!got || !json_equal(want, got))
        fail_msg("mirror differs at %s", ns);
    json_decref(want);
    c->checked++;
}

/* The mirror holds exactly the directory's subtree. */
static void
expect_mirror(host_t *h, fakedir_t *dir, const char *prefix)
{
    cmp_t c = { h, prefix, 0 };
    fakedir_foreach(dir, cmp_one, &c);
    assert_int_equal(json_object_size(h->mirror), c.checked);
}

static void
random_change(fakedir_t *dir, tb_v2srv_t *srv, int nthings, unsigned *rng, const char *fmt)
{
    *rng = *rng * 1103515245u + 12345u;
    unsigned r = *rng >> 8;
    char ns[64], data[64];
    int i = (int)(r % (unsigned)(nthings + nthings / 10)); /* some new Things */
    snprintf(ns, sizeof ns, fmt, i / 100, i);
    if (r % 97 == 0) {
        fakedir_purge(dir, ns, srv);
        return;
    }
    snprintf(data, sizeof data, "{\"v\":%u}", r);
    fakedir_update(dir, ns, data, srv);
}

static void
fill(fakedir_t *dir, int n, const char *fmt)
{
    char ns[64], data[64];
    for (int i = 0; i < n; i++) {
        snprintf(ns, sizeof ns, fmt, i / 100, i);
        snprintf(data, sizeof data, "{\"v\":%d}", i);
        fakedir_update(dir, ns, data, NULL);
    }
}

/* Pump both sides until the client has seen everything (bounded). */
static void
settle(tb_v2srv_t *srv, tb_v2cli_t *cli, fakedir_t *dir, const char *prefix)
{
    tb_v2sync_t *s = tb_v2cli_sync(cli);
    for (int i = 0; i < 20000; i++) {
        serve(srv);
        tb_v2cli_run_once(cli, 1);
        if (tb_v2sync_state(s) == TB_V2SYNC_SYNCED &&
            tb_v2sync_last(s) == fakedir_iface()->subtree_seq(dir, prefix, strlen(prefix)))
            return;
    }
    fail_msg("client did not settle: state %s", tb_v2sync_state_name(tb_v2sync_state(s)));
}

static void
test_join_under_concurrent_updates(void **state)
{
    (void)state;
    const int n = sanitized() ? 20000 : 100000;
    void *zctx = zmq_ctx_new();
    fakedir_t *dir = fakedir_new();
    const char *fmt = "room%d.sensor%d";
    fill(dir, n, fmt);
    tb_v2srv_t *srv = engine_no_drop(zctx, dir);
    char snap[128], pubep[128];
    endpoint(tb_v2srv_router(srv), snap, sizeof snap);
    endpoint(tb_v2srv_xpub(srv), pubep, sizeof pubep);
    host_t h = { .mirror = json_object() };
    tb_v2cli_t *cli = tb_v2cli_new(zctx, snap, pubep, "", NULL, &actions, &h);
    assert_non_null(cli);
    unsigned rng = 7;
    int after = 0;
    for (int i = 0; i < 200000 && after < 300; i++) {
        serve(srv);
        for (int k = 0; k < 10; k++)
            random_change(dir, srv, n, &rng, fmt);
        tb_v2cli_run_once(cli, 0);
        if (h.synced)
            after++;
    }
    assert_true(h.synced >= 1);
    settle(srv, cli, dir, "");
    expect_mirror(&h, dir, "");
    tb_v2sync_stats_t st;
    tb_v2sync_stats(tb_v2cli_sync(cli), &st);
    assert_int_equal(st.losses, 0);
    assert_true(st.updates_applied > 0);
    assert_true(st.entries_applied >= (uint64_t)n * 9 / 10);
    tb_v2cli_destroy(&cli);
    tb_v2srv_destroy(&srv);
    json_decref(h.mirror);
    fakedir_destroy(&dir);
    zmq_ctx_term(zctx);
}

static void
test_loss_is_detected_and_repaired(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    fakedir_t *dir = fakedir_new();
    const char *fmt = "g%d.t%d";
    fill(dir, 1000, fmt);
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.pub_hwm = 10; /* a tiny pipe: a burst overflows it */
    tb_v2srv_t *srv = tb_v2srv_new(zctx, "inproc://loss-snap", "inproc://loss-pub",
                                   fakedir_iface(), dir, &cfg, NULL);
    assert_non_null(srv);
    host_t h = { .mirror = json_object() };
    tb_v2cli_t *cli = tb_v2cli_new(zctx, "inproc://loss-snap", "inproc://loss-pub", "",
                                   NULL, &actions, &h);
    assert_non_null(cli);
    settle(srv, cli, dir, "");
    assert_int_equal(h.losses, 0);
    unsigned rng = 3;
    for (int i = 0; i < 5000; i++) /* the client does not read meanwhile */
        random_change(dir, srv, 1000, &rng, fmt);
    settle(srv, cli, dir, "");
    assert_true(h.losses >= 1);
    assert_true(h.synced >= 2);
    expect_mirror(&h, dir, "");
    tb_v2sync_stats_t st;
    tb_v2sync_stats(tb_v2cli_sync(cli), &st);
    assert_true(st.losses >= 1);
    assert_true(st.resyncs >= 1);
    tb_v2cli_destroy(&cli);
    tb_v2srv_destroy(&srv);
    json_decref(h.mirror);
    fakedir_destroy(&dir);
    zmq_ctx_term(zctx);
}

static void
test_filtered_subscriber(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    fakedir_t *dir = fakedir_new();
    fill(dir, 500, "spacemon.r%d.s%d");
    fill(dir, 500, "spacemonitor.r%d.s%d");
    fill(dir, 500, "other%d.s%d");
    tb_v2srv_t *srv = engine_no_drop(zctx, dir);
    char snap[128], pubep[128];
    endpoint(tb_v2srv_router(srv), snap, sizeof snap);
    endpoint(tb_v2srv_xpub(srv), pubep, sizeof pubep);
    host_t h = { .mirror = json_object() };
    tb_v2cli_t *cli = tb_v2cli_new(zctx, snap, pubep, "spacemon", NULL, &actions, &h);
    assert_non_null(cli);
    unsigned rng = 11;
    for (int i = 0; i < 3000; i++) {
        serve(srv);
        random_change(dir, srv, 500, &rng, "spacemon.r%d.s%d");
        random_change(dir, srv, 500, &rng, "spacemonitor.r%d.s%d");
        random_change(dir, srv, 500, &rng, "other%d.s%d");
        tb_v2cli_run_once(cli, 0);
    }
    settle(srv, cli, dir, "spacemon");
    expect_mirror(&h, dir, "spacemon");
    void *iter = json_object_iter(h.mirror);
    for (; iter; iter = json_object_iter_next(h.mirror, iter)) {
        const char *ns = json_object_iter_key(iter);
        assert_true(tb_ns_within(ns, strlen(ns), "spacemon", 8));
    }
    tb_v2sync_stats_t st;
    tb_v2sync_stats(tb_v2cli_sync(cli), &st);
    assert_int_equal(st.losses, 0); /* global seq jumps are not loss */
    assert_int_equal(h.losses, 0);
    tb_v2cli_destroy(&cli);
    tb_v2srv_destroy(&srv);
    json_decref(h.mirror);
    fakedir_destroy(&dir);
    zmq_ctx_term(zctx);
}

static void
test_fallback_without_v2_broker(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    tb_v2sync_config_t cfg;
    tb_v2sync_config_default(&cfg);
    cfg.probe_ms = 200;
    cfg.sub_wait_ms = 50;
    host_t h = { .mirror = json_object() };
    tb_v2cli_t *cli = tb_v2cli_new(zctx, "inproc://nobody-snap", "inproc://nobody-pub", "",
                                   &cfg, &actions, &h);
    assert_non_null(cli);
    for (int i = 0; i < 200 && !h.fallbacks; i++)
        tb_v2cli_run_once(cli, 20);
    assert_int_equal(h.fallbacks, 1);
    assert_int_equal(tb_v2sync_state(tb_v2cli_sync(cli)), TB_V2SYNC_V1);
    tb_v2cli_destroy(&cli);
    json_decref(h.mirror);
    zmq_ctx_term(zctx);
}

static void
test_dead_broker_then_restart(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    fakedir_t *dir = fakedir_new();
    fill(dir, 300, "g%d.t%d");
    tb_v2srv_config_t scfg;
    tb_v2srv_config_default(&scfg);
    scfg.heartbeat_ms = 50;
    tb_v2srv_t *srv = tb_v2srv_new(zctx, "inproc://dead-snap", "inproc://dead-pub",
                                   fakedir_iface(), dir, &scfg, NULL);
    tb_v2sync_config_t cfg;
    tb_v2sync_config_default(&cfg);
    cfg.dead_ms = 300;
    cfg.sub_wait_ms = 50;
    cfg.retry_ms = 200;
    host_t h = { .mirror = json_object() };
    tb_v2cli_t *cli = tb_v2cli_new(zctx, "inproc://dead-snap", "inproc://dead-pub", "",
                                   &cfg, &actions, &h);
    settle(srv, cli, dir, "");
    assert_int_equal(h.synced, 1);
    tb_v2srv_destroy(&srv); /* the broker dies */
    for (int i = 0; i < 300 && !h.deaths; i++)
        tb_v2cli_run_once(cli, 20);
    assert_int_equal(h.deaths, 1);
    /* it comes back with more data and a new epoch */
    fill(dir, 400, "g%d.t%d");
    srv = tb_v2srv_new(zctx, "inproc://dead-snap", "inproc://dead-pub", fakedir_iface(), dir,
                       &scfg, NULL);
    assert_non_null(srv);
    for (int i = 0; i < 3000 && h.synced < 2; i++) {
        serve(srv);
        tb_v2cli_run_once(cli, 5);
    }
    assert_true(h.synced >= 2);
    settle(srv, cli, dir, "");
    expect_mirror(&h, dir, "");
    tb_v2cli_destroy(&cli);
    tb_v2srv_destroy(&srv);
    json_decref(h.mirror);
    fakedir_destroy(&dir);
    zmq_ctx_term(zctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_under_concurrent_updates),
        cmocka_unit_test(test_loss_is_detected_and_repaired),
        cmocka_unit_test(test_filtered_subscriber),
        cmocka_unit_test(test_fallback_without_v2_broker),
        cmocka_unit_test(test_dead_broker_then_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
