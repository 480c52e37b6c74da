/*
 * store_model.c - the test directory (see store_model.h).
 *
 * Why this exists: the tests need an independent record of what the broker
 * would hold, to compare with what the store restores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_model.h"
#include "tb_hash.h"


static char *dup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void model_init(model_t *m) { memset(m, 0, sizeof *m); }

static void thing_clear_values(model_thing_t *t)
{
    free(t->data); free(t->ts); free(t->doc);
    t->data = t->ts = t->doc = NULL;
}

void model_free(model_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        thing_clear_values(&m->v[i]);
        free(m->v[i].ns);
    }
    free(m->v);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static void grow(model_t *m)
{
    size_t ncap = m->mask ? (m->mask + 1) * 2 : 256;
    uint32_t *s = calloc(ncap, sizeof *s);
    if (!s)
        abort();
    for (size_t i = 0; i < m->n; i++) {
        size_t j = tb_hash_fnv1a64(m->v[i].ns, m->v[i].ns_len) & (ncap - 1);
        while (s[j])
            j = (j + 1) & (ncap - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(m->slots);
    m->slots = s;
    m->mask = ncap - 1;
}

model_thing_t *model_find(model_t *m, const char *ns, size_t ns_len)
{
    if (!m->mask)
        return NULL;
    size_t j = tb_hash_fnv1a64(ns, ns_len) & m->mask;
    while (m->slots[j]) {
        model_thing_t *t = &m->v[m->slots[j] - 1];
        if (t->ns_len == ns_len && memcmp(t->ns, ns, ns_len) == 0)
            return t;
        j = (j + 1) & m->mask;
    }
    return NULL;
}

void model_put(model_t *m, const tb_store_record_t *rec)
{
    model_thing_t *t = model_find(m, rec->ns, rec->ns_len);
    if (!t) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 256;
            m->v = realloc(m->v, m->cap * sizeof *m->v);
            if (!m->v)
                abort();
        }
        if ((m->n + 1) * 2 > m->mask)
            grow(m);
        t = &m->v[m->n];
        memset(t, 0, sizeof *t);
        t->ns = dup(rec->ns, rec->ns_len);
        t->ns_len = rec->ns_len;
        size_t j = tb_hash_fnv1a64(rec->ns, rec->ns_len) & m->mask;
        while (m->slots[j])
            j = (j + 1) & m->mask;
        m->slots[j] = (uint32_t)++m->n;
    }
    thing_clear_values(t);
    if (!t->live)
        m->live++;
    t->live = true;
    t->data = dup(rec->data, rec->data_len); t->data_len = rec->data_len;
    t->ts = dup(rec->ts, rec->ts_len);       t->ts_len = rec->ts_len;
    t->has_doc = rec->doc_url != NULL;
    t->doc = t->has_doc ? dup(rec->doc_url, rec->doc_url_len) : NULL;
    t->doc_len = t->has_doc ? rec->doc_url_len : 0;
    t->recv_time = rec->recv_time;
    t->update_count = rec->update_count;
    t->seq = rec->seq;
    if (rec->seq > m->last_seq)
        m->last_seq = rec->seq;
}

void model_del(model_t *m, const char *ns, size_t ns_len)
{
    model_thing_t *t = model_find(m, ns, ns_len);
    if (t && t->live) {
        t->live = false;
        m->live--;
        thing_clear_values(t);
    }
}

void model_record(const model_thing_t *t, tb_store_record_t *out)
{
    memset(out, 0, sizeof *out);
    out->ns = t->ns; out->ns_len = t->ns_len;
    out->data = t->data; out->data_len = t->data_len;
    out->ts = t->ts; out->ts_len = t->ts_len;
    out->doc_url = t->has_doc ? t->doc : NULL; out->doc_url_len = t->doc_len;
    out->recv_time = t->recv_time;
    out->update_count = t->update_count;
    out->seq = t->seq;
}

int model_load(void *ctx, const tb_store_record_t *rec)
{
    model_put(ctx, rec);
    return 0;
}

int model_next(void *ctx, uint64_t cursor[2], tb_store_record_t *out)
{
    model_t *m = ctx;
    while (cursor[0] < m->n) {
        model_thing_t *t = &m->v[cursor[0]++];
        if (t->live) {
            model_record(t, out);
            return 1;
        }
    }
    return 0;
}

static bool same(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static bool covers(const model_t *a, const model_t *b, char *why, size_t cap, const char *dir)
{
    for (size_t i = 0; i < a->n; i++) {
        const model_thing_t *x = &a->v[i];
        if (!x->live)
            continue;
        model_thing_t *y = model_find((model_t *)b, x->ns, x->ns_len);
        const char *what = NULL;
        if (!y || !y->live) what = "missing";
        else if (!same(x->data, x->data_len, y->data, y->data_len)) what = "data";
        else if (!same(x->ts, x->ts_len, y->ts, y->ts_len)) what = "ts";
        else if (x->has_doc != y->has_doc || !same(x->doc, x->doc_len, y->doc, y->doc_len)) what = "doc";
        else if (memcmp(&x->recv_time, &y->recv_time, sizeof x->recv_time)) what = "recv_time";
        else if (x->update_count != y->update_count) what = "update_count";
        else if (x->seq != y->seq) what = "seq";
        if (what) {
            snprintf(why, cap, "thing '%.*s' %s (%s)", (int)x->ns_len, x->ns, what, dir);
            return false;
        }
    }
    return true;
}

bool model_equal(const model_t *a, const model_t *b, char *why, size_t cap)
{
    snprintf(why, cap, "equal");
    if (a->live != b->live) {
        snprintf(why, cap, "live count %zu vs %zu", a->live, b->live);
        return false;
    }
    return covers(a, b, why, cap, "first->second") && covers(b, a, why, cap, "second->first");
}
