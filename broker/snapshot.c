/*
 * snapshot.c - the v1 periodic thing_snapshot, built in slices.
 *
 * Why this exists: original clients learn the directory from a
 * thing_snapshot sent every interval on the PUB.  With a million Things a
 * snapshot is large, so it is (1) split into several messages of at most
 * --snapshot-max-bytes, each a complete, valid v1 thing_snapshot, and (2)
 * built a slice at a time: the loop reads input between slices, so ingest
 * never waits for a whole snapshot.  The entries are the directory's
 * stored bytes copied as they are (data and ts were serialized once, on
 * arrival).  A Thing updated while a round is under way goes out with the
 * value it has when its slice is built.
 */
#include "broker.h"
#include <stdlib.h>
#include <string.h>

/* Things visited per slice: small enough that a slice costs well under a
 * millisecond, large enough that a million Things take few loop turns. */
#define SLICE_THINGS 4096u

struct snapshot_t {
    bool     active;
    uint32_t cursor;          /* next Thing index to visit */
    double   ts;              /* the round's time, in every message's "ts" */
    double   cutoff;          /* Things received at or before this are expired */
    tb_buf_t buf;             /* the message being filled */
    size_t   entries;         /* entries in buf */
    size_t   messages;        /* messages sent this round */
    size_t   end_len;         /* bytes tb_encode_snapshot_end appends */
};

snapshot_t *
snapshot_new(void)
{
    snapshot_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    tb_buf_init(&self->buf, 0);
    tb_encode_snapshot_begin(&self->buf, 0.0);
    size_t begin = self->buf.len;
    tb_encode_snapshot_end(&self->buf);
    self->end_len = self->buf.len - begin;
    if (tb_buf_failed(&self->buf)) {
        snapshot_destroy(&self);
        return NULL;
    }
    tb_buf_reset(&self->buf);
    return self;
}

void
snapshot_destroy(snapshot_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_buf_free(&(*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

bool
snapshot_active(const broker_t *b)
{
    return b->snapshot && b->snapshot->active;
}

void
snapshot_start(broker_t *b, double now)
{
    snapshot_t *s = b->snapshot;
    if (!s || s->active)
        return;
    s->active = true;
    s->cursor = 0;
    s->ts = now;
    s->cutoff = now - b->cfg->snapshot_expiry;
    s->entries = 0;
    s->messages = 0;
    tb_buf_reset(&s->buf);
}

static void
send_message(broker_t *b)
{
    snapshot_t *s = b->snapshot;
    if (s->buf.len == 0)
        tb_encode_snapshot_begin(&s->buf, s->ts);
    tb_encode_snapshot_end(&s->buf);
    if (tb_buf_failed(&s->buf))
        b->stats.publish_errors++;
    else if (publish_bytes(b, s->buf.data, s->buf.len)) {
        b->stats.snapshot_messages++;
        b->stats.snapshot_entries += s->entries;
    }
    s->messages++;
    s->entries = 0;
    tb_buf_reset(&s->buf);
}

/* Append one entry, starting a new message first when it would not fit. */
static void
add_entry(broker_t *b, const tb_thing_t *t)
{
    snapshot_t *s = b->snapshot;
    size_t doc_len;
    const char *doc = tb_directory_doc_url(b->dir, t, &doc_len);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s->buf.len == 0)
            tb_encode_snapshot_begin(&s->buf, s->ts);
        size_t mark = s->buf.len;
        if (s->entries)
            tb_buf_append_char(&s->buf, ',');
        tb_encode_snapshot_entry(&s->buf, t->ns, t->ns_len, tb_thing_data(t), t->data_len,
                                 tb_thing_ts_json(t), t->ts_len, doc, doc_len);
        /* A single entry larger than the limit still goes out, alone. */
        if (s->buf.len + s->end_len <= b->cfg->snapshot_max_bytes || s->entries == 0) {
            s->entries++;
            return;
        }
        s->buf.len = mark;
        send_message(b);
    }
}

void
snapshot_step(broker_t *b)
{
    snapshot_t *s = b->snapshot;
    if (!s || !s->active)
        return;
    size_t count = tb_directory_count(b->dir);
    size_t sent_before = s->messages;
    uint32_t end = s->cursor + SLICE_THINGS;
    while (s->cursor < count && s->cursor < end && s->messages == sent_before) {
        const tb_thing_t *t = tb_directory_at(b->dir, s->cursor++);
        if (t->value && t->received > s->cutoff)
            add_entry(b, t);
    }
    if (s->cursor >= count) {
        if (s->entries || s->messages == 0)
            send_message(b);             /* the last part, or an empty snapshot */
        s->active = false;
        b->stats.snapshot_rounds++;
    }
}
