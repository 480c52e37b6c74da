/*
 * tb_adaptor_zmq.c - the background thread of a ZeroMQ adaptor.
 *
 * Why this exists: ZeroMQ sockets are not thread-safe, and the caller's
 * thread must never wait on the network; so one thread owns the socket and
 * moves messages from the queue into it, in order, one at a time: peek,
 * send without waiting, and remove from the queue only once ZeroMQ took it.
 *
 * Socket choices (the delivery guarantee in thingsbus_adaptor.h rests on
 * them):
 *  - SNDHWM is small, so almost everything waiting is in our queue, where
 *    it is counted (queue_depth) and bounded (dropped), not hidden in ZMQ.
 *  - With a fixed URL, ZMQ_IMMEDIATE is off: the pipe to the broker exists
 *    from connect() on and survives reconnections, so messages sent before
 *    the broker starts, or while it restarts, wait and go out in order.
 *  - With a zone, ZMQ_IMMEDIATE is on: nothing enters a pipe without a live
 *    connection, so moving to another target never discards a pipe full of
 *    messages; they wait in our queue instead.
 *  - PUB mode uses an XPUB socket with XPUB_NODROP: the broker's SUB
 *    subscription arrives as a message, and nothing is sent before it has
 *    (a PUB would silently drop those first messages: the slow joiner).
 *  - A socket monitor reports connects and disconnects: stats.connected and
 *    stats.disconnects, and the zone logic's notion of "unreachable".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include "tb_adaptor_internal.h"
#include "tb_time.h"

#define PIPE_HWM          64     /* messages ZeroMQ may hold per pipe */
#define POLL_MS           50
#define IDLE_WAIT_MS      100
#define TARGET_TRY_MS     3000   /* zone: time to reach one target before the next */

typedef struct {
    tb_adaptor_t *a;
    void         *sock;
    void         *mon;
    char          endpoint[320];
    bool          tcp_up;
    bool          subscribed;            /* PUB mode: the broker subscribed to "" */
    unsigned      generation;            /* sockets opened: unique monitor names */
    uint64_t      target_since;          /* when we started on this endpoint,
                                            or last lost it */
} zstate_t;

static void
publish_state(zstate_t *st, bool disconnect_event)
{
    bool up = st->tcp_up && (st->a->zmq_mode == TB_ADAPTOR_PUSH || st->subscribed);
    tb_adaptor_set_connected(st->a, up, disconnect_event);
}

static void
close_socket(zstate_t *st, int linger_ms)
{
    if (st->sock) {
        zmq_socket_monitor(st->sock, NULL, 0);
        zmq_setsockopt(st->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zmq_close(st->sock);
        st->sock = NULL;
    }
    if (st->mon) {
        int zero = 0;
        zmq_setsockopt(st->mon, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(st->mon);
        st->mon = NULL;
    }
    if (st->tcp_up || st->subscribed) {
        st->tcp_up = false;
        st->subscribed = false;
        publish_state(st, false);
    }
}

/* Create the socket and its monitor and connect to url. */
static int
open_socket(zstate_t *st, const char *url, bool immediate)
{
    tb_adaptor_t *a = st->a;
    bool pub = a->zmq_mode == TB_ADAPTOR_PUB;
    st->sock = zmq_socket(a->zmq_ctx, pub ? ZMQ_XPUB : ZMQ_PUSH);
    if (!st->sock)
        return TB_ERR_NET;
    int zero = 0, one = 1, hwm = PIPE_HWM, ivl = 100, ivl_max = 2000;
    int imm = immediate ? 1 : 0;
    zmq_setsockopt(st->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(st->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(st->sock, ZMQ_IMMEDIATE, &imm, sizeof imm);
    zmq_setsockopt(st->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(st->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (pub)
        zmq_setsockopt(st->sock, ZMQ_XPUB_NODROP, &one, sizeof one);

    /* A fresh name per socket: an old monitor endpoint may still be
     * releasing its name when a zone failover opens the next socket. */
    char mon_ep[80];
    snprintf(mon_ep, sizeof mon_ep, "inproc://tb-adaptor-monitor-%p-%u", (void *)st,
             st->generation++);
    if (zmq_socket_monitor(st->sock, mon_ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) == 0) {
        st->mon = zmq_socket(a->zmq_ctx, ZMQ_PAIR);
        if (st->mon && zmq_connect(st->mon, mon_ep) != 0) {
            zmq_close(st->mon);
            st->mon = NULL;
        }
    }
    if (zmq_connect(st->sock, url) != 0) {
        int err = errno == EINVAL || errno == EPROTONOSUPPORT ? TB_ERR_BAD_URL : TB_ERR_NET;
        close_socket(st, 0);
        return err;
    }
    snprintf(st->endpoint, sizeof st->endpoint, "%s", url);
    uint64_t now = tb_time_mono_ms();
    st->target_since = now;
    return TB_OK;
}

/* Read monitor events and XPUB subscriptions without waiting. */
static void
drain_events(zstate_t *st)
{
    bool changed = false;
    while (st->mon) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, st->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), 2);
        while (zmq_msg_more(&ev)) {          /* the endpoint frame */
            zmq_msg_close(&ev);
            zmq_msg_init(&ev);
            if (zmq_msg_recv(&ev, st->mon, 0) < 0)
                break;
        }
        zmq_msg_close(&ev);
        if (event == ZMQ_EVENT_CONNECTED) {
            st->tcp_up = true;
            changed = true;
            if (st->a->zone_on)
                tb_locator_connected(st->a->zone_state.loc, tb_time_mono_ms());
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            st->tcp_up = false;
            st->target_since = tb_time_mono_ms();   /* a new try window */
            publish_state(st, true);     /* counts the disconnect */
        }
    }
    while (st->sock && st->a->zmq_mode == TB_ADAPTOR_PUB) {
        unsigned char sub[8];
        int n = zmq_recv(st->sock, sub, sizeof sub, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        /* Only a subscription to everything ("") lets our frames through. */
        if (n == 1 && sub[0] == 1) {
            st->subscribed = true;
            changed = true;
        } else if (n == 1 && sub[0] == 0) {
            st->subscribed = false;
            changed = true;
        }
    }
    if (changed)
        publish_state(st, false);
}

/* Wait until something happens on the socket or the monitor. */
static void
wait_events(zstate_t *st, short sock_events, int timeout_ms)
{
    zmq_pollitem_t items[2];
    int n = 0;
    if (st->sock && sock_events) {
        items[n] = (zmq_pollitem_t){ st->sock, 0, sock_events, 0 };
        n++;
    }
    if (st->mon) {
        items[n] = (zmq_pollitem_t){ st->mon, 0, ZMQ_POLLIN, 0 };
        n++;
    }
    if (n == 0) {
        struct timespec ts = { 0, (long)timeout_ms * 1000000L };
        nanosleep(&ts, NULL);
        return;
    }
    zmq_poll(items, n, timeout_ms);
}

/* Zone mode: follow the locator's choice; a target that does not answer
 * within TARGET_TRY_MS is reported failed and the next one tried. */
static void
zone_maintenance(zstate_t *st)
{
    tb_adaptor_t *a = st->a;
    tb_zone_t *z = &a->zone_state;
    uint64_t now = tb_time_mono_ms();
    bool changed = tb_zone_step(a, z, now);
    const tb_endpoint_t *cur = tb_locator_current(z->loc);
    if (!cur)
        return;
    if (!changed && st->sock && !st->tcp_up) {
        uint64_t try_ms = a->reresolve_ms < TARGET_TRY_MS ? a->reresolve_ms : TARGET_TRY_MS;
        if (now - st->target_since >= try_ms) {
            cur = tb_locator_failed(z->loc, now);
            changed = true;
        }
    }
    if (changed || !st->sock) {
        close_socket(st, 0);
        if (!cur)
            return;
        int rc = open_socket(st, cur->url, true);
        if (rc != TB_OK)
            tb_adaptor_set_error(a, rc);
        st->target_since = now;
    }
}

void *
tb_adaptor_zmq_worker(void *arg)
{
    zstate_t st;
    memset(&st, 0, sizeof st);
    st.a = arg;
    tb_adaptor_t *a = st.a;
    bool pub = a->zmq_mode == TB_ADAPTOR_PUB;

    if (a->url) {
        int rc = open_socket(&st, a->url, false);
        if (rc != TB_OK)
            tb_adaptor_set_error(a, rc);
    }
    for (;;) {
        drain_events(&st);
        int idle_ms = IDLE_WAIT_MS, poll_ms = POLL_MS;
        if (a->zone_on && !tb_adaptor_is_stopping(a)) {
            zone_maintenance(&st);
            uint64_t now = tb_time_mono_ms();
            idle_ms = tb_zone_wait_ms(&a->zone_state, now, IDLE_WAIT_MS);
            poll_ms = tb_zone_wait_ms(&a->zone_state, now, POLL_MS);
        }
        bool ready = st.sock && (!pub || st.subscribed);
        bool stop;
        tb_msg_t *m = tb_adaptor_next(a, ready ? idle_ms : 0, &stop);
        if (stop)
            break;
        if (!ready) {
            wait_events(&st, pub ? ZMQ_POLLIN : 0, poll_ms);
            continue;
        }
        if (!m)
            continue;
        if (zmq_send(st.sock, m->bytes, m->len, ZMQ_DONTWAIT) >= 0) {
            tb_adaptor_done(a, TB_OK);
        } else if (errno == EAGAIN || errno == EINTR) {
            /* The pipe is full or there is none yet: wait for room. */
            wait_events(&st, (short)(ZMQ_POLLOUT | (pub ? ZMQ_POLLIN : 0)), poll_ms);
        } else {
            tb_adaptor_done(a, TB_ERR_NET);
        }
    }
    int left = tb_adaptor_linger_left(a);
    close_socket(&st, left > 0 ? left : 0);
    return NULL;
}
