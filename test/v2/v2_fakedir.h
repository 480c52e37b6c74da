/*
 * v2_fakedir.h - a directory for the v2 tests and benchmark.
 *
 * Why this exists: the v2 engine reads Things through callbacks, so its
 * tests need a directory that is independent of the broker's, small enough
 * to trust, and that keeps the per-subtree seqs the filtered PUB's "prev"
 * chains need (the reference for how the broker must keep them).  Removal
 * leaves holes, so cursors obey the engine's contract.
 */
#ifndef V2_FAKEDIR_H
#define V2_FAKEDIR_H
#include "v2/tb_v2srv.h"

typedef struct fakedir_t fakedir_t;

fakedir_t *fakedir_new(void);
void fakedir_destroy(fakedir_t **self_p);

/* The interface to hand to tb_v2srv_new with this directory as ctx. */
const tb_v2_directory_t *fakedir_iface(void);

/* Store data (JSON text) for ns (parents created), give it the next seq,
 * and publish it on srv (may be NULL).  Returns the seq. */
uint64_t fakedir_update(fakedir_t *self, const char *ns, const char *data, tb_v2srv_t *srv);

/* Purge ns (data removed; the Thing too when it has no live children).
 * Returns the seq, or 0 when ns holds no data. */
uint64_t fakedir_purge(fakedir_t *self, const char *ns, tb_v2srv_t *srv);

/* Things with data. */
size_t fakedir_with_data(const fakedir_t *self);

/* Data and seq of ns; false when it has no data. */
bool fakedir_get(const fakedir_t *self, const char *ns, const char **data, uint64_t *seq);

/* Visit every Thing with data. */
void fakedir_foreach(const fakedir_t *self,
                     void (*fn)(void *arg, const char *ns, const char *data, uint64_t seq),
                     void *arg);

/* Things examined by scan/child calls so far (work accounting). */
uint64_t fakedir_examined(const fakedir_t *self);

uint64_t fakedir_seq(const fakedir_t *self);

#endif
