/*
 * test_bridge_args.c - unit tests of the argv pass that collects the
 * repeatable options of tb-generic-zmq-adaptor (-s, --filter,
 * --projections) before tb_opts parses the rest.
 *
 * Why this exists: the two passes must agree on which word is an option
 * and which is a value; these cases pin the spellings (--x=v, --x v, -xv,
 * -x v, bundles, "--", values that look like options) and check that
 * tb_opts still parses what is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "generic/bridge_args.h"

typedef struct {
    char *sources, *filter, *ns, *url;
    int   verbose;
    bool  pub;
} cfg_t;

static const tb_opt_t table[] = {
    { "sources", 's', TB_OPT_STRING, offsetof(cfg_t, sources), NULL, 0, 0, "URL", "", false },
    { "filter", 0, TB_OPT_STRING, offsetof(cfg_t, filter), NULL, 0, 0, "K:V", "", false },
    { "ns", 0, TB_OPT_STRING, offsetof(cfg_t, ns), NULL, 0, 0, "NS", "", false },
    { "url", 'u', TB_OPT_STRING, offsetof(cfg_t, url), NULL, 0, 0, "URL", "", false },
    { "verbose", 'v', TB_OPT_COUNT, offsetof(cfg_t, verbose), NULL, 0, 0, NULL, "", false },
    { "pub", 0, TB_OPT_FLAG, offsetof(cfg_t, pub), NULL, 0, 0, NULL, "", false },
};
#define N (sizeof table / sizeof table[0])
static const char *const rep[] = { "sources", "filter", NULL };

typedef struct {
    char seen[512];
    int  fail_on_value;   /* callback fails when the value is "BAD" */
} collect_t;

static int
collect(void *ctx, const tb_opt_t *row, const char *value, char *errbuf, size_t errlen)
{
    collect_t *c = ctx;
    if (c->fail_on_value && strcmp(value, "BAD") == 0) {
        snprintf(errbuf, errlen, "bad value");
        return -1;
    }
    size_t used = strlen(c->seen);
    snprintf(c->seen + used, sizeof c->seen - used, "%s%s=%s", used ? " " : "",
             row->long_name, value);
    return 0;
}

/* Splits argv (a NULL-terminated list), checks the collected values and
 * the kept words, then parses the kept words with tb_opts into *cfg. */
static void
check_split(const char *const *words, const char *want_seen, const char *want_kept,
            cfg_t *cfg)
{
    char *argv[32];
    int argc = 0;
    for (; words[argc]; argc++)
        argv[argc] = (char *)words[argc];
    argv[argc] = NULL;
    collect_t c;
    memset(&c, 0, sizeof c);
    int out_argc = -1;
    char **out_argv = NULL;
    char err[256] = "";
    tb_bridge_args_t *s = tb_bridge_args_split(table, N, rep, argc, argv, collect, &c,
                                               &out_argc, &out_argv, err, sizeof err);
    assert_non_null(s);
    assert_string_equal(c.seen, want_seen);
    char kept[512] = "";
    for (int i = 0; i < out_argc; i++) {
        size_t used = strlen(kept);
        snprintf(kept + used, sizeof kept - used, "%s%s", i ? " " : "", out_argv[i]);
    }
    assert_string_equal(kept, want_kept);
    assert_null(out_argv[out_argc]);
    memset(cfg, 0, sizeof *cfg);
    int rest = -1;
    assert_int_equal(tb_opts_parse_argv(table, N, cfg, out_argc, out_argv, NULL, NULL,
                                        &rest, err, sizeof err), 0);
    tb_bridge_args_destroy(&s);
    assert_null(s);
}

static void
test_spellings(void **state)
{
    (void)state;
    cfg_t cfg;
    const char *const a[] = { "prog", "-s", "tcp://a:1", "--sources=tcp://b:2,tcp://c:3",
                              "--sources", "tcp://d:4", "-stcp://e:5", "--ns", "x", NULL };
    check_split(a, "sources=tcp://a:1 sources=tcp://b:2,tcp://c:3 sources=tcp://d:4 "
                   "sources=tcp://e:5", "prog --ns x", &cfg);
    assert_string_equal(cfg.ns, "x");
    assert_null(cfg.sources);
    tb_opts_free(table, N, &cfg);

    const char *const b[] = { "prog", "--filter", "mtype:percept_update", "--filter=a.b:c:d",
                              "-v", NULL };
    check_split(b, "filter=mtype:percept_update filter=a.b:c:d", "prog -v", &cfg);
    assert_int_equal(cfg.verbose, 1);
    tb_opts_free(table, N, &cfg);
}

static void
test_bundles_and_values_that_look_like_options(void **state)
{
    (void)state;
    cfg_t cfg;
    /* "-vs URL": the -v stays for tb_opts, the -s value is collected */
    const char *const a[] = { "prog", "-vvs", "tcp://a:1", "-vstcp://b:2", NULL };
    check_split(a, "sources=tcp://a:1 sources=tcp://b:2", "prog -vv -v", &cfg);
    assert_int_equal(cfg.verbose, 3);
    tb_opts_free(table, N, &cfg);
    /* the value of --ns is "-s": not a sources option */
    const char *const b[] = { "prog", "--ns", "-s", "-u", "--filter", "-s", "x", NULL };
    check_split(b, "sources=x", "prog --ns -s -u --filter", &cfg);
    assert_string_equal(cfg.ns, "-s");
    assert_string_equal(cfg.url, "--filter");
    tb_opts_free(table, N, &cfg);
    /* a value of -s that looks like an option is still its value */
    const char *const c[] = { "prog", "-s", "--pub", "--pub", NULL };
    check_split(c, "sources=--pub", "prog --pub", &cfg);
    assert_true(cfg.pub);
    tb_opts_free(table, N, &cfg);
    /* -uURL keeps its glued value */
    const char *const d[] = { "prog", "-utcp://u:1", "-s", "tcp://s:1", NULL };
    check_split(d, "sources=tcp://s:1", "prog -utcp://u:1", &cfg);
    assert_string_equal(cfg.url, "tcp://u:1");
    tb_opts_free(table, N, &cfg);
}

static void
test_end_of_options(void **state)
{
    (void)state;
    cfg_t cfg;
    const char *const a[] = { "prog", "-v", "--", "-s", "x", NULL };
    check_split(a, "", "prog -v -- -s x", &cfg);
    tb_opts_free(table, N, &cfg);
    const char *const b[] = { "prog", "word", "-s", "x", NULL };
    check_split(b, "", "prog word -s x", &cfg);
    tb_opts_free(table, N, &cfg);
    const char *const c[] = { "prog", "--unknown", "-s", "x", "-Z", NULL };
    char *argv[8];
    for (int i = 0; c[i]; i++)
        argv[i] = (char *)c[i];
    collect_t col;
    memset(&col, 0, sizeof col);
    int oc;
    char **ov;
    char err[128];
    tb_bridge_args_t *s = tb_bridge_args_split(table, N, rep, 5, argv, collect, &col, &oc,
                                               &ov, err, sizeof err);
    assert_non_null(s);                       /* unknown options are left for tb_opts */
    assert_string_equal(col.seen, "sources=x");
    assert_int_equal(oc, 3);
    tb_bridge_args_destroy(&s);
}

static void
test_errors(void **state)
{
    (void)state;
    char err[128];
    int oc;
    char **ov;
    collect_t col;
    const char *const cases[][4] = {
        { "prog", "-s", NULL, NULL },
        { "prog", "--sources", NULL, NULL },
        { "prog", "-vs", NULL, NULL },
        { "prog", "--filter", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *argv[4] = { NULL, NULL, NULL, NULL };
        int argc = 0;
        for (; cases[i][argc]; argc++)
            argv[argc] = (char *)cases[i][argc];
        memset(&col, 0, sizeof col);
        err[0] = '\0';
        assert_null(tb_bridge_args_split(table, N, rep, argc, argv, collect, &col, &oc, &ov,
                                         err, sizeof err));
        assert_non_null(strstr(err, "needs a value"));
    }
    char *argv[] = { (char *)"prog", (char *)"-s", (char *)"ok", (char *)"-s",
                     (char *)"BAD", NULL };
    memset(&col, 0, sizeof col);
    col.fail_on_value = 1;
    assert_null(tb_bridge_args_split(table, N, rep, 5, argv, collect, &col, &oc, &ov,
                                     err, sizeof err));
    assert_string_equal(err, "bad value");
    tb_bridge_args_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_bundles_and_values_that_look_like_options),
        cmocka_unit_test(test_end_of_options),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
