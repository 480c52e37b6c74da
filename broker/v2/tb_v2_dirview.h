/*
 * tb_v2_dirview.h - the broker's directory (broker/directory.h) seen
 * through the v2 engine's directory interface, plus the per-subtree seqs
 * the filtered PUB's "prev" chains need.
 *
 * Why this exists: the engine must not know the broker's internals, and
 * the broker should not have to learn the v2 rules; this adapter is the
 * one place that knows both.  It keeps subtree seqs in its own array
 * indexed like the directory's dense array (8 bytes per Thing), so
 * tb_thing_t does not change.  Wiring: broker/v2/README.md.
 */
#ifndef TB_V2_DIRVIEW_H
#define TB_V2_DIRVIEW_H
#include "directory.h"
#include "tb_ns.h"
#include "tb_v2srv.h"

/* The longest prev chain: every part one letter plus the root. */
#define TB_V2_MAX_CHAIN (TB_NS_MAX_LEN / 2 + 2)

typedef struct tb_v2_dirview_t tb_v2_dirview_t;

/* A view of dir; *broker_seq is read as "the last seq given out" (it must
 * outlive the view).  Returns NULL on out of memory. */
tb_v2_dirview_t *tb_v2_dirview_new(tb_directory_t *dir, const uint64_t *broker_seq);

/* Accepts NULL; nulls *self_p. */
void tb_v2_dirview_destroy(tb_v2_dirview_t **self_p);

/* The callbacks to give tb_v2srv_new, with the view as dir_ctx. */
const tb_v2_directory_t *tb_v2_dirview_iface(void);

/* Record that event seq (an update or a purge) happened to thing: fill
 * prev[0..n) (root first, thing last) with the subtree seqs before it and
 * set them all to seq.  Returns n (depth + 1), or 0 when cap is too small
 * or memory ran out (then publish nothing on the filtered PUB: the
 * subscribers' chain check reports the hole as loss and they resync). */
size_t tb_v2_dirview_chain(tb_v2_dirview_t *self, const tb_thing_t *thing, uint64_t seq,
                           uint64_t *prev, size_t cap);

/* Fill *out to publish thing's current value with the engine (doc_url:
 * the update's own URL literal or NULL, as on the v1 PUB). */
void tb_v2_dirview_thing(const tb_thing_t *thing, const char *doc_url, size_t doc_len,
                         tb_v2_thing_t *out);

#endif
