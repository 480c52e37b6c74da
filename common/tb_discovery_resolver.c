/*
 * tb_discovery_resolver.c - the SRV lookup and its target address lookups,
 * driven by c-ares from the caller's event loop.
 *
 * Why this exists: libraries must never block a sensor loop on DNS, so the
 * lookup is a small state machine (SRV query, then A/AAAA of every target
 * in parallel) whose sockets and timer the caller polls; tb_discover() is
 * the same machine in a private poll() loop.  Every c-ares status is turned
 * into one of the distinct TB_ERR_DNS_* codes with a sentence naming the
 * name looked up and the server asked, because "DNS failed" tells a
 * building manager nothing.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "tb_discovery.h"
#include "tb_time.h"

#define MAX_SERVERS 8
#define DEFAULT_TIMEOUT_MS 5000

typedef struct {
    int      family;
    char     text[64];
    uint32_t ttl;
} addr_t;

typedef struct {
    tb_resolver_t *self;
    size_t   index;
    int      status;            /* ARES_* of its lookup, -1 while running */
    size_t   count;
    addr_t   addrs[TB_DISCOVERY_MAX_ADDRS];
} target_t;

typedef enum { PHASE_IDLE, PHASE_SRV, PHASE_ADDR, PHASE_DONE } phase_t;

struct tb_resolver_t {
    tb_dns_server_t servers[MAX_SERVERS];
    size_t          nservers;           /* 0: system configuration */
    char            servers_text[256];  /* for messages */
    tb_rng_fn       rng;
    void           *rng_arg;

    ares_channel    channel;
    bool            have_channel;
    bool            tearing_down;       /* callbacks from ares_destroy: ignore */

    phase_t         phase;
    char            name[300];
    tb_service_t    service;
    int             timeout_ms;
    uint64_t        deadline_ms;
    uint32_t        srv_ttl;

    tb_srv_record_t recs[TB_DISCOVERY_MAX_TARGETS];
    size_t          nrecs;
    target_t        targets[TB_DISCOVERY_MAX_TARGETS];
    size_t          pending;            /* address lookups still running */

    int             result;
    char            errtext[1200];
    tb_endpoints_t *eps;
    bool            taken;
};

/* ares_library_init is a no-op on Linux today, but the API asks for one
 * call before any channel; pthread_once makes that safe from any thread. */
static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status = ARES_SUCCESS;

static void
ares_init_once(void)
{
    ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void
set_text(tb_resolver_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_text(tb_resolver_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->errtext, sizeof self->errtext, fmt, ap);
    va_end(ap);
}

static void
copy_err(char *errbuf, size_t errlen, const char *text)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", text);
}

int
tb_resolver_new(tb_resolver_t **self_p, const char *dns_servers, char *errbuf,
                size_t errlen)
{
    if (!self_p) {
        copy_err(errbuf, errlen, "no place for the resolver given");
        return TB_ERR_INVALID_ARG;
    }
    *self_p = NULL;
    pthread_once(&ares_once, ares_init_once);
    if (ares_init_status != ARES_SUCCESS) {
        copy_err(errbuf, errlen, "the c-ares library could not be initialised");
        return TB_ERR_DNS_FAILED;
    }
    tb_resolver_t *self = calloc(1, sizeof *self);
    if (!self) {
        copy_err(errbuf, errlen, "out of memory creating the DNS resolver");
        return TB_ERR_NOMEM;
    }
    const char *spec = dns_servers;
    const char *origin = "";
    if (!spec || !*spec) {
        spec = getenv(TB_DNS_SERVERS_ENV);
        origin = TB_DNS_SERVERS_ENV ": ";
    }
    if (spec && *spec) {
        char why[400];
        int n = tb_dns_servers_parse(spec, self->servers, MAX_SERVERS, why, sizeof why);
        if (n < 0) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen, "%s%s", origin, why);
            free(self);
            return n;
        }
        self->nservers = (size_t)n;
        size_t used = 0;
        for (size_t i = 0; i < self->nservers && used < sizeof self->servers_text; i++) {
            int w = snprintf(self->servers_text + used, sizeof self->servers_text - used,
                             "%s%s", i ? ", " : "", self->servers[i].text);
            if (w < 0)
                break;
            used += (size_t)w;
        }
    }
    self->rng = tb_rng_default;
    return (*self_p = self, TB_OK);
}

static void
drop_channel(tb_resolver_t *self)
{
    if (self->have_channel) {
        self->tearing_down = true;
        ares_destroy(self->channel);    /* runs pending callbacks: ignored */
        self->tearing_down = false;
        self->have_channel = false;
    }
}

void
tb_resolver_destroy(tb_resolver_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_resolver_t *self = *self_p;
    drop_channel(self);
    tb_endpoints_free(&self->eps);
    free(self);
    *self_p = NULL;
}

void
tb_resolver_set_rng(tb_resolver_t *self, tb_rng_fn rng, void *rng_arg)
{
    if (!self)
        return;
    self->rng = rng ? rng : tb_rng_default;
    self->rng_arg = rng ? rng_arg : NULL;
}

bool
tb_resolver_busy(const tb_resolver_t *self)
{
    return self && (self->phase == PHASE_SRV || self->phase == PHASE_ADDR);
}

/* Which servers a message should name: the ones given, else the system's. */
static void
describe_servers(tb_resolver_t *self, char *buf, size_t len)
{
    if (self->nservers) {
        snprintf(buf, len, "%s", self->servers_text);
        return;
    }
    snprintf(buf, len, "the system's DNS servers");
    struct ares_addr_port_node *list = NULL;
    if (!self->have_channel || ares_get_servers_ports(self->channel, &list) != ARES_SUCCESS)
        return;
    size_t used = 0;
    buf[0] = '\0';
    for (struct ares_addr_port_node *n = list; n && used + 1 < len; n = n->next) {
        char a[INET6_ADDRSTRLEN] = "?";
        inet_ntop(n->family, &n->addr, a, sizeof a);
        unsigned port = n->udp_port ? (unsigned)n->udp_port : 53u;
        int w = snprintf(buf + used, len - used,
                         n->family == AF_INET6 ? "%s[%s]:%u" : "%s%s:%u",
                         used ? ", " : "", a, port);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    ares_free_data(list);
    if (!buf[0])
        snprintf(buf, len, "the system's DNS servers");
}

static int
map_status(int status)
{
    switch (status) {
    case ARES_SUCCESS:      return TB_OK;
    case ARES_ENODATA:      return TB_ERR_DNS_NO_RECORD;
    case ARES_ENOTFOUND:    return TB_ERR_DNS_NXDOMAIN;
    case ARES_ENONAME:      return TB_ERR_DNS_NXDOMAIN;
    case ARES_ETIMEOUT:     return TB_ERR_DNS_TIMEOUT;
    case ARES_ECONNREFUSED: return TB_ERR_DNS_UNREACHABLE;
    case ARES_ENOMEM:       return TB_ERR_NOMEM;
    default:                return TB_ERR_DNS_FAILED;
    }
}

/* The sentence for a failed lookup of `what` (status from c-ares). */
static void
explain(tb_resolver_t *self, int status, const char *what, const char *prefix)
{
    char servers[300];
    describe_servers(self, servers, sizeof servers);
    switch (map_status(status)) {
    case TB_ERR_DNS_NO_RECORD:
        set_text(self, "%sno %s record for %s: the name exists but has no such record%s",
                 prefix, self->phase == PHASE_SRV ? "SRV" : "address (A/AAAA)", what,
                 self->phase == PHASE_SRV ? " (publish one, see DISCOVERY in thingsbus(7))" : "");
        break;
    case TB_ERR_DNS_NXDOMAIN:
        set_text(self, "%s%s does not exist (NXDOMAIN): %s", prefix, what,
                 self->phase == PHASE_SRV ? "check the zone name and that the SRV record is published"
                                          : "fix the SRV record's target or publish an address for it");
        break;
    case TB_ERR_DNS_TIMEOUT:
        set_text(self, "%sno answer from DNS server %s within %d ms looking up %s", prefix,
                 servers, self->timeout_ms, what);
        break;
    case TB_ERR_DNS_UNREACHABLE:
        set_text(self, "%sDNS server %s unreachable (connection refused) looking up %s",
                 prefix, servers, what);
        break;
    case TB_ERR_NOMEM:
        set_text(self, "%sout of memory looking up %s", prefix, what);
        break;
    default:
        set_text(self, "%sDNS lookup of %s via %s failed: %s", prefix, what, servers,
                 ares_strerror(status));
        break;
    }
}

static void
finish(tb_resolver_t *self, int result)
{
    self->result = result;
    self->phase = PHASE_DONE;
}

static int
copy_endpoint(tb_resolver_t *self, tb_endpoint_t *e, const tb_srv_record_t *rec,
              const addr_t *a, size_t rank)
{
    memset(e, 0, sizeof *e);
    snprintf(e->host, sizeof e->host, "%s", rec->target);
    snprintf(e->address, sizeof e->address, "%s", a->text);
    e->family = a->family;
    e->base_port = rec->port;
    unsigned port = (unsigned)rec->port + (unsigned)self->service;
    if (port > 65535)
        return TB_ERR_BAD_URL;
    e->port = (uint16_t)port;
    e->priority = rec->priority;
    e->weight = rec->weight;
    e->ttl = rec->ttl;
    e->target_index = rank;
    return tb_format_url(e->url, sizeof e->url, "tcp", a->text, e->port);
}

/* All address lookups are over (or the deadline came with some done):
 * build the endpoint list in try order from the targets that resolved. */
static void
build_endpoints(tb_resolver_t *self)
{
    size_t total = 0;
    for (size_t i = 0; i < self->nrecs; i++)
        if (self->targets[i].status == ARES_SUCCESS)
            total += self->targets[i].count;
    if (total == 0) {
        /* Report the first target's failure: it is the one that mattered. */
        for (size_t i = 0; i < self->nrecs; i++) {
            target_t *t = &self->targets[i];
            int st = t->status == -1 ? ARES_ETIMEOUT :
                     t->status == ARES_SUCCESS ? ARES_ENODATA : t->status;
            char prefix[600];
            snprintf(prefix, sizeof prefix, "%.290s names broker %.255s port %u, but ",
                     self->name, self->recs[i].target, (unsigned)self->recs[i].port);
            explain(self, st, self->recs[i].target, prefix);
            finish(self, map_status(st));
            return;
        }
        set_text(self, "no usable target in %s", self->name);
        finish(self, TB_ERR_DNS_NO_RECORD);
        return;
    }
    tb_endpoints_t *eps = calloc(1, sizeof *eps);
    if (eps)
        eps->items = calloc(total, sizeof *eps->items);
    if (!eps || !eps->items) {
        if (eps)
            free(eps);
        set_text(self, "out of memory building the broker list for %s", self->name);
        finish(self, TB_ERR_NOMEM);
        return;
    }
    snprintf(eps->name, sizeof eps->name, "%s", self->name);
    uint32_t min_ttl = self->srv_ttl;
    size_t rank = 0;
    for (size_t i = 0; i < self->nrecs; i++) {
        target_t *t = &self->targets[i];
        if (t->status != ARES_SUCCESS || t->count == 0)
            continue;
        for (size_t k = 0; k < t->count; k++) {
            int rc = copy_endpoint(self, &eps->items[eps->count], &self->recs[i],
                                   &t->addrs[k], rank);
            if (rc != TB_OK)
                continue;   /* port + offset beyond 65535: unusable, skip */
            eps->count++;
            /* Addresses from /etc/hosts or literals carry TTL 0: not a
             * reason to re-resolve, so only real TTLs count. */
            if (t->addrs[k].ttl > 0 && t->addrs[k].ttl < min_ttl)
                min_ttl = t->addrs[k].ttl;
        }
        rank++;
    }
    eps->min_ttl = min_ttl;
    if (eps->count == 0) {
        tb_endpoints_free(&eps);
        set_text(self, "%s gives port %u, too high for the service offset %d",
                 self->name, (unsigned)self->recs[0].port, (int)self->service);
        finish(self, TB_ERR_DNS_FAILED);
        return;
    }
    self->eps = eps;
    self->errtext[0] = '\0';
    finish(self, TB_OK);
}

static void
on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    target_t *t = arg;
    tb_resolver_t *self = t->self;
    if (self->tearing_down || self->phase != PHASE_ADDR || t->status != -1) {
        ares_freeaddrinfo(res);
        return;
    }
    t->status = status;
    if (status == ARES_SUCCESS && res) {
        for (struct ares_addrinfo_node *n = res->nodes; n && t->count < TB_DISCOVERY_MAX_ADDRS;
             n = n->ai_next) {
            char text[INET6_ADDRSTRLEN];
            const void *src = NULL;
            if (n->ai_family == AF_INET && n->ai_addr)
                src = &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr;
            else if (n->ai_family == AF_INET6 && n->ai_addr)
                src = &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr;
            if (!src || !inet_ntop(n->ai_family, src, text, sizeof text))
                continue;
            bool dup = false;
            for (size_t k = 0; k < t->count; k++)
                dup = dup || strcmp(t->addrs[k].text, text) == 0;
            if (dup)
                continue;
            addr_t *a = &t->addrs[t->count++];
            a->family = n->ai_family;
            snprintf(a->text, sizeof a->text, "%s", text);
            a->ttl = n->ai_ttl > 0 ? (uint32_t)n->ai_ttl : 0;
        }
        if (t->count == 0)
            t->status = ARES_ENODATA;
    }
    ares_freeaddrinfo(res);
    if (--self->pending == 0)
        build_endpoints(self);
}

static void
start_addresses(tb_resolver_t *self)
{
    self->phase = PHASE_ADDR;
    self->pending = self->nrecs;
    for (size_t i = 0; i < self->nrecs; i++) {
        target_t *t = &self->targets[i];
        memset(t, 0, sizeof *t);
        t->self = self;
        t->index = i;
        t->status = -1;
    }
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    /* pending was set for all targets first: a lookup answered at once
     * (from /etc/hosts) cannot finish the phase while we still start more. */
    for (size_t i = 0; i < self->nrecs && self->phase == PHASE_ADDR; i++)
        ares_getaddrinfo(self->channel, self->recs[i].target, NULL, &hints, on_addrinfo,
                         &self->targets[i]);
}

static void
on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    tb_resolver_t *self = arg;
    if (self->tearing_down || self->phase != PHASE_SRV)
        return;
    if (status != ARES_SUCCESS) {
        explain(self, status, self->name, "");
        finish(self, map_status(status));
        return;
    }
    struct ares_srv_reply *reply = NULL;
    int prc = ares_parse_srv_reply(abuf, alen, &reply);
    if (prc != ARES_SUCCESS || !reply) {
        if (reply)
            ares_free_data(reply);
        if (prc == ARES_ENODATA || prc == ARES_SUCCESS) {
            explain(self, ARES_ENODATA, self->name, "");
            finish(self, TB_ERR_DNS_NO_RECORD);
        } else {
            set_text(self, "malformed SRV answer for %s: %s", self->name, ares_strerror(prc));
            finish(self, TB_ERR_DNS_FAILED);
        }
        return;
    }
    uint32_t ttl = 0;
    if (alen < 0 || tb_dns_min_ttl(abuf, (size_t)alen, ns_t_srv, &ttl) != TB_OK)
        ttl = 0;
    self->srv_ttl = ttl;
    self->nrecs = 0;
    size_t dots = 0, seen = 0;
    for (struct ares_srv_reply *r = reply; r; r = r->next) {
        seen++;
        const char *host = r->host ? r->host : "";
        size_t hl = strlen(host);
        while (hl > 0 && host[hl - 1] == '.')
            hl--;
        if (hl == 0) {
            dots++;     /* target "." : "service decidedly not available" */
            continue;
        }
        if (hl >= sizeof self->recs[0].target || self->nrecs == TB_DISCOVERY_MAX_TARGETS)
            continue;
        tb_srv_record_t *rec = &self->recs[self->nrecs++];
        memset(rec, 0, sizeof *rec);
        memcpy(rec->target, host, hl);
        rec->target[hl] = '\0';
        rec->priority = r->priority;
        rec->weight = r->weight;
        rec->port = r->port;
        rec->ttl = ttl;
    }
    ares_free_data(reply);
    if (self->nrecs == 0) {
        if (dots && dots == seen)
            set_text(self, "%s says the service is not offered here (its SRV target is \".\")",
                     self->name);
        else
            set_text(self, "no usable SRV record for %s (no target name fits)", self->name);
        finish(self, TB_ERR_DNS_NO_RECORD);
        return;
    }
    tb_srv_order(self->recs, self->nrecs, self->rng, self->rng_arg);
    start_addresses(self);
}

static int
make_channel(tb_resolver_t *self)
{
    struct ares_options o;
    memset(&o, 0, sizeof o);
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS;
    /* Two tries, the second twice as long (c-ares doubles per round): the
     * whole SRV query fits in three quarters of the budget, leaving time
     * for the target addresses. */
    int per_try = self->timeout_ms / 4;
    o.timeout = per_try < 50 ? 50 : per_try;
    o.tries = 2;
    /* SRV names and targets are absolute: no search-list suffixes. */
    o.domains = NULL;
    o.ndomains = 0;
    int rc = ares_init_options(&self->channel, &o, mask);
    if (rc != ARES_SUCCESS)
        return rc;
    self->have_channel = true;
    if (self->nservers) {
        struct ares_addr_port_node nodes[MAX_SERVERS];
        memset(nodes, 0, sizeof nodes);
        for (size_t i = 0; i < self->nservers; i++) {
            nodes[i].next = i + 1 < self->nservers ? &nodes[i + 1] : NULL;
            nodes[i].family = self->servers[i].family;
            memcpy(&nodes[i].addr, self->servers[i].addr,
                   self->servers[i].family == AF_INET6 ? 16 : 4);
            nodes[i].udp_port = self->servers[i].port;
            nodes[i].tcp_port = self->servers[i].port;
        }
        rc = ares_set_servers_ports(self->channel, nodes);
        if (rc != ARES_SUCCESS)
            return rc;
    }
    return ARES_SUCCESS;
}

int
tb_resolver_start(tb_resolver_t *self, const char *zone, tb_service_t service,
                  int timeout_ms)
{
    if (!self)
        return TB_ERR_INVALID_ARG;
    drop_channel(self);
    tb_endpoints_free(&self->eps);
    self->taken = false;
    self->nrecs = 0;
    self->pending = 0;
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    self->service = service;
    self->phase = PHASE_DONE;   /* an early return below leaves an error result */
    if (service != TB_SERVICE_PUB && service != TB_SERVICE_INPUT &&
        service != TB_SERVICE_SNAPSHOT) {
        set_text(self, "unknown service %d", (int)service);
        self->result = TB_ERR_INVALID_ARG;
        return TB_ERR_INVALID_ARG;
    }
    if (tb_srv_name(zone, self->name, sizeof self->name) != TB_OK) {
        snprintf(self->name, sizeof self->name, "%s%.200s", TB_SRV_PREFIX, zone ? zone : "");
        set_text(self, "invalid zone \"%.200s\": expected a DNS name such as example.org "
                 "(letters, digits, '-', '_', dot-separated labels)", zone ? zone : "");
        self->result = TB_ERR_INVALID_ARG;
        return TB_ERR_INVALID_ARG;
    }
    int rc = make_channel(self);
    if (rc != ARES_SUCCESS) {
        drop_channel(self);
        set_text(self, "could not set up DNS resolution for %s: %s", self->name,
                 ares_strerror(rc));
        self->result = rc == ARES_ENOMEM ? TB_ERR_NOMEM : TB_ERR_DNS_FAILED;
        return self->result;
    }
    self->deadline_ms = tb_time_mono_ms() + (uint64_t)self->timeout_ms;
    self->phase = PHASE_SRV;
    self->result = TB_DISCOVERY_PENDING;
    self->errtext[0] = '\0';
    ares_query(self->channel, self->name, ns_c_in, ns_t_srv, on_srv, self);
    return TB_OK;
}

size_t
tb_resolver_pollfds(tb_resolver_t *self, struct pollfd *fds, size_t max)
{
    if (!self || !fds || !tb_resolver_busy(self) || !self->have_channel)
        return 0;
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(self->channel, socks, ARES_GETSOCK_MAXNUM);
    size_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM && n < max; i++) {
        short ev = 0;
        /* c-ares' ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign
         * bit for the 16th socket (undefined behaviour): test unsigned. */
        if ((unsigned)bits & (1u << i))
            ev |= POLLIN;
        if ((unsigned)bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
            ev |= POLLOUT;
        if (!ev)
            continue;
        fds[n].fd = socks[i];
        fds[n].events = ev;
        fds[n].revents = 0;
        n++;
    }
    return n;
}

int
tb_resolver_timeout_ms(tb_resolver_t *self)
{
    if (!tb_resolver_busy(self))
        return -1;
    uint64_t now = tb_time_mono_ms();
    if (now >= self->deadline_ms)
        return 0;
    uint64_t left = self->deadline_ms - now;
    struct timeval max = { .tv_sec = (time_t)(left / 1000), .tv_usec = (suseconds_t)((left % 1000) * 1000) };
    struct timeval tv, *p = ares_timeout(self->channel, &max, &tv);
    uint64_t ms = p ? (uint64_t)p->tv_sec * 1000u + ((uint64_t)p->tv_usec + 999u) / 1000u : left;
    if (ms > left)
        ms = left;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* The overall deadline passed: give what is already known, or a timeout. */
static void
expire(tb_resolver_t *self)
{
    if (self->phase == PHASE_ADDR) {
        bool any = false;
        for (size_t i = 0; i < self->nrecs; i++)
            any = any || (self->targets[i].status == ARES_SUCCESS && self->targets[i].count);
        if (any) {
            build_endpoints(self);
            return;
        }
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%.290s names broker %.255s, but ", self->name,
                 self->recs[0].target);
        explain(self, ARES_ETIMEOUT, self->recs[0].target, prefix);
    } else {
        explain(self, ARES_ETIMEOUT, self->name, "");
    }
    finish(self, TB_ERR_DNS_TIMEOUT);
}

void
tb_resolver_process(tb_resolver_t *self, const struct pollfd *fds, size_t nfds)
{
    if (!tb_resolver_busy(self))
        return;
    bool any = false;
    for (size_t i = 0; fds && i < nfds && tb_resolver_busy(self); i++) {
        if (!fds[i].revents)
            continue;
        ares_socket_t r = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t w = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
        if (r == ARES_SOCKET_BAD && w == ARES_SOCKET_BAD)
            r = fds[i].fd;      /* POLLNVAL and the like: let c-ares notice */
        ares_process_fd(self->channel, r, w);
        any = true;
    }
    if (!any && tb_resolver_busy(self))
        ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  /* timers */
    if (tb_resolver_busy(self) && tb_time_mono_ms() >= self->deadline_ms)
        expire(self);
}

int
tb_resolver_result(tb_resolver_t *self, tb_endpoints_t **out, char *errbuf, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!self || !out) {
        copy_err(errbuf, errlen, "invalid argument");
        return TB_ERR_INVALID_ARG;
    }
    if (tb_resolver_busy(self))
        return TB_DISCOVERY_PENDING;
    if (self->phase == PHASE_IDLE) {
        copy_err(errbuf, errlen, "no lookup was started");
        return TB_ERR_INVALID_ARG;
    }
    if (self->result == TB_OK) {
        if (self->taken) {
            copy_err(errbuf, errlen, "the result was already taken");
            return TB_ERR_INVALID_ARG;
        }
        *out = self->eps;
        self->eps = NULL;
        self->taken = true;
        return TB_OK;
    }
    copy_err(errbuf, errlen, self->errtext[0] ? self->errtext : "DNS lookup failed");
    return self->result;
}
