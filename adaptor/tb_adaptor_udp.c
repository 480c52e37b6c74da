/*
 * tb_adaptor_udp.c - the background thread of a UDP + msgpack adaptor.
 *
 * Why this exists: messages are already packed (by the caller's thread, so
 * size errors come back at the call); this thread only hands datagrams to
 * the kernel without blocking the caller, waits when the socket buffer is
 * full, and, in zone mode, finds the broker's address through DNS first.
 * UDP gives no reachability signal, so a datagram the kernel refused for
 * good (no route, ...) is counted in errors and the next one goes on.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "tb_adaptor_internal.h"
#include "tb_time.h"

#define IDLE_WAIT_MS 100
#define POLL_MS      50

/* Zone mode: (re)open the socket towards the locator's current target.
 * UDP tells us nothing about reachability, so only the TTL and failed
 * lookups drive re-resolution. */
static void
zone_udp_maintenance(tb_adaptor_t *a)
{
    tb_zone_t *z = &a->zone_state;
    bool changed = tb_zone_step(a, z, tb_time_mono_ms());
    const tb_endpoint_t *cur = tb_locator_current(z->loc);
    if (!cur || (!changed && a->udp.fd >= 0))
        return;
    /* url is "tcp://<address>:<port>": the same address and port serve UDP. */
    const char *hp = cur->url;
    if (strncmp(hp, "tcp://", 6) == 0)
        hp += 6;
    tb_fw_udp_t fresh;
    int rc = tb_fw_udp_open(&fresh, hp);
    if (rc != TB_OK) {
        tb_adaptor_set_error(a, rc);
        return;
    }
    tb_fw_udp_close(&a->udp);
    a->udp = fresh;
    tb_locator_connected(z->loc, tb_time_mono_ms());
    tb_adaptor_set_connected(a, true, false);
}

void *
tb_adaptor_udp_worker(void *arg)
{
    tb_adaptor_t *a = arg;
    for (;;) {
        int idle_ms = IDLE_WAIT_MS, poll_ms = POLL_MS;
        if (a->zone_on && !tb_adaptor_is_stopping(a)) {
            zone_udp_maintenance(a);
            uint64_t now = tb_time_mono_ms();
            idle_ms = tb_zone_wait_ms(&a->zone_state, now, IDLE_WAIT_MS);
            poll_ms = tb_zone_wait_ms(&a->zone_state, now, POLL_MS);
        }
        bool ready = a->udp.fd >= 0;
        bool stop;
        tb_msg_t *m = tb_adaptor_next(a, ready ? idle_ms : 0, &stop);
        if (stop)
            break;
        if (!ready) {
            struct timespec ts = { 0, (long)poll_ms * 1000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        if (!m)
            continue;
        int rc = tb_fw_udp_send(&a->udp, m->bytes, m->len);
        if (rc == TB_OK) {
            tb_adaptor_done(a, TB_OK);
        } else if (rc == TB_ERR_NET && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                        errno == ENOBUFS || errno == EINTR)) {
            struct pollfd p = { a->udp.fd, POLLOUT, 0 };
            poll(&p, 1, poll_ms);
        } else {
            tb_adaptor_done(a, rc);
        }
    }
    return NULL;
}
