/*
 * tb_log.c - program logging to stderr or syslog, with a rate limiter for
 * rejection lines.
 *
 * Why this exists: the daemon and the tools need the same log shape
 * ("ident: level: text" on stderr, or syslog), and a flood of bad input
 * must not turn into a flood of log lines (tb_log_limited), yet the count
 * of what was dropped must reach the log even when silence follows the
 * flood (tb_log_flush_suppressed).  Each line is formatted into one
 * buffer and written with a single call so lines from different threads
 * of a tool never interleave mid-line.
 */
#include "tb_log.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* Lines per second that tb_log_limited lets through. */
#define TB_LOG_BURST 20

struct tb_log_t {
    char    *ident;
    int      verbosity;
    bool     use_syslog;
    uint64_t window_s;      /* the second the limiter is counting */
    unsigned in_window;     /* lines written in that second */
    uint64_t suppressed;    /* lines dropped since the last written one */
};

tb_log_t *
tb_log_new(const char *ident, int verbosity, bool use_syslog)
{
    tb_log_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ident = strdup(ident ? ident : "thingsbus");
    if (!self->ident) {
        free(self);
        return NULL;
    }
    self->verbosity = verbosity;
    self->use_syslog = use_syslog;
    self->window_s = UINT64_MAX;
    if (use_syslog)
        openlog(self->ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    return self;
}

void
tb_log_destroy(tb_log_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_log_t *self = *self_p;
    if (self->use_syslog)
        closelog();
    free(self->ident);
    free(self);
    *self_p = NULL;
}

bool
tb_log_enabled(tb_log_t *self, tb_log_level_t level)
{
    if (!self)
        return false;
    switch (level) {
    case TB_LOG_ERROR:
    case TB_LOG_WARN:
        return true;
    case TB_LOG_INFO:
        return self->verbosity >= 0;
    case TB_LOG_DEBUG:
        return self->verbosity >= 1;
    }
    return false;
}

static void
write_line(tb_log_t *self, tb_log_level_t level, const char *fmt, va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    if (self->use_syslog) {
        static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
        syslog(prio[level], "%s", text);
        return;
    }
    static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
    char line[1200];
    int n = snprintf(line, sizeof line, "%s: %s%s\n", self->ident, tag[level], text);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {         /* truncated: keep the newline */
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    fwrite(line, 1, (size_t)n, stderr);
}

void
tb_log(tb_log_t *self, tb_log_level_t level, const char *fmt, ...)
{
    if (!tb_log_enabled(self, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    write_line(self, level, fmt, ap);
    va_end(ap);
}

static uint64_t
report_suppressed(tb_log_t *self)
{
    uint64_t n = self->suppressed;
    if (n) {
        tb_log(self, TB_LOG_DEBUG, "(%llu similar messages suppressed)", (unsigned long long)n);
        self->suppressed = 0;
    }
    return n;
}

void
tb_log_limited(tb_log_t *self, uint64_t now_ms, const char *fmt, ...)
{
    if (!tb_log_enabled(self, TB_LOG_DEBUG))
        return;
    uint64_t second = now_ms / 1000u;
    if (second != self->window_s) {
        self->window_s = second;
        self->in_window = 0;
    }
    if (self->in_window >= TB_LOG_BURST) {
        self->suppressed++;
        return;
    }
    self->in_window++;
    report_suppressed(self);
    va_list ap;
    va_start(ap, fmt);
    write_line(self, TB_LOG_DEBUG, fmt, ap);
    va_end(ap);
}

uint64_t
tb_log_flush_suppressed(tb_log_t *self, uint64_t now_ms)
{
    if (!self || !self->suppressed)
        return 0;
    if (now_ms != UINT64_MAX && now_ms / 1000u == self->window_s)
        return 0;                   /* the flood may still be going on */
    return report_suppressed(self);
}
