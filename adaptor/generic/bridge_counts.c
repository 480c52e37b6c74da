/*
 * bridge_counts.c - counting and printing the outcome of every source
 * message of tb-generic-zmq-adaptor.
 *
 * Why this exists: see bridge_counts.h; the text format is the contract
 * with the man page and the tests.
 */
#include "bridge_counts.h"
#include <inttypes.h>
#include <stdio.h>

void
tb_bridge_counts_add(tb_bridge_counts_t *self, tb_bridge_skip_t outcome)
{
    if (outcome == TB_BRIDGE_OK)
        self->forwarded++;
    else if ((int)outcome > 0 && outcome < TB_BRIDGE_SKIP_COUNT)
        self->skipped[outcome]++;
    else
        self->skipped[TB_BRIDGE_SEND_FAILED]++;   /* never dropped uncounted */
}

uint64_t
tb_bridge_counts_skipped(const tb_bridge_counts_t *self)
{
    uint64_t total = 0;
    for (int r = 1; r < TB_BRIDGE_SKIP_COUNT; r++)
        total += self->skipped[r];
    return total;
}

int
tb_bridge_counts_format(const tb_bridge_counts_t *self, char *buf, size_t len)
{
    size_t used = 0;
    int need = snprintf(buf, len, "received=%" PRIu64 " forwarded=%" PRIu64
                        " skipped=%" PRIu64, self->received, self->forwarded,
                        tb_bridge_counts_skipped(self));
    if (need < 0)
        return need;
    used = (size_t)need;
    for (int r = 1; r < TB_BRIDGE_SKIP_COUNT; r++) {
        int n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0,
                         " %s=%" PRIu64, tb_bridge_skip_name((tb_bridge_skip_t)r),
                         self->skipped[r]);
        if (n < 0)
            return n;
        used += (size_t)n;
    }
    return (int)used;
}
