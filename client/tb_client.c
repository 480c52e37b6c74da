/*
 * tb_client.c - the libthingsbus-client object: set-up, look-ups,
 * subscriptions, the pull queue and statistics.
 *
 * Why this exists: this file is the thread boundary.  The background actor
 * (tb_client_actor.c) owns the socket and feeds decoded items in through
 * tb_client_apply_item(); the caller's threads come in through the public
 * functions.  Shared state is guarded by small locks (see
 * tb_client_internal.h for their order) and only copies cross the
 * boundary.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "tb_client_internal.h"
#include "tb_error.h"
#include "tb_ns.h"
#include "tb_time.h"

#define DEFAULT_QUEUE_LIMIT 10000u
#define DEFAULT_DISCOVERY_MS 5000
#define DEFAULT_PORT 7954

typedef struct {
    int                 id;
    char               *ns;
    size_t              ns_len;
    unsigned            flags;
    tb_client_event_fn *callback;
    void               *arg;
    bool                active;
    uint64_t            losses_seen;   /* client losses when last told */
} sub_t;

struct tb_client_t {
    tb_client_options_t opts;          /* strings below are our copies */
    char               *url, *zone, *dns_servers, *subtree;
    tb_endpoints_t     *endpoints;     /* initial lookup, taken by the actor */
    zactor_t           *actor;
    int                 start_error;
    char                start_text[256];

    pthread_mutex_t     mirror_lock;
    tb_mirror_t        *mirror;

    pthread_mutex_t     subs_lock;     /* recursive: held while callbacks run */
    sub_t              *subs;
    size_t              nsubs, subs_alloc;
    int                 next_id;
    int                 dispatching;   /* depth of dispatch on the actor */
    bool                subs_dirty;    /* inactive entries to compact */

    pthread_mutex_t     queue_lock;
    pthread_cond_t      queue_cond;    /* an event was queued */
    pthread_cond_t      synced_cond;   /* synced became true */
    tb_event_t        **ring;
    size_t              ring_head, ring_len, ring_alloc, queue_limit;
    uint64_t            drops_unreported;
    int                 efd;           /* readable while ring_len > 0 */
    bool                synced;

    pthread_mutex_t     stats_lock;
    tb_client_stats_t   stats;
    int                 live_connections;
    char                endpoint[320];
    char                snapshot_url[320]; /* "" unless speaking v2 */
};

/* ------------------------------------------------------------ texts */

const char *
tb_client_strerror(int error)
{
    return tb_error_text(error);
}

const char *
tb_client_reject_name(tb_client_reject_t reason)
{
    static const char *const names[TB_CLIENT_REJECT_COUNT] = {
        "bad_json", "not_an_object", "missing_type", "unknown_type", "bad_ns",
        "missing_data", "bad_ts", "bad_doc_url", "bad_snapshot", "multipart",
        "nomem",
    };
    if ((unsigned)reason >= TB_CLIENT_REJECT_COUNT)
        return "unknown";
    return names[reason];
}

void
tb_client_options_init(tb_client_options_t *options)
{
    if (options)
        memset(options, 0, sizeof *options);
}

/* ------------------------------------------------------------ events */

tb_event_t *
tb_event_dup(const tb_event_t *e)
{
    if (!e || !e->ns || !e->data)
        return NULL;
    size_t ns_n = strlen(e->ns) + 1, data_n = strlen(e->data) + 1;
    size_t doc_n = e->documentation_url ? strlen(e->documentation_url) + 1 : 0;
    tb_event_t *copy = malloc(sizeof *copy + ns_n + data_n + doc_n);
    if (!copy)
        return NULL;
    *copy = *e;
    char *p = (char *)(copy + 1);
    memcpy(p, e->ns, ns_n);
    copy->ns = p;
    p += ns_n;
    memcpy(p, e->data, data_n);
    copy->data = p;
    p += data_n;
    if (doc_n) {
        memcpy(p, e->documentation_url, doc_n);
        copy->documentation_url = p;
    }
    return copy;
}

void
tb_event_destroy(tb_event_t **event_p)
{
    if (!event_p || !*event_p)
        return;
    free(*event_p);
    *event_p = NULL;
}

void
tb_thing_destroy(tb_thing_t **thing_p)
{
    if (!thing_p || !*thing_p)
        return;
    tb_thing_clear(*thing_p);
    free(*thing_p);
    *thing_p = NULL;
}

void
tb_thing_list_destroy(tb_thing_list_t **list_p)
{
    if (!list_p || !*list_p)
        return;
    tb_thing_list_t *list = *list_p;
    for (size_t i = 0; i < list->count; i++)
        tb_thing_clear(&list->items[i]);
    free(list->items);
    free(list);
    *list_p = NULL;
}

void
tb_client_strv_free(char ***strv_p)
{
    if (!strv_p || !*strv_p)
        return;
    for (char **p = *strv_p; *p; p++)
        free(*p);
    free(*strv_p);
    *strv_p = NULL;
}

/* ---------------------------------------------------------- set-up */

/* Accepts "tcp://...", "ipc://...", "inproc://...", or the shorthand
 * "host[:port]" which becomes tcp://host:port (7954 by default). */
static int
s_normalise_url(const char *in, char **out, char *errbuf, size_t errlen)
{
    char buf[512];
    const char *sep = strstr(in, "://");
    if (sep) {
        size_t scheme = (size_t)(sep - in);
        bool known = (scheme == 3 && strncmp(in, "tcp", 3) == 0)
                  || (scheme == 3 && strncmp(in, "ipc", 3) == 0)
                  || (scheme == 6 && strncmp(in, "inproc", 6) == 0);
        if (!known || sep[3] == '\0') {
            snprintf(errbuf, errlen, "\"%s\" is not a broker URL "
                     "(expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:7954)", in);
            return TB_ERR_BAD_URL;
        }
        if (scheme == 3 && strncmp(in, "tcp", 3) == 0) {
            const char *colon = strrchr(sep + 3, ':');
            char *end = NULL;
            long port = colon ? strtol(colon + 1, &end, 10) : -1;
            if (!colon || colon == sep + 3 || !end || *end != '\0' || end == colon + 1
                || port < 1 || port > 65535) {
                snprintf(errbuf, errlen, "\"%s\": a tcp:// broker URL needs HOST:PORT "
                         "with a port from 1 to 65535", in);
                return TB_ERR_BAD_URL;
            }
        }
        *out = strdup(in);
        return *out ? TB_OK : TB_ERR_NOMEM;
    }
    if (*in == '\0' || strpbrk(in, " /\t")) {
        snprintf(errbuf, errlen, "\"%s\" is not a broker address "
                 "(expected HOST[:PORT] or tcp://HOST:PORT)", in);
        return TB_ERR_BAD_URL;
    }
    const char *colon = strchr(in, ':');
    bool bracketed = in[0] == '[';
    const char *close = bracketed ? strchr(in, ']') : NULL;
    if (bracketed ? (close && close[1] == ':') : (colon && !strchr(colon + 1, ':')))
        snprintf(buf, sizeof buf, "tcp://%s", in);                  /* has a port */
    else if (!bracketed && colon)                                   /* bare IPv6 */
        snprintf(buf, sizeof buf, "tcp://[%s]:%d", in, DEFAULT_PORT);
    else
        snprintf(buf, sizeof buf, "tcp://%s:%d", in, DEFAULT_PORT);
    return s_normalise_url(buf, out, errbuf, errlen);
}

static void
s_set_err(int *error, int code)
{
    if (error)
        *error = code;
}

/* A library must not take over the host's signals: stop czmq from
 * installing its SIGINT/SIGTERM handlers before it first initialises.
 * Once per process, so a host that installs its own handler afterwards
 * (zsys_handler_set) keeps it when it creates more clients. */
static pthread_once_t s_czmq_once = PTHREAD_ONCE_INIT;

static void
s_czmq_quiet(void)
{
    zsys_handler_set(NULL);
}

tb_client_t *
tb_client_new(const tb_client_options_t *options, int *error, char *errbuf, size_t errlen)
{
    char scratch[256];
    if (!errbuf || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    errbuf[0] = '\0';
    if (!options || (!options->url == !options->zone)
        || (options->url && !*options->url) || (options->zone && !*options->zone)) {
        snprintf(errbuf, errlen, "give either a broker URL or a DNS zone (not both)");
        s_set_err(error, TB_ERR_INVALID_ARG);
        return NULL;
    }
    tb_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "out of memory");
        s_set_err(error, TB_ERR_NOMEM);
        return NULL;
    }
    int rc = TB_OK;
    self->opts = *options;
    self->efd = -1;
    pthread_mutexattr_t rec;
    pthread_mutexattr_init(&rec);
    pthread_mutexattr_settype(&rec, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&self->subs_lock, &rec);
    pthread_mutexattr_destroy(&rec);
    pthread_mutex_init(&self->mirror_lock, NULL);
    pthread_mutex_init(&self->queue_lock, NULL);
    pthread_mutex_init(&self->stats_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->queue_cond, &ca);
    pthread_cond_init(&self->synced_cond, &ca);
    pthread_condattr_destroy(&ca);
    self->queue_limit = options->queue_limit ? options->queue_limit : DEFAULT_QUEUE_LIMIT;
    self->next_id = 1;

    self->mirror = tb_mirror_new();
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->mirror) {
        rc = TB_ERR_NOMEM;
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (self->efd < 0) {
        rc = TB_ERR_SYSTEM;
        snprintf(errbuf, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if (options->subtree && *options->subtree) {
        if (!tb_ns_valid(options->subtree, strlen(options->subtree))) {
            rc = TB_ERR_BAD_NS;
            snprintf(errbuf, errlen, "subtree \"%.200s\" is not a valid namespace",
                     options->subtree);
            goto fail;
        }
        if (!(self->subtree = strdup(options->subtree))) {
            rc = TB_ERR_NOMEM;
            goto fail;
        }
    }
    if (options->protocol < TB_CLIENT_PROTOCOL_AUTO || options->protocol > TB_CLIENT_PROTOCOL_V2) {
        rc = TB_ERR_INVALID_ARG;
        snprintf(errbuf, errlen, "protocol must be 0 (auto), 1 (v1) or 2 (v2)");
        goto fail;
    }
    if (options->dns_servers && !(self->dns_servers = strdup(options->dns_servers))) {
        rc = TB_ERR_NOMEM;
        goto fail;
    }
    if (options->url) {
        if ((rc = s_normalise_url(options->url, &self->url, errbuf, errlen)) != TB_OK)
            goto fail;
        snprintf(self->endpoint, sizeof self->endpoint, "%s", self->url);
    } else {
        if (!(self->zone = strdup(options->zone))) {
            rc = TB_ERR_NOMEM;
            goto fail;
        }
        int ms = options->discovery_timeout_ms > 0 ? options->discovery_timeout_ms
                                                   : DEFAULT_DISCOVERY_MS;
        rc = tb_discover(self->zone, self->dns_servers, TB_SERVICE_PUB, ms,
                         &self->endpoints, errbuf, errlen);
        if (rc != TB_OK)
            goto fail;
        if (!self->endpoints || self->endpoints->count == 0) {
            rc = TB_ERR_DNS_NO_RECORD;
            snprintf(errbuf, errlen, "no usable broker found through %s%s",
                     TB_SRV_PREFIX, self->zone);
            goto fail;
        }
        snprintf(self->endpoint, sizeof self->endpoint, "%s", self->endpoints->items[0].url);
        self->stats.resolutions = 1;
    }
    self->opts.url = self->url;
    self->opts.zone = self->zone;
    self->opts.dns_servers = self->dns_servers;
    self->opts.subtree = self->subtree;

    pthread_once(&s_czmq_once, s_czmq_quiet);
    self->actor = zactor_new(tb_client_actor, self);
    if (!self->actor) {
        rc = TB_ERR_NET;
        snprintf(errbuf, errlen, "could not start the client thread");
        goto fail;
    }
    if (self->start_error != TB_OK) {
        rc = self->start_error;
        snprintf(errbuf, errlen, "%s", self->start_text);
        goto fail;
    }
    s_set_err(error, TB_OK);
    return self;
fail:
    if (errbuf[0] == '\0')
        snprintf(errbuf, errlen, "%s", tb_error_text(rc));
    s_set_err(error, rc);
    tb_client_destroy(&self);
    return NULL;
}

void
tb_client_destroy(tb_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_client_t *self = *self_p;
    zactor_destroy(&self->actor);
    tb_endpoints_free(&self->endpoints);
    tb_mirror_destroy(&self->mirror);
    for (size_t i = 0; i < self->nsubs; i++)
        free(self->subs[i].ns);
    free(self->subs);
    for (size_t i = 0; i < self->ring_len; i++)
        free(self->ring[(self->ring_head + i) % self->ring_alloc]);
    free(self->ring);
    if (self->efd >= 0)
        close(self->efd);
    pthread_mutex_destroy(&self->mirror_lock);
    pthread_mutex_destroy(&self->subs_lock);
    pthread_mutex_destroy(&self->queue_lock);
    pthread_mutex_destroy(&self->stats_lock);
    pthread_cond_destroy(&self->queue_cond);
    pthread_cond_destroy(&self->synced_cond);
    free(self->url);
    free(self->zone);
    free(self->dns_servers);
    free(self->subtree);
    free(self);
    *self_p = NULL;
}

int
tb_client_endpoint(tb_client_t *self, char *buf, size_t len)
{
    if (!self || !buf || len == 0)
        return TB_ERR_INVALID_ARG;
    pthread_mutex_lock(&self->stats_lock);
    snprintf(buf, len, "%s", self->endpoint);
    pthread_mutex_unlock(&self->stats_lock);
    return TB_OK;
}

/* ------------------------------------------------- actor-facing parts */

const char *tb_client_start_url(tb_client_t *self) { return self->url; }
const char *tb_client_zone(tb_client_t *self) { return self->zone; }
const char *tb_client_dns_servers(tb_client_t *self) { return self->dns_servers; }
const tb_client_options_t *tb_client_opts(tb_client_t *self) { return &self->opts; }

tb_endpoints_t *
tb_client_take_endpoints(tb_client_t *self)
{
    tb_endpoints_t *eps = self->endpoints;
    self->endpoints = NULL;
    return eps;
}

void
tb_client_set_start_error(tb_client_t *self, int error, const char *text)
{
    self->start_error = error;
    snprintf(self->start_text, sizeof self->start_text, "%s", text ? text : "");
}

void
tb_client_note_reject(tb_client_t *self, tb_client_reject_t reason, const char *detail)
{
    pthread_mutex_lock(&self->stats_lock);
    self->stats.rejected[reason]++;
    if (reason == TB_CLIENT_REJECT_UNKNOWN_TYPE)
        self->stats.ignored++;
    else
        self->stats.malformed++;
    pthread_mutex_unlock(&self->stats_lock);
    if (self->opts.on_reject)
        self->opts.on_reject(reason, detail, self->opts.on_reject_arg);
}

void
tb_client_note_message(tb_client_t *self, tb_msg_kind_t kind)
{
    pthread_mutex_lock(&self->stats_lock);
    self->stats.messages++;
    if (kind == TB_MSG_UPDATE)
        self->stats.updates++;
    else if (kind == TB_MSG_SNAPSHOT)
        self->stats.snapshots++;
    pthread_mutex_unlock(&self->stats_lock);
}

void
tb_client_note_synced(tb_client_t *self)
{
    pthread_mutex_lock(&self->queue_lock);
    if (!self->synced) {
        self->synced = true;
        pthread_cond_broadcast(&self->synced_cond);
    }
    pthread_mutex_unlock(&self->queue_lock);
}

void
tb_client_note_connection(tb_client_t *self, int delta, const char *url)
{
    pthread_mutex_lock(&self->stats_lock);
    if (delta > 0) {
        self->stats.connects++;
        self->live_connections++;
    } else if (delta < 0) {
        self->stats.disconnects++;
        if (self->live_connections > 0)
            self->live_connections--;
    } else {
        self->live_connections = 0;   /* switched endpoint */
    }
    if (url)
        snprintf(self->endpoint, sizeof self->endpoint, "%s", url);
    pthread_mutex_unlock(&self->stats_lock);
}

void
tb_client_note_resolution(tb_client_t *self)
{
    pthread_mutex_lock(&self->stats_lock);
    self->stats.resolutions++;
    pthread_mutex_unlock(&self->stats_lock);
}

/* -------------------------------------------------------- the queue */

/* Grows the ring (keeping order) up to the limit. Caller holds queue_lock. */
static bool
s_ring_grow(tb_client_t *self)
{
    size_t cap = self->ring_alloc ? self->ring_alloc * 2 : 64;
    if (cap > self->queue_limit)
        cap = self->queue_limit;
    if (cap <= self->ring_alloc)
        return false;
    tb_event_t **ring = malloc(cap * sizeof *ring);
    if (!ring)
        return false;
    for (size_t i = 0; i < self->ring_len; i++)
        ring[i] = self->ring[(self->ring_head + i) % self->ring_alloc];
    free(self->ring);
    self->ring = ring;
    self->ring_alloc = cap;
    self->ring_head = 0;
    return true;
}

/* Queues a copy of e; when full, drops the oldest (counted). */
static void
s_queue_push(tb_client_t *self, const tb_event_t *e)
{
    tb_event_t *copy = tb_event_dup(e);
    uint64_t dropped = 0;
    pthread_mutex_lock(&self->queue_lock);
    if (!copy) {
        dropped = 1;
        self->drops_unreported++;
    } else {
        if (self->ring_len == self->ring_alloc && !s_ring_grow(self)) {
            if (self->ring_len == 0) {       /* no room at all (OOM) */
                free(copy);
                copy = NULL;
            } else {
                free(self->ring[self->ring_head]);
                self->ring_head = (self->ring_head + 1) % self->ring_alloc;
                self->ring_len--;
            }
            dropped = 1;
            self->drops_unreported++;
        }
        if (copy) {
            self->ring[(self->ring_head + self->ring_len) % self->ring_alloc] = copy;
            if (self->ring_len++ == 0) {
                uint64_t one = 1;
                if (write(self->efd, &one, sizeof one) < 0) {
                    /* cannot happen below the counter's maximum */
                }
            }
            pthread_cond_signal(&self->queue_cond);
        }
    }
    pthread_mutex_unlock(&self->queue_lock);
    pthread_mutex_lock(&self->stats_lock);
    self->stats.events_dropped += dropped;
    if (copy)
        self->stats.events_delivered++;
    pthread_mutex_unlock(&self->stats_lock);
}

int
tb_client_recv(tb_client_t *self, tb_event_t **event, int timeout_ms)
{
    if (!self || !event)
        return TB_ERR_INVALID_ARG;
    *event = NULL;
    struct timespec deadline;
    if (timeout_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&self->queue_lock);
    while (self->ring_len == 0 && timeout_ms != 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&self->queue_cond, &self->queue_lock)
                                : pthread_cond_timedwait(&self->queue_cond, &self->queue_lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    if (self->ring_len == 0) {
        pthread_mutex_unlock(&self->queue_lock);
        return TB_ERR_TIMEOUT;
    }
    tb_event_t *e = self->ring[self->ring_head];
    self->ring_head = (self->ring_head + 1) % self->ring_alloc;
    if (--self->ring_len == 0) {
        uint64_t v;
        if (read(self->efd, &v, sizeof v) < 0) {
            /* already zero: nothing to clear */
        }
    }
    e->dropped_before = self->drops_unreported;
    self->drops_unreported = 0;
    pthread_mutex_unlock(&self->queue_lock);
    *event = e;
    return TB_OK;
}

int
tb_client_fd(tb_client_t *self)
{
    return self ? self->efd : TB_ERR_INVALID_ARG;
}

int
tb_client_wait_synced(tb_client_t *self, int timeout_ms)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&self->queue_lock);
    while (!self->synced && timeout_ms != 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&self->synced_cond, &self->queue_lock)
                                : pthread_cond_timedwait(&self->synced_cond, &self->queue_lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    bool synced = self->synced;
    pthread_mutex_unlock(&self->queue_lock);
    return synced ? TB_OK : TB_ERR_TIMEOUT;
}

/* ------------------------------------------------------ subscriptions */

int
tb_client_subscribe(tb_client_t *self, const char *ns, unsigned flags,
                    tb_client_event_fn *callback, void *arg)
{
    if (!self || !ns || (flags & ~(TB_F_SNAPSHOT | TB_F_TREE | TB_F_PURGE | TB_F_LOSS)))
        return TB_ERR_INVALID_ARG;
    flags &= ~TB_F_LOSS;
    size_t len = strlen(ns);
    if (!tb_ns_valid(ns, len))
        return TB_ERR_BAD_NS;
    char *copy = strdup(ns);
    if (!copy)
        return TB_ERR_NOMEM;
    pthread_mutex_lock(&self->subs_lock);
    if (self->nsubs == self->subs_alloc) {
        size_t cap = self->subs_alloc ? self->subs_alloc * 2 : 8;
        sub_t *subs = realloc(self->subs, cap * sizeof *subs);
        if (!subs) {
            pthread_mutex_unlock(&self->subs_lock);
            free(copy);
            return TB_ERR_NOMEM;
        }
        self->subs = subs;
        self->subs_alloc = cap;
    }
    pthread_mutex_lock(&self->stats_lock);
    uint64_t losses_now = self->stats.losses;   /* earlier losses are not news */
    pthread_mutex_unlock(&self->stats_lock);
    int id = self->next_id++;
    if (self->next_id <= 0)          /* wrapped after 2^31 subscriptions */
        self->next_id = 1;
    self->subs[self->nsubs++] = (sub_t){ .id = id, .ns = copy, .ns_len = len,
        .flags = flags, .callback = callback, .arg = arg, .active = true,
        .losses_seen = losses_now };
    pthread_mutex_unlock(&self->subs_lock);
    return id;
}

/* Drops inactive entries; only when no dispatch is iterating. */
static void
s_compact(tb_client_t *self)
{
    size_t j = 0;
    for (size_t i = 0; i < self->nsubs; i++) {
        if (self->subs[i].active)
            self->subs[j++] = self->subs[i];
        else
            free(self->subs[i].ns);
    }
    self->nsubs = j;
    self->subs_dirty = false;
}

int
tb_client_unsubscribe(tb_client_t *self, int subscription)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    int rc = TB_ERR_INVALID_ARG;
    /* Taking subs_lock waits out a callback running on the actor (the
     * dispatch holds it), so no call of this one is in flight afterwards. */
    pthread_mutex_lock(&self->subs_lock);
    for (size_t i = 0; i < self->nsubs; i++) {
        if (self->subs[i].active && self->subs[i].id == subscription) {
            self->subs[i].active = false;
            self->subs_dirty = true;
            rc = TB_OK;
            break;
        }
    }
    if (self->subs_dirty && self->dispatching == 0)
        s_compact(self);
    pthread_mutex_unlock(&self->subs_lock);
    return rc;
}

/* Offers one event to every listener, the Thing's own first, then each
 * ancestor's up to the root (the original's order). */
static void
s_dispatch(tb_client_t *self, const char *ns, double ts, const char *data,
           const char *doc_url, bool snapshot, bool purge)
{
    size_t len = strlen(ns);
    uint64_t delivered = 0;
    /* written on this (the actor's) thread only, so the copy is current */
    pthread_mutex_lock(&self->stats_lock);
    uint64_t losses = self->stats.losses;
    pthread_mutex_unlock(&self->stats_lock);
    pthread_mutex_lock(&self->subs_lock);
    self->dispatching++;
    size_t level = len;
    /* Subscriptions made by a callback during this dispatch take effect
     * from the next event (entries are only appended while dispatching). */
    size_t nsubs = self->nsubs;
    for (;;) {
        bool tree = level != len;
        for (size_t i = 0; i < nsubs; i++) {
            sub_t *s = &self->subs[i];
            if (!s->active || s->ns_len != level || memcmp(s->ns, ns, level) != 0)
                continue;
            if ((snapshot && !(s->flags & TB_F_SNAPSHOT)) || (tree && !(s->flags & TB_F_TREE))
                || (purge && !(s->flags & TB_F_PURGE)))
                continue;
            bool lost = s->losses_seen != losses;
            s->losses_seen = losses;
            tb_event_t e = {
                .subscription = s->id, .ns = ns, .ts = ts,
                .flags = (snapshot ? TB_F_SNAPSHOT : 0u) | (tree ? TB_F_TREE : 0u)
                       | (purge ? TB_F_PURGE : 0u) | (lost ? TB_F_LOSS : 0u),
                .data = data, .documentation_url = doc_url, .losses = losses,
            };
            if (s->callback) {
                tb_client_event_fn *fn = s->callback;
                void *arg = s->arg;
                fn(&e, arg);           /* may subscribe: self->subs may move */
                delivered++;
            } else {
                s_queue_push(self, &e);
            }
        }
        if (level == 0)
            break;
        level = tb_ns_parent_len(ns, level, NULL);
    }
    if (--self->dispatching == 0 && self->subs_dirty)
        s_compact(self);
    pthread_mutex_unlock(&self->subs_lock);
    if (delivered) {
        pthread_mutex_lock(&self->stats_lock);
        self->stats.events_delivered += delivered;
        pthread_mutex_unlock(&self->stats_lock);
    }
}

void
tb_client_apply_item(tb_client_t *self, tb_item_t *item)
{
    const char *doc_now = NULL;
    char *doc_copy = NULL;
    char *data = item->data;
    item->data = NULL;
    /* The mirror takes the data text; the events need their own view of
     * it, so keep a copy of the text for the dispatch. */
    char *event_data = strdup(data);
    pthread_mutex_lock(&self->mirror_lock);
    int rc = event_data ? tb_mirror_set(self->mirror, item->ns, data, item->ts,
                                        item->doc_url, &doc_now)
                        : (free(data), TB_ERR_NOMEM);
    if (rc == TB_OK && doc_now)
        doc_copy = strdup(doc_now);
    size_t things = tb_mirror_count(self->mirror);
    pthread_mutex_unlock(&self->mirror_lock);
    if (rc != TB_OK) {
        free(event_data);
        tb_client_note_reject(self, TB_CLIENT_REJECT_NOMEM, "out of memory applying an update");
        return;
    }
    pthread_mutex_lock(&self->stats_lock);
    self->stats.things = things;
    if (item->snapshot)
        self->stats.snapshot_entries++;
    pthread_mutex_unlock(&self->stats_lock);
    s_dispatch(self, item->ns, item->ts, event_data,
               doc_copy ? doc_copy : item->doc_url, item->snapshot, false);
    free(event_data);
    free(doc_copy);
}

/* ------------------------------------------------------- protocol v2 */

void
tb_client_apply_v2(tb_client_t *self, const char *ns, const char *data, size_t data_len,
                   const char *ts_json, size_t ts_len, const char *doc_json, size_t doc_len,
                   bool from_snapshot)
{
    /* The v2 state machine has checked every span; jansson re-reads the
     * data so the mirror holds the same compact text as for v1.  U+0000 is
     * refused as on v1 (and by the broker): the mirror never holds one, so
     * tb_client_get_json can always read its text back. */
    json_error_t jerr;
    json_t *v = json_loadb(data, data_len, JSON_DECODE_ANY, &jerr);
    json_t *doc = doc_len ? json_loadb(doc_json, doc_len, JSON_DECODE_ANY, &jerr) : NULL;
    json_t *ts = ts_len ? json_loadb(ts_json, ts_len, JSON_DECODE_ANY, &jerr) : NULL;
    char *text = v ? tb_client_json_text(v) : NULL;
    if (!text) {
        tb_client_note_reject(self, v ? TB_CLIENT_REJECT_NOMEM : TB_CLIENT_REJECT_BAD_JSON,
                              v ? "out of memory applying an update"
                                : "a v2 value that is not JSON");
    } else {
        tb_item_t item = {
            .ns = ns, .data = text,
            .ts = (ts && json_is_number(ts)) ? json_number_value(ts) : tb_time_now(),
            .doc_url = (doc && json_is_string(doc) && json_string_length(doc) > 0)
                           ? json_string_value(doc) : NULL,
            .snapshot = from_snapshot,
        };
        pthread_mutex_lock(&self->stats_lock);
        self->stats.messages += !from_snapshot;
        self->stats.updates += !from_snapshot;
        pthread_mutex_unlock(&self->stats_lock);
        tb_client_apply_item(self, &item);
        free(item.data);
    }
    json_decref(v);
    json_decref(doc);
    json_decref(ts);
}

void
tb_client_remove_thing(tb_client_t *self, const char *ns)
{
    pthread_mutex_lock(&self->mirror_lock);
    bool had = tb_mirror_remove(self->mirror, ns);
    size_t things = tb_mirror_count(self->mirror);
    pthread_mutex_unlock(&self->mirror_lock);
    if (!had)
        return;
    pthread_mutex_lock(&self->stats_lock);
    self->stats.things = things;
    self->stats.purges++;
    pthread_mutex_unlock(&self->stats_lock);
    s_dispatch(self, ns, tb_time_now(), "null", NULL, false, true);
}

void
tb_client_prune(tb_client_t *self, const char *prefix,
                bool (*holds)(void *arg, const char *ns), void *arg)
{
    tb_thing_list_t list = { 0, NULL };
    pthread_mutex_lock(&self->mirror_lock);
    int rc = tb_mirror_subtree(self->mirror, prefix, &list);
    pthread_mutex_unlock(&self->mirror_lock);
    if (rc != TB_OK)
        return;
    for (size_t i = 0; i < list.count; i++) {
        if (list.items[i].data && !holds(arg, list.items[i].ns))
            tb_client_remove_thing(self, list.items[i].ns);
        tb_thing_clear(&list.items[i]);
    }
    free(list.items);
}

void
tb_client_note_v2(tb_client_t *self, tb_client_note_t what)
{
    pthread_mutex_lock(&self->stats_lock);
    switch (what) {
    case TB_NOTE_LOSS: self->stats.losses++; break;
    case TB_NOTE_RESYNC: self->stats.resyncs++; break;
    case TB_NOTE_DEATH: self->stats.broker_deaths++; break;
    case TB_NOTE_RESTART: self->stats.broker_restarts++; break;
    case TB_NOTE_QUERY: self->stats.queries++; break;
    }
    pthread_mutex_unlock(&self->stats_lock);
}

void
tb_client_note_v2_malformed(tb_client_t *self, uint64_t count)
{
    pthread_mutex_lock(&self->stats_lock);
    self->stats.malformed += count;
    pthread_mutex_unlock(&self->stats_lock);
}

void
tb_client_set_protocol(tb_client_t *self, int protocol)
{
    pthread_mutex_lock(&self->stats_lock);
    self->stats.protocol = protocol;
    if (protocol != 2)
        self->snapshot_url[0] = '\0';
    pthread_mutex_unlock(&self->stats_lock);
}

void
tb_client_set_snapshot_url(tb_client_t *self, const char *url)
{
    pthread_mutex_lock(&self->stats_lock);
    snprintf(self->snapshot_url, sizeof self->snapshot_url, "%s", url ? url : "");
    pthread_mutex_unlock(&self->stats_lock);
}

bool
tb_client_snapshot_url(tb_client_t *self, char *buf, size_t len)
{
    pthread_mutex_lock(&self->stats_lock);
    bool known = self->stats.protocol != 1 && self->snapshot_url[0];
    snprintf(buf, len, "%s", known ? self->snapshot_url : "");
    pthread_mutex_unlock(&self->stats_lock);
    return known;
}

const char *tb_client_subtree_prefix(tb_client_t *self) { return self->subtree ? self->subtree : ""; }

/* --------------------------------------------------------- look-ups */

static int
s_check_ns(tb_client_t *self, const char *ns)
{
    if (!self || !ns)
        return TB_ERR_INVALID_ARG;
    return tb_ns_valid(ns, strlen(ns)) ? TB_OK : TB_ERR_BAD_NS;
}

/* Before the mirror is synced, a Thing it lacks may simply not have
 * arrived yet: ask the v2 snapshot service (tb_client_query.c). */
static void
s_maybe_query(tb_client_t *self, const char *ns, tb_thing_t *t)
{
    pthread_mutex_lock(&self->queue_lock);
    bool synced = self->synced;
    pthread_mutex_unlock(&self->queue_lock);
    if (synced || t->data)
        return;
    tb_thing_t fetched;
    if (tb_client_query_get(self, ns, &fetched) == TB_OK) {
        tb_thing_clear(t);
        *t = fetched;
    }
}

static int
s_get(tb_client_t *self, const char *ns, tb_thing_t *t, double *age)
{
    int rc = s_check_ns(self, ns);
    if (rc != TB_OK)
        return rc;
    pthread_mutex_lock(&self->mirror_lock);
    rc = tb_mirror_get(self->mirror, ns, t);
    pthread_mutex_unlock(&self->mirror_lock);
    if (rc != TB_OK)
        return rc;
    s_maybe_query(self, ns, t);
    if (!t->data) {
        tb_thing_clear(t);
        return TB_ERR_NO_DATA;
    }
    if (age)
        *age = tb_time_now() - t->ts;
    return TB_OK;
}

int
tb_client_get_data(tb_client_t *self, const char *ns, char **data_json, double *age)
{
    tb_thing_t t;
    if (!data_json)
        return TB_ERR_INVALID_ARG;
    *data_json = NULL;
    int rc = s_get(self, ns, &t, age);
    if (rc != TB_OK)
        return rc;
    *data_json = t.data;
    t.data = NULL;
    tb_thing_clear(&t);
    return TB_OK;
}

int
tb_client_get_json(tb_client_t *self, const char *ns, json_t **data, double *age)
{
    tb_thing_t t;
    if (!data)
        return TB_ERR_INVALID_ARG;
    *data = NULL;
    int rc = s_get(self, ns, &t, age);
    if (rc != TB_OK)
        return rc;
    *data = json_loads(t.data, JSON_DECODE_ANY, NULL);
    tb_thing_clear(&t);
    return *data ? TB_OK : TB_ERR_NOMEM;
}

int
tb_client_get_thing(tb_client_t *self, const char *ns, tb_thing_t **thing)
{
    if (!thing)
        return TB_ERR_INVALID_ARG;
    *thing = NULL;
    int rc = s_check_ns(self, ns);
    if (rc != TB_OK)
        return rc;
    tb_thing_t *t = calloc(1, sizeof *t);
    if (!t)
        return TB_ERR_NOMEM;
    pthread_mutex_lock(&self->mirror_lock);
    rc = tb_mirror_get(self->mirror, ns, t);
    pthread_mutex_unlock(&self->mirror_lock);
    if (rc != TB_OK) {
        free(t);
        return rc;
    }
    s_maybe_query(self, ns, t);
    *thing = t;
    return TB_OK;
}

int
tb_client_children(tb_client_t *self, const char *ns, char ***children, size_t *count)
{
    if (!children)
        return TB_ERR_INVALID_ARG;
    *children = NULL;
    if (count)
        *count = 0;
    int rc = s_check_ns(self, ns);
    if (rc != TB_OK)
        return rc;
    pthread_mutex_lock(&self->mirror_lock);
    rc = tb_mirror_children(self->mirror, ns, children, count);
    pthread_mutex_unlock(&self->mirror_lock);
    return rc;
}

int
tb_client_subtree(tb_client_t *self, const char *ns, tb_thing_list_t **list)
{
    if (!list)
        return TB_ERR_INVALID_ARG;
    *list = NULL;
    int rc = s_check_ns(self, ns);
    if (rc != TB_OK)
        return rc;
    tb_thing_list_t *l = calloc(1, sizeof *l);
    if (!l)
        return TB_ERR_NOMEM;
    pthread_mutex_lock(&self->mirror_lock);
    rc = tb_mirror_subtree(self->mirror, ns, l);
    pthread_mutex_unlock(&self->mirror_lock);
    if (rc != TB_OK) {
        free(l);
        return rc;
    }
    *list = l;
    return TB_OK;
}

int
tb_client_walk(tb_client_t *self, const char *ns, tb_client_walk_fn *fn, void *arg)
{
    tb_thing_list_t *list = NULL;
    if (!fn)
        return TB_ERR_INVALID_ARG;
    int rc = tb_client_subtree(self, ns, &list);
    if (rc != TB_OK)
        return rc;
    for (size_t i = 0; i < list->count && rc == 0; i++)
        rc = fn(&list->items[i], arg);
    tb_thing_list_destroy(&list);
    return rc;
}

int
tb_client_stats(tb_client_t *self, tb_client_stats_t *stats)
{
    if (!self || !stats)
        return TB_ERR_INVALID_ARG;
    pthread_mutex_lock(&self->stats_lock);
    *stats = self->stats;
    stats->connected = self->live_connections > 0;
    pthread_mutex_unlock(&self->stats_lock);
    pthread_mutex_lock(&self->queue_lock);
    stats->events_queued = self->ring_len;
    stats->synced = self->synced;
    pthread_mutex_unlock(&self->queue_lock);
    return TB_OK;
}
