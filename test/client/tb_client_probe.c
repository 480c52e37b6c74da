/*
 * tb_client_probe.c - a scriptable libthingsbus-client user for the Python
 * integration tests (test/client/test_*.py).
 *
 * Why this exists: the flag-semantics matrix, the malformed-message suite
 * and the end-to-end tests drive the library from Python, where the fake
 * broker (python3-zmq) and the real one live.  This program subscribes as
 * told on the command line, prints every event it receives as one line, and
 * answers look-up commands read from stdin, so each test can check exactly
 * what a program linking the library would see.
 *
 * Usage: tb-client-probe URL [--callback] [--queue N] [--subtree NS] [--v1]
 *                        [NS/FLAGS ...]
 *   FLAGS: none | tree | snapshot | tree+snapshot | tree+purge |
 *          tree+snapshot+purge   ("/tree" = the root)
 *   Event flags print the same way, plus "+purge" and "+loss".
 * Output:  event sub=ID ns=NS flags=F ts=T data=JSON doc=URL|-
 * Commands (stdin, one per line), each answered by one line:
 *   get NS | json NS | thing NS | children NS | subtree NS | stats |
 *   synced MS | unsub ID | sub NS/FLAGS | quit
 */
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "thingsbus_client.h"

static pthread_mutex_t s_out = PTHREAD_MUTEX_INITIALIZER;

static const char *
s_flags(unsigned f)
{
    static const char *const names[] = { "none", "snapshot", "tree", "tree+snapshot" };
    static _Thread_local char buf[64];
    snprintf(buf, sizeof buf, "%s%s%s", names[f & 3u], (f & TB_F_PURGE) ? "+purge" : "",
             (f & TB_F_LOSS) ? "+loss" : "");
    return buf;
}

static int
s_parse_flags(const char *s, unsigned *f)
{
    if (strcmp(s, "none") == 0) *f = TB_F_NONE;
    else if (strcmp(s, "tree") == 0) *f = TB_F_TREE;
    else if (strcmp(s, "snapshot") == 0) *f = TB_F_SNAPSHOT;
    else if (strcmp(s, "tree+snapshot") == 0) *f = TB_F_TREE | TB_F_SNAPSHOT;
    else if (strcmp(s, "tree+snapshot+purge") == 0) *f = TB_F_TREE | TB_F_SNAPSHOT | TB_F_PURGE;
    else if (strcmp(s, "tree+purge") == 0) *f = TB_F_TREE | TB_F_PURGE;
    else return -1;
    return 0;
}

static void
s_print_event(const tb_event_t *e)
{
    pthread_mutex_lock(&s_out);
    printf("event sub=%d ns=%s flags=%s ts=%.3f data=%s doc=%s", e->subscription, e->ns,
           s_flags(e->flags), e->ts, e->data, e->documentation_url ? e->documentation_url : "-");
    if (e->dropped_before)
        printf(" dropped=%llu", (unsigned long long)e->dropped_before);
    printf("\n");
    fflush(stdout);
    pthread_mutex_unlock(&s_out);
}

static void
s_callback(const tb_event_t *e, void *arg)
{
    (void)arg;
    s_print_event(e);
}

static void
s_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
s_reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s_out);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    pthread_mutex_unlock(&s_out);
    va_end(ap);
}

static int
s_subscribe(tb_client_t *c, const char *spec, bool callback)
{
    char ns[1100];
    const char *slash = strrchr(spec, '/');
    unsigned flags;
    if (!slash || (size_t)(slash - spec) >= sizeof ns || s_parse_flags(slash + 1, &flags) != 0)
        return -100;
    memcpy(ns, spec, (size_t)(slash - spec));
    ns[slash - spec] = '\0';
    return tb_client_subscribe(c, ns, flags, callback ? s_callback : NULL, NULL);
}

static void
s_command(tb_client_t *c, char *line, bool callback, bool *quit)
{
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    else
        arg = line + strlen(line);
    if (strcmp(line, "get") == 0) {
        char *data = NULL;
        double age = -1;
        int rc = tb_client_get_data(c, arg, &data, &age);
        if (rc == 0)
            s_reply("get rc=0 data=%s age=%.1f", data, age);
        else
            s_reply("get rc=%d data=-", rc);
        free(data);
    } else if (strcmp(line, "json") == 0) {
        json_t *j = NULL;
        int rc = tb_client_get_json(c, arg, &j, NULL);
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
        s_reply("json rc=%d data=%s", rc, text ? text : "-");
        free(text);
        json_decref(j);
    } else if (strcmp(line, "thing") == 0) {
        tb_thing_t *t = NULL;
        int rc = tb_client_get_thing(c, arg, &t);
        if (rc == 0)
            s_reply("thing rc=0 ns=%s data=%s ts=%.3f doc=%s", t->ns, t->data ? t->data : "-",
                    t->ts, t->documentation_url ? t->documentation_url : "-");
        else
            s_reply("thing rc=%d", rc);
        tb_thing_destroy(&t);
    } else if (strcmp(line, "children") == 0) {
        char **kids = NULL;
        size_t n = 0;
        int rc = tb_client_children(c, arg, &kids, &n);
        pthread_mutex_lock(&s_out);
        printf("children rc=%d n=%zu", rc, n);
        for (size_t i = 0; kids && kids[i]; i++)
            printf(" %s", kids[i]);
        printf("\n");
        fflush(stdout);
        pthread_mutex_unlock(&s_out);
        tb_client_strv_free(&kids);
    } else if (strcmp(line, "subtree") == 0) {
        tb_thing_list_t *l = NULL;
        int rc = tb_client_subtree(c, arg, &l);
        pthread_mutex_lock(&s_out);
        printf("subtree rc=%d n=%zu", rc, l ? l->count : 0);
        for (size_t i = 0; l && i < l->count; i++)
            printf(" %s=%s", l->items[i].ns[0] ? l->items[i].ns : "(root)",
                   l->items[i].data ? l->items[i].data : "-");
        printf("\n");
        fflush(stdout);
        pthread_mutex_unlock(&s_out);
        tb_thing_list_destroy(&l);
    } else if (strcmp(line, "stats") == 0) {
        tb_client_stats_t st;
        tb_client_stats(c, &st);
        pthread_mutex_lock(&s_out);
        printf("stats {\"messages\":%llu,\"updates\":%llu,\"snapshots\":%llu,"
               "\"snapshot_entries\":%llu,\"malformed\":%llu,\"ignored\":%llu,"
               "\"events_delivered\":%llu,\"events_dropped\":%llu,\"events_queued\":%llu,"
               "\"things\":%llu,\"connected\":%s,\"synced\":%s,\"rejected\":{",
               (unsigned long long)st.messages, (unsigned long long)st.updates,
               (unsigned long long)st.snapshots, (unsigned long long)st.snapshot_entries,
               (unsigned long long)st.malformed, (unsigned long long)st.ignored,
               (unsigned long long)st.events_delivered, (unsigned long long)st.events_dropped,
               (unsigned long long)st.events_queued, (unsigned long long)st.things,
               st.connected ? "true" : "false", st.synced ? "true" : "false");
        for (int i = 0; i < TB_CLIENT_REJECT_COUNT; i++)
            printf("%s\"%s\":%llu", i ? "," : "", tb_client_reject_name((tb_client_reject_t)i),
                   (unsigned long long)st.rejected[i]);
        printf("},\"protocol\":%d,\"losses\":%llu,\"resyncs\":%llu,\"purges\":%llu,"
               "\"broker_deaths\":%llu,\"broker_restarts\":%llu,\"queries\":%llu}\n",
               st.protocol, (unsigned long long)st.losses, (unsigned long long)st.resyncs,
               (unsigned long long)st.purges, (unsigned long long)st.broker_deaths,
               (unsigned long long)st.broker_restarts, (unsigned long long)st.queries);
        fflush(stdout);
        pthread_mutex_unlock(&s_out);
    } else if (strcmp(line, "synced") == 0) {
        s_reply("synced rc=%d", tb_client_wait_synced(c, atoi(arg)));
    } else if (strcmp(line, "unsub") == 0) {
        s_reply("unsub rc=%d", tb_client_unsubscribe(c, atoi(arg)));
    } else if (strcmp(line, "sub") == 0) {
        s_reply("sub rc=%d", s_subscribe(c, arg, callback));
    } else if (strcmp(line, "quit") == 0) {
        *quit = true;
    } else {
        s_reply("error unknown command '%s'", line);
    }
}

int
main(int argc, char **argv)
{
    bool callback = false, v1 = false;
    size_t queue = 0;
    const char *subtree = NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: tb-client-probe URL [--callback] [--queue N] [NS/FLAGS ...]\n");
        return 2;
    }
    int first = 2;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
        if (strcmp(argv[first], "--callback") == 0)
            callback = true;
        else if (strcmp(argv[first], "--queue") == 0 && first + 1 < argc)
            queue = (size_t)atol(argv[++first]);
        else if (strcmp(argv[first], "--subtree") == 0 && first + 1 < argc)
            subtree = argv[++first];
        else if (strcmp(argv[first], "--v1") == 0)
            v1 = true;
    }
    tb_client_options_t o;
    tb_client_options_init(&o);
    if (strncmp(argv[1], "zone:", 5) == 0) {
        o.zone = argv[1] + 5;
        o.dns_servers = getenv("PROBE_DNS");
    } else {
        o.url = argv[1];
    }
    o.queue_limit = queue;
    o.subtree = subtree;
    o.protocol = v1 ? TB_CLIENT_PROTOCOL_V1 : TB_CLIENT_PROTOCOL_AUTO;
    int err;
    char text[256];
    tb_client_t *c = tb_client_new(&o, &err, text, sizeof text);
    if (!c) {
        fprintf(stderr, "tb_client_new: %d %s\n", err, text);
        return 1;
    }
    for (int i = first; i < argc; i++) {
        int id = s_subscribe(c, argv[i], callback);
        s_reply("subscribed %s id=%d", argv[i], id);
    }
    s_reply("ready");
    char line[2048];
    size_t used = 0;
    bool quit = false;
    while (!quit) {
        struct pollfd p[2] = { { 0, POLLIN, 0 }, { tb_client_fd(c), POLLIN, 0 } };
        int n = poll(p, callback ? 1 : 2, 5000);
        if (n < 0 && errno != EINTR)
            break;
        if (!callback && (p[1].revents & POLLIN)) {
            tb_event_t *e;
            while (tb_client_recv(c, &e, 0) == TB_OK) {
                s_print_event(e);
                tb_event_destroy(&e);
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            ssize_t r = read(0, line + used, sizeof line - 1 - used);
            if (r <= 0)
                break;
            used += (size_t)r;
            char *nl;
            while (!quit && (nl = memchr(line, '\n', used))) {
                *nl = '\0';
                s_command(c, line, callback, &quit);
                size_t rest = used - (size_t)(nl + 1 - line);
                memmove(line, nl + 1, rest);
                used = rest;
            }
            if (used == sizeof line - 1)
                used = 0;
        }
    }
    tb_client_destroy(&c);
    return 0;
}
