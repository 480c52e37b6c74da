/*
 * tb_decode_json.c - a thing_update from JSON text, as byte spans.
 *
 * Why this exists: this is the broker's hot path for TCP input.  The top
 * level (an object, or the 4-element list form) is walked here so the
 * fields of interest are caught as spans while the scanner validates
 * everything below them; nothing is copied unless the namespace contains
 * escapes.  The verdict is the one jansson would give on the same bytes,
 * followed by the thing_update rules in a fixed order: type, ns, data, ts,
 * documentation_url (map form); length, ns, ts, documentation_url (list).
 */
#include "tb_decoder_int.h"
#include "tb_ns.h"
#include <string.h>

typedef struct {
    tb_json_kind_t kind;   /* 0 = absent */
    size_t start, end;     /* span in the input */
    bool   escaped;        /* a string with escapes */
} jfield_t;

/* Which thing_update key a raw (unescaped) key is, or TB_F_COUNT. */
static tb_field_t
field_of(const char *k, size_t n)
{
    switch (n) {
    case 2:
        if (memcmp(k, "ns", 2) == 0) return TB_F_NS;
        if (memcmp(k, "ts", 2) == 0) return TB_F_TS;
        break;
    case 4:
        if (memcmp(k, "type", 4) == 0) return TB_F_TYPE;
        if (memcmp(k, "data", 4) == 0) return TB_F_DATA;
        break;
    case 17:
        if (memcmp(k, "documentation_url", 17) == 0) return TB_F_DOC;
        break;
    }
    return TB_F_COUNT;
}

static tb_reason_t
fail(const tb_json_scan_t *s, tb_decode_error_t *err, const char *input)
{
    tb_set_error(err, s->reason, input, s->err_off, true, "%s", s->err_text);
    return s->reason;
}

static tb_reason_t
rule_fail(tb_decode_error_t *err, tb_reason_t r, const char *input, size_t off,
          const char *text)
{
    tb_set_error(err, r, input, off, true, "%s", text);
    return r;
}

/* The decoded content of a string field: the raw span when it has no
 * escapes, else unescaped into the decoder's scratch. */
static bool
string_content(tb_decoder_t *self, const char *in, const jfield_t *f,
               const char **p, size_t *n)
{
    if (!f->escaped) {
        *p = in + f->start + 1;
        *n = f->end - f->start - 2;
        return true;
    }
    tb_buf_reset(&self->str);
    if (!tb_json_unescape(in + f->start, f->end - f->start, &self->str))
        return false;
    *p = self->str.data;
    *n = self->str.len;
    return true;
}

static tb_reason_t
apply_rules(tb_decoder_t *self, const char *in, jfield_t *f, bool list,
            size_t list_len, size_t top_off, tb_update_t *out, tb_decode_error_t *err)
{
    const char *p;
    size_t n;
    if (list) {
        if (list_len != 4)
            return rule_fail(err, TB_REASON_BAD_LIST_LENGTH, in, top_off,
                             "the list form needs exactly 4 elements [ns, ts, data, documentation_url]");
    }
    else {
        jfield_t *t = &f[TB_F_TYPE];
        if (!t->kind)
            return rule_fail(err, TB_REASON_MISSING_TYPE, in, top_off, "no \"type\" key");
        bool is_update = false;
        if (t->kind == TB_JSON_STRING && t->end - t->start <= 2 + 6 * 12) {
            if (!string_content(self, in, t, &p, &n))
                return rule_fail(err, TB_REASON_NOMEM, in, t->start, "out of memory");
            is_update = n == 12 && memcmp(p, "thing_update", 12) == 0;
        }
        if (!is_update)
            return rule_fail(err, TB_REASON_UNKNOWN_TYPE, in, t->start,
                             "\"type\" is not \"thing_update\"");
    }
    jfield_t *ns = &f[TB_F_NS];
    if (!ns->kind)
        return rule_fail(err, TB_REASON_MISSING_NS, in, top_off, "no \"ns\" key");
    if (ns->kind != TB_JSON_STRING)
        return rule_fail(err, TB_REASON_BAD_NS, in, ns->start, "\"ns\" is not a string");
    if (ns->end - ns->start > 2 + 6 * (size_t)TB_NS_MAX_LEN)
        return rule_fail(err, TB_REASON_BAD_NS, in, ns->start, "\"ns\" is too long");
    if (!string_content(self, in, ns, &p, &n))
        return rule_fail(err, TB_REASON_NOMEM, in, ns->start, "out of memory");
    if (!tb_ns_valid(p, n))
        return rule_fail(err, TB_REASON_BAD_NS, in, ns->start,
                         "\"ns\" breaks the namespace rule (dot-separated parts of [a-z][a-z0-9_-]{0,63})");
    out->ns = p;
    out->ns_len = n;
    jfield_t *d = &f[TB_F_DATA];
    if (!d->kind)
        return rule_fail(err, TB_REASON_MISSING_DATA, in, top_off, "no \"data\" key");
    out->data = in + d->start;
    out->data_len = d->end - d->start;
    jfield_t *ts = &f[TB_F_TS];
    out->has_ts = false;
    out->ts = 0;
    out->ts_json = NULL;
    out->ts_json_len = 0;
    if (ts->kind && ts->kind != TB_JSON_NULL) {
        if (ts->kind != TB_JSON_INTEGER && ts->kind != TB_JSON_REAL)
            return rule_fail(err, TB_REASON_BAD_TS, in, ts->start, "\"ts\" is neither a number nor null");
        const char *lit = in + ts->start;
        size_t lit_len = ts->end - ts->start;
        out->has_ts = true;
        out->ts = tb_json_number_value(lit, lit_len);
        if (ts->kind == TB_JSON_REAL) {
            out->ts_json = lit;
            out->ts_json_len = lit_len;
        }
        else {   /* an integer literal is at most 20 bytes */
            memcpy(self->ts_json, lit, lit_len);
            memcpy(self->ts_json + lit_len, ".0", 3);
            out->ts_json = self->ts_json;
            out->ts_json_len = lit_len + 2;
        }
    }
    jfield_t *doc = &f[TB_F_DOC];
    out->doc_url = NULL;
    out->doc_url_len = 0;
    if (doc->kind && doc->kind != TB_JSON_NULL) {
        if (doc->kind != TB_JSON_STRING)
            return rule_fail(err, TB_REASON_BAD_DOC_URL, in, doc->start,
                             "\"documentation_url\" is neither a string nor null");
        out->doc_url = in + doc->start;
        out->doc_url_len = doc->end - doc->start;
    }
    return TB_REASON_OK;
}

tb_reason_t
tb_decode_json(tb_decoder_t *self, const void *input, size_t len,
               tb_update_t *out, tb_decode_error_t *err)
{
    const char *in = input;
    if (!self || !out || (!input && len)) {
        tb_set_error(err, TB_REASON_BAD_JSON, NULL, 0, false, "no input");
        return TB_REASON_BAD_JSON;
    }
    if (len > self->limits.max_input) {
        tb_set_error(err, TB_REASON_TOO_LARGE, NULL, 0, false,
                     "input of %zu bytes exceeds the limit of %zu", len, self->limits.max_input);
        return TB_REASON_TOO_LARGE;
    }
    if (!in)
        in = "";
    tb_json_scan_t sc, *s = &sc;
    tb_json_scan_init(s, in, len, self->limits.max_depth);
    jfield_t f[TB_F_COUNT];
    memset(f, 0, sizeof f);
    tb_json_skip_ws(s);
    size_t top_off = s->pos;
    size_t list_len = 0;
    unsigned char c = s->pos < len ? (unsigned char)in[s->pos] : 0;
    bool list = c == '[';
    if (c == '{' || c == '[') {
        if (s->max_depth < 1)
            s->deep_at = s->pos;
        char close = list ? ']' : '}';
        s->pos++;
        tb_json_skip_ws(s);
        if (s->pos < len && in[s->pos] == close)
            s->pos++;
        else for (;;) {
            tb_field_t which = TB_F_COUNT;
            if (!list) {
                if (s->pos >= len || in[s->pos] != '"') {
                    tb_json_syntax_error(s, s->pos, TB_REASON_BAD_JSON, "string or '}' expected");
                    return fail(s, err, in);
                }
                size_t kstart = s->pos;
                if (!tb_json_scan_string(s, true))
                    return fail(s, err, in);
                size_t klen = s->pos - kstart - 2;
                if (!s->str_has_escape)
                    which = field_of(in + kstart + 1, klen);
                else if (klen <= 6 * 17) {
                    tb_buf_reset(&self->str);
                    if (!tb_json_unescape(in + kstart, klen + 2, &self->str))
                        return rule_fail(err, TB_REASON_NOMEM, in, kstart, "out of memory");
                    which = field_of(self->str.data, self->str.len);
                }
                tb_json_skip_ws(s);
                if (s->pos >= len || in[s->pos] != ':') {
                    tb_json_syntax_error(s, s->pos, TB_REASON_BAD_JSON, "':' expected");
                    return fail(s, err, in);
                }
                s->pos++;
                tb_json_skip_ws(s);
            }
            else {
                static const tb_field_t list_fields[4] = { TB_F_NS, TB_F_TS, TB_F_DATA, TB_F_DOC };
                if (list_len < 4)
                    which = list_fields[list_len];
                list_len++;
            }
            size_t vstart = s->pos;
            tb_json_kind_t kind;
            if (!tb_json_scan_value(s, 1, &kind))
                return fail(s, err, in);
            if (which != TB_F_COUNT) {   /* a later duplicate key wins */
                f[which].kind = kind;
                f[which].start = vstart;
                f[which].end = s->pos;
                f[which].escaped = kind == TB_JSON_STRING && s->str_has_escape;
            }
            tb_json_skip_ws(s);
            if (s->pos < len && in[s->pos] == ',') {
                s->pos++;
                tb_json_skip_ws(s);
                continue;
            }
            if (s->pos < len && in[s->pos] == close) {
                s->pos++;
                break;
            }
            tb_json_syntax_error(s, s->pos, TB_REASON_BAD_JSON,
                                 list ? "']' expected" : "'}' expected");
            return fail(s, err, in);
        }
    }
    else {
        tb_json_kind_t kind;
        if (!tb_json_scan_value(s, 0, &kind))
            return fail(s, err, in);
    }
    if (!tb_json_scan_end(s))
        return fail(s, err, in);
    if (s->deep_at != SIZE_MAX) {
        tb_json_fail(s, TB_REASON_TOO_DEEP, s->deep_at, "nesting deeper than %u levels", s->max_depth);
        return fail(s, err, in);
    }
    if (c != '{' && c != '[')
        return rule_fail(err, TB_REASON_NOT_AN_OBJECT, in, top_off,
                         "a thing_update is an object or a 4-element list");
    return apply_rules(self, in, f, list, list_len, top_off, out, err);
}
