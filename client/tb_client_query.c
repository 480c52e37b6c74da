/*
 * tb_client_query.c - one-shot GET on the v2 snapshot service.
 *
 * Why this exists: a program that looks a Thing up right after
 * tb_client_new() would otherwise find nothing until the mirror is synced.
 * Against a v2 broker the snapshot service answers "the latest value of
 * one Thing" directly (PROTOCOL.md 13.3), so the first look-ups of a
 * Thing the mirror lacks ask it, on the caller's thread, with a private
 * DEALER (ZeroMQ sockets belong to one thread; the actor's are not
 * shared).  The answer is handed to the caller only: the mirror is fed by
 * the actor alone, so its "highest seq wins" order is never disturbed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_client_internal.h"
#include "tb_time.h"

#define QUERY_TIMEOUT_MS 500

/* Reads {NS: ENTRY} into out.  Returns TB_OK or TB_ERR_BAD_MESSAGE. */
static int
s_parse_thing(const char *ns, const void *body, size_t len, tb_thing_t *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    json_t *entry = json_is_object(root) ? json_object_get(root, ns) : NULL;
    json_t *data = json_is_object(entry) ? json_object_get(entry, "data") : NULL;
    int rc = TB_ERR_BAD_MESSAGE;
    if (data) {
        json_t *ts = json_object_get(entry, "ts");
        json_t *doc = json_object_get(entry, "documentation_url");
        memset(out, 0, sizeof *out);
        out->ns = strdup(ns);
        out->data = tb_client_json_text(data);
        out->ts = json_is_number(ts) ? json_number_value(ts) : tb_time_now();
        if (json_is_string(doc) && json_string_length(doc) > 0)
            out->documentation_url = strdup(json_string_value(doc));
        rc = out->ns && out->data ? TB_OK : TB_ERR_NOMEM;
        if (rc != TB_OK)
            tb_thing_clear(out);
    }
    json_decref(root);
    return rc;
}

int
tb_client_query_get(tb_client_t *self, const char *ns, tb_thing_t *out)
{
    char url[320];
    if (!tb_client_snapshot_url(self, url, sizeof url))
        return TB_ERR_NOT_SUPPORTED;
    void *dealer = zmq_socket(zsys_init(), ZMQ_DEALER);
    if (!dealer)
        return TB_ERR_NET;
    int zero = 0, one = 1, rc = TB_ERR_TIMEOUT;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    /* queue nothing for a peer that is not there (a v1 broker) */
    zmq_setsockopt(dealer, ZMQ_IMMEDIATE, &one, sizeof one);
    tb_client_note_v2(self, TB_NOTE_QUERY);
    uint64_t deadline = tb_time_mono_ms() + QUERY_TIMEOUT_MS;
    if (zmq_connect(dealer, url) != 0) {
        zmq_close(dealer);
        return TB_ERR_NET;
    }
    zmq_pollitem_t item = { dealer, 0, ZMQ_POLLOUT, 0 };
    if (zmq_poll(&item, 1, QUERY_TIMEOUT_MS) <= 0 || !(item.revents & ZMQ_POLLOUT)
        || zmq_send(dealer, "GET", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(dealer, "q", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(dealer, ns, strlen(ns), ZMQ_DONTWAIT) < 0) {
        zmq_close(dealer);
        return TB_ERR_TIMEOUT;
    }
    for (;;) {
        uint64_t now = tb_time_mono_ms();
        if (now >= deadline)
            break;
        item.events = ZMQ_POLLIN;
        if (zmq_poll(&item, 1, (long)(deadline - now)) <= 0)
            break;
        zmq_msg_t part[4];
        size_t n = 0;
        bool more = true;
        while (more) {
            zmq_msg_t tmp, *m = n < 4 ? &part[n] : &tmp;
            zmq_msg_init(m);
            if (zmq_msg_recv(m, dealer, 0) < 0) {
                zmq_msg_close(m);
                break;
            }
            more = zmq_msg_more(m);
            if (m == &tmp)
                zmq_msg_close(m);
            else
                n++;
        }
        bool ours = n >= 3 && zmq_msg_size(&part[1]) == 1
                    && memcmp(zmq_msg_data(&part[1]), "q", 1) == 0;
        if (ours && zmq_msg_size(&part[0]) == 5 && memcmp(zmq_msg_data(&part[0]), "THING", 5) == 0)
            rc = s_parse_thing(ns, zmq_msg_data(&part[2]), zmq_msg_size(&part[2]), out);
        else if (ours && zmq_msg_size(&part[0]) == 5
                 && memcmp(zmq_msg_data(&part[0]), "ERROR", 5) == 0)
            rc = TB_ERR_NO_DATA;       /* not_found, no_data (or refused: ask the mirror) */
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
        if (ours)
            break;
    }
    zmq_close(dealer);
    return rc;
}
