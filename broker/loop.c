/*
 * loop.c - the one owner of the broker's event loop.
 *
 * Why this exists: every socket (ZeroMQ inputs, UDP, the v2 snapshot
 * service and filtered PUB) and every timer (the periodic snapshot, the
 * state file, v2 heartbeats and purge) is
 * served from this loop on one thread, so no part of the broker needs a
 * lock (the state file's writer thread shares nothing with it but the
 * store's own short mutex).  The loop sleeps in zmq_poll until input
 * arrives or the next timer is due (no fixed sleeps, no polling interval);
 * while a snapshot is being built it alternates input batches and snapshot
 * slices, and after each slice waits (for input only) as long as the slice
 * took before the next.  Signal handlers only write a byte to a self-pipe
 * that is part of the poll set, so a signal is never lost between a flag
 * check and the poll.
 *
 * The loop also times itself: each turn, from zmq_poll's return to the
 * next zmq_poll call, is time in which no input is read, so its longest
 * turn is the longest pause ingest can see from the broker's side.  Turns
 * are counted apart while a snapshot is under way (the "never pause ingest
 * for more than 10 ms" promise) and otherwise.  The turn's three clock
 * reads also serve its timers; in snapshot turns only, the thread's CPU
 * time is read too, which tells a long turn of work from a turn in which
 * the thread waited for a CPU.
 */
#include "broker.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "tb_time.h"
#include "v2/tb_v2srv.h"

#define MAX_ITEMS 10

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stats_requested;
static int signal_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGUSR1)
        stats_requested = 1;
    else
        stop_requested = 1;
    if (signal_pipe[1] >= 0) {
        ssize_t rc = write(signal_pipe[1], "", 1);
        (void)rc;                               /* pipe full: a wake-up is pending anyway */
    }
    errno = saved;
}

int
broker_signals_install(void)
{
    if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

void
broker_signals_remove(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    for (int i = 0; i < 2; i++) {
        if (signal_pipe[i] >= 0)
            close(signal_pipe[i]);
        signal_pipe[i] = -1;
    }
}

void
broker_log_stats(broker_t *b)
{
    persist_stats_log(b);
    v2_stats_log(b);
    broker_stats_log(&b->stats, b->log, tb_directory_count(b->dir),
                     tb_directory_with_data(b->dir), b->seq);
}

/* true while snapshot work (a v1 round or a v2 stream) is pending */
static bool
snapshot_work(const broker_t *b)
{
    return snapshot_active(b) || tb_v2srv_active_streams(b->v2) > 0;
}

/* This thread's CPU time (a system call, unlike the monotonic clock). */
static uint64_t
thread_cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* The poll timeout: the nearest of the timers' deadlines; -1 = none. */
static long
earliest(long a, long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int
broker_loop_run(broker_t *b)
{
    if (signal_pipe[0] < 0) {
        tb_log(b->log, TB_LOG_ERROR, "signal handling is not set up");
        return 1;
    }
    zmq_pollitem_t items[MAX_ITEMS];
    int n = 0;
    items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = signal_pipe[0], .events = ZMQ_POLLIN };
    int first_input = n;
    items[n++] = (zmq_pollitem_t){ .socket = b->pull, .events = ZMQ_POLLIN };
    if (b->legacy_sub)
        items[n++] = (zmq_pollitem_t){ .socket = b->legacy_sub, .events = ZMQ_POLLIN };
    int first_udp = n;
    int udp_fds[BROKER_MAX_UDP_SOCKETS];
    int nudp = udp_input_fds(b, udp_fds);
    for (int i = 0; i < nudp; i++)
        items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = udp_fds[i], .events = ZMQ_POLLIN };
    /* the v2 sockets: readable means requests or (un)subscriptions, served
     * by v2_work below with the rest of the v2 work, every turn */
    if (b->v2) {
        items[n++] = (zmq_pollitem_t){ .socket = tb_v2srv_router(b->v2), .events = ZMQ_POLLIN };
        items[n++] = (zmq_pollitem_t){ .socket = tb_v2srv_xpub(b->v2), .events = ZMQ_POLLIN };
    }
    int end_inputs = b->v2 ? n - 2 : n;

    uint64_t interval_ms = (uint64_t)llround(b->cfg->snapshot_interval * 1000.0);
    if (interval_ms == 0)
        interval_ms = 1;
    uint64_t next_snapshot = tb_time_mono_ms();         /* the first at start-up */

    bool verbose = tb_log_enabled(b->log, TB_LOG_DEBUG);
    long store_timeout = persist_tick(b, tb_time_mono_ms());
    long v2_timeout = v2_work(b, tb_time_mono_ms(), true, true);
    uint64_t turn_end_us = tb_time_mono_us();
    uint64_t snapshot_due_us = 0;
    while (!stop_requested) {
        long timeout;
        uint64_t now = turn_end_us / 1000u;
        if (snapshot_active(b))
            timeout = snapshot_due_us <= turn_end_us
                      ? 0 : (long)((snapshot_due_us - turn_end_us + 999) / 1000);
        else if (next_snapshot <= now)
            timeout = 0;
        else
            timeout = (long)(next_snapshot - now);
        timeout = earliest(timeout, store_timeout);
        timeout = earliest(timeout, v2_timeout);
        /* under -v, wake at least once a second so a flood of rejections
         * that stops still reports how many log lines it suppressed */
        if (verbose)
            timeout = earliest(timeout, 1000);
        for (int i = 0; i < n; i++)
            items[i].revents = 0;
        int rc = zmq_poll(items, n, timeout);
        uint64_t turn_start_us = tb_time_mono_us();
        bool in_snapshot = snapshot_work(b);
        /* only while snapshot work is pending: a system call per turn */
        uint64_t turn_cpu_us = in_snapshot ? thread_cpu_us() : 0;
        if (rc < 0 && zmq_errno() != EINTR) {
            tb_log(b->log, TB_LOG_ERROR, "zmq_poll failed: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (rc > 0) {
            if (items[0].revents & ZMQ_POLLIN) {
                char drain[64];
                while (read(signal_pipe[0], drain, sizeof drain) > 0)
                    ;
            }
            for (int i = first_input; i < first_udp; i++)
                if (items[i].revents & ZMQ_POLLIN)
                    zmq_input_drain(b, items[i].socket,
                                    items[i].socket == b->pull ? INPUT_PULL : INPUT_LEGACY_SUB);
            for (int i = first_udp; i < end_inputs; i++)
                if (items[i].revents & ZMQ_POLLIN)
                    udp_input_drain(b, items[i].fd);
        }
        if (stats_requested) {
            stats_requested = 0;
            broker_log_stats(b);
        }
        now = tb_time_mono_ms();
        if (verbose)
            tb_log_flush_suppressed(b->log, now);
        if (!snapshot_active(b) && next_snapshot <= now) {
            snapshot_start(b, tb_time_now());
            in_snapshot = true;                         /* even a round done in one turn */
            next_snapshot += interval_ms;
            if (next_snapshot <= now)                   /* fell behind: no burst of rounds */
                next_snapshot = now + interval_ms;
        }
        /* A slice, then as long again for everything else: the snapshot
         * takes at most half of this thread, so the thread stays quick to
         * wake for input, and ZeroMQ's I/O thread (which must write out
         * every byte of the snapshot) and the subscribers keep a CPU. */
        if (snapshot_active(b) && turn_start_us >= snapshot_due_us) {
            uint64_t slice_start = tb_time_mono_us();
            snapshot_step(b);
            uint64_t slice_end = tb_time_mono_us();
            snapshot_due_us = slice_end + (slice_end - slice_start);
            now = slice_end / 1000u;
        }
        /* after the input batches: the groups they filled are sealed and
         * handed to the writer here, and a compaction slice runs */
        store_timeout = persist_tick(b, now);
        /* after the inputs too: a slice of the snapshot streams and of the
         * purge sweep, bounded, so 200 joiners never hold input back */
        v2_timeout = v2_work(b, now,
                             b->v2 && (items[end_inputs].revents & ZMQ_POLLIN),
                             b->v2 && (items[end_inputs + 1].revents & ZMQ_POLLIN));
        if (turn_cpu_us)
            broker_turn_record_cpu(&b->stats, thread_cpu_us() - turn_cpu_us);
        in_snapshot = in_snapshot || snapshot_work(b);
        turn_end_us = tb_time_mono_us();
        broker_turn_record(&b->stats, in_snapshot ? LOOP_SNAPSHOT : LOOP_OTHER,
                           turn_end_us - turn_start_us);
    }
    tb_log(b->log, TB_LOG_INFO, "stopping");
    tb_log_flush_suppressed(b->log, UINT64_MAX);
    persist_close(b);
    broker_log_stats(b);
    return 0;
}
