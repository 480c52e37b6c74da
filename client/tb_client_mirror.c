/*
 * tb_client_mirror.c - the client's copy of the broker's directory.
 *
 * Why this exists: programs ask "what is the latest value of X, how old is
 * it, what is under Y" without a round trip to the broker.  The mirror is a
 * tree of Things (intermediate Things created on demand, as in the
 * original) with a hash from full namespace to node for O(1) look-ups.
 * It has no lock of its own: tb_client.c serialises access, and everything
 * leaving the mirror is copied so callers never hold a pointer into it.
 */
#include <stdlib.h>
#include <string.h>
#include "tb_client_internal.h"
#include "tb_ns.h"

typedef struct node_t {
    char           *ns;          /* full name, NUL-terminated */
    size_t          ns_len;
    struct node_t **kids;
    size_t          nkids, kids_alloc;
    bool            kids_sorted;
    char           *data;        /* compact JSON or NULL */
    double          ts;
    char           *doc_url;     /* last non-empty one, or NULL */
} node_t;

struct tb_mirror_t {
    node_t   root;
    zhashx_t *index;             /* ns -> node_t * (root not in it) */
};

static void
s_node_free(node_t *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        s_node_free(n->kids[i]);
    free(n->kids);
    free(n->data);
    free(n->doc_url);
    free(n->ns);
    free(n);
}

tb_mirror_t *
tb_mirror_new(void)
{
    tb_mirror_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->root.ns = strdup("");
    self->index = zhashx_new();
    if (!self->root.ns || !self->index) {
        zhashx_destroy(&self->index);
        free(self->root.ns);
        free(self);
        return NULL;
    }
    return self;
}

void
tb_mirror_destroy(tb_mirror_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_mirror_t *self = *self_p;
    for (size_t i = 0; i < self->root.nkids; i++)
        s_node_free(self->root.kids[i]);
    free(self->root.kids);
    free(self->root.data);
    free(self->root.doc_url);
    free(self->root.ns);
    zhashx_destroy(&self->index);
    free(self);
    *self_p = NULL;
}

static node_t *
s_find(tb_mirror_t *self, const char *ns)
{
    if (*ns == '\0')
        return &self->root;
    return (node_t *)zhashx_lookup(self->index, ns);
}

/* Appends a new child called name (length len) to parent. */
static node_t *
s_add_child(tb_mirror_t *self, node_t *parent, const char *name, size_t len)
{
    if (parent->nkids == parent->kids_alloc) {
        size_t cap = parent->kids_alloc ? parent->kids_alloc * 2 : 4;
        node_t **kids = realloc(parent->kids, cap * sizeof *kids);
        if (!kids)
            return NULL;
        parent->kids = kids;
        parent->kids_alloc = cap;
    }
    node_t *n = calloc(1, sizeof *n);
    if (!n || !(n->ns = strndup(name, len))) {
        free(n);
        return NULL;
    }
    n->ns_len = len;
    n->kids_sorted = true;
    if (zhashx_insert(self->index, n->ns, n) != 0) {
        free(n->ns);
        free(n);
        return NULL;
    }
    parent->kids[parent->nkids++] = n;
    parent->kids_sorted = parent->nkids == 1;
    return n;
}

/* Finds or creates ns and its missing ancestors: walk up to the nearest
 * Thing that exists, then create downwards (iterative: a long namespace
 * must not cost stack). */
static node_t *
s_ensure(tb_mirror_t *self, const char *ns, size_t len)
{
    char name[TB_NS_MAX_LEN + 1];
    size_t missing[TB_NS_MAX_LEN / 2 + 1];
    size_t nmissing = 0;
    node_t *n = NULL;
    if (len > TB_NS_MAX_LEN)
        return NULL;
    memcpy(name, ns, len);
    name[len] = '\0';
    size_t l = len;
    while (l > 0) {
        char saved = name[l];
        name[l] = '\0';
        n = (node_t *)zhashx_lookup(self->index, name);
        name[l] = saved;
        if (n)
            break;
        missing[nmissing++] = l;
        l = tb_ns_parent_len(name, l, NULL);
    }
    if (l == 0)
        n = &self->root;
    while (n && nmissing > 0) {
        nmissing--;
        n = s_add_child(self, n, name, missing[nmissing]);
    }
    return n;
}

int
tb_mirror_set(tb_mirror_t *self, const char *ns, char *data, double ts,
              const char *doc_url, const char **doc_now)
{
    node_t *n = s_ensure(self, ns, strlen(ns));
    if (!n) {
        free(data);
        return TB_ERR_NOMEM;
    }
    if (doc_url && *doc_url && !(n->doc_url && strcmp(n->doc_url, doc_url) == 0)) {
        char *copy = strdup(doc_url);
        if (!copy) {
            free(data);
            return TB_ERR_NOMEM;
        }
        free(n->doc_url);
        n->doc_url = copy;
    }
    free(n->data);
    n->data = data;
    n->ts = ts;
    if (doc_now)
        *doc_now = n->doc_url;
    return TB_OK;
}

void
tb_thing_clear(tb_thing_t *t)
{
    if (!t)
        return;
    free(t->ns);
    free(t->data);
    free(t->documentation_url);
    memset(t, 0, sizeof *t);
}

static int
s_copy(const node_t *n, const char *ns, tb_thing_t *out)
{
    memset(out, 0, sizeof *out);
    out->ns = strdup(ns);
    if (!out->ns)
        return TB_ERR_NOMEM;
    if (n && n->data) {
        out->data = strdup(n->data);
        out->ts = n->ts;
        if (!out->data)
            goto nomem;
    }
    if (n && n->doc_url && !(out->documentation_url = strdup(n->doc_url)))
        goto nomem;
    return TB_OK;
nomem:
    tb_thing_clear(out);
    return TB_ERR_NOMEM;
}

int
tb_mirror_get(tb_mirror_t *self, const char *ns, tb_thing_t *out)
{
    return s_copy(s_find(self, ns), ns, out);
}

static int
s_by_name(const void *a, const void *b)
{
    const node_t *x = *(node_t *const *)a, *y = *(node_t *const *)b;
    return strcmp(x->ns, y->ns);
}

static void
s_sort_kids(node_t *n)
{
    if (!n->kids_sorted) {
        qsort(n->kids, n->nkids, sizeof *n->kids, s_by_name);
        n->kids_sorted = true;
    }
}

int
tb_mirror_children(tb_mirror_t *self, const char *ns, char ***out, size_t *count)
{
    node_t *n = s_find(self, ns);
    size_t k = n ? n->nkids : 0;
    char **v = calloc(k + 1, sizeof *v);
    if (!v)
        return TB_ERR_NOMEM;
    if (n)
        s_sort_kids(n);
    for (size_t i = 0; i < k; i++) {
        if (!(v[i] = strdup(n->kids[i]->ns))) {
            tb_client_strv_free(&v);
            return TB_ERR_NOMEM;
        }
    }
    *out = v;
    if (count)
        *count = k;
    return TB_OK;
}

static size_t
s_subtree_size(const node_t *n)
{
    size_t total = 1;
    for (size_t i = 0; i < n->nkids; i++)
        total += s_subtree_size(n->kids[i]);
    return total;
}

static int
s_fill(node_t *n, tb_thing_list_t *out)
{
    int rc = s_copy(n, n->ns, &out->items[out->count]);
    if (rc != TB_OK)
        return rc;
    out->count++;
    s_sort_kids(n);
    for (size_t i = 0; i < n->nkids; i++)
        if ((rc = s_fill(n->kids[i], out)) != TB_OK)
            return rc;
    return TB_OK;
}

int
tb_mirror_subtree(tb_mirror_t *self, const char *ns, tb_thing_list_t *out)
{
    node_t *n = s_find(self, ns);
    out->count = 0;
    out->items = NULL;
    if (!n)
        return TB_OK;
    out->items = calloc(s_subtree_size(n), sizeof *out->items);
    if (!out->items)
        return TB_ERR_NOMEM;
    int rc = s_fill(n, out);
    if (rc != TB_OK) {
        for (size_t i = 0; i < out->count; i++)
            tb_thing_clear(&out->items[i]);
        free(out->items);
        out->items = NULL;
        out->count = 0;
    }
    return rc;
}

size_t
tb_mirror_count(const tb_mirror_t *self)
{
    return zhashx_size(self->index);
}

/* Unlinks and frees a childless node (keeping its siblings' order). */
static void
s_unlink(tb_mirror_t *self, node_t *parent, node_t *n)
{
    for (size_t i = 0; i < parent->nkids; i++) {
        if (parent->kids[i] == n) {
            memmove(&parent->kids[i], &parent->kids[i + 1],
                    (parent->nkids - i - 1) * sizeof *parent->kids);
            parent->nkids--;
            break;
        }
    }
    zhashx_delete(self->index, n->ns);
    s_node_free(n);
}

bool
tb_mirror_remove(tb_mirror_t *self, const char *ns)
{
    node_t *n = s_find(self, ns);
    if (!n || !n->data)
        return false;
    free(n->data);
    n->data = NULL;
    n->ts = 0;
    /* A Thing without data and without children only existed for its
     * data: drop it, and the intermediate ancestors left empty by that
     * (the root always stays). */
    size_t len = strlen(ns);
    while (n != &self->root && !n->data && n->nkids == 0) {
        size_t plen = tb_ns_parent_len(ns, len, NULL);
        node_t *parent;
        if (plen == 0) {
            parent = &self->root;
        } else {
            char name[TB_NS_MAX_LEN + 1];
            memcpy(name, ns, plen);
            name[plen] = '\0';
            parent = (node_t *)zhashx_lookup(self->index, name);
        }
        if (!parent)
            break;
        s_unlink(self, parent, n);
        n = parent;
        len = plen;
    }
    return true;
}
