/*
 * tb_store_bench.c - how fast a large state file loads, and its size per
 * Thing (make bench; not a test).
 *
 * Why this exists: the issue promises that a 1 000 000-Thing state loads in
 * under 2 s.  This program writes such a state through the real store API
 * (realistic namespaces, JSON data, ts literals, documentation URLs on most
 * Things), optionally with history, then times tb_store_new() loading it:
 * once with a callback that only touches each record (the store's own
 * cost) and once inserting into a hash directory (closer to the broker).
 *
 *   tb-store-bench [DIR] [--things N] [--history H] [--drop-caches]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/tb_store.h"
#include "store_model.h"
#include "tb_time.h"

static uint64_t touched;
static int touch(void *ctx, const tb_store_record_t *rec)
{
    (void)ctx;
    touched += rec->ns_len + rec->data_len + (unsigned char)rec->data[rec->data_len / 2];
    return 0;
}

static void drop_caches(void)
{
    sync();
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (f) {
        fputs("3\n", f);
        if (fclose(f) != 0)
            printf("  (could not drop the page cache: cold figures are warm)\n");
    } else {
        printf("  (could not drop the page cache: cold figures are warm)\n");
    }
}

static void make(unsigned i, uint64_t v, uint64_t seq, char *ns, char *data, char *ts,
                 char *doc, tb_store_record_t *rec)
{
    snprintf(ns, 96, "building%u.floor%u.room%u.sensor%u", i % 7, (i / 7) % 12, (i / 84) % 200, i / 16800);
    snprintf(data, 160, "{\"temperature\":%.2f,\"humidity\":%u,\"battery\":%u,\"ok\":true}",
             18.0 + (double)((i + v) % 900) / 100.0, (unsigned)((i * 7 + v) % 100), (unsigned)(v % 101));
    snprintf(ts, 32, "%.3f", 1763700000.0 + (double)seq / 1000.0);
    snprintf(doc, 96, "\"https://wiki.example.org/sensors/model-%u\"", i % 40);
    memset(rec, 0, sizeof *rec);
    rec->ns = ns; rec->ns_len = strlen(ns);
    rec->data = data; rec->data_len = strlen(data);
    rec->ts = ts; rec->ts_len = strlen(ts);
    if (i % 5) { rec->doc_url = doc; rec->doc_url_len = strlen(doc); }
    rec->recv_time = 1763700000.0 + (double)seq / 1000.0;
    rec->update_count = v + 1;
    rec->seq = seq;
}

static double load(const char *path, bool model, const char *label)
{
    model_t m;
    model_init(&m);
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = path;
    cfg.read_only = true;
    tb_store_report_t rep;
    double t0 = tb_time_now();
    tb_store_t *s = tb_store_new(&cfg, model ? model_load : touch, &m, &rep);
    double dt = tb_time_now() - t0;
    printf("  load %-34s %7.3f s  (%llu Things from %llu records, %.1f MB)\n", label, dt,
           (unsigned long long)rep.things_loaded, (unsigned long long)rep.records_read,
           (double)rep.file_bytes / 1e6);
    tb_store_destroy(&s);
    model_free(&m);
    return dt;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp";
    unsigned things = 1000000, history = 0;
    bool cold = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--things") && i + 1 < argc) things = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--history") && i + 1 < argc) history = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--drop-caches")) cold = true;
        else dir = argv[i];
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/tb-store-bench-%d/state", dir, (int)getpid());
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = path;
    cfg.compact_min_bytes = (size_t)1 << 40;   /* keep the history for the load test */
    cfg.max_pending_bytes = (size_t)1 << 32;   /* no live_next here: never drop a group */
    tb_store_t *s = tb_store_new(&cfg, NULL, NULL, NULL);
    if (!s)
        return 1;
    char ns[96], data[160], ts[32], doc[96];
    tb_store_record_t rec;
    uint64_t seq = 0, payload = 0;
    /* What making the records costs (snprintf), to subtract from puts. */
    double t0 = tb_time_now();
    for (unsigned i = 0; i < things; i++)
        make(i, 0, i + 1, ns, data, ts, doc, &rec);
    double make_s = tb_time_now() - t0;
    t0 = tb_time_now();
    for (unsigned v = 0; v <= history; v++)
        for (unsigned i = 0; i < things; i++) {
            make(i, v, ++seq, ns, data, ts, doc, &rec);
            if (v == history)
                payload += rec.ns_len + rec.data_len + rec.ts_len + rec.doc_url_len;
            tb_store_put(s, &rec);
            if ((i & 1023) == 0)
                tb_store_tick(s, tb_time_mono_ms());
        }
    double put_s = tb_time_now() - t0;
    tb_store_close(s);
    double write_s = tb_time_now() - t0;
    tb_store_stats_t st;
    tb_store_stats(s, &st);
    tb_store_destroy(&s);
    struct stat sb;
    stat(path, &sb);
    printf("tb-store-bench: %u Things, %u older version(s) each\n", things, history);
    printf("  put (loop thread)                      %7.3f s  (%.0f ns per put, of which %.0f "
           "making the record)\n", put_s, put_s * 1e9 / (double)seq, make_s * 1e9 / (double)things);
    printf("  put + write + fdatasync (close)        %7.3f s  (%llu groups, %llu fsyncs)\n",
           write_s, (unsigned long long)st.groups_written, (unsigned long long)st.fsyncs);
    printf("  file                                   %7.1f MB (%.1f bytes per record, of which "
           "%.1f are the Thing's own text)\n", (double)sb.st_size / 1e6,
           (double)sb.st_size / (double)seq, (double)payload / (double)things);
    if (cold) drop_caches();
    load(path, false, cold ? "(cold cache, store only)" : "(store only)");
    load(path, true, "(into a hash directory)");
    {
        /* The hot path alone: one prepared record, put 1 000 000 times. */
        char path2[4200];
        snprintf(path2, sizeof path2, "%s.put", path);
        tb_store_config_defaults(&cfg);
        cfg.path = path2;
        cfg.max_pending_bytes = (size_t)1 << 32;
        s = tb_store_new(&cfg, NULL, NULL, NULL);
        make(12345, 1, 1, ns, data, ts, doc, &rec);
        t0 = tb_time_now();
        for (unsigned i = 0; i < 1000000; i++) {
            rec.seq = i + 1;
            tb_store_put(s, &rec);
            if ((i & 1023) == 0)
                tb_store_tick(s, tb_time_mono_ms());
        }
        double dt = tb_time_now() - t0;
        printf("  tb_store_put alone (prepared record)   %7.0f ns per put\n", dt * 1e9 / 1e6);
        tb_store_destroy(&s);
        unlink(path2);
    }
    if (history) {
        /* After a compaction the file holds one record per Thing. */
        model_t m;
        model_init(&m);
        tb_store_config_defaults(&cfg);
        cfg.path = path;
        cfg.live_next = model_next;
        cfg.live_ctx = &m;
        s = tb_store_new(&cfg, model_load, &m, NULL);
        tb_store_compact(s);
        t0 = tb_time_now();
        for (int turn = 0; turn < 10000000; turn++) {
            tb_store_tick(s, tb_time_mono_ms());
            tb_store_stats(s, &st);
            if (st.compactions && !st.compacting)
                break;
        }
        printf("  compaction pass (loop-driven slices)   %7.3f s\n", tb_time_now() - t0);
        tb_store_destroy(&s);
        model_free(&m);
        stat(path, &sb);
        printf("  file after compaction                  %7.1f MB (%.1f bytes per Thing)\n",
               (double)sb.st_size / 1e6, (double)sb.st_size / (double)things);
        load(path, false, "after compaction (store only)");
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/tb-store-bench-%d'", dir, (int)getpid());
    return system(cmd) == 0 ? 0 : 1;
}
