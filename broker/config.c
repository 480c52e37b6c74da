/*
 * config.c - the table of thingsbusd's options and the derived endpoints.
 *
 * Why this exists: see config.h.  Every option the daemon has is a row
 * here; man/thingsbusd.8 documents each row (a test checks that every
 * --long name printed by --help appears in the man page).
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW(name, sh, type, field, def, lo, hi, mv, help) \
    { name, sh, type, offsetof(broker_config_t, field), def, lo, hi, mv, help, false }

const tb_opt_t broker_options[] = {
    { "config", 'c', TB_OPT_STRING, offsetof(broker_config_t, config_file), NULL, 0, 0, "FILE",
      "read options from FILE (\"name = value\" lines); the command line wins", true },
    ROW("base-port", 'p', TB_OPT_INT, base_port, "7954", 1, 65532, "PORT",
        "PUB on PORT, inputs on PORT+1, snapshot service on PORT+2, filtered PUB on PORT+3"),
    ROW("bind-address", 'b', TB_OPT_STRING, bind_address, "*", 0, 0, "ADDR",
        "address to bind every endpoint on; * = all interfaces (IPv4 and IPv6)"),
    ROW("pub-endpoint", 0, TB_OPT_STRING, pub_endpoint, "", 0, 0, "ENDPOINT",
        "ZeroMQ endpoint of the directory PUB (default tcp://ADDR:PORT)"),
    ROW("pull-endpoint", 0, TB_OPT_STRING, pull_endpoint, "", 0, 0, "ENDPOINT",
        "ZeroMQ endpoint of the PULL input (default tcp://ADDR:PORT+1)"),
    ROW("legacy-sub-endpoint", 0, TB_OPT_STRING, legacy_sub_endpoint, "", 0, 0, "ENDPOINT",
        "also bind a SUB input here for original adaptors that PUB-connect (off when empty)"),
    ROW("udp-port", 0, TB_OPT_INT, udp_port, "0", 0, 65535, "PORT",
        "UDP msgpack input port (0 = PORT+1)"),
    ROW("udp-address", 0, TB_OPT_STRING, udp_address, "", 0, 0, "ADDR",
        "address of the UDP input (default: the bind address; * = IPv4 and IPv6)"),
    ROW("no-udp", 0, TB_OPT_FLAG, no_udp, "false", 0, 0, NULL,
        "do not open the UDP input"),
    ROW("udp-rcvbuf", 0, TB_OPT_SIZE, udp_rcvbuf, "4M", 0, 1024.0 * 1024 * 1024, "BYTES",
        "kernel receive buffer asked for the UDP socket (0 = system default)"),
    ROW("max-message-size", 0, TB_OPT_SIZE, max_message_size, "1M", 64, 1024.0 * 1024 * 1024,
        "BYTES", "refuse (and count) ZeroMQ input messages larger than this"),
    ROW("max-depth", 0, TB_OPT_INT, max_depth, "64", 1, 2047, "N",
        "refuse input nested deeper than N arrays/objects"),
    ROW("pub-hwm", 0, TB_OPT_INT, pub_hwm, "100000", 0, 100000000, "MSGS",
        "messages queued per subscriber before a slow one loses messages (0 = no limit)"),
    ROW("input-hwm", 0, TB_OPT_INT, input_hwm, "100000", 0, 100000000, "MSGS",
        "messages queued per input socket before senders are held back (0 = no limit)"),
    ROW("snapshot-interval", 0, TB_OPT_DOUBLE, snapshot_interval, "15", 0.001, 86400, "SECONDS",
        "send a v1 thing_snapshot this often (the first at start-up)"),
    ROW("snapshot-expiry", 0, TB_OPT_DOUBLE, snapshot_expiry, "60", 0.001, 1e9, "SECONDS",
        "snapshots hold Things whose latest update arrived less than this long ago"),
    ROW("snapshot-max-bytes", 0, TB_OPT_SIZE, snapshot_max_bytes, "256K", 256,
        1024.0 * 1024 * 1024, "BYTES", "split each snapshot into messages of at most this size"),
    ROW("state-file", 0, TB_OPT_STRING, state_file, "thingsbus.state", 0, 0, "PATH",
        "keep the latest value of every Thing in PATH (relative: to the working directory; "
        "empty = off)"),
    ROW("no-persistence", 0, TB_OPT_FLAG, no_persistence, "false", 0, 0, NULL,
        "keep the directory in memory only: no state file is read or written"),
    ROW("commit-window", 0, TB_OPT_INT, commit_window_ms, "1000", 2, 3600000, "MS",
        "an update is on disk at most MS after it was accepted (the crash-loss window)"),
    ROW("compact-ratio", 0, TB_OPT_DOUBLE, compact_ratio, "2.0", 1.1, 1000, "R",
        "rewrite the state file when it grows past R times its size after the last rewrite"),
    ROW("compact-min", 0, TB_OPT_SIZE, compact_min, "4M", 0, 1024.0 * 1024 * 1024 * 1024,
        "BYTES", "compact only once the state file is larger than BYTES"),
    ROW("state-retry", 0, TB_OPT_INT, state_retry_ms, "5000", 10, 3600000, "MS",
        "after a disk error (full, read-only), retry writing the state this often"),
    ROW("no-v2", 0, TB_OPT_FLAG, no_v2, "false", 0, 0, NULL,
        "do not offer protocol v2 (no snapshot service, no filtered PUB): v1 only"),
    ROW("snapshot-endpoint", 0, TB_OPT_STRING, snapshot_endpoint, "", 0, 0, "ENDPOINT",
        "ZeroMQ endpoint of the v2 snapshot service ROUTER (default tcp://ADDR:PORT+2)"),
    ROW("v2-pub-endpoint", 0, TB_OPT_STRING, v2_pub_endpoint, "", 0, 0, "ENDPOINT",
        "ZeroMQ endpoint of the v2 filtered PUB (default tcp://ADDR:PORT+3)"),
    ROW("heartbeat", 0, TB_OPT_INT, heartbeat_ms, "1000", 10, 3600000, "MS",
        "send a v2 heartbeat per subscribed subtree this often"),
    ROW("purge-age", 0, TB_OPT_DOUBLE, purge_age, "0", 0, 1e9, "SECONDS",
        "drop the value of a Thing not updated for this long and tell v2 clients "
        "(0 = never)"),
    ROW("v2-max-streams", 0, TB_OPT_INT, v2_max_streams, "256", 1, 100000, "N",
        "concurrent snapshot/children streams; more are answered 'busy'"),
    ROW("v2-batch-bytes", 0, TB_OPT_SIZE, v2_batch_bytes, "64K", 1024, 64.0 * 1024 * 1024,
        "BYTES", "close a snapshot batch once it reaches this size"),
    ROW("v2-credit-cap", 0, TB_OPT_INT, v2_credit_cap, "16", 1, 100000, "N",
        "batches a snapshot stream may have outstanding, whatever credit the client grants"),
    ROW("v2-pub-hwm", 0, TB_OPT_INT, v2_pub_hwm, "1000", 0, 100000000, "MSGS",
        "messages queued per filtered-PUB subscriber before it loses (and detects) some"),
    ROW("v2-stream-timeout", 0, TB_OPT_INT, v2_stream_timeout_ms, "30000", 100, 86400000,
        "MS", "drop a snapshot stream whose client sent nothing for this long"),
    ROW("v2-step-budget", 0, TB_OPT_INT, v2_step_budget, "4000", 16, 10000000, "THINGS",
        "Things examined for snapshot streams per loop turn, between input batches"),
    ROW("verbose", 'v', TB_OPT_COUNT, verbose, "0", 0, 0, NULL,
        "log every rejected message (rate-limited) and more"),
    ROW("syslog", 0, TB_OPT_FLAG, syslog, "false", 0, 0, NULL,
        "log to syslog (facility daemon) instead of stderr"),
};
const size_t broker_options_count = sizeof broker_options / sizeof broker_options[0];

/* tcp://ADDR:PORT, with IPv6 literals bracketed. */
static char *
tcp_endpoint(const char *addr, long long port)
{
    char buf[300];
    bool v6 = strchr(addr, ':') && addr[0] != '[';
    snprintf(buf, sizeof buf, v6 ? "tcp://[%s]:%lld" : "tcp://%s:%lld", addr, port);
    return strdup(buf);
}

static int
derive(char **field, const char *addr, long long port)
{
    if (*field && **field)
        return 0;
    char *e = tcp_endpoint(addr, port);
    if (!e)
        return -1;
    free(*field);
    *field = e;
    return 0;
}

int
broker_config_finish(broker_config_t *cfg, char *errbuf, size_t errlen)
{
    if (!cfg->bind_address || !cfg->bind_address[0]) {
        snprintf(errbuf, errlen, "--bind-address must not be empty (use * for all interfaces)");
        return -1;
    }
    if (derive(&cfg->pub_endpoint, cfg->bind_address, cfg->base_port) != 0
        || derive(&cfg->pull_endpoint, cfg->bind_address, cfg->base_port + 1) != 0
        || derive(&cfg->snapshot_endpoint, cfg->bind_address, cfg->base_port + 2) != 0
        || derive(&cfg->v2_pub_endpoint, cfg->bind_address, cfg->base_port + 3) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    if (cfg->udp_port == 0)
        cfg->udp_port = cfg->base_port + 1;
    if (!cfg->udp_address || !cfg->udp_address[0]) {
        char *a = strdup(cfg->bind_address);
        if (!a) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        free(cfg->udp_address);
        cfg->udp_address = a;
    }
    if (cfg->snapshot_expiry <= 0 || cfg->snapshot_interval <= 0) {
        snprintf(errbuf, errlen, "snapshot interval and expiry must be positive");
        return -1;
    }
    return 0;
}

void
broker_config_free(broker_config_t *cfg)
{
    tb_opts_free(broker_options, broker_options_count, cfg);
}
