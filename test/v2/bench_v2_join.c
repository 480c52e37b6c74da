/*
 * bench_v2_join.c - how long a new client takes to hold a full directory.
 *
 * Why this exists: the goal of protocol v2 is that a late joiner holds the
 * whole directory at once; the figure that matters is the time from "the
 * client starts" to "the client holds all N Things and knows it" (the
 * SYNCED event), over loopback TCP, with the engine in its own thread the
 * way the broker runs it.  A program, not a test: run it by hand.
 * With JOINERS > 0 it then starts that many clients at once and reports
 * how long they took and the longest single engine step (the pause ingest
 * would see in the broker's loop).
 * Usage: bench_v2_join [THINGS [RUNS [JOINERS]]]   (defaults 100000, 5, 0)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <zmq.h>
#include "tb_time.h"
#include "v2/tb_v2srv.h"
#include "v2/tb_v2sync.h"
#include "v2_fakedir.h"

static atomic_bool stop;
static _Atomic uint64_t max_step_us;     /* wall clock (includes preemption) */
static _Atomic uint64_t max_step_cpu_us; /* this thread's CPU time */

static uint64_t
thread_cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void *
serve(void *arg)
{
    tb_v2srv_t *srv = arg;
    bool busy = false;
    unsigned budget = getenv("V2_BUDGET") ? (unsigned)atoi(getenv("V2_BUDGET")) : 4000;
    while (!atomic_load(&stop)) {
        uint64_t now = tb_time_mono_ms();
        unsigned hb = tb_v2srv_tick(srv, now);
        zmq_pollitem_t items[2] = { { tb_v2srv_router(srv), 0, ZMQ_POLLIN, 0 },
                                    { tb_v2srv_xpub(srv), 0, ZMQ_POLLIN, 0 } };
        zmq_poll(items, 2, busy ? 0 : (long)(hb < 50 ? hb : 50));
        now = tb_time_mono_ms();
        tb_v2srv_handle_requests(srv, now);
        tb_v2srv_handle_subscriptions(srv, now);
        uint64_t t0 = tb_time_mono_us(), c0 = thread_cpu_us();
        busy = tb_v2srv_step(srv, now, budget);
        uint64_t took = tb_time_mono_us() - t0, cpu = thread_cpu_us() - c0;
        if (took > atomic_load(&max_step_us))
            atomic_store(&max_step_us, took);
        if (cpu > atomic_load(&max_step_cpu_us))
            atomic_store(&max_step_cpu_us, cpu);
    }
    return NULL;
}

typedef struct {
    json_t  *mirror;
    bool     synced;
    uint64_t first_us;
} host_t;

/* Holding a Thing: keep its data text, as a client library's mirror would. */
static void
apply(void *ctx, const char *ns, const tb_v2_value_t *v, bool from_snapshot)
{
    (void)from_snapshot;
    if (!((host_t *)ctx)->first_us)
        ((host_t *)ctx)->first_us = tb_time_mono_us();
    json_object_set_new_nocheck(((host_t *)ctx)->mirror, ns,
                                json_stringn_nocheck(v->data, v->data_len));
}

static void
on_event(void *ctx, tb_v2sync_event_t ev, uint64_t detail)
{
    (void)detail;
    if (ev == TB_V2SYNC_EV_SYNCED)
        ((host_t *)ctx)->synced = true;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    int joiners = argc > 3 ? atoi(argv[3]) : 0;
    if (n <= 0 || runs <= 0 || runs > 100) {
        fprintf(stderr, "usage: bench_v2_join [THINGS [RUNS]]\n");
        return 2;
    }
    fakedir_t *dir = fakedir_new();
    char ns[64], data[96];
    for (int i = 0; i < n; i++) {
        snprintf(ns, sizeof ns, "building%d.room%d.sensor%d", i / 10000, i / 100, i);
        snprintf(data, sizeof data, "{\"temperature\":%d.5,\"humidity\":%d,\"ok\":true}",
                 15 + i % 10, 30 + i % 40);
        fakedir_update(dir, ns, data, NULL);
    }
    void *zctx = zmq_ctx_new();
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    if (getenv("V2_BATCH"))
        cfg.batch_bytes = (size_t)atol(getenv("V2_BATCH"));
    tb_v2srv_t *srv = tb_v2srv_new(zctx, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*",
                                   fakedir_iface(), dir, &cfg, NULL);
    if (!srv) {
        fprintf(stderr, "bench_v2_join: cannot bind\n");
        return 1;
    }
    char snap[128], pub[128];
    size_t len = sizeof snap;
    zmq_getsockopt(tb_v2srv_router(srv), ZMQ_LAST_ENDPOINT, snap, &len);
    len = sizeof pub;
    zmq_getsockopt(tb_v2srv_xpub(srv), ZMQ_LAST_ENDPOINT, pub, &len);
    pthread_t th;
    pthread_create(&th, NULL, serve, srv);
    double ms[100];
    int ok = 0;
    tb_v2sync_actions_t act = { NULL, apply, NULL, on_event };
    for (int r = 0; r < runs; r++) {
        host_t h = { json_object(), false, 0 };
        uint64_t t0 = tb_time_mono_us();
        tb_v2cli_t *cli = tb_v2cli_new(zctx, snap, pub, "", NULL, &act, &h);
        for (int i = 0; i < 100000 && cli && !h.synced; i++)
            tb_v2cli_run_once(cli, 10);
        uint64_t t1 = tb_time_mono_us();
        size_t held = json_object_size(h.mirror);
        ms[r] = (double)(t1 - t0) / 1000.0;
        printf("run %d: %zu Things held, synced=%d, %.1f ms (first Thing after %.1f ms)\n",
               r + 1, held, h.synced, ms[r], h.first_us ? (double)(h.first_us - t0) / 1000.0 : -1.0);
        ok += h.synced && held == (size_t)n;
        tb_v2cli_destroy(&cli);
        json_decref(h.mirror);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    printf("bench_v2_join: %d Things, %d/%d complete runs, min %.1f ms, median %.1f ms, "
           "max %.1f ms (goal < 200 ms); longest engine step %.2f ms (CPU %.2f ms)\n", n, ok,
           runs, ms[0], ms[runs / 2], ms[runs - 1], (double)atomic_load(&max_step_us) / 1000.0,
           (double)atomic_load(&max_step_cpu_us) / 1000.0);
    if (joiners > 0 && joiners <= 1000) {
        atomic_store(&max_step_us, 0);
        atomic_store(&max_step_cpu_us, 0);
        tb_v2cli_t **cl = calloc((size_t)joiners, sizeof *cl);
        host_t *hs = calloc((size_t)joiners, sizeof *hs);
        uint64_t t0 = tb_time_mono_us();
        for (int j = 0; j < joiners; j++) {
            hs[j].mirror = json_object();
            cl[j] = tb_v2cli_new(zctx, snap, pub, "", NULL, &act, &hs[j]);
        }
        int synced = 0;
        for (int round = 0; synced < joiners && tb_time_mono_us() - t0 < 60000000u; round++) {
            synced = 0;
            for (int j = 0; j < joiners; j++) {
                if (!hs[j].synced)
                    tb_v2cli_run_once(cl[j], 0);
                synced += hs[j].synced;
            }
        }
        double total = (double)(tb_time_mono_us() - t0) / 1000.0;
        printf("bench_v2_join: %d joiners at once, %d synced with %d Things each in %.0f ms; "
               "longest engine step %.2f ms (CPU %.2f ms)\n", joiners, synced, n, total,
               (double)atomic_load(&max_step_us) / 1000.0,
               (double)atomic_load(&max_step_cpu_us) / 1000.0);
        tb_v2sync_stats_t sum = { 0 };
        for (int j = 0; j < joiners; j++) {
            tb_v2sync_stats_t st;
            tb_v2sync_stats(tb_v2cli_sync(cl[j]), &st);
            sum.join_retries += st.join_retries;
            sum.refusals += st.refusals;
            sum.stale_replies += st.stale_replies;
            sum.deaths += st.deaths;
            if (!hs[j].synced)
                printf("  joiner %d: state %s, %llu entries applied\n", j,
                       tb_v2sync_state_name(tb_v2sync_state(tb_v2cli_sync(cl[j]))),
                       (unsigned long long)st.entries_applied);
        }
        printf("bench_v2_join: joiners' retries %llu, refusals %llu, stale replies %llu, "
               "deaths %llu\n", (unsigned long long)sum.join_retries,
               (unsigned long long)sum.refusals, (unsigned long long)sum.stale_replies,
               (unsigned long long)sum.deaths);
        for (int j = 0; j < joiners; j++) {
            tb_v2cli_destroy(&cl[j]);
            json_decref(hs[j].mirror);
        }
        free(cl);
        free(hs);
    }
    atomic_store(&stop, true);
    pthread_join(th, NULL);
    tb_v2srv_destroy(&srv);
    zmq_ctx_term(zctx);
    fakedir_destroy(&dir);
    return ok == runs ? 0 : 1;
}
