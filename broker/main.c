/*
 * main.c - thingsbusd: parse the options, open the sockets, run the loop.
 *
 * Why this exists: the daemon's start-up and shutdown in one readable
 * place.  Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when the
 * broker cannot run (an endpoint cannot be bound, out of memory), 2 for a
 * usage or configuration error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "broker.h"
#include "store/tb_store.h"

static const char usage[] =
    "usage: thingsbusd [OPTIONS]\n"
    "The thingsbus broker: adaptors send thing_updates to it (ZeroMQ PUSH on\n"
    "PORT+1, UDP msgpack on PORT+1), clients subscribe to its PUB on PORT;\n"
    "v2 clients join through the snapshot service on PORT+2 and follow\n"
    "their subtree on the filtered PUB on PORT+3.";

static const char footer[] =
    "Signals: SIGUSR1 prints the counters; SIGINT/SIGTERM stop cleanly.\n"
    "Exit status: 0 clean stop, 1 cannot run (e.g. an endpoint cannot be bound),\n"
    "2 bad usage or configuration.  See thingsbusd(8).";

static int
parse_options(broker_config_t *cfg, int argc, char **argv)
{
    char err[512];
    bool help = false, version = false;
    int rest;
    if (tb_opts_defaults(broker_options, broker_options_count, cfg, err, sizeof err) != 0
        || tb_opts_parse_argv(broker_options, broker_options_count, cfg, argc, argv, &help,
                              &version, &rest, err, sizeof err) != 0) {
        fprintf(stderr, "thingsbusd: %s\n", err);
        return 2;
    }
    if (help) {
        tb_opts_print_help(broker_options, broker_options_count, stdout, usage, footer);
        return 0;
    }
    if (version) {
        printf("thingsbusd %s\n", TB_VERSION);
        return 0;
    }
    if (rest < argc) {
        fprintf(stderr, "thingsbusd: unexpected argument '%s' (see --help)\n", argv[rest]);
        return 2;
    }
    if (cfg->config_file) {
        /* the file sets values, then the command line overrides them */
        char *path = strdup(cfg->config_file);
        if (!path
            || tb_opts_defaults(broker_options, broker_options_count, cfg, err, sizeof err) != 0
            || tb_opts_parse_file(broker_options, broker_options_count, cfg, path, err,
                                  sizeof err) != 0
            || tb_opts_parse_argv(broker_options, broker_options_count, cfg, argc, argv, NULL,
                                  NULL, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "thingsbusd: %s\n", path ? err : "out of memory");
            free(path);
            return 2;
        }
        free(path);
    }
    if (broker_config_finish(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "thingsbusd: %s\n", err);
        return 2;
    }
    return -1;
}

static void
broker_close(broker_t *b)
{
    v2_close(b);
    zmq_sockets_close(b);
    udp_input_close(b);
    if (b->zctx) {
        zmq_ctx_term(b->zctx);
        b->zctx = NULL;
    }
    tb_decoder_destroy(&b->decoder);
    snapshot_destroy(&b->snapshot);
    tb_store_destroy(&b->store);        /* after persist_close: frees only */
    tb_directory_destroy(&b->dir);
    tb_buf_free(&b->out);
}

int
main(int argc, char **argv)
{
    broker_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = parse_options(&cfg, argc, argv);
    if (rc >= 0) {
        broker_config_free(&cfg);
        return rc;
    }
    broker_t b;
    memset(&b, 0, sizeof b);
    b.cfg = &cfg;
    b.log = tb_log_new("thingsbusd", cfg.verbose, cfg.syslog);
    tb_buf_init(&b.out, 0);
    tb_limits_t limits;
    tb_limits_default(&limits);
    limits.max_input = cfg.max_message_size > TB_UDP_MAX_PAYLOAD ? cfg.max_message_size
                                                                   : TB_UDP_MAX_PAYLOAD;
    limits.max_depth = (unsigned)cfg.max_depth;
    b.decoder = tb_decoder_new(&limits);
    b.dir = tb_directory_new();
    b.snapshot = snapshot_new();
    b.zctx = zmq_ctx_new();
    rc = 1;
    if (!b.log || !b.decoder || !b.dir || !b.snapshot || !b.zctx) {
        fprintf(stderr, "thingsbusd: out of memory at start-up\n");
        goto done;
    }
    if (broker_signals_install() != 0) {
        tb_log(b.log, TB_LOG_ERROR, "cannot set up signal handling: %s", strerror(errno));
        goto done;
    }
    /* the state first: the first snapshot already holds the restored directory */
    if (persist_open(&b) != 0)
        goto done;
    if (zmq_sockets_open(&b) != 0)
        goto done;
    if (!cfg.no_udp && udp_input_open(&b) != 0)
        goto done;
    /* after the state was restored: b.seq continues where it stopped */
    if (v2_open(&b) != 0)
        goto done;
    char udp_text[300] = "off";
    if (!cfg.no_udp)
        snprintf(udp_text, sizeof udp_text, "%s port %lld", cfg.udp_address, cfg.udp_port);
    tb_log(b.log, TB_LOG_INFO, "thingsbusd %s: PUB %s, PULL %s, UDP %s", TB_VERSION,
           cfg.pub_endpoint, cfg.pull_endpoint, udp_text);
    if (cfg.legacy_sub_endpoint[0])
        tb_log(b.log, TB_LOG_INFO, "legacy SUB input %s", cfg.legacy_sub_endpoint);
    rc = broker_loop_run(&b);
done:
    broker_close(&b);
    broker_signals_remove();
    tb_log_destroy(&b.log);
    broker_config_free(&cfg);
    return rc;
}
