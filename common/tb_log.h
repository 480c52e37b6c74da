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

#endif
