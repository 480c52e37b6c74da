/*
 * tb_v2sync_int.h - internals of libtbv2cli shared between its files.
 *
 * Why this exists: the state machine keeps, per Thing it holds, the seq of
 * the value it holds ("highest seq wins" needs it) and the generation of
 * the sync that last confirmed it (a resync removes what it did not
 * confirm).  That table is a small open-addressing hash (tb_v2sync_map.c).
 */
#ifndef TB_V2SYNC_INT_H
#define TB_V2SYNC_INT_H
#include "tb_v2sync.h"

typedef struct {
    char    *ns;      /* NUL-terminated, owned; NULL = free slot */
    uint64_t hash;
    uint64_t seq;
    uint32_t gen;
} v2_map_entry_t;

typedef struct {
    v2_map_entry_t *slots;
    size_t          cap;    /* power of two, or 0 */
    size_t          count;
} v2_map_t;

/* The entry for ns, or NULL. */
v2_map_entry_t *v2_map_find(v2_map_t *m, const char *ns, size_t len);
/* The entry for ns, inserted (seq 0, gen 0) when absent; NULL on OOM.
 * *created tells which. */
v2_map_entry_t *v2_map_put(v2_map_t *m, const char *ns, size_t len, bool *created);
/* Remove an entry returned by find/put (pointers into the map are invalid
 * afterwards). */
void v2_map_remove(v2_map_t *m, v2_map_entry_t *e);
void v2_map_free(v2_map_t *m);

/* tb_v2_json.c: in-place reading of the v2 messages' JSON. */
typedef bool (*v2_member_fn)(void *arg, const char *key, size_t key_len,
                             const char *value, size_t value_len);
/* Walk a JSON object's members (keys must be unescaped strings); false
 * when text is not one well-formed object or fn returned false. */
bool v2_json_members(const char *text, size_t len, v2_member_fn fn, void *arg);
/* A non-negative integer literal that fits uint64. */
bool v2_json_u64(const char *v, size_t len, uint64_t *out);
/* A string literal without escapes: its content span. */
bool v2_json_plain_string(const char *v, size_t len, const char **s, size_t *slen);
/* Exactly one valid JSON value (tb_json_check). */
bool v2_json_valid(const char *v, size_t len);
/* An array of uint64 literals: its length and the element at want_index. */
bool v2_json_u64_array(const char *v, size_t len, size_t want_index, size_t *count,
                       uint64_t *at_index);

#endif
