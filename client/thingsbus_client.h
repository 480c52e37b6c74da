/*
 * thingsbus_client.h - libthingsbus-client: read the Things Bus.
 *
 * Why this exists: a program that wants the data of the things in a
 * building links this library, names a broker (a URL, or a DNS zone whose
 * _thingsbus._tcp SRV record points at one) and gets
 *   - a local mirror of the broker's directory (the tree of Things with
 *     their latest data, timestamp and documentation URL), kept up to date
 *     by a background thread and queried from any thread;
 *   - subscriptions on a Thing, with the flag semantics of the original
 *     Python client (PROTOCOL-v1.md), delivered either to a callback or to a
 *     queue the program pulls from (with a file descriptor for poll/epoll).
 *
 * It speaks protocol v2 when the broker offers it (PROTOCOL.md, part 2: a
 * consistent snapshot from the snapshot service on port P+2, sequence
 * numbers and heartbeats on the filtered PUB on P+3, so the mirror is
 * exact, loss is detected and repaired, and a dead or restarted broker is
 * noticed), and falls back to protocol v1 (thing_update messages and the
 * periodic thing_snapshot on the PUB socket P) against a broker that does
 * not, such as a deployed original broker.
 *
 * Conventions: functions returning int return TB_OK (0) or a negative
 * enum tb_error code (thingsbus_errors.h; tb_client_strerror() gives the
 * words).  Everything handed to the caller is a copy the caller owns and
 * frees with the named function; nothing points into the mirror.
 * The library never prints, never aborts, and installs no signal handlers
 * (it disables czmq's default SIGINT/SIGTERM handling; see NOTES in
 * thingsbus_client(3)).
 */
#ifndef THINGSBUS_CLIENT_H
#define THINGSBUS_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "thingsbus_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ flags */

/* Subscription flags, and event flags (PROTOCOL-v1.md "Client semantics").
 * An event about Thing E is offered to the listeners of E and then of each
 * ancestor of E up to the root.  For the listeners of an ancestor the event
 * is a *tree* event.  A listener receives an event only if its flags include
 * every property the event has:
 *   - a snapshot-sourced event needs TB_F_SNAPSHOT;
 *   - a tree event (about a descendant) needs TB_F_TREE.
 * So TB_F_NONE = fresh updates of the Thing itself; TB_F_TREE = fresh
 * updates of the Thing and its whole subtree; TB_F_TREE|TB_F_SNAPSHOT =
 * everything in the subtree. */
#define TB_F_NONE     0u
#define TB_F_SNAPSHOT 1u
#define TB_F_TREE     2u
/* Protocol v2 only.  A purge event says the Thing no longer has data: the
 * broker purged it (its data was older than the broker's purge age), or a
 * resynchronisation found it gone.  Its data is "null" and its ts the time
 * the client learnt it.  Like the other properties, a listener receives
 * purge events only if its flags include TB_F_PURGE (so programs written
 * before it never see one). */
#define TB_F_PURGE    4u
/* Event flag only (never needed in a subscription, ignored there): set on
 * the first event a subscription receives after the client detected lost
 * updates (a sequence gap, protocol v2).  The client has resynchronised by
 * itself; tb_event_t.losses and tb_client_stats_t.losses count the losses.
 * Values recovered by the resynchronisation arrive as snapshot events. */
#define TB_F_LOSS     8u

/* ---------------------------------------------------------------- options */

/* Why a message from the broker was skipped (each is counted, see
 * tb_client_stats_t.rejected; names from tb_client_reject_name()). */
typedef enum {
    TB_CLIENT_REJECT_BAD_JSON = 0,  /* not JSON, bad UTF-8, too deep, empty */
    TB_CLIENT_REJECT_NOT_AN_OBJECT, /* top level is not a JSON object */
    TB_CLIENT_REJECT_MISSING_TYPE,  /* no "type" string */
    TB_CLIENT_REJECT_UNKNOWN_TYPE,  /* a type this client does not know (ignored,
                                       not counted as malformed: newer brokers
                                       may send more types) */
    TB_CLIENT_REJECT_BAD_NS,        /* ns missing, not a string, or invalid */
    TB_CLIENT_REJECT_MISSING_DATA,  /* no "data" key */
    TB_CLIENT_REJECT_BAD_TS,        /* ts neither a number nor null */
    TB_CLIENT_REJECT_BAD_DOC_URL,   /* documentation_url neither string nor null */
    TB_CLIENT_REJECT_BAD_SNAPSHOT,  /* snapshot "data" not an object, or an entry
                                       not an object (the entry is skipped) */
    TB_CLIENT_REJECT_MULTIPART,     /* more than one ZeroMQ frame */
    TB_CLIENT_REJECT_NOMEM,         /* out of memory while handling it */
    TB_CLIENT_REJECT_COUNT
} tb_client_reject_t;

/* Called on the client's background thread each time a message (or one
 * snapshot entry) is skipped: reason, and plain words saying what is wrong
 * (e.g. "line 1 column 7: unexpected token near 'x'").  detail is valid only
 * during the call.  Must not block for long; must not call
 * tb_client_destroy. */
typedef void (tb_client_reject_fn)(tb_client_reject_t reason, const char *detail,
                                   void *arg);

typedef struct {
    /* Broker PUB URL, e.g. "tcp://broker.local:7954".  "host" or
     * "host:port" is accepted as a shorthand for tcp:// (port 7954 when
     * omitted).  Either url or zone must be given, not both. */
    const char *url;
    /* DNS zone: the broker is found through _thingsbus._tcp.<zone>
     * (RFC 2782 order; failover and re-resolution are automatic). */
    const char *zone;
    /* DNS servers for zone lookups, "host:port[,host:port]"; NULL: the
     * THINGSBUS_DNS_SERVERS environment variable, else the system's. */
    const char *dns_servers;
    /* Time allowed for the initial lookup, ms (0: 5000). */
    int         discovery_timeout_ms;
    /* Re-resolve the zone after the broker stayed unreachable this long,
     * ms (0: 30000). */
    unsigned    unreachable_ms;
    /* Most events held for tb_client_recv (0: 10000).  When full, the
     * oldest event is dropped and counted (the mirror still has the
     * latest value of every Thing). */
    size_t      queue_limit;
    /* Largest message accepted from the broker, bytes (0: no limit; an
     * original broker sends its whole directory as one message). */
    int64_t     max_message_size;
    /* Optional diagnostics hook, see tb_client_reject_fn (NULL: none). */
    tb_client_reject_fn *on_reject;
    void       *on_reject_arg;
    /* --- added with protocol v2 (zero keeps the earlier behaviour) --- */
    /* Mirror only this subtree ("spacemon"; NULL or "" = everything).
     * Against a v2 broker the client then receives only that subtree's
     * traffic (the broker filters it) and look-ups outside it find no
     * data; against a v1 broker the whole directory is mirrored anyway. */
    const char *subtree;
    /* 0 (TB_CLIENT_PROTOCOL_AUTO): v2 when the broker offers it, else v1;
     * TB_CLIENT_PROTOCOL_V1: never try v2. */
    int         protocol;
} tb_client_options_t;

#define TB_CLIENT_PROTOCOL_AUTO 0
#define TB_CLIENT_PROTOCOL_V1   1
#define TB_CLIENT_PROTOCOL_V2   2

/* Fill *options with the defaults (all zero/NULL, url and zone unset). */
void tb_client_options_init(tb_client_options_t *options);

/* ---------------------------------------------------------------- client */

typedef struct tb_client_t tb_client_t;

/* Create a client and start its background thread.  The option strings are
 * copied.  With a zone, the SRV lookup happens here (blocking, at most
 * discovery_timeout_ms).  The connection itself is made in the background
 * and retried for ever; tb_client_stats().connected tells whether it is up.
 * Returns the client, or NULL with *error (if not NULL) set to
 * TB_ERR_INVALID_ARG (neither or both of url/zone), TB_ERR_BAD_URL,
 * TB_ERR_DNS_* (lookup failed), TB_ERR_NET, TB_ERR_NOMEM; errbuf (if not
 * NULL) receives plain words, e.g. the SRV name that was looked up. */
tb_client_t *tb_client_new(const tb_client_options_t *options, int *error,
                           char *errbuf, size_t errlen);

/* Stop the background thread, close the connection, free everything
 * (undelivered events included).  Accepts NULL and *self_p == NULL; sets
 * *self_p to NULL.  Must not be called from a callback, nor while another
 * thread is inside a tb_client_* call on the same client. */
void tb_client_destroy(tb_client_t **self_p);

/* The URL the client is connected (or connecting) to, copied into buf
 * (NUL-terminated, truncated to len).  Returns TB_OK or TB_ERR_INVALID_ARG. */
int tb_client_endpoint(tb_client_t *self, char *buf, size_t len);

/* Plain words for an error code returned by this library; never NULL. */
const char *tb_client_strerror(int error);

/* Stable snake_case name of a reject reason ("bad_json"); never NULL. */
const char *tb_client_reject_name(tb_client_reject_t reason);

/* Wait until the mirror holds the broker's whole directory (or the
 * options' subtree).  Against a v2 broker this is exact: the snapshot's
 * end marker has arrived and every update buffered meanwhile has been
 * applied, so the mirror equals the broker's state as of that moment
 * (usually a few ms after start).  Against a v1 broker it is a guess: the
 * first periodic thing_snapshot has been applied and no part of it came
 * for 300 ms (the original sends one every 15 s).  Before the protocol is
 * known (tb_client_stats_t.protocol 0) only the v2 end marker counts.
 * timeout_ms: -1 waits for ever, 0 only checks.  Returns TB_OK or
 * TB_ERR_TIMEOUT. */
int tb_client_wait_synced(tb_client_t *self, int timeout_ms);

/* ------------------------------------------------------------- look-ups */
/* All look-ups are thread-safe, take a short lock on the mirror, and hand
 * back copies.  ns is a namespace ("" is the root); an invalid one gives
 * TB_ERR_BAD_NS. */

/* One Thing, copied out of the mirror. */
typedef struct {
    char   *ns;                 /* NUL-terminated; "" for the root */
    char   *data;               /* compact JSON text, or NULL: no data yet */
    double  ts;                 /* seconds since 1970 UTC (0 when no data) */
    char   *documentation_url;  /* last non-empty URL given, or NULL */
} tb_thing_t;

/* Free a Thing from tb_client_get_thing; accepts NULL; nulls *thing_p. */
void tb_thing_destroy(tb_thing_t **thing_p);

/* A list of Things (subtree walks). */
typedef struct {
    size_t      count;
    tb_thing_t *items;          /* count items; each item's strings owned */
} tb_thing_list_t;

/* Free a list and every item; accepts NULL; nulls *list_p. */
void tb_thing_list_destroy(tb_thing_list_t **list_p);

/* The data of Thing ns as compact JSON text (*data_json, NUL-terminated,
 * free() it) and its age in seconds (now - ts; may be negative when the
 * sender's clock is ahead).  age may be NULL.  Returns TB_OK,
 * TB_ERR_NO_DATA (unknown Thing, or one that never had data), TB_ERR_BAD_NS,
 * TB_ERR_NOMEM. */
int tb_client_get_data(tb_client_t *self, const char *ns, char **data_json,
                       double *age);

/* As tb_client_get_data, but the data as a new json_t the caller owns
 * (json_decref it). */
int tb_client_get_json(tb_client_t *self, const char *ns, json_t **data,
                       double *age);

/* Everything the mirror knows about Thing ns.  As in the original, every
 * valid namespace names a Thing: an unknown or intermediate one comes back
 * with data == NULL.  Free with tb_thing_destroy.  Returns TB_OK,
 * TB_ERR_BAD_NS, TB_ERR_NOMEM. */
int tb_client_get_thing(tb_client_t *self, const char *ns, tb_thing_t **thing);

/* The children of Thing ns (full namespaces, sorted), as a NULL-terminated
 * array; *count (may be NULL) gets their number.  Free with
 * tb_client_strv_free.  An unknown Thing has no children (TB_OK, count 0). */
int tb_client_children(tb_client_t *self, const char *ns, char ***children,
                       size_t *count);

/* Free an array from tb_client_children; accepts NULL; nulls *strv_p. */
void tb_client_strv_free(char ***strv_p);

/* Copy Thing ns and every Thing below it, parents before children,
 * siblings sorted by name, intermediate Things included (data NULL).
 * Free with tb_thing_list_destroy.  An unknown Thing gives an empty list. */
int tb_client_subtree(tb_client_t *self, const char *ns, tb_thing_list_t **list);

/* Called once per Thing by tb_client_walk; thing is valid only during the
 * call.  Return 0 to go on, anything else to stop the walk. */
typedef int (tb_client_walk_fn)(const tb_thing_t *thing, void *arg);

/* tb_client_subtree, then fn for each Thing in that order on the caller's
 * thread, with no lock held (fn may call any tb_client_* function).
 * Returns TB_OK, the error of tb_client_subtree, or fn's non-zero value. */
int tb_client_walk(tb_client_t *self, const char *ns, tb_client_walk_fn *fn,
                   void *arg);

/* ---------------------------------------------------------------- events */

/* One event, as delivered to one subscription. */
typedef struct {
    int         subscription;      /* id from tb_client_subscribe */
    const char *ns;                /* the Thing the event is about ("" root) */
    double      ts;                /* its timestamp, seconds since 1970 UTC */
    unsigned    flags;             /* TB_F_SNAPSHOT: from a thing_snapshot;
                                      TB_F_TREE: about a descendant of the
                                      subscribed Thing */
    const char *data;              /* compact JSON text */
    const char *documentation_url; /* the Thing's URL, or NULL */
    uint64_t    dropped_before;    /* pull API: events dropped (queue full)
                                      since the previous tb_client_recv */
    uint64_t    losses;            /* losses detected by the client so far
                                      (protocol v2; see TB_F_LOSS) */
} tb_event_t;

/* A copy of an event (one allocation); NULL on OOM.  Free with
 * tb_event_destroy. */
tb_event_t *tb_event_dup(const tb_event_t *event);

/* Free an event from tb_client_recv or tb_event_dup; accepts NULL; nulls
 * *event_p. */
void tb_event_destroy(tb_event_t **event_p);

/* Callback for a subscription.  IT RUNS ON THE CLIENT'S BACKGROUND THREAD,
 * in message order, one event at a time.  event is valid only during the
 * call (tb_event_dup keeps it).  Inside a callback you may call the
 * look-ups, tb_client_stats, tb_client_subscribe and tb_client_unsubscribe;
 * you must not call tb_client_destroy, nor block for long: while it runs
 * the client reads no messages (ZeroMQ buffers them, then drops). */
typedef void (tb_client_event_fn)(const tb_event_t *event, void *arg);

/* Subscribe to Thing ns ("" = root) with flags (TB_F_NONE, TB_F_SNAPSHOT,
 * TB_F_TREE, TB_F_PURGE; TB_F_LOSS is accepted and ignored).  callback NULL:
 * events go to the pull queue (tb_client_recv); else callback(event, arg)
 * on the background thread.  The Thing need not exist yet.
 * Returns a subscription id (> 0), or TB_ERR_BAD_NS / TB_ERR_INVALID_ARG
 * (unknown flag bits) / TB_ERR_NOMEM. */
int tb_client_subscribe(tb_client_t *self, const char *ns, unsigned flags,
                        tb_client_event_fn *callback, void *arg);

/* End a subscription.  When this returns, its callback is not running and
 * will not be called again (unless called from inside a callback, where the
 * current call of course continues); events already queued for the pull API
 * stay queued.  Returns TB_OK or TB_ERR_INVALID_ARG (unknown id). */
int tb_client_unsubscribe(tb_client_t *self, int subscription);

/* Take the next queued event.  timeout_ms: -1 waits for ever, 0 does not
 * wait.  Returns TB_OK with *event (free with tb_event_destroy) or
 * TB_ERR_TIMEOUT (nothing queued in time). */
int tb_client_recv(tb_client_t *self, tb_event_t **event, int timeout_ms);

/* A file descriptor that polls readable (POLLIN) while events are queued
 * for tb_client_recv, for poll/epoll/select loops.  Do not read, write or
 * close it; after it polls readable, call tb_client_recv(self, &ev, 0) until
 * it returns TB_ERR_TIMEOUT.  Valid until tb_client_destroy. */
int tb_client_fd(tb_client_t *self);

/* ----------------------------------------------------------------- stats */

typedef struct {
    uint64_t messages;        /* ZeroMQ messages received from the broker */
    uint64_t updates;         /* thing_update messages applied */
    uint64_t snapshots;       /* thing_snapshot messages applied */
    uint64_t snapshot_entries;/* Things applied from snapshots */
    uint64_t malformed;       /* messages or snapshot entries skipped as
                                 malformed (all reasons but unknown_type) */
    uint64_t ignored;         /* messages of unknown type skipped */
    uint64_t rejected[TB_CLIENT_REJECT_COUNT]; /* per reason */
    uint64_t events_delivered;/* to callbacks and into the pull queue */
    uint64_t events_dropped;  /* pull queue full: oldest dropped */
    uint64_t events_queued;   /* waiting in the pull queue now */
    uint64_t things;          /* Things in the mirror (intermediate included) */
    uint64_t connects;        /* TCP connections made to the broker */
    uint64_t disconnects;     /* connections lost */
    uint64_t resolutions;     /* successful SRV lookups (zone mode) */
    bool     connected;       /* connected to the broker right now */
    bool     synced;          /* a whole directory has been received */
    /* --- added with protocol v2 --- */
    int      protocol;        /* 0 still probing, 1 (v1) or 2 (v2) */
    uint64_t losses;          /* sequence gaps detected (updates lost between
                                 broker and client); each triggered a resync */
    uint64_t resyncs;         /* snapshots requested after the first one
                                 (loss, broker restart, broker back) */
    uint64_t purges;          /* Things removed: purged by the broker or found
                                 gone by a resync */
    uint64_t broker_deaths;   /* v2 broker silent for 3 heartbeat intervals */
    uint64_t broker_restarts; /* v2 broker's epoch changed */
    uint64_t queries;         /* GET requests sent to the snapshot service */
} tb_client_stats_t;

/* Fill *stats (a consistent-enough copy; counters only grow).
 * Returns TB_OK or TB_ERR_INVALID_ARG. */
int tb_client_stats(tb_client_t *self, tb_client_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
