/*
 * bench_msg.c - fixed-width message templates for the bench (see bench_msg.h).
 *
 * Why this exists: formatting 166 bytes with snprintf per message would make
 * the loader, not the broker, the bottleneck; patching digits in a template
 * keeps the loader at several million messages a second.
 */
#include "bench_msg.h"
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t bench_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void put_digits(unsigned char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (unsigned char)('0' + v % 10);
        v /= 10;
    }
}

void bench_ns_format(char *out, uint32_t ns_index)
{
    snprintf(out, BENCH_NS_WIDTH + 1, "bench.g%04u.t%03u",
             (unsigned)(ns_index / 1000u) % 10000u, (unsigned)(ns_index % 1000u));
}

/* The data value is the same object in both forms:
 * {"seq":"0000000000","stamp":"@t00000000000000000000","pad":"xx..."} */
#define JSON_HEAD "{\"type\":\"thing_update\",\"ns\":\""
#define JSON_DATA "\",\"data\":{\"seq\":\""
#define JSON_STAMP "\",\"stamp\":\""
#define JSON_PAD "\",\"pad\":\""
#define JSON_TS "\"},\"ts\":"
#define JSON_TAIL ",\"documentation_url\":null}"
#define TS_WIDTH 17  /* 1763725270.123456 */

static size_t json_fixed_size(void)
{
    return strlen(JSON_HEAD) + BENCH_NS_WIDTH + strlen(JSON_DATA) + BENCH_SEQ_DIGITS +
           strlen(JSON_STAMP) + 2 + BENCH_STAMP_DIGITS + strlen(JSON_PAD) +
           strlen(JSON_TS) + TS_WIDTH + strlen(JSON_TAIL);
}

static int build_json(bench_msg_t *m, size_t pad)
{
    char padtxt[BENCH_MAX_MSG];
    memset(padtxt, 'x', pad);
    padtxt[pad] = '\0';
    int n = snprintf((char *)m->buf, sizeof m->buf,
                     JSON_HEAD "%s" JSON_DATA "%0*d" JSON_STAMP BENCH_STAMP_MARK "%0*d"
                     JSON_PAD "%s" JSON_TS "%s" JSON_TAIL,
                     "bench.g0000.t000", BENCH_SEQ_DIGITS, 0, BENCH_STAMP_DIGITS, 0,
                     padtxt, "1000000000.000000");
    if (n < 0 || (size_t)n >= sizeof m->buf)
        return -1;
    m->len = (size_t)n;
    m->ns_off = strlen(JSON_HEAD);
    m->seq_off = m->ns_off + BENCH_NS_WIDTH + strlen(JSON_DATA);
    m->stamp_off = m->seq_off + BENCH_SEQ_DIGITS + strlen(JSON_STAMP) + 2;
    m->ts_off = m->stamp_off + BENCH_STAMP_DIGITS + strlen(JSON_PAD) + pad + strlen(JSON_TS);
    return 0;
}

/* What a broker must keep per Thing at the least: the data value and the
 * ts, as JSON text (the msgpack form is transcoded to the same text). */
static void json_value_sizes(bench_msg_t *m, size_t pad)
{
    bench_msg_t j;
    m->data_json_len = m->ts_json_len = 0;
    if (build_json(&j, pad) != 0)
        return;
    const char *text = (const char *)j.buf;
    const char *data = strstr(text, "\"data\":");
    const char *ts = strstr(text, JSON_TS);
    if (data && ts && ts > data)
        m->data_json_len = (size_t)(ts + 2 - (data + 7));   /* through the '}' */
    m->ts_json_len = TS_WIDTH;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static int build_msgpack(bench_msg_t *m, size_t pad)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char zeros[BENCH_STAMP_DIGITS + 3];
    char padtxt[BENCH_MAX_MSG];
    size_t ns_off, seq_off, stamp_off, ts_off;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_str(&pk, BENCH_NS_WIDTH);
    ns_off = sb.size;
    msgpack_pack_str_body(&pk, "bench.g0000.t000", BENCH_NS_WIDTH);
    ts_off = sb.size + 1;                       /* after the 0xcb marker */
    msgpack_pack_double(&pk, 1e9);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "seq", 3);
    memset(zeros, '0', sizeof zeros);
    msgpack_pack_str(&pk, BENCH_SEQ_DIGITS);
    seq_off = sb.size;
    msgpack_pack_str_body(&pk, zeros, BENCH_SEQ_DIGITS);
    pack_str(&pk, "stamp", 5);
    zeros[0] = '@';
    zeros[1] = 't';
    msgpack_pack_str(&pk, BENCH_STAMP_DIGITS + 2);
    stamp_off = sb.size + 2;
    msgpack_pack_str_body(&pk, zeros, BENCH_STAMP_DIGITS + 2);
    pack_str(&pk, "pad", 3);
    memset(padtxt, 'x', pad);
    pack_str(&pk, padtxt, pad);
    msgpack_pack_nil(&pk);
    int rc = -1;
    if (sb.size <= sizeof m->buf) {
        memcpy(m->buf, sb.data, sb.size);
        m->len = sb.size;
        m->ns_off = ns_off;
        m->seq_off = seq_off;
        m->stamp_off = stamp_off;
        m->ts_off = ts_off;
        rc = 0;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int bench_msg_init(bench_msg_t *m, bench_form_t form, size_t json_size)
{
    size_t fixed = json_fixed_size();
    if (json_size < fixed || json_size - fixed > 3000)
        return -1;
    memset(m, 0, sizeof *m);
    m->form = form;
    size_t pad = json_size - fixed;
    json_value_sizes(m, pad);
    return form == BENCH_FORM_JSON ? build_json(m, pad) : build_msgpack(m, pad);
}

void bench_msg_set(bench_msg_t *m, uint32_t ns_index, uint64_t seq,
                   double ts, uint64_t stamp_ns)
{
    unsigned char *ns = m->buf + m->ns_off;
    put_digits(ns + 7, (ns_index / 1000u) % 10000u, 4);
    put_digits(ns + 13, ns_index % 1000u, 3);
    put_digits(m->buf + m->seq_off, seq, BENCH_SEQ_DIGITS);
    put_digits(m->buf + m->stamp_off, stamp_ns, BENCH_STAMP_DIGITS);
    if (m->form == BENCH_FORM_JSON) {
        uint64_t micros = (uint64_t)(ts * 1e6);
        unsigned char *p = m->buf + m->ts_off;
        put_digits(p, micros / 1000000u, 10);
        p[10] = '.';
        put_digits(p + 11, micros % 1000000u, 6);
    } else {
        union { double d; uint64_t u; } v = { .d = ts };
        unsigned char *p = m->buf + m->ts_off;
        for (int i = 0; i < 8; i++)
            p[i] = (unsigned char)(v.u >> (56 - 8 * i));
    }
}

int bench_stamp_find(const void *data, size_t len, uint64_t *stamp_ns)
{
    /* The marker bytes can also occur inside a binary msgpack float, so
     * take the first occurrence that is followed by the full digit run. */
    const unsigned char *p = data, *end = p + len;
    while (p < end) {
        const unsigned char *hit = memmem(p, (size_t)(end - p), BENCH_STAMP_MARK, 2);
        if (!hit || (size_t)(end - hit) < 2 + BENCH_STAMP_DIGITS)
            return -1;
        uint64_t v = 0;
        int i;
        for (i = 0; i < BENCH_STAMP_DIGITS; i++) {
            unsigned c = hit[2 + i];
            if (c < '0' || c > '9')
                break;
            v = v * 10 + (c - '0');
        }
        if (i == BENCH_STAMP_DIGITS) {
            *stamp_ns = v;
            return 0;
        }
        p = hit + 1;
    }
    return -1;
}
