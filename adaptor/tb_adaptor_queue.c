/*
 * tb_adaptor_queue.c - the bounded FIFO between senders and the background
 * thread.
 *
 * Why this exists: a sensor loop must never wait for the network, so sends
 * land here and the transport thread drains it.  The ring has a fixed
 * capacity chosen at creation: beyond it, sends are refused (and counted by
 * the caller) instead of growing memory without bound.  The adaptor's mutex
 * guards it; the worker peeks the head, sends it, and only then removes it,
 * so a message the network refused stays first in line.
 */
#include <stdlib.h>
#include "tb_adaptor_internal.h"

int
tb_queue_init(tb_queue_t *q, size_t cap)
{
    q->ring = calloc(cap, sizeof *q->ring);
    q->cap = q->ring ? cap : 0;
    q->head = 0;
    q->count = 0;
    return q->ring ? TB_OK : TB_ERR_NOMEM;
}

void
tb_queue_free(tb_queue_t *q)
{
    while (q->count)
        tb_queue_drop_head(q);
    free(q->ring);
    q->ring = NULL;
    q->cap = 0;
}

bool
tb_queue_push(tb_queue_t *q, tb_msg_t msg)
{
    if (q->count >= q->cap)
        return false;
    q->ring[(q->head + q->count) % q->cap] = msg;
    q->count++;
    return true;
}

tb_msg_t *
tb_queue_peek(tb_queue_t *q)
{
    return q->count ? &q->ring[q->head] : NULL;
}

void
tb_queue_drop_head(tb_queue_t *q)
{
    if (!q->count)
        return;
    free(q->ring[q->head].bytes);
    q->ring[q->head].bytes = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
}
