/*
 * bridge_args.h - options that may be given several times (internal).
 *
 * Why this exists: tb_opts keeps one value per option (a repeated STRING
 * option overwrites the previous one), but -s/--sources, --filter and
 * --projections accumulate ("-s A -s B,C" reads three sources).  This pass
 * walks argv with the same spelling rules as tb_opts_parse_argv
 * ("--name=value", "--name value", "-xvalue", "-x value", bundled short
 * flags, "--" and the first non-option end the options), hands every
 * occurrence of a repeatable option to a callback, and leaves the other
 * arguments, in order, for tb_opts_parse_argv.  The rows of the repeatable
 * options stay in the table so --help and the man-page check see them.
 */
#ifndef BRIDGE_ARGS_H
#define BRIDGE_ARGS_H
#include <stdbool.h>
#include <stddef.h>
#include "tb_opts.h"

/* Called for each occurrence; returns 0, or -1 with errbuf set to stop. */
typedef int (tb_bridge_arg_fn)(void *ctx, const tb_opt_t *row, const char *value,
                               char *errbuf, size_t errlen);

typedef struct tb_bridge_args_t tb_bridge_args_t;

/* Splits argv.  repeatable: NULL-terminated list of long names (each must
 * be a row of table taking a value).  On success returns the remaining
 * arguments (argv[0] first, NULL-terminated) through *out_argv and *out_argc,
 * valid until tb_bridge_args_destroy; returns NULL with errbuf set when a
 * repeatable option lacks its value, the callback fails, or memory runs
 * out. */
tb_bridge_args_t *tb_bridge_args_split(const tb_opt_t *table, size_t n,
                                       const char *const *repeatable,
                                       int argc, char **argv,
                                       tb_bridge_arg_fn *fn, void *ctx,
                                       int *out_argc, char ***out_argv,
                                       char *errbuf, size_t errlen);

/* Frees the split; accepts NULL; nulls *self_p. */
void tb_bridge_args_destroy(tb_bridge_args_t **self_p);

#endif
