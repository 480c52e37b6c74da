/*
 * test_v2sync.c - the v2 client sync state machine, fed by hand.
 *
 * Why this exists: the join/merge/gap rules are where a client could lose
 * or invent data, so each rule gets a scripted conversation here with a
 * fake clock: join with buffering, "highest seq wins", filtered jumps that
 * are not loss, gaps by chain and by heartbeat, subscription race, dead
 * broker, restart, v1 fallback, purge and resync sweep, refusals, and
 * malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "v2/tb_v2sync.h"
#include "v2/tb_v2sync_int.h"

typedef struct {
    char     sent[64][160];   /* requests, frames joined with '|' */
    int      nsent;
    json_t  *mirror;          /* ns -> data */
    int      events[16];
    int      nevents;
    int      applied_snapshot, applied_update, removed;
} host_t;

static int
h_send(void *ctx, const tb_v2_frame_t *f, size_t n)
{
    host_t *h = ctx;
    char *out = h->sent[h->nsent++ % 64];
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, "|");
        strncat(out, f[i].data, f[i].len);
    }
    return 0;
}

static void
h_apply(void *ctx, const char *ns, const tb_v2_value_t *v, bool from_snapshot)
{
    host_t *h = ctx;
    json_object_set_new(h->mirror, ns, json_loadb(v->data, v->data_len, JSON_DECODE_ANY, NULL));
    if (from_snapshot)
        h->applied_snapshot++;
    else
        h->applied_update++;
}

static void
h_remove(void *ctx, const char *ns)
{
    host_t *h = ctx;
    json_object_del(h->mirror, ns);
    h->removed++;
}

static void
h_event(void *ctx, tb_v2sync_event_t ev, uint64_t detail)
{
    (void)detail;
    host_t *h = ctx;
    h->events[h->nevents++ % 16] = (int)ev;
}

static const tb_v2sync_actions_t actions = { h_send, h_apply, h_remove, h_event };

static tb_v2sync_t *
make(host_t *h, const char *prefix)
{
    memset(h, 0, sizeof *h);
    h->mirror = json_object();
    tb_v2sync_t *s = tb_v2sync_new(prefix, NULL, &actions, h);
    assert_non_null(s);
    return s;
}

static void
done(host_t *h, tb_v2sync_t **s)
{
    json_decref(h->mirror);
    tb_v2sync_destroy(s);
    assert_null(*s);
}

static const char *
last_sent(host_t *h)
{
    return h->nsent ? h->sent[(h->nsent - 1) % 64] : "";
}

static void
pub(tb_v2sync_t *s, uint64_t now, const char *body)
{
    assert_int_equal(tb_v2sync_on_pub(s, now, "t", 1, body, strlen(body)), 0);
}

static int
reply(tb_v2sync_t *s, uint64_t now, const char *kind, const char *rid, const char *payload)
{
    tb_v2_frame_t f[3] = { { kind, strlen(kind) }, { rid, strlen(rid) },
                           { payload, strlen(payload) } };
    return tb_v2sync_on_reply(s, now, f, 3);
}

static void
heartbeat(tb_v2sync_t *s, uint64_t now, const char *ns, int seq, int last, const char *epoch)
{
    char b[256];
    snprintf(b, sizeof b,
             "{\"type\":\"heartbeat\",\"ns\":\"%s\",\"seq\":%d,\"last\":%d,"
             "\"epoch\":\"%s\",\"interval\":1000}", ns, seq, last, epoch);
    pub(s, now, b);
}

static void
update(tb_v2sync_t *s, uint64_t now, const char *ns, int seq, const char *prev, const char *data)
{
    char b[512];
    snprintf(b, sizeof b,
             "{\"type\":\"thing_update\",\"ns\":\"%s\",\"data\":%s,\"ts\":1.5,"
             "\"documentation_url\":null,\"seq\":%d,\"prev\":%s}", ns, data, seq, prev);
    pub(s, now, b);
}

#define EP "00000000000000aa"

static void
end_marker(tb_v2sync_t *s, uint64_t now, const char *rid, const char *ns, int seq, int start,
           int last, const char *epoch)
{
    char b[256];
    snprintf(b, sizeof b,
             "{\"type\":\"snapshot_end\",\"ns\":\"%s\",\"seq\":%d,\"start\":%d,\"last\":%d,"
             "\"things\":0,\"batches\":0,\"epoch\":\"%s\"}", ns, seq, start, last, epoch);
    assert_int_equal(reply(s, now, "END", rid, b), 0);
}

static void
expect_data(host_t *h, const char *ns, const char *json)
{
    json_t *v = json_object_get(h->mirror, ns);
    assert_non_null(v);
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    assert_string_equal(d, json);
    free(d);
}

/* Join the root: welcome, snapshot with concurrent updates, merge. */
static void
test_join_merges_snapshot_and_buffer(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = make(&h, "");
    assert_string_equal(tb_v2sync_topic(s), "");
    tb_v2sync_start(s, 1000);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_WAIT_SUB);
    heartbeat(s, 1001, "", 10, 10, EP); /* the welcome */
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SNAPSHOT);
    assert_string_equal(last_sent(&h), "SNAPSHOT|s1||8");
    /* while it streams: a.x changes (12), b appears (13); seq 9 is old */
    update(s, 1002, "a.x", 9, "[8,8,8]", "\"old\"");
    update(s, 1003, "a.x", 12, "[11,11,11]", "\"new\"");
    update(s, 1004, "b", 13, "[12,0]", "3");
    /* the batch was read before a.x changed; a.y is unchanged */
    assert_int_equal(reply(s, 1005, "BATCH", "s1",
        "{\"type\":\"thing_snapshot\",\"ts\":1.0,\"data\":{"
        "\"a.x\":{\"data\":\"mid\",\"ts\":1.0,\"ns\":\"a.x\",\"documentation_url\":null,\"seq\":10},"
        "\"a.y\":{\"data\":7,\"ts\":1.0,\"ns\":\"a.y\",\"documentation_url\":null,\"seq\":5}}}"), 0);
    assert_string_equal(last_sent(&h), "CREDIT|s1|1");
    /* a second batch carries b, read after it changed (13) */
    assert_int_equal(reply(s, 1006, "BATCH", "s1",
        "{\"type\":\"thing_snapshot\",\"ts\":1.0,\"data\":{"
        "\"b\":{\"data\":3,\"ts\":1.0,\"ns\":\"b\",\"documentation_url\":null,\"seq\":13}}}"), 0);
    end_marker(s, 1007, "s1", "", 13, 11, 11, EP);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    expect_data(&h, "a.x", "\"new\"");
    expect_data(&h, "a.y", "7");
    expect_data(&h, "b", "3");
    assert_int_equal(json_object_size(h.mirror), 3);
    assert_int_equal(h.events[0], TB_V2SYNC_EV_SYNCED);
    assert_int_equal(tb_v2sync_count(s), 3);
    assert_int_equal(tb_v2sync_seq(s), 13);
    /* live: chained updates apply, no loss */
    update(s, 1100, "a.y", 14, "[13,12,5]", "8");
    expect_data(&h, "a.y", "8");
    heartbeat(s, 1200, "", 14, 14, EP);
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 0);
    assert_int_equal(st.snapshots, 1);
    assert_int_equal(st.stale_skipped, 1); /* the entry b(13) = the update b(13) */
    done(&h, &s);
}

static tb_v2sync_t *
synced_on(host_t *h, const char *prefix, int last)
{
    tb_v2sync_t *s = make(h, prefix);
    tb_v2sync_start(s, 0);
    heartbeat(s, 1, prefix, last, last, EP);
    end_marker(s, 2, "s1", prefix, last, last, last, EP);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    return s;
}

static void
test_filtered_jumps_are_not_loss(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "spacemon", 40);
    assert_string_equal(tb_v2sync_topic(s), "spacemon.");
    /* the global seq jumps (other subtrees) but prev[1] chains */
    update(s, 10, "spacemon.a", 45, "[44,40,0]", "1");
    update(s, 11, "spacemon", 90, "[89,45]", "2");
    update(s, 12, "spacemon.b.c", 200, "[150,90,0,0]", "3");
    heartbeat(s, 13, "spacemon", 300, 200, EP);
    /* messages from elsewhere (another subscription on the same socket) */
    update(s, 14, "spacemonitor.x", 301, "[300,0,0]", "4");
    heartbeat(s, 15, "other", 301, 7, EP);
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 0);
    assert_int_equal(json_object_size(h.mirror), 3);
    assert_null(json_object_get(h.mirror, "spacemonitor.x"));
    done(&h, &s);
}

static void
test_gap_by_chain_resyncs_and_reports(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "spacemon", 40);
    update(s, 10, "spacemon.a", 45, "[44,40,0]", "1");
    /* 46..50 lost: the next one's prev[1] is 50, we saw 45 */
    update(s, 11, "spacemon.a", 51, "[50,50,50]", "2");
    assert_int_equal(h.events[h.nevents - 1], TB_V2SYNC_EV_LOSS);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SNAPSHOT);
    assert_string_equal(h.sent[h.nsent - 1], "SNAPSHOT|s2|spacemon|8");
    expect_data(&h, "spacemon.a", "1"); /* the post-gap update was not applied */
    /* the resync's snapshot holds a.b and not spacemon.a any more */
    assert_int_equal(reply(s, 20, "BATCH", "s2",
        "{\"type\":\"thing_snapshot\",\"ts\":1.0,\"data\":{"
        "\"spacemon.b\":{\"data\":5,\"ts\":1.0,\"ns\":\"spacemon.b\",\"documentation_url\":null,\"seq\":52}}}"), 0);
    end_marker(s, 21, "s2", "spacemon", 60, 55, 52, EP);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    assert_null(json_object_get(h.mirror, "spacemon.a")); /* swept */
    expect_data(&h, "spacemon.b", "5");
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 1);
    assert_int_equal(st.resyncs, 1);
    assert_int_equal(st.removes, 1);
    done(&h, &s);
}

static void
test_gap_by_heartbeat(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "a", 5);
    heartbeat(s, 10, "a", 9, 5, EP); /* nothing new in a: fine */
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 0);
    /* the last message in a (seq 8) was lost, then a quiet spell */
    heartbeat(s, 20, "a", 12, 8, EP);
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 1);
    assert_int_equal(h.events[h.nevents - 1], TB_V2SYNC_EV_LOSS);
    done(&h, &s);
}

static void
test_subscription_race_is_a_silent_retry(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = make(&h, "");
    tb_v2sync_start(s, 0);
    heartbeat(s, 1, "", 10, 10, EP);
    /* the subscription became live after 11 was published */
    update(s, 2, "x", 12, "[11,0]", "1");
    end_marker(s, 3, "s1", "", 12, 10, 10, EP);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SNAPSHOT);
    assert_string_equal(last_sent(&h), "SNAPSHOT|s2||8");
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 0);
    assert_int_equal(st.join_retries, 1);
    assert_int_equal(h.nevents, 0);
    /* a late reply for the abandoned request is cancelled, not applied */
    assert_int_equal(reply(s, 4, "BATCH", "s1",
        "{\"type\":\"thing_snapshot\",\"ts\":1.0,\"data\":{}}"), 0);
    assert_string_equal(last_sent(&h), "CANCEL|s1");
    end_marker(s, 5, "s2", "", 12, 12, 12, EP);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    done(&h, &s);
}

static void
test_heartbeat_timeout_declares_dead(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "", 3);
    heartbeat(s, 1000, "", 3, 3, EP);
    assert_true(tb_v2sync_tick(s, 3999) <= 1);
    assert_int_equal(h.nevents, 1); /* only SYNCED */
    tb_v2sync_tick(s, 4000);
    assert_int_equal(h.events[h.nevents - 1], TB_V2SYNC_EV_BROKER_DEAD);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_WAIT_SUB);
    /* reported once, not at every tick */
    tb_v2sync_tick(s, 9000);
    int n = h.nevents;
    tb_v2sync_tick(s, 20000);
    assert_int_equal(h.nevents, n);
    /* never falls back to v1 once a v2 broker was seen */
    assert_int_not_equal(tb_v2sync_state(s), TB_V2SYNC_V1);
    /* the broker returns (new epoch): resync */
    heartbeat(s, 21000, "", 0, 0, "00000000000000bb");
    assert_string_equal(last_sent(&h), "SNAPSHOT|s3||8"); /* s2 timed out */
    /* the stream was merged against the old epoch's seqs: the restart is
     * reported and the snapshot taken again with the held seqs forgotten
     * (a fresh broker numbers from 1; its values must win) */
    end_marker(s, 21001, "s3", "", 0, 0, 0, "00000000000000bb");
    assert_int_equal(h.events[h.nevents - 1], TB_V2SYNC_EV_BROKER_RESTART);
    assert_string_equal(last_sent(&h), "SNAPSHOT|s4||8");
    end_marker(s, 21002, "s4", "", 0, 0, 0, "00000000000000bb");
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.deaths, 1);
    assert_int_equal(st.restarts, 1);
    done(&h, &s);
}

static void
test_epoch_change_resyncs(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "", 3);
    heartbeat(s, 10, "", 4, 3, "00000000000000cc");
    assert_int_equal(h.events[h.nevents - 1], TB_V2SYNC_EV_BROKER_RESTART);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SNAPSHOT);
    done(&h, &s);
}

/* A broker restarted without persistence numbers from 1 again: its
 * heartbeats are "older" than our snapshot and its values carry lower seqs
 * than what we hold.  The restart must still be seen, and the new series'
 * values must replace the old ones (and the vanished Things go). */
static void
test_restart_with_lower_seqs(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "", 10);
    update(s, 3, "a", 11, "[10,0]", "\"old\"");
    update(s, 4, "gone", 12, "[11,0]", "1");
    assert_string_equal(json_string_value(json_object_get(h.mirror, "a")), "old");
    heartbeat(s, 5, "", 2, 2, "00000000000000dd");
    assert_int_equal(h.events[h.nevents - 1], TB_V2SYNC_EV_BROKER_RESTART);
    assert_string_equal(last_sent(&h), "SNAPSHOT|s2||8");
    assert_int_equal(reply(s, 6, "BATCH", "s2",
        "{\"type\":\"thing_snapshot\",\"ts\":1.0,\"data\":{\"a\":{\"data\":\"new\","
        "\"ts\":2.0,\"ns\":\"a\",\"documentation_url\":null,\"seq\":2}}}"), 0);
    end_marker(s, 7, "s2", "", 2, 2, 2, "00000000000000dd");
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    assert_string_equal(json_string_value(json_object_get(h.mirror, "a")), "new");
    assert_null(json_object_get(h.mirror, "gone"));
    /* and the new series is followed without a false loss */
    update(s, 8, "a", 3, "[2,2]", "\"newer\"");
    heartbeat(s, 9, "", 3, 3, "00000000000000dd");
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 0);
    assert_int_equal(st.restarts, 1);
    assert_string_equal(json_string_value(json_object_get(h.mirror, "a")), "newer");
    done(&h, &s);
}

static void
test_fallback_to_v1(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = make(&h, "");
    tb_v2sync_start(s, 100);
    assert_int_equal(tb_v2sync_tick(s, 100), 500);    /* the welcome wait */
    tb_v2sync_tick(s, 600);                           /* asks anyway */
    assert_string_equal(last_sent(&h), "SNAPSHOT|s1||8");
    tb_v2sync_tick(s, 2099);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SNAPSHOT);
    tb_v2sync_tick(s, 2100);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_V1);
    assert_int_equal(h.events[0], TB_V2SYNC_EV_FALLBACK_V1);
    assert_string_equal(last_sent(&h), "CANCEL|s1");
    assert_string_equal(tb_v2sync_state_name(TB_V2SYNC_V1), "v1");
    assert_string_equal(tb_v2sync_event_name(TB_V2SYNC_EV_FALLBACK_V1), "fallback_v1");
    done(&h, &s);
}

static void
test_purge_and_recreate(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "a", 1);
    update(s, 10, "a.b", 2, "[1,1,0]", "1");
    assert_int_equal(json_object_size(h.mirror), 1);
    pub(s, 11, "{\"type\":\"thing_purge\",\"ns\":\"a.b\",\"seq\":3,\"prev\":[2,2,2]}");
    assert_int_equal(json_object_size(h.mirror), 0);
    assert_int_equal(h.removed, 1);
    /* Thing a was removed with it on the broker: its heartbeat says 0 */
    heartbeat(s, 12, "a", 3, 0, EP);
    /* and a re-created a starts a fresh chain */
    update(s, 13, "a.c", 4, "[3,0,0]", "2");
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.losses, 0);
    expect_data(&h, "a.c", "2");
    done(&h, &s);
}

static void
test_refusal_retries_later(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = make(&h, "");
    tb_v2sync_start(s, 0);
    heartbeat(s, 1, "", 0, 0, EP);
    tb_v2_frame_t f[4] = { { "ERROR", 5 }, { "s1", 2 }, { "busy", 4 }, { "x", 1 } };
    assert_int_equal(tb_v2sync_on_reply(s, 2, f, 4), 0);
    assert_int_equal(h.events[0], TB_V2SYNC_EV_REFUSED);
    int n = h.nsent;
    heartbeat(s, 3000, "", 0, 0, EP); /* alive, just busy */
    heartbeat(s, 5000, "", 0, 0, EP);
    tb_v2sync_tick(s, 5001);
    assert_int_equal(h.nsent, n);
    tb_v2sync_tick(s, 5002);
    assert_string_equal(last_sent(&h), "SNAPSHOT|s2||8");
    done(&h, &s);
}

static void
test_malformed_input_is_counted(void **state)
{
    (void)state;
    host_t h;
    tb_v2sync_t *s = synced_on(&h, "", 1);
    const char *bad[] = {
        "", "not json", "[]", "{\"type\":\"thing_update\"}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":1}",           /* no prev */
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":1,\"prev\":[1]}", /* short */
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"prev\":[1,0]}",       /* no data */
        "{\"type\":\"thing_update\",\"ns\":\"A\",\"seq\":2,\"data\":1,\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":-2,\"data\":1,\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":1,\"prev\":[1,\"0\"]}",
        "{\"type\":\"heartbeat\",\"ns\":\"\",\"seq\":2}",
        "{\"type\":\"what\",\"ns\":\"\",\"seq\":2}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":\xff,\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":18446744073709551616,\"data\":1,\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":02,\"data\":1,\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":\"open,\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":\"a\x01b\",\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":[1,],\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":1,\"ts\":\"x\",\"prev\":[1,0]}",
        "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":1,\"prev\":[1,0]} trailing",
        "{\"type\":\"thing_update\",\"ns\":\"a\\u0041\",\"seq\":2,\"data\":1,\"prev\":[1,0]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tb_v2sync_on_pub(s, 5, "", 0, bad[i], strlen(bad[i])), -18);
    /* nesting far deeper than the codec's limit, and a huge prev */
    size_t big = 200000;
    char *deep = malloc(big + 200);
    int off = sprintf(deep, "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"prev\":[1,0],\"data\":");
    for (size_t i = 0; i < 5000; i++)
        deep[off++] = '[';
    for (size_t i = 0; i < 5000; i++)
        deep[off++] = ']';
    deep[off++] = '}';
    assert_int_equal(tb_v2sync_on_pub(s, 5, "", 0, deep, (size_t)off), -18);
    off = sprintf(deep, "{\"type\":\"thing_update\",\"ns\":\"a\",\"seq\":2,\"data\":1,\"prev\":[");
    for (size_t i = 0; i < 20000; i++)
        off += sprintf(deep + off, "%s7", i ? "," : "");
    off += sprintf(deep + off, "]}");
    assert_int_equal(tb_v2sync_on_pub(s, 5, "", 0, deep, (size_t)off), -18);
    free(deep);
    tb_v2_frame_t one[1] = { { "END", 3 } };
    assert_int_equal(tb_v2sync_on_reply(s, 5, one, 1), -18);
    tb_v2sync_stats_t st;
    tb_v2sync_stats(s, &st);
    assert_int_equal(st.bad_messages, sizeof bad / sizeof *bad + 3);
    assert_int_equal(st.losses, 0);
    assert_int_equal(tb_v2sync_state(s), TB_V2SYNC_SYNCED);
    /* a bad batch during a snapshot is counted too */
    heartbeat(s, 6, "", 2, 5, EP); /* gap: resync */
    assert_int_equal(reply(s, 7, "BATCH", "s2", "{\"type\":\"thing_snapshot\",\"data\":[]}"), -18);
    assert_int_equal(reply(s, 7, "BATCH", "s2",
        "{\"type\":\"thing_snapshot\",\"ts\":1.0,\"data\":{\"B\":{\"data\":1,\"seq\":1},"
        "\"ok\":{\"data\":1,\"seq\":1}}}"), -18);
    expect_data(&h, "ok", "1");
    assert_int_equal(reply(s, 7, "END", "s2", "{\"seq\":1}"), -18);
    assert_null(tb_v2sync_new("Bad", NULL, &actions, &h));
    assert_null(tb_v2sync_new("", NULL, NULL, &h));
    done(&h, &s);
}

/* The seq table under churn: backward-shift deletion keeps every
 * remaining key findable. */
static void
test_map_churn(void **state)
{
    (void)state;
    v2_map_t m = { 0 };
    char ns[32];
    bool created;
    for (int i = 0; i < 5000; i++) {
        snprintf(ns, sizeof ns, "k%d", i);
        v2_map_entry_t *e = v2_map_put(&m, ns, strlen(ns), &created);
        assert_true(created);
        e->seq = (uint64_t)i;
    }
    for (int i = 0; i < 5000; i += 3) {
        snprintf(ns, sizeof ns, "k%d", i);
        v2_map_remove(&m, v2_map_find(&m, ns, strlen(ns)));
    }
    assert_int_equal(m.count, 5000 - 1667);
    for (int i = 0; i < 5000; i++) {
        snprintf(ns, sizeof ns, "k%d", i);
        v2_map_entry_t *e = v2_map_find(&m, ns, strlen(ns));
        if (i % 3 == 0) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_int_equal(e->seq, i);
        }
    }
    assert_null(v2_map_find(&m, "k1", 1)); /* a prefix of a key is not the key */
    v2_map_entry_t *e = v2_map_put(&m, "k1", 2, &created);
    assert_false(created);
    assert_int_equal(e->seq, 1);
    v2_map_free(&m);
    assert_null(v2_map_find(&m, "k1", 2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_merges_snapshot_and_buffer),
        cmocka_unit_test(test_filtered_jumps_are_not_loss),
        cmocka_unit_test(test_gap_by_chain_resyncs_and_reports),
        cmocka_unit_test(test_gap_by_heartbeat),
        cmocka_unit_test(test_subscription_race_is_a_silent_retry),
        cmocka_unit_test(test_heartbeat_timeout_declares_dead),
        cmocka_unit_test(test_epoch_change_resyncs),
        cmocka_unit_test(test_restart_with_lower_seqs),
        cmocka_unit_test(test_fallback_to_v1),
        cmocka_unit_test(test_purge_and_recreate),
        cmocka_unit_test(test_refusal_retries_later),
        cmocka_unit_test(test_malformed_input_is_counted),
        cmocka_unit_test(test_map_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
