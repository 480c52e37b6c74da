/*
 * tb_decoder.c - the decoder object: limits and reusable scratch memory.
 *
 * Why this exists: a broker decodes hundreds of thousands of messages per
 * second; the decoder keeps its buffers between calls so the steady state
 * allocates nothing.
 */
#include "tb_decoder_int.h"
#include <stdlib.h>

tb_decoder_t *
tb_decoder_new(const tb_limits_t *limits)
{
    tb_decoder_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (limits)
        self->limits = *limits;
    else
        tb_limits_default(&self->limits);
    if (self->limits.max_depth > TB_MAX_DEPTH_CAP)
        self->limits.max_depth = TB_MAX_DEPTH_CAP;
    tb_buf_init(&self->out, 0);
    tb_buf_init(&self->str, 0);
    self->levels = calloc((size_t)self->limits.max_depth + 1, sizeof *self->levels);
    if (!self->levels || !tb_buf_reserve(&self->out, 1024) || !tb_buf_reserve(&self->str, 256)) {
        tb_decoder_destroy(&self);
        return NULL;
    }
    return self;
}

void
tb_decoder_destroy(tb_decoder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_decoder_t *self = *self_p;
    tb_buf_free(&self->out);
    tb_buf_free(&self->str);
    free(self->levels);
    free(self);
    *self_p = NULL;
}
