/*
 * broker.h - the state of one running thingsbusd, shared by its parts.
 *
 * Why this exists: the daemon is split into small files (inputs, handler,
 * directory, publisher, snapshots, stats, loop), all driven by one event
 * loop on one thread.  This struct is what they share; only the loop
 * (loop.c) decides when each part runs, so nothing here is locked.
 */
#ifndef BROKER_H
#define BROKER_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "config.h"
#include "directory.h"
#include "stats.h"
#include "tb_buf.h"
#include "tb_log.h"
#include "tb_proto.h"

#define BROKER_MAX_UDP_SOCKETS 2

typedef struct snapshot_t snapshot_t;
typedef struct udp_input_t udp_input_t;
typedef struct tb_store_t tb_store_t;
typedef struct tb_v2srv_t tb_v2srv_t;
typedef struct tb_v2_dirview_t tb_v2_dirview_t;

typedef struct {
    broker_config_t *cfg;
    tb_log_t        *log;
    void            *zctx;
    void            *pub;          /* directory PUB (v1 updates and snapshots) */
    void            *pull;         /* PULL input */
    void            *legacy_sub;   /* SUB input for original adaptors, or NULL */
    udp_input_t     *udp;          /* UDP input, or NULL */
    tb_decoder_t    *decoder;      /* reused for every message */
    tb_buf_t         out;          /* reused for every outgoing update */
    tb_directory_t  *dir;
    uint64_t         seq;          /* last sequence number given out (0 = none yet) */
    snapshot_t      *snapshot;
    tb_store_t      *store;        /* persistence, or NULL when off */
    uint64_t         store_error_ms;   /* last store error already logged */
    uint64_t         store_logged_ms;  /* when a store error was last logged */
    bool             store_unhealthy;  /* an error was logged; recovery not yet */
    uint64_t         store_next_watch; /* next check of the store's health (mono ms) */
    tb_v2_dirview_t *v2view;       /* protocol v2: the directory seen by the engine */
    tb_v2srv_t      *v2;           /* snapshot service + filtered PUB, or NULL (--no-v2) */
    uint64_t         purge_cursor;     /* dense index of the purge sweep */
    bool             purge_active;     /* a sweep is under way */
    uint64_t         purge_next_ms;    /* next sweep (mono ms) */
    uint64_t         purged;           /* Things purged since start */
    uint64_t         purge_unpublished; /* purges the filtered PUB could not carry */
    broker_stats_t   stats;
} broker_t;

/* Where a message came from, for counters and rejection logs.  Only one of
 * zmq_msg / peer is set; the text is built only when a line is logged. */
typedef struct {
    broker_input_t         input;
    void                  *zmq_msg;     /* zmq_msg_t * of a ZeroMQ input */
    const struct sockaddr *peer;        /* UDP sender */
} broker_source_t;

/* handle_update.c: decode one thing_update (JSON from ZeroMQ, msgpack from
 * UDP) and, if valid, store and republish it.  Never fails loudly: every
 * rejection is counted by reason and logged (rate-limited) when verbose. */
void handle_update(broker_t *b, const broker_source_t *src, const void *bytes,
                   size_t len, bool msgpack);

/* handle_update.c: count and log a rejection decided outside the codec
 * (too large, multi-frame).  detail may be NULL. */
void broker_reject(broker_t *b, const broker_source_t *src, int reason,
                   const char *detail);

/* publish.c: send bytes as one frame on the PUB; false (counted in
 * publish_errors) when the send failed. */
bool publish_bytes(broker_t *b, const char *bytes, size_t len);

/* publish.c: encode and send the normalized v1 thing_update (with "seq"). */
void publish_update(broker_t *b, const tb_thing_t *thing, const tb_update_t *upd,
                    const char *ts_json, size_t ts_len, uint64_t seq);

/* snapshot.c: the sliced v1 periodic snapshot. */
snapshot_t *snapshot_new(void);
void snapshot_destroy(snapshot_t **self_p);
/* Begin a round now unless one is under way. */
void snapshot_start(broker_t *b, double now);
/* true while a round is being built. */
bool snapshot_active(const broker_t *b);
/* Build (and send) one slice of the current round: a bounded amount of
 * work, so input is read again between slices. */
void snapshot_step(broker_t *b);

/* input_zmq.c: bind the ZeroMQ sockets (PUB, PULL, legacy SUB). */
int zmq_sockets_open(broker_t *b);
void zmq_sockets_close(broker_t *b);
/* Read up to a batch of messages from an input socket without waiting. */
void zmq_input_drain(broker_t *b, void *socket, broker_input_t input);

/* input_udp.c */
int udp_input_open(broker_t *b);
void udp_input_close(broker_t *b);
int udp_input_fds(const broker_t *b, int fds[BROKER_MAX_UDP_SOCKETS]);
void udp_input_drain(broker_t *b, int fd);

/* persist.c: the state file (tb_store.h) seen from the broker.
 * persist_open: load the state into the directory and start the writer;
 *   before binding.  Returns 0, or -1 when the broker must not run (another
 *   broker holds the state file, out of memory); logs either way.
 * persist_put: save the Thing's current value (after an accepted update).
 * persist_tick: drive the store; returns the poll timeout it needs
 *   (-1 none, 0 now, n ms).  Also logs disk errors, once per retry interval.
 * persist_close: clean stop (writes and syncs everything); logs failures.
 * persist_stats_log: the "stats: store ..." line. */
int persist_open(broker_t *b);
void persist_put(broker_t *b, const tb_thing_t *thing);
long persist_tick(broker_t *b, uint64_t now_ms);
void persist_close(broker_t *b);
void persist_stats_log(broker_t *b);

/* v2_service.c: protocol v2 (proto/PROTOCOL.md, part 2) inside the broker.
 * v2_open: bind the snapshot service and the filtered PUB (after the state
 *   was restored, so numbering continues); 0, or -1 logged (bind failure
 *   names the endpoint).  Does nothing with --no-v2.
 * v2_publish_update: after an accepted update (v1 PUB first).
 * v2_work: one bounded turn of v2 work (subscriptions and requests when
 *   their socket polled readable, a slice of the snapshot streams, a slice
 *   of the purge sweep, heartbeats);
 *   returns the poll timeout it needs (-1 none, 0 now, n ms).
 * v2_stats_log: the "stats: v2 ..." lines.  v2_close: before the context. */
int v2_open(broker_t *b);
void v2_close(broker_t *b);
void v2_publish_update(broker_t *b, const tb_thing_t *thing, const tb_update_t *upd);
long v2_work(broker_t *b, uint64_t now_ms, bool router_ready, bool xpub_ready);
void v2_stats_log(broker_t *b);

/* loop.c: all the counters (SIGUSR1, shutdown). */
void broker_log_stats(broker_t *b);

/* loop.c: catch SIGINT/SIGTERM/SIGUSR1 (handlers only note the signal and
 * wake the loop); install before binding so a stop request is never lost.
 * Returns 0 or -1 (errno set). */
int broker_signals_install(void);
void broker_signals_remove(void);

/* loop.c: run until SIGINT/SIGTERM; returns the exit status. */
int broker_loop_run(broker_t *b);

#endif
