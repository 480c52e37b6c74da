/*
 * tb_store_int.h - the store object shared by its loop-side, loader and
 * writer-thread files (private to broker/store/).
 *
 * Why this exists: the store is split by concern (tb_store.c runs on the
 * loop thread, tb_store_writer.c is the writer thread, tb_store_load.c opens
 * and recovers the file), and they share one object.  Fields are grouped by
 * who may touch them: loop-only, writer-only, and shared under `mu`.
 */
#ifndef TB_STORE_INT_H
#define TB_STORE_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "tb_store.h"
#include "tb_store_format.h"

enum { JOB_GROUP = 1, JOB_SLICE, JOB_BEGIN, JOB_FINISH };
enum { JOB_TO_CUR = 1, JOB_TO_TMP = 2, JOB_ABORT = 4 };

typedef struct store_job {
    struct store_job *next;
    int            kind;
    unsigned       flags;
    uint64_t       oldest_ms;   /* GROUP: when its first record was put */
    uint64_t       seq;         /* BEGIN: base seq; FINISH: last seq */
    size_t         len;
    size_t         cap;         /* GROUP: allocated size of data */
    unsigned char *data;
} store_job_t;

struct tb_store_t {
    tb_store_config_t cfg;
    char *path, *tmp_path, *dir_path;
    bool  enabled;              /* false: disabled or read-only, no thread */
    bool  closed;

    /* ---- loop thread only */
    unsigned char *grp;
    size_t   grp_len, grp_cap;
    uint64_t grp_first_ms;
    uint64_t grp_records;
    uint64_t lost_count;        /* times records were dropped while healthy */
    uint64_t pass_lost_mark;    /* lost_count when the running pass began */
    uint64_t lost_saved;        /* lost_count covered by the last good pass */
    uint64_t last_seq;
    bool     healthy;           /* loop's view of the writer's current file */
    bool     compacting;        /* a pass is pulling slices */
    bool     finish_pending;    /* FINISH pushed, result not seen yet */
    uint64_t cursor[2];
    uint64_t pass_at_ms;        /* start a pass at this time; 0 = none wanted */
    bool     pass_requested;    /* tb_store_compact() */
    uint64_t seen_done, seen_failed;
    uint64_t file_est;          /* bytes in the current file (estimate) */
    uint64_t base_size;         /* file size right after the last pass/load */
    uint64_t sealed_total;      /* bytes of groups sent to the current file */
    uint64_t finish_mark;       /* sealed_total when FINISH was pushed */
    uint64_t finishes_pushed;   /* FINISH jobs handed to the writer */
    uint64_t records_put, records_unsaved;
    int      close_rc;

    /* ---- shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t  cv;         /* work for the writer */
    pthread_cond_t  idle_cv;    /* the writer finished a batch */
    store_job_t *head, *tail;
    size_t   pending_bytes;
    bool     stop;
    bool     busy;
    bool     w_healthy;         /* current file usable */
    uint64_t w_done, w_failed;  /* passes finished / failed */
    uint64_t w_new_size;        /* file size after the last successful pass */
    uint64_t bytes_written, groups_written, fsyncs, write_errors;
    uint64_t max_commit_ms;
    uint64_t last_error_ms;
    char     last_error[512];
    char     aside_path[4096];  /* keep <path> here before the next rename over it */
    unsigned char *spare;       /* a written group's buffer, for reuse by the loop */
    size_t   spare_cap;

    /* ---- writer thread only (and tb_store_new before it starts) */
    int      cur_fd, tmp_fd;
    int      lock_fd;           /* flock on <path>.lock, held for the store's life */
    bool     tmp_failed;
    pthread_t thread;
    bool     thread_started;
};

/* Writer thread body. */
void *tb_store_writer_main(void *arg);
/* write(2) all of buf; 0 or -errno. */
int tb_store_write_all(int fd, const void *buf, size_t len);
/* fsync the directory holding the state file; 0 or -errno. */
int tb_store_fsync_dir(const char *dir);
/* mkdir -p; 0 or -errno. */
int tb_store_mkdirs(const char *dir);
/* Record an error (caller holds mu or is single-threaded). */
void tb_store_set_error(tb_store_t *self, int err, const char *what, const char *path);
/* Open and load the file, recover damage, create a fresh file if needed
 * (tb_store_new's work before the writer starts). */
void tb_store_load(tb_store_t *self, tb_store_load_fn load, void *ctx, tb_store_report_t *rep);

#endif
