/*
 * tb_discovery_locator.c - which broker to use now, and when to ask DNS
 * again.
 *
 * Why this exists: a long-running adaptor or client must survive its
 * broker moving or dying without anyone restarting it.  The rules (fail
 * over in RFC 2782 order, re-resolve after the chosen broker stayed
 * unreachable for a while or when the smallest TTL runs out, back off when
 * DNS itself fails, do not hop between equally good brokers on every TTL)
 * are pure decisions on a clock, kept apart from sockets so they can be
 * unit-tested with a fake clock.
 */
#include <stdlib.h>
#include <string.h>
#include "tb_discovery.h"

#define MIN_TTL_MS        5000u   /* TTL 0 must not become a query storm */
#define FIRST_RETRY_MS    1000u

struct tb_locator_t {
    uint32_t        unreachable_ms;
    tb_endpoints_t *eps;
    size_t          current;
    bool            connected;
    bool            down;             /* failing since down_since */
    uint64_t        down_since;
    bool            resolving;
    bool            ever_tried;       /* a lookup outcome was seen */
    uint64_t        ttl_expiry;       /* when eps go stale */
    uint64_t        retry_at;         /* after a failed lookup */
    uint32_t        retry_ms;         /* current back-off */
};

tb_locator_t *
tb_locator_new(uint32_t unreachable_ms)
{
    tb_locator_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->unreachable_ms = unreachable_ms ? unreachable_ms : TB_LOCATOR_DEFAULT_UNREACHABLE_MS;
    return self;
}

void
tb_locator_destroy(tb_locator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_endpoints_free(&(*self_p)->eps);
    free(*self_p);
    *self_p = NULL;
}

static bool
same_endpoint(const tb_endpoint_t *a, const tb_endpoint_t *b)
{
    return a->port == b->port && strcmp(a->address, b->address) == 0 &&
           strcmp(a->host, b->host) == 0;
}

bool
tb_locator_set_endpoints(tb_locator_t *self, tb_endpoints_t *eps, uint64_t now_ms)
{
    if (!self) {
        tb_endpoints_free(&eps);
        return false;
    }
    self->resolving = false;
    self->ever_tried = true;
    if (!eps || eps->count == 0) {
        /* An empty answer is a failed lookup: keep what we had. */
        tb_endpoints_free(&eps);
        tb_locator_resolve_failed(self, now_ms);
        return false;
    }
    self->retry_ms = 0;
    uint64_t ttl_ms = (uint64_t)eps->min_ttl * 1000u;
    self->ttl_expiry = now_ms + (ttl_ms < MIN_TTL_MS ? MIN_TTL_MS : ttl_ms);

    size_t keep = eps->count;
    const tb_endpoint_t *cur = tb_locator_current(self);
    if (cur && self->connected) {
        /* Stay on a working broker that is still among the best ones:
         * moving would only break connections for nothing. */
        uint16_t best = eps->items[0].priority;
        for (size_t i = 0; i < eps->count && keep == eps->count; i++)
            if (eps->items[i].priority == best && same_endpoint(&eps->items[i], cur))
                keep = i;
    }
    tb_endpoints_free(&self->eps);
    self->eps = eps;
    if (keep < eps->count) {
        self->current = keep;
        return false;
    }
    self->current = 0;
    self->connected = false;
    /* A fresh list gets a full unreachable period of its own; otherwise a
     * lookup made because the broker was down would at once ask for the
     * next one (a query storm while the broker stays down). */
    if (self->down)
        self->down_since = now_ms;
    return true;
}

const tb_endpoint_t *
tb_locator_current(const tb_locator_t *self)
{
    if (!self || !self->eps || self->current >= self->eps->count)
        return NULL;
    return &self->eps->items[self->current];
}

const tb_endpoints_t *
tb_locator_endpoints(const tb_locator_t *self)
{
    return self ? self->eps : NULL;
}

void
tb_locator_connected(tb_locator_t *self, uint64_t now_ms)
{
    (void)now_ms;
    if (!self)
        return;
    self->connected = true;
    self->down = false;
}

const tb_endpoint_t *
tb_locator_failed(tb_locator_t *self, uint64_t now_ms)
{
    if (!self)
        return NULL;
    self->connected = false;
    if (!self->down) {
        self->down = true;
        self->down_since = now_ms;
    }
    if (self->eps && self->eps->count)
        self->current = (self->current + 1) % self->eps->count;
    return tb_locator_current(self);
}

void
tb_locator_resolve_failed(tb_locator_t *self, uint64_t now_ms)
{
    if (!self)
        return;
    self->resolving = false;
    self->ever_tried = true;
    if (self->retry_ms == 0)
        self->retry_ms = FIRST_RETRY_MS;
    else if (self->retry_ms < self->unreachable_ms / 2)
        self->retry_ms *= 2;
    else
        self->retry_ms = self->unreachable_ms;
    if (self->retry_ms > self->unreachable_ms)
        self->retry_ms = self->unreachable_ms;
    self->retry_at = now_ms + self->retry_ms;
}

void
tb_locator_resolving(tb_locator_t *self, uint64_t now_ms)
{
    (void)now_ms;
    if (self)
        self->resolving = true;
}

int64_t
tb_locator_timeout_ms(const tb_locator_t *self, uint64_t now_ms)
{
    if (!self || self->resolving)
        return -1;
    if (!self->ever_tried)
        return 0;
    uint64_t when = UINT64_MAX;
    if (self->retry_ms) {
        when = self->retry_at;          /* the last lookup failed */
    } else if (self->eps) {
        when = self->ttl_expiry;
    }
    if (self->down) {
        uint64_t give_up = self->down_since + self->unreachable_ms;
        if (give_up < when)
            when = give_up;
    }
    if (when == UINT64_MAX)
        return -1;
    return when <= now_ms ? 0 : (int64_t)(when - now_ms);
}

bool
tb_locator_should_resolve(const tb_locator_t *self, uint64_t now_ms)
{
    return tb_locator_timeout_ms(self, now_ms) == 0;
}
