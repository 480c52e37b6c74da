/*
 * bench_loader.c - the bench's load generator.
 *
 * Why this exists: to measure a broker we need a sender that is never the
 * bottleneck: it PUSHes (or sends as UDP msgpack datagrams) fixed-size
 * thing_updates over a set of namespaces, either as fast as the receiver
 * accepts them or paced at a fixed rate, each carrying its send stamp for
 * the subscriber's latency figures.  It prints one JSON line: what it sent,
 * how long it took, and the send errors it saw (UDP sends can fail with
 * ENOBUFS; those are counted, never hidden).
 *
 * usage: bench-loader (--zmq ENDPOINT | --udp HOST:PORT) [--count N]
 *        [--rate R --duration S] [--namespaces K] [--ns-offset I]
 *        [--size BYTES] [--sndhwm N] [--batch B]
 */
#include "bench_msg.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define UDP_BATCH_MAX 64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_until_ns(uint64_t when)
{
    struct timespec t = { .tv_sec = (time_t)(when / 1000000000u),
                          .tv_nsec = (long)(when % 1000000000u) };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench-loader (--zmq ENDPOINT | --udp HOST:PORT) [options]\n"
            "  --count N        messages to send (default 200000; with --rate: until --duration)\n"
            "  --rate R         messages per second (default 0 = as fast as accepted)\n"
            "  --duration S     seconds to run when paced (default 5)\n"
            "  --namespaces K   distinct namespaces, round robin (default 1000)\n"
            "  --ns-offset I    first namespace index (default 0)\n"
            "  --size BYTES     size of the JSON form (default 166)\n"
            "  --sndhwm N       ZeroMQ send high-water mark (default 1000)\n"
            "  --batch B        UDP datagrams per sendmmsg (default 32, max 64)\n");
}

int main(int argc, char **argv)
{
    const char *zmq_ep = NULL, *udp_ep = NULL;
    long long count = 200000, ns_count = 1000, ns_offset = 0, sndhwm = 1000;
    double rate = 0, duration = 5;
    long size = 166, batch = 32;
    static const struct option longopts[] = {
        { "zmq", required_argument, 0, 'z' },       { "udp", required_argument, 0, 'u' },
        { "count", required_argument, 0, 'n' },     { "rate", required_argument, 0, 'r' },
        { "duration", required_argument, 0, 'd' },  { "namespaces", required_argument, 0, 'k' },
        { "ns-offset", required_argument, 0, 'o' }, { "size", required_argument, 0, 's' },
        { "sndhwm", required_argument, 0, 'w' },    { "batch", required_argument, 0, 'b' },
        { "help", no_argument, 0, 'h' },            { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'z': zmq_ep = optarg; break;
        case 'u': udp_ep = optarg; break;
        case 'n': count = atoll(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'k': ns_count = atoll(optarg); break;
        case 'o': ns_offset = atoll(optarg); break;
        case 's': size = atol(optarg); break;
        case 'w': sndhwm = atoll(optarg); break;
        case 'b': batch = atol(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((!zmq_ep) == (!udp_ep) || count < 0 || ns_count < 1 || ns_count > 10000000 ||
        ns_offset < 0 || rate < 0 || duration <= 0 || duration > 3600 || batch < 1 ||
        batch > UDP_BATCH_MAX) {
        usage(stderr);
        return 2;
    }
    if (rate > 0)
        count = (long long)(rate * duration);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    static bench_msg_t msgs[UDP_BATCH_MAX];
    bench_form_t form = zmq_ep ? BENCH_FORM_JSON : BENCH_FORM_MSGPACK_LIST;
    for (int i = 0; i < UDP_BATCH_MAX; i++) {
        if (bench_msg_init(&msgs[i], form, (size_t)size) != 0) {
            fprintf(stderr, "bench-loader: --size %ld does not fit the fixed fields\n", size);
            return 2;
        }
    }

    void *ctx = NULL, *push = NULL;
    int fd = -1;
    struct sockaddr_in dst;
    if (zmq_ep) {
        ctx = zmq_ctx_new();
        push = zmq_socket(ctx, ZMQ_PUSH);
        int hwm = (int)sndhwm, linger = 10000;
        zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(push, zmq_ep) != 0) {
            fprintf(stderr, "bench-loader: connect %s: %s\n", zmq_ep, zmq_strerror(errno));
            return 1;
        }
    } else {
        char host[64];
        const char *colon = strrchr(udp_ep, ':');
        if (!colon || (size_t)(colon - udp_ep) >= sizeof host) {
            fprintf(stderr, "bench-loader: --udp wants HOST:PORT\n");
            return 2;
        }
        memcpy(host, udp_ep, (size_t)(colon - udp_ep));
        host[colon - udp_ep] = '\0';
        memset(&dst, 0, sizeof dst);
        dst.sin_family = AF_INET;
        dst.sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
            fprintf(stderr, "bench-loader: bad IPv4 address %s\n", host);
            return 2;
        }
        fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
            perror("bench-loader: udp socket");
            return 1;
        }
    }

    long long sent = 0, errors = 0;
    uint64_t t0 = bench_mono_ns();
    uint64_t deadline = t0 + (uint64_t)((rate > 0 ? duration + 5 : 600) * 1e9);
    double period_ns = rate > 0 ? 1e9 / rate : 0;
    struct mmsghdr mh[UDP_BATCH_MAX];
    struct iovec iov[UDP_BATCH_MAX];

    while (sent < count && !stop_requested) {
        long want = zmq_ep ? 1 : batch;
        if (rate > 0) {
            uint64_t due = t0 + (uint64_t)((double)sent * period_ns);
            uint64_t now = bench_mono_ns();
            if (now < due) {
                sleep_until_ns(due);
                continue;
            }
            long late = (long)((double)(now - due) / period_ns) + 1;
            if (want > late)
                want = late;
        }
        if (want > count - sent)
            want = (long)(count - sent);
        if ((sent & 1023) == 0 && bench_mono_ns() > deadline)
            break;
        double ts = wall_now();
        if (zmq_ep) {
            uint64_t seq = (uint64_t)sent;
            bench_msg_t *m = &msgs[0];
            bench_msg_set(m, (uint32_t)(ns_offset + (long long)(seq % (uint64_t)ns_count)),
                          seq, ts, bench_mono_ns());
            if (zmq_send(push, m->buf, m->len, 0) < 0) {
                if (errno == EINTR)
                    continue;
                errors++;
                break;
            }
            sent++;
        } else {
            for (long i = 0; i < want; i++) {
                uint64_t seq = (uint64_t)(sent + i);
                bench_msg_set(&msgs[i],
                              (uint32_t)(ns_offset + (long long)(seq % (uint64_t)ns_count)),
                              seq, ts, bench_mono_ns());
                iov[i].iov_base = msgs[i].buf;
                iov[i].iov_len = msgs[i].len;
                memset(&mh[i], 0, sizeof mh[i]);
                mh[i].msg_hdr.msg_iov = &iov[i];
                mh[i].msg_hdr.msg_iovlen = 1;
            }
            int n = sendmmsg(fd, mh, (unsigned)want, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                /* ENOBUFS/ECONNREFUSED: the datagram is gone; count it as
                 * attempted so "lost" includes it, and say so. */
                errors++;
                n = 1;
            }
            sent += n;
        }
    }
    uint64_t t1 = bench_mono_ns();
    if (push) {
        zmq_close(push);          /* lingers until the queue is delivered */
        zmq_ctx_term(ctx);
    }
    uint64_t t2 = bench_mono_ns();
    if (fd >= 0)
        close(fd);
    double secs = (double)(t1 - t0) / 1e9;
    printf("{\"sent\":%lld,\"send_errors\":%lld,\"seconds\":%.6f,\"rate\":%.1f,"
           "\"flush_seconds\":%.6f,\"message_bytes\":%zu,\"data_json_bytes\":%zu,"
           "\"ts_json_bytes\":%zu,\"form\":\"%s\"}\n",
           sent, errors, secs, secs > 0 ? (double)sent / secs : 0.0,
           (double)(t2 - t1) / 1e9, msgs[0].len, msgs[0].data_json_len,
           msgs[0].ts_json_len, zmq_ep ? "json" : "msgpack-list");
    return 0;
}
