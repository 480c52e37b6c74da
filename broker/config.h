/*
 * config.h - thingsbusd's configuration: one struct, one option table.
 *
 * Why this exists: every endpoint, port and limit of the daemon is set
 * from one table of rows (tb_opts.h) that drives the command line, the
 * config file, --help and the man-page check.  Derived values (endpoints
 * computed from --base-port and --bind-address) are filled in once by
 * broker_config_finish() so the rest of the broker only reads final values.
 */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include "tb_opts.h"

typedef struct {
    char     *config_file;
    long long base_port;
    char     *bind_address;
    char     *pub_endpoint;       /* "" = tcp://ADDR:P */
    char     *pull_endpoint;      /* "" = tcp://ADDR:P+1 */
    char     *legacy_sub_endpoint;/* "" = no legacy SUB input */
    long long udp_port;           /* 0 = P+1 */
    char     *udp_address;        /* "" = bind-address */
    bool      no_udp;
    size_t    udp_rcvbuf;
    size_t    max_message_size;
    long long max_depth;
    long long pub_hwm;
    long long input_hwm;
    double    snapshot_interval;
    double    snapshot_expiry;
    size_t    snapshot_max_bytes;
    int       verbose;
    bool      syslog;
    char     *state_file;         /* "" = persistence off */
    bool      no_persistence;
    long long commit_window_ms;
    double    compact_ratio;
    size_t    compact_min;
    long long state_retry_ms;
    /* protocol v2 (proto/PROTOCOL.md, part 2) */
    bool      no_v2;
    char     *snapshot_endpoint;  /* "" = tcp://ADDR:P+2 */
    char     *v2_pub_endpoint;    /* "" = tcp://ADDR:P+3 */
    long long heartbeat_ms;
    long long v2_max_streams;
    size_t    v2_batch_bytes;
    long long v2_credit_cap;
    long long v2_pub_hwm;
    long long v2_stream_timeout_ms;
    long long v2_step_budget;
    double    purge_age;          /* 0 = off */
} broker_config_t;

extern const tb_opt_t broker_options[];
extern const size_t broker_options_count;

/* Fill in the derived endpoints (allocating the strings it replaces).
 * Returns 0, or -1 with errbuf set. */
int broker_config_finish(broker_config_t *cfg, char *errbuf, size_t errlen);

/* Free what the options parser and broker_config_finish allocated. */
void broker_config_free(broker_config_t *cfg);

#endif
