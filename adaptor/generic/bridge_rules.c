/*
 * bridge_rules.c - filter, projection, sub-namespace and timestamp rules of
 * tb-generic-zmq-adaptor, applied to one source message.
 *
 * Why this exists: the original tool crashed on the first message that did
 * not fit its flags (a missing projected field raised KeyError and the
 * bridge died).  Here every way a message can fail to fit is a named skip
 * reason with a short plain-words detail, so the program can count it, log
 * it and go on.  The path rule and the projection naming are described in
 * bridge_rules.h.
 */
#include "bridge_rules.h"
#include "tb_error.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const skip_names[TB_BRIDGE_SKIP_COUNT] = {
    [TB_BRIDGE_OK]                 = "ok",
    [TB_BRIDGE_TOO_LARGE]          = "too_large",
    [TB_BRIDGE_MULTI_FRAME]        = "multi_frame",
    [TB_BRIDGE_NOT_JSON]           = "not_json",
    [TB_BRIDGE_NOT_OBJECT]         = "not_object",
    [TB_BRIDGE_NO_FILTER_KEY]      = "no_filter_key",
    [TB_BRIDGE_FILTERED_OUT]       = "filtered_out",
    [TB_BRIDGE_MISSING_NSKEY]      = "missing_nskey",
    [TB_BRIDGE_BAD_NSKEY]          = "bad_nskey",
    [TB_BRIDGE_MISSING_TSKEY]      = "missing_tskey",
    [TB_BRIDGE_BAD_TSKEY]          = "bad_tskey",
    [TB_BRIDGE_MISSING_PROJECTION] = "missing_projection",
    [TB_BRIDGE_REJECTED]           = "rejected",
    [TB_BRIDGE_QUEUE_FULL]         = "queue_full",
    [TB_BRIDGE_SEND_FAILED]        = "send_failed",
};

const char *
tb_bridge_skip_name(tb_bridge_skip_t reason)
{
    if ((int)reason < 0 || reason >= TB_BRIDGE_SKIP_COUNT || !skip_names[reason])
        return "unknown";
    return skip_names[reason];
}

/* A field path, split once at start-up so the per-message walk does no
 * string work. */
typedef struct {
    char   *text;      /* the path as given: "meta.camera" */
    char  **parts;     /* "meta", "camera" */
    size_t  nparts;
} bridge_path_t;

typedef struct {
    bridge_path_t path;
    char         *value;
    size_t        value_len;
} bridge_filter_t;

struct tb_bridge_rules_t {
    bridge_filter_t *filters;
    size_t           nfilters;
    bridge_path_t   *projections;
    size_t           nprojections;
    bridge_path_t    nskey;       /* nparts == 0: not set */
    bridge_path_t    tskey;
    size_t           max_message_size;
};

static void
path_clear(bridge_path_t *p)
{
    if (p->parts)
        for (size_t i = 0; i < p->nparts; i++)
            free(p->parts[i]);
    free(p->parts);
    free(p->text);
    memset(p, 0, sizeof *p);
}

/* Splits text[0..len) at dots into p.  Refuses empty paths and empty
 * components, which could never name a field and are surely typos. */
static int
path_parse(bridge_path_t *p, const char *text, size_t len, const char *what,
           char *errbuf, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (len == 0)
        return tb_errbuf_set(errbuf, errlen, "%s: empty field name", what);
    size_t n = 1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0')
            return tb_errbuf_set(errbuf, errlen, "%s: NUL byte in field name", what);
        if (text[i] == '.')
            n++;
    }
    p->text = strndup(text, len);
    p->parts = calloc(n, sizeof *p->parts);
    if (!p->text || !p->parts) {
        path_clear(p);
        return tb_errbuf_set(errbuf, errlen, "%s: out of memory", what);
    }
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '.')
            continue;
        if (i == start) {
            int shown = len > 200 ? 200 : (int)len;
            path_clear(p);
            return tb_errbuf_set(errbuf, errlen,
                                 "%s: '%.*s' has an empty component "
                                 "(a leading, trailing or doubled '.')",
                                 what, shown, text);
        }
        p->parts[p->nparts] = strndup(text + start, i - start);
        if (!p->parts[p->nparts]) {
            path_clear(p);
            return tb_errbuf_set(errbuf, errlen, "%s: out of memory", what);
        }
        p->nparts++;
        start = i + 1;
    }
    return 0;
}

/* Finds the field; *literal tells whether the whole dotted path matched a
 * top-level key as written (then the projection keeps that literal key). */
static json_t *
path_lookup(json_t *message, const bridge_path_t *p, bool *literal)
{
    *literal = false;
    if (!json_is_object(message) || p->nparts == 0)
        return NULL;
    json_t *whole = json_object_get(message, p->text);
    if (whole) {
        *literal = p->nparts > 1;
        return whole;
    }
    if (p->nparts == 1)
        return NULL;
    json_t *node = message;
    for (size_t i = 0; i < p->nparts; i++) {
        if (!json_is_object(node))
            return NULL;
        node = json_object_get(node, p->parts[i]);
        if (!node)
            return NULL;
    }
    return node;
}

json_t *
tb_bridge_lookup(json_t *message, const char *path)
{
    if (!path)
        return NULL;
    bridge_path_t p;
    if (path_parse(&p, path, strlen(path), "path", NULL, 0) != 0)
        return NULL;
    bool literal;
    json_t *found = path_lookup(message, &p, &literal);
    path_clear(&p);
    return found;
}

tb_bridge_rules_t *
tb_bridge_rules_new(void)
{
    return calloc(1, sizeof(tb_bridge_rules_t));
}

void
tb_bridge_rules_destroy(tb_bridge_rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_bridge_rules_t *self = *self_p;
    for (size_t i = 0; i < self->nfilters; i++) {
        path_clear(&self->filters[i].path);
        free(self->filters[i].value);
    }
    free(self->filters);
    for (size_t i = 0; i < self->nprojections; i++)
        path_clear(&self->projections[i]);
    free(self->projections);
    path_clear(&self->nskey);
    path_clear(&self->tskey);
    free(self);
    *self_p = NULL;
}

int
tb_bridge_rules_add_filter(tb_bridge_rules_t *self, const char *spec,
                           char *errbuf, size_t errlen)
{
    if (!self || !spec)
        return tb_errbuf_set(errbuf, errlen, "--filter: no value");
    const char *colon = strchr(spec, ':');
    if (!colon)
        return tb_errbuf_set(errbuf, errlen,
                             "--filter: '%.200s' has no ':' "
                             "(expected KEY:VALUE, e.g. mtype:percept_update)",
                             spec);
    bridge_filter_t *grown = realloc(self->filters, (self->nfilters + 1) * sizeof *grown);
    if (!grown)
        return tb_errbuf_set(errbuf, errlen, "--filter: out of memory");
    self->filters = grown;
    bridge_filter_t *f = &self->filters[self->nfilters];
    if (path_parse(&f->path, spec, (size_t)(colon - spec), "--filter", errbuf, errlen) != 0)
        return -1;
    f->value = strdup(colon + 1);
    if (!f->value) {
        path_clear(&f->path);
        return tb_errbuf_set(errbuf, errlen, "--filter: out of memory");
    }
    f->value_len = strlen(f->value);
    self->nfilters++;
    return 0;
}

static void
drop_projections_from(tb_bridge_rules_t *self, size_t keep)
{
    while (self->nprojections > keep)
        path_clear(&self->projections[--self->nprojections]);
}

bool
tb_bridge_list_next(const char **cursor, const char **item, size_t *len)
{
    const char *p = *cursor;
    if (!p)
        return false;
    const char *comma = strchr(p, ',');
    const char *a = p, *b = comma ? comma : p + strlen(p);
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    *item = a;
    *len = (size_t)(b - a);
    *cursor = comma ? comma + 1 : NULL;
    return true;
}

int
tb_bridge_rules_add_projections(tb_bridge_rules_t *self, const char *list,
                                char *errbuf, size_t errlen)
{
    if (!self || !list)
        return tb_errbuf_set(errbuf, errlen, "--projections: no value");
    size_t before = self->nprojections;     /* all or nothing */
    const char *cursor = list, *item;
    size_t len;
    while (tb_bridge_list_next(&cursor, &item, &len)) {
        if (len == 0) {
            drop_projections_from(self, before);
            return tb_errbuf_set(errbuf, errlen,
                                 "--projections: '%.200s' has an empty entry "
                                 "(check the commas)", list);
        }
        bridge_path_t *grown = realloc(self->projections,
                                       (self->nprojections + 1) * sizeof *grown);
        if (!grown) {
            drop_projections_from(self, before);
            return tb_errbuf_set(errbuf, errlen, "--projections: out of memory");
        }
        self->projections = grown;
        if (path_parse(&self->projections[self->nprojections], item, len,
                       "--projections", errbuf, errlen) != 0) {
            drop_projections_from(self, before);
            return -1;
        }
        self->nprojections++;
    }
    return 0;
}

static int
set_key(bridge_path_t *key, const char *path, const char *what,
        char *errbuf, size_t errlen)
{
    if (!path)
        return tb_errbuf_set(errbuf, errlen, "%s: no value", what);
    bridge_path_t parsed;
    if (path_parse(&parsed, path, strlen(path), what, errbuf, errlen) != 0)
        return -1;
    path_clear(key);
    *key = parsed;
    return 0;
}

int
tb_bridge_rules_set_nskey(tb_bridge_rules_t *self, const char *path,
                          char *errbuf, size_t errlen)
{
    if (!self)
        return tb_errbuf_set(errbuf, errlen, "--nskey: no rules");
    return set_key(&self->nskey, path, "--nskey", errbuf, errlen);
}

int
tb_bridge_rules_set_tskey(tb_bridge_rules_t *self, const char *path,
                          char *errbuf, size_t errlen)
{
    if (!self)
        return tb_errbuf_set(errbuf, errlen, "--tskey: no rules");
    return set_key(&self->tskey, path, "--tskey", errbuf, errlen);
}

void
tb_bridge_rules_set_max_message_size(tb_bridge_rules_t *self, size_t max_bytes)
{
    if (self)
        self->max_message_size = max_bytes;
}

size_t
tb_bridge_rules_filter_count(const tb_bridge_rules_t *self)
{
    return self ? self->nfilters : 0;
}

size_t
tb_bridge_rules_projection_count(const tb_bridge_rules_t *self)
{
    return self ? self->nprojections : 0;
}

static const char *
type_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL:    return "a real number";
    case JSON_TRUE:    return "true";
    case JSON_FALSE:   return "false";
    case JSON_NULL:    return "null";
    }
    return "something unknown";
}

/* Details end up in logs: keep them one line of printable ASCII. */
static tb_bridge_skip_t
skip(tb_bridge_skip_t reason, char *detail, size_t detail_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static tb_bridge_skip_t
skip(tb_bridge_skip_t reason, char *detail, size_t detail_len, const char *fmt, ...)
{
    if (detail && detail_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, detail_len, fmt, ap);
        va_end(ap);
        for (char *c = detail; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
    }
    return reason;
}

/* Puts value into data where the path had it in the source (see the header
 * for the naming rule).  Returns 0, or -1 when out of memory. */
static int
place(json_t *data, const bridge_path_t *p, bool literal, json_t *value)
{
    if (literal || p->nparts == 1)
        return json_object_set(data, p->text, value);
    json_t *node = data;
    for (size_t i = 0; i + 1 < p->nparts; i++) {
        json_t *child = json_object_get(node, p->parts[i]);
        if (child && json_is_object(child) && child->refcount > 1) {
            /* This object was projected whole from the source, which we
             * must not modify: continue in a private shallow copy. */
            child = json_copy(child);
            if (!child || json_object_set_new(node, p->parts[i], child) != 0)
                return -1;
        }
        else if (!child || !json_is_object(child)) {
            child = json_object();
            if (!child || json_object_set_new(node, p->parts[i], child) != 0)
                return -1;
        }
        node = child;
    }
    return json_object_set(node, p->parts[p->nparts - 1], value);
}

tb_bridge_skip_t
tb_bridge_rules_apply_json(const tb_bridge_rules_t *self, json_t *message,
                           tb_bridge_result_t *out, char *detail, size_t detail_len)
{
    memset(out, 0, sizeof *out);
    if (detail && detail_len)
        detail[0] = '\0';
    if (!json_is_object(message))
        return skip(TB_BRIDGE_NOT_OBJECT, detail, detail_len,
                    "the message is %s, not an object", message ? type_word(message) : "empty");
    bool literal;
    for (size_t i = 0; i < self->nfilters; i++) {
        const bridge_filter_t *f = &self->filters[i];
        json_t *v = path_lookup(message, &f->path, &literal);
        if (!v)
            return skip(TB_BRIDGE_NO_FILTER_KEY, detail, detail_len,
                        "no field '%.100s' (--filter)", f->path.text);
        if (!json_is_string(v) || json_string_length(v) != f->value_len
            || memcmp(json_string_value(v), f->value, f->value_len) != 0)
            return skip(TB_BRIDGE_FILTERED_OUT, detail, detail_len,
                        "field '%.100s' is %s other than \"%.100s\" (--filter)",
                        f->path.text, json_is_string(v) ? "a string" : type_word(v), f->value);
    }
    if (self->nskey.nparts) {
        json_t *v = path_lookup(message, &self->nskey, &literal);
        if (!v)
            return skip(TB_BRIDGE_MISSING_NSKEY, detail, detail_len,
                        "no field '%.100s' (--nskey)", self->nskey.text);
        if (!json_is_string(v))
            return skip(TB_BRIDGE_BAD_NSKEY, detail, detail_len,
                        "field '%.100s' is %s, not a namespace part (--nskey)",
                        self->nskey.text, type_word(v));
        size_t len = json_string_length(v);
        if (!tb_ns_part_valid(json_string_value(v), len))
            return skip(TB_BRIDGE_BAD_NSKEY, detail, detail_len,
                        "field '%.100s' is \"%.*s\"%s, not a namespace part "
                        "(a-z first, then a-z 0-9 _ -, at most %d bytes) (--nskey)",
                        self->nskey.text, (int)(len > 64 ? 64 : len), json_string_value(v),
                        len > 64 ? "..." : "", TB_NS_PART_MAX);
        memcpy(out->sub_ns, json_string_value(v), len);
        out->sub_ns[len] = '\0';
    }
    if (self->tskey.nparts) {
        json_t *v = path_lookup(message, &self->tskey, &literal);
        if (!v) {
            out->sub_ns[0] = '\0';
            return skip(TB_BRIDGE_MISSING_TSKEY, detail, detail_len,
                        "no field '%.100s' (--tskey)", self->tskey.text);
        }
        if (!json_is_number(v)) {
            out->sub_ns[0] = '\0';
            return skip(TB_BRIDGE_BAD_TSKEY, detail, detail_len,
                        "field '%.100s' is %s, not a number of seconds (--tskey)",
                        self->tskey.text, type_word(v));
        }
        out->has_ts = true;
        out->ts = json_number_value(v);
    }
    if (self->nprojections == 0) {
        out->data = json_incref(message);
        return TB_BRIDGE_OK;
    }
    json_t *data = json_object();
    if (!data) {
        memset(out, 0, sizeof *out);
        return skip(TB_BRIDGE_SEND_FAILED, detail, detail_len, "out of memory");
    }
    for (size_t i = 0; i < self->nprojections; i++) {
        const bridge_path_t *p = &self->projections[i];
        json_t *v = path_lookup(message, p, &literal);
        if (!v) {
            json_decref(data);
            memset(out, 0, sizeof *out);
            return skip(TB_BRIDGE_MISSING_PROJECTION, detail, detail_len,
                        "no field '%.100s' (--projections)", p->text);
        }
        if (place(data, p, literal, v) != 0) {
            json_decref(data);
            memset(out, 0, sizeof *out);
            return skip(TB_BRIDGE_SEND_FAILED, detail, detail_len, "out of memory");
        }
    }
    out->data = data;
    return TB_BRIDGE_OK;
}

tb_bridge_skip_t
tb_bridge_rules_apply(const tb_bridge_rules_t *self, const void *frame, size_t len,
                      tb_bridge_result_t *out, char *detail, size_t detail_len)
{
    memset(out, 0, sizeof *out);
    if (detail && detail_len)
        detail[0] = '\0';
    if (self->max_message_size && len > self->max_message_size)
        return skip(TB_BRIDGE_TOO_LARGE, detail, detail_len,
                    "%zu bytes, more than the %zu allowed (--max-message-size)",
                    len, self->max_message_size);
    json_error_t err;
    json_t *message = json_loadb(frame, len, JSON_DECODE_ANY, &err);
    if (!message)
        return skip(TB_BRIDGE_NOT_JSON, detail, detail_len, "line %d column %d: %s",
                    err.line, err.column, err.text);
    tb_bridge_skip_t verdict = tb_bridge_rules_apply_json(self, message, out,
                                                          detail, detail_len);
    json_decref(message);
    return verdict;
}
