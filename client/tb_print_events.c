/*
 * tb_print_events.c - tb-print-events: print what happens on the bus.
 *
 * Why this exists: it is the first thing anyone runs to see whether their
 * adaptor's data reaches the broker, and what a script pipes into jq.  It
 * keeps the original's command line (-u, -z, -n) and line format
 *   ThingEvent<Thing<ns>, ts=1423351104.945, flags=, data={...}>
 * and adds --json, --snapshots, --dump, --count and --timeout.  It is a
 * plain user of libthingsbus-client's pull API: a tree subscription on the
 * chosen namespace, the client's file descriptor in a poll loop.  Against a
 * v2 broker the client mirrors only that namespace (the broker filters),
 * --dump is answered by the snapshot service at once, purges print with
 * flags=F_PURGE, and lost updates are reported on stderr (and in --json).
 *
 * Exit status: 0 normal end (signal, --count, --timeout, --dump done),
 * 1 connection or discovery failure, 2 usage error.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "thingsbus_client.h"
#include "tb_buf.h"
#include "tb_log.h"
#include "tb_ns.h"
#include "tb_opts.h"
#include "tb_proto.h"
#include "tb_time.h"

#define PROG "tb-print-events"
#define DEFAULT_URL "tcp://127.0.0.1:7954"
#define DUMP_DEFAULT_TIMEOUT 20.0     /* the original snapshots every 15 s */
#define NOT_CONNECTED_WARN_MS 5000
#define EXIT_NET 1
#define EXIT_USAGE 2

typedef struct {
    char     *url;
    char     *zone;
    char     *dns_server;
    char     *ns;
    bool      json;
    bool      snapshots;
    bool      dump;
    long long count;
    double    timeout;
    int       verbose;
} config_t;

static const tb_opt_t s_opts[] = {
    { "url", 'u', TB_OPT_STRING, offsetof(config_t, url), NULL, 0, 0, "URL",
      "broker PUB URL, tcp://HOST:PORT or HOST[:PORT] (default " DEFAULT_URL " when no --zone)", true },
    { "zone", 'z', TB_OPT_STRING, offsetof(config_t, zone), NULL, 0, 0, "ZONE",
      "find the broker through the DNS SRV record _thingsbus._tcp.ZONE", true },
    { "dns-server", 0, TB_OPT_STRING, offsetof(config_t, dns_server), NULL, 0, 0, "HOST:PORT[,...]",
      "DNS servers for --zone (default: $THINGSBUS_DNS_SERVERS, else the system's)", true },
    { "namespace", 'n', TB_OPT_STRING, offsetof(config_t, ns), "", 0, 0, "NS",
      "print events of Thing NS and everything below it (default: the root, i.e. all)", true },
    { "json", 0, TB_OPT_FLAG, offsetof(config_t, json), NULL, 0, 0, NULL,
      "print one JSON object per line (ns, ts, age, flags, data, documentation_url)", true },
    { "snapshots", 0, TB_OPT_FLAG, offsetof(config_t, snapshots), NULL, 0, 0, NULL,
      "also print events that come from the broker's periodic snapshots", true },
    { "dump", 0, TB_OPT_FLAG, offsetof(config_t, dump), NULL, 0, 0, NULL,
      "print the current state of the subtree once (from a snapshot) and exit", true },
    { "count", 0, TB_OPT_INT, offsetof(config_t, count), "0", 0, 1e15, "N",
      "exit after printing N events (0: no limit)", true },
    { "timeout", 0, TB_OPT_DOUBLE, offsetof(config_t, timeout), "0", 0, 1e9, "S",
      "exit after S seconds (0: no limit; with --dump the default is 20)", true },
    { "verbose", 'v', TB_OPT_COUNT, offsetof(config_t, verbose), NULL, 0, 0, NULL,
      "report connection changes and skipped malformed messages on stderr", true },
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

static volatile sig_atomic_t s_stop;
static pthread_mutex_t s_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_on_reject(tb_client_reject_t reason, const char *detail, void *arg)
{
    pthread_mutex_lock(&s_log_lock);
    tb_log_limited((tb_log_t *)arg, tb_time_mono_ms(), "skipped a message from the broker (%s): %s",
                   tb_client_reject_name(reason), detail);
    pthread_mutex_unlock(&s_log_lock);
}

/* Called between waits: reports the rejects the limiter held back once
 * their second is over, so a burst followed by silence is still counted. */
static void
s_flush_suppressed(tb_log_t *log)
{
    pthread_mutex_lock(&s_log_lock);
    tb_log_flush_suppressed(log, tb_time_mono_ms());
    pthread_mutex_unlock(&s_log_lock);
}

static int
s_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
    return EXIT_USAGE;
}

/* The original's format; only F_SNAPSHOT is ever printed as a flag, and
 * F_PURGE for a purge (protocol v2; the original has none). */
static void
s_format_text(tb_buf_t *b, const char *ns, double ts, unsigned flags, const char *data)
{
    if (*ns)
        tb_buf_printf(b, "ThingEvent<Thing<%s>, ", ns);
    else
        tb_buf_append_str(b, "ThingEvent<RootThing, ");
    tb_buf_printf(b, "ts=%.3f, flags=%s, data=", ts,
                  (flags & TB_F_PURGE) ? "F_PURGE" : (flags & TB_F_SNAPSHOT) ? "F_SNAPSHOT" : "");
    tb_buf_append_str(b, data);
    tb_buf_append_str(b, ">\n");
}

static void
s_format_json(tb_buf_t *b, const char *ns, double ts, unsigned flags, const char *data,
              const char *doc, uint64_t losses)
{
    double age = round((tb_time_now() - ts) * 1000.0) / 1000.0;
    tb_buf_append_str(b, "{\"ns\":");
    tb_json_write_string(b, ns, strlen(ns));
    tb_buf_append_str(b, ",\"ts\":");
    tb_json_write_double(b, ts);
    tb_buf_append_str(b, ",\"age\":");
    tb_json_write_double(b, age);
    tb_buf_append_str(b, ",\"flags\":[");
    static const struct { unsigned bit; const char *name; } names[] = {
        { TB_F_SNAPSHOT, "snapshot" }, { TB_F_TREE, "tree" }, { TB_F_PURGE, "purge" },
        { TB_F_LOSS, "loss" },
    };
    bool first = true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (flags & names[i].bit) {
            tb_buf_printf(b, "%s\"%s\"", first ? "" : ",", names[i].name);
            first = false;
        }
    }
    tb_buf_append_str(b, "],\"data\":");
    tb_buf_append_str(b, data);
    tb_buf_append_str(b, ",\"documentation_url\":");
    if (doc)
        tb_json_write_string(b, doc, strlen(doc));
    else
        tb_buf_append_str(b, "null");
    tb_buf_printf(b, ",\"losses\":%llu}\n", (unsigned long long)losses);
}

/* Writes one line; false when stdout is gone (e.g. a closed pipe). */
static bool
s_print(const config_t *cfg, const char *ns, double ts, unsigned flags, const char *data,
        const char *doc, uint64_t losses)
{
    tb_buf_t b;
    tb_buf_init(&b, 0);
    if (cfg->json)
        s_format_json(&b, ns, ts, flags, data, doc, losses);
    else
        s_format_text(&b, ns, ts, flags, data);
    bool ok = !tb_buf_failed(&b) && fwrite(b.data, 1, b.len, stdout) == b.len
              && fflush(stdout) == 0;
    tb_buf_free(&b);
    return ok;
}

static int
s_connection_failure(tb_client_t *client, double seconds)
{
    char url[320];
    tb_client_endpoint(client, url, sizeof url);
    fprintf(stderr, PROG ": could not connect to the broker at %s within %g s "
            "(is thingsbusd running there?)\n", url, seconds);
    return EXIT_NET;
}

/* Reports connection changes (-v) and a first "still not connected". */
typedef struct {
    bool     was_connected;
    bool     ever_connected;
    bool     warned;
    uint64_t started_ms;
    uint64_t dropped;
} watch_t;

static void
s_watch(tb_client_t *client, tb_log_t *log, watch_t *w)
{
    tb_client_stats_t st;
    char url[320];
    tb_client_stats(client, &st);
    if (st.connected != w->was_connected) {
        tb_client_endpoint(client, url, sizeof url);
        if (st.connected)
            tb_log(log, TB_LOG_INFO, "connected to %s", url);
        else
            tb_log(log, TB_LOG_INFO, "lost the connection to %s; reconnecting", url);
        w->was_connected = st.connected;
    }
    w->ever_connected |= st.connected || st.messages > 0;
    if (!w->ever_connected && !w->warned
        && tb_time_mono_ms() - w->started_ms > NOT_CONNECTED_WARN_MS) {
        tb_client_endpoint(client, url, sizeof url);
        tb_log(log, TB_LOG_WARN, "not connected to %s yet; still trying "
               "(is thingsbusd running there?)", url);
        w->warned = true;
    }
}

static int
s_dump(const config_t *cfg, tb_client_t *client, tb_log_t *log)
{
    double seconds = cfg->timeout > 0 ? cfg->timeout : DUMP_DEFAULT_TIMEOUT;
    uint64_t deadline = tb_time_mono_ms() + (uint64_t)(seconds * 1000.0);
    watch_t w = { .started_ms = tb_time_mono_ms() };
    int rc = TB_ERR_TIMEOUT;
    while (!s_stop && rc != TB_OK) {
        uint64_t now = tb_time_mono_ms();
        if (now >= deadline)
            break;
        uint64_t slice = deadline - now < 200 ? deadline - now : 200;
        rc = tb_client_wait_synced(client, (int)slice);
        s_watch(client, log, &w);
        s_flush_suppressed(log);
    }
    if (s_stop && rc != TB_OK)
        return 0;
    if (rc != TB_OK) {
        if (!w.ever_connected)
            return s_connection_failure(client, seconds);
        char url[320];
        tb_client_endpoint(client, url, sizeof url);
        fprintf(stderr, PROG ": connected to %s but no snapshot arrived within %g s "
                "(an original broker sends one every 15 s; try a longer --timeout)\n",
                url, seconds);
        return EXIT_NET;
    }
    tb_thing_list_t *list = NULL;
    rc = tb_client_subtree(client, cfg->ns, &list);
    if (rc != TB_OK) {
        fprintf(stderr, PROG ": %s\n", tb_client_strerror(rc));
        return EXIT_NET;
    }
    long long printed = 0;
    for (size_t i = 0; i < list->count; i++) {
        const tb_thing_t *t = &list->items[i];
        if (!t->data)
            continue;
        if (cfg->count > 0 && printed >= cfg->count)
            break;
        unsigned flags = TB_F_SNAPSHOT | (strcmp(t->ns, cfg->ns) != 0 ? TB_F_TREE : 0u);
        if (!s_print(cfg, t->ns, t->ts, flags, t->data, t->documentation_url, 0))
            break;
        printed++;
    }
    tb_thing_list_destroy(&list);
    return 0;
}

static int
s_follow(const config_t *cfg, tb_client_t *client, tb_log_t *log)
{
    unsigned flags = TB_F_TREE | TB_F_PURGE | (cfg->snapshots ? TB_F_SNAPSHOT : 0u);
    int sub = tb_client_subscribe(client, cfg->ns, flags, NULL, NULL);
    if (sub < 0) {
        fprintf(stderr, PROG ": cannot subscribe to \"%s\": %s\n", cfg->ns, tb_client_strerror(sub));
        return EXIT_NET;
    }
    uint64_t start = tb_time_mono_ms();
    uint64_t deadline = cfg->timeout > 0 ? start + (uint64_t)(cfg->timeout * 1000.0) : 0;
    long long printed = 0;
    watch_t w = { .started_ms = start };
    struct pollfd pfd = { .fd = tb_client_fd(client), .events = POLLIN };
    while (!s_stop) {
        uint64_t now = tb_time_mono_ms();
        if (deadline && now >= deadline)
            break;
        int wait_ms = 250;
        if (deadline && deadline - now < (uint64_t)wait_ms)
            wait_ms = (int)(deadline - now);
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
            return EXIT_NET;
        }
        tb_event_t *ev = NULL;
        while (!s_stop && tb_client_recv(client, &ev, 0) == TB_OK) {
            if (ev->dropped_before)
                tb_log(log, TB_LOG_WARN, "%llu events dropped: output is slower than the bus",
                       (unsigned long long)ev->dropped_before);
            if (ev->flags & TB_F_LOSS)
                tb_log(log, TB_LOG_WARN, "updates were lost between the broker and this client "
                       "(%llu loss%s so far); the client resynchronised from the broker",
                       (unsigned long long)ev->losses, ev->losses == 1 ? "" : "es");
            bool ok = s_print(cfg, ev->ns, ev->ts, ev->flags, ev->data, ev->documentation_url,
                              ev->losses);
            tb_event_destroy(&ev);
            if (!ok)
                return 0;            /* the reader went away: a normal end */
            if (cfg->count > 0 && ++printed >= cfg->count)
                return 0;
        }
        s_watch(client, log, &w);
        s_flush_suppressed(log);
    }
    if (deadline && !s_stop && !w.ever_connected)
        return s_connection_failure(client, cfg->timeout);
    return 0;
}

int
main(int argc, char **argv)
{
    config_t cfg;
    char err[512];
    bool help = false, version = false;
    int rest = argc;
    memset(&cfg, 0, sizeof cfg);
    if (tb_opts_defaults(s_opts, N_OPTS, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    if (tb_opts_parse_argv(s_opts, N_OPTS, &cfg, argc, argv, &help, &version, &rest,
                           err, sizeof err) != 0) {
        tb_opts_free(s_opts, N_OPTS, &cfg);
        return s_usage_error("%s", err);
    }
    int status = 0;
    if (help) {
        tb_opts_print_help(s_opts, N_OPTS, stdout,
            "Usage: " PROG " [-u URL | -z ZONE] [-n NS] [--json] [--snapshots] [--dump] [OPTIONS]\n"
            "Print the events of a Things Bus broker, one line each.",
            "Exit status: 0 normal end, 1 connection or discovery error, 2 usage error.\n"
            "See tb-print-events(1).");
        goto out;
    }
    if (version) {
        printf(PROG " %s\n", TB_VERSION);
        goto out;
    }
    if (rest < argc) {
        status = s_usage_error("unexpected argument '%s'", argv[rest]);
        goto out;
    }
    if (cfg.url && cfg.zone) {
        status = s_usage_error("%s", "give either --url or --zone, not both");
        goto out;
    }
    if (cfg.dns_server && !cfg.zone) {
        status = s_usage_error("%s", "--dns-server only makes sense with --zone");
        goto out;
    }
    if (!tb_ns_valid(cfg.ns, strlen(cfg.ns))) {
        status = s_usage_error("--namespace: '%s' is not a valid namespace (parts must match "
                               "[a-z][a-z0-9_-]{0,63}, joined by '.'; empty for the root)", cfg.ns);
        goto out;
    }

    tb_log_t *log = tb_log_new(PROG, cfg.verbose > 0 ? 1 : -1, false);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    tb_client_options_t opts;
    tb_client_options_init(&opts);
    opts.url = cfg.zone ? NULL : (cfg.url ? cfg.url : DEFAULT_URL);
    opts.zone = cfg.zone;
    opts.dns_servers = cfg.dns_server;
    opts.subtree = cfg.ns;             /* v2: the broker sends only this subtree */
    if (cfg.timeout > 0 && cfg.timeout < 5.0)      /* the lookup fits in --timeout */
        opts.discovery_timeout_ms = (int)(cfg.timeout * 1000.0) > 0 ? (int)(cfg.timeout * 1000.0) : 1;
    if (cfg.verbose > 0 && log) {
        opts.on_reject = s_on_reject;
        opts.on_reject_arg = log;
    }
    int rc;
    tb_client_t *client = tb_client_new(&opts, &rc, err, sizeof err);
    if (!client) {
        if (rc == TB_ERR_BAD_URL && !cfg.zone)
            status = s_usage_error("--url: %s", err);
        else {
            fprintf(stderr, PROG ": %s\n", err);
            status = rc == TB_ERR_BAD_URL ? EXIT_USAGE : EXIT_NET;
        }
        tb_log_destroy(&log);
        goto out;
    }
    status = cfg.dump ? s_dump(&cfg, client, log) : s_follow(&cfg, client, log);
    tb_client_destroy(&client);
    tb_log_flush_suppressed(log, UINT64_MAX);      /* no more rejects can come */
    tb_log_destroy(&log);
out:
    tb_opts_free(s_opts, N_OPTS, &cfg);
    return status;
}
