/*
 * tb_json_write.c - the broker's outgoing JSON: strings, doubles, updates
 * and snapshots.
 *
 * Why this exists: outgoing messages are spliced from spans the decoders
 * validated, so encoding is mostly memcpy; the few values we do format
 * (strings from msgpack, doubles, timestamps) must come out as JSON that
 * jansson and Python read back exactly.  The field order and compact
 * separators are fixed so the bytes are predictable for tests and caches.
 */
#include "tb_proto_int.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 for bytes that need escaping inside a JSON string literal. */
static const unsigned char needs_escape[256] = {
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    ['"'] = 1, ['\\'] = 1,
};

/* The letter after the backslash for the characters with a short escape. */
static const char short_escape[256] = {
    ['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
    ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

void
tb_json_write_string(tb_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Exact output size first, so a capped buffer fails only when the
     * result really does not fit and the loop needs no capacity checks. */
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        if (needs_escape[p[i]])
            extra += p[i] < 0x20 && !short_escape[p[i]] ? 5 : 1;
    if (n > SIZE_MAX / 4 || !tb_buf_reserve(out, n + extra + 2))
        return;
    char *w = out->data + out->len;
    *w++ = '"';
    if (!extra) {
        if (n)
            memcpy(w, s, n);
        w += n;
    }
    else {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = p[i];
            if (!needs_escape[c]) {
                *w++ = (char)c;
                continue;
            }
            *w++ = '\\';
            if (short_escape[c])
                *w++ = short_escape[c];
            else {
                *w++ = 'u'; *w++ = '0'; *w++ = '0';
                *w++ = hex[c >> 4]; *w++ = hex[c & 15];
            }
        }
    }
    *w++ = '"';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
}

/* Format v with %.<prec>g, make it locale-proof and give it a '.' or 'e'. */
static int
format_double(char *buf, size_t cap, double v, int prec)
{
    int n = snprintf(buf, cap, "%.*g", prec, v);
    if (n < 0 || (size_t)n >= cap - 3)
        return -1;
    bool has_mark = false;
    for (int i = 0; i < n; i++) {
        if (buf[i] == ',')            /* a locale's decimal comma */
            buf[i] = '.';
        if (buf[i] == '.' || buf[i] == 'e')
            has_mark = true;
    }
    if (!has_mark) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    return n;
}

/* The common case without printf: |v| in [1e-4, 1e15), written in plain
 * decimal notation with the fewest decimals that read back as v.
 *
 * v = M * 2^-s exactly (M the 53-bit mantissa).  For p decimals the
 * candidate is q = round(v * 10^p) = round(M * 10^p / 2^s), computed exactly
 * in 128 bits (M * 10^p < 2^127 for p <= 22), and q / 10^p reads back as v
 * iff it lies within half a unit in the last place of v:
 * |q * 2^s - M * 10^p| * 2 < 10^p (ties: M even; a power of two has a
 * closer neighbour below).  Trying p upwards gives the shortest form, and
 * the nearest one of that length, as Python's repr does.  Returns the
 * length, or -1 to fall back to printf. */
static int
fast_double(char *buf, double v)
{
    typedef unsigned __int128 u128;
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))   /* where %g uses plain notation too */
        return -1;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int s = 1075 - (int)((bits >> 52) & 0x7ff);          /* a = M * 2^-s */
    uint64_t M = (bits & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
    if (s <= 0 || s > 120)
        return -1;
    int e10 = 0;                        /* about floor(log10(a)) */
    for (double t = 10.0; e10 < 14 && a >= t; t *= 10.0)
        e10++;
    for (double t = 1.0; e10 > -4 && a < t; t /= 10.0)
        e10--;
    int p = e10 < 0 ? -e10 - 1 : 0;
    int p_max = 17 - e10 > 22 ? 22 : 17 - e10;
    u128 P = 1;                         /* 10^p */
    for (int i = 0; i < p; i++)
        P *= 10;
    for (; p <= p_max; p++, P *= 10) {
        u128 N = (u128)M * P;
        u128 q = (N + ((u128)1 << (s - 1))) >> s;
        u128 back = q << s;
        bool below = back < N;
        u128 T = below ? N - back : back - N;          /* <= 2^(s-1) */
        bool ok;
        if (below && M == (uint64_t)1 << 52)
            ok = 4 * T <= P;
        else
            ok = 2 * T < P || (2 * T == P && !(M & 1));
        if (!ok)
            continue;
        uint64_t m = (uint64_t)q;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + m % 10);
            m /= 10;
        } while (m);
        int n = 0;
        if (v < 0)
            buf[n++] = '-';
        if (nd <= p) {                  /* 0.000ddd */
            buf[n++] = '0';
            buf[n++] = '.';
            for (int i = 0; i < p - nd; i++)
                buf[n++] = '0';
            while (nd)
                buf[n++] = digits[--nd];
        }
        else {
            while (nd > p)
                buf[n++] = digits[--nd];
            buf[n++] = '.';
            if (!p)
                buf[n++] = '0';
            while (nd)
                buf[n++] = digits[--nd];
        }
        buf[n] = '\0';
        return n;
    }
    return -1;
}

void
tb_json_write_double(tb_buf_t *out, double v)
{
    if (!isfinite(v)) {
        tb_buf_append(out, "null", 4);
        return;
    }
    char buf[48];
    if (v == 0) {
        tb_buf_append(out, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 4 : 3);
        return;
    }
    int n = fast_double(buf, v);
    if (n > 0) {
        tb_buf_append(out, buf, (size_t)n);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = format_double(buf, sizeof buf, v, prec);
        if (n < 0)
            break;
        if (prec == 17 || tb_json_number_value(buf, (size_t)n) == v)
            break;
    }
    if (n < 0) {
        out->failed = true;
        return;
    }
    tb_buf_append(out, buf, (size_t)n);
}

#define LIT(out, s) tb_buf_append((out), (s), sizeof(s) - 1)

/* A JSON literal we already hold (documentation_url), or null when absent. */
static void
write_literal_or_null(tb_buf_t *out, const char *lit, size_t len)
{
    if (lit)
        tb_buf_append(out, lit, len);
    else
        LIT(out, "null");
}

void
tb_encode_update(tb_buf_t *out, const char *ns, size_t ns_len,
                 const char *data, size_t data_len,
                 const char *ts_json, size_t ts_json_len,
                 const char *doc_url, size_t doc_url_len,
                 int64_t seq)
{
    LIT(out, "{\"type\":\"thing_update\",\"ns\":");
    tb_json_write_string(out, ns, ns_len);
    LIT(out, ",\"data\":");
    tb_buf_append(out, data, data_len);
    LIT(out, ",\"ts\":");
    tb_buf_append(out, ts_json, ts_json_len);
    LIT(out, ",\"documentation_url\":");
    write_literal_or_null(out, doc_url, doc_url_len);
    if (seq >= 0) {
        char num[32];
        char *w = num + sizeof num;
        uint64_t v = (uint64_t)seq;
        do {
            *--w = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        LIT(out, ",\"seq\":");
        tb_buf_append(out, w, (size_t)(num + sizeof num - w));
    }
    tb_buf_append_char(out, '}');
}

void
tb_encode_update_list(tb_buf_t *out, const char *ns, size_t ns_len,
                      const char *data, size_t data_len,
                      const char *ts_json, size_t ts_json_len,
                      const char *doc_url, size_t doc_url_len)
{
    tb_buf_append_char(out, '[');
    tb_json_write_string(out, ns, ns_len);
    tb_buf_append_char(out, ',');
    tb_buf_append(out, ts_json, ts_json_len);
    tb_buf_append_char(out, ',');
    tb_buf_append(out, data, data_len);
    tb_buf_append_char(out, ',');
    write_literal_or_null(out, doc_url, doc_url_len);
    tb_buf_append_char(out, ']');
}

void
tb_encode_snapshot_entry(tb_buf_t *out, const char *ns, size_t ns_len,
                         const char *data, size_t data_len,
                         const char *ts_json, size_t ts_json_len,
                         const char *doc_url, size_t doc_url_len)
{
    tb_json_write_string(out, ns, ns_len);
    LIT(out, ":{\"data\":");
    tb_buf_append(out, data, data_len);
    LIT(out, ",\"ts\":");
    tb_buf_append(out, ts_json, ts_json_len);
    LIT(out, ",\"ns\":");
    tb_json_write_string(out, ns, ns_len);
    LIT(out, ",\"documentation_url\":");
    write_literal_or_null(out, doc_url, doc_url_len);
    tb_buf_append_char(out, '}');
}

void
tb_encode_snapshot_begin(tb_buf_t *out, double now)
{
    LIT(out, "{\"type\":\"thing_snapshot\",\"ts\":");
    tb_json_write_double(out, now);
    LIT(out, ",\"data\":{");
}

void
tb_encode_snapshot_end(tb_buf_t *out)
{
    LIT(out, "}}");
}
