/*
 * bench_join.c - late-join time against a running thingsbusd: how long a
 * new client takes to hold the broker's whole directory through the v2
 * snapshot service.
 *
 * Why this exists: the promise of protocol v2 is that a client that starts
 * holds every Thing at once (the original made it wait up to 15 s for the
 * next periodic snapshot).  The figure is the time from "the client
 * starts" (sockets created) to "it holds all N Things and knows it" (the
 * SYNCED event of the v2 sync state machine, the one the client library
 * uses), over loopback TCP, with the mirror kept as a client library keeps
 * it (one copy of each Thing's data).  bench.py runs it; it prints one
 * JSON line.
 * Usage: bench-join --snapshot EP --pub EP --expect N [--runs R] [--max-seconds S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>
#include "tb_time.h"
#include "v2/tb_v2sync.h"

typedef struct {
    json_t *mirror;
    bool    synced;
    bool    fallback;
} join_t;

static void
apply(void *ctx, const char *ns, const tb_v2_value_t *v, bool from_snapshot)
{
    (void)from_snapshot;
    json_object_set_new_nocheck(((join_t *)ctx)->mirror, ns,
                                json_stringn_nocheck(v->data, v->data_len));
}

static void
on_event(void *ctx, tb_v2sync_event_t ev, uint64_t detail)
{
    (void)detail;
    if (ev == TB_V2SYNC_EV_SYNCED)
        ((join_t *)ctx)->synced = true;
    if (ev == TB_V2SYNC_EV_FALLBACK_V1)
        ((join_t *)ctx)->fallback = true;
}

int
main(int argc, char **argv)
{
    const char *snap = NULL, *pub = NULL;
    long expect = -1, runs = 5;
    double max_seconds = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--snapshot") == 0)
            snap = argv[i + 1];
        else if (strcmp(argv[i], "--pub") == 0)
            pub = argv[i + 1];
        else if (strcmp(argv[i], "--expect") == 0)
            expect = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--max-seconds") == 0)
            max_seconds = atof(argv[i + 1]);
        else {
            fprintf(stderr, "bench-join: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!snap || !pub || expect < 0 || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: bench-join --snapshot EP --pub EP --expect N [--runs R] "
                        "[--max-seconds S]\n");
        return 2;
    }
    void *zctx = zmq_ctx_new();
    tb_v2sync_actions_t act = { NULL, apply, NULL, on_event };
    printf("{\"expect\":%ld,\"runs\":[", expect);
    int complete = 0;
    for (long r = 0; r < runs; r++) {
        join_t j = { json_object(), false, false };
        uint64_t t0 = tb_time_mono_us();
        uint64_t limit = t0 + (uint64_t)(max_seconds * 1e6);
        tb_v2cli_t *cli = tb_v2cli_new(zctx, snap, pub, "", NULL, &act, &j);
        while (cli && !j.synced && !j.fallback && tb_time_mono_us() < limit)
            tb_v2cli_run_once(cli, 10);
        uint64_t t1 = tb_time_mono_us();
        size_t held = json_object_size(j.mirror);
        printf("%s{\"ms\":%.2f,\"held\":%zu,\"synced\":%s}", r ? "," : "",
               (double)(t1 - t0) / 1000.0, held, j.synced ? "true" : "false");
        complete += j.synced && (long)held >= expect;
        tb_v2cli_destroy(&cli);
        json_decref(j.mirror);
    }
    printf("],\"complete\":%d}\n", complete);
    zmq_ctx_term(zctx);
    return complete == runs ? 0 : 1;
}
