/*
 * test_proto_json.c - every rule of the JSON thing_update decoder.
 *
 * Why this exists: the broker accepts or rejects each message on the word
 * of tb_decode_json; each rule of PROTOCOL-v1.md and proto/PROTOCOL.md has
 * a case here, each case also runs through the jansson-based reference
 * decoder (ref_decode.c) which must agree, and hostile inputs (deep
 * nesting, huge strings, truncation at every offset) must end in a named
 * reason, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_proto.h"
#include "ref_decode.h"

static tb_decoder_t *dec;
static tb_limits_t lim;

static int
setup(void **state)
{
    (void)state;
    tb_limits_default(&lim);
    dec = tb_decoder_new(&lim);
    return dec ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    tb_decoder_destroy(&dec);
    assert_null(dec);
    tb_decoder_destroy(&dec);   /* NULL is fine */
    tb_decoder_destroy(NULL);
    return 0;
}

/* Decode text (length n), expect reason want, and check the reference
 * agrees. */
static tb_reason_t
decode_n(const char *text, size_t n, tb_update_t *u, tb_decode_error_t *e)
{
    tb_reason_t r = tb_decode_json(dec, text, n, u, e);
    const char *why = ref_check_json(dec, &lim, text, n);
    if (why)
        fail_msg("reference disagrees on %.*s: %s", (int)(n > 200 ? 200 : n), text, why);
    /* ref_check_json decoded again: decode once more for the caller */
    return tb_decode_json(dec, text, n, u, e) == r ? r : TB_REASON_COUNT;
}

#define EXPECT(text, want) expect_reason((text), strlen(text), (want), __LINE__)
static void
expect_reason(const char *text, size_t n, tb_reason_t want, int line)
{
    tb_update_t u;
    tb_decode_error_t e;
    memset(&e, 0, sizeof e);
    tb_reason_t r = decode_n(text, n, &u, &e);
    if (r != want)
        fail_msg("line %d: %.*s: got %s (%s), want %s", line, (int)(n > 200 ? 200 : n), text,
                 tb_reason_name(r), e.text, tb_reason_name(want));
    if (want != TB_REASON_OK) {
        assert_int_equal(e.reason, want);
        assert_true(e.text[0] != '\0');
    }
}

#define UPD(rest) "{\"type\":\"thing_update\",\"ns\":\"a.b\"," rest "}"

static void
test_map_form(void **state)
{
    (void)state;
    const char *t = "{\"type\":\"thing_update\",\"ns\":\"spacemon.electronics\","
                    "\"data\":{\"ratio_busy\":0.14315257352941177,\"luminance\":114.361669921875},"
                    "\"ts\":1423351104.945,\"documentation_url\":\"https://example.org/doc\"}";
    tb_update_t u;
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_int_equal(u.ns_len, 20);
    assert_memory_equal(u.ns, "spacemon.electronics", 20);
    const char *d = "{\"ratio_busy\":0.14315257352941177,\"luminance\":114.361669921875}";
    assert_int_equal(u.data_len, strlen(d));
    assert_memory_equal(u.data, d, u.data_len);
    assert_true(u.has_ts);
    assert_true(u.ts == 1423351104.945);
    assert_int_equal(u.ts_json_len, 14);
    assert_memory_equal(u.ts_json, "1423351104.945", 14);
    assert_int_equal(u.doc_url_len, 25);
    assert_memory_equal(u.doc_url, "\"https://example.org/doc\"", 25);
    /* spans point into the input (no copy) */
    assert_true(u.data > t && u.data < t + strlen(t));
}

static void
test_optional_fields(void **state)
{
    (void)state;
    tb_update_t u;
    const char *t = UPD("\"data\":null");
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_false(u.has_ts);
    assert_null(u.doc_url);
    assert_int_equal(u.data_len, 4);
    t = UPD("\"data\":1,\"ts\":null,\"documentation_url\":null");
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_false(u.has_ts);
    assert_null(u.doc_url);
    /* integer ts is accepted (more lenient than the original) */
    t = UPD("\"data\":1,\"ts\":1423351104");
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_true(u.has_ts);
    assert_true(u.ts == 1423351104.0);
    assert_int_equal(u.ts_json_len, 12);
    assert_memory_equal(u.ts_json, "1423351104.0", 12);
    t = UPD("\"data\":1,\"ts\":-0");
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_memory_equal(u.ts_json, "-0.0", 4);
    t = UPD("\"data\":1,\"ts\":15E-1");
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_int_equal(u.ts_json_len, 5);
    assert_memory_equal(u.ts_json, "15E-1", 5);
    assert_true(u.ts == 1.5);
    /* zeros between the point and the first digit scale the value */
    static const char *const small[] = { "0.05", "0.0015", "-0.001e3", "0.000123456789e2",
                                         "0.00000000000000000000012345678901234567891" };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        char upd[160];
        snprintf(upd, sizeof upd, UPD("\"data\":1,\"ts\":%s"), small[i]);
        assert_int_equal(decode_n(upd, strlen(upd), &u, NULL), TB_REASON_OK);
        if (u.ts != strtod(small[i], NULL))
            fail_msg("ts %s decoded as %.17g", small[i], u.ts);
    }
    /* escapes in doc_url stay as written (a valid literal) */
    t = UPD("\"data\":1,\"documentation_url\":\"a\\u00e9\\n\"");
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_int_equal(u.doc_url_len, 11);
    assert_memory_equal(u.doc_url, "\"a\\u00e9\\n\"", 11);
}

static void
test_map_rules(void **state)
{
    (void)state;
    EXPECT("{}", TB_REASON_MISSING_TYPE);
    EXPECT("{\"ns\":\"a\",\"data\":1}", TB_REASON_MISSING_TYPE);
    EXPECT("{\"type\":\"thing_snapshot\",\"ns\":\"a\",\"data\":1}", TB_REASON_UNKNOWN_TYPE);
    EXPECT("{\"type\":1,\"ns\":\"a\",\"data\":1}", TB_REASON_UNKNOWN_TYPE);
    EXPECT("{\"type\":null,\"ns\":\"a\",\"data\":1}", TB_REASON_UNKNOWN_TYPE);
    EXPECT("{\"type\":\"Thing_update\",\"ns\":\"a\",\"data\":1}", TB_REASON_UNKNOWN_TYPE);
    EXPECT("{\"type\":\"thing_update \",\"ns\":\"a\",\"data\":1}", TB_REASON_UNKNOWN_TYPE);
    EXPECT("{\"type\":\"thing_update\",\"data\":1}", TB_REASON_MISSING_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":1,\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":null,\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":[\"a\"],\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"A\",\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a.B\",\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a.\",\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\".a\",\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a..b\",\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"9a\",\"data\":1}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a\\u0000b\",\"data\":1}", TB_REASON_NUL_IN_STRING);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"\",\"data\":1}", TB_REASON_OK);   /* the root */
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a\"}", TB_REASON_MISSING_DATA);
    EXPECT(UPD("\"data\":1,\"ts\":\"1423351104.9\""), TB_REASON_BAD_TS);
    EXPECT(UPD("\"data\":1,\"ts\":true"), TB_REASON_BAD_TS);
    EXPECT(UPD("\"data\":1,\"ts\":[1]"), TB_REASON_BAD_TS);
    EXPECT(UPD("\"data\":1,\"ts\":{}"), TB_REASON_BAD_TS);
    EXPECT(UPD("\"data\":1,\"documentation_url\":1"), TB_REASON_BAD_DOC_URL);
    EXPECT(UPD("\"data\":1,\"documentation_url\":false"), TB_REASON_BAD_DOC_URL);
    EXPECT(UPD("\"data\":1,\"documentation_url\":{}"), TB_REASON_BAD_DOC_URL);
    /* rule order: type, ns, data, ts, documentation_url */
    EXPECT("{\"ns\":1,\"ts\":\"x\"}", TB_REASON_MISSING_TYPE);
    EXPECT("{\"type\":\"thing_update\",\"ns\":1,\"ts\":\"x\"}", TB_REASON_BAD_NS);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a\",\"ts\":\"x\"}", TB_REASON_MISSING_DATA);
    EXPECT(UPD("\"data\":1,\"ts\":\"x\",\"documentation_url\":1"), TB_REASON_BAD_TS);
    /* unknown keys are ignored; the last duplicate wins */
    EXPECT(UPD("\"data\":1,\"extra\":{\"type\":5},\"seq\":12"), TB_REASON_OK);
    EXPECT("{\"type\":\"x\",\"type\":\"thing_update\",\"ns\":\"a\",\"data\":1}", TB_REASON_OK);
    EXPECT("{\"type\":\"thing_update\",\"type\":\"x\",\"ns\":\"a\",\"data\":1}", TB_REASON_UNKNOWN_TYPE);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a\",\"ns\":\"B\",\"data\":1}", TB_REASON_BAD_NS);
    /* keys and values with escapes mean what they decode to */
    EXPECT("{\"\\u0074ype\":\"thing_\\u0075pdate\",\"n\\u0073\":\"a\\u002eb\",\"data\":1}", TB_REASON_OK);
    EXPECT("{\"type\":\"thing_update\",\"ns\":\"a\\u002e\",\"data\":1}", TB_REASON_BAD_NS);
}

static void
test_duplicate_and_escaped_values(void **state)
{
    (void)state;
    tb_update_t u;
    const char *t = "{\"type\":\"thing_update\",\"ns\":\"x\",\"data\":1,\"data\":[2],"
                    "\"ns\":\"s\\u0070ace\",\"ts\":1.5,\"ts\":null}";
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_int_equal(u.ns_len, 5);
    assert_memory_equal(u.ns, "space", 5);
    assert_int_equal(u.data_len, 3);
    assert_memory_equal(u.data, "[2]", 3);
    assert_false(u.has_ts);
}

static void
test_list_form(void **state)
{
    (void)state;
    tb_update_t u;
    const char *t = "[\"bottlekid.prototype\", null, {\"dht22_error\": \"\"}, \"https://x\"]";
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_memory_equal(u.ns, "bottlekid.prototype", u.ns_len);
    assert_false(u.has_ts);
    assert_memory_equal(u.data, "{\"dht22_error\": \"\"}", u.data_len);
    assert_memory_equal(u.doc_url, "\"https://x\"", u.doc_url_len);
    t = "[\"a\",12.25,[1,2],null]";
    assert_int_equal(decode_n(t, strlen(t), &u, NULL), TB_REASON_OK);
    assert_true(u.ts == 12.25);
    assert_null(u.doc_url);
    EXPECT("[]", TB_REASON_BAD_LIST_LENGTH);
    EXPECT("[\"a\",null,1]", TB_REASON_BAD_LIST_LENGTH);
    EXPECT("[\"a\",null,1,null,5]", TB_REASON_BAD_LIST_LENGTH);
    EXPECT("[1,null,1,null]", TB_REASON_BAD_NS);
    EXPECT("[\"A\",null,1,null]", TB_REASON_BAD_NS);
    EXPECT("[\"a\",\"now\",1,null]", TB_REASON_BAD_TS);
    EXPECT("[\"a\",null,1,7]", TB_REASON_BAD_DOC_URL);
    EXPECT("[\"a\",5,null,null]", TB_REASON_OK);
    EXPECT("[\"a\",null,null,\"u\"]", TB_REASON_OK);
}

static void
test_top_level(void **state)
{
    (void)state;
    EXPECT("\"thing_update\"", TB_REASON_NOT_AN_OBJECT);
    EXPECT("5", TB_REASON_NOT_AN_OBJECT);
    EXPECT("null", TB_REASON_NOT_AN_OBJECT);
    EXPECT("true", TB_REASON_NOT_AN_OBJECT);
    EXPECT("  \n{}\r\n\t ", TB_REASON_MISSING_TYPE);
    EXPECT("", TB_REASON_BAD_JSON);
    EXPECT("   ", TB_REASON_BAD_JSON);
    EXPECT("{} {}", TB_REASON_TRAILING_BYTES);
    EXPECT("{}x", TB_REASON_TRAILING_BYTES);
    EXPECT("[\"a\",1,2,null]]", TB_REASON_TRAILING_BYTES);
    EXPECT("5 5", TB_REASON_TRAILING_BYTES);
    EXPECT("{} \"x", TB_REASON_BAD_JSON);          /* jansson lexes the extra token */
    EXPECT("{} 1e999", TB_REASON_BAD_NUMBER);
    EXPECT("{} \xff", TB_REASON_BAD_UTF8);
    EXPECT("{} \xc3\xa9", TB_REASON_TRAILING_BYTES);
    EXPECT("{} \"\\u0000\"", TB_REASON_TRAILING_BYTES);
}

static void
test_json_grammar(void **state)
{
    (void)state;
    /* syntax errors found while the rules would also fail: syntax first */
    EXPECT("{\"type\":\"x\",}", TB_REASON_BAD_JSON);
    EXPECT("{\"a\" 1}", TB_REASON_BAD_JSON);
    EXPECT("{\"a\":}", TB_REASON_BAD_JSON);
    EXPECT("{a:1}", TB_REASON_BAD_JSON);
    EXPECT("{'a':1}", TB_REASON_BAD_JSON);
    EXPECT("[1,]", TB_REASON_BAD_JSON);
    EXPECT("[1 2]", TB_REASON_BAD_JSON);
    EXPECT("[01]", TB_REASON_BAD_JSON);
    EXPECT("[-01]", TB_REASON_BAD_JSON);
    EXPECT("[1.]", TB_REASON_BAD_JSON);
    EXPECT("[.5]", TB_REASON_BAD_JSON);
    EXPECT("[1e]", TB_REASON_BAD_JSON);
    EXPECT("[1e+]", TB_REASON_BAD_JSON);
    EXPECT("[+1]", TB_REASON_BAD_JSON);
    EXPECT("[-]", TB_REASON_BAD_JSON);
    EXPECT("[0x10]", TB_REASON_BAD_JSON);
    EXPECT("[NaN]", TB_REASON_BAD_JSON);
    EXPECT("[Infinity]", TB_REASON_BAD_JSON);
    EXPECT("[-Infinity]", TB_REASON_BAD_JSON);
    EXPECT("[tru]", TB_REASON_BAD_JSON);
    EXPECT("[True]", TB_REASON_BAD_JSON);
    EXPECT("[nulll]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\\x\"]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\\u12\"]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\\u12G4\"]", TB_REASON_BAD_JSON);
    EXPECT("[\"tab\there\"]", TB_REASON_BAD_JSON);
    EXPECT("[\"nl\nhere\"]", TB_REASON_BAD_JSON);
    EXPECT("[\"abc]", TB_REASON_BAD_JSON);
    EXPECT("[1", TB_REASON_BAD_JSON);
    EXPECT("{\"a\":1", TB_REASON_BAD_JSON);
    EXPECT("[1}", TB_REASON_BAD_JSON);
    EXPECT("{\"a\":1]", TB_REASON_BAD_JSON);
    EXPECT("/* c */ {}", TB_REASON_BAD_JSON);
    expect_reason("[\"a\0b\"]", 7, TB_REASON_BAD_JSON, __LINE__);   /* raw NUL byte */
    expect_reason("{}\0", 3, TB_REASON_TRAILING_BYTES, __LINE__);
    /* what is fine */
    EXPECT("[\"a\",-0.0e-0,[0,1E+2,-1.5e-300,{\"\":[]}],\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"]", TB_REASON_OK);
    EXPECT("[\"a\",1,{\"x\":\"\\ud83d\\ude00\"},null]", TB_REASON_OK);
}

static void
test_numbers(void **state)
{
    (void)state;
    EXPECT("[\"a\",1,9223372036854775807,null]", TB_REASON_OK);
    EXPECT("[\"a\",1,-9223372036854775808,null]", TB_REASON_OK);
    EXPECT("[\"a\",1,9223372036854775808,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,-9223372036854775809,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,123456789012345678901234567890,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,1.7976931348623157e308,null]", TB_REASON_OK);
    EXPECT("[\"a\",1,1.7976931348623159e308,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,-1e309,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,1e-400,null]", TB_REASON_OK);          /* underflow is fine */
    EXPECT("[\"a\",1,0e99999999999999999999,null]", TB_REASON_OK);
    EXPECT("[\"a\",1,0.000000001e317,null]", TB_REASON_OK);
    EXPECT("[\"a\",1,0.000000001e318,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,1000e306,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1e999,1,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,1e99999999999999999999999,null]", TB_REASON_BAD_NUMBER);
    EXPECT("[\"a\",1,9223372036854775808.0,null]", TB_REASON_OK);   /* a real */
}

static void
test_utf8_and_unicode(void **state)
{
    (void)state;
    EXPECT("[\"a\",1,\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",null]", TB_REASON_OK);
    EXPECT("[\"a\",1,\"\xc3\",null]", TB_REASON_BAD_UTF8);          /* truncated */
    EXPECT("[\"a\",1,\"\xc0\xaf\",null]", TB_REASON_BAD_UTF8);      /* overlong */
    EXPECT("[\"a\",1,\"\xe0\x80\xaf\",null]", TB_REASON_BAD_UTF8);  /* overlong 3 */
    EXPECT("[\"a\",1,\"\xf0\x80\x80\xaf\",null]", TB_REASON_BAD_UTF8);
    EXPECT("[\"a\",1,\"\xed\xa0\x80\",null]", TB_REASON_BAD_UTF8);  /* UTF-8 surrogate */
    EXPECT("[\"a\",1,\"\xf4\x90\x80\x80\",null]", TB_REASON_BAD_UTF8); /* > U+10FFFF */
    EXPECT("[\"a\",1,\"\xf8\x88\x80\x80\x80\",null]", TB_REASON_BAD_UTF8);
    EXPECT("[\"a\",1,\"\x80\",null]", TB_REASON_BAD_UTF8);
    EXPECT("[\"a\",1,\"\xff\",null]", TB_REASON_BAD_UTF8);
    EXPECT("[\"a\",1,\xff,null]", TB_REASON_BAD_UTF8);              /* outside a string */
    EXPECT("[\"a\",1,\xc3\xa9,null]", TB_REASON_BAD_JSON);          /* valid but not JSON */
    EXPECT("[\"a\",1,12\xff,null]", TB_REASON_BAD_UTF8);            /* jansson's look-ahead */
    EXPECT("[\"a\",1,truex\xff,null]", TB_REASON_BAD_UTF8);
    EXPECT("{\"a\"\xff:1}", TB_REASON_BAD_UTF8);
    EXPECT("[\"a\",1,\"\\u0000\",null]", TB_REASON_NUL_IN_STRING);
    EXPECT("{\"\\u0000\":1}", TB_REASON_NUL_IN_STRING);
    EXPECT("[\"a\",1,\"\\ud800\",null]", TB_REASON_BAD_JSON);        /* lone high */
    EXPECT("[\"a\",1,\"\\udc00\",null]", TB_REASON_BAD_JSON);        /* lone low */
    EXPECT("[\"a\",1,\"\\ud800\\u0041\",null]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\",1,\"\\ud800\\ud800\",null]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\",1,\"\\ud800x\\udc00\",null]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\",1,\"\\uDBFF\\uDFFF\",null]", TB_REASON_OK);
    /* jansson's order inside one string: bad UTF-8 before a lone surrogate,
     * a lone surrogate before \u0000 */
    EXPECT("[\"a\",1,\"\\ud800 \xff\",null]", TB_REASON_BAD_UTF8);
    EXPECT("[\"a\",1,\"\\u0000\\ud800\",null]", TB_REASON_BAD_JSON);
    EXPECT("[\"a\",1,\"\\ud800\\u00\",null]", TB_REASON_BAD_JSON);
}

static void
test_depth(void **state)
{
    (void)state;
    char buf[1000];
    /* the data value at container depth 64 (the list is depth 1) */
    size_t n = 0;
    n += (size_t)sprintf(buf, "[\"a\",1,");
    for (int i = 0; i < 63; i++)
        buf[n++] = '[';
    for (int i = 0; i < 63; i++)
        buf[n++] = ']';
    n += (size_t)sprintf(buf + n, ",null]");
    expect_reason(buf, n, TB_REASON_OK, __LINE__);
    n = (size_t)sprintf(buf, "[\"a\",1,");
    for (int i = 0; i < 64; i++)
        buf[n++] = '[';
    for (int i = 0; i < 64; i++)
        buf[n++] = ']';
    n += (size_t)sprintf(buf + n, ",null]");
    expect_reason(buf, n, TB_REASON_TOO_DEEP, __LINE__);
    /* too deep, then broken: jansson parses first, so the syntax error wins */
    n -= 2;
    expect_reason(buf, n, TB_REASON_BAD_JSON, __LINE__);
    /* objects count too */
    n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)sprintf(buf + n, "{\"k\":");
    n += (size_t)sprintf(buf + n, "1");
    for (int i = 0; i < 65; i++)
        buf[n++] = '}';
    expect_reason(buf, n, TB_REASON_TOO_DEEP, __LINE__);
    /* a smaller configured limit */
    tb_limits_t l2 = { .max_input = 1000, .max_depth = 2 };
    tb_decoder_t *d2 = tb_decoder_new(&l2);
    tb_update_t u;
    const char *ok = "[\"a\",1,[1],null]", *deep = "[\"a\",1,[[1]],null]";
    assert_int_equal(tb_decode_json(d2, ok, strlen(ok), &u, NULL), TB_REASON_OK);
    assert_int_equal(tb_decode_json(d2, deep, strlen(deep), &u, NULL), TB_REASON_TOO_DEEP);
    assert_int_equal(tb_json_check(deep, strlen(deep), &l2, NULL), TB_REASON_TOO_DEEP);
    assert_int_equal(tb_json_check(ok, strlen(ok), &l2, NULL), TB_REASON_OK);
    tb_decoder_destroy(&d2);
}

static void
test_hostile(void **state)
{
    (void)state;
    tb_update_t u;
    tb_decode_error_t e;
    /* 100 000-deep nesting: stops at jansson's bound, no stack overflow */
    size_t n = 200000;
    char *deep = malloc(n);
    memset(deep, '[', n / 2);
    memset(deep + n / 2, ']', n / 2);
    assert_int_equal(tb_decode_json(dec, deep, n, &u, &e), TB_REASON_TOO_DEEP);
    assert_true(e.offset <= 2048);
    assert_null(ref_check_json(dec, &lim, deep, n));
    for (size_t i = 0; i < n / 2; i++)
        deep[i] = (i % 2) ? '{' : '[';
    assert_int_equal(tb_decode_json(dec, deep, n, &u, &e), TB_REASON_BAD_JSON);
    memset(deep, '{', n);
    assert_int_equal(tb_decode_json(dec, deep, n, &u, &e), TB_REASON_BAD_JSON);
    assert_int_equal(tb_json_check(deep, n, NULL, NULL), TB_REASON_BAD_JSON);
    free(deep);
    /* a huge string value (just under the input limit) */
    n = TB_DEFAULT_MAX_INPUT;
    char *big = malloc(n + 1);
    const char *head = "[\"a\",1,\"";
    memcpy(big, head, strlen(head));
    memset(big + strlen(head), 'x', n - strlen(head) - 7);
    memcpy(big + n - 7, "\",null]", 7);
    assert_int_equal(tb_decode_json(dec, big, n, &u, &e), TB_REASON_OK);
    assert_int_equal(u.data_len, n - strlen(head) - 7 + 1 + 1);
    /* one byte more is too large, before any parsing */
    big[n] = ' ';
    assert_int_equal(tb_decode_json(dec, big, n + 1, &u, &e), TB_REASON_TOO_LARGE);
    assert_int_equal(tb_json_check(big, n + 1, NULL, NULL), TB_REASON_TOO_LARGE);
    memset(big, '[', 10);
    assert_int_equal(tb_decode_json(dec, big, n + 1, &u, &e), TB_REASON_TOO_LARGE);
    free(big);
}

/* Every prefix of a valid update is rejected (with the reason the
 * reference gives) and never read past its end. */
static void
test_truncation(void **state)
{
    (void)state;
    const char *t = "{\"type\":\"thing_update\",\"ns\":\"a.b\",\"data\":{\"x\":[1,-2.5e3,\"\\u00e9\\ud83d\\ude00\",true,false,null]},"
                    "\"ts\":1423351104.945,\"documentation_url\":\"http://x\"}";
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++) {
        char *p = malloc(i ? i : 1);   /* exact size: ASan catches over-reads */
        memcpy(p, t, i);
        tb_update_t u;
        tb_reason_t r = tb_decode_json(dec, p, i, &u, NULL);
        assert_int_not_equal(r, TB_REASON_OK);
        const char *why = ref_check_json(dec, &lim, p, i);
        if (why)
            fail_msg("prefix %zu: %s", i, why);
        free(p);
    }
}

static void
test_error_detail(void **state)
{
    (void)state;
    tb_update_t u;
    tb_decode_error_t e;
    const char *t = "{\n  \"type\": \"thing_update\",\n  \"ns\": x\n}";
    assert_int_equal(tb_decode_json(dec, t, strlen(t), &u, &e), TB_REASON_BAD_JSON);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 9);
    assert_int_equal(e.offset, (size_t)(strchr(t, 'x') - t));
    assert_true(strlen(e.text) > 0);
    assert_int_equal(tb_decode_json(dec, t, strlen(t), &u, NULL), TB_REASON_BAD_JSON);
}

static void
test_json_check(void **state)
{
    (void)state;
    tb_decode_error_t e;
    assert_int_equal(tb_json_check("1", 1, NULL, NULL), TB_REASON_OK);
    assert_int_equal(tb_json_check(" \"x\" ", 5, NULL, NULL), TB_REASON_OK);
    assert_int_equal(tb_json_check("{\"a\":[1,{}]}", 12, NULL, NULL), TB_REASON_OK);
    assert_int_equal(tb_json_check("null", 4, NULL, NULL), TB_REASON_OK);
    assert_int_equal(tb_json_check("", 0, NULL, &e), TB_REASON_BAD_JSON);
    assert_int_equal(e.reason, TB_REASON_BAD_JSON);
    assert_int_equal(tb_json_check("1 2", 3, NULL, NULL), TB_REASON_TRAILING_BYTES);
    assert_int_equal(tb_json_check("\"\\u0000\"", 8, NULL, NULL), TB_REASON_NUL_IN_STRING);
    assert_int_equal(tb_json_check("1e400", 5, NULL, NULL), TB_REASON_BAD_NUMBER);
    assert_int_equal(tb_json_check("\"\xff\"", 3, NULL, NULL), TB_REASON_BAD_UTF8);
    assert_int_equal(tb_json_check(NULL, 0, NULL, NULL), TB_REASON_BAD_JSON);
}

static void
test_reason_names(void **state)
{
    (void)state;
    for (unsigned r = 0; r < TB_REASON_COUNT; r++) {
        const char *n = tb_reason_name((tb_reason_t)r);
        assert_non_null(n);
        assert_string_not_equal(n, "unknown");
        assert_int_equal(tb_reason_from_name(n), r);
        for (unsigned q = 0; q < r; q++)
            assert_string_not_equal(n, tb_reason_name((tb_reason_t)q));
    }
    assert_string_equal(tb_reason_name(TB_REASON_BAD_NS), "bad_ns");
    assert_string_equal(tb_reason_name(TB_REASON_NOT_AN_OBJECT), "not_an_object");
    assert_string_equal(tb_reason_name(TB_REASON_COUNT), "unknown");
    assert_int_equal(tb_reason_from_name("no_such"), TB_REASON_COUNT);
    assert_int_equal(tb_reason_from_name(NULL), TB_REASON_COUNT);
    tb_limits_t l;
    tb_limits_default(&l);
    assert_int_equal(l.max_input, TB_DEFAULT_MAX_INPUT);
    assert_int_equal(l.max_depth, 64);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_form),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_map_rules),
        cmocka_unit_test(test_duplicate_and_escaped_values),
        cmocka_unit_test(test_list_form),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_json_grammar),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_utf8_and_unicode),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_error_detail),
        cmocka_unit_test(test_json_check),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
