/*
 * tb_adaptor_suppress.c - skip sends whose data did not change.
 *
 * Why this exists: many sensors report the same reading every second; with
 * suppression on, only changes travel, plus a heartbeat so the broker's
 * "latest value" never goes stale.  The table maps a namespace to the last
 * data queued for it (normalised JSON text) and when.  It is bounded: past
 * max_entries new namespaces are simply not suppressed, so a bridge fed
 * with ever-new namespaces cannot grow it without limit.
 */
#include <stdlib.h>
#include <string.h>
#include "tb_adaptor_internal.h"
#include "tb_hash.h"

typedef struct entry_t {
    struct entry_t *next;
    uint64_t        hash;
    uint64_t        recorded_ms;
    char           *data;
    size_t          data_len;
    size_t          ns_len;
    char            ns[];       /* not NUL-terminated */
} entry_t;

struct tb_suppress_t {
    entry_t **buckets;
    size_t    nbuckets;         /* power of two */
    size_t    count;
    size_t    max_entries;
};

tb_suppress_t *
tb_suppress_new(size_t max_entries)
{
    tb_suppress_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 64;
    self->buckets = calloc(self->nbuckets, sizeof *self->buckets);
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    self->max_entries = max_entries;
    return self;
}

void
tb_suppress_destroy(tb_suppress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_suppress_t *self = *self_p;
    for (size_t i = 0; i < self->nbuckets; i++) {
        entry_t *e = self->buckets[i];
        while (e) {
            entry_t *next = e->next;
            free(e->data);
            free(e);
            e = next;
        }
    }
    free(self->buckets);
    free(self);
    *self_p = NULL;
}

static entry_t *
find(tb_suppress_t *self, const char *ns, size_t ns_len, uint64_t h)
{
    for (entry_t *e = self->buckets[h & (self->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->ns_len == ns_len && memcmp(e->ns, ns, ns_len) == 0)
            return e;
    return NULL;
}

bool
tb_suppress_is_unchanged(tb_suppress_t *self, const char *ns, size_t ns_len,
                         const char *data, size_t data_len,
                         uint64_t now_ms, uint64_t heartbeat_ms)
{
    entry_t *e = find(self, ns, ns_len, tb_hash_fnv1a64(ns, ns_len));
    if (!e || e->data_len != data_len || memcmp(e->data, data, data_len) != 0)
        return false;
    return now_ms - e->recorded_ms < heartbeat_ms;
}

static void
grow(tb_suppress_t *self)
{
    size_t n = self->nbuckets * 2;
    entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return;     /* longer chains, still correct */
    for (size_t i = 0; i < self->nbuckets; i++) {
        entry_t *e = self->buckets[i];
        while (e) {
            entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(self->buckets);
    self->buckets = b;
    self->nbuckets = n;
}

void
tb_suppress_record(tb_suppress_t *self, const char *ns, size_t ns_len,
                   const char *data, size_t data_len, uint64_t now_ms)
{
    uint64_t h = tb_hash_fnv1a64(ns, ns_len);
    entry_t *e = find(self, ns, ns_len, h);
    if (!e) {
        if (self->count >= self->max_entries)
            return;
        e = calloc(1, sizeof *e + ns_len);
        if (!e)
            return;
        memcpy(e->ns, ns, ns_len);
        e->ns_len = ns_len;
        e->hash = h;
        e->next = self->buckets[h & (self->nbuckets - 1)];
        self->buckets[h & (self->nbuckets - 1)] = e;
        self->count++;
        if (self->count > self->nbuckets)
            grow(self);
    }
    char *copy = malloc(data_len ? data_len : 1);
    if (!copy) {
        /* Forget the old value rather than compare against a stale one. */
        e->data_len = (size_t)-1;
        return;
    }
    memcpy(copy, data, data_len);
    free(e->data);
    e->data = copy;
    e->data_len = data_len;
    e->recorded_ms = now_ms;
}
