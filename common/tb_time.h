/*
 * tb_time.h - clocks (internal).
 *
 * Why this exists: thing timestamps are wall-clock float seconds; timers
 * and ages inside a process use a monotonic clock.  Keep the two apart.
 */
#ifndef TB_TIME_H
#define TB_TIME_H
#include <stdint.h>
#include <time.h>

/* Wall clock, seconds since 1970 UTC, microsecond resolution. */
static inline double tb_time_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Monotonic milliseconds. */
static inline uint64_t tb_time_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Monotonic microseconds. */
static inline uint64_t tb_time_mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

#endif
