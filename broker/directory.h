/*
 * directory.h - the broker's tree of Things, keyed by namespace.
 *
 * Why this exists: the broker remembers the latest value of every Thing so
 * it can send snapshots (and, later, serve late joiners and persist state).
 * It has to do so for a million Things in little memory and with O(1)
 * look-ups on the ingest hot path, so:
 *   - a Thing is a small fixed-size record in a dense, chunked array
 *     (stable addresses, cheap sliced iteration by index);
 *   - look-up is an open-addressing hash table of 32-bit indices;
 *   - names live in an append-only arena (no per-name malloc);
 *   - the latest data is kept in its outgoing form: the data JSON text
 *     followed by the ts JSON literal, in one allocation, so a snapshot or
 *     republish only copies bytes;
 *   - documentation URLs are interned (many Things share one adaptor's URL)
 *     and reference-counted so a stream of distinct URLs cannot grow memory
 *     without bound.
 * Parents are created on demand; each Thing links to its parent, its first
 * child and its next sibling.
 */
#ifndef TB_DIRECTORY_H
#define TB_DIRECTORY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TB_THING_NONE UINT32_MAX

typedef struct {
    char       *value;        /* data JSON text then ts literal; NULL = no data */
    const char *ns;           /* NUL-terminated, in the directory's name arena */
    uint64_t    seq;          /* broker sequence number of the latest update */
    double      received;     /* broker wall clock when the latest update arrived */
    uint32_t    data_len;     /* bytes of data JSON at value[0] */
    uint32_t    index;        /* position in the dense array */
    uint32_t    parent;       /* index, TB_THING_NONE for the root */
    uint32_t    first_child;  /* index or TB_THING_NONE */
    uint32_t    next_sibling; /* index or TB_THING_NONE */
    uint64_t    updates;      /* accepted updates (restored across restarts) */
    uint32_t    doc;          /* interned documentation URL id + 1; 0 = none */
    uint16_t    ns_len;
    uint8_t     ts_len;       /* bytes of the ts literal after the data */
} tb_thing_t;

typedef struct tb_directory_t tb_directory_t;

/* New directory holding only the root Thing (ns "", index 0).
 * Returns NULL on out of memory. */
tb_directory_t *tb_directory_new(void);

/* Frees everything; accepts NULL and *self_p == NULL; nulls the pointer. */
void tb_directory_destroy(tb_directory_t **self_p);

/* The Thing named ns[0..len), or NULL.  The name must be valid (tb_ns_valid);
 * the caller checks. */
tb_thing_t *tb_directory_find(tb_directory_t *self, const char *ns, size_t len);

/* The Thing named ns, created with its missing ancestors when absent.
 * Returns NULL on out of memory (nothing half-created stays unreachable:
 * ancestors created before the failure are complete Things). */
tb_thing_t *tb_directory_get(tb_directory_t *self, const char *ns, size_t len);

/* Store a Thing's latest value.  data: JSON text; ts_json: a JSON number
 * literal (at most 255 bytes); doc_url: a JSON string literal with quotes,
 * or NULL to keep the Thing's previous (sticky) URL.  Copies everything.
 * Returns 0, or -1 on out of memory (the previous value is kept). */
int tb_directory_set(tb_directory_t *self, tb_thing_t *thing,
                     const char *data, size_t data_len,
                     const char *ts_json, size_t ts_len,
                     const char *doc_url, size_t doc_len,
                     double received, uint64_t seq);

/* Put back a Thing's value as it was saved (persistence, at start-up):
 * like tb_directory_set, but the update count is set to `updates` instead
 * of being incremented, and doc_url (a JSON string literal, or NULL) is the
 * Thing's sticky URL.  Returns 0, or -1 on out of memory or bad lengths. */
int tb_directory_restore(tb_directory_t *self, tb_thing_t *thing,
                         const char *data, size_t data_len,
                         const char *ts_json, size_t ts_len,
                         const char *doc_url, size_t doc_len,
                         double received, uint64_t seq, uint64_t updates);

/* Drop a Thing's value (a purge): it stays in the directory, at the same
 * index, as a Thing without data (so dense-index cursors stay valid);
 * its sticky documentation URL is forgotten and seq becomes `seq`.
 * Does nothing to a Thing without data. */
void tb_directory_clear(tb_directory_t *self, tb_thing_t *thing, uint64_t seq);

/* Number of Things (root and intermediates included); indices run 0..count-1. */
size_t tb_directory_count(const tb_directory_t *self);

/* Things that hold data. */
size_t tb_directory_with_data(const tb_directory_t *self);

/* Thing at index (0 <= index < count), or NULL. */
tb_thing_t *tb_directory_at(tb_directory_t *self, uint32_t index);

/* The Thing's sticky documentation URL as a JSON string literal (quotes
 * included), or NULL with *len = 0 when it never had one. */
const char *tb_directory_doc_url(const tb_directory_t *self, const tb_thing_t *thing,
                                 size_t *len);

/* Distinct documentation URLs currently interned. */
size_t tb_directory_doc_urls(const tb_directory_t *self);

/* The data JSON and ts literal of a Thing that has data. */
static inline const char *tb_thing_data(const tb_thing_t *t) { return t->value; }
static inline const char *tb_thing_ts_json(const tb_thing_t *t) { return t->value + t->data_len; }

#endif
