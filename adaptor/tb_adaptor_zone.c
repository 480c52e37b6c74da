/*
 * tb_adaptor_zone.c - zone mode: find the broker through DNS without ever
 * blocking, from the background thread.
 *
 * Why this exists: an adaptor given a zone must keep accepting sends while
 * DNS is slow or down, and must not hold up destroy() for a DNS timeout.
 * So the lookup is c-ares driven in small non-blocking steps (tb_resolver),
 * and the choice of target, failover and when to look again is the shared
 * policy of common/ (tb_locator), the same one the client library uses.
 */
#include <poll.h>
#include <stdio.h>
#include "tb_adaptor_internal.h"

int
tb_zone_init(tb_zone_t *z, const char *dns_servers, uint64_t reresolve_ms)
{
    char errbuf[200];
    z->resolving = false;
    z->loc = tb_locator_new((uint32_t)(reresolve_ms > UINT32_MAX ? UINT32_MAX : reresolve_ms));
    if (!z->loc)
        return TB_ERR_NOMEM;
    int rc = tb_resolver_new(&z->res, dns_servers, errbuf, sizeof errbuf);
    if (rc != TB_OK) {
        tb_locator_destroy(&z->loc);
        return rc;
    }
    return TB_OK;
}

void
tb_zone_free(tb_zone_t *z)
{
    tb_resolver_destroy(&z->res);
    tb_locator_destroy(&z->loc);
    z->resolving = false;
}

bool
tb_zone_step(tb_adaptor_t *a, tb_zone_t *z, uint64_t now_ms)
{
    if (!z->resolving) {
        if (!tb_locator_should_resolve(z->loc, now_ms))
            return false;
        int rc = tb_resolver_start(z->res, a->zone, TB_SERVICE_INPUT, a->dns_timeout_ms);
        if (rc != TB_OK) {
            tb_adaptor_count_resolution(a);
            tb_adaptor_set_error(a, rc);
            tb_locator_resolve_failed(z->loc, now_ms);
            return false;
        }
        tb_locator_resolving(z->loc, now_ms);
        z->resolving = true;
    }
    struct pollfd fds[TB_RESOLVER_MAX_FDS];
    size_t n = tb_resolver_pollfds(z->res, fds, TB_RESOLVER_MAX_FDS);
    if (n)
        poll(fds, (nfds_t)n, 0);
    tb_resolver_process(z->res, n ? fds : NULL, n);
    tb_endpoints_t *eps = NULL;
    char errbuf[256];
    int rc = tb_resolver_result(z->res, &eps, errbuf, sizeof errbuf);
    if (rc == TB_DISCOVERY_PENDING)
        return false;
    z->resolving = false;
    tb_adaptor_count_resolution(a);
    if (rc != TB_OK || !eps || eps->count == 0) {
        tb_endpoints_free(&eps);
        tb_adaptor_set_error(a, rc != TB_OK ? rc : TB_ERR_DNS_NO_RECORD);
        tb_locator_resolve_failed(z->loc, now_ms);
        return false;
    }
    return tb_locator_set_endpoints(z->loc, eps, now_ms);
}

/* Milliseconds the worker may sleep before the next step matters. */
int
tb_zone_wait_ms(tb_zone_t *z, uint64_t now_ms, int max_ms)
{
    if (z->resolving) {
        int t = tb_resolver_timeout_ms(z->res);
        return t >= 0 && t < 10 ? t : 10;   /* answers are read at this pace */
    }
    int64_t t = tb_locator_timeout_ms(z->loc, now_ms);
    return t >= 0 && t < max_ms ? (int)t : max_ms;
}
