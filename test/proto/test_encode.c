/*
 * test_encode.c - exact bytes of the broker's outgoing JSON.
 *
 * Why this exists: subscribers (the original Python client among them)
 * parse what the encoders write; the bytes are fixed here literally so any
 * change to field order, separators, escaping or number formatting is a
 * visible, deliberate decision.  Round-trips are checked with jansson and
 * strtod, never with our own decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tb_proto.h"

#define S(x) (x), (sizeof(x) - 1)

static void
test_update_exact(void **state)
{
    (void)state;
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_encode_update(&b, S("spacemon.electronics"), S("{\"luminance\": 106.09}"),
                     S("1423351104.945"), S("\"http://example.com/doc\""), -1);
    assert_string_equal(b.data,
        "{\"type\":\"thing_update\",\"ns\":\"spacemon.electronics\","
        "\"data\":{\"luminance\": 106.09},\"ts\":1423351104.945,"
        "\"documentation_url\":\"http://example.com/doc\"}");
    assert_int_equal(b.len, strlen(b.data));
    tb_buf_reset(&b);
    tb_encode_update(&b, S("a"), S("null"), S("5.0"), NULL, 0, 0);
    assert_string_equal(b.data,
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"data\":null,\"ts\":5.0,"
        "\"documentation_url\":null,\"seq\":0}");
    tb_buf_reset(&b);
    tb_encode_update(&b, S("a.b"), S("[1,2]"), S("1e3"), S("\"u\""), INT64_MAX);
    assert_string_equal(b.data,
        "{\"type\":\"thing_update\",\"ns\":\"a.b\",\"data\":[1,2],\"ts\":1e3,"
        "\"documentation_url\":\"u\",\"seq\":9223372036854775807}");
    assert_false(tb_buf_failed(&b));
    /* the output is one valid JSON object with exactly these keys */
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 6);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), INT64_MAX);
    json_decref(j);
    tb_buf_free(&b);
}

static void
test_update_list_exact(void **state)
{
    (void)state;
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_encode_update_list(&b, S("shop.bot"), S("{\"busy\":12.0}"), S("1.5"),
                          S("\"http://d\""));
    assert_string_equal(b.data, "[\"shop.bot\",1.5,{\"busy\":12.0},\"http://d\"]");
    tb_buf_reset(&b);
    tb_encode_update_list(&b, S("a"), S("null"), S("2.0"), NULL, 0);
    assert_string_equal(b.data, "[\"a\",2.0,null,null]");
    assert_false(tb_buf_failed(&b));
    tb_buf_free(&b);
}

static void
test_snapshot_exact(void **state)
{
    (void)state;
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_encode_snapshot_begin(&b, 1423351104.5);
    tb_encode_snapshot_entry(&b, S("a.b"), S("{\"x\":1}"), S("12.5"), S("\"d\""));
    tb_buf_append_char(&b, ',');
    tb_encode_snapshot_entry(&b, S("c"), S("true"), S("1.0"), NULL, 0);
    tb_encode_snapshot_end(&b);
    assert_string_equal(b.data,
        "{\"type\":\"thing_snapshot\",\"ts\":1423351104.5,\"data\":{"
        "\"a.b\":{\"data\":{\"x\":1},\"ts\":12.5,\"ns\":\"a.b\",\"documentation_url\":\"d\"},"
        "\"c\":{\"data\":true,\"ts\":1.0,\"ns\":\"c\",\"documentation_url\":null}}}");
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    tb_buf_reset(&b);
    tb_encode_snapshot_begin(&b, 2.0);
    tb_encode_snapshot_end(&b);
    assert_string_equal(b.data, "{\"type\":\"thing_snapshot\",\"ts\":2.0,\"data\":{}}");
    tb_buf_free(&b);
}

static void
test_string_escaping(void **state)
{
    (void)state;
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_json_write_string(&b, S("plain"));
    assert_string_equal(b.data, "\"plain\"");
    tb_buf_reset(&b);
    tb_json_write_string(&b, S("q\"b\\s/"));
    assert_string_equal(b.data, "\"q\\\"b\\\\s/\"");
    tb_buf_reset(&b);
    tb_json_write_string(&b, S("\b\f\n\r\t\x01\x1f\x7f"));
    assert_string_equal(b.data, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
    tb_buf_reset(&b);
    tb_json_write_string(&b, "a\0b", 3);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    tb_buf_reset(&b);
    /* non-ASCII UTF-8 passes through untouched */
    tb_json_write_string(&b, S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    assert_string_equal(b.data, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    tb_buf_reset(&b);
    tb_json_write_string(&b, "", 0);
    assert_string_equal(b.data, "\"\"");
    tb_buf_reset(&b);
    /* every byte 0x01..0x7f round-trips through jansson */
    char all[127];
    for (int i = 0; i < 127; i++)
        all[i] = (char)(i + 1);
    tb_json_write_string(&b, all, sizeof all);
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), sizeof all);
    assert_memory_equal(json_string_value(j), all, sizeof all);
    json_decref(j);
    /* a capped buffer fails cleanly */
    tb_buf_t c;
    tb_buf_init(&c, 8);
    tb_json_write_string(&c, S("0123456789"));
    assert_true(tb_buf_failed(&c));
    tb_buf_free(&c);
    tb_buf_free(&b);
}

static void
check_double(double v, const char *want)
{
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_json_write_double(&b, v);
    if (want)
        assert_string_equal(b.data, want);
    if (isfinite(v)) {
        assert_non_null(strpbrk(b.data, ".e"));
        assert_true(strtod(b.data, NULL) == v);
        json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_true(json_is_real(j));
        assert_true(json_real_value(j) == v);
        json_decref(j);
    }
    tb_buf_free(&b);
}

static void
test_doubles(void **state)
{
    (void)state;
    check_double(1423351104.945, "1423351104.945");
    check_double(0.1, "0.1");
    check_double(5.0, "5.0");
    check_double(-0.0, "-0.0");
    check_double(0.0, "0.0");
    check_double(1e300, "1e+300");
    check_double(0.14315257352941177, "0.14315257352941177");
    check_double(1e16, "1e+16");
    check_double(123456789012345.0, "123456789012345.0");
    check_double((double)0.1f, "0.10000000149011612");
    check_double(DBL_MAX, "1.7976931348623157e+308");
    check_double(DBL_MIN, NULL);
    check_double(5e-324, "4.94065645841247e-324");
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
    /* the printf-free path: short decimals come out short */
    check_double(0.3, "0.3");
    check_double(-114.36166992, "-114.36166992");
    check_double(1e-4, "0.0001");
    check_double(-2e-5, "-2e-05");
    check_double(0.000123, "0.000123");
    check_double(999999999999999.0, "999999999999999.0");
    check_double(1e15, "1e+15");
    check_double(100.0, "100.0");
    check_double(0.1 + 0.2, "0.30000000000000004");
    uint64_t y = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < 100000; i++) {
        y ^= y << 13; y ^= y >> 7; y ^= y << 17;
        static const double p10[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                      1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19 };
        uint64_t m = (y >> 11) % 1000000000000000ull;           /* <= 15 digits */
        double v = (double)m / p10[(y >> 3) % 20];
        tb_buf_t b;
        tb_buf_init(&b, 0);
        tb_json_write_double(&b, (y & 1) ? -v : v);
        assert_true(strtod(b.data, NULL) == ((y & 1) ? -v : v));
        assert_non_null(strpbrk(b.data, ".e"));
        /* never longer than what %.15g gives when %.15g round-trips */
        char g[40];
        snprintf(g, sizeof g, "%.15g", (y & 1) ? -v : v);
        if (strtod(g, NULL) == ((y & 1) ? -v : v) && !strchr(g, 'e'))
            assert_true(b.len <= strlen(g) + 2);
        tb_buf_free(&b);
    }
    /* in the plain-notation range the output has the fewest significant
     * digits that round-trip (what %.<k>g with the smallest working k has) */
    uint64_t z = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 50000; i++) {
        z ^= z << 13; z ^= z >> 7; z ^= z << 17;
        double v = ldexp((double)(z >> 11) / 9007199254740992.0 + 0.5, (int)(z % 66) - 16);
        if (!(v >= 1e-4 && v < 1e15))
            continue;
        int k;
        char g[40];
        for (k = 1; k <= 17; k++) {
            snprintf(g, sizeof g, "%.*g", k, v);
            if (strtod(g, NULL) == v)
                break;
        }
        tb_buf_t b;
        tb_buf_init(&b, 0);
        tb_json_write_double(&b, v);
        assert_true(strtod(b.data, NULL) == v);
        int sig = 0;
        bool started = false;
        for (const char *c = b.data; *c; c++) {
            if (*c >= '1' && *c <= '9')
                started = true;
            if (started && *c >= '0' && *c <= '9')
                sig++;
        }
        /* trailing zeros of an integer part count in ours ("100.0") */
        const char *dot = strchr(b.data, '.');
        if (dot && strcmp(dot, ".0") == 0)
            sig -= 1;
        if (sig > k && !(dot && strcmp(dot, ".0") == 0))
            fail_msg("%.17g written as %s (%d digits), %%.%dg suffices", v, b.data, sig, k);
        tb_buf_free(&b);
    }
    /* many values round-trip exactly */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        check_double(v, NULL);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_exact),
        cmocka_unit_test(test_update_list_exact),
        cmocka_unit_test(test_snapshot_exact),
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
