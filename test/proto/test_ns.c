/*
 * test_ns.c - the namespace rule of PROTOCOL-v1.md and the tree helpers.
 *
 * Why this exists: every component trusts tb_ns to say which names are
 * valid and how they nest; a mistake here silently splits or merges parts
 * of the directory.  Each case of the rule is checked against literal
 * expectations, and a regex (independent implementation) is compared on
 * every short string over a small alphabet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include "tb_ns.h"

#define V(s) tb_ns_valid((s), strlen(s))

static void
test_protocol_cases(void **state)
{
    (void)state;
    /* the examples PROTOCOL-v1.md names */
    assert_true(V(""));
    assert_true(V("spacemon"));
    assert_true(V("spacemon.electronics"));
    assert_true(V("bottlekid.prototype"));
    assert_true(V("shop.shopbot.spacemon"));
    assert_false(V("A"));
    assert_false(V("a.B"));
    assert_false(V("a."));
    assert_false(V(".a"));
    assert_false(V("a..b"));
    /* more of the rule */
    assert_true(V("a"));
    assert_true(V("a-b_c9"));
    assert_true(V("a.b-.c_"));
    assert_true(V("z9.y8.x7"));
    assert_false(V("9a"));          /* digit first */
    assert_false(V("-a"));
    assert_false(V("_a"));
    assert_false(V("a.9"));
    assert_false(V("a._b"));
    assert_false(V("aB"));
    assert_false(V("a b"));
    assert_false(V("."));
    assert_false(V(".."));
    assert_false(V("a/b"));
    assert_false(V("caf\xc3\xa9"));  /* non-ASCII */
    assert_false(V("a*"));
    assert_false(V("a#"));
    /* explicit lengths: an embedded NUL is not a terminator */
    assert_false(tb_ns_valid("a\0b", 3));
    assert_true(tb_ns_valid("ab.c", 2));
}

static void
test_part_lengths(void **state)
{
    (void)state;
    char buf[TB_NS_MAX_LEN + 16];
    memset(buf, 'a', sizeof buf);               /* byte 64 is read by the 65 case */
    assert_true(tb_ns_valid(buf, 64));          /* 1 + 63 */
    assert_true(tb_ns_part_valid(buf, 64));
    assert_false(tb_ns_valid(buf, 65));
    assert_false(tb_ns_part_valid(buf, 65));
    buf[64] = '.';
    memset(buf + 65, 'b', 64);
    assert_true(tb_ns_valid(buf, 129));
    buf[129] = 'c';
    assert_false(tb_ns_valid(buf, 130));        /* second part 65 long */
    assert_false(tb_ns_part_valid("", 0));
    assert_false(tb_ns_part_valid("a.b", 3));
    assert_true(tb_ns_part_valid("a-9_", 4));
    assert_false(tb_ns_part_valid("9a", 2));
}

static void
test_whole_length_bound(void **state)
{
    (void)state;
    /* parts "a1.a1...." up to exactly TB_NS_MAX_LEN, then one more byte */
    char buf[TB_NS_MAX_LEN + 8];
    size_t n = 0;
    while (n + 2 <= TB_NS_MAX_LEN) {
        if (n)
            buf[n++] = '.';
        buf[n++] = 'a';
    }
    if (n < TB_NS_MAX_LEN) {   /* pad the last part to reach the bound */
        buf[n++] = 'x';
    }
    assert_int_equal(n, TB_NS_MAX_LEN);
    assert_true(tb_ns_valid(buf, n));
    buf[n] = 'y';
    assert_false(tb_ns_valid(buf, n + 1));
    assert_int_equal(tb_ns_depth(buf, n), (TB_NS_MAX_LEN + 1) / 2);
}

static void
test_parent(void **state)
{
    (void)state;
    bool has = false;
    assert_int_equal(tb_ns_parent_len("a.b.c", 5, &has), 3);
    assert_true(has);
    assert_int_equal(tb_ns_parent_len("a.b", 3, &has), 1);
    assert_true(has);
    assert_int_equal(tb_ns_parent_len("spacemon", 8, &has), 0);
    assert_true(has);                 /* the root is its parent */
    assert_int_equal(tb_ns_parent_len("", 0, &has), 0);
    assert_false(has);
    assert_int_equal(tb_ns_parent_len("abc.de", 6, NULL), 3);
}

static void
test_within(void **state)
{
    (void)state;
    assert_true(tb_ns_within("a.b", 3, "a", 1));
    assert_true(tb_ns_within("a", 1, "a", 1));
    assert_true(tb_ns_within("a.b.c", 5, "a.b", 3));
    assert_false(tb_ns_within("ab", 2, "a", 1));
    assert_false(tb_ns_within("spacemonitor", 12, "spacemon", 8));
    assert_true(tb_ns_within("spacemon.x", 10, "spacemon", 8));
    assert_false(tb_ns_within("a", 1, "a.b", 3));
    assert_false(tb_ns_within("b.a", 3, "a", 1));
    assert_true(tb_ns_within("anything.at.all", 15, "", 0));
    assert_true(tb_ns_within("", 0, "", 0));
    assert_false(tb_ns_within("", 0, "a", 1));
}

static void
test_depth_and_parts(void **state)
{
    (void)state;
    assert_int_equal(tb_ns_depth("", 0), 0);
    assert_int_equal(tb_ns_depth("a", 1), 1);
    assert_int_equal(tb_ns_depth("a.b.c", 5), 3);

    const char *ns = "spacemon.elec-tronics.x_1";
    const char *want[] = { "spacemon", "elec-tronics", "x_1" };
    size_t pos = 0, n = 0, plen;
    const char *part;
    while (tb_ns_next_part(ns, strlen(ns), &pos, &part, &plen)) {
        assert_true(n < 3);
        assert_int_equal(plen, strlen(want[n]));
        assert_memory_equal(part, want[n], plen);
        n++;
    }
    assert_int_equal(n, 3);
    pos = 0;
    assert_false(tb_ns_next_part("", 0, &pos, &part, &plen));
    pos = 0;
    assert_true(tb_ns_next_part("solo", 4, &pos, &part, &plen));
    assert_int_equal(plen, 4);
    assert_false(tb_ns_next_part("solo", 4, &pos, &part, &plen));
}

static void
test_join(void **state)
{
    (void)state;
    char out[TB_NS_MAX_LEN + 8];
    assert_int_equal(tb_ns_join(out, sizeof out, "shop.shopbot", "spacemon"), 21);
    assert_string_equal(out, "shop.shopbot.spacemon");
    assert_int_equal(tb_ns_join(out, sizeof out, "", "a.b"), 3);
    assert_string_equal(out, "a.b");
    assert_int_equal(tb_ns_join(out, sizeof out, "a", ""), 1);
    assert_string_equal(out, "a");
    assert_int_equal(tb_ns_join(out, sizeof out, "", ""), 0);
    assert_string_equal(out, "");
    assert_int_equal(tb_ns_join(out, sizeof out, "a", "B"), -1);
    assert_int_equal(tb_ns_join(out, sizeof out, "a.", "b"), -1);
    assert_int_equal(tb_ns_join(out, sizeof out, "a", ".b"), -1);
    /* capacity: "a.b" needs 4 bytes with its NUL */
    assert_int_equal(tb_ns_join(out, 4, "a", "b"), 3);
    assert_int_equal(tb_ns_join(out, 3, "a", "b"), -1);
    /* the whole-length bound */
    char big[TB_NS_MAX_LEN];
    memset(big, 'a', 60);
    size_t n = 0;
    while (n + 61 < TB_NS_MAX_LEN - 10) {
        memset(big + n, 'a', 60);
        n += 60;
        big[n++] = '.';
    }
    big[n++] = 'z';
    big[n] = '\0';
    assert_true(tb_ns_valid(big, n));
    assert_int_equal(tb_ns_join(out, sizeof out, big, "abcdefgh"), (int)n + 9);
    assert_true(n + 1 + 60 > TB_NS_MAX_LEN);
    assert_int_equal(tb_ns_join(out, sizeof out, big, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh"), -1);
}

/* Every string of length <= 4 over a small alphabet: tb_ns_valid agrees
 * with the rule written as a POSIX regex. */
static void
test_against_regex(void **state)
{
    (void)state;
    regex_t re;
    assert_int_equal(regcomp(&re, "^([a-z][a-z0-9_-]{0,63}(\\.[a-z][a-z0-9_-]{0,63})*)?$",
                             REG_EXTENDED | REG_NOSUB), 0);
    const char alpha[] = "az09_-.A ";
    size_t na = sizeof alpha - 1;
    char s[8];
    unsigned checked = 0;
    for (size_t len = 0; len <= 4; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= na;
        for (size_t k = 0; k < total; k++) {
            size_t x = k;
            for (size_t i = 0; i < len; i++) {
                s[i] = alpha[x % na];
                x /= na;
            }
            s[len] = '\0';
            bool want = regexec(&re, s, 0, NULL, 0) == 0;
            if (tb_ns_valid(s, len) != want)
                fail_msg("namespace \"%s\": ours %d, regex %d", s, !want, want);
            checked++;
        }
    }
    assert_true(checked > 7000);
    regfree(&re);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_cases),
        cmocka_unit_test(test_part_lengths),
        cmocka_unit_test(test_whole_length_bound),
        cmocka_unit_test(test_parent),
        cmocka_unit_test(test_within),
        cmocka_unit_test(test_depth_and_parts),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_against_regex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
