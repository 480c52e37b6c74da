/*
 * tb_store_load.c - open the state file at start-up: load it, recover it,
 * and start the writer.
 *
 * Why this exists: start-up is the one moment the store may block (the loop
 * is not running yet), and the one place that must cope with whatever the
 * disk holds: nothing, a file from a clean stop, a file cut short by a
 * crash, bytes damaged by the medium, a directory that does not exist or
 * cannot be written.  The file is read whole, every intact record is
 * checked (CRC32C), the latest record of each namespace wins, and the
 * broker gets each live Thing once.  A damaged file is kept aside and
 * replaced by a fresh one holding what was recovered.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tb_error.h"
#include "tb_store_int.h"
#include "tb_time.h"

typedef struct {
    uint64_t off;       /* frame offset in the file image */
    uint32_t flen;
    uint32_t hlo;       /* low 32 bits of the namespace hash: its home slot */
    uint8_t  type;
    bool     superseded; /* a later record has the same namespace */
} entry_t;

/* Open addressing; each slot holds the entry index + 1 (low 32 bits) and the
 * high 32 bits of the namespace hash, so probing rarely touches the file
 * image, and growing never does (the entry keeps the low bits).  That is
 * what makes a million-Thing load fast: no cache miss into the file per
 * probe. */
typedef struct {
    const unsigned char *buf;
    entry_t  *ents;
    size_t    n, cap;
    uint64_t *slots;
    size_t    mask;
    uint64_t  max_seq;
    bool      oom;
} index_t;

static uint64_t ns_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;  /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* The namespace of entry e, re-read from the file image. */
static void ent_ns(const index_t *ix, const entry_t *e, const char **ns, size_t *len)
{
    const unsigned char *p = ix->buf + e->off + TB_STORE_FRAME_LEN;
    *len = tb_rd16(p + 2);
    *ns = (const char *)p + (e->type == TB_STORE_REC_PUT ? TB_STORE_PUT_HEAD : TB_STORE_DEL_HEAD);
}

static bool slots_grow(index_t *ix)
{
    size_t ncap = ix->mask ? (ix->mask + 1) * 2 : 65536;
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; ix->mask && i <= ix->mask; i++) {
        uint64_t v = ix->slots[i];
        if (!v)
            continue;
        size_t j = ix->ents[(uint32_t)v - 1].hlo & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = v;
    }
    free(ix->slots);
    ix->slots = ns;
    ix->mask = ncap - 1;
    return true;
}

static int index_record(void *ctx, int type, const tb_store_record_t *rec, size_t off, size_t flen)
{
    index_t *ix = ctx;
    if (rec->seq > ix->max_seq)
        ix->max_seq = rec->seq;
    if (type == TB_STORE_REC_SEQ)
        return 0;
    if (ix->n == ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 65536;
        entry_t *ne = ncap < UINT32_MAX ? realloc(ix->ents, ncap * sizeof *ne) : NULL;
        if (!ne) {
            ix->oom = true;
            return 1;
        }
        ix->ents = ne;
        ix->cap = ncap;
    }
    if ((ix->n + 1) * 2 > ix->mask && !slots_grow(ix)) {
        ix->oom = true;
        return 1;
    }
    entry_t *e = &ix->ents[ix->n];
    e->off = off;
    e->flen = (uint32_t)flen;
    e->type = (uint8_t)type;
    e->superseded = false;
    uint64_t h = ns_hash(rec->ns, rec->ns_len);
    e->hlo = (uint32_t)h;
    uint64_t tag = h >> 32 << 32;
    size_t j = h & ix->mask;
    while (ix->slots[j]) {
        uint64_t v = ix->slots[j];
        if ((v & 0xffffffff00000000ull) == tag) {
            entry_t *old = &ix->ents[(uint32_t)v - 1];
            const char *s;
            size_t l;
            ent_ns(ix, old, &s, &l);
            if (l == rec->ns_len && memcmp(s, rec->ns, l) == 0) {
                old->superseded = true;
                break;
            }
        }
        j = (j + 1) & ix->mask;
    }
    ix->n++;
    ix->slots[j] = tag | (uint32_t)ix->n;
    return 0;
}

static int read_whole(const char *path, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t cap = (size_t)st.st_size + 1;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    for (;;) {
        if (got == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = got;
    return 0;
}

/* "<path>.damaged-20261121T114116Z", with -2, -3... if taken. */
static void aside_name(const char *path, char *out, size_t cap)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, cap, "%s.damaged-%s", path, stamp);
    for (int i = 2; i < 1000 && access(out, F_OK) == 0; i++)
        snprintf(out, cap, "%s.damaged-%s-%d", path, stamp, i);
}

/* Write a complete file (header, bytes, SEQ) as <path>.tmp, then rename it
 * over <path>, fsyncing file and directory; leaves cur_fd open on it. */
static int write_fresh(tb_store_t *self, const unsigned char *body, size_t body_len)
{
    int rc = tb_store_mkdirs(self->dir_path);
    if (rc < 0) {
        tb_store_set_error(self, rc, "create directory", self->dir_path);
        return rc;
    }
    int fd = open(self->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        tb_store_set_error(self, rc, "create", self->tmp_path);
        return rc;
    }
    unsigned char hdr[TB_STORE_HEADER_LEN], seqrec[TB_STORE_FRAME_LEN + TB_STORE_SEQ_LEN];
    tb_store_encode_header(hdr, self->last_seq, (uint64_t)time(NULL));
    size_t seqlen = tb_store_encode_seq(seqrec, self->last_seq);
    const char *what = "write";
    rc = tb_store_write_all(fd, hdr, sizeof hdr);
    if (!rc && body_len)
        rc = tb_store_write_all(fd, body, body_len);
    if (!rc)
        rc = tb_store_write_all(fd, seqrec, seqlen);
    if (!rc) {
        self->bytes_written += sizeof hdr + body_len + seqlen;
        what = "fdatasync";
        rc = fdatasync(fd) < 0 ? -errno : 0;
        self->fsyncs++;
    }
    if (!rc && self->aside_path[0]) {
        what = "rename damaged file";
        if (rename(self->path, self->aside_path) < 0 && errno != ENOENT)
            rc = -errno;
        else
            self->aside_path[0] = '\0';
    }
    if (!rc) {
        what = "rename to";
        rc = rename(self->tmp_path, self->path) < 0 ? -errno : 0;
    }
    if (!rc) {
        what = "fsync directory of";
        rc = tb_store_fsync_dir(self->dir_path);
        self->fsyncs++;
    }
    if (rc) {
        tb_store_set_error(self, rc, what, self->path);
        close(fd);
        unlink(self->tmp_path);
        return rc;
    }
    self->cur_fd = fd;
    self->file_est = self->base_size = sizeof hdr + body_len + seqlen;
    return 0;
}

static void report_error(tb_store_report_t *rep, const tb_store_t *self)
{
    if (rep && !rep->error[0])
        snprintf(rep->error, sizeof rep->error, "%s", self->last_error);
}

void tb_store_load(tb_store_t *self, tb_store_load_fn load, void *ctx, tb_store_report_t *rep)
{
    double t0 = tb_time_now();
    if (!self->cfg.read_only) {
        int rc = tb_store_mkdirs(self->dir_path);
        if (rc < 0) {
            tb_store_set_error(self, rc, "create directory", self->dir_path);
            report_error(rep, self);
        }
        unlink(self->tmp_path);  /* a pass interrupted by a crash */
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = read_whole(self->path, &buf, &len);
    bool fresh = rc == -ENOENT;
    bool damaged = false;
    index_t ix;
    memset(&ix, 0, sizeof ix);
    ix.buf = buf;
    unsigned char *body = NULL;
    size_t body_len = 0;
    uint64_t loaded = 0;
    if (rc < 0 && !fresh) {
        /* Unreadable: never overwrite what we could not read. */
        tb_store_set_error(self, rc, "read", self->path);
        report_error(rep, self);
        damaged = true;
    } else if (!fresh) {
        bool header_ok, unknown;
        uint64_t base_seq, regions, bytes;
        tb_store_scan(buf, len, index_record, &ix, &header_ok, &unknown, &base_seq,
                      &regions, &bytes);
        if (ix.oom) {
            tb_store_set_error(self, ENOMEM, "load", self->path);
            report_error(rep, self);
        }
        if (unknown) {
            snprintf(self->last_error, sizeof self->last_error,
                     "%s: state file of an unknown format version", self->path);
            report_error(rep, self);
        }
        damaged = !header_ok || regions > 0 || ix.oom;
        self->last_seq = base_seq > ix.max_seq ? base_seq : ix.max_seq;
        uint64_t live = TB_STORE_HEADER_LEN + TB_STORE_FRAME_LEN + TB_STORE_SEQ_LEN;
        uint64_t rejected = 0;
        if (damaged && !self->cfg.read_only && !ix.oom) {
            body = malloc(len ? len : 1);
            if (!body) {
                tb_store_set_error(self, ENOMEM, "recover", self->path);
                report_error(rep, self);
            }
        }
        for (size_t i = 0; i < ix.n; i++) {
            if (ix.ents[i].type != TB_STORE_REC_PUT || ix.ents[i].superseded)
                continue;
            const unsigned char *f = buf + ix.ents[i].off;
            tb_store_record_t rec;
            tb_store_decode(f + TB_STORE_FRAME_LEN, ix.ents[i].flen - TB_STORE_FRAME_LEN, &rec);
            if (load && load(ctx, &rec) != 0) {
                rejected++;
                continue;
            }
            loaded++;
            live += ix.ents[i].flen;
            if (body) {
                memcpy(body + body_len, f, ix.ents[i].flen);
                body_len += ix.ents[i].flen;
            }
        }
        self->base_size = live;
        self->file_est = len;
        if (rep) {
            rep->things_loaded = loaded;
            rep->things_rejected = rejected;
            rep->records_read = ix.n;
            rep->regions_skipped = regions;
            rep->bytes_skipped = bytes;
            rep->file_bytes = len;
        }
    }
    free(ix.ents);
    free(ix.slots);
    free(buf);
    if (rep) {
        rep->damaged = damaged;
        rep->last_seq = self->last_seq;
    }
    if (self->cfg.read_only)
        goto out;
    if (damaged) {
        aside_name(self->path, self->aside_path, sizeof self->aside_path);
        if (rename(self->path, self->aside_path) == 0 || errno == ENOENT) {
            if (rep)
                snprintf(rep->damaged_path, sizeof rep->damaged_path, "%s", self->aside_path);
            self->aside_path[0] = '\0';
        } else {
            /* Kept where it is; the writer moves it before replacing it. */
            tb_store_set_error(self, -errno, "rename damaged file", self->path);
            report_error(rep, self);
            if (rep)
                snprintf(rep->damaged_path, sizeof rep->damaged_path, "%s", self->aside_path);
        }
    }
    if (fresh || damaged) {
        /* Without the recovered bytes (no memory) only a rewrite from the
         * broker's memory can save what was loaded. */
        if (body || fresh || loaded == 0) {
            if (write_fresh(self, body, body_len) < 0)
                report_error(rep, self);
        }
    } else {
        self->cur_fd = open(self->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (self->cur_fd < 0) {
            tb_store_set_error(self, -errno, "open", self->path);
            report_error(rep, self);
        }
    }
out:
    free(body);
    self->healthy = self->w_healthy = self->cur_fd >= 0;
    if (rep)
        rep->load_seconds = tb_time_now() - t0;
}

/* Two writers on one state file would each rename the other's file away:
 * the second store refuses to open.  Without a lock file (read-only or
 * missing directory) nothing can be written either, so go on. */
static int take_lock(tb_store_t *self, tb_store_report_t *rep)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", self->path);
    tb_store_mkdirs(self->dir_path);
    self->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->lock_fd < 0)
        return 0;
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (rep)
        snprintf(rep->error, sizeof rep->error,
                 "%.400s is in use by another process (its .lock is held)", self->path);
    close(self->lock_fd);
    self->lock_fd = -1;
    return -1;
}

tb_store_t *tb_store_new(const tb_store_config_t *cfg, tb_store_load_fn load,
                         void *load_ctx, tb_store_report_t *report)
{
    if (report)
        memset(report, 0, sizeof *report);
    if (!cfg) {
        if (report)
            snprintf(report->error, sizeof report->error, "no configuration");
        return NULL;
    }
    tb_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (report)
            snprintf(report->error, sizeof report->error, "%s", tb_error_text(TB_ERR_NOMEM));
        return NULL;
    }
    self->cfg = *cfg;
    self->cur_fd = self->tmp_fd = self->lock_fd = -1;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    pthread_cond_init(&self->idle_cv, NULL);
    tb_store_config_t def;
    tb_store_config_defaults(&def);
    if (self->cfg.commit_window_ms < 2) self->cfg.commit_window_ms = def.commit_window_ms;
    if (!self->cfg.group_bytes) self->cfg.group_bytes = def.group_bytes;
    if (!self->cfg.max_pending_bytes) self->cfg.max_pending_bytes = def.max_pending_bytes;
    if (self->cfg.max_pending_bytes < 2 * self->cfg.group_bytes)
        self->cfg.max_pending_bytes = 2 * self->cfg.group_bytes;
    if (!(self->cfg.compact_ratio >= 1.1)) self->cfg.compact_ratio = def.compact_ratio;
    if (!self->cfg.compact_slice) self->cfg.compact_slice = def.compact_slice;
    if (!self->cfg.retry_ms) self->cfg.retry_ms = 1;
    if (!cfg->path || !cfg->path[0]) {
        self->cfg.path = NULL;
        return self;  /* disabled: every call is a no-op */
    }
    self->path = strdup(cfg->path);
    size_t n = strlen(cfg->path);
    self->tmp_path = malloc(n + 5);
    const char *slash = strrchr(cfg->path, '/');
    self->dir_path = slash == cfg->path ? strdup("/")
                   : slash ? strndup(cfg->path, (size_t)(slash - cfg->path)) : strdup(".");
    if (!self->path || !self->tmp_path || !self->dir_path) {
        if (report)
            snprintf(report->error, sizeof report->error, "%s", tb_error_text(TB_ERR_NOMEM));
        tb_store_destroy(&self);
        return NULL;
    }
    memcpy(self->tmp_path, cfg->path, n);
    memcpy(self->tmp_path + n, ".tmp", 5);
    self->cfg.path = self->path;
    if (!self->cfg.read_only && take_lock(self, report) < 0) {
        tb_store_destroy(&self);
        return NULL;
    }
    tb_store_load(self, load, load_ctx, report);
    if (self->cfg.read_only)
        return self;
    self->enabled = true;
    if (!self->healthy) {
        /* Could not write at start: retry by a rewrite from memory. */
        self->pass_at_ms = tb_time_mono_ms() + self->cfg.retry_ms;
    }
    /* The writer thread blocks every signal, so a SIGTERM always reaches
     * the loop thread (whose poll it must interrupt). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = pthread_create(&self->thread, NULL, tb_store_writer_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != 0) {
        if (report)
            snprintf(report->error, sizeof report->error, "cannot start the writer thread");
        self->enabled = false;
        tb_store_destroy(&self);
        return NULL;
    }
    self->thread_started = true;
    return self;
}
