/*
 * test_store.c - unit tests of the persistence engine (broker/store/).
 *
 * Why this exists: the store's promises are about what comes back after a
 * restart, so every test writes through the real API into a temporary
 * directory, reopens it, and compares what was restored with an
 * independent model (store_model.c): clean close exactness, truncation and
 * corruption at seeded random offsets, compaction bounds and no loss during
 * compaction, a missing directory, and write errors (RLIMIT_FSIZE) with
 * recovery.  The kill -9 and full/read-only filesystem cases are in
 * test_store_crash.py (they need a separate process or a mount).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "store/tb_store.h"
#include "store/tb_store_format.h"
#include "store_model.h"
#include "tb_time.h"

static char tmpdir[256];
static char why[512];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/tb-store-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static uint32_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Build a record for thing i at version v in caller-owned buffers. */
typedef struct { char ns[64], data[128], ts[32], doc[64]; tb_store_record_t rec; } recbuf_t;

static void make_rec(recbuf_t *b, unsigned i, uint64_t v, uint64_t seq)
{
    memset(&b->rec, 0, sizeof b->rec);
    snprintf(b->ns, sizeof b->ns, i == 0 ? "" : "room%u.sensor", i);
    snprintf(b->data, sizeof b->data, "{\"v\":%llu,\"t\":[1,2.5,\"x\\u00e9\"]}", (unsigned long long)v);
    snprintf(b->ts, sizeof b->ts, "1423351104.%03u", (unsigned)(v % 1000));
    snprintf(b->doc, sizeof b->doc, "\"http://example.org/doc/%u\"", i);
    b->rec.ns = b->ns; b->rec.ns_len = strlen(b->ns);
    b->rec.data = b->data; b->rec.data_len = strlen(b->data);
    b->rec.ts = b->ts; b->rec.ts_len = strlen(b->ts);
    if (i % 3) { b->rec.doc_url = b->doc; b->rec.doc_url_len = strlen(b->doc); }
    b->rec.recv_time = 1.7e9 + (double)v / 7.0;
    b->rec.update_count = v + 1;
    b->rec.seq = seq;
}

/* Defaults for path, with the model as the live state compaction rewrites
 * from; callers set what their case is about, then call tb_store_new. */
static void live_config(tb_store_config_t *cfg, const char *path, model_t *live)
{
    tb_store_config_defaults(cfg);
    cfg->path = path;
    cfg->live_next = model_next;
    cfg->live_ctx = live;
}

/* Makes write(2) fail with EFBIG past bytes (SIGXFSZ ignored); *old is
 * what to restore with setrlimit(RLIMIT_FSIZE, old). */
static void limit_file_size(rlim_t bytes, struct rlimit *old)
{
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
    struct rlimit lim = *old;
    lim.rlim_cur = bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static tb_store_t *open_store(const char *path, model_t *into, tb_store_report_t *rep,
                              model_t *live, unsigned window)
{
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = path;
    cfg.commit_window_ms = window;
    cfg.retry_ms = 20;
    cfg.live_next = live ? model_next : NULL;
    cfg.live_ctx = live;
    return tb_store_new(&cfg, model_load, into, rep);
}

/* Reopen path read-only-free and check it restores exactly `expect`. */
static void check_restores(const char *path, const model_t *expect, uint64_t last_seq)
{
    model_t got;
    model_init(&got);
    tb_store_report_t rep;
    tb_store_t *s = open_store(path, &got, &rep, NULL, 1000);
    assert_non_null(s);
    if (!model_equal(expect, &got, why, sizeof why))
        fail_msg("restore differs: %s", why);
    assert_int_equal(rep.regions_skipped, 0);
    assert_false(rep.damaged);
    assert_int_equal(rep.last_seq, last_seq);
    tb_store_destroy(&s);
    model_free(&got);
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(tb_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(tb_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    unsigned char zeros[32] = {0};
    assert_int_equal(tb_crc32c(0, zeros, 32), 0x8A9136AAu);
    rng_state = 12345;
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rnd();
    for (size_t n = 0; n < sizeof buf; n += 37) {
        assert_int_equal(tb_crc32c(0, buf, n), tb_crc32c_sw(0, buf, n));
        /* Incremental equals one-shot. */
        assert_int_equal(tb_crc32c(tb_crc32c(0, buf, n / 2), buf + n / 2, n - n / 2),
                         tb_crc32c(0, buf, n));
    }
}

static void test_frame_hostile(void **state)
{
    (void)state;
    unsigned char f[64];
    recbuf_t b;
    make_rec(&b, 1, 1, 1);
    size_t n = tb_store_put_size(&b.rec);
    unsigned char *big = malloc(n);
    tb_store_encode_put(big, &b.rec);
    assert_int_equal(tb_store_frame_ok(big, n), n);
    assert_int_equal(tb_store_frame_ok(big, n - 1), 0);   /* cut short */
    big[6] ^= 0x80;                                        /* huge declared length */
    assert_int_equal(tb_store_frame_ok(big, n), 0);
    big[6] ^= 0x80;
    big[n - 1] ^= 1;                                       /* payload bit flip */
    assert_int_equal(tb_store_frame_ok(big, n), 0);
    free(big);
    memset(f, 0, sizeof f);
    assert_int_equal(tb_store_frame_ok(f, sizeof f), 0);
    /* A record whose inner lengths do not add up is refused by decode. */
    tb_store_record_t r;
    unsigned char bad[TB_STORE_PUT_HEAD] = { TB_STORE_REC_PUT, 0, 5, 0 };
    assert_int_equal(tb_store_decode(bad, sizeof bad, &r), 0);
    assert_true(b.rec.ns_len > 0);
    b.rec.ns_len = 70000;
    assert_int_equal(tb_store_put_size(&b.rec), 0);
}

static void test_clean_close_exact(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "state");
    model_t live, loaded;
    model_init(&live);
    model_init(&loaded);
    tb_store_report_t rep;
    tb_store_t *s = open_store(path, &loaded, &rep, &live, 1000);
    assert_non_null(s);
    assert_int_equal(rep.things_loaded, 0);
    assert_string_equal(rep.error, "");
    uint64_t seq = 0;
    recbuf_t b;
    for (unsigned v = 0; v < 5; v++)
        for (unsigned i = 0; i < 50; i++) {
            make_rec(&b, i, v * 100 + i, ++seq);
            if (i == 7) {
                /* odd values must come back bit-exact */
                b.rec.recv_time = v == 4 ? -0.0 : 1e-310;
                b.rec.data_len = 0;
                b.rec.ts_len = 0;
            }
            if (i == 8) { b.rec.doc_url = ""; b.rec.doc_url_len = 0; } /* present but empty */
            assert_int_equal(tb_store_put(s, &b.rec), 0);
            model_put(&live, &b.rec);
        }
    assert_int_equal(tb_store_delete(s, "room5.sensor", 12, ++seq), 0);
    model_del(&live, "room5.sensor", 12);
    tb_store_note_seq(s, seq + 1000);  /* numbers used without a record */
    tb_store_tick(s, tb_time_mono_ms());
    assert_int_equal(tb_store_close(s), 0);
    tb_store_stats_t st;
    tb_store_stats(s, &st);
    assert_true(st.fsyncs >= 1);
    assert_int_equal(st.write_errors, 0);
    assert_string_equal(st.last_error, "");
    tb_store_destroy(&s);
    assert_null(s);
    check_restores(path, &live, seq + 1000);
    /* Twice: reopening and closing without changes changes nothing. */
    check_restores(path, &live, seq + 1000);
    model_free(&live);
    model_free(&loaded);
}

/* A value too large for the file cannot be saved; the older value it
 * replaced must not come back after a restart, nor its seq be reused. */
static void test_too_large_forgets_old_value(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "state");
    model_t live, loaded;
    model_init(&live);
    model_init(&loaded);
    tb_store_report_t rep;
    tb_store_t *s = open_store(path, &loaded, &rep, &live, 1000);
    assert_non_null(s);
    recbuf_t a, b;
    make_rec(&a, 1, 1, 1);
    assert_int_equal(tb_store_put(s, &a.rec), 0);
    make_rec(&b, 2, 1, 2);
    assert_int_equal(tb_store_put(s, &b.rec), 0);
    model_put(&live, &b.rec);
    /* thing 1's new value: over the 64 MiB record limit (the length is
     * refused before the bytes are read) */
    make_rec(&a, 1, 2, 3);
    a.rec.data_len = TB_STORE_MAX_PAYLOAD + 1;
    assert_int_equal(tb_store_put(s, &a.rec), TB_ERR_TOO_LARGE);
    tb_store_tick(s, tb_time_mono_ms());
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    check_restores(path, &live, 3);
    model_free(&live);
    model_free(&loaded);
}

static void test_disabled(void **state)
{
    (void)state;
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    tb_store_report_t rep;
    tb_store_t *s = tb_store_new(&cfg, model_load, NULL, &rep);
    assert_non_null(s);
    recbuf_t b;
    make_rec(&b, 1, 1, 1);
    assert_int_equal(tb_store_put(s, &b.rec), 0);
    assert_int_equal(tb_store_tick(s, 1), -1);
    assert_int_equal(tb_store_compact(s), TB_ERR_NOT_SUPPORTED);
    tb_store_stats_t st;
    tb_store_stats(s, &st);
    assert_false(st.enabled);
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    tb_store_destroy(&s);  /* NULL is fine */
    assert_int_equal(tb_store_put(NULL, &b.rec), TB_ERR_INVALID_ARG);
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') files++;
    closedir(d);
    assert_int_equal(files, 0);
}

static void test_missing_directory(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "not/yet/there/state");
    model_t live, loaded;
    model_init(&live);
    model_init(&loaded);
    tb_store_report_t rep;
    tb_store_t *s = open_store(path, &loaded, &rep, &live, 1000);
    assert_non_null(s);
    assert_string_equal(rep.error, "");
    recbuf_t b;
    make_rec(&b, 3, 3, 3);
    tb_store_put(s, &b.rec);
    model_put(&live, &b.rec);
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    check_restores(path, &live, 3);
    model_free(&live);
    model_free(&loaded);
}

static void test_second_store_on_same_file_refused(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "locked");
    tb_store_report_t rep;
    tb_store_t *a = open_store(path, NULL, &rep, NULL, 1000);
    assert_non_null(a);
    tb_store_t *b = open_store(path, NULL, &rep, NULL, 1000);
    assert_null(b);
    assert_non_null(strstr(rep.error, "in use by another process"));
    /* Read-only inspection is allowed meanwhile. */
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = path;
    cfg.read_only = true;
    b = tb_store_new(&cfg, NULL, NULL, &rep);
    assert_non_null(b);
    tb_store_destroy(&b);
    tb_store_destroy(&a);
    b = open_store(path, NULL, &rep, NULL, 1000);
    assert_non_null(b);
    tb_store_destroy(&b);
}

/* ---- damage: a reference file with history and deletes */

typedef struct { size_t off, flen; int type; uint64_t seq; recbuf_t copy; char ns[64]; } frame_t;
typedef struct { frame_t v[512]; size_t n; } frames_t;

static int collect_frame(void *ctx, int type, const tb_store_record_t *rec, size_t off, size_t flen)
{
    frames_t *f = ctx;
    frame_t *x = &f->v[f->n++];
    x->off = off; x->flen = flen; x->type = type; x->seq = rec->seq;
    if (type == TB_STORE_REC_PUT) {
        recbuf_t *c = &x->copy;
        memcpy(c->ns, rec->ns, rec->ns_len); memcpy(c->data, rec->data, rec->data_len);
        memcpy(c->ts, rec->ts, rec->ts_len);
        if (rec->doc_url) memcpy(c->doc, rec->doc_url, rec->doc_url_len);
        c->rec = *rec;
        c->rec.ns = c->ns; c->rec.data = c->data; c->rec.ts = c->ts;
        c->rec.doc_url = rec->doc_url ? c->doc : NULL;
    } else if (type == TB_STORE_REC_DEL) {
        memcpy(x->ns, rec->ns, rec->ns_len);
        x->copy.rec.ns_len = rec->ns_len;
    }
    return 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static unsigned char *reference_file(size_t *len, frames_t *fr, uint64_t *base_seq)
{
    char path[512];
    path_in(path, sizeof path, "ref");
    tb_store_t *s = open_store(path, NULL, NULL, NULL, 1000);
    recbuf_t b;
    uint64_t seq = 100;
    for (unsigned v = 0; v < 6; v++)
        for (unsigned i = 1; i <= 12; i++) {
            make_rec(&b, i, v * 13 + i, ++seq);
            tb_store_put(s, &b.rec);
            if (v == 3 && i == 4)
                tb_store_delete(s, "room2.sensor", 12, ++seq);
        }
    tb_store_note_seq(s, 1000);
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    unsigned char *buf = slurp(path, len);
    unlink(path);
    bool hok, unk;
    uint64_t regions, bytes;
    memset(fr, 0, sizeof *fr);
    tb_store_scan(buf, *len, collect_frame, fr, &hok, &unk, base_seq, &regions, &bytes);
    assert_true(hok);
    assert_int_equal(regions, 0);
    assert_true(fr->n > 70);
    return buf;
}

/* The state made of the frames accepted by keep(i). */
static void expected_state(const frames_t *fr, const bool *keep, model_t *m, uint64_t *last_seq)
{
    for (size_t i = 0; i < fr->n; i++) {
        if (!keep[i])
            continue;
        const frame_t *x = &fr->v[i];
        if (x->seq > *last_seq)
            *last_seq = x->seq;
        if (x->type == TB_STORE_REC_PUT)
            model_put(m, &x->copy.rec);
        else if (x->type == TB_STORE_REC_DEL)
            model_del(m, x->ns, x->copy.rec.ns_len);
    }
}

static void check_damaged_open(const char *path, const model_t *expect, uint64_t last_seq,
                               bool expect_damage, const char *label)
{
    model_t got;
    model_init(&got);
    tb_store_report_t rep;
    tb_store_t *s = open_store(path, &got, &rep, NULL, 1000);
    assert_non_null(s);
    if (!model_equal(expect, &got, why, sizeof why))
        fail_msg("%s: restored state differs: %s", label, why);
    if (rep.last_seq != last_seq)
        fail_msg("%s: last_seq %llu, expected %llu", label,
                 (unsigned long long)rep.last_seq, (unsigned long long)last_seq);
    if (expect_damage) {
        if (!rep.damaged || rep.regions_skipped < 1 || !rep.damaged_path[0])
            fail_msg("%s: damage not reported", label);
        if (access(rep.damaged_path, F_OK) != 0)
            fail_msg("%s: damaged file not kept at %s", label, rep.damaged_path);
        unlink(rep.damaged_path);
    } else if (rep.damaged) {
        fail_msg("%s: damage reported on an intact file", label);
    }
    tb_store_destroy(&s);
    /* The file left behind is intact and holds the same state. */
    check_restores(path, expect, last_seq);
    model_free(&got);
}

static void test_truncation_random_offsets(void **state)
{
    (void)state;
    size_t len;
    frames_t *fr = malloc(sizeof *fr);
    uint64_t base_seq;
    unsigned char *ref = reference_file(&len, fr, &base_seq);
    char path[512];
    path_in(path, sizeof path, "cut");
    rng_state = 20261121;
    bool keep[512];
    for (int round = 0; round < 160; round++) {
        size_t cut = round == 0 ? 0 : round == 1 ? len - 1 : rnd() % len;
        bool at_boundary = cut == TB_STORE_HEADER_LEN;
        uint64_t last = cut >= TB_STORE_HEADER_LEN ? base_seq : 0;
        for (size_t i = 0; i < fr->n; i++) {
            keep[i] = fr->v[i].off + fr->v[i].flen <= cut;
            if (fr->v[i].off + fr->v[i].flen == cut)
                at_boundary = true;
        }
        model_t expect;
        model_init(&expect);
        expected_state(fr, keep, &expect, &last);
        spit(path, ref, cut);
        char label[64];
        snprintf(label, sizeof label, "cut at %zu of %zu", cut, len);
        check_damaged_open(path, &expect, last, !at_boundary, label);
        model_free(&expect);
    }
    unlink(path);
    free(ref);
    free(fr);
}

static void test_corruption_random_bytes(void **state)
{
    (void)state;
    size_t len;
    frames_t *fr = malloc(sizeof *fr);
    uint64_t base_seq;
    unsigned char *ref = reference_file(&len, fr, &base_seq);
    unsigned char *copy = malloc(len);
    char path[512];
    path_in(path, sizeof path, "flip");
    rng_state = 4242;
    bool keep[512];
    for (int round = 0; round < 160; round++) {
        size_t pos = round == 0 ? 3 : rnd() % len;
        unsigned char x = (unsigned char)(1 + rnd() % 255);
        memcpy(copy, ref, len);
        copy[pos] ^= x;
        uint64_t last = pos >= TB_STORE_HEADER_LEN ? base_seq : 0;
        for (size_t i = 0; i < fr->n; i++)
            keep[i] = !(pos >= fr->v[i].off && pos < fr->v[i].off + fr->v[i].flen);
        model_t expect;
        model_init(&expect);
        expected_state(fr, keep, &expect, &last);
        spit(path, copy, len);
        char label[64];
        snprintf(label, sizeof label, "byte %zu ^= 0x%02x", pos, x);
        check_damaged_open(path, &expect, last, true, label);
        model_free(&expect);
    }
    /* Read-only mode never touches a damaged file. */
    copy[len / 2] ^= 0x55;
    spit(path, copy, len);
    tb_store_config_t cfg;
    tb_store_config_defaults(&cfg);
    cfg.path = path;
    cfg.read_only = true;
    tb_store_report_t rep;
    model_t got;
    model_init(&got);
    tb_store_t *s = tb_store_new(&cfg, model_load, &got, &rep);
    assert_non_null(s);
    assert_true(rep.damaged);
    assert_string_equal(rep.damaged_path, "");
    tb_store_destroy(&s);
    size_t len2;
    unsigned char *after = slurp(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, copy, len);
    free(after);
    model_free(&got);
    unlink(path);
    free(copy);
    free(ref);
    free(fr);
}

static void test_unknown_version_kept(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "future");
    unsigned char hdr[TB_STORE_HEADER_LEN];
    tb_store_encode_header(hdr, 5, 0);
    tb_le32(hdr + 8, 99);
    tb_le32(hdr + 32, tb_crc32c(0, hdr, 32));
    spit(path, hdr, sizeof hdr);
    tb_store_report_t rep;
    tb_store_t *s = open_store(path, NULL, &rep, NULL, 1000);
    assert_non_null(s);
    assert_true(rep.damaged);
    assert_non_null(strstr(rep.error, "unknown format version"));
    assert_int_equal(access(rep.damaged_path, F_OK), 0);
    tb_store_destroy(&s);
}

/* ---- compaction */

static void drive(tb_store_t *s, int turns)
{
    for (int i = 0; i < turns; i++)
        if (tb_store_tick(s, tb_time_mono_ms()) != 0)
            break;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void test_compaction_bounds_file(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "compact");
    model_t live;
    model_init(&live);
    tb_store_config_t cfg;
    live_config(&cfg, path, &live);
    cfg.compact_min_bytes = 64 * 1024;
    cfg.group_bytes = 16 * 1024;
    cfg.compact_slice = 7;
    tb_store_t *s = tb_store_new(&cfg, model_load, &live, NULL);
    assert_non_null(s);
    recbuf_t b;
    tb_store_stats_t st;
    uint64_t seq = 0, max_seen = 0;
    for (unsigned v = 0; v < 20000; v++) {
        for (unsigned i = 1; i <= 20; i++) {
            make_rec(&b, i, v, ++seq);
            assert_int_equal(tb_store_put(s, &b.rec), 0);
            model_put(&live, &b.rec);
        }
        tb_store_tick(s, tb_time_mono_ms());
        /* Keep to a rate the disk sustains, as sensors do. */
        for (int w = 0; w < 2000; w++) {
            tb_store_stats(s, &st);
            if (st.pending_bytes < 64 * 1024)
                break;
            usleep(100);
            tb_store_tick(s, tb_time_mono_ms());
        }
        uint64_t sz = file_size(path);
        if (sz > max_seen)
            max_seen = sz;
    }
    drive(s, 1000);
    tb_store_stats(s, &st);
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    /* 400 000 updates of 20 Things (~40 MB of history) stay within
     * min + ratio x live + what the writer had queued. */
    print_message("# compactions %llu, max file %llu bytes, final %llu\n",
                  (unsigned long long)st.compactions, (unsigned long long)max_seen,
                  (unsigned long long)file_size(path));
    assert_true(st.compactions >= 5);
    assert_true(max_seen < 2 * cfg.compact_min_bytes + 4 * cfg.group_bytes + 64 * 1024);
    check_restores(path, &live, seq);
    model_free(&live);
}

static void test_updates_during_compaction(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "during");
    model_t live;
    model_init(&live);
    tb_store_config_t cfg;
    live_config(&cfg, path, &live);
    cfg.compact_slice = 3;           /* many slices, many updates in between */
    cfg.group_bytes = 4096;
    tb_store_t *s = tb_store_new(&cfg, model_load, &live, NULL);
    recbuf_t b;
    uint64_t seq = 0;
    for (unsigned i = 1; i <= 300; i++) {
        make_rec(&b, i, 0, ++seq);
        tb_store_put(s, &b.rec);
        model_put(&live, &b.rec);
    }
    rng_state = 777;
    for (int pass = 0; pass < 4; pass++) {
        tb_store_stats_t st;
        tb_store_stats(s, &st);
        uint64_t before = st.compactions;
        assert_int_equal(tb_store_compact(s), 0);
        for (int turn = 0; turn < 100000; turn++) {
            /* updates, creations and deletions between slices */
            for (int k = 0; k < 3; k++) {
                unsigned i = 1 + rnd() % 400;
                if (rnd() % 10 == 0) {
                    char ns[64];
                    snprintf(ns, sizeof ns, "room%u.sensor", i);
                    tb_store_delete(s, ns, strlen(ns), ++seq);
                    model_del(&live, ns, strlen(ns));
                } else {
                    make_rec(&b, i, (uint64_t)turn * 10 + (uint64_t)k, ++seq);
                    tb_store_put(s, &b.rec);
                    model_put(&live, &b.rec);
                }
            }
            tb_store_tick(s, tb_time_mono_ms());
            tb_store_stats(s, &st);
            if (st.compactions > before && !st.compacting)
                break;
            if (turn % 64 == 63)
                usleep(1000);
        }
        assert_int_equal(st.compactions, before + 1);
        assert_int_equal(st.compactions_failed, 0);
    }
    /* Kill-free crash simulation: copy the file as the writer left it after
     * the last commit, before close, and check it too. */
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    check_restores(path, &live, seq);
    model_free(&live);
}

/* ---- write errors: RLIMIT_FSIZE makes write(2) fail with EFBIG */

static void test_write_error_then_recovery(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "efbig");
    model_t live;
    model_init(&live);
    tb_store_config_t cfg;
    live_config(&cfg, path, &live);
    cfg.commit_window_ms = 20;
    cfg.retry_ms = 30;
    tb_store_t *s = tb_store_new(&cfg, model_load, &live, NULL);
    assert_non_null(s);
    recbuf_t b;
    uint64_t seq = 0;
    for (unsigned i = 1; i <= 50; i++) {
        make_rec(&b, i, 0, ++seq);
        tb_store_put(s, &b.rec);
        model_put(&live, &b.rec);
    }
    struct rlimit old;
    limit_file_size(4096, &old);   /* smaller than the live state: rewrites fail too */
    tb_store_stats_t st;
    int turns;
    for (turns = 0; turns < 2000; turns++) {
        make_rec(&b, 1 + turns % 60, (uint64_t)turns, ++seq);
        assert_int_equal(tb_store_put(s, &b.rec), 0);  /* never fails the caller */
        model_put(&live, &b.rec);
        tb_store_tick(s, tb_time_mono_ms());
        tb_store_stats(s, &st);
        if (st.write_errors > 1 && !st.healthy && st.compactions_failed > 0)
            break;
        usleep(1000);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    assert_true(st.write_errors > 0);
    assert_false(st.healthy);
    assert_non_null(strstr(st.last_error, "File too large"));
    /* Space is back: the retry rewrites everything from memory. */
    for (turns = 0; turns < 3000; turns++) {
        make_rec(&b, 1 + turns % 70, (uint64_t)turns + 5000, ++seq);
        tb_store_put(s, &b.rec);
        model_put(&live, &b.rec);
        tb_store_tick(s, tb_time_mono_ms());
        tb_store_stats(s, &st);
        if (st.healthy && st.compactions > 0)
            break;
        usleep(1000);
    }
    if (!st.healthy)
        fail_msg("not healthy: errors %llu, compactions %llu failed %llu, last error %s",
                 (unsigned long long)st.write_errors, (unsigned long long)st.compactions,
                 (unsigned long long)st.compactions_failed, st.last_error);
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    check_restores(path, &live, seq);
    model_free(&live);
}

/* Errors at close: the rewrite happens synchronously at tb_store_close. */
static void test_error_repaired_at_close(void **state)
{
    (void)state;
    char path[512];
    path_in(path, sizeof path, "closefix");
    model_t live;
    model_init(&live);
    tb_store_config_t cfg;
    live_config(&cfg, path, &live);
    cfg.commit_window_ms = 10;
    cfg.retry_ms = 600000;   /* no retry before close */
    tb_store_t *s = tb_store_new(&cfg, model_load, &live, NULL);
    recbuf_t b;
    uint64_t seq = 0;
    struct rlimit old;
    limit_file_size(2048, &old);
    tb_store_stats_t st;
    for (int turn = 0; turn < 3000; turn++) {
        make_rec(&b, 1 + turn % 40, (uint64_t)turn, ++seq);
        tb_store_put(s, &b.rec);
        model_put(&live, &b.rec);
        tb_store_tick(s, tb_time_mono_ms());
        tb_store_stats(s, &st);
        if (st.write_errors && !st.healthy)
            break;
        usleep(500);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    assert_false(st.healthy);
    for (int i = 0; i < 100; i++) {   /* not buffered while unhealthy */
        make_rec(&b, 1 + i % 40, 90000 + (uint64_t)i, ++seq);
        tb_store_put(s, &b.rec);
        model_put(&live, &b.rec);
    }
    assert_int_equal(tb_store_close(s), 0);
    tb_store_destroy(&s);
    check_restores(path, &live, seq);
    model_free(&live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_frame_hostile),
        cmocka_unit_test_setup_teardown(test_clean_close_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_forgets_old_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_store_on_same_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_random_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_random_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_version_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_bounds_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_during_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_then_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_repaired_at_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
