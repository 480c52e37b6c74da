/*
 * stats.h - the broker's counters.
 *
 * Why this exists: a broker that drops a message must say so.  Every
 * rejection has a named reason (the codec's tb_reason_t plus the transport
 * reasons below), every input counts what it accepted, and the whole set
 * is printed on SIGUSR1 and at shutdown in one stable "key=value" format
 * that people and tests can read.
 */
#ifndef BROKER_STATS_H
#define BROKER_STATS_H
#include <stddef.h>
#include <stdint.h>
#include "tb_log.h"
#include "tb_proto.h"

typedef enum {
    INPUT_PULL = 0,
    INPUT_LEGACY_SUB,
    INPUT_UDP,
    INPUT_COUNT
} broker_input_t;

/* Rejection reasons: 0..TB_REASON_COUNT-1 are the codec's; then ours. */
enum {
    REJECT_MULTI_FRAME = TB_REASON_COUNT, /* ZeroMQ message of more than one frame */
    REJECT_COUNT
};

typedef struct {
    uint64_t accepted[INPUT_COUNT];
    uint64_t rejected[REJECT_COUNT];
    uint64_t published;          /* thing_updates sent on the PUB */
    uint64_t publish_errors;     /* zmq_send failures (not HWM drops: PUB drops silently) */
    uint64_t snapshot_rounds;
    uint64_t snapshot_messages;
    uint64_t snapshot_entries;
    uint64_t udp_kernel_drops;   /* datagrams the kernel dropped (socket buffer full), SO_RXQ_OVFL */
    uint64_t store_too_large;    /* updates too large for the state file (cannot happen below 64 MiB) */
} broker_stats_t;

/* "pull", "legacy_sub", "udp". */
const char *broker_input_name(broker_input_t input);

/* Name of a rejection reason (codec names, then "multi_frame"). */
const char *broker_reject_name(int reason);

/* Log every counter at INFO level, as lines starting "stats: ". */
void broker_stats_log(const broker_stats_t *s, tb_log_t *log, size_t things,
                      size_t things_with_data, uint64_t seq);

#endif
