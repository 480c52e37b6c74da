/*
 * v2_testhost.c - the v2 server engine on loopback TCP with a test
 * directory, driven line by line on stdin (for test_v2_wire.py).
 *
 * Why this exists: the Python tests check the v2 wire format with an
 * independent implementation (python3-zmq and Python's json), which needs a
 * process serving it before the broker is wired.  Commands, one per line:
 *   u NS JSON   store and publish an update      -> "ok SEQ"
 *   p NS        purge                            -> "ok SEQ"
 *   f N         fill N Things "fill<i/100>.t<i>" -> "ok SEQ"
 *   x NS JSON   store an update but do not publish it: the subscribers
 *               "lose" it (for the client's gap tests) -> "ok SEQ"
 *   q           quit
 * At start it prints "SNAP <endpoint>" and "PUB <endpoint>".
 * Usage: tb-v2-testhost [HEARTBEAT_MS [BATCH_BYTES [BASE_PORT]]]
 * With BASE_PORT P it binds 127.0.0.1:P+2 (snapshot service) and P+3
 * (filtered PUB), where a client given the broker URL tcp://127.0.0.1:P
 * looks for them; otherwise it binds two free ports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "tb_time.h"
#include "v2/tb_v2srv.h"
#include "v2_fakedir.h"

static void
command(fakedir_t *dir, tb_v2srv_t *srv, char *line)
{
    line[strcspn(line, "\n")] = 0;
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = 0;
    uint64_t seq = 0;
    if ((strcmp(line, "u") == 0 || strcmp(line, "x") == 0) && arg) {
        char *data = strchr(arg, ' ');
        if (data) {
            *data++ = 0;
            seq = fakedir_update(dir, arg, data, line[0] == 'u' ? srv : NULL);
        }
    } else if (strcmp(line, "p") == 0 && arg) {
        seq = fakedir_purge(dir, arg, srv);
    } else if (strcmp(line, "f") == 0 && arg) {
        char ns[64], data[64];
        for (int i = 0, n = atoi(arg); i < n; i++) {
            snprintf(ns, sizeof ns, "fill%d.t%d", i / 100, i);
            snprintf(data, sizeof data, "{\"v\":%d}", i);
            seq = fakedir_update(dir, ns, data, srv);
        }
    } else {
        printf("error unknown command\n");
        fflush(stdout);
        return;
    }
    printf("ok %llu\n", (unsigned long long)seq);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    tb_v2srv_config_t cfg;
    tb_v2srv_config_default(&cfg);
    if (argc > 1)
        cfg.heartbeat_ms = (unsigned)atoi(argv[1]);
    if (argc > 2)
        cfg.batch_bytes = (size_t)atol(argv[2]);
    char snap_ep[64] = "tcp://127.0.0.1:*", pub_ep[64] = "tcp://127.0.0.1:*";
    if (argc > 3) {
        int base = atoi(argv[3]);
        snprintf(snap_ep, sizeof snap_ep, "tcp://127.0.0.1:%d", base + 2);
        snprintf(pub_ep, sizeof pub_ep, "tcp://127.0.0.1:%d", base + 3);
    }
    void *zctx = zmq_ctx_new();
    fakedir_t *dir = fakedir_new();
    tb_v2srv_t *srv = tb_v2srv_new(zctx, snap_ep, pub_ep, fakedir_iface(), dir, &cfg, NULL);
    if (!srv) {
        fprintf(stderr, "tb-v2-testhost: cannot bind\n");
        return 1;
    }
    char ep[128];
    size_t len = sizeof ep;
    zmq_getsockopt(tb_v2srv_router(srv), ZMQ_LAST_ENDPOINT, ep, &len);
    printf("SNAP %s\n", ep);
    len = sizeof ep;
    zmq_getsockopt(tb_v2srv_xpub(srv), ZMQ_LAST_ENDPOINT, ep, &len);
    printf("PUB %s\n", ep);
    fflush(stdout);
    char line[65536];
    bool busy = false, running = true;
    while (running) {
        uint64_t now = tb_time_mono_ms();
        unsigned hb = tb_v2srv_tick(srv, now);
        zmq_pollitem_t items[3] = { { tb_v2srv_router(srv), 0, ZMQ_POLLIN, 0 },
                                    { tb_v2srv_xpub(srv), 0, ZMQ_POLLIN, 0 },
                                    { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 3, busy ? 0 : (long)hb) < 0)
            break;
        now = tb_time_mono_ms();
        tb_v2srv_handle_requests(srv, now);
        tb_v2srv_handle_subscriptions(srv, now);
        busy = tb_v2srv_step(srv, now, 4000);
        if (items[2].revents & ZMQ_POLLIN) {
            if (!fgets(line, sizeof line, stdin) || line[0] == 'q')
                running = false;
            else
                command(dir, srv, line);
        }
    }
    tb_v2srv_destroy(&srv);
    fakedir_destroy(&dir);
    zmq_ctx_term(zctx);
    return 0;
}
