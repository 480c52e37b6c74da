/*
 * tb_adaptor_internal.h - what the adaptor's files share (not installed).
 *
 * Why this exists: the library is split by concern (public calls and
 * encoding in tb_adaptor.c, the bounded queue, the suppression table, one
 * background-thread file per transport); this header is the one struct
 * they all see.  Locking rule: everything below `lock` is guarded by it,
 * except what is marked "worker only".
 */
#ifndef TB_ADAPTOR_INTERNAL_H
#define TB_ADAPTOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "thingsbus_adaptor.h"
#include "thingsbus_firmware.h"
#include "tb_discovery.h"

/* ------------------------------------------------------------- queue */
/* One encoded message, ready for the wire (owned by the queue). */
typedef struct {
    char  *bytes;
    size_t len;
} tb_msg_t;

/* Fixed-capacity FIFO ring of messages.  Not locked by itself. */
typedef struct {
    tb_msg_t *ring;
    size_t    cap;
    size_t    head;
    size_t    count;
} tb_queue_t;

int       tb_queue_init(tb_queue_t *q, size_t cap);      /* TB_OK / TB_ERR_NOMEM */
void      tb_queue_free(tb_queue_t *q);                  /* frees queued bytes too */
bool      tb_queue_push(tb_queue_t *q, tb_msg_t msg);    /* false when full */
tb_msg_t *tb_queue_peek(tb_queue_t *q);                  /* NULL when empty */
void      tb_queue_drop_head(tb_queue_t *q);             /* frees the head's bytes */

/* ------------------------------------------------------- suppression */
/* Last data queued per namespace, to skip unchanged sends. */
typedef struct tb_suppress_t tb_suppress_t;

/* max_entries bounds memory: namespaces beyond it are never suppressed. */
tb_suppress_t *tb_suppress_new(size_t max_entries);
void           tb_suppress_destroy(tb_suppress_t **self_p);
/* true if data equals the last data recorded for ns and that was recorded
 * less than heartbeat_ms ago. */
bool tb_suppress_is_unchanged(tb_suppress_t *self, const char *ns, size_t ns_len,
                              const char *data, size_t data_len,
                              uint64_t now_ms, uint64_t heartbeat_ms);
/* Remember data as the last queued for ns (copies).  Out of memory or a
 * full table simply means no suppression for this ns. */
void tb_suppress_record(tb_suppress_t *self, const char *ns, size_t ns_len,
                        const char *data, size_t data_len, uint64_t now_ms);

/* -------------------------------------------------------------- zone */
/* Non-blocking discovery state, used by the worker only (tb_adaptor_zone.c). */
typedef struct {
    tb_locator_t  *loc;
    tb_resolver_t *res;
    bool           resolving;
} tb_zone_t;

/* ----------------------------------------------------------- adaptor */
typedef enum { TB_TRANSPORT_ZMQ, TB_TRANSPORT_UDP } tb_transport_t;

struct tb_adaptor_t {
    /* Immutable after tb_adaptor_new(). */
    char                 *ns;
    size_t                ns_len;
    char                 *doc_url;        /* NULL for none */
    char                 *doc_url_json;   /* JSON string literal, or NULL */
    size_t                doc_url_json_len;
    tb_transport_t        transport;
    tb_adaptor_form_t     form;           /* resolved: LIST or MAP */
    tb_adaptor_zmq_mode_t zmq_mode;
    char                 *url;            /* ZeroMQ endpoint (URL mode) */
    char                 *zone;           /* zone mode */
    char                 *dns_servers;
    int                   dns_timeout_ms;
    uint64_t              reresolve_ms;
    int                   linger_ms;      /* <0: none */
    bool                  suppress_on;
    uint64_t              heartbeat_ms;
    void                 *zmq_ctx;
    tb_fw_udp_t           udp;            /* UDP mode (worker only after new) */
    tb_zone_t             zone_state;     /* zone mode (worker only after new) */
    bool                  zone_on;

    pthread_t             thread;
    bool                  thread_started;

    pthread_mutex_t       lock;
    pthread_cond_t        wake;           /* worker: work or stop */
    pthread_cond_t        drained;        /* flush(): queue became empty */
    tb_queue_t            queue;
    tb_suppress_t        *suppress;
    tb_adaptor_stats_t    stats;
    bool                  stopping;
    uint64_t              stop_deadline_ms;
};

/* Background threads, one per transport (tb_adaptor_zmq.c, tb_adaptor_udp.c). */
void *tb_adaptor_zmq_worker(void *self);
void *tb_adaptor_udp_worker(void *self);

/* Zone mode (tb_adaptor_zone.c).  init parses dns_servers (TB_ERR_BAD_URL
 * for a bad list); step advances the lookup without blocking and returns
 * true when tb_locator_current() changed (reconnect); wait_ms bounds the
 * worker's sleep so the lookup keeps moving. */
int  tb_zone_init(tb_zone_t *z, const char *dns_servers, uint64_t reresolve_ms);
void tb_zone_free(tb_zone_t *z);
bool tb_zone_step(tb_adaptor_t *a, tb_zone_t *z, uint64_t now_ms);
int  tb_zone_wait_ms(tb_zone_t *z, uint64_t now_ms, int max_ms);

/* Worker helpers (tb_adaptor.c).  Each takes the lock itself. */

/* Wait up to wait_ms for a message; returns the head (still queued) or NULL.
 * *stop is set when the worker must exit now (stopping and the queue is
 * empty or the linger deadline passed). */
tb_msg_t *tb_adaptor_next(tb_adaptor_t *self, int wait_ms, bool *stop);
/* The head was handed to the transport (ok) or failed for good (error
 * code < 0, counted in errors): remove it. */
void tb_adaptor_done(tb_adaptor_t *self, int error);
/* Milliseconds left before the linger deadline (only once stopping), else
 * -1. */
int tb_adaptor_linger_left(tb_adaptor_t *self);
/* Record a transport state change under the lock. */
void tb_adaptor_set_connected(tb_adaptor_t *self, bool connected, bool disconnect_event);
void tb_adaptor_set_error(tb_adaptor_t *self, int error);
void tb_adaptor_count_resolution(tb_adaptor_t *self);
bool tb_adaptor_is_stopping(tb_adaptor_t *self);

#endif
