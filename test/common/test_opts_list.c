/*
 * test_opts_list.c - unit tests of TB_OPT_LIST, the tb_opts option type
 * whose every occurrence is kept (tb-generic-zmq-adaptor's -s, --filter
 * and --projections).
 *
 * Why this exists: the adaptor used to pull these options out of argv in a
 * pass of its own before tb_opts parsed the rest, and the two passes had
 * to agree on which word is an option and which is a value.  Those cases
 * (--x=v, --x v, -xv, -x v, bundles, "--", values that look like options,
 * missing values) are kept here against the single parser, with the list
 * semantics: order kept, values not split, config-file lines append,
 * defaults empty the list, tb_opts_free frees it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "tb_opts.h"

typedef struct {
    char **sources, **filter;
    char  *ns, *url;
    int    verbose;
    bool   pub;
} cfg_t;

static const tb_opt_t table[] = {
    { "sources", 's', TB_OPT_LIST, offsetof(cfg_t, sources), NULL, 0, 0, "URL", "", false },
    { "filter", 0, TB_OPT_LIST, offsetof(cfg_t, filter), NULL, 0, 0, "K:V", "", false },
    { "ns", 0, TB_OPT_STRING, offsetof(cfg_t, ns), NULL, 0, 0, "NS", "", false },
    { "url", 'u', TB_OPT_STRING, offsetof(cfg_t, url), NULL, 0, 0, "URL", "", false },
    { "verbose", 'v', TB_OPT_COUNT, offsetof(cfg_t, verbose), NULL, 0, 0, NULL, "", false },
    { "pub", 0, TB_OPT_FLAG, offsetof(cfg_t, pub), NULL, 0, 0, NULL, "", false },
};
#define N (sizeof table / sizeof table[0])

/* "name=value" for every value of both lists, space-separated. */
static void
lists_text(const cfg_t *cfg, char *out, size_t len)
{
    out[0] = '\0';
    const struct { const char *name; char **list; } lists[] = {
        { "sources", cfg->sources }, { "filter", cfg->filter },
    };
    for (size_t l = 0; l < 2; l++)
        for (char **v = lists[l].list; v && *v; v++) {
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%s=%s", used ? " " : "", lists[l].name, *v);
        }
}

/* Parses words (NULL-terminated, words[0] the program) into *cfg after
 * tb_opts_defaults; returns the parse result, *rest the first non-option. */
static int
parse(const char *const *words, cfg_t *cfg, int *rest, char *err, size_t errlen)
{
    char *argv[32];
    int argc = 0;
    for (; words[argc]; argc++)
        argv[argc] = (char *)words[argc];
    argv[argc] = NULL;
    memset(cfg, 0, sizeof *cfg);
    assert_int_equal(tb_opts_defaults(table, N, cfg, err, errlen), 0);
    *rest = -1;
    return tb_opts_parse_argv(table, N, cfg, argc, argv, NULL, NULL, rest, err, errlen);
}

/* Parses words, which must succeed, and checks the collected values. */
static void
check_lists(const char *const *words, const char *want, cfg_t *cfg)
{
    char err[256] = "";
    int rest;
    assert_int_equal(parse(words, cfg, &rest, err, sizeof err), 0);
    char got[512];
    lists_text(cfg, got, sizeof got);
    assert_string_equal(got, want);
}

static void
test_spellings(void **state)
{
    (void)state;
    cfg_t cfg;
    const char *const a[] = { "prog", "-s", "tcp://a:1", "--sources=tcp://b:2,tcp://c:3",
                              "--sources", "tcp://d:4", "-stcp://e:5", "--ns", "x", NULL };
    check_lists(a, "sources=tcp://a:1 sources=tcp://b:2,tcp://c:3 sources=tcp://d:4 "
                   "sources=tcp://e:5", &cfg);
    assert_int_equal(tb_opts_list_count(cfg.sources), 4);
    assert_null(cfg.sources[4]);
    assert_null(cfg.filter);                     /* never given: no list at all */
    assert_int_equal(tb_opts_list_count(cfg.filter), 0);
    assert_string_equal(cfg.ns, "x");
    tb_opts_free(table, N, &cfg);
    assert_null(cfg.sources);
    assert_null(cfg.ns);

    const char *const b[] = { "prog", "--filter", "mtype:percept_update", "--filter=a.b:c:d",
                              "-v", NULL };
    check_lists(b, "filter=mtype:percept_update filter=a.b:c:d", &cfg);
    assert_int_equal(cfg.verbose, 1);
    tb_opts_free(table, N, &cfg);

    /* an empty value is a value */
    const char *const c[] = { "prog", "--sources=", "-s", "", NULL };
    check_lists(c, "sources= sources=", &cfg);
    assert_int_equal(tb_opts_list_count(cfg.sources), 2);
    tb_opts_free(table, N, &cfg);
}

static void
test_bundles_and_values_that_look_like_options(void **state)
{
    (void)state;
    cfg_t cfg;
    /* "-vvs URL": the flags count, the -s value is collected */
    const char *const a[] = { "prog", "-vvs", "tcp://a:1", "-vstcp://b:2", NULL };
    check_lists(a, "sources=tcp://a:1 sources=tcp://b:2", &cfg);
    assert_int_equal(cfg.verbose, 3);
    tb_opts_free(table, N, &cfg);
    /* the value of --ns is "-s": not a sources option */
    const char *const b[] = { "prog", "--ns", "-s", "-u", "--filter", "-s", "x", NULL };
    check_lists(b, "sources=x", &cfg);
    assert_string_equal(cfg.ns, "-s");
    assert_string_equal(cfg.url, "--filter");
    tb_opts_free(table, N, &cfg);
    /* a value of -s that looks like an option is still its value */
    const char *const c[] = { "prog", "-s", "--pub", "--pub", NULL };
    check_lists(c, "sources=--pub", &cfg);
    assert_true(cfg.pub);
    tb_opts_free(table, N, &cfg);
    /* -uURL keeps its glued value */
    const char *const d[] = { "prog", "-utcp://u:1", "-s", "tcp://s:1", NULL };
    check_lists(d, "sources=tcp://s:1", &cfg);
    assert_string_equal(cfg.url, "tcp://u:1");
    tb_opts_free(table, N, &cfg);
}

static void
test_end_of_options(void **state)
{
    (void)state;
    cfg_t cfg;
    char err[128];
    int rest;
    const char *const a[] = { "prog", "-v", "--", "-s", "x", NULL };
    check_lists(a, "", &cfg);
    assert_int_equal(cfg.verbose, 1);
    assert_int_equal(parse(a, &cfg, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 3);                   /* "-s" is an argument */
    tb_opts_free(table, N, &cfg);
    const char *const b[] = { "prog", "word", "-s", "x", NULL };
    assert_int_equal(parse(b, &cfg, &rest, err, sizeof err), 0);
    assert_int_equal(rest, 1);
    assert_null(cfg.sources);
    tb_opts_free(table, N, &cfg);
    /* an unknown option stops the parse and is named */
    const char *const c[] = { "prog", "-s", "x", "--unknown", "-s", "y", NULL };
    assert_int_equal(parse(c, &cfg, &rest, err, sizeof err), -1);
    assert_string_equal(err, "unknown option '--unknown' (see --help)");
    tb_opts_free(table, N, &cfg);                /* what was collected is freed */
    assert_null(cfg.sources);
}

static void
test_missing_values(void **state)
{
    (void)state;
    cfg_t cfg;
    char err[128];
    int rest;
    const struct { const char *words[4]; const char *want; } cases[] = {
        { { "prog", "-s", NULL, NULL }, "-s (--sources) needs a value (URL)" },
        { { "prog", "--sources", NULL, NULL }, "--sources needs a value (URL)" },
        { { "prog", "-vs", NULL, NULL }, "-s (--sources) needs a value (URL)" },
        { { "prog", "--filter", NULL, NULL }, "--filter needs a value (K:V)" },
        { { "prog", "-s", "a", "-s" }, "-s (--sources) needs a value (URL)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *words[5] = { NULL, NULL, NULL, NULL, NULL };
        memcpy(words, cases[i].words, sizeof cases[i].words);
        err[0] = '\0';
        assert_int_equal(parse(words, &cfg, &rest, err, sizeof err), -1);
        assert_string_equal(err, cases[i].want);
        tb_opts_free(table, N, &cfg);
    }
}

static void
test_set_config_file_and_defaults(void **state)
{
    (void)state;
    cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[256];
    assert_int_equal(tb_opts_defaults(table, N, &cfg, err, sizeof err), 0);
    assert_int_equal(tb_opts_set(table, N, &cfg, "sources", "tcp://a:1", err, sizeof err), 0);
    assert_int_equal(tb_opts_set(table, N, &cfg, "sources", "tcp://b:2", err, sizeof err), 0);

    char path[] = "/tmp/tb-test-opts-list-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "# each line adds one\n"
                        "sources = tcp://c:3\n"
                        "filter = mtype:x\n"
                        "sources = \"tcp://d:4, tcp://e:5\"\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_int_equal(tb_opts_parse_file(table, N, &cfg, path, err, sizeof err), 0);
    char got[512];
    lists_text(&cfg, got, sizeof got);
    assert_string_equal(got, "sources=tcp://a:1 sources=tcp://b:2 sources=tcp://c:3 "
                             "sources=tcp://d:4, tcp://e:5 filter=mtype:x");

    /* a list option without a value in a file is an error naming the line */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    const char bad[] = "filter = a:b\nsources\n";
    assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd);
    assert_int_equal(tb_opts_parse_file(table, N, &cfg, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: 'sources' needs a value"));
    unlink(path);
    assert_int_equal(tb_opts_list_count(cfg.filter), 2);  /* line 1 was applied */

    /* a path that opens but cannot be read (a directory) is an error, not
     * an empty config */
    assert_int_equal(tb_opts_parse_file(table, N, &cfg, "/tmp", err, sizeof err), -1);
    assert_non_null(strstr(err, "/tmp: "));

    /* defaults empty the lists again (and free what they held) */
    assert_int_equal(tb_opts_defaults(table, N, &cfg, err, sizeof err), 0);
    assert_null(cfg.sources);
    assert_null(cfg.filter);
    tb_opts_free(table, N, &cfg);
    tb_opts_free(table, N, &cfg);                /* twice is harmless */
}

static void
test_a_list_row_with_a_default_is_refused(void **state)
{
    (void)state;
    typedef struct { char **items; } one_t;
    static const tb_opt_t with_default[] = {
        { "item", 'i', TB_OPT_LIST, offsetof(one_t, items), "x", 0, 0, "X", "", false },
    };
    one_t one = { NULL };
    char err[128] = "";
    assert_int_equal(tb_opts_defaults(with_default, 1, &one, err, sizeof err), -1);
    assert_string_equal(err, "--item: a list option has no default");
    assert_null(one.items);
}

static void
test_help_shows_a_list_like_a_string(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    tb_opts_print_help(table, N, out, "Usage: prog", NULL);
    fclose(out);
    assert_non_null(strstr(text, "-s, --sources URL"));
    assert_non_null(strstr(text, "    --filter K:V"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_bundles_and_values_that_look_like_options),
        cmocka_unit_test(test_end_of_options),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_set_config_file_and_defaults),
        cmocka_unit_test(test_a_list_row_with_a_default_is_refused),
        cmocka_unit_test(test_help_shows_a_list_like_a_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
