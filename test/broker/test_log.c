/*
 * test_log.c - unit tests for program logging (common/tb_log.c).
 *
 * Why this exists: the rate limiter is what stands between a flood of bad
 * input and a flood of log lines; verbosity decides what a user sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "tb_log.h"

/* Run fn with stderr redirected to a temp file; return what it wrote. */
static char *
capture(void (*fn)(void))
{
    char path[] = "/tmp/tb-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return buf;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void
levels_quiet(void)
{
    tb_log_t *log = tb_log_new("tbtest", 0, false);
    tb_log(log, TB_LOG_ERROR, "bad %d", 1);
    tb_log(log, TB_LOG_WARN, "careful");
    tb_log(log, TB_LOG_INFO, "hello");
    tb_log(log, TB_LOG_DEBUG, "hidden");
    tb_log_limited(log, 1000, "hidden too");
    tb_log_destroy(&log);
    assert_null(log);
    tb_log_destroy(&log);
    tb_log_destroy(NULL);
}

static void
verbosity_levels(void **state)
{
    (void)state;
    char *out = capture(levels_quiet);
    assert_string_equal(out, "tbtest: error: bad 1\ntbtest: warning: careful\ntbtest: hello\n");
    free(out);
    tb_log_t *log = tb_log_new("x", 1, false);
    assert_true(tb_log_enabled(log, TB_LOG_DEBUG));
    tb_log_destroy(&log);
    log = tb_log_new("x", -1, false);
    assert_false(tb_log_enabled(log, TB_LOG_INFO));
    assert_true(tb_log_enabled(log, TB_LOG_WARN));
    tb_log_destroy(&log);
    assert_false(tb_log_enabled(NULL, TB_LOG_ERROR));
}

static void
flood(void)
{
    tb_log_t *log = tb_log_new("tbtest", 1, false);
    for (int i = 0; i < 1000; i++)
        tb_log_limited(log, 5000 + (uint64_t)i % 1000 / 2, "reject %d", i);   /* one second */
    tb_log_limited(log, 6000, "after");
    tb_log_destroy(&log);
}

static void
rate_limited(void **state)
{
    (void)state;
    char *out = capture(flood);
    int lines = count(out, "tbtest: debug: reject ");
    assert_true(lines >= 1 && lines <= 50);
    char want[64];
    snprintf(want, sizeof want, "(%d similar messages suppressed)", 1000 - lines);
    if (!strstr(out, want))
        fail_msg("no '%s' in:\n%s", want, out);
    /* the summary comes right before the next allowed line */
    assert_non_null(strstr(out, "suppressed)\ntbtest: debug: after\n"));
    free(out);
}

static void
long_line(void)
{
    tb_log_t *log = tb_log_new("tbtest", 0, false);
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tb_log(log, TB_LOG_INFO, "%s", big);
    tb_log(log, TB_LOG_INFO, "next");
    tb_log_destroy(&log);
}

static void
long_lines_are_cut_not_merged(void **state)
{
    (void)state;
    char *out = capture(long_line);
    assert_int_equal(count(out, "\n"), 2);
    assert_non_null(strstr(out, "\ntbtest: next\n"));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verbosity_levels),
        cmocka_unit_test(rate_limited),
        cmocka_unit_test(long_lines_are_cut_not_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
