/*
 * tb_opts.h - table-driven command-line and config-file options (internal).
 *
 * Why this exists: every program (thingsbusd, tb-print-events,
 * tb-generic-zmq-adaptor) describes its options once, as a table of rows.
 * The same rows drive argv parsing, config-file parsing ("name = value"
 * lines, '#' comments), --help, the defaults, and the man-page check (a test
 * that every row's --long name appears in the program's man page).
 *
 * Each row points at a field of the caller's config struct (offsetof) so no
 * global state is needed.
 */
#ifndef TB_OPTS_H
#define TB_OPTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    TB_OPT_FLAG,      /* bool, no argument; sets true (or counts for -v) */
    TB_OPT_COUNT,     /* int, no argument; each occurrence adds 1 (-vv) */
    TB_OPT_INT,       /* long long, with min/max */
    TB_OPT_DOUBLE,    /* double, with min/max */
    TB_OPT_STRING,    /* char * (strdup'ed; freed by tb_opts_free) */
    TB_OPT_SIZE,      /* size_t, accepts suffixes k, K, M, G (powers of 1024) */
    TB_OPT_LIST       /* char **, NULL-terminated; see "Lists" below */
} tb_opt_type_t;

/* Lists (TB_OPT_LIST): for options that may be given several times
 * ("-s A -s B").  The field is a `char **` holding every value given, in
 * order, as a NULL-terminated vector of strdup'ed strings; it is NULL while
 * the option was never given.  Each occurrence appends one value: on the
 * command line, each "--name V" / "-x V"; in a config file, each
 * "name = V" line; through tb_opts_set, each call.  Values are kept as
 * given: splitting "B,C" into two is the caller's business.  A LIST row
 * must have no default_value (the default is the empty list; a row with
 * one makes tb_opts_defaults fail).  tb_opts_defaults empties the list and
 * tb_opts_free frees it.  min/max are ignored. */

typedef struct {
    const char   *long_name;   /* "base-port" (also the config-file key) */
    char          short_name;  /* 'p' or 0 */
    tb_opt_type_t type;
    size_t        offset;      /* offsetof(config struct, field) */
    const char   *default_value; /* text, parsed like a user value; NULL = none */
    double        min, max;    /* for INT/DOUBLE/SIZE (ignored when min == max) */
    const char   *metavar;     /* "PORT" in --help */
    const char   *help;        /* one line */
    bool          cli_only;    /* not accepted in a config file (e.g. --config) */
} tb_opt_t;

/* Set every field to its row's default.  Returns 0, or -1 with errbuf set
 * if a default does not parse (a programming error, reported not aborted). */
int tb_opts_defaults(const tb_opt_t *table, size_t n, void *config,
                     char *errbuf, size_t errlen);

/* Parse argv (getopt_long semantics; --name=value and --name value).
 * "--help" and "--version" are recognised: *wants_help / *wants_version are
 * set (either may be NULL to treat them as unknown).  Non-option arguments
 * are returned through *rest_index (index of the first one).
 * Returns 0, or -1 with errbuf set ("--base-port: 70000 is above 65535"). */
int tb_opts_parse_argv(const tb_opt_t *table, size_t n, void *config,
                       int argc, char **argv, bool *wants_help,
                       bool *wants_version, int *rest_index,
                       char *errbuf, size_t errlen);

/* Parse a config file of "name = value" lines; errors name file:line. */
int tb_opts_parse_file(const tb_opt_t *table, size_t n, void *config,
                       const char *path, char *errbuf, size_t errlen);

/* Set one option by long name from text (used by both parsers); for a
 * LIST option, appends the text. */
int tb_opts_set(const tb_opt_t *table, size_t n, void *config,
                const char *name, const char *value, char *errbuf, size_t errlen);

/* Print --help: usage line, then one line per row with default. */
void tb_opts_print_help(const tb_opt_t *table, size_t n, FILE *out,
                        const char *usage, const char *footer);

/* Free the STRING and LIST fields the parser allocated (and NULL them). */
void tb_opts_free(const tb_opt_t *table, size_t n, void *config);

/* Number of values in a LIST field (0 for NULL). */
size_t tb_opts_list_count(char *const *list);

#endif
