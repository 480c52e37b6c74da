/*
 * test_v2_dirview.c - the v2 engine over the broker's real directory.
 *
 * Why this exists: the adapter is what the broker will wire in; its chain
 * bookkeeping and its reading of the directory (sticky documentation URLs,
 * intermediate Things without data, children links) are checked here with
 * broker/directory.c itself and a raw DEALER/SUB over inproc, bytes
 * compared with literals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "v2/tb_v2_dirview.h"

typedef struct {
    tb_directory_t  *dir;
    uint64_t         seq;
    tb_v2_dirview_t *view;
    tb_v2srv_t      *srv;
    void            *zctx;
} broker_t;

/* What handle_update.c will do after the v1 publish. */
static void
accept_update(broker_t *b, const char *ns, const char *data, const char *doc)
{
    tb_thing_t *t = tb_directory_get(b->dir, ns, strlen(ns));
    assert_non_null(t);
    assert_int_equal(tb_directory_set(b->dir, t, data, strlen(data), "1700000000.5", 12,
                                      doc, doc ? strlen(doc) : 0, 1700000000.5, b->seq + 1), 0);
    b->seq++;
    uint64_t prev[TB_V2_MAX_CHAIN];
    size_t n = tb_v2_dirview_chain(b->view, t, b->seq, prev, TB_V2_MAX_CHAIN);
    assert_int_equal(n, tb_v2_ns_depth(ns, strlen(ns)) + 1);
    tb_v2_thing_t v;
    tb_v2_dirview_thing(t, doc, doc ? strlen(doc) : 0, &v);
    assert_int_equal(tb_v2srv_publish_update(b->srv, &v, prev, n), 0);
}

static void
recv_frames(broker_t *b, void *s, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int tries = 0; tries < 400; tries++) {
        tb_v2srv_handle_requests(b->srv, 0);
        tb_v2srv_handle_subscriptions(b->srv, 0);
        tb_v2srv_step(b->srv, 0, 1000);
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, tries < 20 ? 0 : 5) > 0)
            break;
    }
    for (int i = 0; i < n; i++) {
        char buf[4096];
        int len = zmq_recv(s, buf, sizeof buf - 1, ZMQ_DONTWAIT);
        assert_true(len >= 0);
        buf[len] = 0;
        const char *want = va_arg(ap, const char *);
        if (want)
            assert_string_equal(buf, want);
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
        assert_int_equal(more, i + 1 < n);
    }
    va_end(ap);
}

static void
test_engine_over_real_directory(void **state)
{
    (void)state;
    broker_t b = { 0 };
    b.zctx = zmq_ctx_new();
    b.dir = tb_directory_new();
    b.view = tb_v2_dirview_new(b.dir, &b.seq);
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    cfg.epoch = 1;
    b.srv = tb_v2srv_new(b.zctx, "inproc://dv-snap", "inproc://dv-pub", tb_v2_dirview_iface(),
                         b.view, &cfg, NULL);
    assert_non_null(b.srv);
    void *sub = zmq_socket(b.zctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "shop.", 5);
    zmq_connect(sub, "inproc://dv-pub");
    recv_frames(&b, sub, 2, "shop.",
                "{\"type\":\"heartbeat\",\"ns\":\"shop\",\"seq\":0,\"last\":0,"
                "\"epoch\":\"0000000000000001\",\"interval\":1000}");
    accept_update(&b, "shop.shopbot", "{\"busy\":12.0}", "\"http://example.com/doc\"");
    accept_update(&b, "spacemon", "1", NULL);
    accept_update(&b, "shop.shopbot", "{\"busy\":13.5}", NULL); /* URL stays (sticky) */
    recv_frames(&b, sub, 2, "shop.shopbot.",
                "{\"type\":\"thing_update\",\"ns\":\"shop.shopbot\",\"data\":{\"busy\":12.0},"
                "\"ts\":1700000000.5,\"documentation_url\":\"http://example.com/doc\","
                "\"seq\":1,\"prev\":[0,0,0]}");
    recv_frames(&b, sub, 2, "shop.shopbot.",
                "{\"type\":\"thing_update\",\"ns\":\"shop.shopbot\",\"data\":{\"busy\":13.5},"
                "\"ts\":1700000000.5,\"documentation_url\":null,\"seq\":3,\"prev\":[2,1,1]}");
    void *d = zmq_socket(b.zctx, ZMQ_DEALER);
    zmq_connect(d, "inproc://dv-snap");
    zmq_send(d, "GET", 3, ZMQ_SNDMORE);
    zmq_send(d, "g", 1, ZMQ_SNDMORE);
    zmq_send(d, "shop.shopbot", 12, 0);
    recv_frames(&b, d, 3, "THING", "g",
                "{\"shop.shopbot\":{\"data\":{\"busy\":13.5},\"ts\":1700000000.5,"
                "\"ns\":\"shop.shopbot\",\"documentation_url\":\"http://example.com/doc\","
                "\"seq\":3}}");
    zmq_send(d, "GET", 3, ZMQ_SNDMORE);
    zmq_send(d, "g", 1, ZMQ_SNDMORE);
    zmq_send(d, "shop", 4, 0);
    recv_frames(&b, d, 4, "ERROR", "g", "no_data", NULL);
    zmq_send(d, "CHILDREN", 8, ZMQ_SNDMORE);
    zmq_send(d, "c", 1, ZMQ_SNDMORE);
    zmq_send(d, "", 0, ZMQ_SNDMORE);
    zmq_send(d, "1", 1, 0);
    recv_frames(&b, d, 3, "BATCH", "c", NULL);
    recv_frames(&b, d, 3, "END", "c",
                "{\"type\":\"snapshot_end\",\"ns\":\"\",\"seq\":3,\"start\":3,\"last\":3,"
                "\"things\":2,\"batches\":1,\"epoch\":\"0000000000000001\"}");
    zmq_send(d, "SNAPSHOT", 8, ZMQ_SNDMORE);
    zmq_send(d, "s", 1, ZMQ_SNDMORE);
    zmq_send(d, "shop", 4, ZMQ_SNDMORE);
    zmq_send(d, "1", 1, 0);
    recv_frames(&b, d, 3, "BATCH", "s", NULL);
    recv_frames(&b, d, 3, "END", "s",
                "{\"type\":\"snapshot_end\",\"ns\":\"shop\",\"seq\":3,\"start\":3,\"last\":3,"
                "\"things\":1,\"batches\":1,\"epoch\":\"0000000000000001\"}");
    assert_int_equal(tb_v2_dirview_iface()->subtree_seq(b.view, "shop", 4), 3);
    /* a chain that does not fit is refused, not truncated */
    uint64_t small[2];
    tb_thing_t *bot = tb_directory_find(b.dir, "shop.shopbot", 12);
    assert_int_equal(tb_v2_dirview_chain(b.view, bot, 4, small, 2), 0);
    zmq_close(d);
    zmq_close(sub);
    tb_v2srv_destroy(&b.srv);
    tb_v2_dirview_destroy(&b.view);
    assert_null(b.view);
    tb_directory_destroy(&b.dir);
    zmq_ctx_term(b.zctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_over_real_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
