/*
 * tb_generic_zmq_adaptor.c - tb-generic-zmq-adaptor: bridge any
 * JSON-over-ZeroMQ PUB source onto the Things Bus.
 *
 * Why this exists: many things in a building already publish JSON objects
 * on a ZeroMQ PUB socket (lidless cameras, machine monitors).  This program
 * makes them Things without touching them: it subscribes to each source,
 * keeps the messages that pass --filter, projects the chosen fields into
 * data, names the Thing from --nskey and stamps it from --tskey, and hands
 * the update to libthingsbus-adaptor (which never blocks and queues while
 * the broker is away).  Unlike the original, a message that does not fit
 * is skipped with a named reason and counted, never a crash.
 *
 * One thread owns the loop.  Signal handlers only set flags and write a
 * byte to a pipe that the loop polls, so SIGUSR1 (print the counters) and
 * SIGINT/SIGTERM (clean exit) are handled between messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "generic/bridge_counts.h"
#include "generic/bridge_rules.h"
#include "generic/bridge_sources.h"
#include "tb_log.h"
#include "tb_ns.h"
#include "tb_opts.h"
#include "tb_time.h"
#include "thingsbus_adaptor.h"

#define PROGRAM "tb-generic-zmq-adaptor"
#define DEFAULT_BROKER_INPUT "tcp://127.0.0.1:7955"
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
/* Messages read from one source before the others get their turn. */
#define BATCH_PER_SOURCE 256

typedef struct {
    char     *url;
    char     *zone;
    char     *dns_server;
    char    **sources;        /* lists: every -s/--filter/--projections given; */
    char    **filter;         /* each value may itself be comma-separated */
    char    **projections;
    char     *nskey;
    char     *tskey;
    char     *ns;
    char     *documentation;
    bool      pub;
    long long queue_size;
    bool      suppress_unchanged;
    double    heartbeat;
    double    linger;
    size_t    max_message_size;
    int       verbose;
    bool      syslog;
} config_t;

#define ROW(name, short_name, type, field, def, min, max, metavar, help) \
    { name, short_name, type, offsetof(config_t, field), def, min, max, metavar, help, false }

static const tb_opt_t options[] = {
    ROW("url", 'u', TB_OPT_STRING, url, NULL, 0, 0, "URL",
        "the broker's adaptor input (default " DEFAULT_BROKER_INPUT " when no --zone)"),
    ROW("zone", 'z', TB_OPT_STRING, zone, NULL, 0, 0, "ZONE",
        "find the broker through the _thingsbus._tcp.ZONE SRV record"),
    ROW("dns-server", 0, TB_OPT_STRING, dns_server, NULL, 0, 0, "HOST:PORT[,HOST:PORT]",
        "DNS servers for --zone (default $THINGSBUS_DNS_SERVERS, else the system's)"),
    ROW("sources", 's', TB_OPT_LIST, sources, NULL, 0, 0, "URL[,URL...]",
        "ZeroMQ PUB sources of JSON objects (required; may be repeated)"),
    ROW("filter", 0, TB_OPT_LIST, filter, NULL, 0, 0, "FIELD:VALUE",
        "keep only messages whose FIELD is the string VALUE (may be repeated: all must match)"),
    ROW("projections", 0, TB_OPT_LIST, projections, NULL, 0, 0, "FIELD[,FIELD...]",
        "copy only these fields into data (may be repeated; default: the whole message)"),
    ROW("nskey", 0, TB_OPT_STRING, nskey, NULL, 0, 0, "FIELD",
        "the field whose value names the Thing under --ns"),
    ROW("tskey", 0, TB_OPT_STRING, tskey, NULL, 0, 0, "FIELD",
        "the field holding the timestamp, seconds since 1970 (default: now)"),
    ROW("ns", 0, TB_OPT_STRING, ns, NULL, 0, 0, "NS",
        "the adaptor's namespace (required)"),
    ROW("documentation", 'd', TB_OPT_STRING, documentation, NULL, 0, 0, "URL",
        "URL documenting the data, sent with every update"),
    ROW("pub", 0, TB_OPT_FLAG, pub, "false", 0, 0, NULL,
        "send through a PUB socket, to feed an original (Python) broker"),
    ROW("queue-size", 0, TB_OPT_INT, queue_size, "10000", 1, 10000000, "N",
        "updates queued while the broker is unreachable; beyond, new ones are dropped"),
    ROW("suppress-unchanged", 0, TB_OPT_FLAG, suppress_unchanged, "false", 0, 0, NULL,
        "do not resend data equal to the last sent for the same Thing"),
    ROW("heartbeat", 0, TB_OPT_DOUBLE, heartbeat, "60", 0.001, 86400, "SECONDS",
        "with --suppress-unchanged, still send unchanged data this often"),
    ROW("linger", 0, TB_OPT_DOUBLE, linger, "2", 0, 3600, "SECONDS",
        "at exit, time allowed to deliver queued updates"),
    ROW("max-message-size", 0, TB_OPT_SIZE, max_message_size, "1M", 1, 1073741824, "BYTES",
        "skip source messages larger than this (too_large)"),
    ROW("verbose", 'v', TB_OPT_COUNT, verbose, NULL, 0, 0, NULL,
        "log every skipped message with its reason (rate-limited)"),
    ROW("syslog", 0, TB_OPT_FLAG, syslog, "false", 0, 0, NULL,
        "log to syslog instead of stderr"),
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static const char usage[] =
    "Usage: " PROGRAM " --ns NS -s URL[,URL...] [options]\n"
    "Bridge JSON objects published on ZeroMQ PUB sockets onto the Things Bus.";
static const char footer[] =
    "Fields may be dotted paths into nested objects (meta.camera).\n"
    "Counters are printed on SIGUSR1 and at exit.  See " PROGRAM "(1).";

/* ------------------------------------------------------------- signals */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t counters_requested;
static int wake_fd = -1;

static void
on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGUSR1)
        counters_requested = 1;
    else
        stop_requested = 1;
    if (wake_fd >= 0) {
        char byte = 0;
        ssize_t ignored = write(wake_fd, &byte, 1);
        (void)ignored;
    }
    errno = saved;
}

static int
install_signals(int pipe_fds[2])
{
    if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    wake_fd = pipe_fds[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0
        || sigaction(SIGUSR1, &sa, NULL) != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------- bridge */
typedef struct {
    tb_log_t            *log;
    tb_bridge_rules_t   *rules;
    tb_bridge_sources_t *sources;
    tb_adaptor_t        *adaptor;
    tb_bridge_counts_t   counts;
    bool                 dropping;    /* the last send found the queue full */
    uint64_t             dropped_in_episode;
} bridge_t;

/* Hands every -s, --filter and --projections value, in the order given,
 * to the sources and rules; stops at the first that is refused. */
static int
apply_lists(const config_t *c, bridge_t *b, char *errbuf, size_t errlen)
{
    for (char **v = c->sources; v && *v; v++)
        if (tb_bridge_sources_add(b->sources, *v, errbuf, errlen) != 0)
            return -1;
    for (char **v = c->filter; v && *v; v++)
        if (tb_bridge_rules_add_filter(b->rules, *v, errbuf, errlen) != 0)
            return -1;
    for (char **v = c->projections; v && *v; v++)
        if (tb_bridge_rules_add_projections(b->rules, *v, errbuf, errlen) != 0)
            return -1;
    return 0;
}

static void
log_counters(bridge_t *b, const char *when)
{
    char line[1024];
    tb_bridge_counts_format(&b->counts, line, sizeof line);
    tb_log(b->log, TB_LOG_INFO, "counters%s: %s", when, line);
    tb_adaptor_stats_t st;
    if (b->adaptor && tb_adaptor_stats(b->adaptor, &st) == TB_OK)
        tb_log(b->log, TB_LOG_INFO,
               "adaptor%s: sent=%llu dropped=%llu rejected=%llu errors=%llu suppressed=%llu "
               "disconnects=%llu queue_depth=%zu connected=%s", when,
               (unsigned long long)st.sent, (unsigned long long)st.dropped,
               (unsigned long long)st.rejected, (unsigned long long)st.errors,
               (unsigned long long)st.suppressed, (unsigned long long)st.disconnects,
               st.queue_depth, st.connected ? "yes" : "no");
}

static tb_bridge_skip_t
send_result(bridge_t *b, const tb_bridge_result_t *r, char *detail, size_t detail_len)
{
    int rc = tb_adaptor_send(b->adaptor, r->sub_ns[0] ? r->sub_ns : NULL, r->data,
                             r->has_ts ? r->ts : NAN);
    switch (rc) {
    case TB_OK:
        if (b->dropping) {
            tb_log(b->log, TB_LOG_INFO, "the send queue has room again after %llu dropped updates",
                   (unsigned long long)b->dropped_in_episode);
            b->dropping = false;
        }
        return TB_BRIDGE_OK;
    case TB_ERR_QUEUE_FULL:
        if (!b->dropping) {
            tb_log(b->log, TB_LOG_WARN, "the send queue is full (is the broker reachable?): "
                   "dropping updates until it drains");
            b->dropping = true;
            b->dropped_in_episode = 0;
        }
        b->dropped_in_episode++;
        snprintf(detail, detail_len, "%s", tb_adaptor_strerror(rc));
        return TB_BRIDGE_QUEUE_FULL;
    case TB_ERR_BAD_NS:
    case TB_ERR_BAD_DATA:
    case TB_ERR_TOO_LARGE:
    case TB_ERR_INVALID_ARG:
        snprintf(detail, detail_len, "refused by the adaptor library: %s",
                 tb_adaptor_strerror(rc));
        return TB_BRIDGE_REJECTED;
    default:
        snprintf(detail, detail_len, "%s", tb_adaptor_strerror(rc));
        return TB_BRIDGE_SEND_FAILED;
    }
}

static void
account(bridge_t *b, size_t source, tb_bridge_skip_t verdict, const char *detail)
{
    tb_bridge_counts_add(&b->counts, verdict);
    if (verdict != TB_BRIDGE_OK)
        tb_log_limited(b->log, tb_time_mono_ms(), "skipped a message from %s: %s: %s",
                       tb_bridge_sources_url(b->sources, source),
                       tb_bridge_skip_name(verdict), detail);
}

static void
handle_frame(bridge_t *b, size_t source, const void *frame, size_t len)
{
    char detail[300];
    tb_bridge_result_t r;
    tb_bridge_skip_t verdict = tb_bridge_rules_apply(b->rules, frame, len, &r,
                                                     detail, sizeof detail);
    if (verdict == TB_BRIDGE_OK) {
        verdict = send_result(b, &r, detail, sizeof detail);
        json_decref(r.data);
    }
    account(b, source, verdict, detail);
}

static void
drain_source(bridge_t *b, size_t i)
{
    for (int n = 0; n < BATCH_PER_SOURCE; n++) {
        zmq_msg_t msg;
        size_t frames;
        int got = tb_bridge_sources_recv(b->sources, i, &msg, &frames);
        if (got == 0)
            return;
        b->counts.received++;
        if (got == 2) {
            char detail[64];
            snprintf(detail, sizeof detail, "%zu frames; sources must send one JSON frame",
                     frames);
            account(b, i, TB_BRIDGE_MULTI_FRAME, detail);
            continue;
        }
        handle_frame(b, i, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
}

static int
run(bridge_t *b, int wake_read_fd)
{
    size_t nsrc = tb_bridge_sources_count(b->sources);
    size_t nitems = 2 * nsrc + 1;
    zmq_pollitem_t *items = calloc(nitems, sizeof *items);
    if (!items) {
        tb_log(b->log, TB_LOG_ERROR, "out of memory");
        return EXIT_RUNTIME;
    }
    tb_bridge_sources_pollitems(b->sources, items, nitems - 1);
    items[nitems - 1] = (zmq_pollitem_t){ .socket = NULL, .fd = wake_read_fd, .events = ZMQ_POLLIN };
    int status = 0;
    while (!stop_requested) {
        int ready = zmq_poll(items, (int)nitems, 1000);
        if (ready < 0 && zmq_errno() != EINTR) {
            tb_log(b->log, TB_LOG_ERROR, "poll failed: %s", zmq_strerror(zmq_errno()));
            status = EXIT_RUNTIME;
            break;
        }
        if (items[nitems - 1].revents & ZMQ_POLLIN) {
            char sink[64];
            while (read(wake_read_fd, sink, sizeof sink) > 0)
                ;
        }
        if (counters_requested) {
            counters_requested = 0;
            log_counters(b, "");
        }
        tb_log_flush_suppressed(b->log, tb_time_mono_ms());
        if (ready <= 0 || stop_requested)
            continue;
        for (size_t i = 0; i < nsrc; i++) {
            if (items[2 * i].revents & ZMQ_POLLIN)
                drain_source(b, i);
            if (items[2 * i + 1].revents & ZMQ_POLLIN) {
                bool up;
                while (tb_bridge_sources_event(b->sources, i, &up) == 1)
                    tb_log(b->log, TB_LOG_INFO, up ? "source %s connected"
                                                   : "source %s disconnected; reconnecting",
                           tb_bridge_sources_url(b->sources, i));
            }
        }
    }
    free(items);
    return status;
}

/* --------------------------------------------------------------- main */
static int
check_config(const config_t *c, const bridge_t *b, char *err, size_t errlen)
{
    if (!c->ns || !c->ns[0]) {
        snprintf(err, errlen, "--ns is required (the namespace the Things go under, e.g. spacemon)");
        return -1;
    }
    if (!tb_ns_valid(c->ns, strlen(c->ns))) {
        snprintf(err, errlen, "--ns: '%.200s' is not a valid namespace (parts of a-z first, "
                 "then a-z 0-9 _ -, joined by '.')", c->ns);
        return -1;
    }
    if (tb_bridge_sources_count(b->sources) == 0) {
        snprintf(err, errlen, "-s/--sources is required (e.g. -s tcp://camera-host:7200)");
        return -1;
    }
    if (c->url && c->zone) {
        snprintf(err, errlen, "give either -u/--url or -z/--zone, not both");
        return -1;
    }
    if (c->dns_server && !c->zone) {
        snprintf(err, errlen, "--dns-server is only used with -z/--zone");
        return -1;
    }
    return 0;
}

static tb_adaptor_t *
make_adaptor(const config_t *c, tb_log_t *log, int *err)
{
    tb_adaptor_options_t o;
    tb_adaptor_options_init(&o);
    o.ns = c->ns;
    o.documentation_url = c->documentation;
    if (c->zone) {
        o.zone = c->zone;
        o.dns_servers = c->dns_server;
    }
    else
        o.broker_input_url = c->url ? c->url : DEFAULT_BROKER_INPUT;
    o.zmq_mode = c->pub ? TB_ADAPTOR_PUB : TB_ADAPTOR_PUSH;
    o.queue_size = (size_t)c->queue_size;
    o.suppress_unchanged = c->suppress_unchanged;
    o.heartbeat_s = c->heartbeat;
    o.linger_ms = c->linger > 0 ? (int)(c->linger * 1000.0 + 0.5) : TB_ADAPTOR_LINGER_NONE;
    if (o.linger_ms == 0)
        o.linger_ms = 1;
    *err = 0;
    tb_adaptor_t *a = tb_adaptor_new(&o, err);
    if (!a)
        tb_log(log, TB_LOG_ERROR, "cannot start the adaptor towards %s: %s",
               c->zone ? c->zone : o.broker_input_url, tb_adaptor_strerror(*err));
    return a;
}

int
main(int argc, char **argv)
{
    config_t config;
    memset(&config, 0, sizeof config);
    char err[512];
    int status = EXIT_USAGE;
    bridge_t b;
    memset(&b, 0, sizeof b);
    void *zctx = zmq_ctx_new();
    int pipe_fds[2] = { -1, -1 };
    b.rules = tb_bridge_rules_new();
    b.sources = zctx ? tb_bridge_sources_new(zctx) : NULL;
    if (!b.rules || !b.sources) {
        fprintf(stderr, PROGRAM ": error: cannot start: %s\n",
                zctx ? "out of memory" : zmq_strerror(zmq_errno()));
        status = EXIT_RUNTIME;
        goto done;
    }
    if (tb_opts_defaults(options, N_OPTIONS, &config, err, sizeof err) != 0) {
        fprintf(stderr, PROGRAM ": error: %s\n", err);
        status = EXIT_RUNTIME;
        goto done;
    }
    bool wants_help = false, wants_version = false;
    int rest = 0;
    if (tb_opts_parse_argv(options, N_OPTIONS, &config, argc, argv, &wants_help,
                           &wants_version, &rest, err, sizeof err) != 0
        || apply_lists(&config, &b, err, sizeof err) != 0) {
        fprintf(stderr, PROGRAM ": error: %s\n", err);
        goto done;
    }
    if (wants_help) {
        tb_opts_print_help(options, N_OPTIONS, stdout, usage, footer);
        status = 0;
        goto done;
    }
    if (wants_version) {
        printf(PROGRAM " %s\n", TB_VERSION);
        status = 0;
        goto done;
    }
    if (rest < argc) {
        fprintf(stderr, PROGRAM ": error: unexpected argument '%s' (see --help)\n",
                argv[rest]);
        goto done;
    }
    if ((config.nskey && tb_bridge_rules_set_nskey(b.rules, config.nskey, err, sizeof err) != 0)
        || (config.tskey && tb_bridge_rules_set_tskey(b.rules, config.tskey, err, sizeof err) != 0)
        || check_config(&config, &b, err, sizeof err) != 0) {
        fprintf(stderr, PROGRAM ": error: %s\n", err);
        goto done;
    }
    tb_bridge_rules_set_max_message_size(b.rules, config.max_message_size);
    b.log = tb_log_new(PROGRAM, config.verbose, config.syslog);
    if (!b.log) {
        fprintf(stderr, PROGRAM ": error: out of memory\n");
        status = EXIT_RUNTIME;
        goto done;
    }
    int adaptor_err;
    b.adaptor = make_adaptor(&config, b.log, &adaptor_err);
    if (!b.adaptor) {
        status = adaptor_err == TB_ERR_BAD_URL || adaptor_err == TB_ERR_BAD_NS
                 || adaptor_err == TB_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_RUNTIME;
        goto done;
    }
    /* after the adaptor library has set up ZeroMQ, so nothing replaces ours */
    if (install_signals(pipe_fds) != 0) {
        tb_log(b.log, TB_LOG_ERROR, "cannot install signal handlers: %s", strerror(errno));
        status = EXIT_RUNTIME;
        goto done;
    }
    tb_log(b.log, TB_LOG_INFO, "bridging %zu source(s) to %s under '%s' (%zu filter(s), %s)",
           tb_bridge_sources_count(b.sources),
           config.zone ? config.zone : (config.url ? config.url : DEFAULT_BROKER_INPUT),
           config.ns, tb_bridge_rules_filter_count(b.rules),
           tb_bridge_rules_projection_count(b.rules) ? "projected fields" : "whole messages");
    status = run(&b, pipe_fds[0]);
    if (status == 0 && b.adaptor) {
        int linger_ms = (int)(config.linger * 1000.0 + 0.5);
        if (linger_ms > 0 && tb_adaptor_flush(b.adaptor, linger_ms) == TB_ERR_TIMEOUT)
            tb_log(b.log, TB_LOG_WARN, "exiting with updates still queued (broker unreachable?)");
    }
    tb_log_flush_suppressed(b.log, UINT64_MAX);
    log_counters(&b, " at exit");
done:
    tb_adaptor_destroy(&b.adaptor);
    tb_bridge_sources_destroy(&b.sources);
    tb_bridge_rules_destroy(&b.rules);
    tb_opts_free(options, N_OPTIONS, &config);
    if (zctx)
        zmq_ctx_term(zctx);
    if (pipe_fds[0] >= 0) {
        wake_fd = -1;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    tb_log_destroy(&b.log);
    return status;
}
