/*
 * ref_decode.c - the reference decoders (see ref_decode.h for why).
 *
 * Rule order, as in proto/PROTOCOL.md: size; well-formedness (jansson's
 * verdict / msgpack-c's); depth; (msgpack) content: UTF-8, NUL, bin/ext,
 * key types, number ranges; top level an object/map or an array; then
 * type, ns, data, ts, documentation_url (map form) or length, ns, ts,
 * documentation_url (list form).
 */
#include "ref_decode.h"
#include <math.h>
#include <msgpack.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ref_update_clear(ref_update_t *u)
{
    free(u->ns);
    json_decref(u->data);
    json_decref(u->doc);
    memset(u, 0, sizeof *u);
}

bool
ref_ns_valid(const char *ns, size_t len)
{
    static regex_t re;
    static bool compiled;
    if (!compiled) {
        if (regcomp(&re, "^[a-z][a-z0-9_-]{0,63}(\\.[a-z][a-z0-9_-]{0,63})*$",
                    REG_EXTENDED | REG_NOSUB) != 0)
            abort();
        compiled = true;
    }
    if (len == 0)
        return true;
    if (len > 1024 || memchr(ns, 0, len))
        return false;
    char *z = strndup(ns, len);
    bool ok = regexec(&re, z, 0, NULL, 0) == 0;
    free(z);
    return ok;
}

static unsigned
json_depth(const json_t *v)
{
    unsigned d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            unsigned c = json_depth(x);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            unsigned c = json_depth(x);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    return 0;
}

static unsigned
capped_depth(const tb_limits_t *lim)
{
    return lim->max_depth > TB_MAX_DEPTH_CAP ? TB_MAX_DEPTH_CAP : lim->max_depth;
}

/* The thing_update rules on a DOM (the root is an object or an array). */
static tb_reason_t
apply_rules(json_t *root, ref_update_t *out)
{
    json_t *type = NULL, *ns, *data, *ts, *doc;
    if (json_is_array(root)) {
        if (json_array_size(root) != 4)
            return TB_REASON_BAD_LIST_LENGTH;
        ns = json_array_get(root, 0);
        ts = json_array_get(root, 1);
        data = json_array_get(root, 2);
        doc = json_array_get(root, 3);
    }
    else {
        type = json_object_get(root, "type");
        if (!type)
            return TB_REASON_MISSING_TYPE;
        if (!json_is_string(type) || json_string_length(type) != 12
            || memcmp(json_string_value(type), "thing_update", 12) != 0)
            return TB_REASON_UNKNOWN_TYPE;
        ns = json_object_get(root, "ns");
        data = json_object_get(root, "data");
        ts = json_object_get(root, "ts");
        doc = json_object_get(root, "documentation_url");
        if (!ns)
            return TB_REASON_MISSING_NS;
    }
    if (!json_is_string(ns) || !ref_ns_valid(json_string_value(ns), json_string_length(ns)))
        return TB_REASON_BAD_NS;
    if (!data)
        return TB_REASON_MISSING_DATA;
    if (ts && !json_is_null(ts) && !json_is_number(ts))
        return TB_REASON_BAD_TS;
    if (doc && !json_is_null(doc) && !json_is_string(doc))
        return TB_REASON_BAD_DOC_URL;
    out->ns_len = json_string_length(ns);
    out->ns = strndup(json_string_value(ns), out->ns_len);
    out->data = json_incref(data);
    out->has_ts = ts && !json_is_null(ts);
    out->ts = out->has_ts ? json_number_value(ts) : 0;
    out->doc = doc && json_is_string(doc) ? json_incref(doc) : NULL;
    return TB_REASON_OK;
}

tb_reason_t
ref_decode_json(const void *in, size_t len, const tb_limits_t *lim, ref_update_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > lim->max_input)
        return TB_REASON_TOO_LARGE;
    /* jansson quirk: a NUL byte read as look-ahead after a number or a
     * literal and pushed back is then skipped, so "[1\0]" loads.  Such text
     * is not JSON (and Python readers reject it); we refuse it.  Every other
     * path treats NUL like any other control byte, so the reference asks
     * jansson about the text with NULs turned into 0x01. */
    char *copy = NULL;
    if (memchr(in, 0, len)) {
        copy = malloc(len);
        memcpy(copy, in, len);
        for (size_t i = 0; i < len; i++)
            if (!copy[i])
                copy[i] = 1;
        in = copy;
    }
    json_error_t err;
    json_t *root = json_loadb(in, len, JSON_DECODE_ANY, &err);
    free(copy);
    if (!root) {
        switch (json_error_code(&err)) {
        case json_error_invalid_utf8:        return TB_REASON_BAD_UTF8;
        case json_error_numeric_overflow:    return TB_REASON_BAD_NUMBER;
        case json_error_null_character:
        case json_error_null_byte_in_key:    return TB_REASON_NUL_IN_STRING;
        case json_error_end_of_input_expected: return TB_REASON_TRAILING_BYTES;
        case json_error_stack_overflow:      return TB_REASON_TOO_DEEP;
        case json_error_out_of_memory:       return TB_REASON_NOMEM;
        default:                             return TB_REASON_BAD_JSON;
        }
    }
    tb_reason_t r;
    if (json_depth(root) > capped_depth(lim))
        r = TB_REASON_TOO_DEEP;
    else if (!json_is_object(root) && !json_is_array(root))
        r = TB_REASON_NOT_AN_OBJECT;
    else
        r = apply_rules(root, out);
    json_decref(root);
    return r;
}

/* ------------------------------------------------------------- msgpack */
static unsigned
mp_depth(const msgpack_object *o)
{
    unsigned d = 0;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            unsigned c = mp_depth(&o->via.array.ptr[i]);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            unsigned c = mp_depth(&o->via.map.ptr[i].key);
            if (c > d)
                d = c;
            c = mp_depth(&o->via.map.ptr[i].val);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    return 0;
}

/* A msgpack str as a jansson string, or the content verdict. */
static tb_reason_t
mp_string(const char *p, uint32_t n, json_t **out)
{
    *out = n ? json_stringn(p, n) : json_string("");   /* NULL when not UTF-8 */
    if (!*out)
        return TB_REASON_BAD_UTF8;
    if (n && memchr(p, 0, n)) {
        json_decref(*out);
        *out = NULL;
        return TB_REASON_NUL_IN_STRING;
    }
    return TB_REASON_OK;
}

/* Convert to a jansson value, first content fault in document order. */
static tb_reason_t
mp_to_json(const msgpack_object *o, json_t **out)
{
    *out = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: *out = json_null(); return TB_REASON_OK;
    case MSGPACK_OBJECT_BOOLEAN: *out = json_boolean(o->via.boolean); return TB_REASON_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX)
            return TB_REASON_BAD_NUMBER;
        *out = json_integer((json_int_t)o->via.u64);
        return TB_REASON_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = json_integer((json_int_t)o->via.i64);
        return TB_REASON_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return TB_REASON_BAD_NUMBER;
        *out = json_real(o->via.f64);
        return TB_REASON_OK;
    case MSGPACK_OBJECT_STR:
        return mp_string(o->via.str.ptr, o->via.str.size, out);
    case MSGPACK_OBJECT_BIN:
    case MSGPACK_OBJECT_EXT:
        return TB_REASON_UNSUPPORTED_TYPE;
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_t *x;
            tb_reason_t r = mp_to_json(&o->via.array.ptr[i], &x);
            if (r) {
                json_decref(a);
                return r;
            }
            json_array_append_new(a, x);
        }
        *out = a;
        return TB_REASON_OK;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char kbuf[32];
            json_t *ks = NULL, *v;
            tb_reason_t r = TB_REASON_OK;
            if (k->type == MSGPACK_OBJECT_STR)
                r = mp_string(k->via.str.ptr, k->via.str.size, &ks);
            else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                snprintf(kbuf, sizeof kbuf, "%llu", (unsigned long long)k->via.u64);
                ks = json_string(kbuf);
            }
            else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                snprintf(kbuf, sizeof kbuf, "%lld", (long long)k->via.i64);
                ks = json_string(kbuf);
            }
            else
                r = TB_REASON_BAD_KEY;
            if (!r)
                r = mp_to_json(&o->via.map.ptr[i].val, &v);
            if (r) {
                json_decref(ks);
                json_decref(m);
                return r;
            }
            json_object_setn_new(m, json_string_value(ks), json_string_length(ks), v);
            json_decref(ks);
        }
        *out = m;
        return TB_REASON_OK;
    }
    }
    return TB_REASON_UNSUPPORTED_TYPE;
}

/* msgpack-c allocates declared counts up front: inputs that declare more
 * array/map elements than they have bytes are left to the unit tests. */
static bool
declares_huge(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i + 4 < len + 1; i++) {
        size_t h = 0;
        if (p[i] == 0xdc || p[i] == 0xde)
            h = 2;
        else if (p[i] == 0xdd || p[i] == 0xdf)
            h = 4;
        if (!h || i + h >= len)
            continue;
        uint64_t n = 0;
        for (size_t k = 1; k <= h; k++)
            n = n << 8 | p[i + k];
        if (n > len)
            return true;
    }
    return false;
}

tb_reason_t
ref_decode_msgpack(const void *in, size_t len, const tb_limits_t *lim, ref_update_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > lim->max_input)
        return TB_REASON_TOO_LARGE;
    if (declares_huge(in, len))
        return REF_SKIP;
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&res, in, len, &off);
    tb_reason_t r;
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        r = TB_REASON_TOO_DEEP;          /* counts are guarded: only nesting is left */
    else if (ret != MSGPACK_UNPACK_SUCCESS)
        r = TB_REASON_BAD_MSGPACK;
    else if (off != len)
        r = TB_REASON_TRAILING_BYTES;
    else if (mp_depth(&res.data) > capped_depth(lim))
        r = TB_REASON_TOO_DEEP;
    else {
        json_t *root;
        r = mp_to_json(&res.data, &root);
        if (!r) {
            if (!json_is_object(root) && !json_is_array(root))
                r = TB_REASON_NOT_AN_OBJECT;
            else {
                r = apply_rules(root, out);
                /* ts keeps msgpack's own value (a uint64 ts is a double) */
            }
            json_decref(root);
        }
    }
    msgpack_unpacked_destroy(&res);
    return r;
}

/* ------------------------------------------------------------- compare */
const char *
ref_compare(tb_reason_t ours, const tb_update_t *u, tb_reason_t ref,
            const ref_update_t *r, bool tolerate_depth)
{
    static char why[200];
    if (ref == REF_SKIP)
        return NULL;
    if (ours != ref) {
        /* msgpack-c stops at its own depth limit where we may see a
         * truncation first, and the reverse: both are structural. */
        if (tolerate_depth
            && (ours == TB_REASON_TOO_DEEP || ours == TB_REASON_BAD_MSGPACK)
            && (ref == TB_REASON_TOO_DEEP || ref == TB_REASON_BAD_MSGPACK))
            return NULL;
        snprintf(why, sizeof why, "verdicts differ: ours %s, reference %s",
                 tb_reason_name(ours), ref == REF_SKIP ? "skip" : tb_reason_name(ref));
        return why;
    }
    if (ours != TB_REASON_OK)
        return NULL;
    if (u->ns_len != r->ns_len || memcmp(u->ns, r->ns, u->ns_len) != 0)
        return "ns differs";
    /* transcoded msgpack may be larger than the input limit: no size bound */
    tb_limits_t any = { .max_input = SIZE_MAX, .max_depth = TB_MAX_DEPTH_CAP };
    if (tb_json_check(u->data, u->data_len, &any, NULL) != TB_REASON_OK)
        return "data span is not valid JSON by our own check";
    json_t *d = json_loadb(u->data, u->data_len, JSON_DECODE_ANY, NULL);
    if (!d)
        return "data span is not valid JSON for jansson";
    bool same = json_equal(d, r->data);
    json_decref(d);
    if (!same)
        return "data differs";
    if (u->has_ts != r->has_ts)
        return "has_ts differs";
    if (u->has_ts) {
        if (!(u->ts == r->ts))
            return "ts value differs";
        if (!memchr(u->ts_json, '.', u->ts_json_len) && !memchr(u->ts_json, 'e', u->ts_json_len)
            && !memchr(u->ts_json, 'E', u->ts_json_len))
            return "ts_json is not a float literal";
        json_t *t = json_loadb(u->ts_json, u->ts_json_len, JSON_DECODE_ANY, NULL);
        bool ok = t && json_is_real(t) && json_real_value(t) == r->ts;
        json_decref(t);
        if (!ok)
            return "ts_json does not read back as ts";
    }
    if (!!u->doc_url != !!r->doc)
        return "documentation_url presence differs";
    if (u->doc_url) {
        json_t *t = json_loadb(u->doc_url, u->doc_url_len, JSON_DECODE_ANY, NULL);
        bool ok = t && json_equal(t, r->doc);
        json_decref(t);
        if (!ok)
            return "documentation_url differs";
    }
    return NULL;
}

const char *
ref_check_json(tb_decoder_t *dec, const tb_limits_t *lim, const void *in, size_t len)
{
    tb_update_t u;
    ref_update_t r;
    tb_reason_t ours = tb_decode_json(dec, in, len, &u, NULL);
    tb_reason_t ref = ref_decode_json(in, len, lim, &r);
    const char *why = ref_compare(ours, &u, ref, &r, false);
    ref_update_clear(&r);
    return why;
}

const char *
ref_check_msgpack(tb_decoder_t *dec, const tb_limits_t *lim, const void *in, size_t len)
{
    tb_update_t u;
    ref_update_t r;
    tb_reason_t ours = tb_decode_msgpack(dec, in, len, &u, NULL);
    tb_reason_t ref = ref_decode_msgpack(in, len, lim, &r);
    const char *why = ref_compare(ours, &u, ref, &r, true);
    ref_update_clear(&r);
    return why;
}
