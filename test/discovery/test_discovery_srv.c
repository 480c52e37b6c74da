/*
 * test_discovery_srv.c - the pure pieces of discovery: RFC 2782 ordering
 * (with a seeded random source, over many draws), the DNS server list
 * syntax, URL text, the SRV name rule and the TTL reader on fixed DNS byte
 * vectors, hostile ones included.
 *
 * Why this exists: these decide which broker thousands of devices pick;
 * the distribution is checked against the weights with bounds loose enough
 * to never flake with the fixed seeds, tight enough to fail if weights were
 * ignored.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "tb_discovery.h"

static tb_srv_record_t
rec(const char *target, uint16_t prio, uint16_t weight, uint16_t port)
{
    tb_srv_record_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.target, sizeof r.target, "%s", target);
    r.priority = prio;
    r.weight = weight;
    r.port = port;
    return r;
}

static size_t
index_of(const tb_srv_record_t *recs, size_t n, const char *target)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(recs[i].target, target))
            return i;
    return n;
}

/* Lower priority always comes first whatever the weights. */
static void
test_priority_order(void **state)
{
    (void)state;
    uint64_t seed = 1;
    for (int draw = 0; draw < 500; draw++) {
        tb_srv_record_t r[5] = {
            rec("c", 30, 100, 1), rec("a", 10, 1, 1), rec("b2", 20, 5, 1),
            rec("b1", 20, 5, 1), rec("z", 65535, 65535, 1)
        };
        tb_srv_order(r, 5, tb_rng_splitmix, &seed);
        assert_string_equal(r[0].target, "a");
        assert_true(!strcmp(r[1].target, "b1") || !strcmp(r[1].target, "b2"));
        assert_true(!strcmp(r[2].target, "b1") || !strcmp(r[2].target, "b2"));
        assert_string_not_equal(r[1].target, r[2].target);
        assert_string_equal(r[3].target, "c");
        assert_string_equal(r[4].target, "z");
    }
}

/* 60/30/10 weights: first pick follows the weights; the whole permutation
 * follows the RFC's sequential rule (second place given the first). */
static void
test_weight_distribution(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed;
    const int draws = 20000;
    int first[3] = { 0, 0, 0 };
    int b_second_after_a = 0, a_first = 0;
    for (int i = 0; i < draws; i++) {
        tb_srv_record_t r[3] = { rec("a", 1, 60, 1), rec("b", 1, 30, 1), rec("c", 1, 10, 1) };
        tb_srv_order(r, 3, tb_rng_splitmix, &seed);
        first[r[0].target[0] - 'a']++;
        if (r[0].target[0] == 'a') {
            a_first++;
            b_second_after_a += r[1].target[0] == 'b';
        }
    }
    /* Expected 12000/6000/2000; sigma <= 70, bounds are > 5 sigma. */
    assert_in_range(first[0], 11600, 12400);
    assert_in_range(first[1], 5650, 6350);
    assert_in_range(first[2], 1750, 2250);
    /* After a, b should come next 30/40 = 75% of the time. */
    assert_in_range(b_second_after_a * 1000 / a_first, 720, 780);
}

/* The distribution over 2000 draws with the default (OS-seeded) source:
 * loose bounds (about 6 sigma) that still fail if weights are ignored
 * (uniform would give ~1000 each). */
static void
test_weight_distribution_default_rng(void **state)
{
    (void)state;
    int first_heavy = 0;
    for (int i = 0; i < 2000; i++) {
        tb_srv_record_t r[2] = { rec("light", 5, 1, 1), rec("heavy", 5, 3, 1) };
        tb_srv_order(r, 2, NULL, NULL);
        first_heavy += !strcmp(r[0].target, "heavy");
    }
    /* p = 3/4: 1500, sigma 19. */
    assert_in_range(first_heavy, 1380, 1620);
}

/* Weight 0 records are picked rarely but not never when others have weight;
 * all-zero groups are chosen uniformly. */
static void
test_weight_zero(void **state)
{
    (void)state;
    uint64_t seed = 42;
    int zero_first = 0;
    for (int i = 0; i < 20000; i++) {
        tb_srv_record_t r[2] = { rec("w", 1, 99, 1), rec("zero", 1, 0, 1) };
        tb_srv_order(r, 2, tb_rng_splitmix, &seed);
        zero_first += !strcmp(r[0].target, "zero");
    }
    /* RFC rule: picked only when the draw in [0, 99] is 0: 1%, 200 +- 14;
     * the weighted one keeps the rest. */
    assert_in_range(zero_first, 120, 290);

    int counts[3] = { 0, 0, 0 };
    for (int i = 0; i < 6000; i++) {
        tb_srv_record_t r[3] = { rec("a", 7, 0, 1), rec("b", 7, 0, 1), rec("c", 7, 0, 1) };
        tb_srv_order(r, 3, tb_rng_splitmix, &seed);
        counts[r[0].target[0] - 'a']++;
        assert_int_equal(index_of(r, 3, "a") + index_of(r, 3, "b") + index_of(r, 3, "c"), 3);
    }
    for (int k = 0; k < 3; k++)
        assert_in_range(counts[k], 1800, 2200);
}

/* Same seed, same order: the injection really controls the choice. */
static void
test_seed_reproducible(void **state)
{
    (void)state;
    char a[64] = "", b[64] = "";
    for (int pass = 0; pass < 2; pass++) {
        uint64_t seed = 777;
        char *out = pass ? b : a;
        size_t used = 0;
        for (int i = 0; i < 10; i++) {
            tb_srv_record_t r[4] = { rec("p", 1, 10, 1), rec("q", 1, 20, 1),
                                     rec("r", 1, 30, 1), rec("s", 1, 40, 1) };
            tb_srv_order(r, 4, tb_rng_splitmix, &seed);
            for (int k = 0; k < 4; k++)
                out[used++] = r[k].target[0];
            out[used] = '\0';
        }
    }
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 40);
}

static void
test_order_degenerate(void **state)
{
    (void)state;
    tb_srv_order(NULL, 3, NULL, NULL);
    tb_srv_record_t one = rec("only", 1, 0, 7954);
    tb_srv_order(&one, 1, NULL, NULL);
    assert_string_equal(one.target, "only");
}

/* A constant source exercises the edges of the running-sum rule. */
static uint32_t
rng_zero(void *arg)
{
    (void)arg;
    return 0;
}

static void
test_running_sum_edges(void **state)
{
    (void)state;
    /* r = 0: the zero-weight record (sorted first in the group) wins. */
    tb_srv_record_t r[3] = { rec("x", 1, 5, 1), rec("zero", 1, 0, 1), rec("y", 1, 5, 1) };
    tb_srv_order(r, 3, rng_zero, NULL);
    assert_string_equal(r[0].target, "zero");
    assert_string_equal(r[1].target, "x");
    assert_string_equal(r[2].target, "y");
    /* Without a zero weight the lowest draw lands on the first record and
     * the highest on the last: every record is reachable. */
    tb_srv_record_t q[2] = { rec("p", 1, 1, 1), rec("q", 1, 1, 1) };
    tb_srv_order(q, 2, rng_zero, NULL);
    assert_string_equal(q[0].target, "p");
}

static void
test_rng_upto_bounds(void **state)
{
    (void)state;
    uint64_t seed = 9;
    int seen[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < 4000; i++) {
        uint32_t v = tb_rng_upto(tb_rng_splitmix, &seed, 3);
        assert_true(v <= 3);
        seen[v]++;
    }
    for (int k = 0; k < 4; k++)
        assert_in_range(seen[k], 850, 1150);
    assert_int_equal(tb_rng_upto(tb_rng_splitmix, &seed, 0), 0);
}

static void
test_servers_parse_good(void **state)
{
    (void)state;
    tb_dns_server_t s[8];
    char err[256];
    int n = tb_dns_servers_parse("127.0.0.1:5353, [::1]:53000,10.1.2.3,::1", s, 8, err, sizeof err);
    assert_int_equal(n, 4);
    assert_int_equal(s[0].family, AF_INET);
    assert_int_equal(s[0].port, 5353);
    assert_string_equal(s[0].text, "127.0.0.1:5353");
    assert_int_equal(s[1].family, AF_INET6);
    assert_int_equal(s[1].port, 53000);
    assert_string_equal(s[1].text, "[::1]:53000");
    assert_int_equal(s[2].port, 53);
    assert_string_equal(s[2].text, "10.1.2.3:53");
    assert_int_equal(s[3].family, AF_INET6);
    assert_int_equal(s[3].port, 53);
    static const uint8_t lo4[4] = { 127, 0, 0, 1 };
    assert_memory_equal(s[0].addr, lo4, 4);
    assert_int_equal(s[1].addr[15], 1);
}

static void
test_servers_parse_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "localhost:53", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:53x", "[::1]53", "[::1]:", "[::1", "::1:53:zz",
        "127.0.0.1,,127.0.0.2", "127.0.0.1,", "1.2.3.4.5", "256.0.0.1",
        "[127.0.0.1]:53", "127.0.0.1:123456", " , ",
        "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:53",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tb_dns_server_t s[4];
        char err[256] = "";
        int rc = tb_dns_servers_parse(bad[i], s, 4, err, sizeof err);
        if (rc != TB_ERR_BAD_URL && rc != TB_ERR_INVALID_ARG)
            fail_msg("accepted bad server list \"%s\" (rc %d)", bad[i], rc);
        assert_true(strlen(err) > 0);
    }
    tb_dns_server_t s[2];
    char err[256] = "";
    assert_int_equal(tb_dns_servers_parse("1.1.1.1,2.2.2.2,3.3.3.3", s, 2, err, sizeof err),
                     TB_ERR_BAD_URL);
    assert_non_null(strstr(err, "too many"));
    assert_int_equal(tb_dns_servers_parse(NULL, s, 2, err, sizeof err), TB_ERR_INVALID_ARG);
    /* The message names the bad item in plain words. */
    assert_int_equal(tb_dns_servers_parse("127.0.0.1:53,dns.example:53", s, 2, err, sizeof err),
                     TB_ERR_BAD_URL);
    assert_non_null(strstr(err, "dns.example:53"));
}

static void
test_format_url(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(tb_format_url(buf, sizeof buf, "tcp", "192.0.2.7", 7954), TB_OK);
    assert_string_equal(buf, "tcp://192.0.2.7:7954");
    assert_int_equal(tb_format_url(buf, sizeof buf, "tcp", "2001:db8::1", 7955), TB_OK);
    assert_string_equal(buf, "tcp://[2001:db8::1]:7955");
    assert_int_equal(tb_format_url(buf, sizeof buf, "tcp", "broker.example.org", 7956), TB_OK);
    assert_string_equal(buf, "tcp://broker.example.org:7956");
    assert_int_equal(tb_format_url(buf, 10, "tcp", "192.0.2.7", 7954), TB_ERR_INVALID_ARG);
    assert_string_equal(buf, "");
    assert_int_equal(tb_format_url(buf, sizeof buf, "tcp", "", 1), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_format_url(NULL, 3, "tcp", "a", 1), TB_ERR_INVALID_ARG);
}

static void
test_srv_name(void **state)
{
    (void)state;
    char buf[300];
    assert_int_equal(tb_srv_name("example.org", buf, sizeof buf), TB_OK);
    assert_string_equal(buf, "_thingsbus._tcp.example.org");
    assert_int_equal(tb_srv_name("example.org.", buf, sizeof buf), TB_OK);
    assert_string_equal(buf, "_thingsbus._tcp.example.org");
    assert_int_equal(tb_srv_name("_thingsbus._tcp.example.org", buf, sizeof buf), TB_OK);
    assert_string_equal(buf, "_thingsbus._tcp.example.org");
    assert_int_equal(tb_srv_name("lan", buf, sizeof buf), TB_OK);
    assert_string_equal(buf, "_thingsbus._tcp.lan");
    static const char *bad[] = { "", ".", "a..b", ".a", "a b", "a/b", "exa\xc3\xa9mple.org",
                                 "a;b", "x\n" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tb_srv_name(bad[i], buf, sizeof buf) != TB_ERR_INVALID_ARG)
            fail_msg("accepted zone \"%s\"", bad[i]);
    char longlabel[80];
    memset(longlabel, 'a', 64);
    longlabel[64] = '\0';
    assert_int_equal(tb_srv_name(longlabel, buf, sizeof buf), TB_ERR_INVALID_ARG);
    char longname[300];
    for (int i = 0; i < 290; i++)
        longname[i] = (i % 10 == 9) ? '.' : 'a';
    longname[290] = '\0';
    assert_int_equal(tb_srv_name(longname, buf, sizeof buf), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_srv_name(NULL, buf, sizeof buf), TB_ERR_INVALID_ARG);
}

/* A real-shaped answer: question _thingsbus._tcp.ex, two SRV answers with
 * TTLs 300 and 120 (second name compressed), then an A record with TTL 5
 * which must not count for type SRV. */
static const unsigned char srv_answer[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
    /* question at 12 */
    10, '_', 't', 'h', 'i', 'n', 'g', 's', 'b', 'u', 's',
    4, '_', 't', 'c', 'p', 2, 'e', 'x', 0,
    0x00, 0x21, 0x00, 0x01,
    /* answer 1: pointer to 12, SRV IN ttl 300 */
    0xC0, 0x0C, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x0A,
    0x00, 0x0A, 0x00, 0x3C, 0x1F, 0x12, 0x01, 'b', 0xC0, 0x1C,
    /* answer 2: ttl 120 */
    0xC0, 0x0C, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x0A,
    0x00, 0x14, 0x00, 0x0A, 0x1F, 0x1C, 0x01, 'c', 0xC0, 0x1C,
    /* answer 3: A record, ttl 5 */
    0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x04,
    127, 0, 0, 1,
};

static void
test_min_ttl(void **state)
{
    (void)state;
    uint32_t ttl = 0;
    assert_int_equal(tb_dns_min_ttl(srv_answer, sizeof srv_answer, 33, &ttl), TB_OK);
    assert_int_equal(ttl, 120);
    assert_int_equal(tb_dns_min_ttl(srv_answer, sizeof srv_answer, 1, &ttl), TB_OK);
    assert_int_equal(ttl, 5);
    assert_int_equal(tb_dns_min_ttl(srv_answer, sizeof srv_answer, 28, &ttl), TB_ERR_NO_DATA);
    /* Every truncation is malformed (or, before the answers, has none). */
    for (size_t len = 0; len < sizeof srv_answer; len++) {
        int rc = tb_dns_min_ttl(srv_answer, len, 33, &ttl);
        assert_true(rc == TB_ERR_BAD_MESSAGE);
    }
}

static void
test_min_ttl_hostile(void **state)
{
    (void)state;
    uint32_t ttl;
    unsigned char m[sizeof srv_answer];
    /* Huge counts: runs off the end, must stop. */
    memcpy(m, srv_answer, sizeof m);
    m[6] = 0xFF;
    m[7] = 0xFF;
    assert_int_equal(tb_dns_min_ttl(m, sizeof m, 33, &ttl), TB_ERR_BAD_MESSAGE);
    /* A label length pointing past the end. */
    memcpy(m, srv_answer, sizeof m);
    m[12] = 63;
    assert_int_equal(tb_dns_min_ttl(m, sizeof m, 33, &ttl), TB_ERR_BAD_MESSAGE);
    /* Reserved label type 0x40. */
    memcpy(m, srv_answer, sizeof m);
    m[12] = 0x41;
    assert_int_equal(tb_dns_min_ttl(m, sizeof m, 33, &ttl), TB_ERR_BAD_MESSAGE);
    /* rdlength beyond the message. */
    memcpy(m, srv_answer, sizeof m);
    m[46] = 0xFF;
    assert_int_equal(tb_dns_min_ttl(m, sizeof m, 33, &ttl), TB_ERR_BAD_MESSAGE);
    /* A TTL with the top bit set counts as 0 (RFC 2181). */
    memcpy(m, srv_answer, sizeof m);
    m[42] = 0x80;
    assert_int_equal(tb_dns_min_ttl(m, sizeof m, 33, &ttl), TB_OK);
    assert_int_equal(ttl, 0);
    /* A name made of 200 one-byte labels: bounded, refused. */
    unsigned char deep[12 + 400 + 1 + 4];
    memset(deep, 0, sizeof deep);
    deep[5] = 1;
    for (int i = 0; i < 200; i++) {
        deep[12 + 2 * i] = 1;
        deep[13 + 2 * i] = 'a';
    }
    assert_int_equal(tb_dns_min_ttl(deep, sizeof deep, 33, &ttl), TB_ERR_BAD_MESSAGE);
    assert_int_equal(tb_dns_min_ttl(NULL, 10, 33, &ttl), TB_ERR_INVALID_ARG);
}

static void
test_endpoints_free_dup(void **state)
{
    (void)state;
    tb_endpoints_free(NULL);
    tb_endpoints_t *none = NULL;
    tb_endpoints_free(&none);
    assert_null(tb_endpoints_dup(NULL));
    tb_endpoints_t *e = calloc(1, sizeof *e);
    assert_non_null(e);
    e->count = 2;
    e->items = calloc(2, sizeof *e->items);
    assert_non_null(e->items);
    snprintf(e->items[1].url, sizeof e->items[1].url, "tcp://127.0.0.1:1");
    e->min_ttl = 9;
    tb_endpoints_t *d = tb_endpoints_dup(e);
    assert_non_null(d);
    assert_ptr_not_equal(d->items, e->items);
    assert_string_equal(d->items[1].url, "tcp://127.0.0.1:1");
    assert_int_equal(d->min_ttl, 9);
    tb_endpoints_free(&e);
    assert_null(e);
    tb_endpoints_free(&d);
}

/* Argument checks of the resolver and of tb_discover, no network. */
static void
test_resolver_args(void **state)
{
    (void)state;
    char err[512] = "";
    tb_endpoints_t *eps = (tb_endpoints_t *)1;
    assert_int_equal(tb_discover("example.test", "not-an-address", TB_SERVICE_PUB, 100, &eps,
                                 err, sizeof err), TB_ERR_BAD_URL);
    assert_null(eps);
    assert_non_null(strstr(err, "not-an-address"));
    assert_int_equal(tb_discover("bad zone", "127.0.0.1:9", TB_SERVICE_PUB, 100, &eps,
                                 err, sizeof err), TB_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "bad zone"));
    assert_int_equal(tb_discover("x.test", NULL, TB_SERVICE_PUB, 100, NULL, err, sizeof err),
                     TB_ERR_INVALID_ARG);

    tb_resolver_t *res = NULL;
    assert_int_equal(tb_resolver_new(&res, "127.0.0.1:9", err, sizeof err), TB_OK);
    assert_false(tb_resolver_busy(res));
    assert_int_equal(tb_resolver_timeout_ms(res), -1);
    struct pollfd fds[4];
    assert_int_equal(tb_resolver_pollfds(res, fds, 4), 0);
    assert_int_equal(tb_resolver_result(res, &eps, err, sizeof err), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_resolver_start(res, "", TB_SERVICE_PUB, 100), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_resolver_result(res, &eps, err, sizeof err), TB_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "invalid zone"));
    assert_int_equal(tb_resolver_start(res, "x.test", (tb_service_t)7, 100), TB_ERR_INVALID_ARG);
    tb_resolver_process(res, NULL, 0);
    tb_resolver_set_rng(res, NULL, NULL);
    tb_resolver_destroy(&res);
    assert_null(res);
    tb_resolver_destroy(&res);
    tb_resolver_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_order),
        cmocka_unit_test(test_weight_distribution),
        cmocka_unit_test(test_weight_distribution_default_rng),
        cmocka_unit_test(test_weight_zero),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_order_degenerate),
        cmocka_unit_test(test_running_sum_edges),
        cmocka_unit_test(test_rng_upto_bounds),
        cmocka_unit_test(test_servers_parse_good),
        cmocka_unit_test(test_servers_parse_bad),
        cmocka_unit_test(test_format_url),
        cmocka_unit_test(test_srv_name),
        cmocka_unit_test(test_min_ttl),
        cmocka_unit_test(test_min_ttl_hostile),
        cmocka_unit_test(test_endpoints_free_dup),
        cmocka_unit_test(test_resolver_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
