/*
 * tb_log.h - logging for programs (never used by the libraries).
 *
 * Why this exists: thingsbusd and the tools log to stderr by default or to
 * syslog on request, with a verbosity level, and rejections are logged
 * through a rate limiter so a flood of bad input cannot flood the log.
 * The logger is an explicit object passed around: no global state.
 */
#ifndef TB_LOG_H
#define TB_LOG_H
#include <stdbool.h>
#include <stdint.h>

typedef enum { TB_LOG_ERROR = 0, TB_LOG_WARN, TB_LOG_INFO, TB_LOG_DEBUG } tb_log_level_t;

typedef struct tb_log_t tb_log_t;

/* ident: program name; verbosity: 0 = errors+warnings+info, 1 = -v (debug).
 * use_syslog: log through syslog(3) instead of stderr. */
tb_log_t *tb_log_new(const char *ident, int verbosity, bool use_syslog);
void      tb_log_destroy(tb_log_t **self_p);

void tb_log(tb_log_t *self, tb_log_level_t level, const char *fmt, ...)
     __attribute__((format(printf, 3, 4)));

/* true if a message at level would be written. */
bool tb_log_enabled(tb_log_t *self, tb_log_level_t level);

/* Rate-limited debug logging for rejections: at most `burst` lines per
 * second; when lines were suppressed, the next allowed line is preceded by
 * "(N similar messages suppressed)".  now_ms: a monotonic clock. */
void tb_log_limited(tb_log_t *self, uint64_t now_ms, const char *fmt, ...)
     __attribute__((format(printf, 3, 4)));

/* Reports lines tb_log_limited suppressed that no later line has reported:
 * once the second they were suppressed in is over, writes
 * "(N similar messages suppressed)" at debug level and resets the count;
 * within that second it waits (more may follow, and the next allowed line
 * reports them anyway).  Without it, a flood followed by silence would
 * never say how much was dropped.  Call it from a program's periodic point
 * (e.g. each turn of a poll loop with a timeout of a second or less) with
 * the same clock as tb_log_limited; at exit pass UINT64_MAX to report
 * whatever is pending.  self may be NULL.  Returns the count reported
 * (0 when nothing was written). */
uint64_t tb_log_flush_suppressed(tb_log_t *self, uint64_t now_ms);

#endif
