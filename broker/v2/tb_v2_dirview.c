/*
 * tb_v2_dirview.c - the broker's directory behind the v2 engine's
 * callbacks (see tb_v2_dirview.h for why).
 *
 * The scan cursor is the dense-array index: Things never move in that
 * array, so a cursor survives any change and every Thing present for the
 * whole scan is visited exactly once (the engine's contract).  A purge
 * implementation must keep that true (leave holes, do not compact).
 */
#include "tb_v2_dirview.h"
#include <stdlib.h>
#include <string.h>

struct tb_v2_dirview_t {
    tb_directory_t *dir;
    const uint64_t *broker_seq;
    uint64_t       *subtree;     /* by Thing index */
    size_t          cap;
};

tb_v2_dirview_t *
tb_v2_dirview_new(tb_directory_t *dir, const uint64_t *broker_seq)
{
    if (!dir || !broker_seq)
        return NULL;
    tb_v2_dirview_t *self = calloc(1, sizeof *self);
    if (self) {
        self->dir = dir;
        self->broker_seq = broker_seq;
    }
    return self;
}

void
tb_v2_dirview_destroy(tb_v2_dirview_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->subtree);
    free(*self_p);
    *self_p = NULL;
}

static uint64_t *
slot(tb_v2_dirview_t *self, uint32_t index)
{
    if (index >= self->cap) {
        size_t ncap = self->cap ? self->cap : 1024;
        while (ncap <= index)
            ncap *= 2;
        uint64_t *n = realloc(self->subtree, ncap * sizeof *n);
        if (!n)
            return NULL;
        memset(n + self->cap, 0, (ncap - self->cap) * sizeof *n);
        self->subtree = n;
        self->cap = ncap;
    }
    return &self->subtree[index];
}

size_t
tb_v2_dirview_chain(tb_v2_dirview_t *self, const tb_thing_t *thing, uint64_t seq,
                    uint64_t *prev, size_t cap)
{
    uint32_t path[TB_V2_MAX_CHAIN];
    size_t n = 0;
    for (const tb_thing_t *t = thing; t; ) {
        if (n == TB_V2_MAX_CHAIN || n == cap)
            return 0;
        path[n++] = t->index;
        t = t->parent == TB_THING_NONE ? NULL : tb_directory_at(self->dir, t->parent);
    }
    if (!slot(self, thing->index))   /* the deepest index first: one realloc */
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *s = slot(self, path[n - 1 - i]);
        if (!s)
            return 0;
        prev[i] = *s;
        *s = seq;
    }
    return n;
}

void
tb_v2_dirview_thing(const tb_thing_t *t, const char *doc_url, size_t doc_len,
                    tb_v2_thing_t *out)
{
    memset(out, 0, sizeof *out);
    out->ns = t->ns;
    out->ns_len = t->ns_len;
    if (t->value) {
        out->data = tb_thing_data(t);
        out->data_len = t->data_len;
        out->ts_json = tb_thing_ts_json(t);
        out->ts_json_len = t->ts_len;
    }
    out->doc_url = doc_url;
    out->doc_url_len = doc_url ? doc_len : 0;
    out->seq = t->seq;
    out->received = t->received;
}

/* A stored Thing as the engine wants it, with its sticky URL. */
static void
fill(tb_v2_dirview_t *self, const tb_thing_t *t, tb_v2_thing_t *out)
{
    size_t dlen = 0;
    const char *doc = tb_directory_doc_url(self->dir, t, &dlen);
    tb_v2_dirview_thing(t, doc, dlen, out);
}

static int
scan(void *ctx, const char *prefix, size_t plen, uint64_t *cursor, unsigned *budget,
     tb_v2_thing_t *out)
{
    tb_v2_dirview_t *self = ctx;
    size_t count = tb_directory_count(self->dir);
    for (uint64_t i = *cursor; i < count; i++) {
        if (*budget == 0) {
            *cursor = i;
            return TB_V2_SCAN_PAUSE;
        }
        (*budget)--;
        const tb_thing_t *t = tb_directory_at(self->dir, (uint32_t)i);
        if (t && t->value && tb_ns_within(t->ns, t->ns_len, prefix, plen)) {
            fill(self, t, out);
            *cursor = i + 1;
            return TB_V2_SCAN_THING;
        }
    }
    *cursor = count;
    return TB_V2_SCAN_END;
}

static bool
lookup(void *ctx, const char *ns, size_t len, tb_v2_thing_t *out)
{
    tb_v2_dirview_t *self = ctx;
    const tb_thing_t *t = tb_directory_find(self->dir, ns, len);
    if (!t)
        return false;
    fill(self, t, out);
    return true;
}

/* cursor: 0 = from the first child, else index of the next child + 1;
 * END_CURSOR once the last child was returned */
#define END_CURSOR ((uint64_t)UINT32_MAX + 1)

static bool
child(void *ctx, const char *ns, size_t len, uint64_t *cursor, tb_v2_thing_t *out)
{
    tb_v2_dirview_t *self = ctx;
    uint32_t c;
    if (*cursor == END_CURSOR)
        return false;
    if (*cursor == 0) {
        const tb_thing_t *p = tb_directory_find(self->dir, ns, len);
        if (!p)
            return false;
        c = p->first_child;
    } else {
        c = (uint32_t)(*cursor - 1);
    }
    const tb_thing_t *t = c == TB_THING_NONE ? NULL : tb_directory_at(self->dir, c);
    if (!t) {
        *cursor = END_CURSOR;
        return false;
    }
    fill(self, t, out);
    *cursor = t->next_sibling == TB_THING_NONE ? END_CURSOR : (uint64_t)t->next_sibling + 1;
    return true;
}

static uint64_t
subtree_seq(void *ctx, const char *ns, size_t len)
{
    tb_v2_dirview_t *self = ctx;
    const tb_thing_t *t = tb_directory_find(self->dir, ns, len);
    return t && t->index < self->cap ? self->subtree[t->index] : 0;
}

static uint64_t
current_seq(void *ctx)
{
    return *((tb_v2_dirview_t *)ctx)->broker_seq;
}

const tb_v2_directory_t *
tb_v2_dirview_iface(void)
{
    static const tb_v2_directory_t iface = { scan, lookup, child, subtree_seq, current_seq };
    return &iface;
}
