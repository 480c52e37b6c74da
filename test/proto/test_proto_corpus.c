/*
 * test_proto_corpus.c - the data-driven corpus and the differential tests.
 *
 * Why this exists: the corpus (test/proto/valid, test/proto/invalid) holds
 * inputs produced by independent tools (gen_corpus.py with Python's json
 * and msgpack) and inputs the fuzzers found.  Each invalid file's name
 * starts with the reason the decoder must give; each valid file has a
 * <file>.expect holding its decoding as computed by Python.  Then every corpus
 * input and a fixed number of deterministic random mutations of them go
 * through both our decoders and the reference decoders (jansson DOM,
 * msgpack-c unpacker), which must agree on the verdict and the content.
 * $TB_TOP gives the source root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_proto.h"
#include "ref_decode.h"

#define MUTATIONS_PER_FORMAT 50000

typedef struct {
    char          *name;
    unsigned char *data;
    size_t         len;
    bool           msgpack;
    bool           valid;
    tb_reason_t    want;       /* for invalid files */
} entry_t;

static entry_t *entries;
static size_t   n_entries;
static char     top_dir[4096];

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        fclose(f);
        return NULL;
    }
    fclose(f);
    p[n] = 0;
    *len = (size_t)n;
    return p;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static void
load_dir(const char *sub, bool valid)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/test/proto/%s", top_dir, sub);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dot = strrchr(de->d_name, '.');
        if (!dot || (strcmp(dot, ".json") != 0 && strcmp(dot, ".msgpack") != 0))
            continue;
        entry_t e = { 0 };
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        e.data = slurp(path, &e.len);
        assert_non_null(e.data);
        e.name = strdup(path);
        e.msgpack = strcmp(dot, ".msgpack") == 0;
        e.valid = valid;
        if (!valid) {
            const char *sep = strstr(de->d_name, "--");
            if (!sep)
                fail_msg("%s: invalid corpus files are named <reason>--<what>", path);
            char reason[64];
            snprintf(reason, sizeof reason, "%.*s", (int)(sep - de->d_name), de->d_name);
            e.want = tb_reason_from_name(reason);
            if (e.want == TB_REASON_COUNT || e.want == TB_REASON_OK)
                fail_msg("%s: unknown reason '%s'", path, reason);
        }
        entries = realloc(entries, (n_entries + 1) * sizeof *entries);
        entries[n_entries++] = e;
    }
    closedir(d);
}

static int
setup(void **state)
{
    (void)state;
    const char *top = getenv("TB_TOP");
    snprintf(top_dir, sizeof top_dir, "%s", top ? top : ".");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_entries; i++) {
        free(entries[i].name);
        free(entries[i].data);
    }
    free(entries);
    return 0;
}

static void
test_load(void **state)
{
    (void)state;
    load_dir("valid", true);
    load_dir("invalid", false);
    qsort(entries, n_entries, sizeof *entries, by_name);
    size_t nv = 0, nj = 0;
    for (size_t i = 0; i < n_entries; i++) {
        nv += entries[i].valid;
        nj += !entries[i].msgpack;
    }
    assert_true(nv >= 30);
    assert_true(n_entries - nv >= 90);
    assert_true(nj >= 60 && n_entries - nj >= 50);
    /* every reason a decoder can give on bytes has an example */
    for (unsigned r = 1; r < TB_REASON_COUNT; r++) {
        if (r == TB_REASON_NOMEM || r == TB_REASON_TOO_LARGE)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n_entries; i++)
            seen |= !entries[i].valid && entries[i].want == r;
        if (!seen)
            fail_msg("no corpus file for reason %s", tb_reason_name((tb_reason_t)r));
    }
}

/* Compare one decoded update with the .expect Python wrote. */
static void
check_expect(const entry_t *e, const tb_update_t *u)
{
    char path[8400];
    snprintf(path, sizeof path, "%s.expect", e->name);
    json_error_t jerr;
    json_t *x = json_load_file(path, 0, &jerr);
    if (!x)
        fail_msg("%s: %s", path, jerr.text);
    json_t *ns = json_object_get(x, "ns"), *ts = json_object_get(x, "ts");
    json_t *data = json_object_get(x, "data"), *doc = json_object_get(x, "documentation_url");
    if (json_string_length(ns) != u->ns_len || memcmp(json_string_value(ns), u->ns, u->ns_len))
        fail_msg("%s: ns %.*s, expected %s", e->name, (int)u->ns_len, u->ns, json_string_value(ns));
    json_t *got = json_loadb(u->data, u->data_len, JSON_DECODE_ANY, NULL);
    if (!got || !json_equal(got, data))
        fail_msg("%s: data %.*s differs from the expected", e->name, (int)u->data_len, u->data);
    json_decref(got);
    if (json_is_null(ts))
        assert_false(u->has_ts);
    else {
        assert_true(u->has_ts);
        if (u->ts != json_number_value(ts))
            fail_msg("%s: ts %.17g, expected %.17g", e->name, u->ts, json_number_value(ts));
        json_t *t = json_loadb(u->ts_json, u->ts_json_len, JSON_DECODE_ANY, NULL);
        assert_non_null(t);
        assert_true(json_is_real(t));
        assert_true(json_real_value(t) == u->ts);
        json_decref(t);
    }
    if (json_is_null(doc))
        assert_null(u->doc_url);
    else {
        assert_non_null(u->doc_url);
        json_t *d = json_loadb(u->doc_url, u->doc_url_len, JSON_DECODE_ANY, NULL);
        if (!d || !json_equal(d, doc))
            fail_msg("%s: documentation_url differs", e->name);
        json_decref(d);
    }
    json_decref(x);
}

static void
test_verdicts(void **state)
{
    (void)state;
    tb_decoder_t *dec = tb_decoder_new(NULL);
    size_t checked = 0;
    for (size_t i = 0; i < n_entries; i++) {
        const entry_t *e = &entries[i];
        tb_update_t u;
        tb_decode_error_t err;
        memset(&err, 0, sizeof err);
        tb_reason_t r = e->msgpack ? tb_decode_msgpack(dec, e->data, e->len, &u, &err)
                                   : tb_decode_json(dec, e->data, e->len, &u, &err);
        tb_reason_t want = e->valid ? TB_REASON_OK : e->want;
        if (r != want)
            fail_msg("%s: got %s (%s), want %s", e->name, tb_reason_name(r), err.text,
                     tb_reason_name(want));
        if (e->valid)
            check_expect(e, &u);
        else
            assert_true(err.text[0] != '\0');
        checked++;
    }
    assert_int_equal(checked, n_entries);
    tb_decoder_destroy(&dec);
}

static void
test_differential_corpus(void **state)
{
    (void)state;
    tb_limits_t lj, lm;
    tb_limits_default(&lj);
    tb_limits_default(&lm);
    lm.max_depth = REF_MSGPACK_MAX_DEPTH;
    tb_decoder_t *dj = tb_decoder_new(&lj), *dm = tb_decoder_new(&lm);
    for (size_t i = 0; i < n_entries; i++) {
        const entry_t *e = &entries[i];
        const char *why = e->msgpack ? ref_check_msgpack(dm, &lm, e->data, e->len)
                                     : ref_check_json(dj, &lj, e->data, e->len);
        if (why)
            fail_msg("%s: %s", e->name, why);
    }
    tb_decoder_destroy(&dj);
    tb_decoder_destroy(&dm);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Bytes that steer mutations towards the interesting paths. */
static const unsigned char json_magic[] = "{}[]\",:\\u0123456789eE.-+ tfnal\xff\xc3\xa9\xed\xa0\x80";
static const unsigned char mp_magic[] = {
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd4, 0xd6,
    0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1,
    0xbf, 0xff, 0x00, 0x7f, 0xe0, 0xed, 0xa0, 0x80,
};

static size_t
mutate(unsigned char *buf, size_t len, size_t cap, bool msgpack)
{
    int ops = 1 + (int)(next_rand() % 4);
    for (int k = 0; k < ops; k++) {
        size_t pos = len ? next_rand() % len : 0;
        unsigned char magic = msgpack ? mp_magic[next_rand() % sizeof mp_magic]
                                      : json_magic[next_rand() % (sizeof json_magic - 1)];
        switch (next_rand() % 7) {
        case 0:                      /* flip a bit */
            if (len)
                buf[pos] ^= (unsigned char)(1u << (next_rand() % 8));
            break;
        case 1:                      /* overwrite with a magic byte */
            if (len)
                buf[pos] = magic;
            break;
        case 2:                      /* insert a magic byte */
            if (len + 1 <= cap) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = magic;
                len++;
            }
            break;
        case 3:                      /* delete a byte */
            if (len) {
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
            }
            break;
        case 4:                      /* truncate */
            len = pos;
            break;
        case 5: {                    /* duplicate a slice */
            size_t n = 1 + next_rand() % 16;
            if (pos + n <= len && len + n <= cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                len += n;
            }
            break;
        }
        default:                     /* random byte */
            if (len)
                buf[pos] = (unsigned char)next_rand();
        }
    }
    return len;
}

static void
run_mutations(bool msgpack)
{
    tb_limits_t lim;
    tb_limits_default(&lim);
    if (msgpack)
        lim.max_depth = REF_MSGPACK_MAX_DEPTH;
    tb_decoder_t *dec = tb_decoder_new(&lim);
    size_t seeds[4096], ns = 0;
    for (size_t i = 0; i < n_entries && ns < 4096; i++)
        if (entries[i].msgpack == msgpack)
            seeds[ns++] = i;
    assert_true(ns > 0);
    size_t accepted = 0, disagreements = 0;
    for (int it = 0; it < MUTATIONS_PER_FORMAT; it++) {
        const entry_t *e = &entries[seeds[next_rand() % ns]];
        size_t cap = e->len + 64;
        unsigned char *buf = malloc(cap);
        memcpy(buf, e->data, e->len);
        size_t len = mutate(buf, e->len, cap, msgpack);
        unsigned char *exact = malloc(len ? len : 1);   /* ASan sees over-reads */
        memcpy(exact, buf, len);
        const char *why = msgpack ? ref_check_msgpack(dec, &lim, exact, len)
                                  : ref_check_json(dec, &lim, exact, len);
        if (why) {
            disagreements++;
            fprintf(stderr, "# mutation %d of %s (%zu bytes): %s\n# ", it, e->name, len, why);
            for (size_t i = 0; i < len && i < 400; i++)
                fprintf(stderr, "%02x", exact[i]);
            fprintf(stderr, "\n");
        }
        tb_update_t u;
        if ((msgpack ? tb_decode_msgpack(dec, exact, len, &u, NULL)
                     : tb_decode_json(dec, exact, len, &u, NULL)) == TB_REASON_OK)
            accepted++;
        free(exact);
        free(buf);
    }
    tb_decoder_destroy(&dec);
    if (disagreements)
        fail_msg("%zu disagreements with the reference", disagreements);
    fprintf(stderr, "# %s: %d mutations, %zu accepted\n", msgpack ? "msgpack" : "json", MUTATIONS_PER_FORMAT, accepted);
    /* the mutations must not all be trivially rejected */
    assert_true(accepted > MUTATIONS_PER_FORMAT / 100);
}

static void
test_differential_mutations_json(void **state)
{
    (void)state;
    run_mutations(false);
}

static void
test_differential_mutations_msgpack(void **state)
{
    (void)state;
    run_mutations(true);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_differential_corpus),
        cmocka_unit_test(test_differential_mutations_json),
        cmocka_unit_test(test_differential_mutations_msgpack),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
