/*
 * tb_discovery_srv.c - RFC 2782 target ordering and its random source.
 *
 * Why this exists: the original took the first SRV record and ignored
 * priority and weight, so a building could not run a standby broker or
 * spread load.  This is the selection rule alone, with an injectable random
 * source so tests can check the weight distribution over many draws without
 * depending on luck.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include "tb_discovery.h"

uint32_t
tb_rng_splitmix(void *state)
{
    uint64_t *s = state;
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z >> 32);
}

static pthread_mutex_t default_rng_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t default_rng_state;
static bool default_rng_seeded;

uint32_t
tb_rng_default(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&default_rng_lock);
    if (!default_rng_seeded) {
        uint64_t seed = 0;
        /* GRND_NONBLOCK: never block a library caller at early boot; the
         * time-and-pid fallback is plenty for load spreading. */
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            seed = ((uint64_t)t.tv_sec << 32) ^ (uint64_t)t.tv_nsec ^
                   ((uint64_t)getpid() << 16);
        }
        default_rng_state = seed;
        default_rng_seeded = true;
    }
    uint32_t v = tb_rng_splitmix(&default_rng_state);
    pthread_mutex_unlock(&default_rng_lock);
    return v;
}

uint32_t
tb_rng_upto(tb_rng_fn rng, void *rng_arg, uint32_t bound)
{
    if (!rng)
        rng = tb_rng_default;
    if (bound == UINT32_MAX)
        return rng(rng_arg);
    /* Rejection sampling: a plain modulo would favour small values. */
    uint32_t range = bound + 1;
    uint32_t limit = UINT32_MAX - (UINT32_MAX % range);
    for (;;) {
        uint32_t v = rng(rng_arg);
        if (v < limit)
            return v % range;
    }
}

static int
by_priority(const void *a, const void *b)
{
    const tb_srv_record_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    /* Weight-0 records first within a priority, as RFC 2782 asks, so they
     * are picked only when the running-sum draw lands on 0. */
    if ((x->weight == 0) != (y->weight == 0))
        return x->weight == 0 ? -1 : 1;
    return 0;
}

static void
swap_records(tb_srv_record_t *a, tb_srv_record_t *b)
{
    if (a == b)
        return;
    tb_srv_record_t t = *a;
    *a = *b;
    *b = t;
}

/* Order recs[from..to) (one priority) by repeated weighted choice. */
static void
order_group(tb_srv_record_t *recs, size_t from, size_t to, tb_rng_fn rng, void *arg)
{
    for (size_t i = from; i + 1 < to; i++) {
        uint32_t total = 0;
        for (size_t j = i; j < to; j++)
            total += recs[j].weight;   /* <= 32 * 65535 in practice; n is bounded by callers */
        size_t pick = i;
        if (total == 0) {
            pick = i + tb_rng_upto(rng, arg, (uint32_t)(to - i - 1));
        } else {
            /* RFC 2782 draws r in [0, total] and takes the first record whose
             * running sum reaches r; the r == 0 outcome is what gives the
             * weight-0 records (sorted first) their small chance.  When no
             * weight-0 record remains, that same outcome would go to the
             * first record as a bonus (weights 1:3 would come out 2:3), so
             * then r is drawn in [1, total]: exactly proportional. */
            bool has_zero = recs[i].weight == 0;    /* zeros are sorted first */
            uint32_t r = has_zero ? tb_rng_upto(rng, arg, total)
                                  : 1u + tb_rng_upto(rng, arg, total - 1u);
            uint32_t sum = 0;
            for (size_t j = i; j < to; j++) {
                sum += recs[j].weight;
                if (sum >= r) {
                    pick = j;
                    break;
                }
            }
        }
        /* Keep the remaining records' relative order (zero weights first):
         * rotate the pick to position i instead of swapping. */
        if (pick != i) {
            tb_srv_record_t chosen = recs[pick];
            memmove(&recs[i + 1], &recs[i], (pick - i) * sizeof *recs);
            recs[i] = chosen;
        }
    }
}

void
tb_srv_order(tb_srv_record_t *recs, size_t n, tb_rng_fn rng, void *rng_arg)
{
    if (!recs || n < 2)
        return;
    if (n > TB_SRV_ORDER_MAX)
        n = TB_SRV_ORDER_MAX;  /* bounds the work; keeps weight sums in 32 bits */
    /* qsort is not stable; a stable insertion sort keeps equal records in
     * answer order, which makes the all-zero-weight case reproducible. */
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        while (j > 0 && by_priority(&recs[j - 1], &recs[j]) > 0) {
            swap_records(&recs[j - 1], &recs[j]);
            j--;
        }
    }
    size_t start = 0;
    while (start < n) {
        size_t end = start + 1;
        while (end < n && recs[end].priority == recs[start].priority)
            end++;
        order_group(recs, start, end, rng, rng_arg);
        start = end;
    }
}
