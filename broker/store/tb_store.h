/*
 * tb_store.h - the persistence engine for the broker's directory (internal).
 *
 * Why this exists: a directory server that forgets everything on restart is
 * the first complaint against retained-message brokers.  This library keeps
 * the latest value of every Thing in a state file so that a clean stop, a
 * crash (kill -9) or a power cut loses at most the last commit window, while
 * the broker's event loop never waits for the disk.
 *
 * How it is split between threads:
 *  - The loop thread (the broker's single event-loop owner) calls every
 *    function here.  tb_store_put() only copies the record into an
 *    in-memory group buffer; no blocking system call, no fsync.
 *  - A private writer thread, started by tb_store_new(), writes sealed groups
 *    and calls fdatasync().  It touches only its own buffers and file
 *    descriptors; it never calls back into the broker, and it blocks every
 *    signal (so signals reach the loop thread).  The loop learns what the
 *    writer did in tb_store_tick() (under a short, uncontended mutex).
 *
 * Durability contract (what is fsynced when):
 *  - A group is sealed when its oldest record is commit_window_ms/2 old (or
 *    it reaches group_bytes).  The writer appends every sealed group it has
 *    (one write(2) each), then calls fdatasync(2) once for all of them (group
 *    commit).  While a compaction is being written, appended groups are
 *    fdatasync'ed before any compaction write once they are a quarter window
 *    old.  A record is thus on stable storage within the commit window
 *    provided one write+fdatasync takes less than half the window (and the
 *    loop calls tb_store_tick() when asked); stats.max_commit_ms shows the
 *    worst put-to-fdatasync delay seen.
 *  - A new state file (first start, compaction, recovery after damage or a
 *    disk error) is written as "<path>.tmp", fdatasync'ed, renamed over
 *    <path>, and then the directory is fsync'ed, so at every instant <path>
 *    is either the complete old file or the complete new one.
 *  - tb_store_close() writes everything pending and fdatasyncs it.
 *
 * Faults are never fatal: a missing directory is created; a damaged file is
 * recovered record by record, kept aside as "<path>.damaged-<UTC time>" and
 * replaced by a fresh file; a write or fsync error (disk full, read-only,
 * I/O error) stops use of the current file, keeps the state in the broker's
 * memory, reports the error (stats), and every retry_ms tries to rewrite a
 * complete new file from the broker's live directory (through the
 * live_next iterator).  The store holds at most max_pending_bytes of unsaved
 * groups: beyond that it drops them and schedules the same full rewrite.
 */
#ifndef TB_STORE_H
#define TB_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "thingsbus_errors.h"   /* the TB_ERR_* codes returned here */

typedef struct tb_store_t tb_store_t;

/* One Thing as the broker holds it.  All pointers are borrowed: the store
 * copies what it needs before returning.  Text fields are not
 * NUL-terminated (lengths are explicit). */
typedef struct {
    const char *ns;        size_t ns_len;      /* namespace, "" is the root */
    const char *data;      size_t data_len;    /* JSON text, as published */
    const char *ts;        size_t ts_len;      /* JSON float literal, e.g. "1423351104.945" */
    const char *doc_url;   size_t doc_url_len; /* JSON string literal with its quotes,
                                                  or NULL when absent */
    double      recv_time;     /* broker receive time (wall clock s); restored bit-exact */
    uint64_t    update_count;  /* updates the Thing has received */
    uint64_t    seq;           /* per-broker sequence number of this update */
} tb_store_record_t;

/* Called by tb_store_new() once per restored Thing (deleted ones omitted),
 * in the order of their latest write, on the calling thread.  rec and its
 * text are valid only during the call.  Return 0 if the broker took it,
 * nonzero to reject it (counted in records_rejected; it will disappear from
 * the file at the next compaction). */
typedef int (*tb_store_load_fn)(void *ctx, const tb_store_record_t *rec);

/* The compaction iterator, called only from tb_store_tick() and
 * tb_store_close(), on the loop thread.  cursor starts as {0, 0} at the start
 * of each pass and belongs to the broker (e.g. a slot index and a
 * generation).  Fill *out with the next live Thing and return 1, or return 0
 * when every Thing has been visited.  A pass is spread over many ticks, with
 * updates applied in between: it must visit at least once every Thing that
 * exists from the start to the end of the pass (visiting one twice is fine;
 * Things created or deleted meanwhile need not be visited: the store also
 * keeps every put/delete made during the pass).  out's pointers must stay
 * valid until live_next is called again or tb_store_tick() returns. */
typedef int (*tb_store_iter_fn)(void *ctx, uint64_t cursor[2], tb_store_record_t *out);

typedef struct {
    const char *path;              /* state file; NULL or "" = persistence off */
    bool        read_only;         /* load only, never write (inspection tools) */
    unsigned    commit_window_ms;  /* crash-loss window (default 1000, min 2) */
    size_t      group_bytes;       /* seal a group at this size (default 1 MiB) */
    size_t      max_pending_bytes; /* unsaved backlog cap (default 64 MiB) */
    double      compact_ratio;     /* compact when file > ratio x size after the
                                      last compaction (default 2.0, min 1.1) */
    size_t      compact_min_bytes; /* ...and file > this (default 4 MiB) */
    unsigned    compact_slice;     /* Things pulled per tick (default 4096) */
    unsigned    retry_ms;          /* retry after a disk error (default 5000) */
    tb_store_iter_fn live_next;    /* NULL: no compaction, no rewrite after errors */
    void       *live_ctx;
} tb_store_config_t;

/* What tb_store_new() found in the state file. */
typedef struct {
    uint64_t things_loaded;     /* handed to the load callback and accepted */
    uint64_t things_rejected;   /* the load callback returned nonzero */
    uint64_t records_read;      /* intact records read, history included */
    uint64_t regions_skipped;   /* damaged regions skipped (usually one record each) */
    uint64_t bytes_skipped;     /* bytes in those regions */
    uint64_t last_seq;          /* highest sequence number ever persisted */
    uint64_t file_bytes;        /* size of the file that was read */
    double   load_seconds;      /* wall time spent loading */
    bool     damaged;           /* the file had damage (regions_skipped > 0 or bad header) */
    char     damaged_path[4096];/* where the damaged file was kept, "" if none */
    char     error[512];        /* a non-fatal problem at start, "" if none */
} tb_store_report_t;

typedef struct {
    bool     enabled;           /* false in disabled or read-only mode */
    bool     healthy;           /* the current file is usable, no rewrite pending */
    bool     compacting;        /* a compaction/rewrite pass is under way */
    uint64_t records_put;       /* tb_store_put/delete calls accepted */
    uint64_t records_unsaved;   /* not written to the current file: put while
                                   unhealthy, or dropped over max_pending_bytes /
                                   out of memory (still in the broker's memory; the
                                   next rewrite pass saves them) */
    uint64_t bytes_written;     /* by the writer, all files */
    uint64_t groups_written;
    uint64_t fsyncs;            /* fdatasync + fsync calls */
    uint64_t write_errors;      /* failed write/fsync/open/rename calls */
    uint64_t compactions;       /* completed compactions and rewrites */
    uint64_t compactions_failed;
    uint64_t file_bytes;        /* current state file size (estimate) */
    uint64_t pending_bytes;     /* sealed, not yet written */
    uint64_t max_commit_ms;     /* worst put-to-fdatasync delay seen */
    uint64_t last_seq;          /* highest sequence number given to the store */
    uint64_t last_error_ms;     /* monotonic ms of last_error (0 = never) */
    char     last_error[512];   /* "" if none; e.g. "write /var/lib/...: No space left on device" */
} tb_store_stats_t;

/* Fill cfg with the defaults above (path NULL: disabled). */
void tb_store_config_defaults(tb_store_config_t *cfg);

/* Open (creating the directory and the file if needed), load and start the
 * writer thread.  Blocking (start-up only): reads the whole file into memory
 * for the duration of the load (about 0.9 s for 1 000 000 Things).  load (may be NULL) receives every restored Thing before
 * this returns; report (may be NULL) says what was found.  A damaged file,
 * a missing or read-only directory or a full disk are not failures: they are
 * described in report->error / stats and handled as the header says.
 * Returns NULL only for bad arguments, out of memory, if the writer thread
 * cannot start, or if another process holds "<path>.lock" (another broker
 * on the same state file); report->error says which.  The lock is held
 * until tb_store_destroy().  The caller owns the store. */
tb_store_t *tb_store_new(const tb_store_config_t *cfg, tb_store_load_fn load,
                         void *load_ctx, tb_store_report_t *report);

/* Record the new latest value of one Thing.  Copies rec into the current
 * group; never blocks, never fsyncs.  Returns 0 (also when disabled),
 * TB_ERR_INVALID_ARG, TB_ERR_TOO_LARGE (record over 64 MiB: the file
 * forgets the Thing instead, as tb_store_delete would, so its older value
 * and its seq do not come back after a restart) or
 * TB_ERR_NOMEM (counted; the next rewrite saves it from memory). */
int tb_store_put(tb_store_t *self, const tb_store_record_t *rec);

/* Record that a Thing was removed (purged) by the update numbered seq. */
int tb_store_delete(tb_store_t *self, const char *ns, size_t ns_len, uint64_t seq);

/* Record that sequence numbers up to seq were used (for numbers that do not
 * belong to a put or delete), so they are not reused after a restart. */
void tb_store_note_seq(tb_store_t *self, uint64_t seq);

/* Drive the store from the loop: seals aged groups, hands them to the
 * writer, runs compaction slices (calling live_next), picks up the writer's
 * results and schedules retries.  now_ms: monotonic ms (tb_time_mono_ms()).
 * Returns how many ms may pass before the next call is needed: 0 = more
 * work now (call again on the next loop turn), -1 = nothing pending (call
 * after the next put).  Call it after each batch of puts as well. */
int tb_store_tick(tb_store_t *self, uint64_t now_ms);

/* Start a compaction at the next tick even if the size rule does not ask
 * for one.  Returns 0, or TB_ERR_NOT_SUPPORTED without live_next / when
 * disabled. */
int tb_store_compact(tb_store_t *self);

/* Snapshot of the counters (cheap; takes the writer mutex briefly). */
void tb_store_stats(tb_store_t *self, tb_store_stats_t *out);

/* Clean stop: finishes a pending rewrite (synchronously, calling
 * live_next) when the current file misses records, writes every pending
 * record, fdatasyncs, joins the writer.  A size compaction under way is
 * abandoned (the current file is complete; it counts in
 * compactions_failed).  Blocking: call it once, when the loop stops.  Later puts are
 * ignored.  Returns 0, or the negative code of the last failure (the text is
 * in stats.last_error). */
int tb_store_close(tb_store_t *self);

/* tb_store_close() if not done, then free everything; accepts NULL and sets
 * *self_p to NULL. */
void tb_store_destroy(tb_store_t **self_p);

/* Plain-words text for a code returned by this library; never NULL. */
const char *tb_store_strerror(int code);

#endif
