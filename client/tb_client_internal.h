/*
 * tb_client_internal.h - the pieces of libthingsbus-client and how they
 * meet (not installed).
 *
 * Why this exists: the library is split by concern -- the mirror (a tree of
 * Things), the decoder (broker messages -> items), the compact JSON writer,
 * event dispatch (subscriptions + pull queue) and the background actor that
 * owns the socket.  This header is the contract between those files; the
 * struct itself lives in tb_client.c.
 *
 * Locks (always taken in this order, never the other way round):
 *   subs_lock (recursive; held while callbacks run) -> queue_lock;
 *   mirror_lock and stats_lock are leaves (nothing is called under them).
 */
#ifndef TB_CLIENT_INTERNAL_H
#define TB_CLIENT_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include <jansson.h>
#include "thingsbus_client.h"
#include "tb_discovery.h"
#include "tb_buf.h"

/* ------------------------------------------------------------ json text */
/* Append v as compact JSON: no spaces, object keys in document order,
 * reals in their shortest round-trip form (so 0.1 prints as 0.1). */
void tb_client_json_write(tb_buf_t *out, const json_t *v);

/* v as compact JSON text (malloc'ed, NUL-terminated) or NULL on OOM. */
char *tb_client_json_text(const json_t *v);

/* --------------------------------------------------------------- mirror */
typedef struct tb_mirror_t tb_mirror_t;

tb_mirror_t *tb_mirror_new(void);
void tb_mirror_destroy(tb_mirror_t **self_p);

/* Record the latest data of Thing ns (a valid namespace, NUL-terminated),
 * creating it and any missing ancestor.  data: compact JSON text, taken
 * over (freed by the mirror even on error).  doc_url NULL or "" keeps the
 * URL the Thing already has.  *doc_now (may be NULL) gets the Thing's URL
 * after the change (borrowed, valid until the next mirror call).
 * Returns TB_OK or TB_ERR_NOMEM. */
int tb_mirror_set(tb_mirror_t *self, const char *ns, char *data, double ts,
                  const char *doc_url, const char **doc_now);

/* Copy Thing ns into *out (strings malloc'ed; data NULL when none or
 * unknown).  Returns TB_OK or TB_ERR_NOMEM. */
int tb_mirror_get(tb_mirror_t *self, const char *ns, tb_thing_t *out);

/* Sorted full names of ns's children, NULL-terminated. */
int tb_mirror_children(tb_mirror_t *self, const char *ns, char ***out, size_t *count);

/* Copy of ns's subtree (pre-order, siblings sorted). */
int tb_mirror_subtree(tb_mirror_t *self, const char *ns, tb_thing_list_t *out);

/* Remove Thing ns's data; the Thing itself goes when it has no children,
 * and so do ancestors left without data and children.  Returns whether it
 * had data. */
bool tb_mirror_remove(tb_mirror_t *self, const char *ns);

/* Things held, the root excluded. */
size_t tb_mirror_count(const tb_mirror_t *self);

/* Free the strings of one copied Thing (not the struct). */
void tb_thing_clear(tb_thing_t *thing);

/* -------------------------------------------------------------- decoder */
/* One Thing's new state decoded from a thing_update or a snapshot entry.
 * Strings borrowed from the decoded document, except data. */
typedef struct {
    const char *ns;
    char       *data;      /* compact JSON; the sink takes it (set to NULL) */
    double      ts;
    const char *doc_url;   /* NULL when absent, null or "" */
    bool        snapshot;  /* from a thing_snapshot */
} tb_item_t;

typedef struct {
    void (*item)(void *arg, tb_item_t *item);
    void (*reject)(void *arg, tb_client_reject_t reason, const char *detail);
    /* after the last entry of a thing_snapshot message; round_ts is the
     * message's "ts" (all parts of one round carry the same), or now */
    void (*snapshot_end)(void *arg, double round_ts);
    void *arg;
} tb_decode_sink_t;

typedef enum { TB_MSG_REJECTED = 0, TB_MSG_UPDATE, TB_MSG_SNAPSHOT } tb_msg_kind_t;

/* Decode one broker message (a single ZeroMQ frame).  now: the wall clock,
 * used when ts is absent or null.  Items and rejections go to the sink; a
 * snapshot with some bad entries is still a snapshot (the bad entries are
 * rejected one by one).  Never fails hard. */
tb_msg_kind_t tb_client_decode(const char *bytes, size_t len, double now,
                               const tb_decode_sink_t *sink);

/* --------------------------------------------------------- client parts */
/* Used by the actor (tb_client_actor.c) on the background thread. */
void tb_client_apply_item(tb_client_t *self, tb_item_t *item);
void tb_client_note_reject(tb_client_t *self, tb_client_reject_t reason,
                           const char *detail);
void tb_client_note_message(tb_client_t *self, tb_msg_kind_t kind);
void tb_client_note_synced(tb_client_t *self);
void tb_client_note_connection(tb_client_t *self, int delta, const char *url);
void tb_client_note_resolution(tb_client_t *self);

/* Protocol v2 (tb_client_actor.c feeds these from the v2 state machine). */
/* A Thing's value from a snapshot entry or an update: data is one JSON
 * value (any spacing), ts_json a number literal or "null", doc_json a
 * string literal or "null" (null keeps the held URL). */
void tb_client_apply_v2(tb_client_t *self, const char *ns, const char *data, size_t data_len,
                        const char *ts_json, size_t ts_len, const char *doc_json,
                        size_t doc_len, bool from_snapshot);
/* Thing ns is gone (purge or resync sweep): mirror and purge events. */
void tb_client_remove_thing(tb_client_t *self, const char *ns);
/* Called once the first v2 sync of prefix is complete: Things with data
 * under prefix that holds() denies were learnt from v1 messages while the
 * protocol was being probed and are not on the broker any more. */
void tb_client_prune(tb_client_t *self, const char *prefix,
                     bool (*holds)(void *arg, const char *ns), void *arg);
typedef enum {
    TB_NOTE_LOSS = 0, TB_NOTE_RESYNC, TB_NOTE_DEATH, TB_NOTE_RESTART, TB_NOTE_QUERY
} tb_client_note_t;
void tb_client_note_v2(tb_client_t *self, tb_client_note_t what);
void tb_client_set_protocol(tb_client_t *self, int protocol);
/* v2 messages (or snapshot entries) the state machine skipped as malformed. */
void tb_client_note_v2_malformed(tb_client_t *self, uint64_t count);
/* The v2 snapshot service URL in use (for queries from callers' threads),
 * copied into buf; false while none is known (probing or v1). */
bool tb_client_snapshot_url(tb_client_t *self, char *buf, size_t len);
void tb_client_set_snapshot_url(tb_client_t *self, const char *url);
const char *tb_client_subtree_prefix(tb_client_t *self);
/* GET ns from the v2 snapshot service on the caller's thread (at most
 * 500 ms).  Returns TB_OK with *out filled (free with tb_thing_clear),
 * TB_ERR_NO_DATA (the broker has none), TB_ERR_NOT_SUPPORTED (no v2
 * service known), TB_ERR_TIMEOUT, TB_ERR_NET. */
int tb_client_query_get(tb_client_t *self, const char *ns, tb_thing_t *out);

/* The actor body, run by zactor_new(tb_client_actor, self). */
void tb_client_actor(zsock_t *pipe, void *self);

/* What the actor needs from the client at start-up. */
const char *tb_client_start_url(tb_client_t *self);
const char *tb_client_zone(tb_client_t *self);
const char *tb_client_dns_servers(tb_client_t *self);
const tb_client_options_t *tb_client_opts(tb_client_t *self);
/* The initial lookup result (zone mode), handed over once (NULL after). */
tb_endpoints_t *tb_client_take_endpoints(tb_client_t *self);
void tb_client_set_start_error(tb_client_t *self, int error, const char *text);

#endif
