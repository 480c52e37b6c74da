/*
 * stats.c - naming and printing the broker's counters.
 *
 * Why this exists: see stats.h.  The output is a few "stats: ..." lines of
 * space-separated key=value pairs; rejected reasons are all listed (zeros
 * included) so a reader can grep for any reason without knowing whether it
 * happened.
 */
#include "stats.h"
#include <stdio.h>
#include <string.h>

/* Bucket upper bounds; the names in the "stats: loop" line follow them. */
const uint32_t broker_loop_hist_bounds_us[LOOP_HIST_BUCKETS - 1] = {
    100, 1000, 5000, 10000, 50000
};
static const char *const loop_hist_names[LOOP_HIST_BUCKETS] = {
    "le100us", "le1ms", "le5ms", "le10ms", "le50ms", "gt50ms"
};

/* Append " <prefix>turns=.. <prefix>busy_us=.. <prefix>max_us=.. <prefix>le100us=.. ...". */
static size_t
format_turns(char *line, size_t size, size_t n, const char *prefix,
             const broker_turn_stats_t *t)
{
    if (n < size)
        n += (size_t)snprintf(line + n, size - n, " %sturns=%llu %sbusy_us=%llu %smax_us=%llu",
                              prefix, (unsigned long long)t->turns, prefix,
                              (unsigned long long)t->busy_us, prefix,
                              (unsigned long long)t->max_us);
    for (int i = 0; i < LOOP_HIST_BUCKETS && n < size; i++)
        n += (size_t)snprintf(line + n, size - n, " %s%s=%llu", prefix, loop_hist_names[i],
                              (unsigned long long)t->hist[i]);
    return n;
}

const char *
broker_input_name(broker_input_t input)
{
    switch (input) {
    case INPUT_PULL:       return "pull";
    case INPUT_LEGACY_SUB: return "legacy_sub";
    case INPUT_UDP:        return "udp";
    case INPUT_COUNT:      break;
    }
    return "unknown";
}

const char *
broker_reject_name(int reason)
{
    if (reason >= 0 && reason < (int)TB_REASON_COUNT)
        return tb_reason_name((tb_reason_t)reason);
    if (reason == REJECT_MULTI_FRAME)
        return "multi_frame";
    return "unknown";
}

void
broker_stats_log(const broker_stats_t *s, tb_log_t *log, size_t things,
                 size_t things_with_data, uint64_t seq)
{
    char line[2048];
    uint64_t total = 0;
    for (int i = 0; i < INPUT_COUNT; i++)
        total += s->accepted[i];
    tb_log(log, TB_LOG_INFO, "stats: things=%zu with_data=%zu seq=%llu", things,
           things_with_data, (unsigned long long)seq);
    tb_log(log, TB_LOG_INFO, "stats: accepted total=%llu pull=%llu legacy_sub=%llu udp=%llu",
           (unsigned long long)total, (unsigned long long)s->accepted[INPUT_PULL],
           (unsigned long long)s->accepted[INPUT_LEGACY_SUB],
           (unsigned long long)s->accepted[INPUT_UDP]);
    total = 0;
    for (int i = 1; i < REJECT_COUNT; i++)
        total += s->rejected[i];
    size_t n = (size_t)snprintf(line, sizeof line, "stats: rejected total=%llu",
                                (unsigned long long)total);
    for (int i = 1; i < REJECT_COUNT && n < sizeof line; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " %s=%llu", broker_reject_name(i),
                              (unsigned long long)s->rejected[i]);
    tb_log(log, TB_LOG_INFO, "%s", line);
    tb_log(log, TB_LOG_INFO, "stats: dropped udp_kernel_drops=%llu",
           (unsigned long long)s->udp_kernel_drops);
    n = (size_t)snprintf(line, sizeof line, "stats: loop");
    n = format_turns(line, sizeof line, n, "", &s->loop[LOOP_OTHER]);
    n = format_turns(line, sizeof line, n, "snapshot_", &s->loop[LOOP_SNAPSHOT]);
    if (n < sizeof line)
        snprintf(line + n, sizeof line - n, " snapshot_max_cpu_us=%llu",
                 (unsigned long long)s->loop[LOOP_SNAPSHOT].max_cpu_us);
    tb_log(log, TB_LOG_INFO, "%s", line);
    /* "published" stays the last line: readers wait for it */
    tb_log(log, TB_LOG_INFO,
           "stats: published updates=%llu errors=%llu snapshot_rounds=%llu "
           "snapshot_messages=%llu snapshot_entries=%llu",
           (unsigned long long)s->published, (unsigned long long)s->publish_errors,
           (unsigned long long)s->snapshot_rounds, (unsigned long long)s->snapshot_messages,
           (unsigned long long)s->snapshot_entries);
}
