/*
 * tb_store_driver.c - drives the store from a separate process, for the
 * crash and filesystem tests (test_store_crash.py).  Not installed.
 *
 * Why this exists: a kill -9 or a filesystem that fills up or turns
 * read-only can only be tested from outside the process that writes, so
 * this program plays the broker: it puts a steady stream of updates through
 * the real store API, says on stdout what it has accepted and when, and on
 * SIGTERM stops cleanly and writes the state it holds; "dump" opens a state
 * file and prints what it restores, in the same format, for comparison.
 *
 *   tb-store-driver run PATH [--things K] [--window-ms W] [--retry-ms R]
 *        [--compact-min BYTES] [--pad N] [--batch N] [--expect FILE]
 *   tb-store-driver dump PATH [--read-only]
 *
 * run prints "ready", then "acc SEQ MONO_MS" lines (the highest sequence
 * number accepted, and CLOCK_MONOTONIC ms after it was accepted), "stat
 * healthy=H errors=E compactions=C" lines, and "err TEXT" when the last
 * error changes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/tb_store.h"
#include "store_model.h"
#include "tb_time.h"

static volatile sig_atomic_t stop_flag;
static void on_term(int sig) { (void)sig; stop_flag = 1; }

static void print_thing(FILE *out, const model_thing_t *t)
{
    uint64_t bits;
    memcpy(&bits, &t->recv_time, 8);
    fprintf(out, "thing %.*s\t%llu\t%llu\t%016llx\t%.*s\t%s%.*s\t%.*s\n",
            (int)t->ns_len, t->ns, (unsigned long long)t->seq,
            (unsigned long long)t->update_count, (unsigned long long)bits,
            (int)t->ts_len, t->ts, t->has_doc ? "" : "-",
            (int)t->doc_len, t->has_doc ? t->doc : "", (int)t->data_len, t->data);
}

static void print_model(FILE *out, const model_t *m, uint64_t last_seq)
{
    fprintf(out, "last_seq %llu\n", (unsigned long long)last_seq);
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].live)
            print_thing(out, &m->v[i]);
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 3; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 3; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static int cmd_dump(int argc, char **argv)
{
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = argv[2];
    cfg.read_only = flag(argc, argv, "--read-only");
    model_t m;
    model_init(&m);
    tb_store_report_t rep;
    tb_store_t *s = tb_store_new(&cfg, model_load, &m, &rep);
    if (!s) {
        fprintf(stderr, "tb-store-driver: %s\n", rep.error);
        return 1;
    }
    printf("report loaded=%llu read=%llu skipped=%llu bytes_skipped=%llu damaged=%d "
           "seconds=%.3f damaged_path=%s error=%s\n",
           (unsigned long long)rep.things_loaded, (unsigned long long)rep.records_read,
           (unsigned long long)rep.regions_skipped, (unsigned long long)rep.bytes_skipped,
           rep.damaged, rep.load_seconds, rep.damaged_path[0] ? rep.damaged_path : "-",
           rep.error);
    print_model(stdout, &m, rep.last_seq);
    int rc = tb_store_close(s);
    tb_store_destroy(&s);
    model_free(&m);
    return rc ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
    unsigned things = (unsigned)atoi(opt(argc, argv, "--things", "100"));
    unsigned pad = (unsigned)atoi(opt(argc, argv, "--pad", "0"));
    unsigned batch = (unsigned)atoi(opt(argc, argv, "--batch", "20"));
    const char *expect = opt(argc, argv, "--expect", NULL);
    if (!things || pad > 60000 || !batch)
        return 2;
    model_t m;
    model_init(&m);
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = argv[2];
    cfg.commit_window_ms = (unsigned)atoi(opt(argc, argv, "--window-ms", "1000"));
    cfg.retry_ms = (unsigned)atoi(opt(argc, argv, "--retry-ms", "5000"));
    cfg.compact_min_bytes = (size_t)atoll(opt(argc, argv, "--compact-min", "4194304"));
    cfg.compact_slice = 64;
    cfg.live_next = model_next;
    cfg.live_ctx = &m;
    tb_store_report_t rep;
    tb_store_t *s = tb_store_new(&cfg, model_load, &m, &rep);
    if (!s) {
        fprintf(stderr, "tb-store-driver: %s\n", rep.error);
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready loaded=%llu last_seq=%llu error=%s\n",
           (unsigned long long)rep.things_loaded, (unsigned long long)rep.last_seq, rep.error);
    uint64_t seq = rep.last_seq;
    char *padding = malloc(pad + 1);
    memset(padding, 'p', pad);
    padding[pad] = '\0';
    char ns[64], data[61000], ts[40], doc[64];
    uint64_t last_acc = 0, last_stat = 0;
    char last_err[512] = "";
    while (!stop_flag) {
        for (unsigned k = 0; k < batch; k++) {
            seq++;
            unsigned i = (unsigned)(seq % things);
            snprintf(ns, sizeof ns, "bldg.t%u", i);
            snprintf(data, sizeof data, "{\"seq\":%llu,\"pad\":\"%s\"}", (unsigned long long)seq, padding);
            snprintf(ts, sizeof ts, "%llu.%06u", 1700000000ull + seq / 1000, (unsigned)(seq % 1000) * 997);
            snprintf(doc, sizeof doc, "\"http://doc.example/%u\"", i);
            model_thing_t *t = model_find(&m, ns, strlen(ns));
            tb_store_record_t rec = {
                .ns = ns, .ns_len = strlen(ns), .data = data, .data_len = strlen(data),
                .ts = ts, .ts_len = strlen(ts),
                .doc_url = i % 4 ? doc : NULL, .doc_url_len = i % 4 ? strlen(doc) : 0,
                .recv_time = tb_time_now(), .update_count = (t && t->live ? t->update_count : 0) + 1,
                .seq = seq,
            };
            model_put(&m, &rec);
            tb_store_put(s, &rec);
        }
        uint64_t now = tb_time_mono_ms();
        tb_store_tick(s, now);
        if (now - last_acc >= 5) {
            printf("acc %llu %llu\n", (unsigned long long)seq, (unsigned long long)tb_time_mono_ms());
            last_acc = now;
        }
        if (now - last_stat >= 50) {
            tb_store_stats_t st;
            tb_store_stats(s, &st);
            printf("stat healthy=%d errors=%llu compactions=%llu unsaved=%llu file=%llu max_commit_ms=%llu\n",
                   st.healthy, (unsigned long long)st.write_errors,
                   (unsigned long long)st.compactions, (unsigned long long)st.records_unsaved,
                   (unsigned long long)st.file_bytes, (unsigned long long)st.max_commit_ms);
            if (strcmp(st.last_error, last_err) != 0) {
                printf("err %s\n", st.last_error);
                memcpy(last_err, st.last_error, sizeof last_err);
            }
            last_stat = now;
        }
        usleep(1000);
    }
    int rc = tb_store_close(s);
    tb_store_stats_t st;
    tb_store_stats(s, &st);
    printf("closed rc=%d error=%s\n", rc, st.last_error);
    if (expect) {
        FILE *f = fopen(expect, "w");
        if (f) {
            print_model(f, &m, seq);
            fclose(f);
        }
    }
    tb_store_destroy(&s);
    model_free(&m);
    free(padding);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argc, argv);
    fprintf(stderr, "usage: tb-store-driver run|dump PATH [options]\n");
    return 2;
}
