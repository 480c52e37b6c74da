/*
 * test_client_api.c - libthingsbus-client's public API against a PUB socket
 * in the test publishing fixed v1 bytes.
 *
 * Why this exists: what a C program sees through thingsbus_client.h --
 * the pull API and its file descriptor, the bounded queue and its drop
 * count, callbacks (look-ups and unsubscribe from inside one), copies that
 * are really copies, argument checking and the error texts -- is checked
 * here in-process, with no other program involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "thingsbus_client.h"

#define UPDATE(ns, data, ts) \
    "{\"type\": \"thing_update\", \"ns\": \"" ns "\", \"data\": " data ", \"ts\": " ts \
    ", \"documentation_url\": null}"

typedef struct {
    void *ctx, *pub;
    char url[128];
    tb_client_t *client;
} fixture_t;

static void
pub_send(fixture_t *f, const char *msg)
{
    assert_int_equal(zmq_send(f->pub, msg, strlen(msg), 0), (int)strlen(msg));
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->ctx = zmq_ctx_new();
    f->pub = zmq_socket(f->ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(f->pub, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(f->pub, "tcp://127.0.0.1:*") != 0)
        return -1;
    size_t len = sizeof f->url;
    zmq_getsockopt(f->pub, ZMQ_LAST_ENDPOINT, f->url, &len);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    tb_client_destroy(&f->client);
    zmq_close(f->pub);
    zmq_ctx_term(f->ctx);
    free(f);
    return 0;
}

static tb_client_t *
new_client(fixture_t *f, size_t queue_limit)
{
    tb_client_options_t o;
    tb_client_options_init(&o);
    o.url = f->url;
    o.queue_limit = queue_limit;
    int err = 1;
    char text[200];
    f->client = tb_client_new(&o, &err, text, sizeof text);
    assert_non_null(f->client);
    assert_int_equal(err, TB_OK);
    return f->client;
}

/* Publishes a marker until it shows in the mirror: the SUB has joined. */
static void
join(fixture_t *f)
{
    for (int i = 0; i < 200; i++) {
        pub_send(f, UPDATE("zjoin", "1", "1.0"));
        char *d = NULL;
        if (tb_client_get_data(f->client, "zjoin", &d, NULL) == TB_OK) {
            free(d);
            return;
        }
        usleep(25000);
    }
    fail_msg("the client never received the join marker");
}

/* Sends a marker after everything published so far and waits until the
 * mirror has it: the client has handled all that came before (one ordered
 * stream, one background thread). */
static void
flush(fixture_t *f)
{
    static int seq;
    char msg[200], want[32];
    snprintf(want, sizeof want, "%d", ++seq);
    snprintf(msg, sizeof msg, UPDATE("zflush", "%d", "1.0"), seq);
    pub_send(f, msg);
    for (int i = 0; i < 1000; i++) {
        char *d = NULL;
        bool done = tb_client_get_data(f->client, "zflush", &d, NULL) == TB_OK
                    && strcmp(d, want) == 0;
        free(d);
        if (done)
            return;
        usleep(10000);
    }
    fail_msg("the flush marker never arrived");
}

/* Waits until n events are queued for the pull API. */
static void
wait_queued(tb_client_t *c, uint64_t n)
{
    tb_client_stats_t st;
    for (int i = 0; i < 400; i++) {
        tb_client_stats(c, &st);
        if (st.events_queued >= n)
            return;
        usleep(10000);
    }
    fail_msg("only %llu of %llu events queued", (unsigned long long)st.events_queued,
             (unsigned long long)n);
}

static bool
readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void
test_pull_and_fd(void **state)
{
    fixture_t *f = *state;
    tb_client_t *c = new_client(f, 0);
    join(f);
    int sub = tb_client_subscribe(c, "room", TB_F_TREE, NULL, NULL);
    assert_true(sub > 0);
    int fd = tb_client_fd(c);
    assert_true(fd >= 0);
    tb_event_t *ev = (tb_event_t *)1;
    assert_false(readable(fd, 0));
    assert_int_equal(tb_client_recv(c, &ev, 0), TB_ERR_TIMEOUT);
    assert_null(ev);
    assert_int_equal(tb_client_recv(c, &ev, 30), TB_ERR_TIMEOUT);

    pub_send(f, UPDATE("room.lamp", "{\"on\": true}", "1423351104.945"));
    pub_send(f, UPDATE("room", "[1, 2]", "5.0"));
    assert_true(readable(fd, 10000));
    wait_queued(c, 2);
    assert_int_equal(tb_client_recv(c, &ev, 0), TB_OK);
    assert_int_equal(ev->subscription, sub);
    assert_string_equal(ev->ns, "room.lamp");
    assert_string_equal(ev->data, "{\"on\":true}");
    assert_int_equal(ev->flags, TB_F_TREE);
    assert_true(ev->ts == 1423351104.945);
    assert_null(ev->documentation_url);
    assert_int_equal(ev->dropped_before, 0);
    tb_event_destroy(&ev);
    assert_null(ev);
    assert_true(readable(fd, 0));              /* one still queued */
    assert_int_equal(tb_client_recv(c, &ev, -1), TB_OK);
    assert_string_equal(ev->ns, "room");
    assert_int_equal(ev->flags, TB_F_NONE);
    tb_event_destroy(&ev);
    assert_false(readable(fd, 0));             /* drained: not readable */
    assert_int_equal(tb_client_recv(c, &ev, 0), TB_ERR_TIMEOUT);

    tb_client_stats_t st;
    assert_int_equal(tb_client_stats(c, &st), TB_OK);
    assert_true(st.connected);
    assert_int_equal(st.events_queued, 0);
    assert_int_equal(st.events_delivered, 2);
    assert_int_equal(st.malformed, 0);
    assert_int_equal(st.things, 3);            /* zjoin, room, room.lamp */
}

static void
test_queue_bound_counts_drops(void **state)
{
    fixture_t *f = *state;
    tb_client_t *c = new_client(f, 3);
    join(f);
    assert_true(tb_client_subscribe(c, "n", TB_F_TREE, NULL, NULL) > 0);
    char msg[200];
    for (int i = 0; i < 10; i++) {
        snprintf(msg, sizeof msg, UPDATE("n", "%d", "1.0"), i);
        pub_send(f, msg);
    }
    flush(f);
    tb_client_stats_t st;
    tb_client_stats(c, &st);
    assert_int_equal(st.events_queued, 3);
    assert_int_equal(st.events_dropped, 7);
    tb_event_t *ev;
    assert_int_equal(tb_client_recv(c, &ev, 0), TB_OK);
    assert_string_equal(ev->data, "7");        /* the oldest went first */
    assert_int_equal(ev->dropped_before, 7);
    tb_event_destroy(&ev);
    assert_int_equal(tb_client_recv(c, &ev, 0), TB_OK);
    assert_string_equal(ev->data, "8");
    assert_int_equal(ev->dropped_before, 0);
    tb_event_destroy(&ev);
    /* the mirror kept the latest value regardless */
    char *d;
    assert_int_equal(tb_client_get_data(c, "n", &d, NULL), TB_OK);
    assert_string_equal(d, "9");
    free(d);
}

static void
test_copies_not_pointers(void **state)
{
    fixture_t *f = *state;
    tb_client_t *c = new_client(f, 0);
    join(f);
    assert_true(tb_client_subscribe(c, "k", TB_F_NONE, NULL, NULL) > 0);
    pub_send(f, "{\"type\":\"thing_update\",\"ns\":\"k\",\"data\":{\"v\":1},\"ts\":2.0,"
                "\"documentation_url\":\"http://doc\"}");
    tb_event_t *ev = NULL;
    assert_int_equal(tb_client_recv(c, &ev, 10000), TB_OK);

    char *d1, *d2;
    assert_int_equal(tb_client_get_data(c, "k", &d1, NULL), TB_OK);
    d1[1] = 'X';                                       /* scribble on our copy */
    assert_int_equal(tb_client_get_data(c, "k", &d2, NULL), TB_OK);
    assert_string_equal(d2, "{\"v\":1}");
    assert_ptr_not_equal(d1, d2);
    free(d1);
    free(d2);

    json_t *j;
    double age = 0;
    assert_int_equal(tb_client_get_json(c, "k", &j, &age), TB_OK);
    assert_true(age > 1e9);                            /* ts 2.0 is long ago */
    json_object_set_new(j, "v", json_integer(99));
    json_decref(j);
    assert_int_equal(tb_client_get_json(c, "k", &j, NULL), TB_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "v")), 1);
    json_decref(j);

    tb_thing_t *t;
    assert_int_equal(tb_client_get_thing(c, "k", &t), TB_OK);
    t->documentation_url[0] = 'Z';
    tb_thing_destroy(&t);
    assert_null(t);
    tb_thing_list_t *l;
    assert_int_equal(tb_client_subtree(c, "k", &l), TB_OK);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->items[0].documentation_url, "http://doc");
    l->items[0].data[0] = '!';
    tb_thing_list_destroy(&l);

    /* the event is ours too: a later update does not change it */
    pub_send(f, UPDATE("k", "2", "3.0"));
    tb_event_t *ev2;
    assert_int_equal(tb_client_recv(c, &ev2, 10000), TB_OK);
    assert_string_equal(ev->data, "{\"v\":1}");
    assert_string_equal(ev->documentation_url, "http://doc");
    assert_string_equal(ev2->documentation_url, "http://doc");   /* the URL sticks */
    tb_event_t *dup = tb_event_dup(ev);
    tb_event_destroy(&ev);
    assert_string_equal(dup->data, "{\"v\":1}");
    assert_string_equal(dup->ns, "k");
    tb_event_destroy(&dup);
    tb_event_destroy(&ev2);
    tb_event_destroy(&ev2);                            /* NULL-safe */
}

typedef struct {
    tb_client_t *client;
    int id;
    int calls;
    char seen[64];
    char looked_up[64];
} cb_state_t;

static void
on_event(const tb_event_t *ev, void *arg)
{
    cb_state_t *s = arg;
    s->calls++;
    snprintf(s->seen, sizeof s->seen, "%s=%s", ev->ns, ev->data);
    char *d = NULL;
    /* look-ups and unsubscribe are allowed from inside a callback */
    if (tb_client_get_data(s->client, ev->ns, &d, NULL) == TB_OK)
        snprintf(s->looked_up, sizeof s->looked_up, "%s", d);
    free(d);
    assert_int_equal(tb_client_unsubscribe(s->client, s->id), TB_OK);
}

static void
test_callback_runs_once_then_unsubscribes(void **state)
{
    fixture_t *f = *state;
    tb_client_t *c = new_client(f, 0);
    join(f);
    cb_state_t s = { .client = c };
    s.id = tb_client_subscribe(c, "cb", TB_F_TREE, on_event, &s);
    assert_true(s.id > 0);
    pub_send(f, UPDATE("cb.x", "\"first\"", "1.0"));
    pub_send(f, UPDATE("cb.x", "\"second\"", "1.0"));
    flush(f);
    /* unsubscribe from here waits out a running callback; already gone */
    assert_int_equal(tb_client_unsubscribe(c, s.id), TB_ERR_INVALID_ARG);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.seen, "cb.x=\"first\"");
    assert_string_equal(s.looked_up, "\"first\"");
}

static void
test_arguments_and_texts(void **state)
{
    fixture_t *f = *state;
    tb_client_options_t o;
    int err = 0;
    char text[200];
    tb_client_options_init(&o);
    assert_null(tb_client_new(&o, &err, text, sizeof text));
    assert_int_equal(err, TB_ERR_INVALID_ARG);
    assert_true(strlen(text) > 0);
    o.url = f->url;
    o.zone = "example.org";
    assert_null(tb_client_new(&o, &err, NULL, 0));
    assert_int_equal(err, TB_ERR_INVALID_ARG);
    assert_null(tb_client_new(NULL, NULL, NULL, 0));
    o.zone = NULL;
    const char *bad[] = { "http://x:1", "tcp://host", "tcp://host:0", "tcp://host:99999",
                          "tcp://:7954", "tcp://", "a b", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.url = bad[i];
        err = 0;
        assert_null(tb_client_new(&o, &err, text, sizeof text));
        assert_true(err == TB_ERR_BAD_URL || err == TB_ERR_INVALID_ARG);
    }
    /* "host:port" shorthand */
    char shorthand[128];
    snprintf(shorthand, sizeof shorthand, "%s", f->url + strlen("tcp://"));
    o.url = shorthand;
    f->client = tb_client_new(&o, &err, text, sizeof text);
    assert_non_null(f->client);
    char ep[128];
    assert_int_equal(tb_client_endpoint(f->client, ep, sizeof ep), TB_OK);
    assert_string_equal(ep, f->url);
    join(f);

    tb_client_t *c = f->client;
    /* a library installs no signal handlers (czmq's are switched off) */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGINT, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_DFL);
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_DFL);
    assert_int_equal(tb_client_subscribe(c, "Bad", TB_F_NONE, NULL, NULL), TB_ERR_BAD_NS);
    assert_int_equal(tb_client_subscribe(c, "a", 16u, NULL, NULL), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_client_subscribe(c, NULL, 0, NULL, NULL), TB_ERR_INVALID_ARG);
    char *d = (char *)1;
    assert_int_equal(tb_client_get_data(c, "a..b", &d, NULL), TB_ERR_BAD_NS);
    assert_null(d);
    assert_int_equal(tb_client_get_data(c, "nothing", &d, NULL), TB_ERR_NO_DATA);
    assert_int_equal(tb_client_recv(c, NULL, 0), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_client_stats(c, NULL), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_client_wait_synced(c, 0), TB_ERR_TIMEOUT);
    assert_string_equal(tb_client_strerror(TB_ERR_NO_DATA), "no data");
    assert_non_null(tb_client_strerror(-12345));
    assert_string_equal(tb_client_reject_name(TB_CLIENT_REJECT_BAD_JSON), "bad_json");
    assert_string_equal(tb_client_reject_name(TB_CLIENT_REJECT_COUNT), "unknown");

    tb_client_t *none = NULL;
    tb_client_destroy(&none);
    tb_client_destroy(NULL);
    tb_thing_destroy(NULL);
    tb_thing_list_destroy(NULL);
    tb_client_strv_free(NULL);
    tb_event_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pull_and_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound_counts_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies_not_pointers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_runs_once_then_unsubscribes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_and_texts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
