/*
 * test_directory.c - unit tests for the broker's Thing directory.
 *
 * Why this exists: the directory is where "never lose the latest value"
 * lives; parents, sticky documentation URLs and growth past the hash
 * table's resize points must all hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "directory.h"

#define S(x) x, strlen(x)

static void
root_exists(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    assert_non_null(d);
    assert_int_equal(tb_directory_count(d), 1);
    tb_thing_t *root = tb_directory_find(d, "", 0);
    assert_non_null(root);
    assert_int_equal(root->index, 0);
    assert_int_equal(root->parent, TB_THING_NONE);
    assert_null(root->value);
    tb_directory_destroy(&d);
    assert_null(d);
    tb_directory_destroy(&d);
    tb_directory_destroy(NULL);
}

static void
parents_created_on_demand(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    tb_thing_t *t = tb_directory_get(d, S("spacemon.electronics.lab"));
    assert_non_null(t);
    assert_int_equal(tb_directory_count(d), 4);
    assert_string_equal(t->ns, "spacemon.electronics.lab");
    tb_thing_t *p = tb_directory_at(d, t->parent);
    assert_string_equal(p->ns, "spacemon.electronics");
    tb_thing_t *pp = tb_directory_at(d, p->parent);
    assert_string_equal(pp->ns, "spacemon");
    assert_int_equal(pp->parent, 0);
    assert_ptr_equal(tb_directory_find(d, S("spacemon.electronics")), p);
    /* a sibling reuses the existing parents */
    tb_thing_t *s = tb_directory_get(d, S("spacemon.shop"));
    assert_int_equal(tb_directory_count(d), 5);
    assert_int_equal(s->parent, pp->index);
    /* children list of spacemon holds both */
    int seen = 0;
    for (uint32_t c = pp->first_child; c != TB_THING_NONE; c = tb_directory_at(d, c)->next_sibling) {
        const char *n = tb_directory_at(d, c)->ns;
        if (!strcmp(n, "spacemon.shop") || !strcmp(n, "spacemon.electronics"))
            seen++;
    }
    assert_int_equal(seen, 2);
    /* "spacemonitor" is not a child of "spacemon" */
    tb_thing_t *m = tb_directory_get(d, S("spacemonitor"));
    assert_int_equal(m->parent, 0);
    assert_null(tb_directory_find(d, S("spacemon.none")));
    assert_ptr_equal(tb_directory_get(d, S("spacemon.shop")), s);
    tb_directory_destroy(&d);
}

static void
values_and_sticky_doc_url(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    tb_thing_t *t = tb_directory_get(d, S("a.b"));
    assert_int_equal(tb_directory_with_data(d), 0);
    assert_int_equal(tb_directory_set(d, t, S("{\"x\":1}"), S("1.5"), S("\"http://d\""), 10.0, 1), 0);
    assert_int_equal(tb_directory_with_data(d), 1);
    assert_memory_equal(tb_thing_data(t), "{\"x\":1}", 7);
    assert_int_equal(t->data_len, 7);
    assert_memory_equal(tb_thing_ts_json(t), "1.5", 3);
    assert_int_equal(t->ts_len, 3);
    size_t len;
    const char *u = tb_directory_doc_url(d, t, &len);
    assert_int_equal(len, 10);
    assert_memory_equal(u, "\"http://d\"", 10);
    /* an update without a URL keeps the old one */
    assert_int_equal(tb_directory_set(d, t, S("null"), S("2.25"), NULL, 0, 11.0, 2), 0);
    u = tb_directory_doc_url(d, t, &len);
    assert_memory_equal(u, "\"http://d\"", 10);
    assert_memory_equal(tb_thing_data(t), "null", 4);
    assert_int_equal(t->updates, 2);
    assert_int_equal(t->seq, 2);
    assert_true(t->received == 11.0);
    assert_int_equal(tb_directory_with_data(d), 1);
    /* a much larger value, then a small one again */
    char big[10000];
    memset(big, '1', sizeof big);
    assert_int_equal(tb_directory_set(d, t, big, sizeof big, S("3.0"), NULL, 0, 12.0, 3), 0);
    assert_memory_equal(tb_thing_data(t), big, sizeof big);
    assert_memory_equal(tb_thing_ts_json(t), "3.0", 3);
    assert_int_equal(tb_directory_set(d, t, S("2"), S("4.0"), NULL, 0, 12.0, 4), 0);
    assert_memory_equal(tb_thing_data(t), "2", 1);
    tb_thing_t *root = tb_directory_at(d, 0);
    assert_null(tb_directory_doc_url(d, root, &len));
    assert_int_equal(len, 0);
    tb_directory_destroy(&d);
}

static void
doc_urls_interned_and_released(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    char ns[32], url[64];
    for (int i = 0; i < 100; i++) {
        snprintf(ns, sizeof ns, "t%d", i);
        tb_thing_t *t = tb_directory_get(d, ns, strlen(ns));
        assert_int_equal(tb_directory_set(d, t, S("1"), S("1.0"), S("\"http://shared\""), 1, 1), 0);
    }
    assert_int_equal(tb_directory_doc_urls(d), 1);
    /* a stream of distinct URLs on one Thing does not accumulate */
    tb_thing_t *t = tb_directory_get(d, S("t0"));
    for (int i = 0; i < 1000; i++) {
        snprintf(url, sizeof url, "\"http://u/%d\"", i);
        assert_int_equal(tb_directory_set(d, t, S("1"), S("1.0"), url, strlen(url), 1, 1), 0);
    }
    assert_int_equal(tb_directory_doc_urls(d), 2);
    size_t len;
    const char *u = tb_directory_doc_url(d, t, &len);
    assert_string_equal(u, "\"http://u/999\"");
    u = tb_directory_doc_url(d, tb_directory_get(d, S("t1")), &len);
    assert_string_equal(u, "\"http://shared\"");
    tb_directory_destroy(&d);
}

static void
many_things_survive_growth(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    char ns[64];
    for (int i = 0; i < 50000; i++) {
        snprintf(ns, sizeof ns, "b%d.t%d", i % 97, i);
        tb_thing_t *t = tb_directory_get(d, ns, strlen(ns));
        assert_non_null(t);
        char v[32];
        int n = snprintf(v, sizeof v, "%d", i);
        assert_int_equal(tb_directory_set(d, t, v, (size_t)n, S("1.0"), NULL, 0, 1, (uint64_t)i), 0);
    }
    assert_int_equal(tb_directory_count(d), 1 + 97 + 50000);
    for (int i = 0; i < 50000; i += 7) {
        snprintf(ns, sizeof ns, "b%d.t%d", i % 97, i);
        tb_thing_t *t = tb_directory_find(d, ns, strlen(ns));
        assert_non_null(t);
        char v[32];
        int n = snprintf(v, sizeof v, "%d", i);
        assert_int_equal(t->data_len, n);
        assert_memory_equal(tb_thing_data(t), v, (size_t)n);
        char parent[16];
        snprintf(parent, sizeof parent, "b%d", i % 97);
        assert_string_equal(tb_directory_at(d, t->parent)->ns, parent);
    }
    /* iteration by index covers everything exactly once */
    size_t with = 0;
    for (uint32_t i = 0; i < tb_directory_count(d); i++) {
        tb_thing_t *t = tb_directory_at(d, i);
        assert_int_equal(t->index, i);
        if (t->value)
            with++;
    }
    assert_int_equal(with, 50000);
    assert_null(tb_directory_at(d, (uint32_t)tb_directory_count(d)));
    tb_directory_destroy(&d);
}

/* The hash table grows a few slots at a time (old and new tables side by
 * side): right after every insert, Things from any earlier moment are
 * still found, get() of an existing name never creates a second Thing,
 * and unknown names stay unknown. */
static void
lookups_while_the_table_grows(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    enum { N = 40000 };
    static uint32_t index_of[N];
    char ns[64];
    for (int i = 0; i < N; i++) {
        snprintf(ns, sizeof ns, "g.t%d", i);
        tb_thing_t *t = tb_directory_get(d, ns, strlen(ns));
        assert_non_null(t);
        index_of[i] = t->index;
        size_t count = tb_directory_count(d);
        int earlier[3] = { i / 2, i - i / 3, (int)((i * 7919u) % (unsigned)(i + 1)) };
        for (int k = 0; k < 3; k++) {
            snprintf(ns, sizeof ns, "g.t%d", earlier[k]);
            tb_thing_t *e = tb_directory_get(d, ns, strlen(ns));
            assert_non_null(e);
            assert_int_equal(e->index, index_of[earlier[k]]);
            assert_ptr_equal(tb_directory_find(d, ns, strlen(ns)), e);
        }
        assert_int_equal(tb_directory_count(d), count);
        snprintf(ns, sizeof ns, "g.u%d", i);
        assert_null(tb_directory_find(d, ns, strlen(ns)));
    }
    assert_int_equal(tb_directory_count(d), 2 + N);
    for (int i = 0; i < N; i++) {
        snprintf(ns, sizeof ns, "g.t%d", i);
        tb_thing_t *t = tb_directory_find(d, ns, strlen(ns));
        assert_non_null(t);
        assert_int_equal(t->index, index_of[i]);
    }
    tb_directory_destroy(&d);
}

/* A purge: the value and the sticky URL go, the Thing keeps its index
 * (dense-index cursors stay valid), and a new value brings it back. */
static void
clear_keeps_the_slot(void **state)
{
    (void)state;
    tb_directory_t *d = tb_directory_new();
    tb_thing_t *t = tb_directory_get(d, S("a.b"));
    assert_non_null(t);
    uint32_t index = t->index;
    assert_int_equal(tb_directory_set(d, t, S("[1]"), S("1.5"), S("\"http://x\""), 10.0, 7), 0);
    tb_thing_t *child = tb_directory_get(d, S("a.b.c"));
    assert_int_equal(tb_directory_set(d, child, S("2"), S("2.5"), S("\"http://x\""), 10.0, 8),
                     0);
    assert_int_equal(tb_directory_with_data(d), 2);
    size_t count = tb_directory_count(d);
    tb_directory_clear(d, t, 9);
    assert_null(t->value);
    assert_int_equal(t->seq, 9);
    assert_int_equal(tb_directory_with_data(d), 1);
    assert_int_equal(tb_directory_count(d), count);
    assert_ptr_equal(tb_directory_at(d, index), t);
    assert_ptr_equal(tb_directory_find(d, S("a.b")), t);
    size_t len = 1;
    assert_null(tb_directory_doc_url(d, t, &len));
    assert_int_equal(len, 0);
    assert_int_equal(tb_directory_doc_urls(d), 1);        /* the child still holds it */
    tb_directory_clear(d, child, 10);
    assert_int_equal(tb_directory_doc_urls(d), 0);
    tb_directory_clear(d, child, 11);                     /* no data: nothing happens */
    assert_int_equal(child->seq, 10);
    assert_int_equal(tb_directory_with_data(d), 0);
    assert_int_equal(tb_directory_set(d, t, S("3"), S("3.5"), NULL, 0, 12.0, 12), 0);
    assert_int_equal(tb_directory_with_data(d), 1);
    assert_int_equal(t->index, index);
    tb_directory_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(root_exists),
        cmocka_unit_test(parents_created_on_demand),
        cmocka_unit_test(values_and_sticky_doc_url),
        cmocka_unit_test(doc_urls_interned_and_released),
        cmocka_unit_test(many_things_survive_growth),
        cmocka_unit_test(lookups_while_the_table_grows),
        cmocka_unit_test(clear_keeps_the_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
