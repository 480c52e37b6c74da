/*
 * tb_store.c - the loop-thread side of the store: puts, ticks, compaction
 * passes, stats and the clean stop.
 *
 * Why this exists: everything the broker's event loop calls lives here, and
 * none of it waits for the disk: records are encoded into a group buffer,
 * sealed groups are queued for the writer thread, and a compaction or
 * recovery rewrite is fed from the broker's directory a bounded slice per
 * tick.  A pass writes, in the loop's order, the live Things pulled from the
 * iterator and every group sealed while it runs, so the last record of each
 * Thing in the new file is its latest value and nothing that arrives
 * meanwhile is lost (the same idea as Redis's AOF rewrite, without the
 * second buffer: the groups go to both files).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tb_error.h"
#include "tb_store_int.h"
#include "tb_time.h"

void tb_store_config_defaults(tb_store_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->commit_window_ms = 1000;
    cfg->group_bytes = 1u << 20;
    cfg->max_pending_bytes = 64u << 20;
    cfg->compact_ratio = 2.0;
    cfg->compact_min_bytes = 4u << 20;
    cfg->compact_slice = 4096;
    cfg->retry_ms = 5000;
}

const char *tb_store_strerror(int code)
{
    return tb_error_text(code);
}

/* ------------------------------------------------------------ jobs */

static void push_job(tb_store_t *self, store_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&self->mu);
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    self->pending_bytes += job->len;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

static store_job_t *new_job(int kind, unsigned flags, uint64_t seq)
{
    store_job_t *job = calloc(1, sizeof *job);
    if (job) {
        job->kind = kind;
        job->flags = flags;
        job->seq = seq;
    }
    return job;
}

static size_t pending(tb_store_t *self)
{
    pthread_mutex_lock(&self->mu);
    size_t n = self->pending_bytes;
    pthread_mutex_unlock(&self->mu);
    return n;
}

/* A pass cannot be trusted any more (a record was lost on its way): make
 * the writer drop the new file, and start again as soon as possible. */
static void abort_pass(tb_store_t *self, uint64_t now_ms)
{
    if (self->compacting) {
        store_job_t *job = new_job(JOB_FINISH, JOB_ABORT, self->last_seq);
        if (job) {
            push_job(self, job);
            self->finish_pending = true;
            self->finishes_pushed++;
        }
        self->compacting = false;
    }
    if (!self->pass_at_ms)
        self->pass_at_ms = now_ms ? now_ms : 1;
}

/* Hand the current group to the writer.  Over the backlog cap the group is
 * dropped instead, and a rewrite from memory is scheduled. */
static void seal(tb_store_t *self)
{
    if (!self->grp_len)
        return;
    unsigned flags = JOB_TO_CUR | (self->compacting ? JOB_TO_TMP : 0);
    store_job_t *job = NULL;
    if (pending(self) + self->grp_len <= self->cfg.max_pending_bytes)
        job = new_job(JOB_GROUP, flags, 0);
    if (!job) {
        self->records_unsaved += self->grp_records;
        self->lost_count++;
        pthread_mutex_lock(&self->mu);
        snprintf(self->last_error, sizeof self->last_error,
                 "%s: the disk does not keep up (over %zu bytes waiting): %llu updates "
                 "not written; the state will be rewritten from memory", self->path,
                 self->cfg.max_pending_bytes, (unsigned long long)self->grp_records);
        self->last_error_ms = tb_time_mono_ms();
        pthread_mutex_unlock(&self->mu);
        self->grp_records = 0;
        abort_pass(self, tb_time_mono_ms());
        self->grp_len = 0;
        self->grp_first_ms = 0;
        return;
    }
    job->oldest_ms = self->grp_first_ms;
    job->len = self->grp_len;
    job->cap = self->grp_cap;
    job->data = self->grp;  /* the writer frees or recycles it */
    self->grp = NULL;
    self->grp_cap = 0;
    self->grp_len = 0;
    self->grp_records = 0;
    self->grp_first_ms = 0;
    self->sealed_total += job->len;
    self->file_est += job->len;
    push_job(self, job);
}

/* While unhealthy and no pass is collecting records, puts are not buffered:
 * the coming rewrite reads them from the broker's memory. */
static bool buffering(const tb_store_t *self)
{
    return self->healthy || self->compacting || self->finish_pending;
}

static unsigned char *grp_room(tb_store_t *self, size_t n)
{
    if (!self->grp) {
        pthread_mutex_lock(&self->mu);
        self->grp = self->spare;
        self->grp_cap = self->spare_cap;
        self->spare = NULL;
        self->spare_cap = 0;
        pthread_mutex_unlock(&self->mu);
    }
    if (self->grp_len + n > self->grp_cap) {
        size_t cap = self->grp_cap ? self->grp_cap : 64 * 1024;
        while (cap < self->grp_len + n)
            cap *= 2;
        unsigned char *p = realloc(self->grp, cap);
        if (!p)
            return NULL;
        self->grp = p;
        self->grp_cap = cap;
    }
    if (!self->grp_len)
        self->grp_first_ms = tb_time_mono_ms();
    unsigned char *out = self->grp + self->grp_len;
    self->grp_len += n;
    self->grp_records++;
    return out;
}

static void lost_record(tb_store_t *self)
{
    /* Memory ran out: the record is still in the broker; save it by a pass. */
    self->records_unsaved++;
    self->lost_count++;
    abort_pass(self, tb_time_mono_ms());
}

int tb_store_put(tb_store_t *self, const tb_store_record_t *rec)
{
    if (!self || !rec || (!rec->ns && rec->ns_len) || (!rec->data && rec->data_len) ||
        (!rec->ts && rec->ts_len))
        return TB_ERR_INVALID_ARG;
    if (!self->enabled || self->closed)
        return TB_OK;
    size_t n = tb_store_put_size(rec);
    if (!n) {
        /* The new value cannot be saved, but the one it replaced must not
         * come back after a restart, nor may its seq be given out again:
         * the file forgets the Thing (as a purge would). */
        if (rec->ns_len <= UINT16_MAX)
            tb_store_delete(self, rec->ns, rec->ns_len, rec->seq);
        return TB_ERR_TOO_LARGE;
    }
    if (rec->seq > self->last_seq)
        self->last_seq = rec->seq;
    self->records_put++;
    if (!buffering(self)) {
        self->records_unsaved++;
        return TB_OK;
    }
    unsigned char *out = grp_room(self, n);
    if (!out) {
        lost_record(self);
        return TB_ERR_NOMEM;
    }
    tb_store_encode_put(out, rec);
    if (self->grp_len >= self->cfg.group_bytes)
        seal(self);
    return TB_OK;
}

int tb_store_delete(tb_store_t *self, const char *ns, size_t ns_len, uint64_t seq)
{
    if (!self || (!ns && ns_len) || ns_len > UINT16_MAX)
        return TB_ERR_INVALID_ARG;
    if (!self->enabled || self->closed)
        return TB_OK;
    if (seq > self->last_seq)
        self->last_seq = seq;
    self->records_put++;
    if (!buffering(self)) {
        self->records_unsaved++;
        return TB_OK;
    }
    unsigned char *out = grp_room(self, TB_STORE_FRAME_LEN + TB_STORE_DEL_HEAD + ns_len);
    if (!out) {
        lost_record(self);
        return TB_ERR_NOMEM;
    }
    tb_store_encode_del(out, ns, ns_len, seq);
    if (self->grp_len >= self->cfg.group_bytes)
        seal(self);
    return TB_OK;
}

void tb_store_note_seq(tb_store_t *self, uint64_t seq)
{
    if (!self || !self->enabled || self->closed || seq <= self->last_seq)
        return;
    self->last_seq = seq;
    if (!buffering(self))
        return;
    unsigned char *out = grp_room(self, TB_STORE_FRAME_LEN + TB_STORE_SEQ_LEN);
    if (out)
        tb_store_encode_seq(out, seq);
    else
        lost_record(self);
}

/* ------------------------------------------------------------ passes */

static void begin_pass(tb_store_t *self)
{
    seal(self);  /* records before the pass belong to the old file only */
    store_job_t *job = new_job(JOB_BEGIN, 0, self->last_seq);
    if (!job)
        return;  /* retried at the next tick: pass_at_ms stays set */
    push_job(self, job);
    self->compacting = true;
    self->cursor[0] = self->cursor[1] = 0;
    self->pass_at_ms = 0;
    self->pass_requested = false;
    self->pass_lost_mark = self->lost_count;
}

/* Pull up to max Things from the broker into one SLICE job.  Returns true
 * when the iterator said it was done. */
static bool pull_slice(tb_store_t *self, unsigned max)
{
    seal(self);  /* keep the loop's order: earlier puts before this slice */
    if (!self->compacting)
        return false;  /* seal() dropped a group and aborted the pass */
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    bool end = false;
    for (unsigned i = 0; i < max; i++) {
        tb_store_record_t rec;
        memset(&rec, 0, sizeof rec);
        if (self->cfg.live_next(self->cfg.live_ctx, self->cursor, &rec) <= 0) {
            end = true;
            break;
        }
        size_t n = tb_store_put_size(&rec);
        if (!n)
            continue;  /* cannot be stored; tb_store_put refused it as well */
        if (rec.seq > self->last_seq)
            self->last_seq = rec.seq;
        if (len + n > cap) {
            size_t ncap = cap ? cap : 256 * 1024;
            while (ncap < len + n)
                ncap *= 2;
            unsigned char *p = realloc(buf, ncap);
            if (!p) {
                free(buf);
                abort_pass(self, tb_time_mono_ms());
                return false;
            }
            buf = p;
            cap = ncap;
        }
        tb_store_encode_put(buf + len, &rec);
        len += n;
    }
    if (len) {
        store_job_t *job = new_job(JOB_SLICE, JOB_TO_TMP, 0);
        if (!job) {
            free(buf);
            abort_pass(self, tb_time_mono_ms());
            return false;
        }
        job->data = buf;
        job->len = len;
        push_job(self, job);
    } else {
        free(buf);
    }
    return end;
}

static void finish_pass(tb_store_t *self)
{
    seal(self);
    if (!self->compacting)
        return;
    store_job_t *job = new_job(JOB_FINISH, 0, self->last_seq);
    if (!job) {
        abort_pass(self, tb_time_mono_ms());
        return;
    }
    push_job(self, job);
    self->compacting = false;
    self->finish_pending = true;
    self->finishes_pushed++;
    self->finish_mark = self->sealed_total;
}

/* Read what the writer did since the last look. */
static void collect(tb_store_t *self, uint64_t now_ms)
{
    pthread_mutex_lock(&self->mu);
    uint64_t done = self->w_done, failed = self->w_failed, size = self->w_new_size;
    bool w_healthy = self->w_healthy;
    pthread_mutex_unlock(&self->mu);
    if (done != self->seen_done || failed != self->seen_failed) {
        if (done != self->seen_done) {
            self->base_size = size;
            self->lost_saved = self->pass_lost_mark;
            self->file_est = size + (self->sealed_total - self->finish_mark);
        }
        if (failed != self->seen_failed && !self->pass_at_ms)
            self->pass_at_ms = now_ms + self->cfg.retry_ms;
        self->seen_done = done;
        self->seen_failed = failed;
    }
    /* Each FINISH (or abort) job ends in exactly one of the two counters. */
    self->finish_pending = done + failed < self->finishes_pushed;
    if (self->compacting || self->finish_pending)
        return;
    if (self->healthy && !w_healthy) {
        /* The current file failed: rewrite it whole, later. */
        if (!self->pass_at_ms)
            self->pass_at_ms = now_ms + self->cfg.retry_ms;
    }
    self->healthy = w_healthy;
    if (!self->healthy && !self->pass_at_ms)
        self->pass_at_ms = now_ms + self->cfg.retry_ms;
}

int tb_store_tick(tb_store_t *self, uint64_t now_ms)
{
    if (!self || !self->enabled || self->closed)
        return -1;
    if (!now_ms)
        now_ms = 1;
    collect(self, now_ms);
    uint64_t half = self->cfg.commit_window_ms / 2;
    if (self->grp_len && now_ms >= self->grp_first_ms + half)
        seal(self);
    bool can_pass = self->cfg.live_next != NULL;
    if (can_pass && !self->compacting && !self->finish_pending) {
        bool grown = self->file_est > self->cfg.compact_min_bytes &&
                     (double)self->file_est > self->cfg.compact_ratio * (double)self->base_size;
        if (self->healthy && (grown || self->pass_requested) && !self->pass_at_ms)
            self->pass_at_ms = now_ms;
        if (self->pass_at_ms && now_ms >= self->pass_at_ms)
            begin_pass(self);
    }
    if (self->compacting) {
        /* Bounded work per tick, and never more backlog than allowed. */
        if (pending(self) < self->cfg.max_pending_bytes / 2) {
            if (pull_slice(self, self->cfg.compact_slice))
                finish_pass(self);
            return 0;
        }
        return 5;
    }
    if (self->finish_pending)
        return 5;
    long wait = -1;
    if (self->grp_len) {
        uint64_t due = self->grp_first_ms + half;
        wait = due > now_ms ? (long)(due - now_ms) : 0;
    }
    if (self->pass_at_ms && can_pass) {
        long w = self->pass_at_ms > now_ms ? (long)(self->pass_at_ms - now_ms) : 0;
        if (wait < 0 || w < wait)
            wait = w;
    }
    if (wait < 0 && pending(self))
        wait = 5;   /* keep collecting the writer's results */
    return wait > 1000000 ? 1000000 : (int)wait;
}

int tb_store_compact(tb_store_t *self)
{
    if (!self || !self->enabled || self->closed || !self->cfg.live_next)
        return TB_ERR_NOT_SUPPORTED;
    self->pass_requested = true;
    return TB_OK;
}

void tb_store_stats(tb_store_t *self, tb_store_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!self)
        return;
    out->enabled = self->enabled;
    out->healthy = self->healthy && self->lost_count == self->lost_saved;
    out->compacting = self->compacting || self->finish_pending;
    out->records_put = self->records_put;
    out->records_unsaved = self->records_unsaved;
    out->file_bytes = self->file_est;
    out->last_seq = self->last_seq;
    pthread_mutex_lock(&self->mu);
    out->bytes_written = self->bytes_written;
    out->groups_written = self->groups_written;
    out->fsyncs = self->fsyncs;
    out->write_errors = self->write_errors;
    out->compactions = self->w_done;
    out->compactions_failed = self->w_failed;
    out->pending_bytes = self->pending_bytes;
    out->max_commit_ms = self->max_commit_ms;
    out->last_error_ms = self->last_error_ms;
    memcpy(out->last_error, self->last_error, sizeof out->last_error);
    pthread_mutex_unlock(&self->mu);
}

/* ------------------------------------------------------------ stop */

static void wait_idle(tb_store_t *self, size_t below)
{
    pthread_mutex_lock(&self->mu);
    while ((self->head || self->busy) && self->pending_bytes >= below)
        pthread_cond_wait(&self->idle_cv, &self->mu);
    pthread_mutex_unlock(&self->mu);
}

/* Run a whole pass now (close only: the loop has stopped). */
static void blocking_pass(tb_store_t *self)
{
    if (!self->compacting)
        begin_pass(self);
    while (self->compacting) {
        wait_idle(self, self->cfg.max_pending_bytes / 2);
        if (pull_slice(self, self->cfg.compact_slice))
            finish_pass(self);
    }
    wait_idle(self, 1);
}

int tb_store_close(tb_store_t *self)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    if (self->closed)
        return self->close_rc;
    self->closed = true;
    if (!self->enabled) {
        if (self->cur_fd >= 0)
            close(self->cur_fd);
        self->cur_fd = -1;
        return self->close_rc = TB_OK;
    }
    uint64_t now = tb_time_mono_ms();
    collect(self, now);
    wait_idle(self, 1);
    collect(self, now);
    bool need_pass = !self->healthy || self->lost_count != self->lost_saved;
    if (self->cfg.live_next && need_pass) {
        /* The current file misses records: the state must be written whole. */
        blocking_pass(self);
    } else if (self->compacting) {
        /* A size compaction is not needed to stop: the old file is complete. */
        abort_pass(self, now);
    }
    seal(self);
    pthread_mutex_lock(&self->mu);
    self->stop = true;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    if (self->thread_started)
        pthread_join(self->thread, NULL);
    self->thread_started = false;
    self->finish_pending = false;
    collect(self, now);
    self->close_rc = self->healthy && self->lost_count == self->lost_saved ? TB_OK : TB_ERR_SYSTEM;
    if (self->cur_fd >= 0)
        close(self->cur_fd);
    self->cur_fd = -1;
    return self->close_rc;
}

void tb_store_destroy(tb_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_store_t *self = *self_p;
    tb_store_close(self);
    store_job_t *job = self->head;
    while (job) {
        store_job_t *next = job->next;
        free(job->data);
        free(job);
        job = next;
    }
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    pthread_cond_destroy(&self->idle_cv);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    free(self->grp);
    free(self->spare);
    free(self->path);
    free(self->tmp_path);
    free(self->dir_path);
    free(self);
    *self_p = NULL;
}
