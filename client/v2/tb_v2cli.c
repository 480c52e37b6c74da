/*
 * tb_v2cli.c - a small socket driver around the v2 sync state machine.
 *
 * Why this exists: the state machine has no sockets so it can be tested
 * with a fake clock; something still has to own a SUB on the filtered PUB
 * and a DEALER on the snapshot service, feed them in, and reconnect when
 * the broker is declared dead.  This is that something, kept small so the
 * client library's actor can either use it or copy its ten lines of
 * wiring.
 */
#include "tb_v2sync_int.h"
#include "tb_time.h"
#include "thingsbus_errors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_REPLY_FRAMES 4
#define DRAIN_BATCH      4096

struct tb_v2cli_t {
    void               *zctx;
    char               *snapshot_ep, *pub_ep;
    void               *sub, *dealer;
    tb_v2sync_t        *sync;
    tb_v2sync_actions_t user;
    void               *user_ctx;
    int                 sub_hwm;
    bool                reconnect;
    void               *monitor;      /* PAIR reading the DEALER's monitor */
    unsigned            monitor_gen;
    bool                refused, reached;
};

static int
drv_send(void *ctx, const tb_v2_frame_t *frames, size_t n)
{
    tb_v2cli_t *self = ctx;
    if (!self->dealer)
        return TB_ERR_CLOSED;
    for (size_t i = 0; i < n; i++)
        if (zmq_send(self->dealer, frames[i].data, frames[i].len,
                     (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return TB_ERR_NET;
    return 0;
}

static void
drv_apply(void *ctx, const char *ns, const tb_v2_value_t *v, bool from_snapshot)
{
    tb_v2cli_t *self = ctx;
    if (self->user.apply)
        self->user.apply(self->user_ctx, ns, v, from_snapshot);
}

static void
drv_remove(void *ctx, const char *ns)
{
    tb_v2cli_t *self = ctx;
    if (self->user.remove)
        self->user.remove(self->user_ctx, ns);
}

static void
drv_event(void *ctx, tb_v2sync_event_t ev, uint64_t detail)
{
    tb_v2cli_t *self = ctx;
    if (ev == TB_V2SYNC_EV_BROKER_DEAD)
        self->reconnect = true;
    if (self->user.event)
        self->user.event(self->user_ctx, ev, detail);
}

static void
close_monitor(tb_v2cli_t *self)
{
    if (self->monitor) {
        if (self->dealer)
            zmq_socket_monitor(self->dealer, NULL, 0);
        zmq_close(self->monitor);
        self->monitor = NULL;
    }
}

/* Watch the DEALER's connection: a refused connect means nothing listens
 * on the snapshot port (an original broker), which tb_v2cli_refused()
 * reports.  Best effort: without a monitor the host's probe timeout
 * decides instead. */
static void
open_monitor(tb_v2cli_t *self)
{
    char ep[64];
    int zero = 0;
    snprintf(ep, sizeof ep, "inproc://tb-v2cli-mon-%p-%u", (void *)self, ++self->monitor_gen);
    self->refused = self->reached = false;
    if (zmq_socket_monitor(self->dealer, ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED) != 0)
        return;
    self->monitor = zmq_socket(self->zctx, ZMQ_PAIR);
    if (!self->monitor)
        return;
    zmq_setsockopt(self->monitor, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(self->monitor, ep) != 0) {
        zmq_close(self->monitor);
        self->monitor = NULL;
        zmq_socket_monitor(self->dealer, NULL, 0);
    }
}

bool
tb_v2cli_refused(tb_v2cli_t *self)
{
    if (!self)
        return false;
    for (int i = 0; self->monitor && i < 64; i++) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&id, zmq_msg_data(&ev), sizeof id);
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) {  /* the address frame */
            zmq_msg_init(&ev);
            more = zmq_msg_recv(&ev, self->monitor, 0) >= 0 && zmq_msg_more(&ev);
            zmq_msg_close(&ev);
        }
        if (id == ZMQ_EVENT_CONNECTED)
            self->reached = true;
        else if (id == ZMQ_EVENT_CONNECT_RETRIED)
            self->refused = true;
    }
    return self->refused && !self->reached;
}

void
tb_v2cli_refused_reset(tb_v2cli_t *self)
{
    if (!self)
        return;
    (void)tb_v2cli_refused(self);
    self->refused = self->reached = false;
}

void *tb_v2cli_sub_socket(tb_v2cli_t *self) { return self ? self->sub : NULL; }
void *tb_v2cli_dealer_socket(tb_v2cli_t *self) { return self ? self->dealer : NULL; }

static void
close_sockets(tb_v2cli_t *self)
{
    close_monitor(self);
    if (self->sub)
        zmq_close(self->sub);
    if (self->dealer)
        zmq_close(self->dealer);
    self->sub = self->dealer = NULL;
}

static int
open_sockets(tb_v2cli_t *self)
{
    int zero = 0;
    self->sub = zmq_socket(self->zctx, ZMQ_SUB);
    self->dealer = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!self->sub || !self->dealer)
        goto fail;
    zmq_setsockopt(self->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->dealer, ZMQ_LINGER, &zero, sizeof zero);
    if (self->sub_hwm > 0)
        zmq_setsockopt(self->sub, ZMQ_RCVHWM, &self->sub_hwm, sizeof self->sub_hwm);
    const char *topic = tb_v2sync_topic(self->sync);
    if (zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0 ||
        zmq_connect(self->sub, self->pub_ep) != 0 ||
        zmq_connect(self->dealer, self->snapshot_ep) != 0)
        goto fail;
    open_monitor(self);
    return 0;
fail:
    close_sockets(self);
    return TB_ERR_NET;
}

tb_v2cli_t *
tb_v2cli_new(void *zctx, const char *snapshot_ep, const char *pub_ep, const char *prefix,
             const tb_v2sync_config_t *cfg, const tb_v2sync_actions_t *actions, void *ctx)
{
    if (!zctx || !snapshot_ep || !pub_ep || !prefix)
        return NULL;
    tb_v2cli_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zctx = zctx;
    if (actions)
        self->user = *actions;
    self->user_ctx = ctx;
    tb_v2sync_actions_t mine = { drv_send, drv_apply, drv_remove, drv_event };
    self->snapshot_ep = strdup(snapshot_ep);
    self->pub_ep = strdup(pub_ep);
    self->sync = tb_v2sync_new(prefix, cfg, &mine, self);
    if (!self->snapshot_ep || !self->pub_ep || !self->sync || open_sockets(self) != 0) {
        tb_v2cli_destroy(&self);
        return NULL;
    }
    tb_v2sync_start(self->sync, tb_time_mono_ms());
    return self;
}

void
tb_v2cli_destroy(tb_v2cli_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_v2cli_t *self = *self_p;
    close_sockets(self);
    tb_v2sync_destroy(&self->sync);
    free(self->snapshot_ep);
    free(self->pub_ep);
    free(self);
    *self_p = NULL;
}

tb_v2sync_t *tb_v2cli_sync(tb_v2cli_t *self) { return self ? self->sync : NULL; }

int
tb_v2cli_set_sub_hwm(tb_v2cli_t *self, int hwm)
{
    if (!self || hwm < 0)
        return TB_ERR_INVALID_ARG;
    self->sub_hwm = hwm;
    return 0;
}

static int
drain_sub(tb_v2cli_t *self)
{
    int fed = 0;
    while (fed < DRAIN_BATCH) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, self->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            break;
        }
        zmq_msg_init(&body);
        bool two = zmq_msg_more(&topic) && zmq_msg_recv(&body, self->sub, 0) >= 0;
        while (zmq_msg_more(two ? &body : &topic)) { /* drop extra frames */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            int r = zmq_msg_recv(&extra, self->sub, 0);
            bool more = r >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            two = false;
            if (!more)
                break;
        }
        uint64_t now = tb_time_mono_ms();
        if (two)
            tb_v2sync_on_pub(self->sync, now, zmq_msg_data(&topic), zmq_msg_size(&topic),
                             zmq_msg_data(&body), zmq_msg_size(&body));
        else
            tb_v2sync_on_pub(self->sync, now, "", 0, "", 0); /* counted as bad */
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        fed++;
    }
    return fed;
}

static int
drain_dealer(tb_v2cli_t *self)
{
    int fed = 0;
    while (fed < DRAIN_BATCH && self->dealer) {
        zmq_msg_t m[MAX_REPLY_FRAMES];
        tb_v2_frame_t f[MAX_REPLY_FRAMES];
        size_t n = 0;
        bool got = false;
        for (;;) {
            zmq_msg_t tmp, *cur = n < MAX_REPLY_FRAMES ? &m[n] : &tmp;
            zmq_msg_init(cur);
            if (zmq_msg_recv(cur, self->dealer, got ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(cur);
                break;
            }
            got = true;
            bool more = zmq_msg_more(cur);
            if (cur == &tmp)
                zmq_msg_close(cur);
            else
                n++;
            if (!more)
                break;
        }
        if (!got)
            break;
        for (size_t i = 0; i < n; i++)
            f[i] = (tb_v2_frame_t){ zmq_msg_data(&m[i]), zmq_msg_size(&m[i]) };
        tb_v2sync_on_reply(self->sync, tb_time_mono_ms(), f, n);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&m[i]);
        fed++;
    }
    return fed;
}

static void
maybe_reconnect(tb_v2cli_t *self)
{
    if (!self->reconnect)
        return;
    self->reconnect = false;
    close_sockets(self);
    if (open_sockets(self) == 0)
        tb_v2sync_start(self->sync, tb_time_mono_ms());
}

/* Runs the sync machine's timers, then reconnects when it asked to or when
 * the SUB socket is gone.  Returns the ms until its next timer; *open says
 * whether the SUB socket is there afterwards. */
static unsigned
tick(tb_v2cli_t *self, bool *open)
{
    unsigned next = tb_v2sync_tick(self->sync, tb_time_mono_ms());
    maybe_reconnect(self);
    if (!self->sub) {
        self->reconnect = true;
        maybe_reconnect(self);
    }
    *open = self->sub != NULL;
    return next;
}

unsigned
tb_v2cli_process(tb_v2cli_t *self, bool sub_ready, bool dealer_ready)
{
    if (!self)
        return 1000;
    if (dealer_ready && self->dealer)
        drain_dealer(self);
    if (sub_ready && self->sub)
        drain_sub(self);
    bool open;
    unsigned next = tick(self, &open);
    return open ? next : 100;    /* could not reopen: try again soon */
}

int
tb_v2cli_run_once(tb_v2cli_t *self, int timeout_ms)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    bool open;
    unsigned next = tick(self, &open);
    if (!open)
        return TB_ERR_NET;
    if (timeout_ms < 0 || (unsigned)timeout_ms > next)
        timeout_ms = (int)next;
    zmq_pollitem_t items[2] = {
        { self->sub, 0, ZMQ_POLLIN, 0 },
        { self->dealer, 0, ZMQ_POLLIN, 0 },
    };
    if (zmq_poll(items, 2, timeout_ms) < 0)
        return TB_ERR_NET;
    int fed = 0;
    /* replies first: a batch frees server credit sooner */
    if (items[1].revents & ZMQ_POLLIN)
        fed += drain_dealer(self);
    if (items[0].revents & ZMQ_POLLIN)
        fed += drain_sub(self);
    tb_v2sync_tick(self->sync, tb_time_mono_ms());
    maybe_reconnect(self);
    return fed;
}
