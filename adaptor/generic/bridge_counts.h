/*
 * bridge_counts.h - the counters of tb-generic-zmq-adaptor (internal).
 *
 * Why this exists: "never a silent drop" means every source message ends
 * up in exactly one counter: forwarded, or skipped under a named reason.
 * The same one-line text is printed on SIGUSR1 and at exit, and parsed by
 * the tests, so its format lives in one place:
 *     received=N forwarded=N skipped=N too_large=N multi_frame=N ...
 * (every reason is always listed, zeros included, in enum order).
 */
#ifndef BRIDGE_COUNTS_H
#define BRIDGE_COUNTS_H
#include <stddef.h>
#include <stdint.h>
#include "bridge_rules.h"

typedef struct {
    uint64_t received;                      /* frames read from all sources */
    uint64_t forwarded;                     /* accepted by the adaptor library */
    uint64_t skipped[TB_BRIDGE_SKIP_COUNT]; /* index TB_BRIDGE_OK is unused */
} tb_bridge_counts_t;

/* Records one outcome: forwarded for TB_BRIDGE_OK, else skipped[reason]. */
void tb_bridge_counts_add(tb_bridge_counts_t *self, tb_bridge_skip_t outcome);

/* Total of all skip reasons. */
uint64_t tb_bridge_counts_skipped(const tb_bridge_counts_t *self);

/* Writes the one-line text above into buf (always NUL-terminated when
 * len > 0).  Returns the length it needed, like snprintf. */
int tb_bridge_counts_format(const tb_bridge_counts_t *self, char *buf, size_t len);

#endif
