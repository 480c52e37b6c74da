/*
 * input_zmq.c - the ZeroMQ sockets: the directory PUB, the PULL input and
 * the optional legacy SUB input; reading input in batches.
 *
 * Why this exists: binding (with clear errors naming the endpoint) and the
 * per-wake-up drain of an input socket are the ZeroMQ-specific parts of the
 * broker.  A drain reads up to INPUT_BATCH messages without waiting, then
 * returns to the loop so the other inputs and the snapshot get their turn.
 * One zmq_msg_t is reused; the frame is handed to the handler in place.
 * Size is checked before parsing: over --max-message-size is refused and
 * counted (too_large); a message of several frames is refused and counted
 * (multi_frame), its frames drained.  ZMQ_MAXMSGSIZE is set well above the
 * limit as a memory guard against absurd frames: a peer sending one of those
 * is disconnected by libzmq (uncounted, documented in thingsbusd(8)).
 */
#include "broker.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define INPUT_BATCH 512

static int64_t
hard_limit(const broker_t *b)
{
    int64_t soft = (int64_t)b->cfg->max_message_size;
    int64_t hard = soft * 4;
    if (hard < 16 * 1024 * 1024)
        hard = 16 * 1024 * 1024;
    return hard;
}

/* Bind, retrying without IPv6 when a wildcard cannot be dual-stack. */
static int
bind_endpoint(broker_t *b, void *sock, const char *what, const char *endpoint)
{
    int ipv6 = (strchr(endpoint, '*') || strchr(endpoint, '[')) ? 1 : 0;
    zmq_setsockopt(sock, ZMQ_IPV6, &ipv6, sizeof ipv6);
    if (zmq_bind(sock, endpoint) == 0)
        return 0;
    int err = zmq_errno();
    if (ipv6 && strchr(endpoint, '*')) {
        ipv6 = 0;
        zmq_setsockopt(sock, ZMQ_IPV6, &ipv6, sizeof ipv6);
        if (zmq_bind(sock, endpoint) == 0) {
            tb_log(b->log, TB_LOG_INFO, "%s %s: IPv6 unavailable, IPv4 only", what, endpoint);
            return 0;
        }
    }
    tb_log(b->log, TB_LOG_ERROR, "cannot bind the %s endpoint %s: %s", what, endpoint,
           zmq_strerror(err));
    return -1;
}

static void *
open_socket(broker_t *b, int type, const char *what, const char *endpoint)
{
    void *s = zmq_socket(b->zctx, type);
    if (!s) {
        tb_log(b->log, TB_LOG_ERROR, "cannot create the %s socket: %s", what,
               zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_PUB) {
        int hwm = (int)b->cfg->pub_hwm;
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    else {
        int hwm = (int)b->cfg->input_hwm;
        int64_t max = hard_limit(b);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
        if (type == ZMQ_SUB)
            zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    }
    if (bind_endpoint(b, s, what, endpoint) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

int
zmq_sockets_open(broker_t *b)
{
    b->pub = open_socket(b, ZMQ_PUB, "PUB", b->cfg->pub_endpoint);
    if (!b->pub)
        return -1;
    b->pull = open_socket(b, ZMQ_PULL, "PULL input", b->cfg->pull_endpoint);
    if (!b->pull)
        return -1;
    if (b->cfg->legacy_sub_endpoint && b->cfg->legacy_sub_endpoint[0]) {
        b->legacy_sub = open_socket(b, ZMQ_SUB, "legacy SUB input",
                                    b->cfg->legacy_sub_endpoint);
        if (!b->legacy_sub)
            return -1;
    }
    return 0;
}

void
zmq_sockets_close(broker_t *b)
{
    void **socks[] = { &b->pub, &b->pull, &b->legacy_sub };
    for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++) {
        if (*socks[i]) {
            zmq_close(*socks[i]);
            *socks[i] = NULL;
        }
    }
}

void
zmq_input_drain(broker_t *b, void *socket, broker_input_t input)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    broker_source_t src = { .input = input, .zmq_msg = &msg, .peer = NULL };
    for (int n = 0; n < INPUT_BATCH; n++) {
        if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0)
            break;                                  /* EAGAIN, or EINTR: back to the loop */
        if (zmq_msg_more(&msg)) {
            char detail[64];
            int frames = 1;
            while (zmq_msg_more(&msg) && zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) >= 0)
                frames++;
            snprintf(detail, sizeof detail, "%d frames; a thing_update is one frame", frames);
            broker_reject(b, &src, REJECT_MULTI_FRAME, detail);
            continue;
        }
        size_t len = zmq_msg_size(&msg);
        if (len > b->cfg->max_message_size) {
            char detail[96];
            snprintf(detail, sizeof detail, "%zu bytes, the limit is %zu", len,
                     b->cfg->max_message_size);
            broker_reject(b, &src, TB_REASON_TOO_LARGE, detail);
            continue;
        }
        handle_update(b, &src, zmq_msg_data(&msg), len, false);
    }
    zmq_msg_close(&msg);
}
