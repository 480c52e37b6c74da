/*
 * tb_buf.c - growable byte buffer with a sticky failure flag.
 */
#include "tb_buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tb_buf_init(tb_buf_t *b, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->cap = cap;
}

void
tb_buf_free(tb_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->failed = false;
}

void
tb_buf_reset(tb_buf_t *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

bool
tb_buf_reserve(tb_buf_t *b, size_t extra)
{
    if (b->failed)
        return false;
    size_t limit = b->cap ? b->cap : SIZE_MAX / 2;
    if (extra > limit || b->len > limit - extra) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;   /* +1 keeps room for a NUL */
    if (need <= b->alloc)
        return true;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(b->data, n);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->alloc = n;
    return true;
}

void
tb_buf_append(tb_buf_t *b, const void *p, size_t n)
{
    if (!tb_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
tb_buf_append_str(tb_buf_t *b, const char *s)
{
    tb_buf_append(b, s, strlen(s));
}

void
tb_buf_append_char(tb_buf_t *b, char c)
{
    if (b->len + 1 < b->alloc && (!b->cap || b->len < b->cap) && !b->failed) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }
    tb_buf_append(b, &c, 1);
}

void
tb_buf_printf(tb_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[128];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        tb_buf_append(b, small, (size_t)n);
        return;
    }
    if (!tb_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *
tb_buf_steal(tb_buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}
