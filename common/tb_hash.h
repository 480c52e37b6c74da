/*
 * tb_hash.h - the string hash of our hash tables (internal).
 *
 * Why this exists: the adaptor's suppression table, the v2 client's
 * namespace map and the broker's directory all key on namespaces, which
 * are short and not chosen by anyone with a reason to make them collide
 * (a collision only costs a longer probe).  FNV-1a suits that: a byte
 * loop as fast as anything fancier, no alignment concerns, no state.
 * One copy here so the constants are written once.
 */
#ifndef TB_HASH_H
#define TB_HASH_H
#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a of the n bytes at p (p may be NULL when n is 0).
 * Returns the hash; the empty input hashes to the offset basis
 * 0xcbf29ce484222325. */
static inline uint64_t
tb_hash_fnv1a64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* 32-bit FNV-1a of the n bytes at p, for tables that store 32-bit hashes.
 * The empty input hashes to 0x811c9dc5. */
static inline uint32_t
tb_hash_fnv1a32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

#endif
