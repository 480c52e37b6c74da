/*
 * v2_fakedir.c - the test directory (see v2_fakedir.h for why).
 */
#include "v2_fakedir.h"
#include "tb_hash.h"
#include "tb_ns.h"
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define TS_LITERAL "1700000000.5"

typedef struct {
    char    *ns;
    size_t   ns_len;
    char    *data;            /* NULL = no data */
    uint64_t seq, subtree_seq;
    uint32_t parent, first_child, next_sibling;
    bool     removed;
} thing_t;

struct fakedir_t {
    thing_t  *things;
    uint32_t  n, cap;
    uint32_t *slots;          /* hash of indices */
    uint32_t  nslots;
    uint64_t  seq;
    size_t    with_data;
    uint64_t  examined;
};

static uint32_t
find(const fakedir_t *d, const char *ns, size_t len)
{
    for (uint32_t i = tb_hash_fnv1a64(ns, len) & (d->nslots - 1);; i = (i + 1) & (d->nslots - 1)) {
        uint32_t x = d->slots[i];
        if (x == NONE)
            return NONE;
        if (d->things[x].ns_len == len && memcmp(d->things[x].ns, ns, len) == 0)
            return x;
    }
}

static void
rehash(fakedir_t *d, uint32_t nslots)
{
    free(d->slots);
    d->slots = malloc(nslots * sizeof *d->slots);
    memset(d->slots, 0xff, nslots * sizeof *d->slots);
    d->nslots = nslots;
    for (uint32_t x = 0; x < d->n; x++) {
        uint32_t i = tb_hash_fnv1a64(d->things[x].ns, d->things[x].ns_len) & (nslots - 1);
        while (d->slots[i] != NONE)
            i = (i + 1) & (nslots - 1);
        d->slots[i] = x;
    }
}

static uint32_t
create(fakedir_t *d, const char *ns, size_t len, uint32_t parent)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->things = realloc(d->things, d->cap * sizeof *d->things);
    }
    uint32_t x = d->n++;
    thing_t *t = &d->things[x];
    memset(t, 0, sizeof *t);
    t->ns = strndup(ns, len);
    t->ns_len = len;
    t->parent = parent;
    t->first_child = NONE;
    t->next_sibling = NONE;
    if (parent != NONE) {
        t->next_sibling = d->things[parent].first_child;
        d->things[parent].first_child = x;
    }
    if ((uint64_t)d->n * 2 > d->nslots)
        rehash(d, d->nslots * 2);
    else {
        uint32_t i = tb_hash_fnv1a64(ns, len) & (d->nslots - 1);
        while (d->slots[i] != NONE)
            i = (i + 1) & (d->nslots - 1);
        d->slots[i] = x;
    }
    return x;
}

fakedir_t *
fakedir_new(void)
{
    fakedir_t *d = calloc(1, sizeof *d);
    rehash(d, 1024);
    create(d, "", 0, NONE);
    return d;
}

void
fakedir_destroy(fakedir_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fakedir_t *d = *self_p;
    for (uint32_t i = 0; i < d->n; i++) {
        free(d->things[i].ns);
        free(d->things[i].data);
    }
    free(d->things);
    free(d->slots);
    free(d);
    *self_p = NULL;
}

/* The Thing for ns, created (or revived) with its ancestors. */
static uint32_t
get(fakedir_t *d, const char *ns, size_t len)
{
    uint32_t x = find(d, ns, len);
    if (x != NONE) {
        d->things[x].removed = false;
        return x;
    }
    bool has_parent;
    size_t plen = tb_ns_parent_len(ns, len, &has_parent);
    uint32_t parent = get(d, ns, plen);
    return create(d, ns, len, parent);
}

/* prev chain: each ancestor's subtree seq before, then set to seq */
static size_t
chain(fakedir_t *d, uint32_t x, uint64_t seq, uint64_t *prev)
{
    uint32_t stack[TB_NS_MAX_LEN];
    size_t n = 0;
    for (uint32_t a = x; a != NONE; a = d->things[a].parent)
        stack[n++] = a;
    for (size_t i = 0; i < n; i++) {
        thing_t *t = &d->things[stack[n - 1 - i]];
        prev[i] = t->subtree_seq;
        t->subtree_seq = seq;
    }
    return n;
}

uint64_t
fakedir_update(fakedir_t *d, const char *ns, const char *data, tb_v2srv_t *srv)
{
    size_t len = strlen(ns);
    uint32_t x = get(d, ns, len);
    thing_t *t = &d->things[x];
    if (!t->data)
        d->with_data++;
    free(t->data);
    t->data = strdup(data);
    t->seq = ++d->seq;
    uint64_t prev[TB_NS_MAX_LEN];
    size_t n = chain(d, x, t->seq, prev);
    if (srv) {
        tb_v2_thing_t v = { t->ns, t->ns_len, t->data, strlen(t->data), TS_LITERAL,
                            strlen(TS_LITERAL), NULL, 0, t->seq, 1700000000.5 };
        tb_v2srv_publish_update(srv, &v, prev, n);
    }
    return t->seq;
}

uint64_t
fakedir_purge(fakedir_t *d, const char *ns, tb_v2srv_t *srv)
{
    size_t len = strlen(ns);
    uint32_t x = find(d, ns, len);
    if (x == NONE || d->things[x].removed || !d->things[x].data)
        return 0;
    thing_t *t = &d->things[x];
    free(t->data);
    t->data = NULL;
    d->with_data--;
    uint64_t seq = ++d->seq;
    t->seq = seq;
    uint64_t prev[TB_NS_MAX_LEN];
    size_t n = chain(d, x, seq, prev);
    bool live_child = false;
    for (uint32_t c = t->first_child; c != NONE; c = d->things[c].next_sibling)
        live_child |= !d->things[c].removed;
    if (!live_child && x != 0) {
        t->removed = true;     /* the hole stays: cursors stay valid */
        t->subtree_seq = 0;    /* a revived Thing starts a fresh history */
    }
    if (srv)
        tb_v2srv_publish_purge(srv, t->ns, t->ns_len, seq, prev, n);
    return seq;
}

static void
fill(const thing_t *t, tb_v2_thing_t *out)
{
    *out = (tb_v2_thing_t){ t->ns, t->ns_len, t->data, t->data ? strlen(t->data) : 0,
                            TS_LITERAL, strlen(TS_LITERAL), NULL, 0, t->seq,
                            1700000000.5 };
}

static int
scan(void *ctx, const char *prefix, size_t plen, uint64_t *cursor, unsigned *budget,
     tb_v2_thing_t *out)
{
    fakedir_t *d = ctx;
    for (uint64_t i = *cursor; i < d->n; i++) {
        if (*budget == 0) {
            *cursor = i;
            return TB_V2_SCAN_PAUSE;
        }
        (*budget)--;
        d->examined++;
        thing_t *t = &d->things[i];
        if (!t->removed && t->data && tb_ns_within(t->ns, t->ns_len, prefix, plen)) {
            fill(t, out);
            *cursor = i + 1;
            return TB_V2_SCAN_THING;
        }
    }
    *cursor = d->n;
    return TB_V2_SCAN_END;
}

static bool
lookup(void *ctx, const char *ns, size_t len, tb_v2_thing_t *out)
{
    fakedir_t *d = ctx;
    uint32_t x = find(d, ns, len);
    if (x == NONE || d->things[x].removed)
        return false;
    fill(&d->things[x], out);
    return true;
}

/* cursor: 0 = start, else index of the next child + 1 */
static bool
child(void *ctx, const char *ns, size_t len, uint64_t *cursor, tb_v2_thing_t *out)
{
    fakedir_t *d = ctx;
    uint32_t c;
    if (*cursor == 0) {
        uint32_t x = find(d, ns, len);
        if (x == NONE || d->things[x].removed)
            return false;
        c = d->things[x].first_child;
    } else {
        c = (uint32_t)(*cursor - 1);
    }
    while (c != NONE && d->things[c].removed)
        c = d->things[c].next_sibling;
    if (c == NONE)
        return false;
    d->examined++;
    fill(&d->things[c], out);
    uint32_t next = d->things[c].next_sibling;
    *cursor = next == NONE ? (uint64_t)UINT32_MAX + 1 : (uint64_t)next + 1;
    return true;
}

static uint64_t
subtree_seq(void *ctx, const char *ns, size_t len)
{
    fakedir_t *d = ctx;
    uint32_t x = find(d, ns, len);
    return x == NONE || d->things[x].removed ? 0 : d->things[x].subtree_seq;
}

static uint64_t
current_seq(void *ctx)
{
    return ((fakedir_t *)ctx)->seq;
}

const tb_v2_directory_t *
fakedir_iface(void)
{
    static const tb_v2_directory_t iface = { scan, lookup, child, subtree_seq, current_seq };
    return &iface;
}

size_t fakedir_with_data(const fakedir_t *d) { return d->with_data; }
uint64_t fakedir_examined(const fakedir_t *d) { return d->examined; }
uint64_t fakedir_seq(const fakedir_t *d) { return d->seq; }

bool
fakedir_get(const fakedir_t *d, const char *ns, const char **data, uint64_t *seq)
{
    uint32_t x = find(d, ns, strlen(ns));
    if (x == NONE || d->things[x].removed || !d->things[x].data)
        return false;
    *data = d->things[x].data;
    *seq = d->things[x].seq;
    return true;
}

void
fakedir_foreach(const fakedir_t *d,
                void (*fn)(void *arg, const char *ns, const char *data, uint64_t seq),
                void *arg)
{
    for (uint32_t i = 0; i < d->n; i++)
        if (!d->things[i].removed && d->things[i].data)
            fn(arg, d->things[i].ns, d->things[i].data, d->things[i].seq);
}
