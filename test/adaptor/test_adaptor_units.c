/*
 * test_adaptor_units.c - unit tests of libthingsbus-adaptor's pieces: the
 * firmware encoder's edges (exact fit, one byte over, bad input), the
 * queue, the suppression table, API argument checks, and many threads
 * sending into one adaptor at once.
 *
 * Why this exists: the Python suites check bytes on the wire; these check
 * the boundaries that are awkward to reach from outside (a caller buffer
 * one byte too small must be refused, never cut) and thread-safety.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "tb_adaptor_internal.h"

/* ------------------------------------------------------ firmware part */

static int
pack_small_map(msgpack_packer *pk, void *arg)
{
    (void)arg;
    msgpack_pack_map(pk, 1);
    msgpack_pack_str(pk, 1);
    msgpack_pack_str_body(pk, "t", 1);
    msgpack_pack_fix_uint8(pk, 7);
    return 0;
}

static int
pack_fails(msgpack_packer *pk, void *arg)
{
    (void)pk;
    (void)arg;
    return -1;
}

/* ["a.b", nil, {"t": 0xcc 07}, nil] */
static const unsigned char small_list[] = {
    0x94, 0xa3, 'a', '.', 'b', 0xc0, 0x81, 0xa1, 't', 0xcc, 0x07, 0xc0
};

static void
fw_exact_fit_and_one_byte_short(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t len = 0;
    assert_int_equal(tb_fw_encode(buf, sizeof buf, &len, TB_FW_LIST, "a.b", NAN,
                                  pack_small_map, NULL, NULL), TB_OK);
    assert_int_equal(len, sizeof small_list);
    assert_memory_equal(buf, small_list, sizeof small_list);

    memset(buf, 0, sizeof buf);
    assert_int_equal(tb_fw_encode(buf, sizeof small_list, &len, TB_FW_LIST, "a.b", NAN,
                                  pack_small_map, NULL, NULL), TB_OK);
    assert_memory_equal(buf, small_list, sizeof small_list);

    /* One byte short: refused, and nothing written past the given size. */
    memset(buf, 0xAA, sizeof buf);
    len = 12345;
    assert_int_equal(tb_fw_encode(buf, sizeof small_list - 1, &len, TB_FW_LIST, "a.b", NAN,
                                  pack_small_map, NULL, NULL), TB_ERR_TOO_LARGE);
    assert_int_equal(len, 12345);
    for (size_t i = sizeof small_list - 1; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    assert_int_equal(tb_fw_encode(buf, 0, &len, TB_FW_LIST, "a.b", NAN,
                                  pack_small_map, NULL, NULL), TB_ERR_TOO_LARGE);
}

static void
fw_packed_variant_and_map_form(void **state)
{
    (void)state;
    unsigned char buf[128];
    size_t len = 0;
    const unsigned char data[] = { 0x81, 0xa1, 't', 0xcc, 0x07 };
    assert_int_equal(tb_fw_encode_packed(buf, sizeof buf, &len, TB_FW_LIST, "a.b", NAN,
                                         data, sizeof data, NULL), TB_OK);
    assert_int_equal(len, sizeof small_list);
    assert_memory_equal(buf, small_list, sizeof small_list);

    /* map form: type, ns, data, ts, documentation_url */
    static const unsigned char map_form[] = {
        0x85, 0xa4, 't', 'y', 'p', 'e', 0xac, 't', 'h', 'i', 'n', 'g', '_', 'u', 'p', 'd', 'a',
        't', 'e', 0xa2, 'n', 's', 0xa1, 'x', 0xa4, 'd', 'a', 't', 'a', 0xc3, 0xa2, 't', 's',
        0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xb1, 'd', 'o', 'c', 'u', 'm', 'e', 'n', 't', 'a',
        't', 'i', 'o', 'n', '_', 'u', 'r', 'l', 0xa1, 'u'
    };
    const unsigned char t[] = { 0xc3 };
    assert_int_equal(tb_fw_encode_packed(buf, sizeof buf, &len, TB_FW_MAP, "x", 1.5,
                                         t, 1, "u"), TB_OK);
    assert_int_equal(len, sizeof map_form);
    assert_memory_equal(buf, map_form, sizeof map_form);
}

static void
fw_bad_input(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t len;
    const char *bad_ns[] = { "", "A", "a..b", ".a", "a.", "a b", "1a" };
    for (size_t i = 0; i < sizeof bad_ns / sizeof *bad_ns; i++)
        assert_int_equal(tb_fw_encode(buf, sizeof buf, &len, TB_FW_LIST, bad_ns[i], NAN,
                                      pack_small_map, NULL, NULL), TB_ERR_BAD_NS);
    assert_int_equal(tb_fw_encode(buf, sizeof buf, &len, TB_FW_LIST, "a", NAN,
                                  pack_fails, NULL, NULL), TB_ERR_BAD_DATA);
    assert_int_equal(tb_fw_encode(buf, sizeof buf, &len, TB_FW_LIST, "a", INFINITY,
                                  pack_small_map, NULL, NULL), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_fw_encode(NULL, 1, &len, TB_FW_LIST, "a", NAN,
                                  pack_small_map, NULL, NULL), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_fw_encode(buf, sizeof buf, &len, TB_FW_LIST, NULL, NAN,
                                  pack_small_map, NULL, NULL), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_fw_encode_packed(buf, sizeof buf, &len, TB_FW_LIST, "a", NAN,
                                         NULL, 0, NULL), TB_ERR_BAD_DATA);
}

static void
fw_datagram_limit(void **state)
{
    (void)state;
    /* A caller buffer larger than a datagram still caps at 65507. */
    size_t cap = 70000;
    unsigned char *buf = malloc(cap);
    unsigned char *data = malloc(cap);
    assert_non_null(buf);
    assert_non_null(data);
    /* bin-free payload: a str32 header + body, as pre-packed bytes */
    size_t body = 65507 - 1 - 2 - 1 - 1 - 5;   /* array, ns "a", nil ts, nil doc, str32 hdr */
    data[0] = 0xdb;
    data[1] = (unsigned char)(body >> 24);
    data[2] = (unsigned char)(body >> 16);
    data[3] = (unsigned char)(body >> 8);
    data[4] = (unsigned char)body;
    memset(data + 5, 'x', body + 1);
    size_t len = 0;
    assert_int_equal(tb_fw_encode_packed(buf, cap, &len, TB_FW_LIST, "a", NAN,
                                         data, 5 + body, NULL), TB_OK);
    assert_int_equal(len, 65507);
    assert_int_equal(tb_fw_encode_packed(buf, cap, &len, TB_FW_LIST, "a", NAN,
                                         data, 5 + body + 1, NULL), TB_ERR_TOO_LARGE);
    tb_fw_udp_t udp;
    assert_int_equal(tb_fw_udp_open(&udp, "127.0.0.1:9"), TB_OK);
    assert_int_equal(tb_fw_udp_send(&udp, buf, 65508), TB_ERR_TOO_LARGE);
    tb_fw_udp_close(&udp);
    tb_fw_udp_close(&udp);
    assert_int_equal(tb_fw_udp_send(&udp, buf, 1), TB_ERR_INVALID_ARG);
    free(buf);
    free(data);
}

static void
fw_addresses(void **state)
{
    (void)state;
    tb_fw_udp_t udp;
    const char *bad[] = { "", "host", "host:", ":7955", "1.2.3.4:0", "1.2.3.4:65536",
                          "::1:7955", "[::1]7955", "[::1", "1.2.3.4:79x5" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tb_fw_udp_open(&udp, bad[i]), TB_ERR_BAD_URL);
    assert_int_equal(tb_fw_udp_open(&udp, "[::1]:7955"), TB_OK);
    tb_fw_udp_close(&udp);
    assert_int_equal(tb_fw_udp_open(&udp, "localhost:7955"), TB_OK);
    tb_fw_udp_close(&udp);
}

/* ------------------------------------------------------------- queue */

static void
queue_fifo_bounded_wraps(void **state)
{
    (void)state;
    tb_queue_t q;
    assert_int_equal(tb_queue_init(&q, 3), TB_OK);
    assert_null(tb_queue_peek(&q));
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3; i++) {
            tb_msg_t m = { malloc(1), 1 };
            m.bytes[0] = (char)('a' + i);
            assert_true(tb_queue_push(&q, m));
        }
        tb_msg_t extra = { NULL, 0 };
        assert_false(tb_queue_push(&q, extra));
        for (int i = 0; i < 2; i++) {
            assert_int_equal(tb_queue_peek(&q)->bytes[0], 'a' + i);
            tb_queue_drop_head(&q);
        }
        tb_queue_drop_head(&q);
        assert_null(tb_queue_peek(&q));
        tb_queue_drop_head(&q);    /* empty: no-op */
    }
    tb_msg_t m = { malloc(4), 4 };
    assert_true(tb_queue_push(&q, m));
    tb_queue_free(&q);             /* frees what is still queued */
}

/* ------------------------------------------------------- suppression */

static void
suppress_rules(void **state)
{
    (void)state;
    tb_suppress_t *s = tb_suppress_new(2);
    assert_non_null(s);
    assert_false(tb_suppress_is_unchanged(s, "a", 1, "1", 1, 0, 1000));
    tb_suppress_record(s, "a", 1, "1", 1, 0);
    assert_true(tb_suppress_is_unchanged(s, "a", 1, "1", 1, 999, 1000));
    assert_false(tb_suppress_is_unchanged(s, "a", 1, "1", 1, 1000, 1000));   /* heartbeat */
    assert_false(tb_suppress_is_unchanged(s, "a", 1, "2", 1, 10, 1000));     /* changed */
    assert_false(tb_suppress_is_unchanged(s, "ab", 2, "1", 1, 10, 1000));    /* other ns */
    assert_false(tb_suppress_is_unchanged(s, "a", 1, "12", 2, 10, 1000));    /* prefix */
    tb_suppress_record(s, "b", 1, "", 0, 0);
    assert_true(tb_suppress_is_unchanged(s, "b", 1, "", 0, 5, 1000));
    tb_suppress_record(s, "c", 1, "1", 1, 0);                             /* over the bound */
    assert_false(tb_suppress_is_unchanged(s, "c", 1, "1", 1, 5, 1000));
    tb_suppress_record(s, "a", 1, "2", 1, 20);                            /* update */
    assert_true(tb_suppress_is_unchanged(s, "a", 1, "2", 1, 30, 1000));
    tb_suppress_destroy(&s);
    assert_null(s);
    tb_suppress_destroy(&s);
    tb_suppress_destroy(NULL);

    /* growth keeps every entry findable */
    s = tb_suppress_new(100000);
    char ns[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(ns, sizeof ns, "n%d", i);
        tb_suppress_record(s, ns, (size_t)n, "v", 1, 0);
    }
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(ns, sizeof ns, "n%d", i);
        assert_true(tb_suppress_is_unchanged(s, ns, (size_t)n, "v", 1, 1, 1000));
    }
    tb_suppress_destroy(&s);
}

/* --------------------------------------------------------------- API */

static void
api_arguments(void **state)
{
    (void)state;
    tb_adaptor_destroy(NULL);
    tb_adaptor_t *none = NULL;
    tb_adaptor_destroy(&none);
    tb_adaptor_stats_t st;
    assert_int_equal(tb_adaptor_stats(NULL, &st), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_adaptor_send_json(NULL, NULL, "1", 1, NAN), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_adaptor_send(NULL, NULL, NULL, NAN), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_adaptor_flush(NULL, 0), TB_ERR_INVALID_ARG);
    assert_string_equal(tb_adaptor_strerror(TB_ERR_QUEUE_FULL), "send queue full; message dropped");
    assert_non_null(tb_adaptor_strerror(12345));

    int err = 0;
    assert_null(tb_adaptor_new(NULL, &err));
    assert_int_equal(err, TB_ERR_INVALID_ARG);

    /* A zero-initialised options struct is valid (defaults). */
    tb_adaptor_options_t o;
    memset(&o, 0, sizeof o);
    o.ns = "unit";
    o.broker_input_url = "tcp://127.0.0.1:9";
    o.linger_ms = TB_ADAPTOR_LINGER_NONE;
    tb_adaptor_t *a = tb_adaptor_new(&o, &err);
    assert_non_null(a);
    assert_int_equal(err, TB_OK);
    assert_string_equal(tb_adaptor_ns(a), "unit");
    assert_int_equal(tb_adaptor_stats(a, &st), TB_OK);
    assert_int_equal(st.queue_size, TB_ADAPTOR_DEFAULT_QUEUE_SIZE);
    assert_int_equal(tb_adaptor_send_json(a, NULL, NULL, 0, NAN), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_adaptor_send(a, NULL, NULL, NAN), TB_ERR_INVALID_ARG);
    json_t *v = json_pack("{s:i}", "x", 1);
    assert_int_equal(tb_adaptor_send(a, "sub", v, 1.5), TB_OK);
    assert_int_equal(tb_adaptor_send(a, "Sub", v, 1.5), TB_ERR_BAD_NS);
    json_decref(v);
    assert_int_equal(tb_adaptor_send_json(a, NULL, "1", (size_t)-1, -INFINITY), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_adaptor_flush(a, -1), TB_ERR_INVALID_ARG);
    assert_int_equal(tb_adaptor_stats(a, &st), TB_OK);
    assert_int_equal(st.rejected, 4);
    tb_adaptor_destroy(&a);
    assert_null(a);

    /* Invalid UTF-8 in the documentation URL is refused at creation. */
    o.documentation_url = "http://x/\xff";
    assert_null(tb_adaptor_new(&o, &err));
    assert_int_equal(err, TB_ERR_INVALID_ARG);
}

/* A huge heartbeat means "never": it must saturate, not overflow the
 * seconds-to-ms conversion (which gave 0 and switched suppression off). */
static void
suppress_huge_heartbeat(void **state)
{
    (void)state;
    tb_adaptor_options_t o;
    tb_adaptor_options_init(&o);
    o.ns = "unit";
    o.broker_input_url = "tcp://127.0.0.1:9";
    o.linger_ms = TB_ADAPTOR_LINGER_NONE;
    o.suppress_unchanged = true;
    o.heartbeat_s = 1e300;
    o.reresolve_s = 1e300;
    int err = 0;
    tb_adaptor_t *a = tb_adaptor_new(&o, &err);
    assert_non_null(a);
    assert_int_equal(tb_adaptor_send_json(a, NULL, "{\"v\":1}", (size_t)-1, NAN), TB_OK);
    assert_int_equal(tb_adaptor_send_json(a, NULL, "{ \"v\" : 1 }", (size_t)-1, NAN), TB_OK);
    tb_adaptor_stats_t st;
    assert_int_equal(tb_adaptor_stats(a, &st), TB_OK);
    assert_int_equal(st.suppressed, 1);
    tb_adaptor_destroy(&a);
}

/* ------------------------------------------------- threads at once */

#define THREADS 4
#define PER_THREAD 500

typedef struct {
    tb_adaptor_t *a;
    int id;
    int failures;
} sender_arg_t;

static void *
sender(void *p)
{
    sender_arg_t *s = p;
    char sub[16], data[64];
    snprintf(sub, sizeof sub, "t%d", s->id);
    for (int k = 0; k < PER_THREAD; k++) {
        snprintf(data, sizeof data, "{\"k\":%d}", k);
        if (tb_adaptor_send_json(s->a, sub, data, (size_t)-1, NAN) != TB_OK)
            s->failures++;
    }
    return NULL;
}

static void
threads_send_concurrently_in_order_per_thread(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t eplen = sizeof ep;
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen);

    tb_adaptor_options_t o;
    tb_adaptor_options_init(&o);
    o.ns = "many";
    o.broker_input_url = ep;
    int err;
    tb_adaptor_t *a = tb_adaptor_new(&o, &err);
    assert_non_null(a);

    pthread_t th[THREADS];
    sender_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (sender_arg_t){ a, i, 0 };
        pthread_create(&th[i], NULL, sender, &args[i]);
    }
    int next[THREADS] = { 0 };
    int timeout = 10000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    char buf[512];
    for (int n = 0; n < THREADS * PER_THREAD; n++) {
        int len = zmq_recv(pull, buf, sizeof buf - 1, 0);
        assert_true(len > 0);
        json_error_t jerr;
        json_t *m = json_loadb(buf, (size_t)len, 0, &jerr);
        assert_non_null(m);
        int id = -1, k = -1;
        const char *ns = json_string_value(json_object_get(m, "ns"));
        assert_non_null(ns);
        assert_int_equal(sscanf(ns, "many.t%d", &id), 1);
        k = (int)json_integer_value(json_object_get(json_object_get(m, "data"), "k"));
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(k, next[id]);      /* each thread's sends stay in order */
        next[id]++;
        json_decref(m);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    tb_adaptor_stats_t st;
    tb_adaptor_stats(a, &st);
    assert_int_equal(st.sent, THREADS * PER_THREAD);
    tb_adaptor_destroy(&a);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fw_exact_fit_and_one_byte_short),
        cmocka_unit_test(fw_packed_variant_and_map_form),
        cmocka_unit_test(fw_bad_input),
        cmocka_unit_test(fw_datagram_limit),
        cmocka_unit_test(fw_addresses),
        cmocka_unit_test(queue_fifo_bounded_wraps),
        cmocka_unit_test(suppress_rules),
        cmocka_unit_test(api_arguments),
        cmocka_unit_test(suppress_huge_heartbeat),
        cmocka_unit_test(threads_send_concurrently_in_order_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
