/*
 * tb_discovery.c - the blocking tb_discover() and the result list helpers.
 *
 * Why this exists: tools (tb-print-events -z, tb-generic-zmq-adaptor -z)
 * and library set-up threads just want "the broker for this zone, now";
 * this drives a tb_resolver_t with poll() until it answers or the time is
 * up.  The event-loop version lives in tb_discovery_resolver.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_discovery.h"

void
tb_endpoints_free(tb_endpoints_t **eps_p)
{
    if (!eps_p || !*eps_p)
        return;
    free((*eps_p)->items);
    free(*eps_p);
    *eps_p = NULL;
}

tb_endpoints_t *
tb_endpoints_dup(const tb_endpoints_t *eps)
{
    if (!eps)
        return NULL;
    tb_endpoints_t *copy = malloc(sizeof *copy);
    if (!copy)
        return NULL;
    *copy = *eps;
    copy->items = NULL;
    if (eps->count) {
        copy->items = malloc(eps->count * sizeof *copy->items);
        if (!copy->items) {
            free(copy);
            return NULL;
        }
        memcpy(copy->items, eps->items, eps->count * sizeof *copy->items);
    }
    return copy;
}

int
tb_discover(const char *zone, const char *dns_servers, tb_service_t service,
            int timeout_ms, tb_endpoints_t **out, char *errbuf, size_t errlen)
{
    if (out)
        *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!out) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "no place for the result given");
        return TB_ERR_INVALID_ARG;
    }
    tb_resolver_t *res = NULL;
    int rc = tb_resolver_new(&res, dns_servers, errbuf, errlen);
    if (rc != TB_OK)
        return rc;
    rc = tb_resolver_start(res, zone, service, timeout_ms);
    /* A failed start leaves its explanation in the result. */
    for (int rounds = 0; rc == TB_OK && tb_resolver_busy(res) && rounds < 100000; rounds++) {
        struct pollfd fds[TB_RESOLVER_MAX_FDS];
        size_t n = tb_resolver_pollfds(res, fds, TB_RESOLVER_MAX_FDS);
        int wait = tb_resolver_timeout_ms(res);
        int ready = poll(fds, (nfds_t)n, wait);
        if (ready < 0 && errno != EINTR)
            break;  /* cannot happen with valid fds; the deadline still ends it */
        tb_resolver_process(res, ready > 0 ? fds : NULL, ready > 0 ? n : 0);
    }
    rc = tb_resolver_result(res, out, errbuf, errlen);
    if (rc == TB_DISCOVERY_PENDING) {   /* only if the loop bound was hit */
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "DNS lookup for zone %s did not finish", zone);
        rc = TB_ERR_DNS_TIMEOUT;
    }
    tb_resolver_destroy(&res);
    return rc;
}
