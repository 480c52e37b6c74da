/*
 * persist.c - the broker's side of the state file (libtbstore, tb_store.h).
 *
 * Why this exists: users expect the directory to survive a restart, a
 * crash and a power cut, and they expect the broker never to slow a sensor
 * down for it.  The store does the disk work on its own thread; this file
 * is the glue: it loads the saved Things into the directory at start-up
 * (exactly: data, ts literal, sticky documentation URL, receive time,
 * update count, and the sequence number so seq never goes back), hands
 * every accepted update to the store (a memcpy), drives the store from the
 * loop, walks the directory for compaction, and says in the log what was
 * restored, what was damaged, and when the disk fails or recovers.
 */
#include "broker.h"
#include <stdio.h>
#include <string.h>
#include "tb_ns.h"
#include "store/tb_store.h"
#include "tb_time.h"

/* A saved Thing back into the directory.  A record the directory cannot
 * take (a name this version refuses, lengths it cannot hold) is refused:
 * the store counts it and drops it at the next compaction. */
static int
load_thing(void *ctx, const tb_store_record_t *rec)
{
    broker_t *b = ctx;
    if (!tb_ns_valid(rec->ns, rec->ns_len) || rec->data_len == 0 || rec->ts_len == 0
        || rec->ts_len > UINT8_MAX)
        return 1;
    tb_thing_t *t = tb_directory_get(b->dir, rec->ns, rec->ns_len);
    if (!t)
        return 1;
    if (tb_directory_restore(b->dir, t, rec->data, rec->data_len, rec->ts, rec->ts_len,
                             rec->doc_url, rec->doc_url ? rec->doc_url_len : 0,
                             rec->recv_time, rec->seq, rec->update_count) != 0)
        return 1;
    if (rec->seq > b->seq)
        b->seq = rec->seq;
    return 0;
}

static void
fill_record(const broker_t *b, const tb_thing_t *t, tb_store_record_t *rec)
{
    size_t doc_len = 0;
    const char *doc = tb_directory_doc_url(b->dir, t, &doc_len);
    *rec = (tb_store_record_t){
        .ns = t->ns, .ns_len = t->ns_len,
        .data = tb_thing_data(t), .data_len = t->data_len,
        .ts = tb_thing_ts_json(t), .ts_len = t->ts_len,
        .doc_url = doc, .doc_url_len = doc_len,
        .recv_time = t->received, .update_count = t->updates, .seq = t->seq,
    };
}

/* The compaction iterator.  cursor[0] is an index into the directory's
 * dense array: Things never move and new ones are appended, so the index
 * stays meaningful across the updates applied between slices. */
static int
next_live_thing(void *ctx, uint64_t cursor[2], tb_store_record_t *out)
{
    broker_t *b = ctx;
    size_t count = tb_directory_count(b->dir);
    while (cursor[0] < count) {
        const tb_thing_t *t = tb_directory_at(b->dir, (uint32_t)cursor[0]++);
        if (t && t->value) {
            fill_record(b, t, out);
            return 1;
        }
    }
    return 0;
}

int
persist_open(broker_t *b)
{
    const broker_config_t *cfg = b->cfg;
    if (cfg->no_persistence || !cfg->state_file || !cfg->state_file[0]) {
        tb_log(b->log, TB_LOG_INFO, "state: persistence off (the directory lives in memory only)");
        return 0;
    }
    tb_store_config_t sc;
    tb_store_config_defaults(&sc);
    sc.path = cfg->state_file;
    sc.commit_window_ms = (unsigned)cfg->commit_window_ms;
    sc.compact_ratio = cfg->compact_ratio;
    sc.compact_min_bytes = cfg->compact_min;
    sc.retry_ms = (unsigned)cfg->state_retry_ms;
    sc.live_next = next_live_thing;
    sc.live_ctx = b;
    static tb_store_report_t report;        /* large (paths); start-up only */
    memset(&report, 0, sizeof report);
    b->store = tb_store_new(&sc, load_thing, b, &report);
    if (!b->store) {
        tb_log(b->log, TB_LOG_ERROR, "state file %s: %s", cfg->state_file,
               report.error[0] ? report.error : "cannot open");
        return -1;
    }
    if (report.last_seq > b->seq)
        b->seq = report.last_seq;
    tb_log(b->log, TB_LOG_INFO,
           "state: %llu Things from %s in %.3f s (%llu refused, %llu records read, "
           "%llu bytes, seq %llu)",
           (unsigned long long)report.things_loaded, cfg->state_file, report.load_seconds,
           (unsigned long long)report.things_rejected, (unsigned long long)report.records_read,
           (unsigned long long)report.file_bytes, (unsigned long long)b->seq);
    if (report.damaged)
        tb_log(b->log, TB_LOG_WARN,
               "state: %s was damaged: skipped %llu damaged regions (%llu bytes), "
               "recovered every intact record; the damaged file is kept as %s",
               cfg->state_file, (unsigned long long)report.regions_skipped,
               (unsigned long long)report.bytes_skipped,
               report.damaged_path[0] ? report.damaged_path : "(could not be kept)");
    if (report.error[0])
        tb_log(b->log, TB_LOG_WARN, "state: %s", report.error);
    return 0;
}

void
persist_put(broker_t *b, const tb_thing_t *thing)
{
    if (!b->store)
        return;
    tb_store_record_t rec;
    fill_record(b, thing, &rec);
    if (tb_store_put(b->store, &rec) == TB_ERR_TOO_LARGE)
        b->stats.store_too_large++;
}

/* Disk errors are logged once per retry interval (each retry that fails
 * sets a new last_error_ms), and the recovery once. */
static void
watch_health(broker_t *b, uint64_t now_ms)
{
    tb_store_stats_t st;
    tb_store_stats(b->store, &st);
    if (st.last_error_ms && st.last_error_ms != b->store_error_ms
        && (!b->store_logged_ms || now_ms - b->store_logged_ms >= (uint64_t)b->cfg->state_retry_ms)) {
        b->store_error_ms = st.last_error_ms;
        b->store_logged_ms = now_ms;
        b->store_unhealthy = true;
        tb_log(b->log, TB_LOG_WARN,
               "state: %s (still serving; the directory is kept in memory and written "
               "again when the disk allows; retrying every %lld ms)",
               st.last_error, b->cfg->state_retry_ms);
    }
    else if (b->store_unhealthy && st.healthy) {
        b->store_unhealthy = false;
        tb_log(b->log, TB_LOG_INFO, "state: %s is being written again", b->cfg->state_file);
    }
}

long
persist_tick(broker_t *b, uint64_t now_ms)
{
    if (!b->store)
        return -1;
    int t = tb_store_tick(b->store, now_ms);
    if (now_ms >= b->store_next_watch) {
        watch_health(b, now_ms);
        b->store_next_watch = now_ms + 1000;
    }
    /* Idle and healthy: no wake-up at all.  While writing or failing, the
     * loop comes back at least every second to see errors and recovery. */
    long until_watch = (long)(b->store_next_watch - now_ms);
    if (t < 0)
        return b->store_unhealthy ? until_watch : -1;
    return t < until_watch ? t : until_watch;
}

void
persist_close(broker_t *b)
{
    if (!b->store)
        return;
    int rc = tb_store_close(b->store);
    tb_store_stats_t st;
    tb_store_stats(b->store, &st);
    if (rc != 0)
        tb_log(b->log, TB_LOG_ERROR, "state: could not save the directory to %s: %s",
               b->cfg->state_file, st.last_error[0] ? st.last_error : tb_store_strerror(rc));
    else
        tb_log(b->log, TB_LOG_INFO, "state: saved to %s (seq %llu)", b->cfg->state_file,
               (unsigned long long)b->seq);
}

void
persist_stats_log(broker_t *b)
{
    if (!b->store) {
        tb_log(b->log, TB_LOG_INFO, "stats: store enabled=0");
        return;
    }
    tb_store_stats_t st;
    tb_store_stats(b->store, &st);
    tb_log(b->log, TB_LOG_INFO,
           "stats: store enabled=%d healthy=%d compacting=%d records_put=%llu "
           "records_unsaved=%llu too_large=%llu bytes_written=%llu groups_written=%llu "
           "fsyncs=%llu write_errors=%llu compactions=%llu compactions_failed=%llu "
           "file_bytes=%llu pending_bytes=%llu max_commit_ms=%llu last_seq=%llu",
           st.enabled, st.healthy, st.compacting, (unsigned long long)st.records_put,
           (unsigned long long)st.records_unsaved, (unsigned long long)b->stats.store_too_large,
           (unsigned long long)st.bytes_written, (unsigned long long)st.groups_written,
           (unsigned long long)st.fsyncs, (unsigned long long)st.write_errors,
           (unsigned long long)st.compactions, (unsigned long long)st.compactions_failed,
           (unsigned long long)st.file_bytes, (unsigned long long)st.pending_bytes,
           (unsigned long long)st.max_commit_ms, (unsigned long long)st.last_seq);
    if (st.last_error[0])
        tb_log(b->log, TB_LOG_INFO, "state: last error: %s%s", st.last_error,
               st.healthy ? " (recovered since)" : "");
}
