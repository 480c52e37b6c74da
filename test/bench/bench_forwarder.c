/*
 * bench_forwarder.c - the zero-work baseline the broker is measured against.
 *
 * Why this exists: "how fast is the broker" only means something next to
 * the physical limit of the same sockets on the same machine.  This program
 * does everything the broker's transport does and nothing else: ZeroMQ
 * PULL -> zmq_proxy -> PUB, or UDP datagrams (read with recvmmsg) -> PUB,
 * copying bytes without looking at them, with the same high-water marks the
 * broker is given.  Stopped by SIGTERM/SIGINT (default action).
 *
 * usage: bench-forwarder --pub ENDPOINT (--pull ENDPOINT | --udp HOST:PORT)
 *        [--sndhwm N] [--rcvhwm N] [--udp-rcvbuf BYTES]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define UDP_BATCH 64
#define UDP_MAX 65536

static int udp_bind(const char *spec, int rcvbuf)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    /* Same buffer as the broker gets: FORCE passes rmem_max when we may. */
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int udp_loop(int fd, void *pub)
{
    static unsigned char bufs[UDP_BATCH][UDP_MAX];
    struct mmsghdr mh[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    for (;;) {
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = UDP_MAX;
            memset(&mh[i], 0, sizeof mh[i]);
            mh[i].msg_hdr.msg_iov = &iov[i];
            mh[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, mh, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("bench-forwarder: recvmmsg");
            return 1;
        }
        for (int i = 0; i < n; i++)
            zmq_send(pub, bufs[i], mh[i].msg_len, 0);   /* PUB never blocks */
    }
}

int main(int argc, char **argv)
{
    const char *pub_ep = NULL, *pull_ep = NULL, *udp_ep = NULL;
    int sndhwm = 1000, rcvhwm = 1000, rcvbuf = 0;
    static const struct option longopts[] = {
        { "pub", required_argument, 0, 'p' },    { "pull", required_argument, 0, 'l' },
        { "udp", required_argument, 0, 'u' },    { "sndhwm", required_argument, 0, 's' },
        { "rcvhwm", required_argument, 0, 'r' }, { "udp-rcvbuf", required_argument, 0, 'b' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': pub_ep = optarg; break;
        case 'l': pull_ep = optarg; break;
        case 'u': udp_ep = optarg; break;
        case 's': sndhwm = atoi(optarg); break;
        case 'r': rcvhwm = atoi(optarg); break;
        case 'b': rcvbuf = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench-forwarder --pub EP (--pull EP | --udp HOST:PORT) "
                            "[--sndhwm N] [--rcvhwm N] [--udp-rcvbuf BYTES]\n");
            return 2;
        }
    }
    if (!pub_ep || (!pull_ep) == (!udp_ep)) {
        fprintf(stderr, "bench-forwarder: need --pub and one of --pull / --udp\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(pub, pub_ep) != 0) {
        fprintf(stderr, "bench-forwarder: bind %s: %s\n", pub_ep, zmq_strerror(errno));
        return 1;
    }
    if (udp_ep) {
        int fd = udp_bind(udp_ep, rcvbuf);
        if (fd < 0) {
            fprintf(stderr, "bench-forwarder: cannot bind UDP %s: %s\n", udp_ep, strerror(errno));
            return 1;
        }
        /* Bind the TCP port too, so readiness checks treat both baselines alike. */
        if (pull_ep == NULL) {
            char tcp[128];
            snprintf(tcp, sizeof tcp, "tcp://%s", udp_ep);
            void *pull = zmq_socket(ctx, ZMQ_PULL);
            zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
            zmq_bind(pull, tcp);
        }
        return udp_loop(fd, pub);
    }
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    zmq_setsockopt(pull, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(pull, pull_ep) != 0) {
        fprintf(stderr, "bench-forwarder: bind %s: %s\n", pull_ep, zmq_strerror(errno));
        return 1;
    }
    zmq_proxy(pull, pub, NULL);
    return 0;
}
