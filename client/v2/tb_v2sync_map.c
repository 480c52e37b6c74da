/*
 * tb_v2sync_map.c - namespace -> (seq, generation), for the sync state
 * machine.
 *
 * Why this exists: merging a snapshot with live updates by "highest seq
 * wins" needs the seq of every Thing held; 100 000 look-ups must cost a
 * few milliseconds, so: linear probing, FNV-1a, backward-shift deletion (no
 * tombstones, so a long-lived client with churn does not degrade).
 */
#include "tb_v2sync_int.h"
#include "tb_hash.h"
#include <stdlib.h>
#include <string.h>

static bool
same(const v2_map_entry_t *e, uint64_t h, const char *ns, size_t len)
{
    return e->hash == h && strncmp(e->ns, ns, len) == 0 && e->ns[len] == 0;
}

v2_map_entry_t *
v2_map_find(v2_map_t *m, const char *ns, size_t len)
{
    if (m->cap == 0)
        return NULL;
    uint64_t h = tb_hash_fnv1a64(ns, len);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        v2_map_entry_t *e = &m->slots[i];
        if (!e->ns)
            return NULL;
        if (same(e, h, ns, len))
            return e;
    }
}

static bool
grow(v2_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    v2_map_entry_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].ns)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].ns)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return true;
}

v2_map_entry_t *
v2_map_put(v2_map_t *m, const char *ns, size_t len, bool *created)
{
    *created = false;
    v2_map_entry_t *e = v2_map_find(m, ns, len);
    if (e)
        return e;
    if ((m->count + 1) * 4 > m->cap * 3 && !grow(m))
        return NULL;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, ns, len);
    copy[len] = 0;
    uint64_t h = tb_hash_fnv1a64(ns, len);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].ns)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = (v2_map_entry_t){ .ns = copy, .hash = h, .seq = 0, .gen = 0 };
    m->count++;
    *created = true;
    return &m->slots[i];
}

void
v2_map_remove(v2_map_t *m, v2_map_entry_t *e)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)(e - m->slots);
    free(e->ns);
    m->slots[i].ns = NULL;
    m->count--;
    /* backward shift: pull later members of the cluster into the hole */
    for (size_t j = (i + 1) & mask; m->slots[j].ns; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        /* move j to i when its home is not within (i, j] cyclically */
        bool between = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            m->slots[i] = m->slots[j];
            m->slots[j].ns = NULL;
            i = j;
        }
    }
}

void
v2_map_free(v2_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].ns);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
