/*
 * publish.c - everything that leaves the broker goes through here.
 *
 * Why this exists: the directory PUB carries the normalized v1
 * thing_updates and the periodic snapshots.  Encoding the update in one
 * place means an extra key (today "seq") is added once, not at every call
 * site.  PUB never blocks: a subscriber past its high-water mark loses
 * messages, the broker and the other subscribers do not slow down.
 */
#include "broker.h"
#include <zmq.h>

bool
publish_bytes(broker_t *b, const char *bytes, size_t len)
{
    /* PUB drops at the high-water mark without an error, so a failure
     * here is a real fault (out of memory, socket closed): count it */
    if (zmq_send(b->pub, bytes, len, ZMQ_DONTWAIT) < 0) {
        b->stats.publish_errors++;
        return false;
    }
    return true;
}

void
publish_update(broker_t *b, const tb_thing_t *thing, const tb_update_t *upd,
               const char *ts_json, size_t ts_len, uint64_t seq)
{
    tb_buf_reset(&b->out);
    tb_encode_update(&b->out, thing->ns, thing->ns_len, tb_thing_data(thing), thing->data_len,
                     ts_json, ts_len, upd->doc_url, upd->doc_url_len, (int64_t)seq);
    if (tb_buf_failed(&b->out)) {
        b->stats.publish_errors++;
        return;
    }
    if (publish_bytes(b, b->out.data, b->out.len))
        b->stats.published++;
}
