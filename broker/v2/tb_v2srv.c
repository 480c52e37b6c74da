/*
 * tb_v2srv.c - the v2 snapshot service: requests on the ROUTER and the
 * streams that answer them, served in bounded slices.
 *
 * Why this exists: a late joiner asks for a subtree and must receive every
 * Thing in it plus the seq the answer is consistent with, without the
 * broker building the whole answer at once (a million Things) and without
 * a slow or vanished reader making it buffer without bound.  Each stream
 * keeps a directory cursor and a credit; tb_v2srv_step() examines a fixed
 * number of Things per call across all streams, so ingest keeps running.
 * Consistency does not need a frozen directory: every entry carries its
 * Thing's seq, the end marker carries the seq the stream started at, and
 * the client merges by "highest seq wins" (PROTOCOL.md, section 15).
 */
#include "tb_v2srv_int.h"
#include "tb_error.h"
#include "tb_proto.h"
#include "tb_time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_REQUEST_FRAMES 6
#define MAX_FRAME_BYTES    (TB_NS_MAX_LEN + 16)
#define MAX_CREDIT_VALUE   999999u

static const char *const reject_names[TB_V2_REJECT_COUNT] = {
    "bad_frames", "unknown_command", "bad_rid", "bad_ns", "bad_credit",
    "busy", "duplicate", "no_stream", "nomem",
};

const char *
tb_v2srv_reject_name(tb_v2_reject_t r)
{
    return (unsigned)r < TB_V2_REJECT_COUNT ? reject_names[r] : "unknown";
}

void
tb_v2srv_config_default(tb_v2srv_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_streams = 256;
    cfg->max_credit = 16;
    cfg->batch_bytes = 64 * 1024;
    cfg->stream_timeout_ms = 30000;
    cfg->heartbeat_ms = 1000;
    cfg->max_prefixes = 4096;
    cfg->max_requests_per_call = 256;
    cfg->expiry_s = 0;
    cfg->epoch = 0;
    cfg->pub_hwm = 1000;
}

size_t
tb_v2_ns_depth(const char *ns, size_t ns_len)
{
    if (ns_len == 0)
        return 0;
    size_t n = 1;
    for (size_t i = 0; i < ns_len; i++)
        n += ns[i] == '.';
    return n;
}

void
v2_append_u64(tb_buf_t *b, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, v);
    tb_buf_append(b, num, (size_t)n);
}

static uint64_t
random_epoch(void)
{
    uint64_t e = 0;
    if (getrandom(&e, sizeof e, GRND_NONBLOCK) != (ssize_t)sizeof e)
        e = (uint64_t)tb_time_mono_us() ^ ((uint64_t)getpid() << 32) ^
            (uint64_t)(tb_time_now() * 1e6);
    return e ? e : 1;
}

static void *
open_socket(void *zctx, int type, const char *endpoint, int hwm, int *err)
{
    void *s = zmq_socket(zctx, type);
    if (!s) {
        *err = TB_ERR_NET;
        return NULL;
    }
    int zero = 0, one = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (type == ZMQ_ROUTER)
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (type == ZMQ_XPUB) {
        zmq_setsockopt(s, ZMQ_XPUB_VERBOSE, &one, sizeof one);
        /* before the bind: a listener copies the options it has then */
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    /* like the broker's v1 endpoints: a wildcard or a bracketed address
     * binds dual-stack, and a wildcard falls back to IPv4 where IPv6 is
     * unavailable */
    int ipv6 = (strchr(endpoint, '*') || strchr(endpoint, '[')) ? 1 : 0;
    zmq_setsockopt(s, ZMQ_IPV6, &ipv6, sizeof ipv6);
    int rc = zmq_bind(s, endpoint);
    if (rc != 0 && ipv6 && strchr(endpoint, '*')) {
        ipv6 = 0;
        zmq_setsockopt(s, ZMQ_IPV6, &ipv6, sizeof ipv6);
        rc = zmq_bind(s, endpoint);
    }
    if (rc != 0) {
        int e = zmq_errno();
        zmq_close(s);
        errno = e;
        *err = TB_ERR_NET;
        return NULL;
    }
    return s;
}

tb_v2srv_t *
tb_v2srv_new(void *zctx, const char *snapshot_endpoint, const char *pub_endpoint,
             const tb_v2_directory_t *dir, void *dir_ctx,
             const tb_v2srv_config_t *cfg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = TB_OK;
    if (!zctx || !dir || !dir->scan || !dir->lookup || !dir->child ||
        !dir->subtree_seq || !dir->current_seq) {
        *err = TB_ERR_INVALID_ARG;
        return NULL;
    }
    tb_v2srv_t *self = calloc(1, sizeof *self);
    if (!self) {
        *err = TB_ERR_NOMEM;
        return NULL;
    }
    if (cfg)
        self->cfg = *cfg;
    else
        tb_v2srv_config_default(&self->cfg);
    if (self->cfg.max_streams == 0) self->cfg.max_streams = 1;
    if (self->cfg.max_credit == 0) self->cfg.max_credit = 1;
    if (self->cfg.batch_bytes < 1024) self->cfg.batch_bytes = 1024;
    if (self->cfg.heartbeat_ms == 0) self->cfg.heartbeat_ms = 1000;
    if (self->cfg.max_requests_per_call == 0) self->cfg.max_requests_per_call = 1;
    if (self->cfg.pub_hwm < 0) self->cfg.pub_hwm = 1000;
    if (self->cfg.epoch == 0)
        self->cfg.epoch = random_epoch();
    snprintf(self->epoch_hex, sizeof self->epoch_hex, "%016" PRIx64, self->cfg.epoch);
    self->dir = *dir;
    self->dir_ctx = dir_ctx;
    tb_buf_init(&self->out, 0);
    tb_buf_init(&self->topic, 0);
    self->streams = calloc(self->cfg.max_streams, sizeof *self->streams);
    self->prefixes = calloc(self->cfg.max_prefixes ? self->cfg.max_prefixes : 1,
                            sizeof *self->prefixes);
    if (!self->streams || !self->prefixes) {
        *err = TB_ERR_NOMEM;
        goto fail;
    }
    if (snapshot_endpoint &&
        !(self->router = open_socket(zctx, ZMQ_ROUTER, snapshot_endpoint, 0, err)))
        goto fail;
    if (pub_endpoint &&
        !(self->xpub = open_socket(zctx, ZMQ_XPUB, pub_endpoint, self->cfg.pub_hwm, err)))
        goto fail;
    return self;
fail: {
        int e = errno;
        tb_v2srv_destroy(&self);
        errno = e;
        return NULL;
    }
}

static void
stream_free(v2_stream_t **s_p)
{
    if (*s_p) {
        tb_buf_free(&(*s_p)->batch);
        free(*s_p);
        *s_p = NULL;
    }
}

void
tb_v2srv_destroy(tb_v2srv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_v2srv_t *self = *self_p;
    if (self->streams)
        for (unsigned i = 0; i < self->cfg.max_streams; i++)
            stream_free(&self->streams[i]);
    free(self->streams);
    v2_prefixes_free(self);
    free(self->prefixes);
    if (self->router)
        zmq_close(self->router);
    if (self->xpub)
        zmq_close(self->xpub);
    tb_buf_free(&self->out);
    tb_buf_free(&self->topic);
    free(self);
    *self_p = NULL;
}

void *tb_v2srv_router(tb_v2srv_t *self) { return self ? self->router : NULL; }
void *tb_v2srv_xpub(tb_v2srv_t *self) { return self ? self->xpub : NULL; }
uint64_t tb_v2srv_epoch(const tb_v2srv_t *self) { return self ? self->cfg.epoch : 0; }
unsigned tb_v2srv_active_streams(const tb_v2srv_t *self) { return self ? self->nstreams : 0; }

void
tb_v2srv_stats(const tb_v2srv_t *self, tb_v2srv_stats_t *out)
{
    *out = self->stats;
    out->active_streams = self->nstreams;
    out->prefixes = self->nprefixes;
}

/* ------------------------------------------------------------ replies */

/* Send [routing id][kind][rid][payload...]; frames beyond the rid are
 * given as (ptr,len) pairs.  Returns 0, -EAGAIN when the client's pipe is
 * full, or -EHOSTUNREACH when the client is gone. */
static int
reply(tb_v2srv_t *self, const void *routing, size_t routing_len, const char *kind,
      const char *rid, size_t rid_len, const void *p1, size_t l1,
      const void *p2, size_t l2, int nextra)
{
    if (zmq_send(self->router, routing, routing_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        return e == EAGAIN ? -EAGAIN : -EHOSTUNREACH;
    }
    /* past the routing frame the message is committed to the pipe */
    zmq_send(self->router, kind, strlen(kind), ZMQ_SNDMORE);
    zmq_send(self->router, rid, rid_len, nextra > 0 ? ZMQ_SNDMORE : 0);
    if (nextra > 0)
        zmq_send(self->router, p1, l1, nextra > 1 ? ZMQ_SNDMORE : 0);
    if (nextra > 1)
        zmq_send(self->router, p2, l2, 0);
    return 0;
}

static void
reject(tb_v2srv_t *self, const void *routing, size_t routing_len, const char *rid,
       size_t rid_len, tb_v2_reject_t why, const char *text)
{
    self->stats.rejected[why]++;
    const char *name = tb_v2srv_reject_name(why);
    (void)reply(self, routing, routing_len, "ERROR", rid, rid_len, name, strlen(name),
                text, strlen(text), 2);
}

/* ------------------------------------------------------------ encoding */

/* Append one snapshot entry with its seq: "ns":{...,"seq":N} */
static void
append_entry(tb_buf_t *b, const tb_v2_thing_t *t)
{
    tb_encode_snapshot_entry(b, t->ns, t->ns_len, t->data, t->data_len, t->ts_json,
                             t->ts_json_len, t->doc_url, t->doc_url_len);
    if (b->len && !tb_buf_failed(b))
        b->len--; /* reopen the entry object to add its seq */
    tb_buf_append(b, ",\"seq\":", 7);
    v2_append_u64(b, t->seq);
    tb_buf_append_char(b, '}');
}

static void
batch_open(v2_stream_t *s)
{
    tb_buf_reset(&s->batch);
    s->batch_items = 0;
    if (s->kind == STREAM_SNAPSHOT) {
        tb_encode_snapshot_begin(&s->batch, tb_time_now());
    } else {
        tb_buf_append_str(&s->batch, "{\"type\":\"thing_children\",\"ns\":");
        tb_json_write_string(&s->batch, s->prefix, s->prefix_len);
        tb_buf_append_str(&s->batch, ",\"children\":[");
    }
}

static void
batch_close(v2_stream_t *s)
{
    if (s->kind == STREAM_SNAPSHOT)
        tb_encode_snapshot_end(&s->batch);
    else
        tb_buf_append_str(&s->batch, "]}");
    s->batch_ready = true;
}

static void
encode_end(tb_v2srv_t *self, const v2_stream_t *s)
{
    tb_buf_t *b = &self->out;
    tb_buf_reset(b);
    tb_buf_append_str(b, "{\"type\":\"snapshot_end\",\"ns\":");
    tb_json_write_string(b, s->prefix, s->prefix_len);
    tb_buf_append_str(b, ",\"seq\":");
    v2_append_u64(b, self->dir.current_seq(self->dir_ctx));
    tb_buf_append_str(b, ",\"start\":");
    v2_append_u64(b, s->start_seq);
    tb_buf_append_str(b, ",\"last\":");
    v2_append_u64(b, s->start_last);
    tb_buf_append_str(b, ",\"things\":");
    v2_append_u64(b, s->items);
    tb_buf_append_str(b, ",\"batches\":");
    v2_append_u64(b, s->batches);
    tb_buf_printf(b, ",\"epoch\":\"%s\"}", self->epoch_hex);
}

/* ------------------------------------------------------------ streams */

static v2_stream_t *
stream_find(tb_v2srv_t *self, const void *routing, size_t routing_len,
            const char *rid, size_t rid_len, unsigned *slot)
{
    for (unsigned i = 0; i < self->cfg.max_streams; i++) {
        v2_stream_t *s = self->streams[i];
        if (s && s->routing_len == routing_len && s->rid_len == rid_len &&
            memcmp(s->routing_id, routing, routing_len) == 0 &&
            memcmp(s->rid, rid, rid_len) == 0) {
            if (slot)
                *slot = i;
            return s;
        }
    }
    return NULL;
}

static void
stream_drop(tb_v2srv_t *self, unsigned slot)
{
    stream_free(&self->streams[slot]);
    self->nstreams--;
}

/* Try to send the closed batch.  Returns 0 sent, -EAGAIN, -EHOSTUNREACH. */
static int
stream_flush(tb_v2srv_t *self, v2_stream_t *s)
{
    if (tb_buf_failed(&s->batch))
        return -ENOMEM;
    int rc = reply(self, s->routing_id, s->routing_len, "BATCH", s->rid, s->rid_len,
                   s->batch.data, s->batch.len, NULL, 0, 1);
    if (rc == 0) {
        s->batch_ready = false;
        s->credit--;
        s->batches++;
        self->stats.batches_sent++;
        tb_buf_reset(&s->batch);
        s->batch_items = 0;
    } else if (rc == -EAGAIN) {
        self->stats.send_would_block++;
    }
    return rc;
}

/* Append the next item (Thing or child) or learn the scan is over.
 * Returns 1 appended, 0 end, 2 paused on budget. */
static int
stream_next(tb_v2srv_t *self, v2_stream_t *s, unsigned *budget, double now)
{
    tb_v2_thing_t t;
    if (s->kind == STREAM_CHILDREN) {
        if (!self->dir.child(self->dir_ctx, s->prefix, s->prefix_len, &s->cursor, &t))
            return 0;
        (*budget)--;
        if (s->batch_items)
            tb_buf_append_char(&s->batch, ',');
        tb_json_write_string(&s->batch, t.ns, t.ns_len);
        return 1;
    }
    for (;;) {
        int r = self->dir.scan(self->dir_ctx, s->prefix, s->prefix_len, &s->cursor,
                               budget, &t);
        if (r == TB_V2_SCAN_END)
            return 0;
        if (r != TB_V2_SCAN_THING)
            return 2;
        if (!t.data || (self->cfg.expiry_s > 0 && now - t.received > self->cfg.expiry_s)) {
            if (*budget == 0)
                return 2;
            continue;
        }
        if (s->batch_items)
            tb_buf_append_char(&s->batch, ',');
        append_entry(&s->batch, &t);
        return 1;
    }
}

/* Work on one stream with at most *budget Things examined.
 * Returns true when the stream could use more work right now. */
static bool
stream_work(tb_v2srv_t *self, unsigned slot, unsigned *budget, double now)
{
    v2_stream_t *s = self->streams[slot];
    for (;;) {
        if (s->batch_ready) {
            if (s->credit == 0)
                return false;
            int rc = stream_flush(self, s);
            if (rc == -EAGAIN)
                return false;
            if (rc < 0) {
                self->stats.streams_lost++;
                stream_drop(self, slot);
                return false;
            }
            continue;
        }
        if (s->scan_done) {
            if (s->batch_items) {
                batch_close(s);
                continue;
            }
            encode_end(self, s);
            if (tb_buf_failed(&self->out)) {
                self->stats.streams_lost++;
                stream_drop(self, slot);
                return false;
            }
            int rc = reply(self, s->routing_id, s->routing_len, "END", s->rid, s->rid_len,
                           self->out.data, self->out.len, NULL, 0, 1);
            if (rc == -EAGAIN) {
                self->stats.send_would_block++;
                return false;
            }
            if (rc == 0) {
                self->stats.end_markers_sent++;
                self->stats.streams_finished++;
            } else {
                self->stats.streams_lost++;
            }
            stream_drop(self, slot);
            return false;
        }
        if (s->credit == 0 || *budget == 0)
            return s->credit > 0;
        if (s->batch_items == 0 && s->batch.len == 0)
            batch_open(s);
        int r = stream_next(self, s, budget, now);
        if (r == 0) {
            s->scan_done = true;
        } else if (r == 2) {
            return true;
        } else {
            s->batch_items++;
            s->items++;
            self->stats.things_sent++;
            if (s->batch.len >= self->cfg.batch_bytes)
                batch_close(s);
        }
    }
}

bool
tb_v2srv_step(tb_v2srv_t *self, uint64_t now_ms, unsigned budget)
{
    if (!self || !self->router)
        return false;
    double now = tb_time_now();
    unsigned n = self->cfg.max_streams;
    /* drop streams whose client stopped asking: a vanished reader must not
     * pin a cursor and a batch forever */
    for (unsigned i = 0; i < n; i++) {
        v2_stream_t *s = self->streams[i];
        if (s && (s->credit == 0 || s->batch_ready) && now_ms > s->last_heard_ms &&
            now_ms - s->last_heard_ms > self->cfg.stream_timeout_ms) {
            self->stats.streams_timed_out++;
            stream_drop(self, i);
        }
    }
    if (self->nstreams == 0)
        return false;
    /* fair share: each busy stream gets a slice, round-robin from rr */
    unsigned slice = budget / self->nstreams;
    if (slice < 64)
        slice = 64;
    bool more = false;
    for (unsigned k = 0; k < n && budget > 0; k++) {
        unsigned i = (self->rr + k) % n;
        if (!self->streams[i])
            continue;
        unsigned mine = slice < budget ? slice : budget;
        unsigned left = mine;
        if (stream_work(self, i, &left, now))
            more = true;
        budget -= mine - left;
    }
    self->rr = (self->rr + 1) % n;
    return more || (budget == 0 && self->nstreams > 0);
}

/* ------------------------------------------------------------ requests */

typedef struct {
    zmq_msg_t frames[MAX_REQUEST_FRAMES];
    int       n;
    bool      oversized;
    bool      too_many;
} request_t;

static const char *
frame_data(request_t *r, int i, size_t *len)
{
    *len = zmq_msg_size(&r->frames[i]);
    return zmq_msg_data(&r->frames[i]);
}

static bool
frame_is(request_t *r, int i, const char *word)
{
    size_t len;
    const char *d = frame_data(r, i, &len);
    return len == strlen(word) && memcmp(d, word, len) == 0;
}

static bool
parse_credit(const char *d, size_t len, unsigned *out)
{
    if (len == 0 || len > 6)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (d[i] < '0' || d[i] > '9')
            return false;
        v = v * 10 + (unsigned)(d[i] - '0');
    }
    if (v == 0 || v > MAX_CREDIT_VALUE)
        return false;
    *out = v;
    return true;
}

/* Reads one whole message; returns false when nothing is waiting. */
static bool
request_read(tb_v2srv_t *self, request_t *r)
{
    r->n = 0;
    r->oversized = r->too_many = false;
    for (;;) {
        zmq_msg_t tmp;
        zmq_msg_t *m = r->n < MAX_REQUEST_FRAMES ? &r->frames[r->n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, self->router, r->n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(m);
            return r->n > 0;
        }
        bool more = zmq_msg_more(m);
        if (m == &tmp) {
            r->too_many = true;
            zmq_msg_close(m);
        } else {
            if (r->n > 0 && zmq_msg_size(m) > MAX_FRAME_BYTES)
                r->oversized = true;
            r->n++;
        }
        if (!more)
            return true;
    }
}

static void
request_close(request_t *r)
{
    for (int i = 0; i < r->n; i++)
        zmq_msg_close(&r->frames[i]);
    r->n = 0;
}

static void
answer_get(tb_v2srv_t *self, const void *routing, size_t rlen, const char *rid,
           size_t rid_len, const char *ns, size_t ns_len)
{
    tb_v2_thing_t t;
    if (!self->dir.lookup(self->dir_ctx, ns, ns_len, &t)) {
        static const char name[] = "not_found";
        const char *text = "no such Thing";
        (void)reply(self, routing, rlen, "ERROR", rid, rid_len, name, sizeof name - 1,
                    text, strlen(text), 2);
        return;
    }
    if (!t.data) {
        static const char name[] = "no_data";
        const char *text = "the Thing has no data yet";
        (void)reply(self, routing, rlen, "ERROR", rid, rid_len, name, sizeof name - 1,
                    text, strlen(text), 2);
        return;
    }
    tb_buf_t *b = &self->out;
    tb_buf_reset(b);
    tb_buf_append_char(b, '{');
    append_entry(b, &t);
    tb_buf_append_char(b, '}');
    if (tb_buf_failed(b)) {
        reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_NOMEM, "out of memory");
        return;
    }
    /* {"ns":{entry}}: the same map as a thing_snapshot's "data" */
    (void)reply(self, routing, rlen, "THING", rid, rid_len, b->data, b->len, NULL, 0, 1);
}

static void
open_stream(tb_v2srv_t *self, stream_kind_t kind, const void *routing, size_t rlen,
            const char *rid, size_t rid_len, const char *ns, size_t ns_len,
            unsigned credit, uint64_t now_ms)
{
    if (stream_find(self, routing, rlen, rid, rid_len, NULL)) {
        reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_DUPLICATE,
               "a stream with this request id is under way");
        return;
    }
    if (self->nstreams >= self->cfg.max_streams) {
        reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_BUSY,
               "too many snapshot streams; retry later");
        return;
    }
    unsigned slot = 0;
    while (self->streams[slot])
        slot++;
    v2_stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_NOMEM, "out of memory");
        return;
    }
    s->kind = kind;
    memcpy(s->routing_id, routing, rlen);
    s->routing_len = rlen;
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    memcpy(s->prefix, ns, ns_len);
    s->prefix_len = ns_len;
    s->credit = credit < self->cfg.max_credit ? credit : self->cfg.max_credit;
    s->start_seq = self->dir.current_seq(self->dir_ctx);
    s->start_last = self->dir.subtree_seq(self->dir_ctx, ns, ns_len);
    s->last_heard_ms = now_ms;
    /* a batch may exceed batch_bytes by one entry (entries are not split) */
    tb_buf_init(&s->batch, 0);
    self->streams[slot] = s;
    self->nstreams++;
    self->stats.streams_started++;
}

static void
handle_request(tb_v2srv_t *self, request_t *r, uint64_t now_ms)
{
    size_t rlen;
    const char *routing = frame_data(r, 0, &rlen);
    if (rlen > V2_ROUTING_MAX)
        return; /* cannot happen with libzmq routing ids; nothing to answer */
    size_t rid_len = 0;
    const char *rid = "";
    if (r->n >= 3)
        rid = frame_data(r, 2, &rid_len);
    if (r->n < 3 || r->too_many || r->oversized) {
        reject(self, routing, rlen, "", 0, TB_V2_REJECT_BAD_FRAMES,
               "a request is COMMAND, REQUEST-ID and its arguments");
        return;
    }
    if (rid_len == 0 || rid_len > V2_RID_MAX) {
        reject(self, routing, rlen, "", 0, TB_V2_REJECT_BAD_RID,
               "the request id must be 1 to 32 bytes");
        return;
    }
    int argc = r->n - 3;
    bool snapshot = frame_is(r, 1, "SNAPSHOT"), children = frame_is(r, 1, "CHILDREN");
    if (snapshot || children || frame_is(r, 1, "GET")) {
        if (argc != ((snapshot || children) ? 2 : 1)) {
            reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_BAD_FRAMES,
                   "wrong number of frames for this command");
            return;
        }
        size_t ns_len;
        const char *ns = frame_data(r, 3, &ns_len);
        if (!tb_ns_valid(ns, ns_len)) {
            reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_BAD_NS,
                   "the namespace breaks the namespace rule");
            return;
        }
        if (!snapshot && !children) {
            self->stats.requests++;
            answer_get(self, routing, rlen, rid, rid_len, ns, ns_len);
            return;
        }
        size_t clen;
        const char *c = frame_data(r, 4, &clen);
        unsigned credit;
        if (!parse_credit(c, clen, &credit)) {
            reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_BAD_CREDIT,
                   "credit must be a decimal number from 1 to 999999");
            return;
        }
        self->stats.requests++;
        open_stream(self, snapshot ? STREAM_SNAPSHOT : STREAM_CHILDREN, routing, rlen,
                    rid, rid_len, ns, ns_len, credit, now_ms);
        return;
    }
    bool credit_cmd = frame_is(r, 1, "CREDIT");
    if (credit_cmd || frame_is(r, 1, "CANCEL")) {
        if (argc != (credit_cmd ? 1 : 0)) {
            reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_BAD_FRAMES,
                   "wrong number of frames for this command");
            return;
        }
        unsigned credit = 0;
        if (credit_cmd) {
            size_t clen;
            const char *c = frame_data(r, 3, &clen);
            if (!parse_credit(c, clen, &credit)) {
                reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_BAD_CREDIT,
                       "credit must be a decimal number from 1 to 999999");
                return;
            }
        }
        unsigned slot;
        v2_stream_t *s = stream_find(self, routing, rlen, rid, rid_len, &slot);
        if (!s) {
            /* a CREDIT or CANCEL racing the END marker is normal: counted,
             * not answered, so the client never has to parse a stray ERROR */
            self->stats.rejected[TB_V2_REJECT_NO_STREAM]++;
            return;
        }
        self->stats.requests++;
        if (credit_cmd) {
            unsigned room = self->cfg.max_credit - (s->credit < self->cfg.max_credit
                                                    ? s->credit : self->cfg.max_credit);
            s->credit += credit < room ? credit : room;
            s->last_heard_ms = now_ms;
        } else {
            self->stats.streams_cancelled++;
            stream_drop(self, slot);
        }
        return;
    }
    reject(self, routing, rlen, rid, rid_len, TB_V2_REJECT_UNKNOWN_COMMAND,
           "unknown command (SNAPSHOT, CHILDREN, GET, CREDIT, CANCEL)");
}

int
tb_v2srv_handle_requests(tb_v2srv_t *self, uint64_t now_ms)
{
    if (!self || !self->router)
        return 0;
    int count = 0;
    request_t r;
    while ((unsigned)count < self->cfg.max_requests_per_call && request_read(self, &r)) {
        count++;
        handle_request(self, &r, now_ms);
        request_close(&r);
    }
    return count;
}
