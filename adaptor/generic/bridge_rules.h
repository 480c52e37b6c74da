/*
 * bridge_rules.h - what tb-generic-zmq-adaptor does to one source message
 * (internal to the program).
 *
 * Why this exists: the decisions of the bridge (is it JSON, is it an
 * object, does it pass the --filter, which fields go into data, which
 * field names the sub-namespace and which one the timestamp) are pure
 * logic with no sockets; keeping them here lets the cmocka suite test
 * every path and every skip reason without a network.
 *
 * Field paths: a path names a field of the message.  "a" is the top-level
 * key a; "meta.camera" is the key camera inside the object under meta.
 * Because the original tool only knew literal top-level keys, a top-level
 * key that literally equals the whole path ("meta.camera" with the dot in
 * the key) wins over the dotted walk.  Paths walk objects only (no array
 * indices).  Empty paths and empty components ("a..b", ".a", "a.") are
 * refused when the rules are built.
 *
 * Projection naming: a projected field keeps its place, so --projections
 * meta.camera,meta.frame,luminance turns
 *     {"meta":{"camera":"c1","frame":7,"x":1},"luminance":3,"y":2}
 * into data
 *     {"meta":{"camera":"c1","frame":7},"luminance":3}
 * (a field found through a literal dotted top-level key stays under that
 * literal key).
 *
 * Ownership: rules are built once at start-up and are read-only afterwards.
 * Uses jansson; no printing, no globals.
 */
#ifndef BRIDGE_RULES_H
#define BRIDGE_RULES_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "tb_ns.h"

/* Why a source message did not reach the bus.  Each has a stable
 * snake_case name (tb_bridge_skip_name) used in logs and counters.
 * Keep the name table in bridge_rules.c in the same order. */
typedef enum {
    TB_BRIDGE_OK = 0,
    TB_BRIDGE_TOO_LARGE,          /* frame larger than --max-message-size */
    TB_BRIDGE_MULTI_FRAME,        /* a multi-part ZeroMQ message */
    TB_BRIDGE_NOT_JSON,           /* not valid JSON text (or not UTF-8) */
    TB_BRIDGE_NOT_OBJECT,         /* valid JSON, but not an object */
    TB_BRIDGE_NO_FILTER_KEY,      /* the --filter field is absent */
    TB_BRIDGE_FILTERED_OUT,       /* the --filter field has another value */
    TB_BRIDGE_MISSING_NSKEY,      /* the --nskey field is absent */
    TB_BRIDGE_BAD_NSKEY,          /* --nskey value not a string or not a valid namespace part */
    TB_BRIDGE_MISSING_TSKEY,      /* the --tskey field is absent */
    TB_BRIDGE_BAD_TSKEY,          /* --tskey value is not a number */
    TB_BRIDGE_MISSING_PROJECTION, /* a --projections field is absent */
    TB_BRIDGE_REJECTED,           /* the adaptor library refused it at the call */
    TB_BRIDGE_QUEUE_FULL,         /* the adaptor library's queue was full */
    TB_BRIDGE_SEND_FAILED,        /* any other adaptor library error */
    TB_BRIDGE_SKIP_COUNT
} tb_bridge_skip_t;

/* Stable name of a reason, e.g. "bad_nskey"; "ok" for TB_BRIDGE_OK.
 * Never NULL (unknown values give "unknown"). */
const char *tb_bridge_skip_name(tb_bridge_skip_t reason);

typedef struct tb_bridge_rules_t tb_bridge_rules_t;

/* New empty rule set: no filter, all fields projected, no nskey, no tskey,
 * max_message_size 0 (no size limit).  Returns NULL when out of memory. */
tb_bridge_rules_t *tb_bridge_rules_new(void);

/* Frees the rules; accepts NULL and a pointer to NULL; nulls *self_p. */
void tb_bridge_rules_destroy(tb_bridge_rules_t **self_p);

/* Adds a filter "PATH:VALUE": keep only messages whose field PATH is the
 * string VALUE (split at the first ':', so VALUE may contain ':'; VALUE may
 * be empty).  Several filters must all match.  Returns 0, or -1 with a
 * plain-words reason in errbuf (missing ':', bad path, out of memory). */
int tb_bridge_rules_add_filter(tb_bridge_rules_t *self, const char *spec,
                               char *errbuf, size_t errlen);

/* Walks a comma-separated option value ("a, b,c"), as -s and --projections
 * take: sets *item and *len to the next entry with the blanks and tabs
 * around it left out (len 0 for an empty entry, as in "a,,b" or ""), and
 * moves *cursor past its comma, or to NULL after the last entry.  Returns
 * false, setting nothing, once *cursor is NULL. */
bool tb_bridge_list_next(const char **cursor, const char **item, size_t *len);

/* Adds the comma-separated paths of list to the projection (may be called
 * several times).  Blanks around each path are ignored.  Returns 0 or -1
 * with errbuf (an empty entry, a bad path, out of memory). */
int tb_bridge_rules_add_projections(tb_bridge_rules_t *self, const char *list,
                                    char *errbuf, size_t errlen);

/* Sets the field whose value becomes the sub-namespace / the timestamp.
 * Returns 0 or -1 with errbuf (bad path, out of memory). */
int tb_bridge_rules_set_nskey(tb_bridge_rules_t *self, const char *path,
                              char *errbuf, size_t errlen);
int tb_bridge_rules_set_tskey(tb_bridge_rules_t *self, const char *path,
                              char *errbuf, size_t errlen);

/* Frames longer than max_bytes are skipped as too_large (0 = no limit). */
void tb_bridge_rules_set_max_message_size(tb_bridge_rules_t *self, size_t max_bytes);

/* Number of filters / projected paths configured (for start-up logging). */
size_t tb_bridge_rules_filter_count(const tb_bridge_rules_t *self);
size_t tb_bridge_rules_projection_count(const tb_bridge_rules_t *self);

/* What to send for an accepted message. */
typedef struct {
    json_t *data;                       /* new reference: the caller json_decref()s it */
    char    sub_ns[TB_NS_PART_MAX + 1]; /* "" when no --nskey */
    bool    has_ts;                     /* false when no --tskey: the sender stamps it */
    double  ts;                         /* seconds since 1970 (from the --tskey field) */
} tb_bridge_result_t;

/* Applies the rules to one frame of len bytes (not NUL-terminated).
 * Returns TB_BRIDGE_OK and fills *out (out->data owned by the caller), or
 * a skip reason with out->data NULL and, when detail is given, plain words
 * naming the field or the JSON error position ("line 1 column 5: ..."). */
tb_bridge_skip_t tb_bridge_rules_apply(const tb_bridge_rules_t *self,
                                       const void *frame, size_t len,
                                       tb_bridge_result_t *out,
                                       char *detail, size_t detail_len);

/* The same on an already-parsed message (borrowed; it is not modified). */
tb_bridge_skip_t tb_bridge_rules_apply_json(const tb_bridge_rules_t *self,
                                            json_t *message,
                                            tb_bridge_result_t *out,
                                            char *detail, size_t detail_len);

/* Looks the field path up in message (borrowed result, NULL if absent).
 * Exposed for the unit tests and for documentation of the path rule. */
json_t *tb_bridge_lookup(json_t *message, const char *path);

#endif
