/*
 * test_bridge_rules.c - unit tests of tb-generic-zmq-adaptor's pure logic:
 * field paths, --filter, --projections, --nskey, --tskey, every skip
 * reason and the counters line.
 *
 * Why this exists: the bridge's promise is "where the original crashed we
 * go on, and say why"; each way a message can fail is checked here
 * without sockets, including hostile input (bad UTF-8, deep nesting,
 * trailing bytes, huge frames).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "generic/bridge_counts.h"
#include "generic/bridge_rules.h"

static char detail[256];

static tb_bridge_rules_t *
rules_with(const char *filter, const char *projections, const char *nskey,
           const char *tskey)
{
    char err[256];
    tb_bridge_rules_t *r = tb_bridge_rules_new();
    assert_non_null(r);
    if (filter)
        assert_int_equal(tb_bridge_rules_add_filter(r, filter, err, sizeof err), 0);
    if (projections)
        assert_int_equal(tb_bridge_rules_add_projections(r, projections, err, sizeof err), 0);
    if (nskey)
        assert_int_equal(tb_bridge_rules_set_nskey(r, nskey, err, sizeof err), 0);
    if (tskey)
        assert_int_equal(tb_bridge_rules_set_tskey(r, tskey, err, sizeof err), 0);
    return r;
}

static tb_bridge_skip_t
apply_text(const tb_bridge_rules_t *r, const char *text, tb_bridge_result_t *out)
{
    return tb_bridge_rules_apply(r, text, strlen(text), out, detail, sizeof detail);
}

/* Compares out->data with the JSON text expected (parsed by jansson). */
static void
assert_data(const tb_bridge_result_t *out, const char *expected)
{
    json_error_t e;
    json_t *want = json_loads(expected, 0, &e);
    assert_non_null(want);
    assert_non_null(out->data);
    if (!json_equal(want, out->data)) {
        char *got = json_dumps(out->data, JSON_SORT_KEYS);
        print_error("data %s, expected %s\n", got, expected);
        free(got);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

static void
test_skip_names_unique_and_complete(void **state)
{
    (void)state;
    static const char *const expected[TB_BRIDGE_SKIP_COUNT] = {
        "ok", "too_large", "multi_frame", "not_json", "not_object",
        "no_filter_key", "filtered_out", "missing_nskey", "bad_nskey",
        "missing_tskey", "bad_tskey", "missing_projection", "rejected",
        "queue_full", "send_failed",
    };
    for (int i = 0; i < TB_BRIDGE_SKIP_COUNT; i++)
        assert_string_equal(tb_bridge_skip_name((tb_bridge_skip_t)i), expected[i]);
    assert_string_equal(tb_bridge_skip_name(TB_BRIDGE_SKIP_COUNT), "unknown");
    assert_string_equal(tb_bridge_skip_name((tb_bridge_skip_t)-1), "unknown");
}

static void
test_bad_paths_refused(void **state)
{
    (void)state;
    char err[256];
    tb_bridge_rules_t *r = tb_bridge_rules_new();
    static const char *const bad[] = { "", "a..b", ".a", "a.", "." };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(tb_bridge_rules_set_nskey(r, bad[i], err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        assert_int_equal(tb_bridge_rules_set_tskey(r, bad[i], err, sizeof err), -1);
        assert_int_equal(tb_bridge_rules_add_projections(r, bad[i], err, sizeof err), -1);
    }
    assert_int_equal(tb_bridge_rules_add_projections(r, "a,,b", err, sizeof err), -1);
    assert_non_null(strstr(err, "empty entry"));
    assert_int_equal(tb_bridge_rules_add_projections(r, "a,", err, sizeof err), -1);
    assert_int_equal(tb_bridge_rules_add_projections(r, " , a", err, sizeof err), -1);
    assert_int_equal(tb_bridge_rules_add_filter(r, "nocolon", err, sizeof err), -1);
    assert_non_null(strstr(err, "':'"));
    assert_int_equal(tb_bridge_rules_add_filter(r, ":value", err, sizeof err), -1);
    assert_int_equal(tb_bridge_rules_add_filter(r, "a..b:value", err, sizeof err), -1);
    assert_int_equal(tb_bridge_rules_filter_count(r), 0);
    assert_int_equal(tb_bridge_rules_projection_count(r), 0);
    tb_bridge_rules_destroy(&r);
    assert_null(r);
    tb_bridge_rules_destroy(&r);       /* NULL is accepted */
    tb_bridge_rules_destroy(NULL);
}

static void
test_lookup_paths(void **state)
{
    (void)state;
    json_t *m = json_loads("{\"a\":1,\"meta\":{\"camera\":\"c1\",\"deep\":{\"x\":true}},"
                           "\"dotted.key\":5,\"s\":\"str\",\"meta.camera\":\"literal\"}",
                           0, NULL);
    assert_non_null(m);
    assert_int_equal(json_integer_value(tb_bridge_lookup(m, "a")), 1);
    assert_true(json_is_true(tb_bridge_lookup(m, "meta.deep.x")));
    assert_int_equal(json_integer_value(tb_bridge_lookup(m, "dotted.key")), 5);
    /* the literal top-level key wins over the dotted walk */
    assert_string_equal(json_string_value(tb_bridge_lookup(m, "meta.camera")), "literal");
    assert_null(tb_bridge_lookup(m, "missing"));
    assert_null(tb_bridge_lookup(m, "meta.missing"));
    assert_null(tb_bridge_lookup(m, "s.x"));          /* walks objects only */
    assert_null(tb_bridge_lookup(m, "a.b.c"));
    assert_null(tb_bridge_lookup(m, "meta..camera"));
    assert_null(tb_bridge_lookup(m, NULL));
    json_decref(m);
    json_t *arr = json_loads("[1,2]", 0, NULL);
    assert_null(tb_bridge_lookup(arr, "0"));
    json_decref(arr);
}

static void
test_not_json(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, NULL, NULL, NULL);
    tb_bridge_result_t out;
    static const char *const bad[] = {
        "", "{", "{\"a\":}", "{\"a\":1} trailing", "{'a':1}", "nope",
        "{\"a\":NaN}", "{\"a\":\"\\u0000\"}", "{\"a\":1,}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(apply_text(r, bad[i], &out), TB_BRIDGE_NOT_JSON);
        assert_null(out.data);
        assert_non_null(strstr(detail, "line "));
    }
    /* invalid UTF-8 inside a string */
    static const char bad_utf8[] = "{\"a\":\"\xff\xfe\"}";
    assert_int_equal(tb_bridge_rules_apply(r, bad_utf8, sizeof bad_utf8 - 1, &out,
                                           detail, sizeof detail), TB_BRIDGE_NOT_JSON);
    for (const char *c = detail; *c; c++)          /* detail stays printable */
        assert_true((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    /* an embedded NUL byte is not JSON */
    static const char nul[] = "{\"a\":1}\0";
    assert_int_equal(tb_bridge_rules_apply(r, nul, sizeof nul, &out, NULL, 0),
                     TB_BRIDGE_NOT_JSON);
    /* hostile nesting: refused by the parser, no crash */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[depth * 2] = '\0';
    assert_int_equal(apply_text(r, deep, &out), TB_BRIDGE_NOT_JSON);
    free(deep);
    tb_bridge_rules_destroy(&r);
}

static void
test_not_object(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, NULL, NULL, NULL);
    tb_bridge_result_t out;
    static const char *const scalars[] = { "[1,2]", "42", "\"text\"", "null", "true", "1.5" };
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) {
        assert_int_equal(apply_text(r, scalars[i], &out), TB_BRIDGE_NOT_OBJECT);
        assert_null(out.data);
        assert_non_null(strstr(detail, "not an object"));
    }
    assert_int_equal(tb_bridge_rules_apply_json(r, NULL, &out, NULL, 0), TB_BRIDGE_NOT_OBJECT);
    tb_bridge_rules_destroy(&r);
}

static void
test_too_large(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, NULL, NULL, NULL);
    tb_bridge_result_t out;
    tb_bridge_rules_set_max_message_size(r, 10);
    assert_int_equal(apply_text(r, "{\"a\":1234}", &out), TB_BRIDGE_OK);   /* 10 bytes */
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"a\":12345}", &out), TB_BRIDGE_TOO_LARGE);
    assert_null(out.data);
    assert_non_null(strstr(detail, "11 bytes"));
    /* the size check happens before parsing: garbage is too_large, too */
    assert_int_equal(apply_text(r, "xxxxxxxxxxxxxxxxxxxxxxxx", &out), TB_BRIDGE_TOO_LARGE);
    tb_bridge_rules_destroy(&r);
}

static void
test_no_rules_forwards_whole_message(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, NULL, NULL, NULL);
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{\"a\":1,\"b\":{\"c\":[1,2]}}", &out), TB_BRIDGE_OK);
    assert_data(&out, "{\"a\":1,\"b\":{\"c\":[1,2]}}");
    assert_string_equal(out.sub_ns, "");
    assert_false(out.has_ts);
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{}", &out), TB_BRIDGE_OK);
    assert_data(&out, "{}");
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);
}

static void
test_filter(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with("mtype:percept_update", NULL, NULL, NULL);
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{\"mtype\":\"percept_update\",\"x\":1}", &out), TB_BRIDGE_OK);
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"mtype\":\"other\"}", &out), TB_BRIDGE_FILTERED_OUT);
    assert_null(out.data);
    assert_non_null(strstr(detail, "mtype"));
    assert_int_equal(apply_text(r, "{\"mtype\":\"percept_update2\"}", &out), TB_BRIDGE_FILTERED_OUT);
    assert_int_equal(apply_text(r, "{\"mtype\":\"percept\"}", &out), TB_BRIDGE_FILTERED_OUT);
    assert_int_equal(apply_text(r, "{\"x\":1}", &out), TB_BRIDGE_NO_FILTER_KEY);
    assert_non_null(strstr(detail, "no field 'mtype'"));
    /* the value is compared as a string only */
    assert_int_equal(apply_text(r, "{\"mtype\":null}", &out), TB_BRIDGE_FILTERED_OUT);
    assert_int_equal(apply_text(r, "{\"mtype\":[\"percept_update\"]}", &out),
                     TB_BRIDGE_FILTERED_OUT);
    tb_bridge_rules_destroy(&r);

    r = rules_with("id:5", NULL, NULL, NULL);
    assert_int_equal(apply_text(r, "{\"id\":5}", &out), TB_BRIDGE_FILTERED_OUT);
    assert_non_null(strstr(detail, "an integer"));
    assert_int_equal(apply_text(r, "{\"id\":\"5\"}", &out), TB_BRIDGE_OK);
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);

    /* value split at the first ':'; empty value allowed */
    r = rules_with("url:tcp://a:1", NULL, NULL, NULL);
    assert_int_equal(apply_text(r, "{\"url\":\"tcp://a:1\"}", &out), TB_BRIDGE_OK);
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);
    r = rules_with("tag:", NULL, NULL, NULL);
    assert_int_equal(apply_text(r, "{\"tag\":\"\"}", &out), TB_BRIDGE_OK);
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"tag\":\"x\"}", &out), TB_BRIDGE_FILTERED_OUT);
    tb_bridge_rules_destroy(&r);
    /* a string with an embedded NUL does not match its prefix */
    r = rules_with("k:ab", NULL, NULL, NULL);
    assert_int_equal(apply_text(r, "{\"k\":\"ab\\u0000c\"}", &out), TB_BRIDGE_NOT_JSON);
    tb_bridge_rules_destroy(&r);
}

static void
test_filter_nested_and_several(void **state)
{
    (void)state;
    char err[256];
    tb_bridge_rules_t *r = rules_with("meta.kind:cam", NULL, NULL, NULL);
    assert_int_equal(tb_bridge_rules_add_filter(r, "site:ps1", err, sizeof err), 0);
    assert_int_equal(tb_bridge_rules_filter_count(r), 2);
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{\"meta\":{\"kind\":\"cam\"},\"site\":\"ps1\"}", &out),
                     TB_BRIDGE_OK);
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"meta\":{\"kind\":\"cam\"},\"site\":\"x\"}", &out),
                     TB_BRIDGE_FILTERED_OUT);
    assert_int_equal(apply_text(r, "{\"meta\":{\"kind\":\"cam\"}}", &out),
                     TB_BRIDGE_NO_FILTER_KEY);
    assert_int_equal(apply_text(r, "{\"meta\":\"cam\",\"site\":\"ps1\"}", &out),
                     TB_BRIDGE_NO_FILTER_KEY);
    assert_int_equal(apply_text(r, "{\"site\":\"ps1\"}", &out), TB_BRIDGE_NO_FILTER_KEY);
    assert_non_null(strstr(detail, "meta.kind"));
    tb_bridge_rules_destroy(&r);
}

static void
test_nskey(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, NULL, "camname", NULL);
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{\"camname\":\"electronics\"}", &out), TB_BRIDGE_OK);
    assert_string_equal(out.sub_ns, "electronics");
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"camname\":\"cam_2-b\"}", &out), TB_BRIDGE_OK);
    assert_string_equal(out.sub_ns, "cam_2-b");
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"x\":1}", &out), TB_BRIDGE_MISSING_NSKEY);
    assert_null(out.data);
    assert_string_equal(out.sub_ns, "");
    assert_non_null(strstr(detail, "camname"));
    static const char *const bad[] = {
        "{\"camname\":\"Electronics\"}", "{\"camname\":\"a.b\"}", "{\"camname\":\"\"}",
        "{\"camname\":\"1abc\"}", "{\"camname\":\"a b\"}", "{\"camname\":\"caf\\u00e9\"}",
        "{\"camname\":5}", "{\"camname\":null}", "{\"camname\":{\"a\":1}}",
        "{\"camname\":\"a\\nb\"}",
        "{\"camname\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(apply_text(r, bad[i], &out), TB_BRIDGE_BAD_NSKEY);
        assert_null(out.data);
        assert_string_equal(out.sub_ns, "");
        for (const char *c = detail; *c; c++)
            assert_true((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    }
    /* exactly 64 bytes is the longest valid part */
    assert_int_equal(apply_text(r, "{\"camname\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &out),
                     TB_BRIDGE_OK);
    assert_int_equal(strlen(out.sub_ns), 64);
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);

    r = rules_with(NULL, NULL, "meta.camera", NULL);
    assert_int_equal(apply_text(r, "{\"meta\":{\"camera\":\"door\"}}", &out), TB_BRIDGE_OK);
    assert_string_equal(out.sub_ns, "door");
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"meta\":{}}", &out), TB_BRIDGE_MISSING_NSKEY);
    tb_bridge_rules_destroy(&r);
}

static void
test_tskey(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, NULL, NULL, "frame_time");
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{\"frame_time\":1423351104.945}", &out), TB_BRIDGE_OK);
    assert_true(out.has_ts);
    assert_true(out.ts == 1423351104.945);
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"frame_time\":1423351104}", &out), TB_BRIDGE_OK);
    assert_true(out.has_ts);
    assert_true(out.ts == 1423351104.0);
    json_decref(out.data);
    static const char *const bad[] = {
        "{\"frame_time\":\"1423351104.9\"}", "{\"frame_time\":null}",
        "{\"frame_time\":true}", "{\"frame_time\":[1.0]}", "{\"frame_time\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(apply_text(r, bad[i], &out), TB_BRIDGE_BAD_TSKEY);
        assert_null(out.data);
        assert_false(out.has_ts);
    }
    assert_int_equal(apply_text(r, "{\"x\":1}", &out), TB_BRIDGE_MISSING_TSKEY);
    assert_non_null(strstr(detail, "frame_time"));
    tb_bridge_rules_destroy(&r);

    r = rules_with(NULL, NULL, "cam", "meta.t");
    assert_int_equal(apply_text(r, "{\"cam\":\"a\",\"meta\":{\"t\":12.5}}", &out), TB_BRIDGE_OK);
    assert_true(out.ts == 12.5);
    assert_string_equal(out.sub_ns, "a");
    json_decref(out.data);
    /* a bad ts after a good nskey leaves no half-filled result */
    assert_int_equal(apply_text(r, "{\"cam\":\"a\",\"meta\":{\"t\":\"x\"}}", &out),
                     TB_BRIDGE_BAD_TSKEY);
    assert_string_equal(out.sub_ns, "");
    tb_bridge_rules_destroy(&r);
}

/* The entries of a comma-separated value, joined with '|' and each in [];
 * the split -s and --projections share. */
static void
check_list(const char *list, const char *want)
{
    char got[256] = "";
    const char *cursor = list, *item;
    size_t len;
    int guard = 0;
    while (tb_bridge_list_next(&cursor, &item, &len)) {
        assert_true(++guard < 20);
        size_t used = strlen(got);
        snprintf(got + used, sizeof got - used, "%s[%.*s]", used ? "|" : "", (int)len, item);
    }
    assert_null(cursor);
    assert_string_equal(got, want);
}

static void
test_comma_lists(void **state)
{
    (void)state;
    check_list("a", "[a]");
    check_list("a,b.c", "[a]|[b.c]");
    check_list(" a ,\tb\t, c d ", "[a]|[b]|[c d]");
    check_list("", "[]");
    check_list("a,,b", "[a]|[]|[b]");
    check_list("a,", "[a]|[]");
    check_list(",", "[]|[]");
    check_list("  ", "[]");
    const char *done = NULL, *item = "untouched";
    size_t len = 7;
    assert_false(tb_bridge_list_next(&done, &item, &len));
    assert_string_equal(item, "untouched");
    assert_int_equal(len, 7);
}

static void
test_projections_flat(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with("mtype:percept_update", "luminance, ratio_busy",
                                      "camname", "frame_time");
    assert_int_equal(tb_bridge_rules_projection_count(r), 2);
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{\"mtype\":\"percept_update\",\"camname\":\"electronics\","
                                   "\"frame_time\":1423351104.945,\"luminance\":114.36,"
                                   "\"ratio_busy\":0.14,\"other\":[1,2,3]}", &out),
                     TB_BRIDGE_OK);
    assert_data(&out, "{\"luminance\":114.36,\"ratio_busy\":0.14}");
    assert_string_equal(out.sub_ns, "electronics");
    assert_true(out.ts == 1423351104.945);
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"mtype\":\"percept_update\",\"camname\":\"electronics\","
                                   "\"frame_time\":1.0,\"luminance\":114.36}", &out),
                     TB_BRIDGE_MISSING_PROJECTION);
    assert_null(out.data);
    assert_string_equal(out.sub_ns, "");
    assert_false(out.has_ts);
    assert_non_null(strstr(detail, "ratio_busy"));
    /* null is a value, not an absence */
    assert_int_equal(apply_text(r, "{\"mtype\":\"percept_update\",\"camname\":\"e\","
                                   "\"frame_time\":1.0,\"luminance\":null,\"ratio_busy\":0}",
                                &out), TB_BRIDGE_OK);
    assert_data(&out, "{\"luminance\":null,\"ratio_busy\":0}");
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);
}

static void
test_projections_nested(void **state)
{
    (void)state;
    tb_bridge_rules_t *r = rules_with(NULL, "meta.camera,meta.frame,luminance", NULL, NULL);
    tb_bridge_result_t out;
    const char *src = "{\"meta\":{\"camera\":\"c1\",\"frame\":7,\"x\":1},\"luminance\":3,\"y\":2}";
    json_t *message = json_loads(src, 0, NULL);
    char *before = json_dumps(message, JSON_SORT_KEYS);
    assert_int_equal(tb_bridge_rules_apply_json(r, message, &out, detail, sizeof detail),
                     TB_BRIDGE_OK);
    assert_data(&out, "{\"meta\":{\"camera\":\"c1\",\"frame\":7},\"luminance\":3}");
    json_decref(out.data);
    char *after = json_dumps(message, JSON_SORT_KEYS);
    assert_string_equal(before, after);              /* the source is untouched */
    free(before);
    free(after);
    json_decref(message);
    assert_int_equal(apply_text(r, "{\"meta\":{\"camera\":\"c1\"},\"luminance\":3}", &out),
                     TB_BRIDGE_MISSING_PROJECTION);
    assert_non_null(strstr(detail, "meta.frame"));
    assert_int_equal(apply_text(r, "{\"meta\":5,\"luminance\":3}", &out),
                     TB_BRIDGE_MISSING_PROJECTION);
    tb_bridge_rules_destroy(&r);

    /* a literal dotted top-level key keeps its literal name */
    r = rules_with(NULL, "a.b", NULL, NULL);
    assert_int_equal(apply_text(r, "{\"a.b\":1,\"a\":{\"b\":2}}", &out), TB_BRIDGE_OK);
    assert_data(&out, "{\"a.b\":1}");
    json_decref(out.data);
    assert_int_equal(apply_text(r, "{\"a\":{\"b\":2,\"c\":3}}", &out), TB_BRIDGE_OK);
    assert_data(&out, "{\"a\":{\"b\":2}}");
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);
}

static void
test_projections_overlapping(void **state)
{
    (void)state;
    const char *src = "{\"meta\":{\"camera\":\"c1\",\"deep\":{\"x\":1,\"y\":2}},\"z\":0}";
    static const char *const orders[] = {
        "meta,meta.camera", "meta.camera,meta", "meta.deep.x,meta.deep", "meta.deep,meta.deep.x,meta.camera",
    };
    static const char *const want[] = {
        "{\"meta\":{\"camera\":\"c1\",\"deep\":{\"x\":1,\"y\":2}}}",
        "{\"meta\":{\"camera\":\"c1\",\"deep\":{\"x\":1,\"y\":2}}}",
        "{\"meta\":{\"deep\":{\"x\":1,\"y\":2}}}",
        "{\"meta\":{\"camera\":\"c1\",\"deep\":{\"x\":1,\"y\":2}}}",
    };
    for (size_t i = 0; i < sizeof orders / sizeof *orders; i++) {
        tb_bridge_rules_t *r = rules_with(NULL, orders[i], NULL, NULL);
        json_t *message = json_loads(src, 0, NULL);
        char *before = json_dumps(message, JSON_SORT_KEYS);
        tb_bridge_result_t out;
        assert_int_equal(tb_bridge_rules_apply_json(r, message, &out, detail, sizeof detail),
                         TB_BRIDGE_OK);
        assert_data(&out, want[i]);
        json_decref(out.data);
        char *after = json_dumps(message, JSON_SORT_KEYS);
        assert_string_equal(before, after);
        free(before);
        free(after);
        json_decref(message);
        tb_bridge_rules_destroy(&r);
    }
}

static void
test_order_of_checks(void **state)
{
    (void)state;
    /* filter first (ordinary traffic of other kinds), then nskey, tskey,
     * projections: a message failing several gets the earliest reason */
    tb_bridge_rules_t *r = rules_with("k:v", "p", "n", "t");
    tb_bridge_result_t out;
    assert_int_equal(apply_text(r, "{}", &out), TB_BRIDGE_NO_FILTER_KEY);
    assert_int_equal(apply_text(r, "{\"k\":\"v\"}", &out), TB_BRIDGE_MISSING_NSKEY);
    assert_int_equal(apply_text(r, "{\"k\":\"v\",\"n\":\"a\"}", &out), TB_BRIDGE_MISSING_TSKEY);
    assert_int_equal(apply_text(r, "{\"k\":\"v\",\"n\":\"a\",\"t\":1}", &out),
                     TB_BRIDGE_MISSING_PROJECTION);
    assert_int_equal(apply_text(r, "{\"k\":\"v\",\"n\":\"a\",\"t\":1,\"p\":[]}", &out),
                     TB_BRIDGE_OK);
    assert_data(&out, "{\"p\":[]}");
    json_decref(out.data);
    tb_bridge_rules_destroy(&r);
}

static void
test_counts(void **state)
{
    (void)state;
    tb_bridge_counts_t c;
    memset(&c, 0, sizeof c);
    char line[1024];
    tb_bridge_counts_format(&c, line, sizeof line);
    assert_string_equal(line, "received=0 forwarded=0 skipped=0 too_large=0 multi_frame=0 "
                              "not_json=0 not_object=0 no_filter_key=0 filtered_out=0 "
                              "missing_nskey=0 bad_nskey=0 missing_tskey=0 bad_tskey=0 "
                              "missing_projection=0 rejected=0 queue_full=0 send_failed=0");
    c.received = 6;
    tb_bridge_counts_add(&c, TB_BRIDGE_OK);
    tb_bridge_counts_add(&c, TB_BRIDGE_OK);
    tb_bridge_counts_add(&c, TB_BRIDGE_NOT_JSON);
    tb_bridge_counts_add(&c, TB_BRIDGE_BAD_TSKEY);
    tb_bridge_counts_add(&c, TB_BRIDGE_BAD_TSKEY);
    tb_bridge_counts_add(&c, (tb_bridge_skip_t)99);
    assert_int_equal(c.forwarded, 2);
    assert_int_equal(tb_bridge_counts_skipped(&c), 4);
    int need = tb_bridge_counts_format(&c, line, sizeof line);
    assert_int_equal(need, (int)strlen(line));
    assert_non_null(strstr(line, "received=6 forwarded=2 skipped=4 "));
    assert_non_null(strstr(line, " not_json=1 "));
    assert_non_null(strstr(line, " bad_tskey=2 "));
    assert_non_null(strstr(line, " send_failed=1"));
    /* a short buffer is truncated, NUL-terminated, and the need reported */
    char tiny[16];
    assert_int_equal(tb_bridge_counts_format(&c, tiny, sizeof tiny), need);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skip_names_unique_and_complete),
        cmocka_unit_test(test_bad_paths_refused),
        cmocka_unit_test(test_lookup_paths),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_no_rules_forwards_whole_message),
        cmocka_unit_test(test_comma_lists),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_filter_nested_and_several),
        cmocka_unit_test(test_nskey),
        cmocka_unit_test(test_tskey),
        cmocka_unit_test(test_projections_flat),
        cmocka_unit_test(test_projections_nested),
        cmocka_unit_test(test_projections_overlapping),
        cmocka_unit_test(test_order_of_checks),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
