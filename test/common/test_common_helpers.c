/*
 * test_common_helpers.c - unit tests of tb_errbuf_set (tb_error.h) and the
 * FNV-1a hashes (tb_hash.h).
 *
 * Why this exists: both are one-liners that many modules lean on; the
 * error helper must truncate safely and tolerate a missing buffer, and the
 * hashes must be FNV-1a exactly (checked against the published test
 * vectors of the FNV authors, not against our own code).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "tb_error.h"
#include "tb_hash.h"

static void
test_errbuf_formats_and_returns_minus_one(void **state)
{
    (void)state;
    char buf[64];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(tb_errbuf_set(buf, sizeof buf, "--%s: %d is above %d", "port", 70000,
                                   65535), -1);
    assert_string_equal(buf, "--port: 70000 is above 65535");
}

static void
test_errbuf_truncates_and_tolerates_no_buffer(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(tb_errbuf_set(buf, sizeof buf, "%s", "a long message"), -1);
    assert_string_equal(buf, "a long ");            /* 7 bytes and the NUL */
    char untouched[4] = "abc";
    assert_int_equal(tb_errbuf_set(untouched, 0, "%s", "nothing"), -1);
    assert_string_equal(untouched, "abc");
    assert_int_equal(tb_errbuf_set(NULL, 100, "%s", "nowhere"), -1);
}

/* The FNV authors' vectors: "" is the offset basis; "a" and "foobar". */
static void
test_fnv1a64_vectors(void **state)
{
    (void)state;
    assert_true(tb_hash_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    assert_true(tb_hash_fnv1a64(NULL, 0) == 0xcbf29ce484222325ull);
    assert_true(tb_hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(tb_hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
    /* only the n bytes count, and bytes above 0x7f are unsigned */
    assert_true(tb_hash_fnv1a64("foobarbaz", 6) == 0x85944171f73967e8ull);
    assert_true(tb_hash_fnv1a64("\xff", 1) != tb_hash_fnv1a64("\x7f", 1));
}

static void
test_fnv1a32_vectors(void **state)
{
    (void)state;
    assert_true(tb_hash_fnv1a32("", 0) == 0x811c9dc5u);
    assert_true(tb_hash_fnv1a32("a", 1) == 0xe40c292cu);
    assert_true(tb_hash_fnv1a32("foobar", 6) == 0xbf9cf968u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errbuf_formats_and_returns_minus_one),
        cmocka_unit_test(test_errbuf_truncates_and_tolerates_no_buffer),
        cmocka_unit_test(test_fnv1a64_vectors),
        cmocka_unit_test(test_fnv1a32_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
