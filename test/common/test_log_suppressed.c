/*
 * test_log_suppressed.c - unit tests of tb_log_flush_suppressed (tb_log.h).
 *
 * Why this exists: the rate limiter used to report what it dropped only on
 * the next line it let through, so a flood followed by silence never said
 * how many lines were lost.  These cases pin when the final count is
 * written (once the flood's second is over, or at exit), that it is
 * written once, and that nothing is written when nothing was dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tb_log.h"

/* The limiter lets this many lines through per second (tb_log.c). */
#define BURST 20

/* stderr is pointed at a temporary file while a case runs. */
typedef struct {
    FILE *file;
    int   saved_fd;
} capture_t;

static void
capture_start(capture_t *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved_fd = dup(STDERR_FILENO);
    assert_true(c->saved_fd >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restores stderr; returns what was written (caller frees). */
static char *
capture_end(capture_t *c)
{
    fflush(stderr);
    assert_true(dup2(c->saved_fd, STDERR_FILENO) >= 0);
    close(c->saved_fd);
    assert_int_equal(fseek(c->file, 0, SEEK_END), 0);
    long len = ftell(c->file);
    assert_true(len >= 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    rewind(c->file);
    assert_int_equal(fread(text, 1, (size_t)len, c->file), (size_t)len);
    fclose(c->file);
    return text;
}

static int
occurrences(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* total lines within the second starting at ms (all the same second) */
static void
flood(tb_log_t *log, uint64_t ms, int total)
{
    for (int i = 0; i < total; i++)
        tb_log_limited(log, ms + (uint64_t)(i % 1000), "reject %d", i);
}

static void
test_final_count_after_the_window(void **state)
{
    (void)state;
    capture_t c;
    capture_start(&c);
    tb_log_t *log = tb_log_new("tbtest", 1, false);
    assert_non_null(log);
    flood(log, 5000, BURST + 13);
    assert_int_equal(tb_log_flush_suppressed(log, 5999), 0);   /* same second: wait */
    assert_int_equal(tb_log_flush_suppressed(log, 6000), 13);
    assert_int_equal(tb_log_flush_suppressed(log, 6500), 0);   /* reported once */
    assert_int_equal(tb_log_flush_suppressed(log, 9000), 0);
    tb_log_destroy(&log);
    char *text = capture_end(&c);
    assert_int_equal(occurrences(text, "reject "), BURST);
    assert_int_equal(occurrences(text, "(13 similar messages suppressed)"), 1);
    assert_int_equal(occurrences(text, "suppressed"), 1);
    /* the count comes after the lines it stands for */
    assert_true(strstr(text, "suppressed") > strstr(text, "reject 19"));
    free(text);
}

static void
test_flush_at_exit_reports_the_current_second(void **state)
{
    (void)state;
    capture_t c;
    capture_start(&c);
    tb_log_t *log = tb_log_new("tbtest", 1, false);
    flood(log, 42000, BURST + 1);
    assert_int_equal(tb_log_flush_suppressed(log, UINT64_MAX), 1);
    assert_int_equal(tb_log_flush_suppressed(log, UINT64_MAX), 0);
    tb_log_destroy(&log);
    char *text = capture_end(&c);
    assert_int_equal(occurrences(text, "(1 similar messages suppressed)"), 1);
    free(text);
}

static void
test_no_double_report_with_the_next_line(void **state)
{
    (void)state;
    capture_t c;
    capture_start(&c);
    tb_log_t *log = tb_log_new("tbtest", 1, false);
    flood(log, 1000, BURST + 5);
    assert_int_equal(tb_log_flush_suppressed(log, 2100), 5);
    tb_log_limited(log, 2200, "later");       /* nothing pending: no note before it */
    /* without a flush, the next allowed line still carries the count */
    flood(log, 3000, BURST + 2);
    tb_log_limited(log, 4000, "after the second flood");
    assert_int_equal(tb_log_flush_suppressed(log, 9000), 0);
    tb_log_destroy(&log);
    char *text = capture_end(&c);
    assert_int_equal(occurrences(text, "suppressed"), 2);
    assert_int_equal(occurrences(text, "(5 similar messages suppressed)"), 1);
    assert_int_equal(occurrences(text, "(2 similar messages suppressed)"), 1);
    char *two = strstr(text, "(2 similar");
    char *after = strstr(text, "after the second flood");
    assert_non_null(two);
    assert_non_null(after);
    assert_true(two < after);
    free(text);
}

static void
test_nothing_to_report(void **state)
{
    (void)state;
    capture_t c;
    capture_start(&c);
    assert_int_equal(tb_log_flush_suppressed(NULL, 1000), 0);
    tb_log_t *log = tb_log_new("tbtest", 1, false);
    assert_int_equal(tb_log_flush_suppressed(log, 1000), 0);        /* fresh */
    flood(log, 1000, BURST);                                          /* all let through */
    assert_int_equal(tb_log_flush_suppressed(log, 5000), 0);
    tb_log_destroy(&log);
    /* debug off: limited lines are neither written nor counted */
    log = tb_log_new("tbtest", 0, false);
    flood(log, 1000, BURST * 3);
    assert_int_equal(tb_log_flush_suppressed(log, UINT64_MAX), 0);
    tb_log_destroy(&log);
    char *text = capture_end(&c);
    assert_int_equal(occurrences(text, "suppressed"), 0);
    assert_int_equal(occurrences(text, "reject "), BURST);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_final_count_after_the_window),
        cmocka_unit_test(test_flush_at_exit_reports_the_current_second),
        cmocka_unit_test(test_no_double_report_with_the_next_line),
        cmocka_unit_test(test_nothing_to_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
