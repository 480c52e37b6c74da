/*
 * test_proto_msgpack.c - every rule of the msgpack thing_update decoder.
 *
 * Why this exists: firmware adaptors send msgpack over UDP; the decoder
 * must accept exactly what the original accepted (the byte vector from
 * PROTOCOL-v1.md), transcode it to JSON that jansson reads back as the
 * same value, and reject hostile datagrams (four-billion-element headers,
 * deep nesting, truncation) cheaply, with a named reason.  Inputs are
 * fixed byte vectors or built with msgpack-c's packer (an independent
 * implementation); each case also runs through the msgpack-c based
 * reference decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_proto.h"
#include "ref_decode.h"

static tb_decoder_t *dec;
static tb_limits_t lim;

static int
setup(void **state)
{
    (void)state;
    tb_limits_default(&lim);
    lim.max_depth = REF_MSGPACK_MAX_DEPTH;   /* what msgpack-c can nest */
    dec = tb_decoder_new(&lim);
    return dec ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    tb_decoder_destroy(&dec);
    return 0;
}

static size_t
unhex(const char *hex, unsigned char *out)
{
    size_t n = 0;
    for (const char *p = hex; *p; ) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (unsigned char)v;
        p += 2;
    }
    return n;
}

static tb_reason_t
decode(const void *p, size_t n, tb_update_t *u, tb_decode_error_t *e, bool compare)
{
    if (compare) {
        const char *why = ref_check_msgpack(dec, &lim, p, n);
        if (why) {
            char hex[200] = "";
            for (size_t i = 0; i < n && i < 60; i++)
                sprintf(hex + 3 * i, "%02x ", ((const unsigned char *)p)[i]);
            fail_msg("reference disagrees on %s: %s", hex, why);
        }
    }
    return tb_decode_msgpack(dec, p, n, u, e);
}

#define EXPECT_HEX(hex, want) expect_hex((hex), (want), __LINE__)
static void
expect_hex(const char *hex, tb_reason_t want, int line)
{
    unsigned char buf[4096];
    size_t n = unhex(hex, buf);
    tb_update_t u;
    tb_decode_error_t e;
    tb_reason_t r = decode(buf, n, &u, &e, true);
    if (r != want)
        fail_msg("line %d: %s: got %s (%s), want %s", line, hex, tb_reason_name(r),
                 r ? e.text : "", tb_reason_name(want));
}

static void
assert_json_equal(const char *got, size_t n, const char *want)
{
    json_t *a = json_loadb(got, n, JSON_DECODE_ANY, NULL);
    json_t *b = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(a);
    assert_non_null(b);
    if (!json_equal(a, b))
        fail_msg("got %.*s, want %s", (int)n, got, want);
    json_decref(a);
    json_decref(b);
}

/* The vector from the original's test suite (PROTOCOL-v1.md). */
static void
test_protocol_vector(void **state)
{
    (void)state;
    const char *hex =
        "94 b3 626f74746c656b69642e70726f746f74797065 c0 82 ab 64687432325f6572726f72 a0"
        " a8 6d65746164617461 83 a5 6c6f6f7073 ce 0000009a a9 6d7367735f73656e74 ce 00000099"
        " ac 6d7367735f64726f70706564 ce 00000001 d9 39 68747470733a2f2f6769746875622e636f6d2f"
        "6d697374616b65732d636f6e736f727469756d2f657370383236362e626f74746c656b696473";
    unsigned char buf[512];
    size_t n = unhex(hex, buf);
    tb_update_t u;
    assert_int_equal(decode(buf, n, &u, NULL, true), TB_REASON_OK);
    assert_int_equal(u.ns_len, 19);
    assert_memory_equal(u.ns, "bottlekid.prototype", 19);
    assert_false(u.has_ts);
    assert_json_equal(u.data, u.data_len,
        "{\"dht22_error\": \"\", \"metadata\": {\"loops\": 154, \"msgs_sent\": 153, \"msgs_dropped\": 1}}");
    /* the transcoding is compact and keeps msgpack's key order: exact bytes */
    const char *exact = "{\"dht22_error\":\"\",\"metadata\":{\"loops\":154,\"msgs_sent\":153,\"msgs_dropped\":1}}";
    assert_int_equal(u.data_len, strlen(exact));
    assert_memory_equal(u.data, exact, u.data_len);
    const char *doc = "\"https://github.com/mistakes-consortium/esp8266.bottlekids\"";
    assert_int_equal(u.doc_url_len, strlen(doc));
    assert_memory_equal(u.doc_url, doc, u.doc_url_len);
    /* the whole message as the original reader sees it */
    tb_buf_t out;
    tb_buf_init(&out, 0);
    tb_encode_update(&out, u.ns, u.ns_len, u.data, u.data_len, "1.5", 3, u.doc_url, u.doc_url_len, -1);
    assert_json_equal(out.data, out.len,
        "{\"type\":\"thing_update\",\"ns\":\"bottlekid.prototype\",\"data\":{\"dht22_error\": \"\","
        " \"metadata\": {\"loops\": 154, \"msgs_sent\": 153, \"msgs_dropped\": 1}},\"ts\":1.5,"
        "\"documentation_url\":\"https://github.com/mistakes-consortium/esp8266.bottlekids\"}");
    tb_buf_free(&out);
}

/* A packer with helpers for the map form. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} pack_t;

static void
pk_init(pack_t *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void
pk_str(pack_t *p, const char *s)
{
    msgpack_pack_str(&p->pk, strlen(s));
    msgpack_pack_str_body(&p->pk, s, strlen(s));
}

static void
test_map_form(void **state)
{
    (void)state;
    pack_t p;
    pk_init(&p);
    msgpack_pack_map(&p.pk, 6);
    pk_str(&p, "type"); pk_str(&p, "thing_update");
    pk_str(&p, "ns"); pk_str(&p, "shop.shopbot.spacemon");
    pk_str(&p, "data");
    msgpack_pack_map(&p.pk, 7);
    pk_str(&p, "busy"); msgpack_pack_double(&p.pk, 12.0);
    pk_str(&p, "light"); msgpack_pack_float(&p.pk, 31.5f);
    pk_str(&p, "neg"); msgpack_pack_int64(&p.pk, INT64_MIN);
    pk_str(&p, "big"); msgpack_pack_uint64(&p.pk, INT64_MAX);
    msgpack_pack_int(&p.pk, 7); msgpack_pack_true(&p.pk);
    msgpack_pack_int(&p.pk, -7); msgpack_pack_nil(&p.pk);
    pk_str(&p, "s");
    pk_str(&p, "q\"b\\ \n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80");
    pk_str(&p, "ts"); msgpack_pack_double(&p.pk, 1423351104.945);
    pk_str(&p, "documentation_url"); pk_str(&p, "http://example.com/Shopbot");
    pk_str(&p, "extra"); msgpack_pack_array(&p.pk, 2); msgpack_pack_int(&p.pk, 1); msgpack_pack_false(&p.pk);
    tb_update_t u;
    assert_int_equal(decode(p.sb.data, p.sb.size, &u, NULL, true), TB_REASON_OK);
    assert_memory_equal(u.ns, "shop.shopbot.spacemon", u.ns_len);
    assert_true(u.has_ts);
    assert_true(u.ts == 1423351104.945);
    assert_int_equal(u.ts_json_len, 14);
    assert_memory_equal(u.ts_json, "1423351104.945", 14);
    const char *want = "{\"busy\":12.0,\"light\":31.5,\"neg\":-9223372036854775808,"
                       "\"big\":9223372036854775807,\"7\":true,\"-7\":null,"
                       "\"s\":\"q\\\"b\\\\ \\n\\t\\u0001 caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
    assert_int_equal(u.data_len, strlen(want));
    assert_memory_equal(u.data, want, u.data_len);
    assert_memory_equal(u.doc_url, "\"http://example.com/Shopbot\"", u.doc_url_len);
    msgpack_sbuffer_destroy(&p.sb);
}

static void
test_ts_forms(void **state)
{
    (void)state;
    tb_update_t u;
    /* ["a", <ts>, 1, nil] */
    unsigned char v[32];
    size_t n = unhex("94 a161 cd0400 01 c0", v);          /* uint16 1024 */
    assert_int_equal(decode(v, n, &u, NULL, true), TB_REASON_OK);
    assert_true(u.has_ts && u.ts == 1024.0);
    assert_memory_equal(u.ts_json, "1024.0", u.ts_json_len);
    n = unhex("94 a161 ca3fc00000 01 c0", v);              /* float32 1.5 */
    assert_int_equal(decode(v, n, &u, NULL, true), TB_REASON_OK);
    assert_memory_equal(u.ts_json, "1.5", u.ts_json_len);
    n = unhex("94 a161 ff 01 c0", v);                      /* -1 */
    assert_int_equal(decode(v, n, &u, NULL, true), TB_REASON_OK);
    assert_memory_equal(u.ts_json, "-1.0", u.ts_json_len);
    n = unhex("94 a161 c0 01 c0", v);
    assert_int_equal(decode(v, n, &u, NULL, true), TB_REASON_OK);
    assert_false(u.has_ts);
    EXPECT_HEX("94 a161 a3313233 01 c0", TB_REASON_BAD_TS);
    EXPECT_HEX("94 a161 c3 01 c0", TB_REASON_BAD_TS);
    EXPECT_HEX("94 a161 90 01 c0", TB_REASON_BAD_TS);
    EXPECT_HEX("94 a161 cb7ff8000000000000 01 c0", TB_REASON_BAD_NUMBER);  /* NaN */
}

static void
test_rules(void **state)
{
    (void)state;
    EXPECT_HEX("80", TB_REASON_MISSING_TYPE);
    /* {"type":"thing_update","ns":"a","data":1} and broken variants */
    EXPECT_HEX("83 a474797065 ac7468696e675f757064617465 a26e73 a161 a464617461 01", TB_REASON_OK);
    EXPECT_HEX("83 a474797065 ac7468696e675f757064617465 a26e73 a141 a464617461 01", TB_REASON_BAD_NS);
    EXPECT_HEX("83 a474797065 ac7468696e675f757064617465 a26e73 01 a464617461 01", TB_REASON_BAD_NS);
    EXPECT_HEX("83 a474797065 c40174 a26e73 a161 a464617461 01", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("83 a474797065 a3666f6f a26e73 a161 a464617461 01", TB_REASON_UNKNOWN_TYPE);
    EXPECT_HEX("83 a474797065 01 a26e73 a161 a464617461 01", TB_REASON_UNKNOWN_TYPE);
    EXPECT_HEX("82 a474797065 ac7468696e675f757064617465 a464617461 01", TB_REASON_MISSING_NS);
    EXPECT_HEX("82 a474797065 ac7468696e675f757064617465 a26e73 a161", TB_REASON_MISSING_DATA);
    EXPECT_HEX("84 a474797065 ac7468696e675f757064617465 a26e73 a161 a464617461 01"
               " b1646f63756d656e746174696f6e5f75726c 05", TB_REASON_BAD_DOC_URL);
    EXPECT_HEX("84 a474797065 ac7468696e675f757064617465 a26e73 a161 a464617461 01"
               " b1646f63756d656e746174696f6e5f75726c c0", TB_REASON_OK);
    /* list form */
    EXPECT_HEX("93 a161 c0 01", TB_REASON_BAD_LIST_LENGTH);
    EXPECT_HEX("95 a161 c0 01 c0 c0", TB_REASON_BAD_LIST_LENGTH);
    EXPECT_HEX("90", TB_REASON_BAD_LIST_LENGTH);
    EXPECT_HEX("94 a0 c0 01 c0", TB_REASON_OK);                 /* the root */
    EXPECT_HEX("94 a2612e c0 01 c0", TB_REASON_BAD_NS);
    EXPECT_HEX("94 c0 c0 01 c0", TB_REASON_BAD_NS);
    EXPECT_HEX("94 a161 c0 01 01", TB_REASON_BAD_DOC_URL);
    /* other top levels */
    EXPECT_HEX("01", TB_REASON_NOT_AN_OBJECT);
    EXPECT_HEX("a474797065", TB_REASON_NOT_AN_OBJECT);
    EXPECT_HEX("c0", TB_REASON_NOT_AN_OBJECT);
    /* integer map keys become decimal strings; other keys are refused */
    EXPECT_HEX("94 a161 c0 82 01 02 ff 03 c0", TB_REASON_OK);
    EXPECT_HEX("94 a161 c0 81 c0 01 c0", TB_REASON_BAD_KEY);
    EXPECT_HEX("94 a161 c0 81 c3 01 c0", TB_REASON_BAD_KEY);
    EXPECT_HEX("94 a161 c0 81 ca3fc00000 01 c0", TB_REASON_BAD_KEY);
    EXPECT_HEX("94 a161 c0 81 9101 01 c0", TB_REASON_BAD_KEY);
    EXPECT_HEX("94 a161 c0 81 80 01 c0", TB_REASON_BAD_KEY);
    EXPECT_HEX("94 a161 c0 81 c40101 01 c0", TB_REASON_BAD_KEY);
    EXPECT_HEX("81 c0 01", TB_REASON_BAD_KEY);                   /* at the top level too */
    /* bin and ext have no JSON form */
    EXPECT_HEX("94 a161 c0 c40100 c0", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("94 a161 c0 c5000100 c0", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("94 a161 c0 c6000000 0100 c0", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("94 a161 c0 d40100 c0", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("94 a161 c0 d8 01 00000000000000000000000000000000 c0", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("94 a161 c0 c7 02 05 0000 c0", TB_REASON_UNSUPPORTED_TYPE);
    EXPECT_HEX("94 a161 c0 d6ff 00000000 c0", TB_REASON_UNSUPPORTED_TYPE);   /* timestamp */
    /* numbers */
    EXPECT_HEX("94 a161 c0 cf7fffffffffffffff c0", TB_REASON_OK);
    EXPECT_HEX("94 a161 c0 cf8000000000000000 c0", TB_REASON_BAD_NUMBER);
    EXPECT_HEX("94 a161 c0 d38000000000000000 c0", TB_REASON_OK);
    EXPECT_HEX("94 a161 c0 cb7ff0000000000000 c0", TB_REASON_BAD_NUMBER);   /* inf */
    EXPECT_HEX("94 a161 c0 caff800000 c0", TB_REASON_BAD_NUMBER);           /* -inf f32 */
    EXPECT_HEX("94 a161 c0 81 cf8000000000000000 01 c0", TB_REASON_OK);    /* as a key it is text */
    /* strings */
    EXPECT_HEX("94 a161 c0 a2c3a9 c0", TB_REASON_OK);
    EXPECT_HEX("94 a161 c0 a1ff c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 a2c0af c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 a3eda080 c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 a1c3 c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 a3610062 c0", TB_REASON_NUL_IN_STRING);
    EXPECT_HEX("94 a161 c0 81 a1ff 01 c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 d90161 c0", TB_REASON_OK);
    EXPECT_HEX("94 a161 c0 da000161 c0", TB_REASON_OK);
    EXPECT_HEX("94 a161 c0 db0000000161 c0", TB_REASON_OK);
    /* first content fault in input order */
    EXPECT_HEX("94 a161 c0 92 a1ff c0 c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 92 c0 a1ff c0", TB_REASON_BAD_UTF8);
    EXPECT_HEX("94 a161 c0 92 c40100 a1ff c0", TB_REASON_UNSUPPORTED_TYPE);
    /* structure before content, trailing bytes before content */
    EXPECT_HEX("94 a161 c0 a1ff", TB_REASON_BAD_MSGPACK);
    EXPECT_HEX("94 a161 c0 a1ff c0 c0", TB_REASON_TRAILING_BYTES);
    EXPECT_HEX("94 a161 c0 01 c0 00", TB_REASON_TRAILING_BYTES);
    EXPECT_HEX("c1", TB_REASON_BAD_MSGPACK);
    EXPECT_HEX("94 a161 c0 c1 c0", TB_REASON_BAD_MSGPACK);
    EXPECT_HEX("", TB_REASON_BAD_MSGPACK);
}

static void
test_hostile_counts(void **state)
{
    (void)state;
    tb_update_t u;
    tb_decode_error_t e;
    /* four-billion-element headers: refused at the header, nothing allocated */
    const char *cases[] = {
        "dd ffffffff", "df ffffffff", "dd ffffffff 01 02 03", "df ffffffff a161 01",
        "94 a161 c0 dd ffffffff c0", "94 a161 c0 df ffffffff c0", "de ffff", "dc ffff 00",
        "db ffffffff 61", "c6 ffffffff 00", "c9 ffffffff 01 00", "da ffff 61",
        "9f 01", "8f 01 01",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char buf[64];
        size_t n = unhex(cases[i], buf);
        unsigned char *exact = malloc(n);
        memcpy(exact, buf, n);
        assert_int_equal(tb_decode_msgpack(dec, exact, n, &u, &e), TB_REASON_BAD_MSGPACK);
        assert_int_equal(e.reason, TB_REASON_BAD_MSGPACK);
        free(exact);
    }
}

static void
test_depth(void **state)
{
    (void)state;
    tb_update_t u;
    unsigned char buf[200000];
    /* ["a", nil, [[...[1]...]], nil] with the data at depth d */
    for (unsigned d = 30; d <= 34; d++) {
        size_t n = unhex("94 a161 c0", buf);
        for (unsigned i = 1; i < d; i++)
            buf[n++] = 0x91;
        buf[n++] = 0x01;
        buf[n++] = 0xc0;
        tb_reason_t want = d <= REF_MSGPACK_MAX_DEPTH ? TB_REASON_OK : TB_REASON_TOO_DEEP;
        assert_int_equal(decode(buf, n, &u, NULL, true), want);
    }
    /* 100 000-deep nesting stops at the limit, no recursion */
    memset(buf, 0x91, 100000);
    buf[100000] = 0x01;
    assert_int_equal(decode(buf, 100001, &u, NULL, false), TB_REASON_TOO_DEEP);
    memset(buf, 0x81, 100000);          /* maps as keys of maps */
    assert_int_equal(decode(buf, 100000, &u, NULL, false), TB_REASON_TOO_DEEP);
    memset(buf, 0x81, 199999);
    buf[0] = 0x81;
    for (size_t i = 0; i < 199998; i += 2) {
        buf[i] = 0x81;
        buf[i + 1] = 0x01;
    }
    assert_int_equal(decode(buf, 199999, &u, NULL, false), TB_REASON_TOO_DEEP);
    /* the default limit (64) with a fresh decoder */
    tb_decoder_t *d64 = tb_decoder_new(NULL);
    size_t n = unhex("94 a161 c0", buf);
    for (unsigned i = 2; i < 64; i++)    /* depth 2..63, then [] at 64 */
        buf[n++] = 0x91;
    buf[n++] = 0x90;
    buf[n++] = 0xc0;
    assert_int_equal(tb_decode_msgpack(d64, buf, n, &u, NULL), TB_REASON_OK);
    n = unhex("94 a161 c0", buf);
    for (unsigned i = 2; i < 65; i++)
        buf[n++] = 0x91;
    buf[n++] = 0x90;
    buf[n++] = 0xc0;
    assert_int_equal(tb_decode_msgpack(d64, buf, n, &u, NULL), TB_REASON_TOO_DEEP);
    tb_decoder_destroy(&d64);
}

static void
test_large_and_truncated(void **state)
{
    (void)state;
    tb_update_t u;
    /* a string just under the limit transcodes; one byte over is too large */
    size_t n = TB_DEFAULT_MAX_INPUT;
    unsigned char *big = malloc(n + 1);
    size_t h = unhex("94 a161 c0 db", big);
    uint32_t slen = (uint32_t)(n - h - 4 - 1);
    big[h++] = (unsigned char)(slen >> 24); big[h++] = (unsigned char)(slen >> 16);
    big[h++] = (unsigned char)(slen >> 8); big[h++] = (unsigned char)slen;
    memset(big + h, '\x01', slen);             /* escapes grow 6x in JSON */
    big[n - 1] = 0xc0;
    assert_int_equal(decode(big, n, &u, NULL, true), TB_REASON_OK);
    assert_int_equal(u.data_len, (size_t)slen * 6 + 2);
    assert_int_equal(tb_decode_msgpack(dec, big, n + 1, &u, NULL), TB_REASON_TOO_LARGE);
    free(big);
    /* every prefix of a valid datagram is refused, never over-read */
    const char *hex =
        "86 a474797065 ac7468696e675f757064617465 a26e73 a3612e62 a464617461"
        " 83 a178 93 01 cbc0a3880000000000 a2c3a9 a179 81 ff c3 a17a cd0100"
        " a27473 cb41d535cc703c7ae1 b1646f63756d656e746174696f6e5f75726c a468747470 a178 c0";
    unsigned char full[256];
    size_t fn = unhex(hex, full);
    assert_int_equal(decode(full, fn, &u, NULL, true), TB_REASON_OK);
    for (size_t i = 0; i < fn; i++) {
        unsigned char *p = malloc(i ? i : 1);
        memcpy(p, full, i);
        assert_int_equal(decode(p, i, &u, NULL, true), TB_REASON_BAD_MSGPACK);
        free(p);
    }
}

/* Spans stay valid until the next decode; a second decode reuses memory. */
static void
test_reuse(void **state)
{
    (void)state;
    unsigned char a[64], b[64];
    size_t na = unhex("94 a161 c0 92 01 02 c0", a);
    size_t nb = unhex("94 a162 c0 a3787878 c0", b);
    tb_update_t u;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tb_decode_msgpack(dec, a, na, &u, NULL), TB_REASON_OK);
        assert_memory_equal(u.data, "[1,2]", u.data_len);
        assert_int_equal(tb_decode_msgpack(dec, b, nb, &u, NULL), TB_REASON_OK);
        assert_memory_equal(u.data, "\"xxx\"", u.data_len);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_vector),
        cmocka_unit_test(test_map_form),
        cmocka_unit_test(test_ts_forms),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_hostile_counts),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_large_and_truncated),
        cmocka_unit_test(test_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
