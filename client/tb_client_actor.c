/*
 * tb_client_actor.c - the client's background thread.
 *
 * Why this exists: the mirror must stay current while the program does
 * other things, and a ZeroMQ socket belongs to one thread.  This actor
 * (a czmq zactor) owns the SUB socket, its connection monitor and, in zone
 * mode, the asynchronous SRV resolver; it is the single owner of that event
 * loop.  Each message is decoded and handed to tb_client.c, which updates
 * the mirror and delivers events.  Failover and re-resolution policy comes
 * from tb_locator (common/tb_discovery.h): move to the next target when the
 * current one refuses or stays silent, resolve again when the broker has
 * been unreachable for a while or the records' TTL expires.
 *
 * Protocol v2 (PROTOCOL.md, part 2): next to the v1 SUB the actor runs the v2
 * socket driver (client/v2/tb_v2sync.h) on P+2/P+3 of the same broker.
 * While the protocol is unknown ("probing") v1 messages are applied as
 * before, so nothing changes against a v1 broker; the first v2 message
 * switches the client to v2 for good (the v1 SUB is closed and only the
 * v2 state machine feeds the mirror), and a v1 broker (its P+2 refuses
 * connections, or stays silent for V2_PROBE_MS after P answered) makes
 * the client drop v2 and stay with v1.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <stdlib.h>
#include "tb_client_internal.h"
#include "tb_time.h"
#include "v2/tb_v2sync.h"

/* A target that gives no connection within this long is given up (zone
 * mode, when another target exists). */
#define CONNECT_GIVE_UP_MS 3000
/* Messages handled per wake-up before looking at the command pipe again. */
#define BATCH 512
#define MAX_RESOLVER_FDS 17
/* A v1 snapshot round may come in several messages (our broker splits
 * large ones; every part carries the round's ts).  v1 has no end marker, so
 * a round counts as complete once no part of it came for this long ... */
#define ROUND_QUIET_MS 300
/* ... and a round whose first part we saw this soon after connecting may
 * have begun before we joined: it is not trusted to be whole, and the next
 * round is awaited instead (the v2 snapshot service ends this guessing). */
#define ROUND_SUSPECT_MS 100
/* v2 probe: once P answered, a broker whose P+2/P+3 said nothing for this
 * long speaks v1 only (PROTOCOL.md 15.6) ... */
#define V2_PROBE_MS 2000
/* ... and a connection to P+2 refused after P answered says so at once
 * (a v2 broker binds all its ports together at start-up). */

typedef enum { MODE_PROBING = 0, MODE_V1, MODE_V2 } mode_t_;

typedef struct {
    tb_client_t    *client;
    zsock_t        *sub;
    zsock_t        *monitor;
    char            current[320];     /* URL the SUB is connected to */
    bool            connected;
    uint64_t        connect_started;  /* mono ms of the last (re)connect */
    tb_locator_t   *locator;          /* zone mode only */
    tb_resolver_t  *resolver;
    bool            resolving;        /* a lookup we started is outstanding */
    char            zone[256];
    uint64_t        connected_at;     /* mono ms of the last CONNECTED, 0 never */
    bool            in_round;         /* snapshot parts are arriving */
    bool            round_suspect;    /* ... but the round may have begun before we joined */
    double          round_ts;
    uint64_t        round_last;       /* mono ms of the round's latest part */
    mode_t_         mode;
    bool            v1_synced_pending;/* a v1 round completed while probing */
    tb_v2cli_t     *v2;
    char            v2_for[320];      /* the PUB URL v2 endpoints derive from */
    bool            v2_alive;         /* heard from since the last death */
    bool            v2_ever_synced;
    uint64_t        v2_seen_count;    /* v2 messages so far (for v2_alive) */
    uint64_t        v2_bad_count;     /* malformed v2 messages already counted */
} actor_t;

static void
s_item(void *arg, tb_item_t *item)
{
    tb_client_apply_item(((actor_t *)arg)->client, item);
}

static void
s_reject(void *arg, tb_client_reject_t reason, const char *detail)
{
    tb_client_note_reject(((actor_t *)arg)->client, reason, detail);
}

/* A v1 snapshot round counts for tb_client_wait_synced only once v1 is
 * known to be the protocol: while probing, a v2 broker's end marker is
 * the exact answer and is usually milliseconds away. */
static void
s_v1_synced(actor_t *a)
{
    if (a->mode == MODE_V1)
        tb_client_note_synced(a->client);
    else if (a->mode == MODE_PROBING)
        a->v1_synced_pending = true;
}

static void
s_snapshot_end(void *arg, double round_ts)
{
    actor_t *a = (actor_t *)arg;
    uint64_t now = tb_time_mono_ms();
    if (a->in_round && round_ts == a->round_ts) {
        a->round_last = now;
        return;
    }
    if (a->in_round && !a->round_suspect)      /* a new round ends the last one */
        s_v1_synced(a);
    a->in_round = true;
    a->round_ts = round_ts;
    a->round_last = now;
    a->round_suspect = a->connected_at == 0 || now - a->connected_at < ROUND_SUSPECT_MS;
}

/* Ends a round that has been quiet long enough; returns the ms until it
 * should be checked again (-1: no round under way). */
static long
s_round_check(actor_t *a)
{
    if (!a->in_round)
        return -1;
    uint64_t now = tb_time_mono_ms();
    if (now - a->round_last < ROUND_QUIET_MS)
        return (long)(ROUND_QUIET_MS - (now - a->round_last));
    if (!a->round_suspect)
        s_v1_synced(a);
    a->in_round = false;
    return -1;
}

/* ------------------------------------------------------------ protocol v2 */

/* tcp://HOST:P -> tcp://HOST:P+2 (snapshot service) and tcp://HOST:P+3
 * (filtered PUB); false for other transports or a port too high. */
static bool
s_v2_urls(const char *pub_url, char *snap, char *fpub, size_t len)
{
    if (strncmp(pub_url, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr(pub_url, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon < pub_url + 6 || !end || *end || port < 1 || port > 65535 - 3)
        return false;
    int host_len = (int)(colon - pub_url);
    snprintf(snap, len, "%.*s:%ld", host_len, pub_url, port + 2);
    snprintf(fpub, len, "%.*s:%ld", host_len, pub_url, port + 3);
    return true;
}

static void
v2_apply(void *ctx, const char *ns, const tb_v2_value_t *v, bool from_snapshot)
{
    actor_t *a = ctx;
    tb_client_apply_v2(a->client, ns, v->data, v->data_len, v->ts_json, v->ts_json_len,
                       v->doc_url, v->doc_url_len, from_snapshot);
}

static void
v2_remove(void *ctx, const char *ns)
{
    tb_client_remove_thing(((actor_t *)ctx)->client, ns);
}

static bool
v2_holds(void *arg, const char *ns)
{
    return tb_v2sync_holds(tb_v2cli_sync((tb_v2cli_t *)arg), ns);
}

static void
v2_event(void *ctx, tb_v2sync_event_t ev, uint64_t detail)
{
    actor_t *a = ctx;
    (void)detail;
    switch (ev) {
    case TB_V2SYNC_EV_SYNCED:
        if (!a->v2_ever_synced && a->v2) {
            /* values learnt from v1 while probing that the broker no
             * longer has */
            tb_client_prune(a->client, tb_client_subtree_prefix(a->client), v2_holds, a->v2);
            a->v2_ever_synced = true;
        }
        tb_client_note_synced(a->client);
        break;
    case TB_V2SYNC_EV_LOSS:
        tb_client_note_v2(a->client, TB_NOTE_LOSS);
        tb_client_note_v2(a->client, TB_NOTE_RESYNC);
        break;
    case TB_V2SYNC_EV_BROKER_DEAD:
        tb_client_note_v2(a->client, TB_NOTE_DEATH);
        if (a->v2_alive)
            tb_client_note_connection(a->client, -1, NULL);
        a->v2_alive = false;
        break;
    case TB_V2SYNC_EV_BROKER_RESTART:
        tb_client_note_v2(a->client, TB_NOTE_RESTART);
        tb_client_note_v2(a->client, TB_NOTE_RESYNC);
        break;
    default:
        break;
    }
}

static void
s_v2_stop(actor_t *a)
{
    tb_v2cli_destroy(&a->v2);
    a->v2_for[0] = '\0';
}

/* Starts probing for v2 next to the v1 SUB on pub_url (again after a
 * zone failover changed the URL). */
static void
s_v2_probe(actor_t *a, const char *pub_url)
{
    char snap[400], fpub[400];
    if (a->mode != MODE_PROBING || strcmp(a->v2_for, pub_url) == 0)
        return;
    s_v2_stop(a);
    if (!s_v2_urls(pub_url, snap, fpub, sizeof snap)) {
        a->mode = MODE_V1;             /* ipc://, inproc://: v1 only */
        tb_client_set_protocol(a->client, 1);
        return;
    }
    tb_v2sync_config_t cfg;
    tb_v2sync_config_default(&cfg);
    cfg.probe_ms = UINT_MAX;           /* the actor decides (s_v2_decide) */
    tb_v2sync_actions_t act = { NULL, v2_apply, v2_remove, v2_event };
    a->v2 = tb_v2cli_new(zsys_init(), snap, fpub, tb_client_subtree_prefix(a->client), &cfg,
                         &act, a);
    a->v2_bad_count = a->v2_seen_count = 0;
    if (a->v2) {
        snprintf(a->v2_for, sizeof a->v2_for, "%s", pub_url);
        tb_client_set_snapshot_url(a->client, snap);
    }
    else {
        /* no v2 driver (out of memory, socket limit): speak v1 rather than
         * stay undecided, which would keep tb_client_wait_synced waiting */
        a->mode = MODE_V1;
        tb_client_set_protocol(a->client, 1);
    }
}

static void s_v1_close(actor_t *a);

/* After each turn: has the probe decided?  Is the v2 broker alive? */
static void
s_v2_decide(actor_t *a)
{
    if (!a->v2)
        return;
    tb_v2sync_t *sync = tb_v2cli_sync(a->v2);
    tb_v2sync_stats_t st;
    tb_v2sync_stats(sync, &st);
    uint64_t seen = st.heartbeats + st.entries_applied + st.updates_applied + st.snapshots
                  + st.removes + st.stale_replies + st.refusals;
    if (a->mode == MODE_PROBING && tb_v2sync_heard(sync)) {
        a->mode = MODE_V2;
        s_v1_close(a);
        tb_client_set_protocol(a->client, 2);
    } else if (a->mode == MODE_PROBING && a->connected) {
        uint64_t now = tb_time_mono_ms();
        bool refused = tb_v2cli_refused(a->v2);
        bool forced = tb_client_opts(a->client)->protocol == TB_CLIENT_PROTOCOL_V2;
        if (!forced && (refused || now - a->connected_at >= V2_PROBE_MS)) {
            s_v2_stop(a);
            a->mode = MODE_V1;
            tb_client_set_protocol(a->client, 1);
            if (a->v1_synced_pending)
                tb_client_note_synced(a->client);
            return;
        }
    }
    if (a->mode == MODE_V2 && seen != a->v2_seen_count && !a->v2_alive) {
        a->v2_alive = true;
        tb_client_note_connection(a->client, 1, NULL);
    }
    if (st.bad_messages != a->v2_bad_count) {
        tb_client_note_v2_malformed(a->client, st.bad_messages - a->v2_bad_count);
        a->v2_bad_count = st.bad_messages;
    }
    a->v2_seen_count = seen;
}

/* Points the SUB socket at url (disconnecting the previous one). */
static int
s_connect(actor_t *a, const char *url)
{
    if (a->current[0]) {
        if (strcmp(a->current, url) == 0)
            return 0;
        zsock_disconnect(a->sub, "%s", a->current);
    }
    a->connected = false;
    a->connect_started = tb_time_mono_ms();
    snprintf(a->current, sizeof a->current, "%s", url);
    tb_client_note_connection(a->client, 0, url);
    s_v2_probe(a, url);
    return zsock_connect(a->sub, "%s", url);
}

/* v2 took over: the v1 PUB is no longer read (v2 holds everything). */
static void
s_v1_close(actor_t *a)
{
    if (a->sub)
        zmq_socket_monitor(zsock_resolve(a->sub), NULL, 0);
    zsock_destroy(&a->monitor);
    zsock_destroy(&a->sub);
    tb_client_note_connection(a->client, 0, NULL);   /* not a loss: v2 follows */
    a->connected = false;
    a->in_round = false;
    a->v1_synced_pending = false;
}

static void
s_read_broker(actor_t *a)
{
    void *sock = zsock_resolve(a->sub);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_more(&msg)) {
            /* v1 messages are one frame: consume the rest and skip it */
            do {
                zmq_msg_close(&msg);
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, sock, 0) < 0)
                    break;
            } while (zmq_msg_more(&msg));
            zmq_msg_close(&msg);
            tb_client_note_message(a->client, TB_MSG_REJECTED);
            tb_client_note_reject(a->client, TB_CLIENT_REJECT_MULTIPART,
                                  "a message of more than one frame");
            continue;
        }
        tb_decode_sink_t sink = { s_item, s_reject, s_snapshot_end, a };
        tb_msg_kind_t kind = tb_client_decode(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                              tb_time_now(), &sink);
        zmq_msg_close(&msg);
        tb_client_note_message(a->client, kind);
        if (!a->connected) {
            /* a message proves the link even if the monitor was late */
            if (a->locator)
                tb_locator_connected(a->locator, tb_time_mono_ms());
        }
    }
}

/* Moves to the next endpoint in try order (zone mode). */
static void
s_failover(actor_t *a)
{
    if (!a->locator)
        return;
    const tb_endpoint_t *next = tb_locator_failed(a->locator, tb_time_mono_ms());
    if (next && strcmp(next->url, a->current) != 0)
        s_connect(a, next->url);
    else
        a->connect_started = tb_time_mono_ms();
}

static void
s_read_monitor(actor_t *a)
{
    zmsg_t *m = zmsg_recv(a->monitor);
    if (!m)
        return;
    zframe_t *f = zmsg_first(m);
    zframe_t *addr = zmsg_next(m);
    if (f && zframe_size(f) >= 6) {
        uint16_t ev;
        memcpy(&ev, zframe_data(f), sizeof ev);
        /* The monitor names the resolved address, not the URL we were
         * given, so events are not matched by URL; the only socket
         * monitored is ours and old endpoints are disconnected. */
        (void)addr;
        bool ours = true;
        if (ev == ZMQ_EVENT_CONNECTED && ours) {
            a->connected = true;
            a->connected_at = tb_time_mono_ms();
            if (a->v2 && a->mode == MODE_PROBING)
                tb_v2cli_refused_reset(a->v2);   /* earlier ones: nobody was up */
            tb_client_note_connection(a->client, 1, NULL);
            if (a->locator)
                tb_locator_connected(a->locator, tb_time_mono_ms());
        } else if (ev == ZMQ_EVENT_DISCONNECTED && ours) {
            if (a->connected)
                tb_client_note_connection(a->client, -1, NULL);
            a->connected = false;
            a->connect_started = tb_time_mono_ms();
            a->in_round = false;          /* parts may have been lost */
        } else if (ev == ZMQ_EVENT_CONNECT_RETRIED && ours && !a->connected) {
            s_failover(a);
        }
    }
    zmsg_destroy(&m);
}

/* Zone mode: start a lookup when the locator says so, collect its result. */
static void
s_resolver_step(actor_t *a, struct pollfd *fds, size_t nfds, bool polled)
{
    uint64_t now = tb_time_mono_ms();
    if (polled && tb_resolver_busy(a->resolver))
        tb_resolver_process(a->resolver, fds, nfds);
    if (tb_resolver_busy(a->resolver))
        return;
    if (a->resolving) {
        tb_endpoints_t *eps = NULL;
        char err[256];
        int rc = tb_resolver_result(a->resolver, &eps, err, sizeof err);
        a->resolving = false;
        if (rc == TB_OK && eps) {
            tb_client_note_resolution(a->client);
            if (tb_locator_set_endpoints(a->locator, eps, now)) {
                const tb_endpoint_t *cur = tb_locator_current(a->locator);
                if (cur)
                    s_connect(a, cur->url);
            }
        } else {
            tb_endpoints_free(&eps);
            tb_locator_resolve_failed(a->locator, now);
        }
    }
    if (tb_locator_should_resolve(a->locator, now)) {
        if (tb_resolver_start(a->resolver, a->zone, TB_SERVICE_PUB, 0) == TB_OK) {
            tb_locator_resolving(a->locator, now);
            a->resolving = true;
        } else {
            tb_locator_resolve_failed(a->locator, now);
        }
    }
}

static int
s_setup(actor_t *a, char *err, size_t errlen)
{
    tb_client_t *c = a->client;
    const tb_client_options_t *o = tb_client_opts(c);
    char mon_url[64];
    if (o->protocol == TB_CLIENT_PROTOCOL_V1) {
        a->mode = MODE_V1;
        tb_client_set_protocol(c, 1);
    }
    a->sub = zsock_new(ZMQ_SUB);
    a->monitor = zsock_new(ZMQ_PAIR);
    if (!a->sub || !a->monitor) {
        snprintf(err, errlen, "could not create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        return TB_ERR_NET;
    }
    zsock_set_subscribe(a->sub, "");
    zsock_set_linger(a->sub, 0);
    zsock_set_reconnect_ivl(a->sub, 100);
    zsock_set_reconnect_ivl_max(a->sub, 2000);
    if (o->max_message_size > 0)
        zsock_set_maxmsgsize(a->sub, (int)(o->max_message_size > INT32_MAX ? INT32_MAX
                                                                            : o->max_message_size));
    snprintf(mon_url, sizeof mon_url, "inproc://tb-client-monitor-%p", (void *)a);
    if (zmq_socket_monitor(zsock_resolve(a->sub), mon_url,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                           | ZMQ_EVENT_CONNECT_RETRIED) != 0
        || zsock_connect(a->monitor, "%s", mon_url) != 0) {
        snprintf(err, errlen, "could not monitor the connection: %s", zmq_strerror(zmq_errno()));
        return TB_ERR_NET;
    }
    if (tb_client_zone(c)) {
        snprintf(a->zone, sizeof a->zone, "%s", tb_client_zone(c));
        a->locator = tb_locator_new(o->unreachable_ms);
        int rc = tb_resolver_new(&a->resolver, tb_client_dns_servers(c), err, errlen);
        if (!a->locator || rc != TB_OK)
            return a->locator ? rc : TB_ERR_NOMEM;
        tb_locator_set_endpoints(a->locator, tb_client_take_endpoints(c), tb_time_mono_ms());
        const tb_endpoint_t *cur = tb_locator_current(a->locator);
        if (!cur) {
            snprintf(err, errlen, "no broker address found");
            return TB_ERR_DNS_NO_RECORD;
        }
        if (s_connect(a, cur->url) != 0) {
            snprintf(err, errlen, "cannot connect to %.200s: %s", cur->url, zmq_strerror(zmq_errno()));
            return TB_ERR_BAD_URL;
        }
    } else if (s_connect(a, tb_client_start_url(c)) != 0) {
        snprintf(err, errlen, "cannot connect to %.200s: %s", tb_client_start_url(c),
                 zmq_strerror(zmq_errno()));
        return TB_ERR_BAD_URL;
    }
    return TB_OK;
}

void
tb_client_actor(zsock_t *pipe, void *arg)
{
    actor_t a;
    char err[256] = "";
    memset(&a, 0, sizeof a);
    a.client = (tb_client_t *)arg;
    int rc = s_setup(&a, err, sizeof err);
    tb_client_set_start_error(a.client, rc, err);
    zsock_signal(pipe, 0);
    bool running = rc == TB_OK;
    while (running) {
        zmq_pollitem_t items[5 + MAX_RESOLVER_FDS];
        struct pollfd fds[MAX_RESOLVER_FDS];
        size_t nfds = 0;
        int n_items = 0, i_sub = -1, i_mon = -1, i_v2sub = -1, i_v2deal = -1, i_res = -1;
        long timeout = 1000;
        items[n_items++] = (zmq_pollitem_t){ zsock_resolve(pipe), 0, ZMQ_POLLIN, 0 };
        if (a.sub) {
            i_sub = n_items;
            items[n_items++] = (zmq_pollitem_t){ zsock_resolve(a.sub), 0, ZMQ_POLLIN, 0 };
            i_mon = n_items;
            items[n_items++] = (zmq_pollitem_t){ zsock_resolve(a.monitor), 0, ZMQ_POLLIN, 0 };
        }
        if (a.v2) {
            void *vs = tb_v2cli_sub_socket(a.v2), *vd = tb_v2cli_dealer_socket(a.v2);
            if (vs) {
                i_v2sub = n_items;
                items[n_items++] = (zmq_pollitem_t){ vs, 0, ZMQ_POLLIN, 0 };
            }
            if (vd) {
                i_v2deal = n_items;
                items[n_items++] = (zmq_pollitem_t){ vd, 0, ZMQ_POLLIN, 0 };
            }
            unsigned t = tb_v2cli_process(a.v2, false, false);
            if ((long)t < timeout)
                timeout = (long)t;
            if (a.mode == MODE_PROBING && a.connected && timeout > 20)
                timeout = 20;              /* watch for a refused P+2 */
        }
        if (a.locator && a.mode != MODE_V2) {
            if (tb_resolver_busy(a.resolver)) {
                nfds = tb_resolver_pollfds(a.resolver, fds, MAX_RESOLVER_FDS);
                int t = tb_resolver_timeout_ms(a.resolver);
                if (t >= 0 && t < timeout)
                    timeout = t;
            } else {
                int64_t t = tb_locator_timeout_ms(a.locator, tb_time_mono_ms());
                if (t >= 0 && t < timeout)
                    timeout = (long)t;
            }
            i_res = n_items;
            for (size_t i = 0; i < nfds; i++)
                items[n_items++] = (zmq_pollitem_t){ NULL, fds[i].fd,
                    (short)(((fds[i].events & POLLIN) ? ZMQ_POLLIN : 0)
                            | ((fds[i].events & POLLOUT) ? ZMQ_POLLOUT : 0)), 0 };
        }
        long round_wait = s_round_check(&a);
        if (round_wait >= 0 && round_wait < timeout)
            timeout = round_wait;
        int n = zmq_poll(items, n_items, timeout);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            char *cmd = zstr_recv(pipe);
            if (!cmd || strcmp(cmd, "$TERM") == 0)
                running = false;
            zstr_free(&cmd);
        }
        if (n > 0 && i_mon >= 0 && (items[i_mon].revents & ZMQ_POLLIN))
            s_read_monitor(&a);
        if (n > 0 && i_sub >= 0 && a.sub && (items[i_sub].revents & ZMQ_POLLIN))
            s_read_broker(&a);
        if (a.v2) {
            tb_v2cli_process(a.v2, n > 0 && i_v2sub >= 0 && (items[i_v2sub].revents & ZMQ_POLLIN),
                             n > 0 && i_v2deal >= 0 && (items[i_v2deal].revents & ZMQ_POLLIN));
            s_v2_decide(&a);
        }
        s_round_check(&a);
        if (a.locator && a.mode != MODE_V2) {
            for (size_t i = 0; i < nfds; i++)
                fds[i].revents = (short)(((items[i_res + i].revents & ZMQ_POLLIN) ? POLLIN : 0)
                                         | ((items[i_res + i].revents & ZMQ_POLLOUT) ? POLLOUT : 0)
                                         | ((items[i_res + i].revents & ZMQ_POLLERR) ? POLLERR : 0));
            if (!a.connected && tb_time_mono_ms() - a.connect_started > CONNECT_GIVE_UP_MS)
                s_failover(&a);
            s_resolver_step(&a, fds, nfds, true);
        }
    }
    if (!running && rc != TB_OK) {
        /* set-up failed: wait for the $TERM that tb_client_new will send */
        char *cmd = zstr_recv(pipe);
        zstr_free(&cmd);
    }
    if (a.sub)
        zmq_socket_monitor(zsock_resolve(a.sub), NULL, 0);
    zsock_destroy(&a.monitor);
    zsock_destroy(&a.sub);
    s_v2_stop(&a);
    tb_resolver_destroy(&a.resolver);
    tb_locator_destroy(&a.locator);
}
