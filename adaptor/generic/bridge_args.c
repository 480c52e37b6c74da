/*
 * bridge_args.c - pulls the repeatable options (-s, --filter,
 * --projections) out of argv before tb_opts sees the rest.
 *
 * Why this exists: see bridge_args.h.  The walk must agree with
 * tb_opts_parse_argv on which word is an option and which is a value,
 * otherwise "--ns -s" or "-vs URL" would be read differently by the two
 * passes; the rules are the ones documented in common/tb_opts.c.
 */
#include "bridge_args.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_bridge_args_t {
    char **argv;       /* the kept arguments, NULL-terminated */
    int    argc;
    char **owned;      /* strings we allocated ("-v" split off "-vs URL") */
    size_t nowned;
};

static int
fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool
takes_value(const tb_opt_t *row)
{
    return row->type != TB_OPT_FLAG && row->type != TB_OPT_COUNT;
}

static const tb_opt_t *
find_long(const tb_opt_t *table, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].long_name) == len && memcmp(table[i].long_name, name, len) == 0)
            return &table[i];
    return NULL;
}

static const tb_opt_t *
find_short(const tb_opt_t *table, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].short_name && table[i].short_name == c)
            return &table[i];
    return NULL;
}

static bool
is_repeatable(const tb_opt_t *row, const char *const *repeatable)
{
    if (!row || !takes_value(row))
        return false;
    for (size_t i = 0; repeatable && repeatable[i]; i++)
        if (strcmp(repeatable[i], row->long_name) == 0)
            return true;
    return false;
}

static void
keep(tb_bridge_args_t *self, char *arg)
{
    self->argv[self->argc++] = arg;
}

static char *
own(tb_bridge_args_t *self, char *s)
{
    if (s)
        self->owned[self->nowned++] = s;
    return s;
}

void
tb_bridge_args_destroy(tb_bridge_args_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_bridge_args_t *self = *self_p;
    for (size_t i = 0; i < self->nowned; i++)
        free(self->owned[i]);
    free(self->owned);
    free(self->argv);
    free(self);
    *self_p = NULL;
}

tb_bridge_args_t *
tb_bridge_args_split(const tb_opt_t *table, size_t n, const char *const *repeatable,
                     int argc, char **argv, tb_bridge_arg_fn *fn, void *ctx,
                     int *out_argc, char ***out_argv, char *errbuf, size_t errlen)
{
    tb_bridge_args_t *self = calloc(1, sizeof *self);
    if (!self)
        goto nomem;
    size_t cap = (size_t)(argc > 0 ? argc : 1) + 1;
    self->argv = calloc(cap, sizeof *self->argv);
    self->owned = calloc(cap, sizeof *self->owned);
    if (!self->argv || !self->owned)
        goto nomem;
    if (argc > 0)
        keep(self, argv[0]);
    int i = 1;
    for (; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0 || arg[0] != '-' || arg[1] == '\0')
            break;                                  /* the rest is not options */
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const tb_opt_t *row = find_long(table, n, name, len);
            if (is_repeatable(row, repeatable)) {
                const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!value) {
                    fail(errbuf, errlen, "--%s needs a value (%s)", row->long_name,
                         row->metavar ? row->metavar : "VALUE");
                    goto fail;
                }
                if (fn(ctx, row, value, errbuf, errlen) != 0)
                    goto fail;
                continue;
            }
            keep(self, arg);
            if (row && takes_value(row) && !eq && i + 1 < argc)
                keep(self, argv[++i]);
            continue;
        }
        /* a bundle of short options: "-v", "-vv", "-s URL", "-vsURL" */
        bool consumed_next = false;
        for (const char *p = arg + 1; *p; p++) {
            const tb_opt_t *row = find_short(table, n, *p);
            if (!row || !takes_value(row))
                continue;                           /* flags, or unknown: tb_opts decides */
            if (!is_repeatable(row, repeatable)) {
                keep(self, arg);                    /* its value is the rest or the next word */
                if (!p[1] && i + 1 < argc) {
                    keep(self, argv[++i]);
                }
                consumed_next = true;
                break;
            }
            const char *value = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!value) {
                fail(errbuf, errlen, "-%c (--%s) needs a value (%s)", *p, row->long_name,
                     row->metavar ? row->metavar : "VALUE");
                goto fail;
            }
            size_t flags_before = (size_t)(p - (arg + 1));
            if (flags_before) {                     /* keep "-v" of "-vs URL" */
                char *rest = own(self, strndup(arg, flags_before + 1));
                if (!rest)
                    goto nomem;
                keep(self, rest);
            }
            if (fn(ctx, row, value, errbuf, errlen) != 0)
                goto fail;
            consumed_next = true;
            break;
        }
        if (!consumed_next)
            keep(self, arg);
    }
    for (; i < argc; i++)
        keep(self, argv[i]);
    self->argv[self->argc] = NULL;
    *out_argc = self->argc;
    *out_argv = self->argv;
    return self;
nomem:
    fail(errbuf, errlen, "out of memory");
fail:
    tb_bridge_args_destroy(&self);
    return NULL;
}
