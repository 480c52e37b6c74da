/*
 * bench_sub.c - the bench's subscriber: what actually comes out of the PUB.
 *
 * Why this exists: a broker's speed is what its subscribers receive, not
 * what its loader sent.  This program connects one or more SUB sockets
 * (each its own TCP connection, i.e. its own subscriber as far as the PUB
 * is concerned), counts the thing_updates that carry a bench send stamp,
 * computes latency percentiles from that stamp (same machine, same
 * CLOCK_MONOTONIC), and recognises thing_snapshot chunks, grouping them
 * into broadcasts to time them and to find the longest gap between
 * consecutive updates while a broadcast was going out.  Optional "stuck"
 * sockets connect and subscribe but are never read, to show that one dead
 * subscriber does not slow the others.
 *
 * It prints "ready" once every socket has completed its handshake (plus a
 * short settle for the subscription to reach the PUB), then one JSON line
 * with the results when it stops: all healthy sockets got --expect updates,
 * a snapshot broadcast reached --snapshot-expect entries, nothing arrived
 * for --idle-ms, or --max-seconds passed.
 */
#include "bench_msg.h"
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_SOCKETS 64
#define MAX_BROADCASTS 16

typedef struct {
    void *sock;
    long long updates, snapshot_chunks, other;
    uint64_t first_ns, last_ns;
    uint64_t first_stamp_ns;       /* earliest send stamp received */
} sub_t;

typedef struct {
    long long chunks, entries, bytes;
    uint64_t first_ns, last_ns;
} broadcast_t;

/* Arrival times (and latencies) of the stamped updates of one socket, for
 * the gap analysis around snapshot broadcasts. */
typedef struct {
    uint64_t *at;
    int64_t *lat;
    size_t n, cap;
} arrivals_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Entries of a snapshot chunk: each entry carries exactly one "ns" key;
 * the snapshot's envelope has none, and the bench's data values never
 * contain the text "ns" as a key. */
static long long count_entries(const unsigned char *p, size_t len)
{
    long long n = 0;
    const unsigned char *end = p + len;
    while (p < end) {
        const unsigned char *hit = memmem(p, (size_t)(end - p), "\"ns\"", 4);
        if (!hit)
            break;
        const unsigned char *q = hit + 4;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q < end && *q == ':')
            n++;
        p = hit + 4;
    }
    return n;
}

/* Monitor PAIRs are connected before the SUBs connect: a monitor event
 * sent while nobody listens is dropped, and the handshake can be quick. */
static void *monitors[MAX_SOCKETS];

static bool watch_handshake(void *ctx, void *sock, int i)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://bench-sub-mon-%d", i);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
        return false;
    monitors[i] = zmq_socket(ctx, ZMQ_PAIR);
    return monitors[i] && zmq_connect(monitors[i], ep) == 0;
}

static bool wait_handshakes(sub_t *subs, int n, int timeout_ms)
{
    bool ok = true;
    uint64_t deadline = bench_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        while (ok && !seen && !stop_requested && bench_mono_ns() < deadline) {
            zmq_pollitem_t it = { monitors[i], 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&it, 1, 100) <= 0)
                continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, monitors[i], 0) < 0) {
                zmq_msg_close(&m);
                continue;
            }
            uint16_t event = 0;
            if (zmq_msg_size(&m) >= 2)
                memcpy(&event, zmq_msg_data(&m), 2);
            bool more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (more) {
                zmq_msg_init(&m);
                zmq_msg_recv(&m, monitors[i], 0);
                zmq_msg_close(&m);
            }
            seen = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
        }
        ok = ok && seen;
    }
    for (int i = 0; i < n; i++) {
        zmq_socket_monitor(subs[i].sock, NULL, 0);
        zmq_close(monitors[i]);
        monitors[i] = NULL;
    }
    return ok;
}

static int arrivals_init(arrivals_t *a, size_t cap)
{
    memset(a, 0, sizeof *a);
    if (cap == 0)
        return 0;
    a->at = malloc(cap * sizeof *a->at);
    a->lat = malloc(cap * sizeof *a->lat);
    a->cap = cap;
    return a->at && a->lat ? 0 : -1;
}

static void arrivals_add(arrivals_t *a, uint64_t t, int64_t lat)
{
    if (a->n < a->cap) {
        a->at[a->n] = t;
        a->lat[a->n] = lat;
        a->n++;
    }
}

/* Longest gap between consecutive updates and worst latency, from 1 s
 * before a broadcast's first chunk to its last chunk, and the same outside
 * that window as the machine's baseline.  Prints a JSON object. */
static void arrivals_report(const arrivals_t *a, const broadcast_t *b)
{
    uint64_t lo = b->first_ns > 1000000000u ? b->first_ns - 1000000000u : 0;
    uint64_t hi = b->last_ns;
    double gap_ms = -1, lat_ms = -1, base_gap_ms = -1, base_lat_ms = -1;
    long long in_window = 0, long_gaps_in = 0, long_gaps_out = 0;
    for (size_t k = 0; k < a->n; k++) {
        bool inside = a->at[k] >= lo && a->at[k] <= hi + 1000000u;
        bool prev_inside = k > 0 && a->at[k - 1] <= hi && a->at[k] >= lo;
        double l = (double)a->lat[k] / 1e6;
        if (inside) {
            in_window++;
            if (l > lat_ms)
                lat_ms = l;
        } else if (l > base_lat_ms) {
            base_lat_ms = l;
        }
        if (k > 0) {
            double g = (double)(a->at[k] - a->at[k - 1]) / 1e6;
            if (prev_inside) {
                if (g > gap_ms)
                    gap_ms = g;
                long_gaps_in += g > 10.0;
            } else {
                if (g > base_gap_ms)
                    base_gap_ms = g;
                long_gaps_out += g > 10.0;
            }
        }
    }
    printf("{\"updates_recorded\":%zu,\"updates_in_window\":%lld,"
           "\"max_update_gap_ms\":%.3f,\"gaps_over_10ms\":%lld,"
           "\"max_update_gap_outside_ms\":%.3f,\"gaps_over_10ms_outside\":%lld,"
           "\"max_latency_in_window_ms\":%.3f,\"max_latency_outside_ms\":%.3f}",
           a->n, in_window, gap_ms, long_gaps_in, base_gap_ms, long_gaps_out, lat_ms,
           base_lat_ms);
}

/* The updates-only socket has its own thread: read from the main loop, it
 * would wait while the main loop reads a whole snapshot off socket 0, and
 * that wait would look like a pause of the broker. */
typedef struct {
    void *sock;
    arrivals_t *arr;
    atomic_bool stop;
    long long updates;
} gap_reader_t;

static void *gap_reader(void *arg)
{
    gap_reader_t *g = arg;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (!atomic_load(&g->stop)) {
        zmq_pollitem_t it = { g->sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        for (int burst = 0; burst < 4096; burst++) {
            if (zmq_msg_recv(&msg, g->sock, ZMQ_DONTWAIT) < 0)
                break;
            uint64_t t = bench_mono_ns(), stamp;
            if (bench_stamp_find(zmq_msg_data(&msg), zmq_msg_size(&msg), &stamp) == 0) {
                g->updates++;
                arrivals_add(g->arr, t, (int64_t)(t - stamp));
            }
        }
    }
    zmq_msg_close(&msg);
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench-sub --connect ENDPOINT [options]\n"
            "  --sockets K          healthy SUB sockets (default 1)\n"
            "  --stuck K            extra SUB sockets that are never read (default 0;\n"
            "                       with --sockets 0 the process only holds them open)\n"
            "  --expect N           stop when every healthy socket got N updates\n"
            "  --snapshot-expect M  stop when a snapshot broadcast carried M entries\n"
            "  --snapshot-gap-ms G  chunks further apart start a new broadcast (default 2000)\n"
            "  --idle-ms T          stop T ms after the last message (default 2000)\n"
            "  --first-timeout-ms T give up if nothing arrives in T ms (default 30000)\n"
            "  --max-seconds S      hard limit (default 120)\n"
            "  --rcvhwm N           SUB receive high-water mark (default 1000)\n"
            "  --record-arrivals N  keep up to N arrival times of socket 0 (gap analysis)\n"
            "  --gap-prefix P       also open a SUB subscribed to prefix P only (e.g. the\n"
            "                       updates, not the snapshots) and analyse its gaps too\n");
}

int main(int argc, char **argv)
{
    const char *ep = NULL, *gap_prefix = NULL;
    int nsock = 1, nstuck = 0, rcvhwm = 1000;
    long long expect = 0, snap_expect = 0, record_cap = 0;
    long idle_ms = 2000, first_timeout_ms = 30000, snap_gap_ms = 2000;
    double max_seconds = 120;
    static const struct option longopts[] = {
        { "connect", required_argument, 0, 'c' },       { "sockets", required_argument, 0, 'k' },
        { "stuck", required_argument, 0, 's' },         { "expect", required_argument, 0, 'n' },
        { "snapshot-expect", required_argument, 0, 'm' }, { "idle-ms", required_argument, 0, 'i' },
        { "first-timeout-ms", required_argument, 0, 'f' }, { "max-seconds", required_argument, 0, 'x' },
        { "rcvhwm", required_argument, 0, 'w' },        { "record-arrivals", required_argument, 0, 'r' },
        { "snapshot-gap-ms", required_argument, 0, 'g' }, { "help", no_argument, 0, 'h' },
        { "gap-prefix", required_argument, 0, 'P' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': ep = optarg; break;
        case 'k': nsock = atoi(optarg); break;
        case 's': nstuck = atoi(optarg); break;
        case 'n': expect = atoll(optarg); break;
        case 'm': snap_expect = atoll(optarg); break;
        case 'i': idle_ms = atol(optarg); break;
        case 'f': first_timeout_ms = atol(optarg); break;
        case 'x': max_seconds = atof(optarg); break;
        case 'w': rcvhwm = atoi(optarg); break;
        case 'r': record_cap = atoll(optarg); break;
        case 'g': snap_gap_ms = atol(optarg); break;
        case 'P': gap_prefix = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!ep || nsock < 0 || nstuck < 0 || nsock + nstuck < 1 || nsock + nstuck + 1 > MAX_SOCKETS ||
        (gap_prefix && nsock < 1) || expect < 0 ||
        idle_ms < 1 || max_seconds <= 0 || max_seconds > 3600 || record_cap < 0 ||
        record_cap > 50000000) {
        usage(stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    void *ctx = zmq_ctx_new();
    sub_t subs[MAX_SOCKETS];
    memset(subs, 0, sizeof subs);
    int total = nsock + nstuck + (gap_prefix ? 1 : 0);
    int gap_index = gap_prefix ? total - 1 : -1;
    for (int i = 0; i < total; i++) {
        subs[i].sock = zmq_socket(ctx, ZMQ_SUB);
        int linger = 0;
        zmq_setsockopt(subs[i].sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
        zmq_setsockopt(subs[i].sock, ZMQ_LINGER, &linger, sizeof linger);
        if (i == gap_index)
            zmq_setsockopt(subs[i].sock, ZMQ_SUBSCRIBE, gap_prefix, strlen(gap_prefix));
        else
            zmq_setsockopt(subs[i].sock, ZMQ_SUBSCRIBE, "", 0);
        if (!watch_handshake(ctx, subs[i].sock, i)) {
            fprintf(stderr, "bench-sub: cannot monitor socket %d: %s\n", i, zmq_strerror(errno));
            return 1;
        }
        if (zmq_connect(subs[i].sock, ep) != 0) {
            fprintf(stderr, "bench-sub: connect %s: %s\n", ep, zmq_strerror(errno));
            return 1;
        }
    }
    if (!wait_handshakes(subs, total, 10000)) {
        fprintf(stderr, "bench-sub: no handshake with %s within 10 s\n", ep);
        return 1;
    }
    {   /* let the subscriptions reach the PUB's I/O thread */
        struct timespec settle = { 0, 100 * 1000000L };
        nanosleep(&settle, NULL);
    }
    printf("ready\n");
    fflush(stdout);

    size_t lat_cap = expect > 0 ? (size_t)expect * (size_t)nsock : 1000000;
    if (lat_cap > 20000000)
        lat_cap = 20000000;
    int64_t *lat = malloc(lat_cap * sizeof *lat);
    arrivals_t arr_all, arr_gap;
    int arc = arrivals_init(&arr_all, (size_t)record_cap);
    arc |= arrivals_init(&arr_gap, gap_prefix ? (size_t)record_cap : 0);
    if (!lat || arc != 0) {
        fprintf(stderr, "bench-sub: out of memory\n");
        return 1;
    }
    size_t nlat = 0;
    long long lat_dropped = 0, unstamped = 0, update_bytes = 0;
    broadcast_t bc[MAX_BROADCASTS];
    int nbc = 0;
    bool snapshot_done = false;
    uint64_t snapshot_done_ns = 0;

    uint64_t start = bench_mono_ns();
    uint64_t hard_end = start + (uint64_t)(max_seconds * 1e9);
    uint64_t last_any = 0;
    const char *why = "max_seconds";
    zmq_pollitem_t items[MAX_SOCKETS];
    int npoll = nsock;
    for (int i = 0; i < nsock; i++)
        items[i] = (zmq_pollitem_t){ subs[i].sock, 0, ZMQ_POLLIN, 0 };
    gap_reader_t gap = { .sock = gap_prefix ? subs[gap_index].sock : NULL, .arr = &arr_gap };
    atomic_init(&gap.stop, false);
    pthread_t gap_thread;
    bool gap_started = gap_prefix && pthread_create(&gap_thread, NULL, gap_reader, &gap) == 0;
    if (gap_prefix && !gap_started) {
        fprintf(stderr, "bench-sub: cannot start the gap reader thread\n");
        return 1;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);

    for (;;) {
        uint64_t now = bench_mono_ns();
        if (stop_requested) { why = "signal"; break; }
        if (now >= hard_end) { why = "max_seconds"; break; }
        if (nsock == 0) {   /* only stuck sockets: hold them open, read nothing */
            struct timespec pause = { 0, 100 * 1000000L };
            nanosleep(&pause, NULL);
            continue;
        }
        if (last_any && now - last_any > (uint64_t)idle_ms * 1000000u) { why = "idle"; break; }
        if (!last_any && now - start > (uint64_t)first_timeout_ms * 1000000u) { why = "nothing_arrived"; break; }
        if (snapshot_done && now - snapshot_done_ns > 500000000u) { why = "snapshot_complete"; break; }
        if (expect > 0 && snap_expect == 0) {
            bool all = true;
            for (int i = 0; i < nsock; i++)
                all = all && subs[i].updates >= expect;
            if (all) { why = "count_reached"; break; }
        }
        int rc = zmq_poll(items, npoll, 100);
        if (rc <= 0)
            continue;
        for (int i = 0; i < nsock; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            for (int burst = 0; burst < 4096; burst++) {
                if (zmq_msg_recv(&msg, subs[i].sock, ZMQ_DONTWAIT) < 0)
                    break;
                uint64_t t = bench_mono_ns();
                last_any = t;
                const unsigned char *data = zmq_msg_data(&msg);
                size_t len = zmq_msg_size(&msg);
                if (memmem(data, len, "thing_snapshot", 14)) {
                    subs[i].snapshot_chunks++;
                    if (i != 0)
                        continue;
                    if (nbc == 0 || t - bc[nbc - 1].last_ns > (uint64_t)snap_gap_ms * 1000000u) {
                        if (nbc == MAX_BROADCASTS)
                            continue;
                        memset(&bc[nbc], 0, sizeof bc[nbc]);
                        bc[nbc].first_ns = t;
                        nbc++;
                    }
                    broadcast_t *b = &bc[nbc - 1];
                    b->chunks++;
                    b->entries += count_entries(data, len);
                    b->bytes += (long long)len;
                    b->last_ns = t;
                    if (snap_expect > 0 && !snapshot_done && b->entries >= snap_expect) {
                        snapshot_done = true;
                        snapshot_done_ns = t;
                    }
                    continue;
                }
                uint64_t stamp;
                if (bench_stamp_find(data, len, &stamp) != 0) {
                    subs[i].other++;
                    unstamped++;
                    continue;
                }
                if (subs[i].updates == 0)
                    subs[i].first_ns = t;
                if (subs[i].updates == 0 || stamp < subs[i].first_stamp_ns)
                    subs[i].first_stamp_ns = stamp;
                subs[i].last_ns = t;
                subs[i].updates++;
                if (i == 0)
                    update_bytes += (long long)len;
                int64_t l = (int64_t)(t - stamp);
                if (nlat < lat_cap)
                    lat[nlat++] = l;
                else
                    lat_dropped++;
                if (i == 0)
                    arrivals_add(&arr_all, t, l);
            }
        }
    }
    zmq_msg_close(&msg);
    if (gap_started) {
        atomic_store(&gap.stop, true);
        pthread_join(gap_thread, NULL);
    }
    long long gap_updates = gap.updates;

    /* ---- report */
    long long min_upd = -1, max_upd = 0, sum_upd = 0;
    uint64_t first = 0, last = 0;
    for (int i = 0; i < nsock; i++) {
        if (min_upd < 0 || subs[i].updates < min_upd)
            min_upd = subs[i].updates;
        if (subs[i].updates > max_upd)
            max_upd = subs[i].updates;
        sum_upd += subs[i].updates;
        if (subs[i].updates) {
            if (!first || subs[i].first_ns < first)
                first = subs[i].first_ns;
            if (subs[i].last_ns > last)
                last = subs[i].last_ns;
        }
    }
    double span = last > first ? (double)(last - first) / 1e9 : 0;
    double r0 = 0;
    if (subs[0].updates > 1 && subs[0].last_ns > subs[0].first_ns)
        r0 = (double)subs[0].updates / ((double)(subs[0].last_ns - subs[0].first_ns) / 1e9);
    /* End to end: from the first send to the last arrival, so a target that
     * queues a burst and releases it at once is not credited for that. */
    double e2e = 0;
    if (subs[0].updates > 1 && subs[0].last_ns > subs[0].first_stamp_ns)
        e2e = (double)subs[0].updates / ((double)(subs[0].last_ns - subs[0].first_stamp_ns) / 1e9);
    qsort(lat, nlat, sizeof *lat, cmp_i64);
    double p50 = 0, p99 = 0, pmax = 0;
    if (nlat) {
        p50 = (double)lat[(nlat - 1) * 50 / 100] / 1e3;
        p99 = (double)lat[(nlat - 1) * 99 / 100] / 1e3;
        pmax = (double)lat[nlat - 1] / 1e3;
    }
    printf("{\"stop\":\"%s\",\"sockets\":%d,\"stuck\":%d,\"received\":%lld,"
           "\"received_min\":%lld,\"received_max\":%lld,\"received_total\":%lld,"
           "\"seconds\":%.6f,\"rate\":%.1f,\"e2e_rate\":%.1f,\"aggregate_rate\":%.1f,"
           "\"unstamped\":%lld,\"mean_update_bytes\":%.1f,"
           "\"latency_us\":{\"samples\":%zu,\"not_kept\":%lld,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
           "\"per_socket\":[",
           why, nsock, nstuck, subs[0].updates, min_upd, max_upd, sum_upd, span, r0, e2e,
           span > 0 ? (double)sum_upd / span : 0.0, unstamped,
           subs[0].updates ? (double)update_bytes / (double)subs[0].updates : 0.0,
           nlat, lat_dropped, p50, p99, pmax);
    for (int i = 0; i < nsock; i++)
        printf("%s%lld", i ? "," : "", subs[i].updates);
    printf("],\"gap_socket_updates\":%lld,\"broadcasts\":[", gap_updates);
    for (int b = 0; b < nbc; b++) {
        printf("%s{\"chunks\":%lld,\"entries\":%lld,\"bytes\":%lld,\"duration_ms\":%.3f,"
               "\"all_messages\":",
               b ? "," : "", bc[b].chunks, bc[b].entries, bc[b].bytes,
               (double)(bc[b].last_ns - bc[b].first_ns) / 1e6);
        arrivals_report(&arr_all, &bc[b]);
        printf(",\"updates_only\":");
        if (gap_prefix)
            arrivals_report(&arr_gap, &bc[b]);
        else
            printf("null");
        printf("}");
    }
    printf("]}\n");
    fflush(stdout);
    free(lat);
    free(arr_all.at);
    free(arr_all.lat);
    free(arr_gap.at);
    free(arr_gap.lat);
    for (int i = 0; i < total; i++)
        zmq_close(subs[i].sock);
    zmq_ctx_term(ctx);
    return 0;
}
