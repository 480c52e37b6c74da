/*
 * input_udp.c - the UDP msgpack input: one thing_update per datagram.
 *
 * Why this exists: firmware adaptors (ESP8266 and friends) send msgpack
 * over UDP because it costs them almost nothing.  The broker reads
 * datagrams in batches with recvmmsg(2) into buffers large enough for the
 * largest UDP payload, so a burst costs few system calls, and a datagram
 * that was cut short (larger than 65507 bytes) is refused and counted,
 * never parsed half.  With the address "*" one dual-stack IPv6 socket
 * takes IPv4 and IPv6 (falling back to IPv4 alone where IPv6 is absent).
 * Datagrams the kernel drops because the socket buffer was full (the
 * broker fell behind) would otherwise be invisible: SO_RXQ_OVFL makes the
 * kernel attach its running drop count to each datagram, and the growth of
 * that count is the udp_kernel_drops counter.
 */
#include "broker.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_BATCH      32                      /* datagrams per recvmmsg */
#define UDP_CALLS      8                       /* recvmmsg calls per wake-up */
#define UDP_BUF_BYTES  65536                   /* > TB_UDP_MAX_PAYLOAD */

/* Room for the SO_RXQ_OVFL control message (a uint32_t). */
#define UDP_CTRL_BYTES CMSG_SPACE(sizeof(uint32_t))

struct udp_input_t {
    int                     fds[BROKER_MAX_UDP_SOCKETS];
    uint32_t                drops_seen[BROKER_MAX_UDP_SOCKETS]; /* kernel's count, last read */
    int                     nfds;
    union {
        char                bytes[UDP_CTRL_BYTES];
        struct cmsghdr      align;
    }                       ctrl[UDP_BATCH];
    char                   *bufs;              /* UDP_BATCH x UDP_BUF_BYTES */
    struct mmsghdr          msgs[UDP_BATCH];
    struct iovec            iov[UDP_BATCH];
    struct sockaddr_storage peers[UDP_BATCH];
};

static int
open_bound(broker_t *b, int family, const struct sockaddr *addr, socklen_t alen,
           bool dual_stack, const char *label, bool quiet)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (!quiet)
            tb_log(b->log, TB_LOG_ERROR, "cannot create the UDP socket for %s: %s", label,
                   strerror(errno));
        return -1;
    }
    if (family == AF_INET6) {
        int v6only = dual_stack ? 0 : 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0 && !quiet)
        tb_log(b->log, TB_LOG_WARN, "UDP input %s: kernel drops cannot be counted "
               "(SO_RXQ_OVFL: %s)", label, strerror(errno));
    if (b->cfg->udp_rcvbuf) {
        int size = b->cfg->udp_rcvbuf > (size_t)(1 << 30) ? 1 << 30 : (int)b->cfg->udp_rcvbuf;
        /* as root, go past net.core.rmem_max; otherwise take what we get */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (bind(fd, addr, alen) != 0) {
        int err = errno;
        if (!quiet)
            tb_log(b->log, TB_LOG_ERROR, "cannot bind the UDP input %s: %s", label,
                   strerror(err));
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static int
add_fd(broker_t *b, int fd)
{
    if (fd < 0)
        return -1;
    b->udp->fds[b->udp->nfds++] = fd;
    return 0;
}

int
udp_input_open(broker_t *b)
{
    udp_input_t *u = calloc(1, sizeof *u);
    if (!u || !(u->bufs = malloc((size_t)UDP_BATCH * UDP_BUF_BYTES))) {
        free(u);
        tb_log(b->log, TB_LOG_ERROR, "out of memory for the UDP input");
        return -1;
    }
    for (int i = 0; i < BROKER_MAX_UDP_SOCKETS; i++)
        u->fds[i] = -1;
    for (int i = 0; i < UDP_BATCH; i++) {
        u->iov[i].iov_base = u->bufs + (size_t)i * UDP_BUF_BYTES;
        u->iov[i].iov_len = UDP_BUF_BYTES;
    }
    b->udp = u;
    const char *addr = b->cfg->udp_address;
    unsigned port = (unsigned)b->cfg->udp_port;
    char label[320];
    if (strcmp(addr, "*") == 0) {
        /* one dual-stack socket; IPv4 alone where the host has no IPv6 */
        snprintf(label, sizeof label, "*:%u", port);
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                   .sin6_addr = IN6ADDR_ANY_INIT };
        int fd = open_bound(b, AF_INET6, (struct sockaddr *)&a6, sizeof a6, true, label, true);
        if (fd >= 0)
            return add_fd(b, fd);
        if (errno == EADDRINUSE) {
            tb_log(b->log, TB_LOG_ERROR, "cannot bind the UDP input %s: %s", label,
                   strerror(errno));
            return -1;
        }
        struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr = { htonl(INADDR_ANY) } };
        tb_log(b->log, TB_LOG_INFO, "UDP input %s: IPv6 unavailable, IPv4 only", label);
        return add_fd(b, open_bound(b, AF_INET, (struct sockaddr *)&a4, sizeof a4, false,
                                    label, false));
    }
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%u", port);
    snprintf(label, sizeof label, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
    int rc = getaddrinfo(addr, service, &hints, &res);
    if (rc != 0 || !res) {
        tb_log(b->log, TB_LOG_ERROR, "cannot bind the UDP input %s: %s", label,
               rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    int fd = open_bound(b, res->ai_family, res->ai_addr, res->ai_addrlen, false, label, false);
    freeaddrinfo(res);
    return add_fd(b, fd);
}

void
udp_input_close(broker_t *b)
{
    udp_input_t *u = b->udp;
    if (!u)
        return;
    for (int i = 0; i < u->nfds; i++)
        close(u->fds[i]);
    free(u->bufs);
    free(u);
    b->udp = NULL;
}

int
udp_input_fds(const broker_t *b, int fds[BROKER_MAX_UDP_SOCKETS])
{
    if (!b->udp)
        return 0;
    for (int i = 0; i < b->udp->nfds; i++)
        fds[i] = b->udp->fds[i];
    return b->udp->nfds;
}

/* The kernel's drop count carried by one datagram, added as a delta (the
 * count is per socket, cumulative, and wraps at 2^32). */
static void
count_kernel_drops(broker_t *b, int slot, struct msghdr *h)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL
            || c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
            continue;
        uint32_t total;
        memcpy(&total, CMSG_DATA(c), sizeof total);
        uint32_t delta = total - b->udp->drops_seen[slot];
        b->udp->drops_seen[slot] = total;
        b->stats.udp_kernel_drops += delta;
    }
}

void
udp_input_drain(broker_t *b, int fd)
{
    udp_input_t *u = b->udp;
    int slot = 0;
    while (slot < u->nfds - 1 && u->fds[slot] != fd)
        slot++;
    broker_source_t src = { .input = INPUT_UDP, .zmq_msg = NULL, .peer = NULL };
    for (int call = 0; call < UDP_CALLS; call++) {
        for (int i = 0; i < UDP_BATCH; i++) {
            memset(&u->msgs[i].msg_hdr, 0, sizeof u->msgs[i].msg_hdr);
            u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
            u->msgs[i].msg_hdr.msg_iovlen = 1;
            u->msgs[i].msg_hdr.msg_name = &u->peers[i];
            u->msgs[i].msg_hdr.msg_namelen = sizeof u->peers[i];
            u->msgs[i].msg_hdr.msg_control = u->ctrl[i].bytes;
            u->msgs[i].msg_hdr.msg_controllen = sizeof u->ctrl[i].bytes;
        }
        int n = recvmmsg(fd, u->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;                     /* EAGAIN (drained), EINTR: back to the loop */
        for (int i = 0; i < n; i++) {
            src.peer = (const struct sockaddr *)&u->peers[i];
            count_kernel_drops(b, slot, &u->msgs[i].msg_hdr);
            size_t len = u->msgs[i].msg_len;
            if (len > TB_UDP_MAX_PAYLOAD || (u->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
                char detail[96];
                snprintf(detail, sizeof detail, "datagram over %u bytes", TB_UDP_MAX_PAYLOAD);
                broker_reject(b, &src, TB_REASON_TOO_LARGE, detail);
                continue;
            }
            handle_update(b, &src, u->iov[i].iov_base, len, true);
        }
        if (n < UDP_BATCH)
            return;
    }
}
