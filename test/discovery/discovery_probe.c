/*
 * discovery_probe.c - a command-line window onto common/tb_discovery for the
 * Python tests in this directory.
 *
 * Why this exists: the integration tests start a real dnsmasq and need to
 * see exactly what our resolver returns (order, addresses, ports, TTL,
 * error code and text) through both the blocking call and the event-loop
 * API, and to repeat a lookup many times to check the weight distribution.
 * It prints plain tab-separated lines that the tests parse:
 *     name <TAB> <srv name>
 *     ep <TAB> rank host address family port base_port priority weight ttl url
 *     min_ttl <TAB> n
 *     first <TAB> host <TAB> count        (with --draws)
 *     error <TAB> code <TAB> text         (exit status 2)
 * With --connect it then walks the list with a tb_locator_t, connecting
 * over TCP to each endpoint in turn until one accepts, as a library would:
 *     failed <TAB> url / connected <TAB> url
 */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tb_discovery.h"
#include "tb_time.h"

static void
usage(void)
{
    fprintf(stderr, "usage: discovery_probe [--dns-server LIST] [--service pub|input|snapshot]\n"
                    "       [--timeout MS] [--async] [--draws N] [--seed S] [--connect] ZONE\n");
}

/* Drive one lookup from a poll loop of our own, as a library would. */
static int
run_async(tb_resolver_t *res, const char *zone, tb_service_t service, int timeout_ms,
          tb_endpoints_t **out, char *err, size_t errlen, unsigned *rounds_out)
{
    int rc = tb_resolver_start(res, zone, service, timeout_ms);
    if (rc != TB_OK)
        return tb_resolver_result(res, out, err, errlen);
    unsigned rounds = 0;
    uint64_t give_up = tb_time_mono_ms() + (uint64_t)timeout_ms + 5000u;
    while (tb_resolver_busy(res) && tb_time_mono_ms() < give_up && rounds < 100000) {
        struct pollfd fds[TB_RESOLVER_MAX_FDS];
        size_t n = tb_resolver_pollfds(res, fds, TB_RESOLVER_MAX_FDS);
        int wait = tb_resolver_timeout_ms(res);
        if (wait < 0 || wait > 1000)
            wait = 1000;
        int ready = poll(fds, (nfds_t)n, wait);
        if (ready < 0 && errno != EINTR)
            return TB_ERR_SYSTEM;
        tb_resolver_process(res, ready > 0 ? fds : NULL, ready > 0 ? n : 0);
        rounds++;
    }
    *rounds_out = rounds;
    return tb_resolver_result(res, out, err, errlen);
}

/* A plain TCP connect with a time limit: true when accepted. */
static bool
tcp_connect(const tb_endpoint_t *e, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (e->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(e->port);
        if (inet_pton(AF_INET6, e->address, &a->sin6_addr) != 1)
            return false;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(e->port);
        if (inet_pton(AF_INET, e->address, &a->sin_addr) != 1)
            return false;
        len = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
        ok = true;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, timeout_ms) == 1) {
            int err = 0;
            socklen_t el = sizeof err;
            ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
        }
    }
    close(fd);
    return ok;
}

/* Fail over through the list as a library does, with the locator. */
static int
walk(tb_endpoints_t *eps)
{
    tb_locator_t *loc = tb_locator_new(0);
    if (!loc)
        return 3;
    size_t count = eps->count;
    uint64_t now = tb_time_mono_ms();
    tb_locator_set_endpoints(loc, eps, now);
    const tb_endpoint_t *cur = tb_locator_current(loc);
    int rc = 1;
    for (size_t attempt = 0; cur && attempt < count; attempt++) {
        if (tcp_connect(cur, 2000)) {
            tb_locator_connected(loc, tb_time_mono_ms());
            printf("connected\t%s\n", cur->url);
            rc = 0;
            break;
        }
        printf("failed\t%s\n", cur->url);
        cur = tb_locator_failed(loc, tb_time_mono_ms());
    }
    tb_locator_destroy(&loc);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *servers = NULL;
    tb_service_t service = TB_SERVICE_PUB;
    int timeout_ms = 3000;
    bool async = false;
    long draws = 0;
    uint64_t seed = 0;
    bool seeded = false;
    bool connect_walk = false;
    static const struct option longopts[] = {
        { "dns-server", required_argument, NULL, 'd' },
        { "service",    required_argument, NULL, 's' },
        { "timeout",    required_argument, NULL, 't' },
        { "async",      no_argument,       NULL, 'a' },
        { "draws",      required_argument, NULL, 'n' },
        { "seed",       required_argument, NULL, 'S' },
        { "connect",    no_argument,       NULL, 'c' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:s:t:an:S:c", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': servers = optarg; break;
        case 's':
            if (!strcmp(optarg, "pub")) service = TB_SERVICE_PUB;
            else if (!strcmp(optarg, "input")) service = TB_SERVICE_INPUT;
            else if (!strcmp(optarg, "snapshot")) service = TB_SERVICE_SNAPSHOT;
            else { usage(); return 64; }
            break;
        case 't': timeout_ms = atoi(optarg); break;
        case 'a': async = true; break;
        case 'n': draws = atol(optarg); break;
        case 'S': seed = strtoull(optarg, NULL, 0); seeded = true; break;
        case 'c': connect_walk = true; break;
        default: usage(); return 64;
        }
    }
    if (optind != argc - 1) {
        usage();
        return 64;
    }
    const char *zone = argv[optind];
    char err[1400] = "";
    tb_endpoints_t *eps = NULL;
    int rc;

    if (draws > 0) {
        tb_resolver_t *res = NULL;
        rc = tb_resolver_new(&res, servers, err, sizeof err);
        if (rc == TB_OK && seeded)
            tb_resolver_set_rng(res, tb_rng_splitmix, &seed);
        struct { char host[256]; long count; } firsts[TB_DISCOVERY_MAX_TARGETS];
        size_t nfirsts = 0;
        for (long i = 0; rc == TB_OK && i < draws; i++) {
            unsigned rounds = 0;
            rc = run_async(res, zone, service, timeout_ms, &eps, err, sizeof err, &rounds);
            if (rc != TB_OK)
                break;
            size_t k = 0;
            while (k < nfirsts && strcmp(firsts[k].host, eps->items[0].host))
                k++;
            if (k == nfirsts && nfirsts < TB_DISCOVERY_MAX_TARGETS) {
                snprintf(firsts[k].host, sizeof firsts[k].host, "%s", eps->items[0].host);
                firsts[k].count = 0;
                nfirsts++;
            }
            if (k < nfirsts)
                firsts[k].count++;
            tb_endpoints_free(&eps);
        }
        tb_resolver_destroy(&res);
        if (rc != TB_OK) {
            printf("error\t%d\t%s\n", rc, err);
            return 2;
        }
        for (size_t k = 0; k < nfirsts; k++)
            printf("first\t%s\t%ld\n", firsts[k].host, firsts[k].count);
        return 0;
    }

    if (async) {
        tb_resolver_t *res = NULL;
        rc = tb_resolver_new(&res, servers, err, sizeof err);
        unsigned rounds = 0;
        if (rc == TB_OK) {
            if (seeded)
                tb_resolver_set_rng(res, tb_rng_splitmix, &seed);
            rc = run_async(res, zone, service, timeout_ms, &eps, err, sizeof err, &rounds);
        }
        tb_resolver_destroy(&res);
        printf("rounds\t%u\n", rounds);
    } else {
        rc = tb_discover(zone, servers, service, timeout_ms, &eps, err, sizeof err);
    }
    if (rc != TB_OK) {
        printf("error\t%d\t%s\n", rc, err);
        return 2;
    }
    printf("name\t%s\n", eps->name);
    for (size_t i = 0; i < eps->count; i++) {
        const tb_endpoint_t *e = &eps->items[i];
        printf("ep\t%zu\t%s\t%s\t%d\t%u\t%u\t%u\t%u\t%u\t%s\n", e->target_index, e->host,
               e->address, e->family == AF_INET6 ? 6 : 4, (unsigned)e->port,
               (unsigned)e->base_port, (unsigned)e->priority, (unsigned)e->weight,
               (unsigned)e->ttl, e->url);
    }
    printf("min_ttl\t%u\n", (unsigned)eps->min_ttl);
    fflush(stdout);
    if (connect_walk)
        return walk(eps);      /* the locator takes eps */
    tb_endpoints_free(&eps);
    return 0;
}
