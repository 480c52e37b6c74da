/*
 * tb_v2sync.h - the client side of thingsbus protocol version 2
 * (libtbv2cli.a): the sync state machine and a small socket driver.
 *
 * Why this exists: a client must hold exactly the broker's state for a
 * subtree, know when it has all of it, and never miss an update silently.
 * The algorithm (PROTOCOL.md, section 15): subscribe first and buffer,
 * ask for a snapshot, merge by "highest seq wins", apply only buffered
 * messages newer than the snapshot's start, then check every message's
 * chain ("prev") and every heartbeat's "last" against what was seen; a
 * mismatch is loss: resynchronise and report it.  The state machine is
 * pure logic (no sockets, no clock of its own): it is fed messages and
 * time and answers with actions (callbacks), so it is unit-testable with a
 * fake clock and dropped messages.  tb_v2cli_t wraps it with real sockets.
 *
 * Threading: one object belongs to one thread.  Callbacks run inside the
 * feeding call; they must not call back into the same object.
 */
#ifndef TB_V2SYNC_H
#define TB_V2SYNC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TB_V2SYNC_IDLE = 0,   /* not started */
    TB_V2SYNC_WAIT_SUB,   /* subscribed, waiting for the welcome heartbeat */
    TB_V2SYNC_SNAPSHOT,   /* snapshot requested/streaming; updates buffered */
    TB_V2SYNC_SYNCED,     /* holding the broker's state, checking chains */
    TB_V2SYNC_V1          /* no v2 broker answered: v1 behaviour */
} tb_v2sync_state_t;

typedef enum {
    TB_V2SYNC_EV_SYNCED = 0,   /* snapshot merged; detail: its end seq */
    TB_V2SYNC_EV_LOSS,         /* updates were lost; a resync follows;
                                  detail: losses so far */
    TB_V2SYNC_EV_BROKER_DEAD,  /* nothing heard for dead_ms; the host should
                                  reconnect its sockets; a resync follows */
    TB_V2SYNC_EV_BROKER_RESTART, /* the broker's epoch changed; resync follows */
    TB_V2SYNC_EV_FALLBACK_V1,  /* no v2 answer within probe_ms: use v1 */
    TB_V2SYNC_EV_REFUSED       /* the broker refused a request (e.g. busy);
                                  retried after retry_ms; detail: refusals */
} tb_v2sync_event_t;

/* Stable name of an event, e.g. "loss". */
const char *tb_v2sync_event_name(tb_v2sync_event_t ev);

typedef struct {
    const void *data;
    size_t      len;
} tb_v2_frame_t;

/* A Thing's value as spans into the message (valid during the callback):
 * data is one validated JSON value; ts_json a JSON number literal or
 * "null"; doc_url a JSON string literal or "null". */
typedef struct {
    const char *data;
    size_t      data_len;
    const char *ts_json;
    size_t      ts_json_len;
    const char *doc_url;
    size_t      doc_url_len;
    uint64_t    seq;
} tb_v2_value_t;

/* What the state machine asks its host to do. */
typedef struct {
    /* Send a request (frames[0..n)) on the DEALER to the snapshot service.
     * Return 0, or negative when it could not be queued (retried later). */
    int  (*send)(void *ctx, const tb_v2_frame_t *frames, size_t n);
    /* A Thing has a new value (copy what you keep); from_snapshot tells a
     * snapshot entry from a fresh update. */
    void (*apply)(void *ctx, const char *ns, const tb_v2_value_t *value,
                  bool from_snapshot);
    /* A Thing is gone: purged by the broker, or absent from a resync. */
    void (*remove)(void *ctx, const char *ns);
    /* Something the host (and its user) should know. */
    void (*event)(void *ctx, tb_v2sync_event_t ev, uint64_t detail);
} tb_v2sync_actions_t;

typedef struct {
    unsigned sub_wait_ms;   /* wait this long for the welcome before asking
                               for the snapshot anyway (500) */
    unsigned probe_ms;      /* no v2 message at all this long after start:
                               fall back to v1 (2000) */
    unsigned dead_ms;       /* nothing heard this long from a v2 broker:
                               dead; 0 = 3 heartbeat intervals (0) */
    unsigned retry_ms;      /* no reply to a request this long, or after a
                               refusal: ask again (5000) */
    unsigned credit;        /* batches granted to the server (8) */
    size_t   max_buffer;    /* messages buffered during a snapshot; more
                               restarts the snapshot (1000000) */
} tb_v2sync_config_t;

void tb_v2sync_config_default(tb_v2sync_config_t *cfg);

typedef struct {
    uint64_t losses;          /* gaps detected after being synced */
    uint64_t resyncs;         /* snapshots requested after the first */
    uint64_t join_retries;    /* snapshot redone before the first sync
                                 (subscription race, buffer overflow) */
    uint64_t snapshots;       /* snapshots merged */
    uint64_t entries_applied, updates_applied, removes;
    uint64_t stale_skipped;   /* older than what we hold */
    uint64_t bad_messages;    /* malformed messages, counted and skipped */
    uint64_t stale_replies;   /* replies to an abandoned request */
    uint64_t refusals;
    uint64_t heartbeats;
    uint64_t deaths, restarts;
} tb_v2sync_stats_t;

typedef struct tb_v2sync_t tb_v2sync_t;

/* Create a state machine following subtree `prefix` ("" = everything; must
 * be a valid namespace).  cfg NULL = defaults.  actions is copied.
 * Returns NULL on a bad argument or out of memory. */
tb_v2sync_t *tb_v2sync_new(const char *prefix, const tb_v2sync_config_t *cfg,
                           const tb_v2sync_actions_t *actions, void *ctx);

/* Free; accepts NULL; nulls *self_p. */
void tb_v2sync_destroy(tb_v2sync_t **self_p);

/* The topic to subscribe to on the filtered PUB: "" or "<prefix>." */
const char *tb_v2sync_topic(const tb_v2sync_t *self);

/* Begin (or begin again after the host reconnected): the host has already
 * subscribed the SUB to tb_v2sync_topic() and connected the DEALER.
 * now_ms: the host's monotonic clock. */
void tb_v2sync_start(tb_v2sync_t *self, uint64_t now_ms);

/* One message from the filtered PUB: topic frame and JSON body.  Messages
 * outside this prefix only count as signs of life.  Returns 0, or
 * TB_ERR_BAD_MESSAGE (counted, skipped). */
int tb_v2sync_on_pub(tb_v2sync_t *self, uint64_t now_ms, const void *topic,
                     size_t topic_len, const void *body, size_t body_len);

/* One reply from the snapshot service (the frames after the DEALER
 * envelope: KIND, REQUEST-ID, payload...).  Returns 0 or
 * TB_ERR_BAD_MESSAGE. */
int tb_v2sync_on_reply(tb_v2sync_t *self, uint64_t now_ms, const tb_v2_frame_t *frames,
                       size_t n);

/* Let time pass: probes, retries, dead-broker detection.  Returns the
 * milliseconds until the next deadline (for the host's poll timeout). */
unsigned tb_v2sync_tick(tb_v2sync_t *self, uint64_t now_ms);

tb_v2sync_state_t tb_v2sync_state(const tb_v2sync_t *self);
const char *tb_v2sync_state_name(tb_v2sync_state_t st);

/* The seq the held state is consistent with (0 before the first sync). */
uint64_t tb_v2sync_seq(const tb_v2sync_t *self);

/* The seq of the last message seen in the subtree (for the root: the
 * broker's latest seq once caught up). */
uint64_t tb_v2sync_last(const tb_v2sync_t *self);

/* Things currently held (with data) in the subtree. */
size_t tb_v2sync_count(const tb_v2sync_t *self);

void tb_v2sync_stats(const tb_v2sync_t *self, tb_v2sync_stats_t *out);

/* True once any v2 message (filtered PUB or snapshot service) arrived:
 * a v2 broker is there (the client never falls back to v1 after that). */
bool tb_v2sync_heard(const tb_v2sync_t *self);

/* True when the state machine holds a value for Thing ns. */
bool tb_v2sync_holds(const tb_v2sync_t *self, const char *ns);

/* ------------------------------------------------------- socket driver */
/* A SUB on the filtered PUB and a DEALER on the snapshot service, driven
 * by one tb_v2sync_t.  On BROKER_DEAD it reconnects both sockets itself
 * (a fresh DEALER drops requests queued for the dead broker). */
typedef struct tb_v2cli_t tb_v2cli_t;

/* zctx: a libzmq context.  snapshot_ep / pub_ep: e.g. "tcp://host:7956",
 * "tcp://host:7957".  actions.send is ignored (the driver sends).
 * Returns NULL on error (bad argument, socket error, out of memory). */
tb_v2cli_t *tb_v2cli_new(void *zctx, const char *snapshot_ep, const char *pub_ep,
                         const char *prefix, const tb_v2sync_config_t *cfg,
                         const tb_v2sync_actions_t *actions, void *ctx);
void tb_v2cli_destroy(tb_v2cli_t **self_p);

/* Wait up to timeout_ms for input (less when the state machine has a
 * deadline), feed everything that arrived, let time pass.  Returns the
 * number of messages fed, or a negative enum tb_error. */
int tb_v2cli_run_once(tb_v2cli_t *self, int timeout_ms);

/* The state machine inside (owned by the driver). */
tb_v2sync_t *tb_v2cli_sync(tb_v2cli_t *self);

/* For a host with its own poll loop: the two sockets to poll for
 * ZMQ_POLLIN (they change when the driver reconnects, so ask again before
 * each poll; NULL while closed). */
void *tb_v2cli_sub_socket(tb_v2cli_t *self);
void *tb_v2cli_dealer_socket(tb_v2cli_t *self);

/* For a host with its own poll loop: feed what is readable (sub_ready /
 * dealer_ready from the host's poll), let time pass, reconnect when the
 * broker was declared dead.  Returns the ms until the next deadline. */
unsigned tb_v2cli_process(tb_v2cli_t *self, bool sub_ready, bool dealer_ready);

/* True when a TCP connection to the snapshot service was refused (nothing
 * listens there: an original broker) and none succeeded since the last
 * (re)connect.  Lets a host fall back to v1 at once instead of after
 * probe_ms. */
bool tb_v2cli_refused(tb_v2cli_t *self);

/* Forget the refusals and connections seen so far (e.g. when the host
 * learns the broker just came up: older refusals prove nothing). */
void tb_v2cli_refused_reset(tb_v2cli_t *self);

/* Set the SUB's receive high-water mark (tests use 1 to force loss);
 * takes effect at the next reconnect.  Returns 0 or TB_ERR_NET. */
int tb_v2cli_set_sub_hwm(tb_v2cli_t *self, int hwm);

#endif
