/*
 * tb_v2srv_pub.c - the v2 filtered PUB: updates, purges and heartbeats
 * framed for prefix filtering, and the set of subscribed prefixes.
 *
 * Why this exists: a client following "spacemon" must receive only that
 * subtree, and must still be able to prove it lost nothing although the
 * broker's seq is global (a filtered subscriber sees jumps that are not
 * loss).  Each message therefore carries, for every ancestor level of its
 * Thing, the seq of the previous message in that ancestor's subtree
 * ("prev"); a subscriber to level d checks prev[d] against the last seq it
 * saw.  The loss of the *last* message before a quiet spell is caught by
 * the heartbeat sent on each subscribed prefix's own topic, carrying that
 * subtree's latest seq ("last").  The XPUB tells us the prefixes (verbose
 * mode: every subscribe, so each new subscriber gets a "welcome" heartbeat
 * at once and knows its subscription is live).
 */
#include "tb_v2srv_int.h"
#include "tb_error.h"
#include "tb_proto.h"
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* "" or "<valid ns>." */
static bool
prefix_valid(const char *t, size_t len)
{
    if (len == 0)
        return true;
    return len >= 2 && t[len - 1] == '.' && tb_ns_valid(t, len - 1);
}

static int
prefix_find(const tb_v2srv_t *self, const char *t, size_t len)
{
    for (unsigned i = 0; i < self->nprefixes; i++)
        if (self->prefixes[i].len == len && memcmp(self->prefixes[i].topic, t, len) == 0)
            return (int)i;
    return -1;
}

void
v2_prefixes_free(tb_v2srv_t *self)
{
    for (unsigned i = 0; i < self->nothers; i++)
        free(self->others[i].topic);
    free(self->others);
    self->others = NULL;
    self->nothers = self->others_cap = 0;
    if (!self->prefixes)
        return;
    for (unsigned i = 0; i < self->nprefixes; i++)
        free(self->prefixes[i].topic);
    self->nprefixes = 0;
}

/* Topics that are not prefixes ("spa", a stray byte string): they get no
 * heartbeat, but their subscribers must still receive what matches, so
 * they count for tb_v2srv_has_subscribers.  The XPUB reports a topic's
 * unsubscribe only when its last subscriber leaves, so a set is exact. */
static void
other_topic(tb_v2srv_t *self, const char *t, size_t len, bool subscribe)
{
    for (unsigned i = 0; i < self->nothers; i++) {
        if (self->others[i].len == len && memcmp(self->others[i].topic, t, len) == 0) {
            if (!subscribe) {
                free(self->others[i].topic);
                self->others[i] = self->others[--self->nothers];
            }
            return;
        }
    }
    if (!subscribe)
        return;
    if (self->nothers == self->others_cap) {
        unsigned ncap = self->others_cap ? self->others_cap * 2 : 8;
        v2_prefix_t *n = ncap <= self->cfg.max_prefixes
                             ? realloc(self->others, ncap * sizeof *n) : NULL;
        if (!n) {
            self->topics_unknown = true;
            return;
        }
        self->others = n;
        self->others_cap = ncap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        self->topics_unknown = true;
        return;
    }
    memcpy(copy, t, len);
    copy[len] = 0;
    self->others[self->nothers].topic = copy;
    self->others[self->nothers].len = len;
    self->nothers++;
}

bool
tb_v2srv_has_subscribers(const tb_v2srv_t *self)
{
    return self && self->xpub && (self->nprefixes || self->nothers || self->topics_unknown);
}

static int
send_two(tb_v2srv_t *self, const void *topic, size_t tlen, const void *body, size_t blen)
{
    /* XPUB never blocks: a subscriber past its high-water mark loses the
     * message, which its prev/last check then detects */
    if (zmq_send(self->xpub, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->xpub, body, blen, ZMQ_DONTWAIT) < 0)
        return TB_ERR_NET;
    return TB_OK;
}

void
v2_heartbeat_send(tb_v2srv_t *self, const char *topic, size_t topic_len)
{
    size_t ns_len = topic_len ? topic_len - 1 : 0;
    tb_buf_t *b = &self->out;
    tb_buf_reset(b);
    tb_buf_append_str(b, "{\"type\":\"heartbeat\",\"ns\":");
    tb_json_write_string(b, topic, ns_len);
    tb_buf_append_str(b, ",\"seq\":");
    v2_append_u64(b, self->dir.current_seq(self->dir_ctx));
    tb_buf_append_str(b, ",\"last\":");
    v2_append_u64(b, self->dir.subtree_seq(self->dir_ctx, topic, ns_len));
    tb_buf_printf(b, ",\"epoch\":\"%s\",\"interval\":%u}", self->epoch_hex,
                  self->cfg.heartbeat_ms);
    if (tb_buf_failed(b) || send_two(self, topic, topic_len, b->data, b->len) != TB_OK)
        self->stats.publish_errors++;
    else
        self->stats.heartbeats_sent++;
}

int
tb_v2srv_handle_subscriptions(tb_v2srv_t *self, uint64_t now_ms)
{
    (void)now_ms;
    if (!self || !self->xpub)
        return 0;
    int count = 0;
    for (; count < 1024; count++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        size_t len = zmq_msg_size(&m);
        const char *d = zmq_msg_data(&m);
        if (len >= 1 && (d[0] == 0 || d[0] == 1)) {
            const char *t = d + 1;
            size_t tlen = len - 1;
            int at = prefix_find(self, t, tlen);
            if (d[0] == 1) {
                self->stats.subscribes++;
                if (prefix_valid(t, tlen)) {
                    if (at < 0 && self->nprefixes < self->cfg.max_prefixes) {
                        char *copy = malloc(tlen + 1);
                        if (copy) {
                            memcpy(copy, t, tlen);
                            copy[tlen] = 0;
                            self->prefixes[self->nprefixes].topic = copy;
                            self->prefixes[self->nprefixes].len = tlen;
                            self->nprefixes++;
                            at = 0;
                        }
                    }
                    if (at < 0) {
                        self->stats.prefixes_refused++;
                        self->topics_unknown = true;
                    }
                    /* the welcome: proves the subscription is live */
                    v2_heartbeat_send(self, t, tlen);
                } else {
                    other_topic(self, t, tlen, true);
                }
            } else {
                self->stats.unsubscribes++;
                if (at >= 0) {
                    free(self->prefixes[at].topic);
                    self->prefixes[at] = self->prefixes[--self->nprefixes];
                } else {
                    other_topic(self, t, tlen, false);
                }
            }
        }
        zmq_msg_close(&m);
    }
    return count;
}

unsigned
tb_v2srv_tick(tb_v2srv_t *self, uint64_t now_ms)
{
    if (!self || !self->xpub)
        return 1000;
    if (now_ms >= self->next_heartbeat_ms) {
        for (unsigned i = 0; i < self->nprefixes; i++)
            v2_heartbeat_send(self, self->prefixes[i].topic, self->prefixes[i].len);
        self->next_heartbeat_ms = now_ms + self->cfg.heartbeat_ms;
    }
    return (unsigned)(self->next_heartbeat_ms - now_ms);
}

static int
publish(tb_v2srv_t *self, const char *ns, size_t ns_len, const uint64_t *prev,
        size_t nprev)
{
    tb_buf_t *b = &self->out;
    if (b->len && !tb_buf_failed(b))
        b->len--; /* reopen the object to add "prev" */
    tb_buf_append_str(b, ",\"prev\":[");
    for (size_t i = 0; i < nprev; i++) {
        if (i)
            tb_buf_append_char(b, ',');
        v2_append_u64(b, prev[i]);
    }
    tb_buf_append_str(b, "]}");
    tb_buf_reset(&self->topic);
    tb_buf_append(&self->topic, ns, ns_len);
    tb_buf_append_char(&self->topic, '.');
    if (tb_buf_failed(b) || tb_buf_failed(&self->topic)) {
        self->stats.publish_errors++;
        return TB_ERR_NOMEM;
    }
    int rc = send_two(self, self->topic.data, self->topic.len, b->data, b->len);
    if (rc == TB_OK)
        self->stats.published++;
    else
        self->stats.publish_errors++;
    return rc;
}

int
tb_v2srv_publish_update(tb_v2srv_t *self, const tb_v2_thing_t *t, const uint64_t *prev,
                        size_t nprev)
{
    if (!self || !t || !t->data || !t->ts_json || (nprev && !prev) ||
        nprev != tb_v2_ns_depth(t->ns, t->ns_len) + 1)
        return TB_ERR_INVALID_ARG;
    if (!self->xpub)
        return TB_OK;
    tb_buf_reset(&self->out);
    tb_encode_update(&self->out, t->ns, t->ns_len, t->data, t->data_len, t->ts_json,
                     t->ts_json_len, t->doc_url, t->doc_url_len, (int64_t)t->seq);
    return publish(self, t->ns, t->ns_len, prev, nprev);
}

int
tb_v2srv_publish_encoded(tb_v2srv_t *self, const char *ns, size_t ns_len, const char *v1,
                         size_t v1_len, const uint64_t *prev, size_t nprev)
{
    if (!self || (!ns && ns_len) || !v1 || v1_len < 2 || v1[v1_len - 1] != '}' ||
        (nprev && !prev) || nprev != tb_v2_ns_depth(ns, ns_len) + 1)
        return TB_ERR_INVALID_ARG;
    if (!self->xpub)
        return TB_OK;
    tb_buf_reset(&self->out);
    tb_buf_append(&self->out, v1, v1_len);
    return publish(self, ns, ns_len, prev, nprev);
}

int
tb_v2srv_publish_purge(tb_v2srv_t *self, const char *ns, size_t ns_len, uint64_t seq,
                       const uint64_t *prev, size_t nprev)
{
    if (!self || (!ns && ns_len) || (nprev && !prev) ||
        nprev != tb_v2_ns_depth(ns, ns_len) + 1)
        return TB_ERR_INVALID_ARG;
    if (!self->xpub)
        return TB_OK;
    tb_buf_t *b = &self->out;
    tb_buf_reset(b);
    tb_buf_append_str(b, "{\"type\":\"thing_purge\",\"ns\":");
    tb_json_write_string(b, ns, ns_len);
    tb_buf_append_str(b, ",\"seq\":");
    v2_append_u64(b, seq);
    tb_buf_append_char(b, '}');
    return publish(self, ns, ns_len, prev, nprev);
}
