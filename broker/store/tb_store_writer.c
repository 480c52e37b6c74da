/*
 * tb_store_writer.c - the writer thread: the only code that waits for the
 * disk.
 *
 * Why this exists: fsync can take tens of milliseconds (seconds on a busy SD
 * card), and the broker's loop must never wait for it.  The loop hands over
 * sealed buffers (jobs); this thread appends them to the current state file
 * and commits a whole batch with one fdatasync (group commit), and builds
 * the new file of a compaction/rewrite pass: BEGIN creates "<path>.tmp",
 * SLICE and GROUP jobs append to it in the loop's order, FINISH fdatasyncs
 * it, renames it over <path> and fsyncs the directory.  It reports back only
 * through counters under the mutex; it never calls into the broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tb_store_int.h"
#include "tb_time.h"

int tb_store_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tb_store_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int tb_store_mkdirs(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return n ? -ENAMETOOLONG : 0;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        tmp[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

void tb_store_set_error(tb_store_t *self, int err, const char *what, const char *path)
{
    snprintf(self->last_error, sizeof self->last_error, "%s %s: %s", what, path,
             strerror(err < 0 ? -err : err));
    self->last_error_ms = tb_time_mono_ms();
    if (!self->last_error_ms)
        self->last_error_ms = 1;
    self->write_errors++;
}

/* Called without mu: counters are updated under it. */
static void report(tb_store_t *self, int err, const char *what, const char *path)
{
    pthread_mutex_lock(&self->mu);
    tb_store_set_error(self, err, what, path);
    pthread_mutex_unlock(&self->mu);
}

static void count(tb_store_t *self, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&self->mu);
    *field += n;
    pthread_mutex_unlock(&self->mu);
}

static void cur_failed(tb_store_t *self, int err, const char *what)
{
    report(self, err, what, self->path);
    if (self->cur_fd >= 0)
        close(self->cur_fd);
    self->cur_fd = -1;
    pthread_mutex_lock(&self->mu);
    self->w_healthy = false;
    pthread_mutex_unlock(&self->mu);
}

static void tmp_failed(tb_store_t *self, int err, const char *what)
{
    report(self, err, what, self->tmp_path);
    self->tmp_failed = true;
}

static void tmp_discard(tb_store_t *self)
{
    if (self->tmp_fd >= 0) {
        close(self->tmp_fd);
        unlink(self->tmp_path);
    }
    self->tmp_fd = -1;
}

static void to_tmp(tb_store_t *self, const void *buf, size_t len)
{
    if (self->tmp_fd < 0 || self->tmp_failed)
        return;
    int rc = tb_store_write_all(self->tmp_fd, buf, len);
    if (rc < 0)
        tmp_failed(self, rc, "write");
    else
        count(self, &self->bytes_written, len);
}

static void do_begin(tb_store_t *self, uint64_t base_seq)
{
    tmp_discard(self);
    self->tmp_failed = false;
    int rc = tb_store_mkdirs(self->dir_path);
    if (rc < 0) {
        tmp_failed(self, rc, "create directory");
        return;
    }
    self->tmp_fd = open(self->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (self->tmp_fd < 0) {
        tmp_failed(self, -errno, "create");
        return;
    }
    unsigned char hdr[TB_STORE_HEADER_LEN];
    tb_store_encode_header(hdr, base_seq, (uint64_t)time(NULL));
    to_tmp(self, hdr, sizeof hdr);
}

/* The last step of a pass: make the new file durable, then atomically
 * replace the old one, then make the rename durable. */
static void do_finish(tb_store_t *self, const store_job_t *job)
{
    bool ok = false;
    if (!(job->flags & JOB_ABORT) && self->tmp_fd >= 0 && !self->tmp_failed) {
        unsigned char seqrec[TB_STORE_FRAME_LEN + TB_STORE_SEQ_LEN];
        size_t n = tb_store_encode_seq(seqrec, job->seq);
        to_tmp(self, seqrec, n);
        if (!self->tmp_failed) {
            if (fdatasync(self->tmp_fd) < 0)
                tmp_failed(self, -errno, "fdatasync");
            count(self, &self->fsyncs, 1);
        }
        char aside[sizeof self->aside_path];
        pthread_mutex_lock(&self->mu);
        memcpy(aside, self->aside_path, sizeof aside);
        pthread_mutex_unlock(&self->mu);
        if (!self->tmp_failed && aside[0]) {
            /* A damaged file we could not move at start-up: keep it now. */
            if (rename(self->path, aside) < 0 && errno != ENOENT)
                tmp_failed(self, -errno, "rename damaged file");
            else {
                pthread_mutex_lock(&self->mu);
                self->aside_path[0] = '\0';
                pthread_mutex_unlock(&self->mu);
            }
        }
        if (!self->tmp_failed && rename(self->tmp_path, self->path) < 0)
            tmp_failed(self, -errno, "rename to");
        if (!self->tmp_failed) {
            int rc = tb_store_fsync_dir(self->dir_path);
            count(self, &self->fsyncs, 1);
            if (rc < 0)
                tmp_failed(self, rc, "fsync directory of");
            ok = true;  /* the rename happened: the new file is the current one */
        }
    }
    if (!ok) {
        tmp_discard(self);
        pthread_mutex_lock(&self->mu);
        self->w_failed++;
        pthread_mutex_unlock(&self->mu);
        return;
    }
    struct stat st;
    uint64_t size = fstat(self->tmp_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (self->cur_fd >= 0)
        close(self->cur_fd);
    self->cur_fd = self->tmp_fd;
    self->tmp_fd = -1;
    /* O_APPEND was not set at creation; the offset is at the end already. */
    pthread_mutex_lock(&self->mu);
    self->w_healthy = !self->tmp_failed;
    self->w_new_size = size;
    self->w_done++;
    pthread_mutex_unlock(&self->mu);
    if (self->tmp_failed) {
        /* Directory fsync failed: the file is fine but its name may not
         * survive a power cut; treat it as unhealthy so a rewrite follows. */
        close(self->cur_fd);
        self->cur_fd = -1;
    }
    self->tmp_failed = false;
}

/* Commit what was appended to the current file. */
static void sync_cur(tb_store_t *self, bool *wrote_cur, uint64_t *oldest)
{
    if (*wrote_cur && self->cur_fd >= 0) {
        int rc = fdatasync(self->cur_fd) < 0 ? -errno : 0;
        count(self, &self->fsyncs, 1);
        if (rc < 0)
            cur_failed(self, rc, "fdatasync");  /* never retried on the same file */
        else if (*oldest) {
            uint64_t now = tb_time_mono_ms();
            pthread_mutex_lock(&self->mu);
            if (now > *oldest && now - *oldest > self->max_commit_ms)
                self->max_commit_ms = now - *oldest;
            pthread_mutex_unlock(&self->mu);
        }
    }
    *wrote_cur = false;
    *oldest = 0;
}

static void run_batch(tb_store_t *self, store_job_t *jobs)
{
    bool wrote_cur = false;
    uint64_t oldest = 0, groups = 0;
    size_t done_bytes = 0;
    while (jobs) {
        store_job_t *job = jobs;
        jobs = job->next;
        /* Compaction writes can be large: do not let groups already
         * appended wait behind them for more than a quarter window. */
        if (job->kind != JOB_GROUP && wrote_cur && oldest &&
            tb_time_mono_ms() >= oldest + self->cfg.commit_window_ms / 4)
            sync_cur(self, &wrote_cur, &oldest);
        switch (job->kind) {
        case JOB_GROUP:
            groups++;
            if ((job->flags & JOB_TO_CUR) && self->cur_fd >= 0) {
                int rc = tb_store_write_all(self->cur_fd, job->data, job->len);
                if (rc < 0)
                    cur_failed(self, rc, "write");
                else {
                    count(self, &self->bytes_written, job->len);
                    wrote_cur = true;
                    if (!oldest || job->oldest_ms < oldest)
                        oldest = job->oldest_ms;
                }
            }
            if (job->flags & JOB_TO_TMP)
                to_tmp(self, job->data, job->len);
            break;
        case JOB_SLICE:
            to_tmp(self, job->data, job->len);
            break;
        case JOB_BEGIN:
            do_begin(self, job->seq);
            break;
        case JOB_FINISH:
            do_finish(self, job);
            if (!(job->flags & JOB_ABORT)) {
                wrote_cur = false;  /* the new file was fdatasync'ed as a whole */
                oldest = 0;
            }
            break;
        }
        done_bytes += job->len;
        if (job->kind == JOB_GROUP && job->cap) {
            /* Hand the buffer back: the loop reuses it instead of faulting
             * in fresh pages for every group. */
            pthread_mutex_lock(&self->mu);
            if (!self->spare) {
                self->spare = job->data;
                self->spare_cap = job->cap;
                job->data = NULL;
            }
            pthread_mutex_unlock(&self->mu);
        }
        free(job->data);
        free(job);
    }
    sync_cur(self, &wrote_cur, &oldest);
    pthread_mutex_lock(&self->mu);
    self->groups_written += groups;
    self->pending_bytes -= done_bytes;
    pthread_mutex_unlock(&self->mu);
}

void *tb_store_writer_main(void *arg)
{
    tb_store_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (!self->head && !self->stop)
            pthread_cond_wait(&self->cv, &self->mu);
        if (!self->head)
            break;
        store_job_t *jobs = self->head;
        self->head = self->tail = NULL;
        self->busy = true;
        pthread_mutex_unlock(&self->mu);
        run_batch(self, jobs);
        pthread_mutex_lock(&self->mu);
        self->busy = false;
        pthread_cond_broadcast(&self->idle_cv);
    }
    pthread_mutex_unlock(&self->mu);
    tmp_discard(self);
    return NULL;
}
