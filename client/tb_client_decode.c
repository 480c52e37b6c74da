/*
 * tb_client_decode.c - turn one broker message into Thing items.
 *
 * Why this exists: the broker's PUB socket carries v1 thing_update and
 * thing_snapshot messages (PROTOCOL-v1.md).  A client must survive anything
 * on that socket -- a buggy or hostile broker, a newer one with message
 * types we do not know -- so every message is checked field by field and a
 * bad one (or a bad snapshot entry) is rejected with a named reason and
 * plain words, never trusted and never fatal.  This is not the broker's hot
 * path, so jansson (a full, strict parser) does the parsing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tb_client_internal.h"
#include "tb_ns.h"

static void
s_reject(const tb_decode_sink_t *sink, tb_client_reject_t reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_reject(const tb_decode_sink_t *sink, tb_client_reject_t reason, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sink->reject(sink->arg, reason, text);
}

/* Checks an ns value; fills *ns or rejects. */
static bool
s_get_ns(const tb_decode_sink_t *sink, json_t *v, const char *where, const char **ns)
{
    if (!v) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_NS, "%s: no \"ns\"", where);
        return false;
    }
    if (!json_is_string(v)) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_NS, "%s: \"ns\" is not a string", where);
        return false;
    }
    if (!tb_ns_valid(json_string_value(v), json_string_length(v))
        || strlen(json_string_value(v)) != json_string_length(v)) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_NS,
                 "%s: \"%.80s\" is not a valid namespace "
                 "(parts must match [a-z][a-z0-9_-]{0,63}, joined by '.')",
                 where, json_string_value(v));
        return false;
    }
    *ns = json_string_value(v);
    return true;
}

/* The fields common to an update and a snapshot entry: data, ts,
 * documentation_url.  Fills item (data allocated) or rejects. */
static bool
s_get_state(const tb_decode_sink_t *sink, json_t *obj, const char *where,
            double now, tb_item_t *item)
{
    json_t *data = json_object_get(obj, "data");
    json_t *ts = json_object_get(obj, "ts");
    json_t *doc = json_object_get(obj, "documentation_url");
    if (!data) {
        s_reject(sink, TB_CLIENT_REJECT_MISSING_DATA, "%s: no \"data\" key", where);
        return false;
    }
    if (ts && !json_is_null(ts) && !json_is_number(ts)) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_TS, "%s: \"ts\" is neither a number nor null", where);
        return false;
    }
    if (doc && !json_is_null(doc) && !json_is_string(doc)) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_DOC_URL,
                 "%s: \"documentation_url\" is neither a string nor null", where);
        return false;
    }
    item->ts = (ts && json_is_number(ts)) ? json_number_value(ts) : now;
    item->doc_url = (doc && json_is_string(doc) && json_string_length(doc) > 0)
                    ? json_string_value(doc) : NULL;
    item->data = tb_client_json_text(data);
    if (!item->data) {
        s_reject(sink, TB_CLIENT_REJECT_NOMEM, "%s: out of memory", where);
        return false;
    }
    return true;
}

static tb_msg_kind_t
s_update(const tb_decode_sink_t *sink, json_t *root, double now)
{
    tb_item_t item = {0};
    if (!s_get_ns(sink, json_object_get(root, "ns"), "thing_update", &item.ns))
        return TB_MSG_REJECTED;
    if (!s_get_state(sink, root, "thing_update", now, &item))
        return TB_MSG_REJECTED;
    sink->item(sink->arg, &item);
    free(item.data);
    return TB_MSG_UPDATE;
}

static tb_msg_kind_t
s_snapshot(const tb_decode_sink_t *sink, json_t *root, double now)
{
    json_t *entries = json_object_get(root, "data");
    const char *key;
    json_t *entry;
    if (!json_is_object(entries)) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_SNAPSHOT,
                 "thing_snapshot: \"data\" is %s, not an object",
                 entries ? "another type" : "missing");
        return TB_MSG_REJECTED;
    }
    json_object_foreach(entries, key, entry) {
        tb_item_t item = {0};
        char where[120];
        json_t *inner;
        snprintf(where, sizeof where, "thing_snapshot entry \"%.80s\"", key);
        if (!json_is_object(entry)) {
            s_reject(sink, TB_CLIENT_REJECT_BAD_SNAPSHOT, "%s: not an object", where);
            continue;
        }
        json_t *keyval = json_string(key);
        bool ok = keyval && s_get_ns(sink, keyval, where, &item.ns);
        if (!keyval)
            s_reject(sink, TB_CLIENT_REJECT_NOMEM, "%s: out of memory", where);
        if (ok) {
            item.ns = key;   /* same text; keyval is freed below */
            inner = json_object_get(entry, "ns");
            if (inner && !(json_is_string(inner) && strcmp(json_string_value(inner), key) == 0)) {
                s_reject(sink, TB_CLIENT_REJECT_BAD_NS,
                         "%s: inner \"ns\" differs from the key", where);
                ok = false;
            }
        }
        json_decref(keyval);
        if (!ok || !s_get_state(sink, entry, where, now, &item))
            continue;
        item.snapshot = true;
        sink->item(sink->arg, &item);
        free(item.data);
    }
    if (sink->snapshot_end) {
        json_t *ts = json_object_get(root, "ts");
        sink->snapshot_end(sink->arg, json_is_number(ts) ? json_number_value(ts) : now);
    }
    return TB_MSG_SNAPSHOT;
}

tb_msg_kind_t
tb_client_decode(const char *bytes, size_t len, double now, const tb_decode_sink_t *sink)
{
    json_error_t jerr;
    json_t *root = json_loadb(bytes, len, JSON_DECODE_ANY, &jerr);
    tb_msg_kind_t kind = TB_MSG_REJECTED;
    if (!root) {
        s_reject(sink, TB_CLIENT_REJECT_BAD_JSON, "line %d column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        return TB_MSG_REJECTED;
    }
    if (!json_is_object(root)) {
        s_reject(sink, TB_CLIENT_REJECT_NOT_AN_OBJECT, "top level is not a JSON object");
    } else {
        json_t *type = json_object_get(root, "type");
        if (!json_is_string(type))
            s_reject(sink, TB_CLIENT_REJECT_MISSING_TYPE,
                     type ? "\"type\" is not a string" : "no \"type\" key");
        else if (strcmp(json_string_value(type), "thing_update") == 0)
            kind = s_update(sink, root, now);
        else if (strcmp(json_string_value(type), "thing_snapshot") == 0)
            kind = s_snapshot(sink, root, now);
        else
            s_reject(sink, TB_CLIENT_REJECT_UNKNOWN_TYPE, "unknown type \"%.60s\"",
                     json_string_value(type));
    }
    json_decref(root);
    return kind;
}
