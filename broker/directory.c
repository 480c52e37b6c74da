/*
 * directory.c - Things in a chunked dense array, found through an
 * open-addressing hash table; names in an arena; doc URLs interned.
 *
 * Why this exists: see directory.h.  The layout choices are about memory
 * at a million Things (a 72-byte record, 16 bytes of hash slot, the name
 * bytes, one allocation for the value) and about the hot path (one hash,
 * usually one probe whose slot already carries the hash, one memcpy).
 *
 * The hash table grows without a pause: doubling a table of a million
 * slots in one go took ~80 ms, a stall of every input.  Instead the new
 * table starts empty next to the old one, lookups try the new table and
 * then the old (which stays complete and unchanged, since slots are never
 * removed), and each insert or lookup copies a few old slots across, so
 * the old table is gone long before the next doubling is due.
 */
#include "directory.h"
#include "tb_hash.h"
#include "tb_ns.h"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SHIFT   10                      /* 1024 Things per chunk */
#define CHUNK_THINGS  (1u << CHUNK_SHIFT)
#define ARENA_BLOCK   (256u * 1024u)
#define MAX_THINGS    (UINT32_MAX - 1)
/* Old slots copied per insert / per lookup while the table grows: at 32
 * per insert the copy is done after (old size / 32) inserts, far sooner
 * than the (old size * 3/4) inserts before the next doubling. */
#define MIGRATE_PER_INSERT 32u
#define MIGRATE_PER_LOOKUP 4u

typedef struct arena_block {
    struct arena_block *next;
    size_t used;
    char   bytes[];
} arena_block_t;

typedef struct {
    char    *lit;       /* JSON string literal, quotes included; NULL = free entry */
    uint32_t len;
    uint32_t refs;
    uint32_t hash;
    uint32_t next;      /* next entry id + 1 in the bucket chain, or the free list */
} doc_entry_t;

struct tb_directory_t {
    tb_thing_t   **chunks;
    size_t         nchunks, chunks_alloc;
    uint32_t       count;
    size_t         with_data;
    /* slot = (uint64_t)hash << 32 | (index + 1); 0 = empty */
    uint64_t      *slots;
    size_t         slot_mask;
    uint64_t      *old_slots;             /* the table being copied into slots, or NULL */
    size_t         old_mask;
    size_t         old_cursor;            /* next old slot to copy */
    arena_block_t *arena;
    /* interned documentation URLs */
    doc_entry_t   *docs;
    uint32_t       docs_len, docs_alloc, docs_free, docs_live;
    uint32_t      *doc_buckets;           /* entry id + 1; size doc_mask + 1 */
    uint32_t       doc_mask;
};

/* FNV-1a (tb_hash.h): namespaces are short, so a byte loop is as fast as
 * anything fancier and has no alignment concerns. */
static inline uint32_t
hash_bytes(const char *p, size_t n)
{
    return tb_hash_fnv1a32(p, n);
}

tb_thing_t *
tb_directory_at(tb_directory_t *self, uint32_t index)
{
    if (!self || index >= self->count)
        return NULL;
    return &self->chunks[index >> CHUNK_SHIFT][index & (CHUNK_THINGS - 1)];
}

size_t
tb_directory_count(const tb_directory_t *self)
{
    return self ? self->count : 0;
}

size_t
tb_directory_with_data(const tb_directory_t *self)
{
    return self ? self->with_data : 0;
}

size_t
tb_directory_doc_urls(const tb_directory_t *self)
{
    return self ? self->docs_live : 0;
}

static const char *
arena_copy(tb_directory_t *self, const char *s, size_t n)
{
    arena_block_t *b = self->arena;
    if (!b || b->used + n + 1 > ARENA_BLOCK) {
        b = malloc(sizeof *b + ARENA_BLOCK);
        if (!b)
            return NULL;
        b->next = self->arena;
        b->used = 0;
        self->arena = b;
    }
    char *p = b->bytes + b->used;
    memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

static void
slot_put(uint64_t *slots, size_t mask, uint64_t v)
{
    size_t j = (uint32_t)(v >> 32) & mask;
    while (slots[j])
        j = (j + 1) & mask;
    slots[j] = v;
}

/* Copy up to `budget` old slots into the new table; free the old table
 * when all are copied.  A slot already copied may still be found in the
 * old table: same value, so lookups do not care. */
static void
migrate(tb_directory_t *self, size_t budget)
{
    if (!self->old_slots)
        return;
    size_t end = self->old_cursor + budget;
    if (end > self->old_mask + 1)
        end = self->old_mask + 1;
    for (size_t i = self->old_cursor; i < end; i++)
        if (self->old_slots[i])
            slot_put(self->slots, self->slot_mask, self->old_slots[i]);
    self->old_cursor = end;
    if (end == self->old_mask + 1) {
        free(self->old_slots);
        self->old_slots = NULL;
    }
}

static int
grow_slots(tb_directory_t *self)
{
    size_t n = self->slots ? (self->slot_mask + 1) * 2 : 1024;
    uint64_t *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    /* a copy still under way (cannot happen at MIGRATE_PER_INSERT >= 2)
     * is finished first: one table being copied at a time */
    migrate(self, SIZE_MAX);
    self->old_slots = self->slots;
    self->old_mask = self->slot_mask;
    self->old_cursor = 0;
    self->slots = s;
    self->slot_mask = n - 1;
    return 0;
}

static tb_thing_t *
probe(tb_directory_t *self, const uint64_t *slots, size_t mask, const char *ns, size_t len,
      uint32_t h)
{
    size_t i = h & mask;
    for (;;) {
        uint64_t v = slots[i];
        if (!v)
            return NULL;
        if ((uint32_t)(v >> 32) == h) {
            tb_thing_t *t = tb_directory_at(self, (uint32_t)v - 1);
            if (t->ns_len == len && memcmp(t->ns, ns, len) == 0)
                return t;
        }
        i = (i + 1) & mask;
    }
}

static tb_thing_t *
lookup(tb_directory_t *self, const char *ns, size_t len, uint32_t h)
{
    tb_thing_t *t = probe(self, self->slots, self->slot_mask, ns, len, h);
    if (t || !self->old_slots)
        return t;
    t = probe(self, self->old_slots, self->old_mask, ns, len, h);
    migrate(self, MIGRATE_PER_LOOKUP);     /* the table also finishes growing without inserts */
    return t;
}

tb_thing_t *
tb_directory_find(tb_directory_t *self, const char *ns, size_t len)
{
    if (!self)
        return NULL;
    return lookup(self, ns, len, hash_bytes(ns, len));
}

/* Append a new Thing (its parent already exists, or it is the root). */
static tb_thing_t *
create(tb_directory_t *self, const char *ns, size_t len, uint32_t h, uint32_t parent)
{
    if (self->count >= MAX_THINGS || len > UINT16_MAX)
        return NULL;
    if ((size_t)self->count + 1 > (self->slot_mask + 1) / 4 * 3 && grow_slots(self) != 0)
        return NULL;
    uint32_t index = self->count;
    size_t chunk = index >> CHUNK_SHIFT;
    if (chunk >= self->nchunks) {
        if (self->nchunks == self->chunks_alloc) {
            size_t n = self->chunks_alloc ? self->chunks_alloc * 2 : 16;
            tb_thing_t **c = realloc(self->chunks, n * sizeof *c);
            if (!c)
                return NULL;
            self->chunks = c;
            self->chunks_alloc = n;
        }
        tb_thing_t *block = malloc(CHUNK_THINGS * sizeof *block);
        if (!block)
            return NULL;
        self->chunks[self->nchunks++] = block;
    }
    const char *name = arena_copy(self, ns, len);
    if (!name)
        return NULL;
    tb_thing_t *t = &self->chunks[chunk][index & (CHUNK_THINGS - 1)];
    memset(t, 0, sizeof *t);
    t->ns = name;
    t->ns_len = (uint16_t)len;
    t->index = index;
    t->parent = parent;
    t->first_child = TB_THING_NONE;
    t->next_sibling = TB_THING_NONE;
    self->count++;
    if (parent != TB_THING_NONE) {
        tb_thing_t *p = tb_directory_at(self, parent);
        t->next_sibling = p->first_child;
        p->first_child = index;
    }
    slot_put(self->slots, self->slot_mask, (uint64_t)h << 32 | (uint64_t)(index + 1));
    migrate(self, MIGRATE_PER_INSERT);
    return t;
}

tb_thing_t *
tb_directory_get(tb_directory_t *self, const char *ns, size_t len)
{
    if (!self)
        return NULL;
    uint32_t h = hash_bytes(ns, len);
    tb_thing_t *t = lookup(self, ns, len, h);
    if (t)
        return t;
    /* Walk up to the deepest existing ancestor, remembering the missing
     * prefixes, then create them top-down so every Thing's parent exists. */
    size_t missing[TB_NS_MAX_LEN / 2 + 2];
    uint32_t hashes[TB_NS_MAX_LEN / 2 + 2];
    size_t n = 0;
    size_t cur = len;
    uint32_t ch = h;
    tb_thing_t *anc = NULL;
    for (;;) {
        if (n >= sizeof missing / sizeof missing[0])
            return NULL;                        /* longer than any valid name */
        missing[n] = cur;
        hashes[n] = ch;
        n++;
        bool has_parent;
        size_t plen = tb_ns_parent_len(ns, cur, &has_parent);
        if (!has_parent)
            break;                              /* cur is the root itself */
        ch = hash_bytes(ns, plen);
        anc = lookup(self, ns, plen, ch);
        if (anc)
            break;
        cur = plen;
    }
    uint32_t parent = anc ? anc->index : TB_THING_NONE;
    while (n--) {
        t = create(self, ns, missing[n], hashes[n], parent);
        if (!t)
            return NULL;
        parent = t->index;
    }
    return t;
}

/* ------------------------------------------------------ interned doc URLs */

static int
doc_grow_buckets(tb_directory_t *self)
{
    uint32_t n = self->doc_buckets ? (self->doc_mask + 1) * 2 : 64;
    uint32_t *b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (uint32_t id = 0; id < self->docs_len; id++) {
        doc_entry_t *e = &self->docs[id];
        if (!e->lit)
            continue;
        uint32_t k = e->hash & (n - 1);
        e->next = b[k];
        b[k] = id + 1;
    }
    free(self->doc_buckets);
    self->doc_buckets = b;
    self->doc_mask = n - 1;
    return 0;
}

/* Id + 1 of the interned literal, with one more reference; 0 on OOM. */
static uint32_t
doc_intern(tb_directory_t *self, const char *lit, size_t len)
{
    if (len > UINT32_MAX)
        return 0;
    uint32_t h = hash_bytes(lit, len);
    if (self->doc_buckets) {
        for (uint32_t e1 = self->doc_buckets[h & self->doc_mask]; e1;
             e1 = self->docs[e1 - 1].next) {
            doc_entry_t *e = &self->docs[e1 - 1];
            if (e->hash == h && e->len == len && memcmp(e->lit, lit, len) == 0) {
                e->refs++;
                return e1;
            }
        }
    }
    if (!self->doc_buckets || self->docs_live + 1 > self->doc_mask + 1) {
        if (doc_grow_buckets(self) != 0)
            return 0;
    }
    uint32_t id;
    if (self->docs_free) {
        id = self->docs_free - 1;
        self->docs_free = self->docs[id].next;
    }
    else {
        if (self->docs_len == self->docs_alloc) {
            uint32_t n = self->docs_alloc ? self->docs_alloc * 2 : 16;
            doc_entry_t *d = realloc(self->docs, n * sizeof *d);
            if (!d)
                return 0;
            self->docs = d;
            self->docs_alloc = n;
        }
        id = self->docs_len++;
    }
    doc_entry_t *e = &self->docs[id];
    e->lit = malloc(len + 1);
    if (!e->lit) {
        e->next = self->docs_free;
        self->docs_free = id + 1;
        return 0;
    }
    memcpy(e->lit, lit, len);
    e->lit[len] = '\0';
    e->len = (uint32_t)len;
    e->refs = 1;
    e->hash = h;
    uint32_t k = h & self->doc_mask;
    e->next = self->doc_buckets[k];
    self->doc_buckets[k] = id + 1;
    self->docs_live++;
    return id + 1;
}

static void
doc_release(tb_directory_t *self, uint32_t id1)
{
    if (!id1)
        return;
    doc_entry_t *e = &self->docs[id1 - 1];
    if (--e->refs)
        return;
    uint32_t *link = &self->doc_buckets[e->hash & self->doc_mask];
    while (*link != id1)
        link = &self->docs[*link - 1].next;
    *link = e->next;
    free(e->lit);
    e->lit = NULL;
    e->next = self->docs_free;
    self->docs_free = id1;
    self->docs_live--;
}

const char *
tb_directory_doc_url(const tb_directory_t *self, const tb_thing_t *thing, size_t *len)
{
    if (!self || !thing || !thing->doc) {
        if (len)
            *len = 0;
        return NULL;
    }
    const doc_entry_t *e = &self->docs[thing->doc - 1];
    if (len)
        *len = e->len;
    return e->lit;
}

/* ------------------------------------------------------------- values */

/* The common part of set and restore: everything but the update count. */
static int
store_value(tb_directory_t *self, tb_thing_t *thing,
            const char *data, size_t data_len,
            const char *ts_json, size_t ts_len,
            const char *doc_url, size_t doc_len,
            double received, uint64_t seq)
{
    if (!self || !thing || data_len > UINT32_MAX || ts_len > UINT8_MAX)
        return -1;
    /* Doc URL first: it is the only step that can fail after the value is
     * replaced, and the Thing must stay consistent on failure. */
    uint32_t new_doc = thing->doc;
    if (doc_url && doc_len) {
        const doc_entry_t *cur = thing->doc ? &self->docs[thing->doc - 1] : NULL;
        if (!cur || cur->len != doc_len || memcmp(cur->lit, doc_url, doc_len) != 0) {
            new_doc = doc_intern(self, doc_url, doc_len);
            if (!new_doc)
                return -1;
        }
    }
    size_t need = data_len + ts_len;
    char *v = thing->value;
    if (!v || malloc_usable_size(v) < need || malloc_usable_size(v) > 2 * need + 64) {
        char *nv = malloc(need ? need : 1);
        if (!nv) {
            if (new_doc != thing->doc)
                doc_release(self, new_doc);
            return -1;
        }
        free(v);
        v = nv;
    }
    if (!thing->value)
        self->with_data++;
    memcpy(v, data, data_len);
    memcpy(v + data_len, ts_json, ts_len);
    thing->value = v;
    thing->data_len = (uint32_t)data_len;
    thing->ts_len = (uint8_t)ts_len;
    if (new_doc != thing->doc) {
        doc_release(self, thing->doc);
        thing->doc = new_doc;
    }
    thing->received = received;
    thing->seq = seq;
    return 0;
}

int
tb_directory_set(tb_directory_t *self, tb_thing_t *thing,
                 const char *data, size_t data_len,
                 const char *ts_json, size_t ts_len,
                 const char *doc_url, size_t doc_len,
                 double received, uint64_t seq)
{
    if (store_value(self, thing, data, data_len, ts_json, ts_len, doc_url, doc_len,
                    received, seq) != 0)
        return -1;
    thing->updates++;
    return 0;
}

int
tb_directory_restore(tb_directory_t *self, tb_thing_t *thing,
                     const char *data, size_t data_len,
                     const char *ts_json, size_t ts_len,
                     const char *doc_url, size_t doc_len,
                     double received, uint64_t seq, uint64_t updates)
{
    if (store_value(self, thing, data, data_len, ts_json, ts_len, doc_url, doc_len,
                    received, seq) != 0)
        return -1;
    thing->updates = updates;
    return 0;
}

void
tb_directory_clear(tb_directory_t *self, tb_thing_t *thing, uint64_t seq)
{
    if (!self || !thing || !thing->value)
        return;
    free(thing->value);
    thing->value = NULL;
    thing->data_len = 0;
    thing->ts_len = 0;
    self->with_data--;
    doc_release(self, thing->doc);
    thing->doc = 0;
    thing->seq = seq;
}

/* ------------------------------------------------------------ lifecycle */

tb_directory_t *
tb_directory_new(void)
{
    tb_directory_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (grow_slots(self) != 0 || !create(self, "", 0, hash_bytes("", 0), TB_THING_NONE)) {
        tb_directory_destroy(&self);
        return NULL;
    }
    return self;
}

void
tb_directory_destroy(tb_directory_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_directory_t *self = *self_p;
    for (uint32_t i = 0; i < self->count; i++)
        free(tb_directory_at(self, i)->value);
    for (size_t c = 0; c < self->nchunks; c++)
        free(self->chunks[c]);
    free(self->chunks);
    free(self->slots);
    free(self->old_slots);
    while (self->arena) {
        arena_block_t *next = self->arena->next;
        free(self->arena);
        self->arena = next;
    }
    for (uint32_t i = 0; i < self->docs_len; i++)
        free(self->docs[i].lit);
    free(self->docs);
    free(self->doc_buckets);
    free(self);
    *self_p = NULL;
}
