/*
 * bridge_sources.c - SUB sockets to every JSON-over-ZeroMQ source, with a
 * monitor per socket.
 *
 * Why this exists: see bridge_sources.h.  Reconnection is ZeroMQ's own
 * (a connecting socket retries every reconnect interval, backing off up to
 * RECONNECT_IVL_MAX); TCP heartbeats make a source host that vanished
 * without closing its connection (power cut, cable) count as disconnected
 * so the retries start instead of waiting forever on a dead peer.
 */
#include "bridge_sources.h"
#include "tb_error.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECONNECT_IVL_MS      100
#define RECONNECT_IVL_MAX_MS  2000
#define HEARTBEAT_IVL_MS      5000
#define HEARTBEAT_TIMEOUT_MS  15000

typedef struct {
    char *url;
    void *sub;
    void *monitor;    /* PAIR reading the SUB socket's monitor events */
} source_t;

struct tb_bridge_sources_t {
    void     *ctx;
    source_t *items;
    size_t    count;
    unsigned  serial;  /* for unique inproc monitor endpoints */
};

tb_bridge_sources_t *
tb_bridge_sources_new(void *zmq_ctx)
{
    if (!zmq_ctx)
        return NULL;
    tb_bridge_sources_t *self = calloc(1, sizeof *self);
    if (self)
        self->ctx = zmq_ctx;
    return self;
}

static void
source_close(source_t *s)
{
    if (s->sub) {
        zmq_socket_monitor(s->sub, NULL, 0);
        int linger = 0;
        zmq_setsockopt(s->sub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(s->sub);
    }
    if (s->monitor) {
        int linger = 0;
        zmq_setsockopt(s->monitor, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(s->monitor);
    }
    free(s->url);
    memset(s, 0, sizeof *s);
}

void
tb_bridge_sources_destroy(tb_bridge_sources_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_bridge_sources_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        source_close(&self->items[i]);
    free(self->items);
    free(self);
    *self_p = NULL;
}

static int
open_source(tb_bridge_sources_t *self, source_t *s, const char *url, size_t len,
            char *errbuf, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->url = strndup(url, len);
    s->sub = zmq_socket(self->ctx, ZMQ_SUB);
    if (!s->url || !s->sub) {
        source_close(s);
        return tb_errbuf_set(errbuf, errlen, "--sources: cannot create a socket: %s",
                             zmq_strerror(zmq_errno()));
    }
    int ivl = RECONNECT_IVL_MS, ivl_max = RECONNECT_IVL_MAX_MS;
    int hb = HEARTBEAT_IVL_MS, hb_timeout = HEARTBEAT_TIMEOUT_MS, linger = 0;
    zmq_setsockopt(s->sub, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s->sub, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    zmq_setsockopt(s->sub, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
    zmq_setsockopt(s->sub, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    zmq_setsockopt(s->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, "", 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://tb-bridge-monitor-%u", self->serial++);
    if (zmq_socket_monitor(s->sub, endpoint,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) == 0) {
        s->monitor = zmq_socket(self->ctx, ZMQ_PAIR);
        if (s->monitor && zmq_connect(s->monitor, endpoint) != 0) {
            zmq_close(s->monitor);
            s->monitor = NULL;
        }
    }
    if (zmq_connect(s->sub, s->url) != 0) {
        int e = zmq_errno();
        tb_errbuf_set(errbuf, errlen, "--sources: cannot connect to '%.200s': %s%s", s->url,
                      zmq_strerror(e),
                      e == EPROTONOSUPPORT || e == EINVAL
                          ? " (expected e.g. tcp://host:port)" : "");
        source_close(s);
        return -1;
    }
    return 0;
}

int
tb_bridge_sources_add(tb_bridge_sources_t *self, const char *list,
                      char *errbuf, size_t errlen)
{
    if (!self || !list)
        return tb_errbuf_set(errbuf, errlen, "--sources: no value");
    const char *cursor = list, *item;
    size_t len;
    while (tb_bridge_list_next(&cursor, &item, &len)) {
        if (len == 0)
            return tb_errbuf_set(errbuf, errlen,
                                 "--sources: '%.200s' has an empty entry (check the commas)", list);
        source_t *grown = realloc(self->items, (self->count + 1) * sizeof *grown);
        if (!grown)
            return tb_errbuf_set(errbuf, errlen, "--sources: out of memory");
        self->items = grown;
        if (open_source(self, &self->items[self->count], item, len, errbuf, errlen) != 0)
            return -1;
        self->count++;
    }
    return 0;
}

size_t
tb_bridge_sources_count(const tb_bridge_sources_t *self)
{
    return self ? self->count : 0;
}

const char *
tb_bridge_sources_url(const tb_bridge_sources_t *self, size_t i)
{
    return self && i < self->count ? self->items[i].url : "";
}

size_t
tb_bridge_sources_pollitems(const tb_bridge_sources_t *self, zmq_pollitem_t *items,
                            size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; self && i < self->count && n + 2 <= cap; i++) {
        items[n++] = (zmq_pollitem_t){ .socket = self->items[i].sub, .events = ZMQ_POLLIN };
        /* a NULL socket with fd -1 is never ready: keeps the 2-per-source layout */
        items[n++] = self->items[i].monitor
            ? (zmq_pollitem_t){ .socket = self->items[i].monitor, .events = ZMQ_POLLIN }
            : (zmq_pollitem_t){ .socket = NULL, .fd = -1, .events = 0 };
    }
    return n;
}

int
tb_bridge_sources_recv(tb_bridge_sources_t *self, size_t i, zmq_msg_t *msg,
                       size_t *frames)
{
    *frames = 0;
    if (!self || i >= self->count)
        return 0;
    void *sub = self->items[i].sub;
    zmq_msg_init(msg);
    if (zmq_msg_recv(msg, sub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(msg);
        return 0;
    }
    *frames = 1;
    if (!zmq_msg_more(msg))
        return 1;
    /* ZeroMQ delivers a multi-part message atomically: the rest is here. */
    bool more = true;
    while (more) {
        zmq_msg_close(msg);
        zmq_msg_init(msg);
        if (zmq_msg_recv(msg, sub, ZMQ_DONTWAIT) < 0)
            break;
        (*frames)++;
        more = zmq_msg_more(msg);
    }
    zmq_msg_close(msg);
    return 2;
}

int
tb_bridge_sources_event(tb_bridge_sources_t *self, size_t i, bool *connected)
{
    if (!self || i >= self->count || !self->items[i].monitor)
        return 0;
    void *mon = self->items[i].monitor;
    for (;;) {
        zmq_msg_t head;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            return 0;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&head) >= 2)
            memcpy(&event, zmq_msg_data(&head), sizeof event);
        bool more = zmq_msg_more(&head);
        zmq_msg_close(&head);
        while (more) {                       /* the endpoint frame */
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, mon, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                break;
            }
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        if (event == ZMQ_EVENT_CONNECTED || event == ZMQ_EVENT_DISCONNECTED) {
            *connected = event == ZMQ_EVENT_CONNECTED;
            return 1;
        }
    }
}
