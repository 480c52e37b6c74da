/*
 * tb_adaptor.c - the public calls of libthingsbus-adaptor: options,
 * creation, validation and encoding of sends, stats, destroy.
 *
 * Why this exists: everything that can be wrong with a send (namespace,
 * data, timestamp, size) is decided here, in the caller's thread, so the
 * caller gets the reason at the call and nothing invalid is ever queued.
 * The message is encoded to its final wire bytes before it is queued; the
 * background thread (tb_adaptor_zmq.c / tb_adaptor_udp.c) only moves bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>
#include "tb_adaptor_internal.h"
#include "tb_buf.h"
#include "tb_error.h"
#include "tb_ns.h"
#include "tb_proto.h"
#include "tb_time.h"

/* Namespaces remembered for suppression (memory bound). */
#define SUPPRESS_MAX_ENTRIES 65536
/* JSON data larger than this is refused (the broker's default input limit). */
#define MAX_DATA_BYTES TB_DEFAULT_MAX_INPUT

void
tb_adaptor_options_init(tb_adaptor_options_t *options)
{
    if (!options)
        return;
    memset(options, 0, sizeof *options);
    options->zmq_mode = TB_ADAPTOR_PUSH;
    options->form = TB_ADAPTOR_FORM_DEFAULT;
    options->queue_size = TB_ADAPTOR_DEFAULT_QUEUE_SIZE;
    options->linger_ms = TB_ADAPTOR_DEFAULT_LINGER_MS;
    options->heartbeat_s = TB_ADAPTOR_DEFAULT_HEARTBEAT_S;
    options->reresolve_s = TB_ADAPTOR_DEFAULT_RERESOLVE_S;
    options->dns_timeout_ms = TB_ADAPTOR_DEFAULT_DNS_TIMEOUT_MS;
}

const char *
tb_adaptor_strerror(int error)
{
    return tb_error_text(error);
}

const char *
tb_adaptor_ns(const tb_adaptor_t *self)
{
    return self ? self->ns : NULL;
}

static char *
dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

static void
free_adaptor(tb_adaptor_t *self)
{
    tb_queue_free(&self->queue);
    tb_suppress_destroy(&self->suppress);
    tb_fw_udp_close(&self->udp);
    if (self->zone_on)
        tb_zone_free(&self->zone_state);
    if (self->zmq_ctx)
        zmq_ctx_term(self->zmq_ctx);
    free(self->ns);
    free(self->doc_url);
    free(self->doc_url_json);
    free(self->url);
    free(self->zone);
    free(self->dns_servers);
    pthread_cond_destroy(&self->wake);
    pthread_cond_destroy(&self->drained);
    pthread_mutex_destroy(&self->lock);
    free(self);
}

/* A ZeroMQ endpoint we can connect to: tcp://host:port (also ipc://,
 * inproc:// are left to ZeroMQ to judge at connect time). */
static bool
url_looks_valid(const char *url)
{
    if (strncmp(url, "tcp://", 6) == 0) {
        const char *colon = strrchr(url + 6, ':');
        if (!colon || colon == url + 6 || !colon[1])
            return false;
        for (const char *p = colon + 1; *p; p++)
            if (*p < '0' || *p > '9')
                return false;
        long port = strtol(colon + 1, NULL, 10);
        return port > 0 && port <= 65535;
    }
    return strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0;
}

static int
check_options(const tb_adaptor_options_t *o)
{
    int targets = (o->broker_input_url != NULL) + (o->udp_address != NULL) + (o->zone != NULL);
    if (targets != 1)
        return TB_ERR_INVALID_ARG;
    if (!o->ns || !*o->ns || !tb_ns_valid(o->ns, strlen(o->ns)))
        return TB_ERR_BAD_NS;
    if (o->zmq_mode != TB_ADAPTOR_PUSH && o->zmq_mode != TB_ADAPTOR_PUB)
        return TB_ERR_INVALID_ARG;
    if (o->form != TB_ADAPTOR_FORM_DEFAULT && o->form != TB_ADAPTOR_FORM_LIST &&
        o->form != TB_ADAPTOR_FORM_MAP)
        return TB_ERR_INVALID_ARG;
    if (o->linger_ms < TB_ADAPTOR_LINGER_NONE || o->dns_timeout_ms < 0 ||
        !(o->heartbeat_s >= 0) || !(o->reresolve_s >= 0) ||
        isinf(o->heartbeat_s) || isinf(o->reresolve_s))
        return TB_ERR_INVALID_ARG;
    if (o->queue_size > ((size_t)1 << 26))
        return TB_ERR_INVALID_ARG;
    if (o->broker_input_url && !url_looks_valid(o->broker_input_url))
        return TB_ERR_BAD_URL;
    if (o->zone && !*o->zone)
        return TB_ERR_INVALID_ARG;
    if (o->documentation_url) {
        tb_limits_t lim;
        tb_limits_default(&lim);
        tb_buf_t b;
        tb_buf_init(&b, 0);
        tb_json_write_string(&b, o->documentation_url, strlen(o->documentation_url));
        int bad = tb_buf_failed(&b) ? TB_ERR_NOMEM
                : tb_json_check(b.data, b.len, &lim, NULL) != TB_REASON_OK ? TB_ERR_INVALID_ARG
                : TB_OK;
        tb_buf_free(&b);
        if (bad)
            return bad;     /* not valid UTF-8 */
    }
    return TB_OK;
}

/* A finite, non-negative number of seconds as milliseconds.  Huge values
 * ("never") saturate: converting a double beyond UINT64_MAX is undefined
 * and on x86-64 gives 0, which would turn suppression off altogether. */
static uint64_t
seconds_to_ms(double s)
{
    const double cap = 1e15;       /* ~31 700 years */
    double ms = s * 1000.0;
    return ms >= cap ? (uint64_t)cap : (uint64_t)ms;
}

tb_adaptor_t *
tb_adaptor_new(const tb_adaptor_options_t *options, int *error)
{
    int dummy;
    if (!error)
        error = &dummy;
    if (!options) {
        *error = TB_ERR_INVALID_ARG;
        return NULL;
    }
    int rc = check_options(options);
    if (rc != TB_OK) {
        *error = rc;
        return NULL;
    }
    tb_adaptor_t *self = calloc(1, sizeof *self);
    if (!self) {
        *error = TB_ERR_NOMEM;
        return NULL;
    }
    self->udp.fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &ca);
    pthread_cond_init(&self->drained, &ca);
    pthread_condattr_destroy(&ca);

    bool failed = false;
    self->ns = dup_or_null(options->ns, &failed);
    self->ns_len = strlen(options->ns);
    self->doc_url = dup_or_null(options->documentation_url, &failed);
    self->url = dup_or_null(options->broker_input_url, &failed);
    self->zone = dup_or_null(options->zone, &failed);
    self->dns_servers = dup_or_null(options->dns_servers, &failed);
    if (self->doc_url && !failed) {
        tb_buf_t b;
        tb_buf_init(&b, 0);
        tb_json_write_string(&b, self->doc_url, strlen(self->doc_url));
        if (tb_buf_failed(&b))
            failed = true;
        self->doc_url_json = tb_buf_steal(&b, &self->doc_url_json_len);
        tb_buf_free(&b);
        if (!self->doc_url_json)
            failed = true;
    }
    self->transport = (options->udp_address || (options->zone && options->zone_udp))
                    ? TB_TRANSPORT_UDP : TB_TRANSPORT_ZMQ;
    self->form = options->form != TB_ADAPTOR_FORM_DEFAULT ? options->form
               : self->transport == TB_TRANSPORT_UDP ? TB_ADAPTOR_FORM_LIST
               : TB_ADAPTOR_FORM_MAP;
    self->zmq_mode = options->zmq_mode;
    self->linger_ms = options->linger_ms == 0 ? TB_ADAPTOR_DEFAULT_LINGER_MS : options->linger_ms;
    self->dns_timeout_ms = options->dns_timeout_ms ? options->dns_timeout_ms
                                                   : TB_ADAPTOR_DEFAULT_DNS_TIMEOUT_MS;
    self->reresolve_ms = seconds_to_ms(options->reresolve_s > 0 ? options->reresolve_s
                                                               : TB_ADAPTOR_DEFAULT_RERESOLVE_S);
    self->heartbeat_ms = seconds_to_ms(options->heartbeat_s > 0 ? options->heartbeat_s
                                                              : TB_ADAPTOR_DEFAULT_HEARTBEAT_S);
    self->suppress_on = options->suppress_unchanged;

    size_t qsize = options->queue_size ? options->queue_size : TB_ADAPTOR_DEFAULT_QUEUE_SIZE;
    if (failed || tb_queue_init(&self->queue, qsize) != TB_OK) {
        free_adaptor(self);
        *error = TB_ERR_NOMEM;
        return NULL;
    }
    self->stats.queue_size = qsize;
    if (self->suppress_on && !(self->suppress = tb_suppress_new(SUPPRESS_MAX_ENTRIES))) {
        free_adaptor(self);
        *error = TB_ERR_NOMEM;
        return NULL;
    }

    if (self->zone) {
        rc = tb_zone_init(&self->zone_state, self->dns_servers, self->reresolve_ms);
        if (rc != TB_OK) {
            free_adaptor(self);
            *error = rc;
            return NULL;
        }
        self->zone_on = true;
    }
    void *(*worker)(void *);
    if (self->transport == TB_TRANSPORT_UDP) {
        self->stats.connected = options->udp_address != NULL;
        if (options->udp_address) {
            rc = tb_fw_udp_open(&self->udp, options->udp_address);
            if (rc != TB_OK) {
                free_adaptor(self);
                *error = rc;
                return NULL;
            }
        }
        worker = tb_adaptor_udp_worker;
    } else {
        self->zmq_ctx = zmq_ctx_new();
        if (!self->zmq_ctx) {
            free_adaptor(self);
            *error = TB_ERR_NET;
            return NULL;
        }
        /* Our thread is the only user of the context: one I/O thread. */
        zmq_ctx_set(self->zmq_ctx, ZMQ_IO_THREADS, 1);
        worker = tb_adaptor_zmq_worker;
    }
    if (pthread_create(&self->thread, NULL, worker, self) != 0) {
        free_adaptor(self);
        *error = TB_ERR_SYSTEM;
        return NULL;
    }
    self->thread_started = true;
    *error = TB_OK;
    return self;
}

void
tb_adaptor_destroy(tb_adaptor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_adaptor_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    self->stop_deadline_ms = tb_time_mono_ms() +
        (self->linger_ms > 0 ? (uint64_t)self->linger_ms : 0);
    pthread_cond_broadcast(&self->wake);
    pthread_cond_broadcast(&self->drained);
    pthread_mutex_unlock(&self->lock);
    if (self->thread_started)
        pthread_join(self->thread, NULL);
    free_adaptor(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------ sending */

/* Count a refusal at the call and pass its code through. */
static int
reject(tb_adaptor_t *self, int error)
{
    pthread_mutex_lock(&self->lock);
    self->stats.rejected++;
    pthread_mutex_unlock(&self->lock);
    return error;
}

static int
reason_to_error(tb_reason_t r)
{
    switch (r) {
    case TB_REASON_OK:        return TB_OK;
    case TB_REASON_TOO_LARGE: return TB_ERR_TOO_LARGE;
    case TB_REASON_NOMEM:     return TB_ERR_NOMEM;
    default:                  return TB_ERR_BAD_DATA;
    }
}

/* Pack a jansson value as msgpack (the UDP path). depth guards recursion
 * (the value was already checked against the depth limit). */
static int
pack_json(msgpack_packer *pk, const json_t *v, unsigned depth)
{
    if (depth > TB_DEFAULT_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach((json_t *)v, key, val) {
            size_t n = strlen(key);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, key, n);
            if (pack_json(pk, val, depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, val)
            if (pack_json(pk, val, depth + 1) != 0)
                return -1;
        return 0;
    }
    case JSON_STRING: {
        size_t n = json_string_length(v);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, json_string_value(v), n);
        return 0;
    }
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(v));
        return 0;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(v));
        return 0;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return 0;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return 0;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        return 0;
    }
    return -1;
}

static int
pack_json_cb(msgpack_packer *pk, void *arg)
{
    return pack_json(pk, arg, 1);
}

/* Trim JSON whitespace around a validated value. */
static void
trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t' || (*s)[0] == '\n' || (*s)[0] == '\r')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
                  (*s)[*n - 1] == '\n' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* Encode the JSON wire message (map or list form) into out. */
static void
encode_json_message(tb_adaptor_t *self, tb_buf_t *out, const char *ns, size_t ns_len,
                    const char *data, size_t data_len, double ts)
{
    tb_buf_t ts_json;
    tb_buf_init(&ts_json, 0);
    tb_json_write_double(&ts_json, ts);
    if (tb_buf_failed(&ts_json))
        out->failed = true;
    else if (self->form == TB_ADAPTOR_FORM_MAP)
        tb_encode_update(out, ns, ns_len, data, data_len, ts_json.data, ts_json.len,
                         self->doc_url_json, self->doc_url_json_len, -1);
    else
        tb_encode_update_list(out, ns, ns_len, data, data_len, ts_json.data, ts_json.len,
                              self->doc_url_json, self->doc_url_json_len);
    tb_buf_free(&ts_json);
}

/* Queue an encoded message (takes ownership of bytes). */
static int
enqueue(tb_adaptor_t *self, char *bytes, size_t len, const char *ns, size_t ns_len,
        const char *canon, size_t canon_len)
{
    pthread_mutex_lock(&self->lock);
    if (self->stopping) {
        pthread_mutex_unlock(&self->lock);
        free(bytes);
        return TB_ERR_CLOSED;
    }
    uint64_t now = tb_time_mono_ms();
    if (canon && tb_suppress_is_unchanged(self->suppress, ns, ns_len, canon, canon_len,
                                          now, self->heartbeat_ms)) {
        self->stats.suppressed++;
        pthread_mutex_unlock(&self->lock);
        free(bytes);
        return TB_OK;
    }
    tb_msg_t m = { bytes, len };
    if (!tb_queue_push(&self->queue, m)) {
        self->stats.dropped++;
        pthread_mutex_unlock(&self->lock);
        free(bytes);
        return TB_ERR_QUEUE_FULL;
    }
    if (canon)
        tb_suppress_record(self->suppress, ns, ns_len, canon, canon_len, now);
    if (self->queue.count == 1)
        pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    return TB_OK;
}

/* The common path: data given as validated-or-not text and/or a value. */
static int
send_common(tb_adaptor_t *self, const char *sub_ns, const char *text, size_t text_len,
            const json_t *value, double ts)
{
    if (isnan(ts))
        ts = tb_time_now();
    else if (isinf(ts))
        return reject(self, TB_ERR_INVALID_ARG);

    char ns[TB_NS_MAX_LEN + 1];
    int ns_len = tb_ns_join(ns, sizeof ns, self->ns, sub_ns ? sub_ns : "");
    if (ns_len <= 0)
        return reject(self, TB_ERR_BAD_NS);

    tb_limits_t lim;
    tb_limits_default(&lim);
    lim.max_input = MAX_DATA_BYTES;
    tb_reason_t r = tb_json_check(text, text_len, &lim, NULL);
    if (r != TB_REASON_OK)
        return r == TB_REASON_NOMEM ? TB_ERR_NOMEM : reject(self, reason_to_error(r));
    trim(&text, &text_len);

    /* The UDP path and suppression need the parsed value. */
    json_t *parsed = NULL;
    if (!value && (self->transport == TB_TRANSPORT_UDP || self->suppress_on)) {
        json_error_t jerr;
        parsed = json_loadb(text, text_len, JSON_DECODE_ANY, &jerr);
        if (!parsed)
            return reject(self, TB_ERR_BAD_DATA);   /* jansson disagrees: refuse */
        value = parsed;
    }
    char *canon = NULL;
    size_t canon_len = 0;
    if (self->suppress_on) {
        canon = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!canon) {
            json_decref(parsed);
            return TB_ERR_NOMEM;
        }
        canon_len = strlen(canon);
    }

    int rc;
    char *bytes = NULL;
    size_t len = 0;
    if (self->transport == TB_TRANSPORT_UDP) {
        bytes = malloc(TB_FW_MAX_DATAGRAM);
        if (!bytes) {
            rc = TB_ERR_NOMEM;
        } else {
            rc = tb_fw_encode(bytes, TB_FW_MAX_DATAGRAM, &len,
                              self->form == TB_ADAPTOR_FORM_MAP ? TB_FW_MAP : TB_FW_LIST,
                              ns, ts, pack_json_cb, (void *)value, self->doc_url);
            if (rc == TB_OK) {
                char *shrunk = realloc(bytes, len ? len : 1);
                if (shrunk)
                    bytes = shrunk;
            }
        }
    } else {
        tb_buf_t out;
        tb_buf_init(&out, 0);
        encode_json_message(self, &out, ns, (size_t)ns_len, text, text_len, ts);
        if (tb_buf_failed(&out)) {
            tb_buf_free(&out);
            rc = TB_ERR_NOMEM;
        } else {
            bytes = tb_buf_steal(&out, &len);
            tb_buf_free(&out);
            rc = bytes ? TB_OK : TB_ERR_NOMEM;
        }
    }
    json_decref(parsed);
    if (rc != TB_OK) {
        free(bytes);
        free(canon);
        return rc == TB_ERR_NOMEM ? rc : reject(self, rc);
    }
    rc = enqueue(self, bytes, len, ns, (size_t)ns_len, canon, canon_len);
    free(canon);
    return rc;
}

int
tb_adaptor_send_json(tb_adaptor_t *self, const char *sub_ns, const char *json,
                     size_t len, double ts)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    if (!json)
        return reject(self, TB_ERR_INVALID_ARG);
    if (len == (size_t)-1)
        len = strlen(json);
    return send_common(self, sub_ns, json, len, NULL, ts);
}

int
tb_adaptor_send(tb_adaptor_t *self, const char *sub_ns, const struct json_t *data, double ts)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    if (!data)
        return reject(self, TB_ERR_INVALID_ARG);
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (!text)
        return reject(self, TB_ERR_BAD_DATA);   /* e.g. a non-finite real */
    int rc = send_common(self, sub_ns, text, strlen(text), data, ts);
    free(text);
    return rc;
}

int
tb_adaptor_flush(tb_adaptor_t *self, int timeout_ms)
{
    if (!self || timeout_ms < 0)
        return TB_ERR_INVALID_ARG;
    uint64_t deadline = tb_time_mono_ms() + (uint64_t)timeout_ms;
    pthread_mutex_lock(&self->lock);
    while (self->queue.count > 0 && !self->stopping) {
        uint64_t now = tb_time_mono_ms();
        if (now >= deadline)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wait = deadline - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&self->drained, &self->lock, &ts);
    }
    int rc = self->queue.count == 0 ? TB_OK : TB_ERR_TIMEOUT;
    pthread_mutex_unlock(&self->lock);
    return rc;
}

int
tb_adaptor_stats(tb_adaptor_t *self, tb_adaptor_stats_t *stats)
{
    if (!self || !stats)
        return TB_ERR_INVALID_ARG;
    pthread_mutex_lock(&self->lock);
    *stats = self->stats;
    stats->queue_depth = self->queue.count;
    pthread_mutex_unlock(&self->lock);
    return TB_OK;
}

/* ------------------------------------------------------ worker helpers */

static void
deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

tb_msg_t *
tb_adaptor_next(tb_adaptor_t *self, int wait_ms, bool *stop)
{
    pthread_mutex_lock(&self->lock);
    *stop = false;
    if (self->queue.count == 0 && !self->stopping && wait_ms > 0) {
        struct timespec ts;
        deadline_in(&ts, wait_ms);
        pthread_cond_timedwait(&self->wake, &self->lock, &ts);
    }
    if (self->stopping &&
        (self->queue.count == 0 || tb_time_mono_ms() >= self->stop_deadline_ms)) {
        /* Whatever is left after the linger is lost: say so in the counters. */
        self->stats.errors += self->queue.count;
        *stop = true;
    }
    tb_msg_t *m = *stop ? NULL : tb_queue_peek(&self->queue);
    pthread_mutex_unlock(&self->lock);
    return m;
}

void
tb_adaptor_done(tb_adaptor_t *self, int error)
{
    pthread_mutex_lock(&self->lock);
    tb_queue_drop_head(&self->queue);
    if (error == TB_OK) {
        self->stats.sent++;
    } else {
        self->stats.errors++;
        self->stats.last_error = error;
    }
    if (self->queue.count == 0)
        pthread_cond_broadcast(&self->drained);
    pthread_mutex_unlock(&self->lock);
}

int
tb_adaptor_linger_left(tb_adaptor_t *self)
{
    pthread_mutex_lock(&self->lock);
    int left = -1;
    if (self->stopping) {
        uint64_t now = tb_time_mono_ms();
        left = now >= self->stop_deadline_ms ? 0 : (int)(self->stop_deadline_ms - now);
    }
    pthread_mutex_unlock(&self->lock);
    return left;
}

void
tb_adaptor_set_connected(tb_adaptor_t *self, bool connected, bool disconnect_event)
{
    pthread_mutex_lock(&self->lock);
    self->stats.connected = connected;
    if (disconnect_event)
        self->stats.disconnects++;
    pthread_mutex_unlock(&self->lock);
}

void
tb_adaptor_set_error(tb_adaptor_t *self, int error)
{
    pthread_mutex_lock(&self->lock);
    self->stats.last_error = error;
    pthread_mutex_unlock(&self->lock);
}

void
tb_adaptor_count_resolution(tb_adaptor_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->stats.resolutions++;
    pthread_mutex_unlock(&self->lock);
}

bool
tb_adaptor_is_stopping(tb_adaptor_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool s = self->stopping;
    pthread_mutex_unlock(&self->lock);
    return s;
}
