/*
 * store_model.h - a tiny stand-in for the broker's directory, for the store's
 * tests, driver and benchmark.
 *
 * Why this exists: the store's contract is stated against the broker's
 * directory (load callback, compaction iterator).  This model keeps Things
 * in creation order with stable indices (so a cursor survives growth) and a
 * hash for lookups, which is what the broker must offer too.
 */
#ifndef STORE_MODEL_H
#define STORE_MODEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/tb_store.h"

typedef struct {
    char    *ns, *data, *ts, *doc;
    size_t   ns_len, data_len, ts_len, doc_len;
    bool     has_doc, live;
    double   recv_time;
    uint64_t update_count, seq;
} model_thing_t;

typedef struct {
    model_thing_t *v;
    size_t    n, cap, live;
    uint32_t *slots;
    size_t    mask;
    uint64_t  last_seq;
} model_t;

void model_init(model_t *m);
void model_free(model_t *m);
void model_put(model_t *m, const tb_store_record_t *rec);
void model_del(model_t *m, const char *ns, size_t ns_len);
model_thing_t *model_find(model_t *m, const char *ns, size_t ns_len);
void model_record(const model_thing_t *t, tb_store_record_t *out);
/* tb_store_load_fn: ctx is a model_t. */
int model_load(void *ctx, const tb_store_record_t *rec);
/* tb_store_iter_fn: ctx is a model_t; cursor[0] = next index. */
int model_next(void *ctx, uint64_t cursor[2], tb_store_record_t *out);
/* true if both hold the same live Things with the same fields; why gets
 * the first difference. */
bool model_equal(const model_t *a, const model_t *b, char *why, size_t cap);

#endif
