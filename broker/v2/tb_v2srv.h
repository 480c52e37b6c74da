/*
 * tb_v2srv.h - the server side of thingsbus protocol version 2
 * (libtbv2srv.a): the snapshot service (ROUTER, base port + 2) and the
 * filtered PUB (XPUB, base port + 3).  The normative wire format is
 * proto/PROTOCOL.md, part 2; this header is the engine's API.
 *
 * Why this exists: late joiners must get the whole directory at once and
 * consistently, and every subscriber must be able to prove it lost nothing
 * (the ZeroMQ guide's Clone pattern, made to stream).  The engine knows
 * nothing of the broker's internals: it reads Things through a small
 * directory interface (tb_v2_directory_t, callbacks the broker provides)
 * and does a bounded amount of work per call, so the broker's single event
 * loop can interleave it with ingest: 200 joiners at once never stall
 * input.  A slow reader cannot make it buffer without bound: each stream
 * has a credit (batches the client allows outstanding), capped.
 *
 * Threading: one engine belongs to one thread (the broker loop).  The
 * engine never blocks, never prints, never aborts on bad input.
 */
#ifndef TB_V2SRV_H
#define TB_V2SRV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Offsets from the base port P (P = v1 PUB, P+1 = inputs). */
#define TB_V2_SNAPSHOT_PORT_OFFSET 2
#define TB_V2_PUB_PORT_OFFSET      3

/* ------------------------------------------------ the directory interface */

/* One Thing as the directory stores it.  All spans point into the
 * directory and stay valid until the directory is next modified (the
 * engine copies what it keeps before returning). */
typedef struct {
    const char *ns;          /* namespace, not NUL-terminated */
    size_t      ns_len;
    const char *data;        /* data JSON text, or NULL: no data */
    size_t      data_len;
    const char *ts_json;     /* ts JSON number literal (valid with data) */
    size_t      ts_json_len;
    const char *doc_url;     /* sticky documentation URL as a JSON string
                                literal with quotes, or NULL */
    size_t      doc_url_len;
    uint64_t    seq;         /* seq of the Thing's latest update (0 = none) */
    double      received;    /* broker wall clock of the latest update */
} tb_v2_thing_t;

/* Results of tb_v2_directory_t.scan */
enum { TB_V2_SCAN_END = 0, TB_V2_SCAN_THING = 1, TB_V2_SCAN_PAUSE = 2 };

/* Callbacks the broker provides.  ctx is passed back unchanged. */
typedef struct {
    /* Find the next Thing *with data* within the subtree `prefix` (itself
     * included; "" = everything), starting at *cursor (0 = the beginning).
     * Examine at most *budget Things, decrementing *budget for each.
     * Returns TB_V2_SCAN_THING with *out filled and *cursor moved past it,
     * TB_V2_SCAN_PAUSE when the budget ran out first (*cursor moved past
     * what was examined), or TB_V2_SCAN_END.
     * Contract (consistency depends on it): a cursor stays usable across
     * any directory change; every Thing that exists for the whole scan is
     * returned exactly once; Things created or removed meanwhile may or may
     * not be returned.  (A dense array scanned by index, with removal
     * leaving holes rather than moving Things, satisfies it.) */
    int (*scan)(void *ctx, const char *prefix, size_t prefix_len,
                uint64_t *cursor, unsigned *budget, tb_v2_thing_t *out);
    /* Look up one Thing.  Returns true and fills *out (data may be NULL
     * for an intermediate Thing) or false when no such Thing exists. */
    bool (*lookup)(void *ctx, const char *ns, size_t ns_len, tb_v2_thing_t *out);
    /* Next child of `ns` from *cursor (0 = first).  Returns true with
     * *out filled (only ns is required) and *cursor advanced, false at
     * the end.  Same cursor contract as scan. */
    bool (*child)(void *ctx, const char *ns, size_t ns_len, uint64_t *cursor,
                  tb_v2_thing_t *out);
    /* The seq of the latest update or purge anywhere in the subtree of
     * Thing ns (itself included), or 0 when the Thing does not exist or
     * nothing happened in it since it was created. */
    uint64_t (*subtree_seq)(void *ctx, const char *ns, size_t ns_len);
    /* The last seq the broker gave out (0 = none yet). */
    uint64_t (*current_seq)(void *ctx);
} tb_v2_directory_t;

/* ---------------------------------------------------------- configuration */
typedef struct {
    unsigned max_streams;        /* concurrent SNAPSHOT/CHILDREN streams;
                                    more are refused with ERROR busy (256) */
    unsigned max_credit;         /* cap on a stream's outstanding batches (16) */
    size_t   batch_bytes;        /* a batch closes at this many bytes (64 KiB) */
    unsigned stream_timeout_ms;  /* a stream with no request from its client
                                    for this long is dropped (30000) */
    unsigned heartbeat_ms;       /* heartbeat interval (1000) */
    unsigned max_prefixes;       /* distinct subscribed prefixes that get
                                    their own heartbeat (4096) */
    unsigned max_requests_per_call; /* requests read per handle_requests (256) */
    double   expiry_s;           /* leave out Things whose latest update is
                                    older than this; 0 = none (0) */
    uint64_t epoch;              /* identity of this broker run; 0 = random */
    int      pub_hwm;            /* filtered PUB send high-water mark, in
                                    messages per subscriber, applied before
                                    the bind; 0 = unlimited (1000) */
} tb_v2srv_config_t;

/* Fill the defaults above. */
void tb_v2srv_config_default(tb_v2srv_config_t *cfg);

/* -------------------------------------------------------------- counters */
/* Request rejections, each with a stable name (tb_v2srv_reject_name). */
typedef enum {
    TB_V2_REJECT_BAD_FRAMES = 0, /* wrong frame count or an oversized frame */
    TB_V2_REJECT_UNKNOWN_COMMAND,
    TB_V2_REJECT_BAD_RID,        /* request id empty or over 32 bytes */
    TB_V2_REJECT_BAD_NS,         /* namespace breaks the namespace rule */
    TB_V2_REJECT_BAD_CREDIT,     /* credit not a decimal in 1..999999 */
    TB_V2_REJECT_BUSY,           /* max_streams reached */
    TB_V2_REJECT_DUPLICATE,      /* a stream with this rid is under way */
    TB_V2_REJECT_NO_STREAM,      /* CREDIT/CANCEL for an unknown stream */
    TB_V2_REJECT_NOMEM,
    TB_V2_REJECT_COUNT
} tb_v2_reject_t;

const char *tb_v2srv_reject_name(tb_v2_reject_t r);

typedef struct {
    uint64_t requests;           /* well-formed requests accepted */
    uint64_t rejected[TB_V2_REJECT_COUNT];
    uint64_t streams_started, streams_finished, streams_cancelled,
             streams_timed_out, streams_lost; /* lost: client gone */
    uint64_t batches_sent, things_sent, end_markers_sent;
    uint64_t send_would_block;   /* a reply waited for room in the pipe */
    uint64_t published, publish_errors, heartbeats_sent;
    uint64_t subscribes, unsubscribes, prefixes_refused;
    unsigned active_streams;     /* now */
    unsigned prefixes;           /* now */
} tb_v2srv_stats_t;

/* ------------------------------------------------------------ the engine */
typedef struct tb_v2srv_t tb_v2srv_t;

/* Create an engine.  zctx: a libzmq context (zmq_ctx_new / zsys_init).
 * snapshot_endpoint / pub_endpoint: where to bind the ROUTER and the XPUB
 * (e.g. "tcp://0.0.0.0:7956" and "...:7957"); either may be NULL to leave that
 * half out.  dir/dir_ctx: the directory interface (copied; must outlive the
 * engine).  cfg NULL = defaults.  On failure returns NULL and, if err is
 * given, sets *err to a negative enum tb_error (TB_ERR_NET when a bind
 * failed: errno holds zmq_errno()). */
tb_v2srv_t *tb_v2srv_new(void *zctx, const char *snapshot_endpoint,
                         const char *pub_endpoint, const tb_v2_directory_t *dir,
                         void *dir_ctx, const tb_v2srv_config_t *cfg, int *err);

/* Close the sockets and free everything; accepts NULL; nulls *self_p. */
void tb_v2srv_destroy(tb_v2srv_t **self_p);

/* The ROUTER and XPUB sockets, for the caller's poll set (ZMQ_POLLIN on
 * both; either may be NULL).  The engine owns them. */
void *tb_v2srv_router(tb_v2srv_t *self);
void *tb_v2srv_xpub(tb_v2srv_t *self);

/* Read up to max_requests_per_call requests from the ROUTER without
 * waiting; parse, answer GET at once, open/credit/cancel streams.
 * now_ms: monotonic milliseconds.  Returns the number of messages read. */
int tb_v2srv_handle_requests(tb_v2srv_t *self, uint64_t now_ms);

/* Read subscription messages from the XPUB without waiting; a new
 * subscription to a prefix gets an immediate heartbeat (its "welcome").
 * Returns the number of messages read. */
int tb_v2srv_handle_subscriptions(tb_v2srv_t *self, uint64_t now_ms);

/* Serve streams: examine at most `budget` Things in all (round-robin over
 * the streams that have credit), send the batches that fill up and the end
 * markers of finished streams, drop streams that timed out.  Returns true
 * when a stream could make progress right away (call again without
 * waiting), false when every stream waits for credit or there is none. */
bool tb_v2srv_step(tb_v2srv_t *self, uint64_t now_ms, unsigned budget);

/* Send heartbeats when due (one per subscribed prefix per interval).
 * Returns the milliseconds until the next one is due. */
unsigned tb_v2srv_tick(tb_v2srv_t *self, uint64_t now_ms);

/* Publish one accepted update on the filtered PUB (call right after the
 * directory was updated and the v1 PUB got it).  t: the Thing with its new
 * value and seq (doc_url as it goes out on the v1 PUB: the update's own
 * URL or NULL).  prev[0..nprev): for each ancestor from the root (index 0)
 * down to the Thing itself (index depth), the subtree_seq that ancestor
 * had *before* this update; nprev must be tb_v2_ns_depth(ns) + 1.  The
 * caller then sets each of those subtree seqs to t->seq.
 * Returns 0, or a negative enum tb_error (counted). */
int tb_v2srv_publish_update(tb_v2srv_t *self, const tb_v2_thing_t *t,
                            const uint64_t *prev, size_t nprev);

/* The same as tb_v2srv_publish_update, from the update's v1 PUB bytes
 * (v1[0..v1_len): the normalized v1 thing_update with "seq" as its last
 * key, exactly as sent on the v1 PUB), so the broker's hot path encodes
 * each update once.  Returns 0, or a negative enum tb_error. */
int tb_v2srv_publish_encoded(tb_v2srv_t *self, const char *ns, size_t ns_len,
                             const char *v1, size_t v1_len,
                             const uint64_t *prev, size_t nprev);

/* true when someone may be subscribed to the filtered PUB (any topic the
 * XPUB reported and not yet withdrawn; true too when a topic could not be
 * tracked).  A broker may skip encoding updates while it is false (it
 * must still keep the subtree seqs): a subscription is read, and welcomed,
 * before anything published after it. */
bool tb_v2srv_has_subscribers(const tb_v2srv_t *self);

/* Publish that Thing ns was purged (its data removed; the broker keeps the
 * Thing itself, without data) with sequence number seq; prev as above. */
int tb_v2srv_publish_purge(tb_v2srv_t *self, const char *ns, size_t ns_len,
                           uint64_t seq, const uint64_t *prev, size_t nprev);

/* Parts in a namespace: "" -> 0, "a" -> 1, "a.b" -> 2. */
size_t tb_v2_ns_depth(const char *ns, size_t ns_len);

/* The epoch in use (random unless configured). */
uint64_t tb_v2srv_epoch(const tb_v2srv_t *self);

/* Copy the counters. */
void tb_v2srv_stats(const tb_v2srv_t *self, tb_v2srv_stats_t *out);

/* Snapshot/children streams open now (0 for NULL); cheap, for the loop's
 * per-turn accounting. */
unsigned tb_v2srv_active_streams(const tb_v2srv_t *self);

#endif
