/*
 * tb_v2sync.c - the v2 client sync state machine.
 *
 * Why this exists: it is the one place that decides what a client holds,
 * so the Clone-pattern rules live here and nowhere else:
 *   - every Thing held remembers the seq of its value; any value (snapshot
 *     entry or update) replaces it only with a higher seq, so a stream
 *     served while the directory changes still merges to the exact state;
 *   - live messages are buffered while the snapshot streams; at its end
 *     marker only those with seq > "start" are replayed (older ones are in
 *     the snapshot already);
 *   - from the end marker on, each message's prev[depth] must equal the
 *     seq of the last message seen in the subtree, and each heartbeat for
 *     the subtree must carry that same seq as "last"; anything else is
 *     loss: ask for a new snapshot and report it.
 * Anything received before a request is sent was published before the
 * broker handles that request, so the buffer is cleared on every request.
 */
#include "tb_v2sync_int.h"
#include "tb_ns.h"
#include "thingsbus_errors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char  *body;
    size_t len;
} v2_raw_t;

/* One filtered-PUB message, read in place (spans into its body). */
typedef enum { MSG_UPDATE, MSG_PURGE, MSG_HEARTBEAT } msg_type_t;
typedef struct {
    msg_type_t    type;
    bool          has_type, has_ns, has_seq, has_last, has_interval, has_data;
    char          ns[TB_NS_MAX_LEN + 1];
    size_t        ns_len;
    uint64_t      seq, last, interval;
    tb_v2_value_t v;
    const char   *prev;
    size_t        prev_len;
    const char   *epoch;
    size_t        epoch_len;
    bool          bad;
} msg_t;

struct tb_v2sync_t {
    char                prefix[TB_NS_MAX_LEN + 1];
    size_t              prefix_len;
    char                topic[TB_NS_MAX_LEN + 2];
    size_t              depth;
    tb_v2sync_config_t  cfg;
    tb_v2sync_actions_t act;
    void               *ctx;
    tb_v2sync_state_t   state;
    bool                v2_seen;       /* a v2 broker answered at least once */
    bool                ever_synced;
    bool                dead_reported;
    uint64_t            started_ms, last_rx_ms, sub_deadline_ms;
    uint64_t            last_reply_ms, retry_at_ms;
    char                rid[24];
    size_t              rid_len;       /* 0 = no request under way */
    unsigned            rid_counter;
    uint64_t            start_seq;     /* of the snapshot being merged */
    uint64_t            tracker;       /* last seq seen in the subtree */
    uint64_t            synced_seq;
    uint32_t            gen;
    char                epoch[17];
    unsigned            hb_interval_ms;
    v2_raw_t           *buf;           /* live messages while streaming */
    size_t              nbuf, capbuf;
    v2_map_t            map;
    tb_v2sync_stats_t   stats;
};

static const char *const event_names[] = {
    "synced", "loss", "broker_dead", "broker_restart", "fallback_v1", "refused",
};
static const char *const state_names[] = {
    "idle", "wait_sub", "snapshot", "synced", "v1",
};

const char *
tb_v2sync_event_name(tb_v2sync_event_t ev)
{
    return (unsigned)ev < sizeof event_names / sizeof *event_names ? event_names[ev]
                                                                  : "unknown";
}

const char *
tb_v2sync_state_name(tb_v2sync_state_t st)
{
    return (unsigned)st < sizeof state_names / sizeof *state_names ? state_names[st]
                                                                  : "unknown";
}

void
tb_v2sync_config_default(tb_v2sync_config_t *cfg)
{
    cfg->sub_wait_ms = 500;
    cfg->probe_ms = 2000;
    cfg->dead_ms = 0;
    cfg->retry_ms = 5000;
    cfg->credit = 8;
    cfg->max_buffer = 1000000;
}

tb_v2sync_t *
tb_v2sync_new(const char *prefix, const tb_v2sync_config_t *cfg,
              const tb_v2sync_actions_t *actions, void *ctx)
{
    if (!prefix || !actions)
        return NULL;
    size_t len = strlen(prefix);
    if (len > TB_NS_MAX_LEN || !tb_ns_valid(prefix, len))
        return NULL;
    tb_v2sync_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    memcpy(self->prefix, prefix, len + 1);
    self->prefix_len = len;
    if (len)
        snprintf(self->topic, sizeof self->topic, "%s.", prefix);
    self->depth = tb_ns_depth(prefix, len);
    if (cfg)
        self->cfg = *cfg;
    else
        tb_v2sync_config_default(&self->cfg);
    if (self->cfg.credit == 0)
        self->cfg.credit = 1;
    if (self->cfg.retry_ms == 0)
        self->cfg.retry_ms = 5000;
    self->act = *actions;
    self->ctx = ctx;
    self->hb_interval_ms = 1000;
    return self;
}

static void
buffer_clear(tb_v2sync_t *self)
{
    for (size_t i = 0; i < self->nbuf; i++)
        free(self->buf[i].body);
    self->nbuf = 0;
}

void
tb_v2sync_destroy(tb_v2sync_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_v2sync_t *self = *self_p;
    buffer_clear(self);
    free(self->buf);
    v2_map_free(&self->map);
    free(self);
    *self_p = NULL;
}

const char *tb_v2sync_topic(const tb_v2sync_t *self) { return self->topic; }
tb_v2sync_state_t tb_v2sync_state(const tb_v2sync_t *self) { return self->state; }
uint64_t tb_v2sync_seq(const tb_v2sync_t *self) { return self->synced_seq; }
uint64_t tb_v2sync_last(const tb_v2sync_t *self) { return self->tracker; }
size_t tb_v2sync_count(const tb_v2sync_t *self) { return self->map.count; }
bool tb_v2sync_heard(const tb_v2sync_t *self) { return self->v2_seen; }

bool
tb_v2sync_holds(const tb_v2sync_t *self, const char *ns)
{
    return ns && v2_map_find((v2_map_t *)&self->map, ns, strlen(ns)) != NULL;
}
void tb_v2sync_stats(const tb_v2sync_t *self, tb_v2sync_stats_t *out) { *out = self->stats; }

static void
emit(tb_v2sync_t *self, tb_v2sync_event_t ev, uint64_t detail)
{
    if (self->act.event)
        self->act.event(self->ctx, ev, detail);
}

static int
send_for(tb_v2sync_t *self, const char *cmd, const void *rid, size_t rid_len,
         const char *arg1, const char *arg2)
{
    tb_v2_frame_t f[4] = {
        { cmd, strlen(cmd) }, { rid, rid_len },
        { arg1, arg1 ? strlen(arg1) : 0 }, { arg2, arg2 ? strlen(arg2) : 0 },
    };
    size_t n = arg2 ? 4 : arg1 ? 3 : 2;
    return self->act.send ? self->act.send(self->ctx, f, n) : -1;
}

static int
send_frames(tb_v2sync_t *self, const char *cmd, const char *arg1, const char *arg2)
{
    return send_for(self, cmd, self->rid, self->rid_len, arg1, arg2);
}

static void
cancel_request(tb_v2sync_t *self)
{
    if (self->rid_len)
        (void)send_frames(self, "CANCEL", NULL, NULL);
    self->rid_len = 0;
}

/* Ask for a new snapshot; everything buffered so far is older than it. */
static void
request_snapshot(tb_v2sync_t *self, uint64_t now)
{
    cancel_request(self);
    buffer_clear(self);
    self->rid_counter++;
    self->rid_len = (size_t)snprintf(self->rid, sizeof self->rid, "s%u", self->rid_counter);
    char credit[16];
    snprintf(credit, sizeof credit, "%u", self->cfg.credit);
    self->gen++;
    self->state = TB_V2SYNC_SNAPSHOT;
    self->last_reply_ms = now;
    self->retry_at_ms = 0;
    if (send_frames(self, "SNAPSHOT", self->prefix, credit) != 0)
        self->retry_at_ms = now + self->cfg.retry_ms;
}

static void
resync(tb_v2sync_t *self, uint64_t now)
{
    if (self->ever_synced)
        self->stats.resyncs++;
    request_snapshot(self, now);
}

/* A gap in the chain.  Before the first merge completes it is the
 * subscription racing the request (or loss nobody was shown yet): redo
 * silently.  Once synced it is loss: report it. */
static void
gap(tb_v2sync_t *self, uint64_t now)
{
    if (self->state == TB_V2SYNC_SYNCED) {
        self->stats.losses++;
        emit(self, TB_V2SYNC_EV_LOSS, self->stats.losses);
    } else {
        self->stats.join_retries++;
    }
    resync(self, now);
}

void
tb_v2sync_start(tb_v2sync_t *self, uint64_t now_ms)
{
    buffer_clear(self);
    self->rid_len = 0;
    self->state = TB_V2SYNC_WAIT_SUB;
    self->started_ms = self->last_rx_ms = now_ms;
    self->sub_deadline_ms = now_ms + self->cfg.sub_wait_ms;
    self->dead_reported = false;
}

/* ------------------------------------------------------------ messages */

static bool
within_prefix(const tb_v2sync_t *self, const char *ns, size_t len)
{
    return tb_ns_within(ns, len, self->prefix, self->prefix_len);
}

static bool
copy_ns(const char *v, size_t len, char *out, size_t *out_len)
{
    const char *s;
    size_t n;
    if (!v2_json_plain_string(v, len, &s, &n) || n > TB_NS_MAX_LEN || !tb_ns_valid(s, n))
        return false;
    memcpy(out, s, n);
    out[n] = 0;
    *out_len = n;
    return true;
}

static bool
value_ts_ok(const char *v, size_t len)
{
    return (len == 4 && memcmp(v, "null", 4) == 0) ||
           (len > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && v2_json_valid(v, len));
}

static bool
value_doc_ok(const char *v, size_t len)
{
    return (len == 4 && memcmp(v, "null", 4) == 0) ||
           (len >= 2 && v[0] == '"' && v2_json_valid(v, len));
}

#define KEY(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)

static bool
msg_member(void *arg, const char *key, size_t klen, const char *v, size_t vlen)
{
    msg_t *m = arg;
    const char *s;
    size_t n;
    if (KEY("type")) {
        if (!v2_json_plain_string(v, vlen, &s, &n))
            return false;
        m->has_type = true;
        if (n == 12 && memcmp(s, "thing_update", 12) == 0)
            m->type = MSG_UPDATE;
        else if (n == 11 && memcmp(s, "thing_purge", 11) == 0)
            m->type = MSG_PURGE;
        else if (n == 9 && memcmp(s, "heartbeat", 9) == 0)
            m->type = MSG_HEARTBEAT;
        else
            return false;
    } else if (KEY("ns")) {
        if (!copy_ns(v, vlen, m->ns, &m->ns_len))
            return false;
        m->has_ns = true;
    } else if (KEY("seq")) {
        if (!v2_json_u64(v, vlen, &m->seq))
            return false;
        m->has_seq = true;
        m->v.seq = m->seq;
    } else if (KEY("last")) {
        if (!v2_json_u64(v, vlen, &m->last))
            return false;
        m->has_last = true;
    } else if (KEY("interval")) {
        if (!v2_json_u64(v, vlen, &m->interval) || m->interval == 0)
            return false;
        m->has_interval = true;
    } else if (KEY("epoch")) {
        if (!v2_json_plain_string(v, vlen, &m->epoch, &m->epoch_len))
            return false;
    } else if (KEY("data")) {
        if (!v2_json_valid(v, vlen))
            return false;
        m->v.data = v;
        m->v.data_len = vlen;
        m->has_data = true;
    } else if (KEY("ts")) {
        if (!value_ts_ok(v, vlen))
            return false;
        m->v.ts_json = v;
        m->v.ts_json_len = vlen;
    } else if (KEY("documentation_url")) {
        if (!value_doc_ok(v, vlen))
            return false;
        m->v.doc_url = v;
        m->v.doc_url_len = vlen;
    } else if (KEY("prev")) {
        m->prev = v;
        m->prev_len = vlen;
    }
    return true; /* unknown keys are ignored, as v1 readers do */
}

/* Read and check a filtered-PUB message; false when malformed. */
static bool
msg_parse(const char *body, size_t len, size_t depth, msg_t *m, uint64_t *prev_at_depth)
{
    memset(m, 0, sizeof *m);
    m->v.ts_json = "null";
    m->v.ts_json_len = 4;
    m->v.doc_url = "null";
    m->v.doc_url_len = 4;
    if (!v2_json_members(body, len, msg_member, m) || !m->has_type || !m->has_ns ||
        !m->has_seq)
        return false;
    if (m->type == MSG_HEARTBEAT)
        return m->has_last && m->has_interval && m->epoch_len == 16;
    if (m->type == MSG_UPDATE && !m->has_data)
        return false;
    size_t count = 0, want = tb_ns_depth(m->ns, m->ns_len) + 1;
    *prev_at_depth = 0;
    if (!m->prev || !v2_json_u64_array(m->prev, m->prev_len, depth, &count, prev_at_depth) ||
        count != want)
        return false;
    return true;
}

static void
apply_update(tb_v2sync_t *self, const msg_t *m)
{
    bool created;
    v2_map_entry_t *e = v2_map_put(&self->map, m->ns, m->ns_len, &created);
    if (!e)
        return; /* out of memory: the next resync repairs it */
    e->gen = self->gen;
    if (!created && e->seq >= m->seq) {
        self->stats.stale_skipped++;
        return;
    }
    e->seq = m->seq;
    self->stats.updates_applied++;
    if (self->act.apply)
        self->act.apply(self->ctx, m->ns, &m->v, false);
}

static void
apply_purge(tb_v2sync_t *self, const msg_t *m)
{
    v2_map_entry_t *e = v2_map_find(&self->map, m->ns, m->ns_len);
    if (!e)
        return;
    if (e->seq >= m->seq) {
        self->stats.stale_skipped++;
        return;
    }
    v2_map_remove(&self->map, e);
    self->stats.removes++;
    if (self->act.remove)
        self->act.remove(self->ctx, m->ns);
}

/* The broker restarted (its epoch changed): its seqs are a new series,
 * so the seqs of what we hold mean nothing against them.  Forget them
 * (keeping the Things, which the next snapshot confirms or sweeps) so the
 * new series' values win. */
static void
broker_restarted(tb_v2sync_t *self)
{
    self->stats.restarts++;
    for (size_t i = 0; i < self->map.cap; i++)
        if (self->map.slots[i].ns)
            self->map.slots[i].seq = 0;
    self->epoch[0] = 0;
    self->start_seq = 0;
    self->tracker = 0;
    emit(self, TB_V2SYNC_EV_BROKER_RESTART, self->stats.restarts);
}

/* Process one live message in order (from the buffer at an end marker,
 * or as it arrives once synced).  Returns false when it started a resync
 * (the caller stops replaying). */
static bool
process(tb_v2sync_t *self, uint64_t now, const msg_t *m, uint64_t prev)
{
    /* at or before the snapshot's start: the snapshot holds it already
     * (late arrivals from the SUB queue land here too, not only replays) */
    /* the epoch first: a restarted broker numbers from 1 again, so its
     * heartbeats may well be "older" than our snapshot's start */
    if (m->type == MSG_HEARTBEAT && self->epoch[0] &&
        memcmp(m->epoch, self->epoch, 16) != 0) {
        broker_restarted(self);
        resync(self, now);
        return false;
    }
    if (m->seq <= self->start_seq)
        return true;
    if (m->type == MSG_HEARTBEAT) {
        if (m->ns_len != self->prefix_len || memcmp(m->ns, self->prefix, m->ns_len) != 0)
            return true;
        if (m->last == self->tracker)
            return true;
        if (m->last == 0 && self->map.count == 0) {
            self->tracker = 0; /* the subtree's Thing is gone, as is our copy */
            return true;
        }
        gap(self, now);
        return false;
    }
    if (!within_prefix(self, m->ns, m->ns_len))
        return true;
    /* 0: the subtree's Thing was (re)created, its history starts afresh */
    if (prev != self->tracker && prev != 0) {
        gap(self, now);
        return false;
    }
    self->tracker = m->seq;
    if (m->type == MSG_UPDATE)
        apply_update(self, m);
    else
        apply_purge(self, m);
    return true;
}

static bool
buffer_add(tb_v2sync_t *self, const void *body, size_t len)
{
    if (self->nbuf == self->capbuf) {
        size_t ncap = self->capbuf ? self->capbuf * 2 : 256;
        v2_raw_t *nb = realloc(self->buf, ncap * sizeof *nb);
        if (!nb)
            return false;
        self->buf = nb;
        self->capbuf = ncap;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, body, len);
    self->buf[self->nbuf++] = (v2_raw_t){ copy, len };
    return true;
}

int
tb_v2sync_on_pub(tb_v2sync_t *self, uint64_t now_ms, const void *topic, size_t topic_len,
                 const void *body, size_t body_len)
{
    (void)topic;
    (void)topic_len;
    if (self->state == TB_V2SYNC_IDLE || self->state == TB_V2SYNC_V1)
        return 0;
    msg_t m;
    uint64_t prev;
    if (!msg_parse(body, body_len, self->depth, &m, &prev)) {
        self->stats.bad_messages++;
        return TB_ERR_BAD_MESSAGE;
    }
    self->last_rx_ms = now_ms;
    self->dead_reported = false;
    self->v2_seen = true;
    bool hb = m.type == MSG_HEARTBEAT;
    if (hb) {
        self->stats.heartbeats++;
        if (m.interval < 3600000)
            self->hb_interval_ms = (unsigned)m.interval;
    }
    bool mine = hb ? m.ns_len == self->prefix_len &&
                     memcmp(m.ns, self->prefix, m.ns_len) == 0
                   : within_prefix(self, m.ns, m.ns_len);
    switch (self->state) {
    case TB_V2SYNC_WAIT_SUB:
        /* a message on our own topic: the subscription is live, ask now */
        if (mine)
            request_snapshot(self, now_ms);
        break;
    case TB_V2SYNC_SNAPSHOT:
        if (!mine && !hb)
            break;
        if (self->nbuf >= self->cfg.max_buffer) {
            self->stats.join_retries++;
            request_snapshot(self, now_ms);
            break;
        }
        /* on failure the chain check at the end marker catches the hole */
        (void)buffer_add(self, body, body_len);
        break;
    case TB_V2SYNC_SYNCED:
        process(self, now_ms, &m, prev);
        break;
    default:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------ replies */

static bool
frame_is(const tb_v2_frame_t *f, const char *word)
{
    return f->len == strlen(word) && memcmp(f->data, word, f->len) == 0;
}

static void
sweep(tb_v2sync_t *self)
{
    /* collect first: removal shifts entries */
    size_t n = 0;
    char **gone = NULL;
    for (size_t i = 0; i < self->map.cap; i++) {
        v2_map_entry_t *e = &self->map.slots[i];
        if (e->ns && e->gen != self->gen) {
            char **ng = realloc(gone, (n + 1) * sizeof *ng);
            if (!ng)
                break;
            gone = ng;
            gone[n++] = e->ns;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char *ns = strdup(gone[i]);
        v2_map_entry_t *e = ns ? v2_map_find(&self->map, ns, strlen(ns)) : NULL;
        if (e) {
            v2_map_remove(&self->map, e);
            self->stats.removes++;
            if (self->act.remove)
                self->act.remove(self->ctx, ns);
        }
        free(ns);
    }
    free(gone);
}

typedef struct {
    tb_v2sync_t  *self;
    tb_v2_value_t v;
    bool          has_data, has_seq;
    int           bad;            /* entries refused */
    bool          type_ok, data_seen;
    char          ns[TB_NS_MAX_LEN + 1];
    size_t        ns_len;
} batch_t;

static bool
entry_member(void *arg, const char *key, size_t klen, const char *v, size_t vlen)
{
    batch_t *b = arg;
    if (KEY("data")) {
        if (!v2_json_valid(v, vlen))
            return false;
        b->v.data = v;
        b->v.data_len = vlen;
        b->has_data = true;
    } else if (KEY("ts")) {
        if (!value_ts_ok(v, vlen))
            return false;
        b->v.ts_json = v;
        b->v.ts_json_len = vlen;
    } else if (KEY("documentation_url")) {
        if (!value_doc_ok(v, vlen))
            return false;
        b->v.doc_url = v;
        b->v.doc_url_len = vlen;
    } else if (KEY("seq")) {
        if (!v2_json_u64(v, vlen, &b->v.seq))
            return false;
        b->has_seq = true;
    }
    return true;
}

static bool
batch_entry(void *arg, const char *key, size_t klen, const char *v, size_t vlen)
{
    batch_t *b = arg;
    tb_v2sync_t *self = b->self;
    b->v = (tb_v2_value_t){ NULL, 0, "null", 4, "null", 4, 0 };
    b->has_data = b->has_seq = false;
    if (klen > TB_NS_MAX_LEN || !tb_ns_valid(key, klen) || !within_prefix(self, key, klen) ||
        !v2_json_members(v, vlen, entry_member, b) || !b->has_data || !b->has_seq) {
        b->bad++;
        self->stats.bad_messages++;
        return true; /* skip this entry, keep the others */
    }
    bool created;
    v2_map_entry_t *e = v2_map_put(&self->map, key, klen, &created);
    if (!e)
        return true;
    e->gen = self->gen; /* it exists on the broker: keep it */
    if (!created && e->seq >= b->v.seq) {
        self->stats.stale_skipped += e->seq > b->v.seq;
        return true;
    }
    e->seq = b->v.seq;
    self->stats.entries_applied++;
    if (self->act.apply) {
        memcpy(b->ns, key, klen);
        b->ns[klen] = 0;
        self->act.apply(self->ctx, b->ns, &b->v, true);
    }
    return true;
}

static bool
batch_member(void *arg, const char *key, size_t klen, const char *v, size_t vlen)
{
    batch_t *b = arg;
    const char *s;
    size_t n;
    if (KEY("type")) {
        b->type_ok = v2_json_plain_string(v, vlen, &s, &n) && n == 14 &&
                     memcmp(s, "thing_snapshot", 14) == 0;
        return b->type_ok;
    }
    if (KEY("data")) {
        b->data_seen = true;
        return v2_json_members(v, vlen, batch_entry, b);
    }
    return true;
}

static int
on_batch(tb_v2sync_t *self, const tb_v2_frame_t *payload)
{
    batch_t b = { .self = self };
    bool ok = v2_json_members(payload->data, payload->len, batch_member, &b) &&
              b.type_ok && b.data_seen;
    if (!ok)
        self->stats.bad_messages++;
    (void)send_frames(self, "CREDIT", "1", NULL);
    return ok && b.bad == 0 ? 0 : TB_ERR_BAD_MESSAGE;
}

typedef struct {
    uint64_t    seq, start, last;
    int         have;
    const char *epoch;
    size_t      epoch_len;
} end_t;

static bool
end_member(void *arg, const char *key, size_t klen, const char *v, size_t vlen)
{
    end_t *e = arg;
    if (KEY("seq"))
        return v2_json_u64(v, vlen, &e->seq) && (e->have |= 1);
    if (KEY("start"))
        return v2_json_u64(v, vlen, &e->start) && (e->have |= 2);
    if (KEY("last"))
        return v2_json_u64(v, vlen, &e->last) && (e->have |= 4);
    if (KEY("epoch"))
        return v2_json_plain_string(v, vlen, &e->epoch, &e->epoch_len) && (e->have |= 8);
    return true;
}

static int
on_end(tb_v2sync_t *self, uint64_t now, const tb_v2_frame_t *payload)
{
    end_t e = { 0 };
    if (!v2_json_members(payload->data, payload->len, end_member, &e) || e.have != 15 ||
        e.epoch_len != 16) {
        self->stats.bad_messages++;
        return TB_ERR_BAD_MESSAGE;
    }
    if (self->epoch[0] && memcmp(self->epoch, e.epoch, 16) != 0) {
        /* restarted while we were away (e.g. declared dead, then back):
         * what this stream merged was judged against the old series */
        broker_restarted(self);
        resync(self, now);
        return 0;
    }
    memcpy(self->epoch, e.epoch, 16);
    self->epoch[16] = 0;
    self->rid_len = 0;
    self->start_seq = e.start;
    self->tracker = e.last;
    /* replay what arrived while streaming, in order */
    v2_raw_t *buf = self->buf;
    size_t n = self->nbuf;
    self->buf = NULL;
    self->nbuf = self->capbuf = 0;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        msg_t m;
        uint64_t prev;
        if (ok && msg_parse(buf[i].body, buf[i].len, self->depth, &m, &prev))
            ok = process(self, now, &m, prev);
        free(buf[i].body);
    }
    free(buf);
    if (!ok)
        return 0; /* a new snapshot is under way */
    sweep(self);
    self->state = TB_V2SYNC_SYNCED;
    self->ever_synced = true;
    self->synced_seq = e.seq > self->tracker ? e.seq : self->tracker;
    self->stats.snapshots++;
    emit(self, TB_V2SYNC_EV_SYNCED, e.seq);
    return 0;
}

int
tb_v2sync_on_reply(tb_v2sync_t *self, uint64_t now_ms, const tb_v2_frame_t *frames,
                   size_t n)
{
    if (n < 2) {
        self->stats.bad_messages++;
        return TB_ERR_BAD_MESSAGE;
    }
    if (self->state == TB_V2SYNC_IDLE || self->state == TB_V2SYNC_V1)
        return 0;
    self->last_rx_ms = now_ms;
    self->dead_reported = false;
    self->v2_seen = true;
    bool current = self->state == TB_V2SYNC_SNAPSHOT && self->rid_len &&
                   frames[1].len == self->rid_len &&
                   memcmp(frames[1].data, self->rid, self->rid_len) == 0;
    if (!current) {
        self->stats.stale_replies++;
        /* tell the server to stop an abandoned stream */
        if (frame_is(&frames[0], "BATCH") && frames[1].len > 0)
            (void)send_for(self, "CANCEL", frames[1].data, frames[1].len, NULL, NULL);
        return 0;
    }
    self->last_reply_ms = now_ms;
    if (frame_is(&frames[0], "BATCH") && n == 3)
        return on_batch(self, &frames[2]);
    if (frame_is(&frames[0], "END") && n == 3)
        return on_end(self, now_ms, &frames[2]);
    if (frame_is(&frames[0], "ERROR") && n >= 3) {
        self->stats.refusals++;
        self->rid_len = 0;
        self->retry_at_ms = now_ms + self->cfg.retry_ms;
        emit(self, TB_V2SYNC_EV_REFUSED, self->stats.refusals);
        return 0;
    }
    self->stats.bad_messages++;
    return TB_ERR_BAD_MESSAGE;
}

/* ------------------------------------------------------------ time */

static unsigned
dead_ms(const tb_v2sync_t *self)
{
    return self->cfg.dead_ms ? self->cfg.dead_ms : 3 * self->hb_interval_ms;
}

static unsigned
until(uint64_t deadline, uint64_t now, unsigned current)
{
    if (deadline <= now)
        return 0;
    uint64_t d = deadline - now;
    return d < current ? (unsigned)d : current;
}

unsigned
tb_v2sync_tick(tb_v2sync_t *self, uint64_t now)
{
    if (self->state == TB_V2SYNC_IDLE || self->state == TB_V2SYNC_V1)
        return 1000;
    if (!self->v2_seen) {
        if (now - self->started_ms >= self->cfg.probe_ms) {
            cancel_request(self);
            buffer_clear(self);
            self->state = TB_V2SYNC_V1;
            emit(self, TB_V2SYNC_EV_FALLBACK_V1, 0);
            return 1000;
        }
    } else if (!self->dead_reported && now - self->last_rx_ms >= dead_ms(self)) {
        self->stats.deaths++;
        self->dead_reported = true;
        cancel_request(self);
        emit(self, TB_V2SYNC_EV_BROKER_DEAD, self->stats.deaths);
        /* the host may have reconnected inside the callback: start over */
        uint64_t last_rx = self->last_rx_ms;
        tb_v2sync_start(self, now);
        self->last_rx_ms = last_rx;
        self->dead_reported = true;
    }
    unsigned next = 1000;
    if (self->state == TB_V2SYNC_WAIT_SUB) {
        if (now >= self->sub_deadline_ms)
            request_snapshot(self, now);
        else
            next = until(self->sub_deadline_ms, now, next);
    }
    if (self->state == TB_V2SYNC_SNAPSHOT) {
        if (self->retry_at_ms ? now >= self->retry_at_ms
                              : now - self->last_reply_ms >= self->cfg.retry_ms) {
            if (self->rid_len)
                self->stats.join_retries++;
            request_snapshot(self, now);
        }
        next = until(self->retry_at_ms ? self->retry_at_ms
                                       : self->last_reply_ms + self->cfg.retry_ms, now, next);
    }
    if (!self->v2_seen)
        next = until(self->started_ms + self->cfg.probe_ms, now, next);
    else if (!self->dead_reported)
        next = until(self->last_rx_ms + dead_ms(self), now, next);
    return next;
}
