/*
 * test_opts.c - unit tests for the table-driven options (common/tb_opts.c).
 *
 * Why this exists: every program's configuration goes through these rows;
 * a parsing mistake here would misconfigure every daemon and tool.
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
#include "tb_opts.h"

typedef struct {
    long long port;
    double    interval;
    size_t    max;
    char     *addr;
    bool      syslog;
    int       verbose;
    char     *config;
} conf_t;

static const tb_opt_t rows[] = {
    { "base-port", 'p', TB_OPT_INT, offsetof(conf_t, port), "7954", 1, 65533, "PORT",
      "base port", false },
    { "interval", 0, TB_OPT_DOUBLE, offsetof(conf_t, interval), "15", 0.001, 86400, "SECONDS",
      "interval", false },
    { "max", 0, TB_OPT_SIZE, offsetof(conf_t, max), "1M", 0, 0, "BYTES", "limit", false },
    { "bind-address", 'b', TB_OPT_STRING, offsetof(conf_t, addr), "*", 0, 0, "ADDR",
      "address", false },
    { "syslog", 0, TB_OPT_FLAG, offsetof(conf_t, syslog), "false", 0, 0, NULL, "syslog", false },
    { "verbose", 'v', TB_OPT_COUNT, offsetof(conf_t, verbose), "0", 0, 0, NULL, "more", false },
    { "config", 'c', TB_OPT_STRING, offsetof(conf_t, config), NULL, 0, 0, "FILE", "file", true },
};
#define NROWS (sizeof rows / sizeof rows[0])

static void
defaults_are_set(void **state)
{
    (void)state;
    conf_t c = { 0 };
    char err[256];
    assert_int_equal(tb_opts_defaults(rows, NROWS, &c, err, sizeof err), 0);
    assert_int_equal(c.port, 7954);
    assert_true(c.interval == 15.0);
    assert_int_equal(c.max, 1024 * 1024);
    assert_string_equal(c.addr, "*");
    assert_false(c.syslog);
    assert_int_equal(c.verbose, 0);
    assert_null(c.config);
    tb_opts_free(rows, NROWS, &c);
    assert_null(c.addr);
}

static void
argv_forms(void **state)
{
    (void)state;
    conf_t c = { 0 };
    char err[256];
    tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
    char *argv[] = { "prog", "--base-port=100", "--interval", "0.5", "-vv",
                     "--max", "64k", "-b127.0.0.1", "--syslog", "-v", "rest", "x", NULL };
    int argc = 12, rest = -1;
    bool help = false, version = false;
    assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, argc, argv, &help, &version,
                                        &rest, err, sizeof err), 0);
    assert_int_equal(c.port, 100);
    assert_true(c.interval == 0.5);
    assert_int_equal(c.verbose, 3);
    assert_int_equal(c.max, 65536);
    assert_string_equal(c.addr, "127.0.0.1");
    assert_true(c.syslog);
    assert_int_equal(rest, 10);
    assert_false(help);
    assert_false(version);
    tb_opts_free(rows, NROWS, &c);
}

static void
short_with_separate_value_and_double_dash(void **state)
{
    (void)state;
    conf_t c = { 0 };
    char err[256];
    tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
    char *argv[] = { "prog", "-p", "9000", "--", "--max", NULL };
    int rest = -1;
    assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, 5, argv, NULL, NULL, &rest,
                                        err, sizeof err), 0);
    assert_int_equal(c.port, 9000);
    assert_int_equal(rest, 4);
    assert_int_equal(c.max, 1024 * 1024);
    tb_opts_free(rows, NROWS, &c);
}

static void
help_and_version(void **state)
{
    (void)state;
    conf_t c = { 0 };
    char err[256];
    tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
    char *argv[] = { "prog", "--help", "--version", NULL };
    bool help = false, version = false;
    assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, 3, argv, &help, &version, NULL,
                                        err, sizeof err), 0);
    assert_true(help);
    assert_true(version);
    /* without the out-pointers they are unknown options */
    assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, 2, argv, NULL, NULL, NULL,
                                        err, sizeof err), -1);
    assert_non_null(strstr(err, "--help"));
    tb_opts_free(rows, NROWS, &c);
}

static void
errors_name_the_option(void **state)
{
    (void)state;
    struct { const char *a, *b, *expect; } cases[] = {
        { "--base-port", "70000", "--base-port: 70000 is above 65533" },
        { "--base-port", "0", "--base-port: 0 is below 1" },
        { "--base-port", "12x", "--base-port: '12x' is not an integer" },
        { "--base-port", "99999999999999999999", "is not an integer" },
        { "--interval", "abc", "--interval: 'abc' is not a number" },
        { "--interval", "nan", "is not a number" },
        { "--max", "12q", "--max: '12q' is not a size" },
        { "--max", "-1", "is not a size" },
        { "--nope", "1", "unknown option '--nope'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conf_t c = { 0 };
        char err[256] = "";
        tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
        char *argv[] = { "prog", (char *)cases[i].a, (char *)cases[i].b, NULL };
        assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, 3, argv, NULL, NULL, NULL,
                                            err, sizeof err), -1);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].expect);
        tb_opts_free(rows, NROWS, &c);
    }
    conf_t c = { 0 };
    char err[256] = "";
    tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
    char *argv[] = { "prog", "--base-port", NULL };
    assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, 2, argv, NULL, NULL, NULL,
                                        err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a value"));
    char *argv2[] = { "prog", "-x", NULL };
    assert_int_equal(tb_opts_parse_argv(rows, NROWS, &c, 2, argv2, NULL, NULL, NULL,
                                        err, sizeof err), -1);
    assert_non_null(strstr(err, "'-x'"));
    tb_opts_free(rows, NROWS, &c);
}

static void
size_suffixes(void **state)
{
    (void)state;
    struct { const char *in; size_t out; } cases[] = {
        { "0", 0 }, { "10", 10 }, { "1k", 1024 }, { "2K", 2048 }, { "3M", 3u << 20 },
        { "1G", 1u << 30 }, { "256KiB", 256u << 10 }, { "1MB", 1u << 20 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conf_t c = { 0 };
        char err[256];
        tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
        assert_int_equal(tb_opts_set(rows, NROWS, &c, "max", cases[i].in, err, sizeof err), 0);
        assert_int_equal(c.max, cases[i].out);
        tb_opts_free(rows, NROWS, &c);
    }
}

static void
config_file(void **state)
{
    (void)state;
    char path[] = "/tmp/tb-test-opts-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text =
        "# a comment\n"
        "\n"
        "base-port = 8000   # trailing comment\n"
        "  bind-address=\"10.0.0.1\"\n"
        "syslog = yes\n"
        "verbose\n"
        "max = 2M\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    conf_t c = { 0 };
    char err[256];
    tb_opts_defaults(rows, NROWS, &c, err, sizeof err);
    assert_int_equal(tb_opts_parse_file(rows, NROWS, &c, path, err, sizeof err), 0);
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.addr, "10.0.0.1");
    assert_true(c.syslog);
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.max, 2u << 20);

    FILE *f = fopen(path, "w");
    fputs("base-port = 1\nbase-port = 70000\n", f);
    fclose(f);
    assert_int_equal(tb_opts_parse_file(rows, NROWS, &c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: --base-port: 70000 is above"));

    f = fopen(path, "w");
    fputs("config = /etc/x\n", f);
    fclose(f);
    assert_int_equal(tb_opts_parse_file(rows, NROWS, &c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1: 'config' is only accepted on the command line"));

    f = fopen(path, "w");
    fputs("colour = blue\n", f);
    fclose(f);
    assert_int_equal(tb_opts_parse_file(rows, NROWS, &c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1: unknown option 'colour'"));

    f = fopen(path, "w");
    fputs("base-port\n", f);
    fclose(f);
    assert_int_equal(tb_opts_parse_file(rows, NROWS, &c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a value"));
    unlink(path);

    assert_int_equal(tb_opts_parse_file(rows, NROWS, &c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    tb_opts_free(rows, NROWS, &c);
}

static void
help_lists_every_row(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tb_opts_print_help(rows, NROWS, f, "usage: prog [OPTIONS]", "footer text");
    fclose(f);
    for (size_t i = 0; i < NROWS; i++) {
        char want[64];
        snprintf(want, sizeof want, "--%s", rows[i].long_name);
        if (!strstr(buf, want))
            fail_msg("--help lacks %s:\n%s", want, buf);
    }
    assert_non_null(strstr(buf, "usage: prog [OPTIONS]"));
    assert_non_null(strstr(buf, "(default: 7954)"));
    assert_non_null(strstr(buf, "-p, --base-port PORT"));
    assert_non_null(strstr(buf, "footer text"));
    assert_non_null(strstr(buf, "--help"));
    free(buf);
}

static void
bad_default_is_reported(void **state)
{
    (void)state;
    static const tb_opt_t bad[] = {
        { "n", 0, TB_OPT_INT, offsetof(conf_t, port), "ten", 0, 0, "N", "n", false },
    };
    conf_t c = { 0 };
    char err[256];
    assert_int_equal(tb_opts_defaults(bad, 1, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "'ten'"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_set),
        cmocka_unit_test(argv_forms),
        cmocka_unit_test(short_with_separate_value_and_double_dash),
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(errors_name_the_option),
        cmocka_unit_test(size_suffixes),
        cmocka_unit_test(config_file),
        cmocka_unit_test(help_lists_every_row),
        cmocka_unit_test(bad_default_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
