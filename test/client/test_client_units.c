/*
 * test_client_units.c - unit tests of libthingsbus-client's pieces: the
 * mirror tree, the compact JSON writer and the broker-message decoder.
 *
 * Why this exists: these pieces carry the rules the integration tests can
 * only see from outside (intermediate Things, sorted children, the
 * documentation URL that sticks, shortest reals, one named reason per bad
 * message), and are quick to check exhaustively in-process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_client_internal.h"
#include "tb_ns.h"

/* ------------------------------------------------------------ mirror */

static void
test_mirror_creates_ancestors(void **state)
{
    (void)state;
    tb_mirror_t *m = tb_mirror_new();
    assert_non_null(m);
    assert_int_equal(tb_mirror_set(m, "a.b.c", strdup("1"), 5.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_count(m), 3);
    tb_thing_t t;
    assert_int_equal(tb_mirror_get(m, "a.b", &t), TB_OK);
    assert_string_equal(t.ns, "a.b");
    assert_null(t.data);                       /* intermediate */
    tb_thing_clear(&t);
    assert_int_equal(tb_mirror_get(m, "a.b.c", &t), TB_OK);
    assert_string_equal(t.data, "1");
    assert_true(t.ts == 5.0);
    tb_thing_clear(&t);
    assert_int_equal(tb_mirror_get(m, "zz", &t), TB_OK);   /* unknown: no data */
    assert_null(t.data);
    tb_thing_clear(&t);
    /* a parent getting data later keeps its children */
    assert_int_equal(tb_mirror_set(m, "a", strdup("{}"), 6.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_count(m), 3);
    char **kids;
    size_t n;
    assert_int_equal(tb_mirror_children(m, "a", &kids, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(kids[0], "a.b");
    assert_null(kids[1]);
    tb_client_strv_free(&kids);
    assert_null(kids);
    tb_mirror_destroy(&m);
    assert_null(m);
    tb_mirror_destroy(&m);
}

static void
test_mirror_children_sorted_and_subtree_order(void **state)
{
    (void)state;
    tb_mirror_t *m = tb_mirror_new();
    const char *names[] = { "s.c", "s.a.z", "s.b", "s.a", "t", "s.a.b" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(tb_mirror_set(m, names[i], strdup("0"), 1.0, NULL, NULL), TB_OK);
    char **kids;
    size_t n;
    assert_int_equal(tb_mirror_children(m, "s", &kids, &n), TB_OK);
    assert_int_equal(n, 3);
    assert_string_equal(kids[0], "s.a");
    assert_string_equal(kids[1], "s.b");
    assert_string_equal(kids[2], "s.c");
    tb_client_strv_free(&kids);
    assert_int_equal(tb_mirror_children(m, "", &kids, &n), TB_OK);
    assert_int_equal(n, 2);
    tb_client_strv_free(&kids);
    tb_thing_list_t l;
    assert_int_equal(tb_mirror_subtree(m, "s", &l), TB_OK);
    const char *want[] = { "s", "s.a", "s.a.b", "s.a.z", "s.b", "s.c" };
    assert_int_equal(l.count, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(l.items[i].ns, want[i]);
    assert_null(l.items[0].data);
    for (size_t i = 0; i < l.count; i++)
        tb_thing_clear(&l.items[i]);
    free(l.items);
    assert_int_equal(tb_mirror_subtree(m, "nope", &l), TB_OK);
    assert_int_equal(l.count, 0);
    tb_mirror_destroy(&m);
}

/* A purge (protocol v2) takes the data; the Thing goes when it has no
 * children, and so do the intermediate ancestors it alone kept. */
static void
test_mirror_remove_prunes(void **state)
{
    (void)state;
    tb_mirror_t *m = tb_mirror_new();
    tb_thing_t t;
    char **kids;
    size_t n;
    assert_int_equal(tb_mirror_set(m, "a.b.c", strdup("1"), 5.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_set(m, "a.x", strdup("2"), 5.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_set(m, "k", strdup("3"), 5.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_set(m, "k.child", strdup("4"), 5.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_count(m), 6);
    assert_false(tb_mirror_remove(m, "a.b"));         /* intermediate: no data */
    assert_false(tb_mirror_remove(m, "nope"));
    assert_true(tb_mirror_remove(m, "a.b.c"));
    assert_false(tb_mirror_remove(m, "a.b.c"));       /* only once */
    assert_int_equal(tb_mirror_count(m), 4);          /* a.b went with it, a stays */
    assert_int_equal(tb_mirror_children(m, "a", &kids, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(kids[0], "a.x");
    tb_client_strv_free(&kids);
    assert_true(tb_mirror_remove(m, "a.x"));          /* now a is empty: gone too */
    assert_int_equal(tb_mirror_children(m, "", &kids, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(kids[0], "k");
    tb_client_strv_free(&kids);
    assert_true(tb_mirror_remove(m, "k"));            /* has a child: stays, no data */
    assert_int_equal(tb_mirror_get(m, "k", &t), TB_OK);
    assert_null(t.data);
    tb_thing_clear(&t);
    assert_int_equal(tb_mirror_count(m), 2);
    /* and it can come back */
    assert_int_equal(tb_mirror_set(m, "a.b.c", strdup("5"), 6.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_get(m, "a.b.c", &t), TB_OK);
    assert_string_equal(t.data, "5");
    tb_thing_clear(&t);
    tb_mirror_destroy(&m);
}

static void
test_mirror_doc_url_sticks(void **state)
{
    (void)state;
    tb_mirror_t *m = tb_mirror_new();
    const char *doc = NULL;
    assert_int_equal(tb_mirror_set(m, "x", strdup("1"), 1.0, "http://a", &doc), TB_OK);
    assert_string_equal(doc, "http://a");
    assert_int_equal(tb_mirror_set(m, "x", strdup("2"), 2.0, NULL, &doc), TB_OK);
    assert_string_equal(doc, "http://a");
    assert_int_equal(tb_mirror_set(m, "x", strdup("3"), 3.0, "", &doc), TB_OK);
    assert_string_equal(doc, "http://a");
    assert_int_equal(tb_mirror_set(m, "x", strdup("4"), 4.0, "http://b", &doc), TB_OK);
    assert_string_equal(doc, "http://b");
    tb_thing_t t;
    tb_mirror_get(m, "x", &t);
    assert_string_equal(t.data, "4");
    assert_string_equal(t.documentation_url, "http://b");
    tb_thing_clear(&t);
    tb_mirror_destroy(&m);
}

static void
test_mirror_longest_namespace(void **state)
{
    (void)state;
    /* 512 parts of one letter: 1023 bytes, the deepest tree a valid name
     * can make; creation is iterative, so no stack trouble */
    char ns[TB_NS_MAX_LEN + 1];
    size_t len = 0;
    while (len + 2 <= TB_NS_MAX_LEN) {
        if (len)
            ns[len++] = '.';
        ns[len++] = 'q';
    }
    ns[len] = '\0';
    assert_true(tb_ns_valid(ns, len));
    tb_mirror_t *m = tb_mirror_new();
    assert_int_equal(tb_mirror_set(m, ns, strdup("[]"), 1.0, NULL, NULL), TB_OK);
    assert_int_equal(tb_mirror_count(m), (len + 1) / 2);
    tb_thing_list_t l;
    assert_int_equal(tb_mirror_subtree(m, "", &l), TB_OK);
    assert_int_equal(l.count, (len + 1) / 2 + 1);
    assert_string_equal(l.items[l.count - 1].data, "[]");
    for (size_t i = 0; i < l.count; i++)
        tb_thing_clear(&l.items[i]);
    free(l.items);
    tb_mirror_destroy(&m);
}

/* --------------------------------------------------------- json text */

static void
check_compact(const char *in, const char *want)
{
    json_error_t e;
    json_t *v = json_loads(in, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    char *got = tb_client_json_text(v);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    json_decref(v);
}

static void
test_json_compact(void **state)
{
    (void)state;
    check_compact("{ \"b\" : 0.1, \"a\" : [1.0, -2e-05, 1e300] }", "{\"b\":0.1,\"a\":[1.0,-2e-05,1e+300]}");
    check_compact("[true, false, null, -9223372036854775808, 9223372036854775807]",
                  "[true,false,null,-9223372036854775808,9223372036854775807]");
    check_compact("\"tab\\t quote\\\" back\\\\ ctl\\u0001 \\u00e9 \\ud83d\\ude00\"",
                  "\"tab\\t quote\\\" back\\\\ ctl\\u0001 \xc3\xa9 \xf0\x9f\x98\x80\"");
    check_compact("{}", "{}");
    check_compact("[[], {\"\": []}]", "[[],{\"\":[]}]");
    check_compact("114.361669921875", "114.361669921875");
    check_compact("0.14315257352941177", "0.14315257352941177");
}

/* ----------------------------------------------------------- decoder */

typedef struct {
    int  items, rejects, snapshot_ends;
    tb_client_reject_t last;
    char ns[64], data[128], doc[64];
    double ts;
    bool snapshot;
} sink_state_t;

static void
s_item(void *arg, tb_item_t *item)
{
    sink_state_t *s = arg;
    s->items++;
    snprintf(s->ns, sizeof s->ns, "%s", item->ns);
    snprintf(s->data, sizeof s->data, "%s", item->data);
    snprintf(s->doc, sizeof s->doc, "%s", item->doc_url ? item->doc_url : "-");
    s->ts = item->ts;
    s->snapshot = item->snapshot;
}

static void
s_reject(void *arg, tb_client_reject_t reason, const char *detail)
{
    sink_state_t *s = arg;
    assert_non_null(detail);
    assert_true(strlen(detail) > 0);
    s->rejects++;
    s->last = reason;
}

static void
s_end(void *arg, double ts)
{
    (void)ts;
    ((sink_state_t *)arg)->snapshot_ends++;
}

static tb_msg_kind_t
decode(const char *msg, sink_state_t *s)
{
    memset(s, 0, sizeof *s);
    tb_decode_sink_t sink = { s_item, s_reject, s_end, s };
    return tb_client_decode(msg, strlen(msg), 99.0, &sink);
}

static void
test_decode_update(void **state)
{
    (void)state;
    sink_state_t s;
    assert_int_equal(decode("{\"type\": \"thing_update\", \"ns\": \"a.b\", \"data\": {\"x\": [1, 2]}, "
                            "\"ts\": 1423351104.945, \"documentation_url\": \"http://d\"}", &s),
                     TB_MSG_UPDATE);
    assert_int_equal(s.items, 1);
    assert_int_equal(s.rejects, 0);
    assert_string_equal(s.ns, "a.b");
    assert_string_equal(s.data, "{\"x\":[1,2]}");
    assert_string_equal(s.doc, "http://d");
    assert_true(s.ts == 1423351104.945);
    assert_false(s.snapshot);
    /* ts absent: the receive time */
    assert_int_equal(decode("{\"type\":\"thing_update\",\"ns\":\"\",\"data\":null}", &s), TB_MSG_UPDATE);
    assert_true(s.ts == 99.0);
    assert_string_equal(s.ns, "");
    assert_string_equal(s.doc, "-");
}

static void
test_decode_rejects(void **state)
{
    (void)state;
    static const struct { const char *msg; tb_client_reject_t why; } cases[] = {
        { "", TB_CLIENT_REJECT_BAD_JSON },
        { "{", TB_CLIENT_REJECT_BAD_JSON },
        { "[]", TB_CLIENT_REJECT_NOT_AN_OBJECT },
        { "1", TB_CLIENT_REJECT_NOT_AN_OBJECT },
        { "{}", TB_CLIENT_REJECT_MISSING_TYPE },
        { "{\"type\":null}", TB_CLIENT_REJECT_MISSING_TYPE },
        { "{\"type\":\"thing_gone\"}", TB_CLIENT_REJECT_UNKNOWN_TYPE },
        { "{\"type\":\"thing_update\",\"ns\":\"a.\",\"data\":1}", TB_CLIENT_REJECT_BAD_NS },
        { "{\"type\":\"thing_update\",\"ns\":[],\"data\":1}", TB_CLIENT_REJECT_BAD_NS },
        { "{\"type\":\"thing_update\",\"ns\":\"a\"}", TB_CLIENT_REJECT_MISSING_DATA },
        { "{\"type\":\"thing_update\",\"ns\":\"a\",\"data\":1,\"ts\":true}", TB_CLIENT_REJECT_BAD_TS },
        { "{\"type\":\"thing_update\",\"ns\":\"a\",\"data\":1,\"documentation_url\":{}}", TB_CLIENT_REJECT_BAD_DOC_URL },
        { "{\"type\":\"thing_snapshot\",\"data\":\"x\"}", TB_CLIENT_REJECT_BAD_SNAPSHOT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sink_state_t s;
        assert_int_equal(decode(cases[i].msg, &s), TB_MSG_REJECTED);
        assert_int_equal(s.items, 0);
        assert_int_equal(s.rejects, 1);
        assert_int_equal(s.last, cases[i].why);
        assert_string_not_equal(tb_client_reject_name(cases[i].why), "unknown");
    }
}

static void
test_decode_snapshot(void **state)
{
    (void)state;
    sink_state_t s;
    assert_int_equal(decode("{\"type\":\"thing_snapshot\",\"ts\":5.0,\"data\":{"
                            "\"a\":{\"data\":1,\"ts\":2.5,\"ns\":\"a\",\"documentation_url\":null},"
                            "\"B\":{\"data\":1,\"ts\":2.5},"
                            "\"c.d\":{\"data\":[3],\"ts\":3.5,\"ns\":\"c.d\",\"documentation_url\":\"u\"}}}", &s),
                     TB_MSG_SNAPSHOT);
    assert_int_equal(s.items, 2);
    assert_int_equal(s.rejects, 1);
    assert_int_equal(s.last, TB_CLIENT_REJECT_BAD_NS);
    assert_int_equal(s.snapshot_ends, 1);
    assert_string_equal(s.ns, "c.d");
    assert_string_equal(s.data, "[3]");
    assert_string_equal(s.doc, "u");
    assert_true(s.snapshot);
    /* an empty snapshot is still a snapshot */
    assert_int_equal(decode("{\"type\":\"thing_snapshot\",\"ts\":5.0,\"data\":{}}", &s), TB_MSG_SNAPSHOT);
    assert_int_equal(s.snapshot_ends, 1);
}

/* A v2 value holding U+0000 is refused (bad_json, counted) as on v1,
 * not stored: the mirror's text must always read back as a json_t. */
static void
test_v2_value_with_nul_is_refused(void **state)
{
    (void)state;
    tb_client_options_t o;
    tb_client_options_init(&o);
    o.url = "tcp://127.0.0.1:1";          /* nobody there: only we feed it */
    o.protocol = TB_CLIENT_PROTOCOL_V1;
    int err = 0;
    tb_client_t *c = tb_client_new(&o, &err, NULL, 0);
    assert_non_null(c);
    const char *data = "{\"k\":\"x\\u0000y\"}";
    tb_client_apply_v2(c, "plant.a", data, strlen(data), "1.5", 3, "null", 4, false);
    char *text = NULL;
    int rc = tb_client_get_data(c, "plant.a", &text, NULL);
    free(text);
    tb_client_stats_t st;
    assert_int_equal(tb_client_stats(c, &st), TB_OK);
    tb_client_destroy(&c);
    assert_int_equal(rc, TB_ERR_NO_DATA);
    assert_int_equal(st.rejected[TB_CLIENT_REJECT_BAD_JSON], 1);
    assert_int_equal(st.malformed, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mirror_creates_ancestors),
        cmocka_unit_test(test_mirror_children_sorted_and_subtree_order),
        cmocka_unit_test(test_mirror_doc_url_sticks),
        cmocka_unit_test(test_mirror_remove_prunes),
        cmocka_unit_test(test_mirror_longest_namespace),
        cmocka_unit_test(test_json_compact),
        cmocka_unit_test(test_decode_update),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_snapshot),
        cmocka_unit_test(test_v2_value_with_nul_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
