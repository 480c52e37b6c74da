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

/* Loop turn durations (poll return to the next poll call: the time input
 * cannot be read), in buckets whose upper bounds are below (microseconds);
 * the last bucket takes everything longer. */
#define LOOP_HIST_BUCKETS 6
extern const uint32_t broker_loop_hist_bounds_us[LOOP_HIST_BUCKETS - 1];

typedef struct {
    uint64_t turns;
    uint64_t busy_us;            /* sum of the turns' durations */
    uint64_t max_us;
    uint64_t hist[LOOP_HIST_BUCKETS];
    uint64_t max_cpu_us;         /* the most CPU time this thread used in one turn;
                                    measured in snapshot turns only (a system call) */
} broker_turn_stats_t;

/* Which turns: those during which a snapshot (v1 round or v2 stream) was
 * being built or served, and all the others. */
enum { LOOP_OTHER = 0, LOOP_SNAPSHOT = 1, LOOP_PHASES };

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
    broker_turn_stats_t loop[LOOP_PHASES];
} broker_stats_t;

/* "pull", "legacy_sub", "udp". */
const char *broker_input_name(broker_input_t input);

/* Name of a rejection reason (codec names, then "multi_frame"). */
const char *broker_reject_name(int reason);

/* Count one loop turn of `us` microseconds in `phase` (LOOP_OTHER or
 * LOOP_SNAPSHOT).  A few compares and adds: called once per turn. */
static inline void
broker_turn_record(broker_stats_t *s, int phase, uint64_t us)
{
    broker_turn_stats_t *t = &s->loop[phase];
    int i = 0;
    while (i < LOOP_HIST_BUCKETS - 1 && us > broker_loop_hist_bounds_us[i])
        i++;
    t->hist[i]++;
    t->turns++;
    t->busy_us += us;
    if (us > t->max_us)
        t->max_us = us;
}

/* The CPU time of one snapshot turn: set against its duration, it tells
 * work in the broker from time the thread waited for a CPU. */
static inline void
broker_turn_record_cpu(broker_stats_t *s, uint64_t cpu_us)
{
    if (cpu_us > s->loop[LOOP_SNAPSHOT].max_cpu_us)
        s->loop[LOOP_SNAPSHOT].max_cpu_us = cpu_us;
}

/* Log every counter at INFO level, as lines starting "stats: ". */
void broker_stats_log(const broker_stats_t *s, tb_log_t *log, size_t things,
                      size_t things_with_data, uint64_t seq);

#endif
