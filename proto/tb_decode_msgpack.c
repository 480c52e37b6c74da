/*
 * tb_decode_msgpack.c - a thing_update from one msgpack object, transcoded
 * to JSON text once, here.
 *
 * Why this exists: firmware adaptors send msgpack over UDP, and everything
 * downstream of the decoder (directory, snapshots, subscribers) speaks
 * JSON.  This is our own bounded reader rather than msgpack-c's unpacker
 * because the unpacker allocates in proportion to the counts a datagram
 * *declares* (four billion elements in five bytes) and builds a DOM we
 * would only walk once.  Here every container header is checked against
 * the bytes that remain (each element needs at least one), nesting uses a
 * stack sized once at decoder creation, and values are written straight
 * into the decoder's reusable JSON buffer.
 *
 * Verdict order (what the tests compare with msgpack-c + jansson):
 * 1. structure: truncation, the unused byte 0xc1, declared counts that
 *    cannot fit (BAD_MSGPACK); nesting beyond max_depth (TOO_DEEP); both
 *    stop the reader at once;
 * 2. bytes after the object (TRAILING_BYTES);
 * 3. content, first in input order: bad UTF-8, U+0000 in a string
 *    (checked after UTF-8 for the same string), bin/ext (UNSUPPORTED_TYPE),
 *    map keys that are neither strings nor integers (BAD_KEY), NaN/inf and
 *    integers above INT64_MAX (BAD_NUMBER);
 * 4. the thing_update rules, as for JSON.
 */
#include "tb_decoder_int.h"
#include "tb_ns.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    tb_decoder_t        *dec;
    const unsigned char *in;
    size_t               len, pos;
    tb_buf_t            *out;
    bool                 emit;          /* write JSON (off for skipped values) */
    /* first structural failure */
    tb_reason_t          reason;
    size_t               err_off;
    char                 err_text[100];
    /* first content failure */
    tb_reason_t          c_reason;
    size_t               c_off;
    char                 c_text[100];
    /* the last scalar read, for the top-level fields */
    tb_vkind_t           vkind;
    const unsigned char *str;
    size_t               str_len;
    double               num;
} mp_t;

static bool
structural(mp_t *m, tb_reason_t r, size_t off, const char *text)
{
    if (m->reason == TB_REASON_OK) {
        m->reason = r;
        m->err_off = off;
        snprintf(m->err_text, sizeof m->err_text, "%s", text);
    }
    return false;
}

static void
content(mp_t *m, tb_reason_t r, size_t off, const char *text)
{
    if (m->c_reason == TB_REASON_OK) {
        m->c_reason = r;
        m->c_off = off;
        snprintf(m->c_text, sizeof m->c_text, "%s", text);
    }
    m->emit = false;   /* the message is lost: stop writing, keep checking */
}

static inline uint64_t
be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Take n bytes (after the header byte already consumed at off). */
static inline bool
need(mp_t *m, size_t n, size_t off)
{
    if (m->len - m->pos < n)
        return structural(m, TB_REASON_BAD_MSGPACK, off, "truncated msgpack object");
    return true;
}

static void
emit_int(mp_t *m, bool neg, uint64_t mag, bool quoted)
{
    char buf[24];
    char *w = buf + sizeof buf;
    do {
        *--w = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    if (neg)
        *--w = '-';
    if (quoted)
        tb_buf_append_char(m->out, '"');
    tb_buf_append(m->out, w, (size_t)(buf + sizeof buf - w));
    if (quoted)
        tb_buf_append_char(m->out, '"');
}

static void
emit_c(mp_t *m, char c)
{
    if (m->emit)
        tb_buf_append_char(m->out, c);
}

/* A string body of n bytes at m->pos: validated, written as a literal. */
static void
read_str(mp_t *m, size_t n, size_t off)
{
    const unsigned char *p = m->in + m->pos;
    m->pos += n;
    m->vkind = TB_V_STRING;
    m->str = p;
    m->str_len = n;
    if (!tb_utf8_valid(p, n)) {
        content(m, TB_REASON_BAD_UTF8, off, "a string is not valid UTF-8");
        return;
    }
    if (memchr(p, 0, n)) {
        content(m, TB_REASON_NUL_IN_STRING, off, "a string contains a NUL character");
        return;
    }
    if (m->emit)
        tb_json_write_string(m->out, (const char *)p, n);
}

/* Read one whole value at m->pos inside base_depth open containers;
 * as_key: that value is a map key (a string or an integer, written as a
 * JSON string).  Keys inside nested maps are read by the same loop. */
static bool
read_value(mp_t *m, unsigned base_depth, bool as_key)
{
    tb_mp_level_t *lv = m->dec->levels;
    unsigned max_depth = m->dec->limits.max_depth;
    unsigned depth = base_depth;
    const unsigned char *in = m->in;

    for (;;) {
        /* Is this value a map key? (top of stack is a map expecting a key) */
        bool is_key = depth > base_depth ? lv[depth].is_map && (lv[depth].left & 1) == 0
                                         : as_key;
        size_t off = m->pos;
        if (!need(m, 1, off))
            return false;
        unsigned char b = in[m->pos++];
        uint64_t count = 0;
        bool container = false, is_map = false;
        m->vkind = TB_V_OTHER;

        if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) {   /* integers */
            bool neg = false;
            uint64_t mag;
            if (b <= 0x7f)
                mag = b;
            else if (b >= 0xe0) {
                neg = true;
                mag = (uint64_t)(256 - b);
            }
            else {
                static const unsigned char sizes[8] = { 1, 2, 4, 8, 1, 2, 4, 8 };
                size_t n = sizes[b - 0xcc];
                if (!need(m, n, off))
                    return false;
                uint64_t raw = be(in + m->pos, n);
                m->pos += n;
                if (b <= 0xcf)
                    mag = raw;
                else {
                    int64_t v;
                    switch (n) {
                    case 1: v = (int8_t)raw; break;
                    case 2: v = (int16_t)raw; break;
                    case 4: v = (int32_t)raw; break;
                    default: v = (int64_t)raw;
                    }
                    neg = v < 0;
                    mag = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
                }
            }
            if (!is_key && !neg && mag > INT64_MAX)
                content(m, TB_REASON_BAD_NUMBER, off, "integer above the int64 range");
            else if (m->emit)
                emit_int(m, neg && mag, mag, is_key);
            m->vkind = TB_V_NUMBER;
            m->num = neg ? -(double)mag : (double)mag;
        }
        else if (b >= 0x80 && b <= 0x8f) { container = is_map = true; count = b & 0x0f; }
        else if (b >= 0x90 && b <= 0x9f) { container = true; count = b & 0x0f; }
        else if (b >= 0xa0 && b <= 0xbf) {
            size_t n = b & 0x1f;
            if (!need(m, n, off))
                return false;
            read_str(m, n, off);
        }
        else switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
            if (is_key)
                content(m, TB_REASON_BAD_KEY, off, "a map key is neither a string nor an integer");
            else if (m->emit)
                tb_buf_append_str(m->out, b == 0xc0 ? "null" : b == 0xc2 ? "false" : "true");
            m->vkind = b == 0xc0 ? TB_V_NULL : TB_V_OTHER;
            break;
        case 0xc1:
            return structural(m, TB_REASON_BAD_MSGPACK, off, "byte 0xc1 is never used in msgpack");
        case 0xca:
        case 0xcb: {
            size_t n = b == 0xca ? 4 : 8;
            if (!need(m, n, off))
                return false;
            uint64_t raw = be(in + m->pos, n);
            m->pos += n;
            double v;
            if (n == 4) {
                uint32_t r32 = (uint32_t)raw;
                float fv;
                memcpy(&fv, &r32, 4);
                v = fv;
            }
            else
                memcpy(&v, &raw, 8);
            if (is_key)
                content(m, TB_REASON_BAD_KEY, off, "a map key is neither a string nor an integer");
            else if (!isfinite(v))
                content(m, TB_REASON_BAD_NUMBER, off, "NaN or infinity has no JSON form");
            else if (m->emit)
                tb_json_write_double(m->out, v);
            m->vkind = TB_V_NUMBER;
            m->num = v;
            break;
        }
        case 0xd9: case 0xda: case 0xdb: {
            size_t h = (size_t)1 << (b - 0xd9);
            if (!need(m, h, off))
                return false;
            size_t n = (size_t)be(in + m->pos, h);
            m->pos += h;
            if (!need(m, n, off))
                return false;
            read_str(m, n, off);
            break;
        }
        case 0xc4: case 0xc5: case 0xc6:        /* bin 8/16/32 */
        case 0xc7: case 0xc8: case 0xc9: {      /* ext 8/16/32 */
            bool ext = b >= 0xc7;
            size_t h = (size_t)1 << ((b - (ext ? 0xc7 : 0xc4)));
            if (!need(m, h, off))
                return false;
            size_t n = (size_t)be(in + m->pos, h) + ext;
            m->pos += h;
            if (!need(m, n, off))
                return false;
            m->pos += n;
            content(m, is_key ? TB_REASON_BAD_KEY : TB_REASON_UNSUPPORTED_TYPE, off,
                    is_key ? "a map key is neither a string nor an integer"
                           : ext ? "msgpack ext values have no JSON form"
                                 : "msgpack bin values have no JSON form");
            break;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: {   /* fixext */
            size_t n = ((size_t)1 << (b - 0xd4)) + 1;
            if (!need(m, n, off))
                return false;
            m->pos += n;
            content(m, is_key ? TB_REASON_BAD_KEY : TB_REASON_UNSUPPORTED_TYPE, off,
                    is_key ? "a map key is neither a string nor an integer"
                           : "msgpack ext values have no JSON form");
            break;
        }
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {
            size_t h = b & 1 ? 4 : 2;
            if (!need(m, h, off))
                return false;
            count = be(in + m->pos, h);
            m->pos += h;
            container = true;
            is_map = b >= 0xde;
            break;
        }
        }

        if (container) {
            uint64_t items = is_map ? count * 2 : count;
            if (items > m->len - m->pos)
                return structural(m, TB_REASON_BAD_MSGPACK, off,
                                  "a container declares more elements than the bytes that remain");
            if (depth + 1 > max_depth)
                return structural(m, TB_REASON_TOO_DEEP, off, "nesting too deep");
            if (is_key)
                content(m, TB_REASON_BAD_KEY, off, "a map key is neither a string nor an integer");
            emit_c(m, is_map ? '{' : '[');
            if (items) {
                depth++;
                lv[depth].left = items;
                lv[depth].is_map = is_map;
                continue;
            }
            emit_c(m, is_map ? '}' : ']');
            m->vkind = TB_V_OTHER;
        }

        /* a value is complete: close every container it completes */
        for (;;) {
            if (depth == base_depth)
                return true;
            tb_mp_level_t *top = &lv[depth];
            top->left--;
            if (top->left) {
                emit_c(m, top->is_map && (top->left & 1) ? ':' : ',');
                break;
            }
            emit_c(m, top->is_map ? '}' : ']');
            depth--;
            m->vkind = TB_V_OTHER;
        }
    }
}

typedef struct {
    tb_vkind_t kind;
    size_t start, end;              /* span in the JSON output */
    const unsigned char *str;       /* raw string bytes (type, ns) */
    size_t str_len;
    double num;
    size_t off;                     /* input offset */
} mfield_t;

static tb_field_t
field_of(const unsigned char *k, size_t n)
{
    if (n == 2 && memcmp(k, "ns", 2) == 0) return TB_F_NS;
    if (n == 2 && memcmp(k, "ts", 2) == 0) return TB_F_TS;
    if (n == 4 && memcmp(k, "type", 4) == 0) return TB_F_TYPE;
    if (n == 4 && memcmp(k, "data", 4) == 0) return TB_F_DATA;
    if (n == 17 && memcmp(k, "documentation_url", 17) == 0) return TB_F_DOC;
    return TB_F_COUNT;
}

static tb_reason_t
mfail(tb_decode_error_t *err, tb_reason_t r, size_t off, const char *text)
{
    tb_set_error(err, r, NULL, off, false, "%s", text);
    return r;
}

tb_reason_t
tb_decode_msgpack(tb_decoder_t *self, const void *input, size_t len,
                  tb_update_t *out, tb_decode_error_t *err)
{
    if (!self || !out || (!input && len))
        return mfail(err, TB_REASON_BAD_MSGPACK, 0, "no input");
    if (len > self->limits.max_input) {
        tb_set_error(err, TB_REASON_TOO_LARGE, NULL, 0, false,
                     "input of %zu bytes exceeds the limit of %zu", len, self->limits.max_input);
        return TB_REASON_TOO_LARGE;
    }
    mp_t m;
    memset(&m, 0, sizeof m);
    m.dec = self;
    m.in = input ? input : (const void *)"";
    m.len = len;
    m.out = &self->out;
    tb_buf_reset(m.out);
    m.emit = true;

    mfield_t f[TB_F_COUNT];
    memset(f, 0, sizeof f);
    uint64_t top_count = 0;
    int form = 0;   /* 0 other, 1 map, 2 list */
    if (len == 0)
        return mfail(err, TB_REASON_BAD_MSGPACK, 0, "empty input");
    unsigned char b = m.in[0];
    if ((b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf)) {
        bool is_map = (b >= 0x80 && b <= 0x8f) || b >= 0xde;
        form = is_map ? 1 : 2;
        m.pos = 1;
        if (b <= 0x9f)
            top_count = b & 0x0f;
        else {
            size_t h = b & 1 ? 4 : 2;
            if (len - 1 < h)
                return mfail(err, TB_REASON_BAD_MSGPACK, 0, "truncated msgpack object");
            top_count = be(m.in + 1, h);
            m.pos += h;
        }
        uint64_t items = is_map ? top_count * 2 : top_count;
        if (items > len - m.pos)
            return mfail(err, TB_REASON_BAD_MSGPACK, 0,
                         "a container declares more elements than the bytes that remain");
        if (self->limits.max_depth < 1)
            return mfail(err, TB_REASON_TOO_DEEP, 0, "nesting too deep");
        for (uint64_t i = 0; i < top_count; i++) {
            tb_field_t which = TB_F_COUNT;
            if (is_map) {
                /* the key: only strings can name a field */
                bool was = m.emit;
                m.emit = false;
                if (!read_value(&m, 1, true))
                    goto structural_fail;
                m.emit = was && m.c_reason == TB_REASON_OK;
                if (m.vkind == TB_V_STRING)
                    which = field_of(m.str, m.str_len);
            }
            else if (i < 4) {
                static const tb_field_t list_fields[4] = { TB_F_NS, TB_F_TS, TB_F_DATA, TB_F_DOC };
                which = list_fields[i];
            }
            bool was = m.emit;
            if (which == TB_F_COUNT)
                m.emit = false;
            size_t start = m.out->len, voff = m.pos;
            if (!read_value(&m, 1, false))
                goto structural_fail;
            m.emit = was && m.c_reason == TB_REASON_OK;
            if (which != TB_F_COUNT) {
                f[which].kind = m.vkind;
                f[which].start = start;
                f[which].end = m.out->len;
                f[which].str = m.str;
                f[which].str_len = m.str_len;
                f[which].num = m.num;
                f[which].off = voff;
            }
        }
    }
    else if (!read_value(&m, 0, false))
        goto structural_fail;

    if (m.pos != len)
        return mfail(err, TB_REASON_TRAILING_BYTES, m.pos, "bytes after the msgpack object");
    if (m.c_reason != TB_REASON_OK)
        return mfail(err, m.c_reason, m.c_off, m.c_text);
    if (tb_buf_failed(m.out))
        return mfail(err, TB_REASON_NOMEM, 0, "out of memory");

    /* the thing_update rules */
    if (form == 0)
        return mfail(err, TB_REASON_NOT_AN_OBJECT, 0, "a thing_update is a map or a 4-element array");
    if (form == 2 && top_count != 4)
        return mfail(err, TB_REASON_BAD_LIST_LENGTH, 0,
                     "the list form needs exactly 4 elements [ns, ts, data, documentation_url]");
    if (form == 1) {
        mfield_t *t = &f[TB_F_TYPE];
        if (!t->kind)
            return mfail(err, TB_REASON_MISSING_TYPE, 0, "no \"type\" key");
        if (t->kind != TB_V_STRING || t->str_len != 12 || memcmp(t->str, "thing_update", 12) != 0)
            return mfail(err, TB_REASON_UNKNOWN_TYPE, t->off, "\"type\" is not \"thing_update\"");
    }
    mfield_t *ns = &f[TB_F_NS];
    if (!ns->kind)
        return mfail(err, TB_REASON_MISSING_NS, 0, "no \"ns\" key");
    if (ns->kind != TB_V_STRING)
        return mfail(err, TB_REASON_BAD_NS, ns->off, "\"ns\" is not a string");
    if (!tb_ns_valid((const char *)ns->str, ns->str_len))
        return mfail(err, TB_REASON_BAD_NS, ns->off,
                     "\"ns\" breaks the namespace rule (dot-separated parts of [a-z][a-z0-9_-]{0,63})");
    mfield_t *d = &f[TB_F_DATA];
    if (!d->kind)
        return mfail(err, TB_REASON_MISSING_DATA, 0, "no \"data\" key");
    mfield_t *ts = &f[TB_F_TS];
    if (ts->kind && ts->kind != TB_V_NULL && ts->kind != TB_V_NUMBER)
        return mfail(err, TB_REASON_BAD_TS, ts->off, "\"ts\" is neither a number nor null");
    mfield_t *doc = &f[TB_F_DOC];
    if (doc->kind && doc->kind != TB_V_NULL && doc->kind != TB_V_STRING)
        return mfail(err, TB_REASON_BAD_DOC_URL, doc->off,
                     "\"documentation_url\" is neither a string nor null");

    out->ns = (const char *)ns->str;
    out->ns_len = ns->str_len;
    out->data = m.out->data + d->start;
    out->data_len = d->end - d->start;
    out->has_ts = ts->kind == TB_V_NUMBER;
    out->ts = out->has_ts ? ts->num : 0;
    out->ts_json = NULL;
    out->ts_json_len = 0;
    if (out->has_ts) {
        tb_buf_t tsb;
        tb_buf_init(&tsb, sizeof self->ts_json - 1);
        tb_json_write_double(&tsb, ts->num);
        if (tb_buf_failed(&tsb) || tsb.len >= sizeof self->ts_json) {
            tb_buf_free(&tsb);
            return mfail(err, TB_REASON_NOMEM, 0, "out of memory");
        }
        memcpy(self->ts_json, tsb.data, tsb.len + 1);
        out->ts_json = self->ts_json;
        out->ts_json_len = tsb.len;
        tb_buf_free(&tsb);
    }
    out->doc_url = NULL;
    out->doc_url_len = 0;
    if (doc->kind == TB_V_STRING) {
        out->doc_url = m.out->data + doc->start;
        out->doc_url_len = doc->end - doc->start;
    }
    return TB_REASON_OK;

structural_fail:
    return mfail(err, m.reason, m.err_off, m.err_text);
}
