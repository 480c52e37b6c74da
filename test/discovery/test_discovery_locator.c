/*
 * test_discovery_locator.c - the failover and re-resolution policy of
 * tb_locator_t, on a fake clock.
 *
 * Why this exists: these rules run for months inside every adaptor; a
 * mistake shows up as a device stuck on a dead broker or as a DNS query
 * storm.  Each rule is pinned here with exact times.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tb_discovery.h"

/* A list "host:prio" ... with addresses 10.0.0.<i+1>, port 7954, TTL ttl. */
static tb_endpoints_t *
make_list(uint32_t ttl, size_t n, const char **hosts, const uint16_t *prios)
{
    tb_endpoints_t *e = calloc(1, sizeof *e);
    assert_non_null(e);
    e->items = calloc(n ? n : 1, sizeof *e->items);
    assert_non_null(e->items);
    e->count = n;
    e->min_ttl = ttl;
    for (size_t i = 0; i < n; i++) {
        tb_endpoint_t *p = &e->items[i];
        snprintf(p->host, sizeof p->host, "%s", hosts[i]);
        snprintf(p->address, sizeof p->address, "10.0.0.%zu", i + 1);
        /* Same host name = same address, so re-listed hosts compare equal. */
        for (size_t k = 0; k < i; k++)
            if (!strcmp(hosts[k], hosts[i]))
                snprintf(p->address, sizeof p->address, "10.0.0.%zu", k + 1);
        p->port = 7954;
        p->priority = prios[i];
        p->ttl = ttl;
        snprintf(p->url, sizeof p->url, "tcp://%s:7954", p->address);
    }
    return e;
}

static void
test_fresh_locator_wants_lookup(void **state)
{
    (void)state;
    tb_locator_t *loc = tb_locator_new(0);
    assert_non_null(loc);
    assert_null(tb_locator_current(loc));
    assert_true(tb_locator_should_resolve(loc, 1000));
    tb_locator_resolving(loc, 1000);
    assert_false(tb_locator_should_resolve(loc, 1000));
    assert_int_equal(tb_locator_timeout_ms(loc, 1000), -1);
    tb_locator_destroy(&loc);
    assert_null(loc);
    tb_locator_destroy(&loc);
    tb_locator_destroy(NULL);
}

static void
test_failover_order_and_wrap(void **state)
{
    (void)state;
    const char *h[] = { "a", "b", "c" };
    const uint16_t p[] = { 10, 10, 20 };
    tb_locator_t *loc = tb_locator_new(30000);
    assert_true(tb_locator_set_endpoints(loc, make_list(300, 3, h, p), 0));
    assert_string_equal(tb_locator_current(loc)->host, "a");
    assert_string_equal(tb_locator_failed(loc, 100)->host, "b");
    assert_string_equal(tb_locator_failed(loc, 200)->host, "c");
    assert_string_equal(tb_locator_failed(loc, 300)->host, "a");
    assert_int_equal(tb_locator_endpoints(loc)->count, 3);
    tb_locator_destroy(&loc);
}

/* Unreachable for the configured time since the FIRST failure (moving on
 * does not restart the clock); being connected stops it. */
static void
test_unreachable_triggers_lookup(void **state)
{
    (void)state;
    const char *h[] = { "a", "b" };
    const uint16_t p[] = { 1, 1 };
    tb_locator_t *loc = tb_locator_new(30000);
    tb_locator_set_endpoints(loc, make_list(3600, 2, h, p), 0);
    tb_locator_connected(loc, 10);
    assert_false(tb_locator_should_resolve(loc, 20000));
    tb_locator_failed(loc, 20000);
    tb_locator_failed(loc, 35000);
    assert_false(tb_locator_should_resolve(loc, 49999));
    assert_int_equal(tb_locator_timeout_ms(loc, 49000), 1000);
    assert_true(tb_locator_should_resolve(loc, 50000));
    /* Reconnecting before the deadline cancels it. */
    tb_locator_connected(loc, 50000);
    assert_false(tb_locator_should_resolve(loc, 60000));
    tb_locator_destroy(&loc);

    /* Default is 30 s. */
    loc = tb_locator_new(0);
    tb_locator_set_endpoints(loc, make_list(3600, 2, h, p), 0);
    tb_locator_failed(loc, 1000);
    assert_false(tb_locator_should_resolve(loc, 30999));
    assert_true(tb_locator_should_resolve(loc, 31000));
    tb_locator_destroy(&loc);
}

static void
test_ttl_expiry(void **state)
{
    (void)state;
    const char *h[] = { "a" };
    const uint16_t p[] = { 1 };
    tb_locator_t *loc = tb_locator_new(30000);
    tb_locator_set_endpoints(loc, make_list(60, 1, h, p), 1000);
    tb_locator_connected(loc, 1100);
    assert_false(tb_locator_should_resolve(loc, 60999));
    assert_int_equal(tb_locator_timeout_ms(loc, 50000), 11000);
    assert_true(tb_locator_should_resolve(loc, 61000));
    /* TTL 0 is floored at 5 s: no query storm. */
    tb_locator_set_endpoints(loc, make_list(0, 1, h, p), 61000);
    assert_false(tb_locator_should_resolve(loc, 65999));
    assert_true(tb_locator_should_resolve(loc, 66000));
    tb_locator_destroy(&loc);
}

/* A working broker still among the best is kept on re-resolution; a better
 * (lower priority number) one that came back is moved to. */
static void
test_sticky_and_recovery(void **state)
{
    (void)state;
    const char *h1[] = { "a", "b" };
    const uint16_t p1[] = { 10, 10 };
    tb_locator_t *loc = tb_locator_new(30000);
    tb_locator_set_endpoints(loc, make_list(60, 2, h1, p1), 0);
    tb_locator_failed(loc, 10);                 /* a down: now on b */
    tb_locator_connected(loc, 20);
    assert_string_equal(tb_locator_current(loc)->host, "b");
    /* Same records, new random order: stay on b. */
    const char *h2[] = { "a", "b" };
    assert_false(tb_locator_set_endpoints(loc, make_list(60, 2, h2, p1), 60000));
    assert_string_equal(tb_locator_current(loc)->host, "b");
    /* b now only a standby (priority 20) and a new primary c: move. */
    const char *h3[] = { "c", "b" };
    const uint16_t p3[] = { 5, 20 };
    assert_true(tb_locator_set_endpoints(loc, make_list(60, 2, h3, p3), 120000));
    assert_string_equal(tb_locator_current(loc)->host, "c");
    /* Not connected: a new list always restarts from its first item. */
    const char *h4[] = { "d", "c" };
    const uint16_t p4[] = { 1, 1 };
    assert_true(tb_locator_set_endpoints(loc, make_list(60, 2, h4, p4), 180000));
    assert_string_equal(tb_locator_current(loc)->host, "d");
    tb_locator_destroy(&loc);
}

/* A lookup made because the broker was down gives the new list a full
 * period: no immediate second lookup. */
static void
test_new_list_restarts_unreachable_clock(void **state)
{
    (void)state;
    const char *h[] = { "a" };
    const uint16_t p[] = { 1 };
    tb_locator_t *loc = tb_locator_new(10000);
    tb_locator_set_endpoints(loc, make_list(3600, 1, h, p), 0);
    tb_locator_failed(loc, 1000);
    assert_true(tb_locator_should_resolve(loc, 11000));
    tb_locator_resolving(loc, 11000);
    assert_false(tb_locator_should_resolve(loc, 11000));
    const char *h2[] = { "z" };
    assert_true(tb_locator_set_endpoints(loc, make_list(3600, 1, h2, p), 11500));
    assert_false(tb_locator_should_resolve(loc, 11500));
    assert_false(tb_locator_should_resolve(loc, 21499));
    assert_true(tb_locator_should_resolve(loc, 21500));   /* z still not connected */
    tb_locator_destroy(&loc);
}

/* Failed lookups keep the old list and back off 1, 2, 4 ... s up to the
 * unreachable delay; a success resets the back-off. */
static void
test_lookup_failure_backoff(void **state)
{
    (void)state;
    tb_locator_t *loc = tb_locator_new(10000);
    uint64_t now = 0;
    const uint32_t expect[] = { 1000, 2000, 4000, 8000, 10000, 10000 };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        assert_true(tb_locator_should_resolve(loc, now));
        tb_locator_resolving(loc, now);
        tb_locator_resolve_failed(loc, now);
        assert_int_equal(tb_locator_timeout_ms(loc, now), expect[i]);
        now += expect[i];
    }
    assert_null(tb_locator_current(loc));
    const char *h[] = { "a" };
    const uint16_t p[] = { 1 };
    tb_locator_set_endpoints(loc, make_list(100, 1, h, p), now);
    tb_locator_connected(loc, now);
    assert_int_equal(tb_locator_timeout_ms(loc, now), 100000);
    /* TTL expiry, lookup fails: old list kept, retry in 1 s. */
    now += 100000;
    tb_locator_resolving(loc, now);
    tb_locator_resolve_failed(loc, now);
    assert_string_equal(tb_locator_current(loc)->host, "a");
    assert_int_equal(tb_locator_timeout_ms(loc, now), 1000);
    /* An empty answer counts as failure. */
    now += 1000;
    tb_endpoints_t *empty = make_list(100, 0, h, p);
    assert_false(tb_locator_set_endpoints(loc, empty, now));
    assert_string_equal(tb_locator_current(loc)->host, "a");
    assert_int_equal(tb_locator_timeout_ms(loc, now), 2000);
    assert_false(tb_locator_set_endpoints(loc, NULL, now));
    tb_locator_destroy(&loc);
}

static void
test_null_safety(void **state)
{
    (void)state;
    assert_null(tb_locator_current(NULL));
    assert_null(tb_locator_endpoints(NULL));
    assert_null(tb_locator_failed(NULL, 0));
    tb_locator_connected(NULL, 0);
    tb_locator_resolve_failed(NULL, 0);
    tb_locator_resolving(NULL, 0);
    assert_false(tb_locator_should_resolve(NULL, 0));
    const char *h[] = { "a" };
    const uint16_t p[] = { 1 };
    assert_false(tb_locator_set_endpoints(NULL, make_list(1, 1, h, p), 0));   /* freed */
    tb_locator_t *loc = tb_locator_new(0);
    assert_null(tb_locator_failed(loc, 5));     /* no list yet */
    tb_locator_destroy(&loc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_locator_wants_lookup),
        cmocka_unit_test(test_failover_order_and_wrap),
        cmocka_unit_test(test_unreachable_triggers_lookup),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_sticky_and_recovery),
        cmocka_unit_test(test_new_list_restarts_unreachable_clock),
        cmocka_unit_test(test_lookup_failure_backoff),
        cmocka_unit_test(test_null_safety),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
