/*
 * tb_opts.c - one table of option rows drives argv, config files, --help
 * and defaults.
 *
 * Why this exists: programs describe each option once (tb_opts.h) so that
 * the command line, the config file, the help text and the man-page check
 * can never disagree.  The argv parser is our own (not getopt_long) so that
 * it keeps no global state and can be called repeatedly, e.g. from unit
 * tests; it follows getopt_long's spelling rules: "--name=value",
 * "--name value", "-x value", "-xvalue", bundled short flags "-vv", "--"
 * ends the options.  Parsing stops at the first non-option argument.
 * An option of type LIST keeps every occurrence, so programs need no pass
 * of their own over argv for options that may be repeated.
 */
#include "tb_opts.h"
#include "tb_error.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *
field(const tb_opt_t *row, void *config)
{
    return (char *)config + row->offset;
}

static const tb_opt_t *
find_long(const tb_opt_t *table, size_t n, const char *name, size_t name_len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].long_name) == name_len
            && memcmp(table[i].long_name, name, name_len) == 0)
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
takes_argument(const tb_opt_t *row)
{
    return row->type != TB_OPT_FLAG && row->type != TB_OPT_COUNT;
}

static bool
has_range(const tb_opt_t *row)
{
    return row->min != row->max;
}

static int
parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* Range check shared by INT/DOUBLE/SIZE; the row's bounds are doubles so
 * they can describe every type; we compare in long double to stay exact
 * for integers up to 2^63. */
static int
check_range(const tb_opt_t *row, long double v, const char *text,
            char *errbuf, size_t errlen)
{
    if (!has_range(row))
        return 0;
    if (v < (long double)row->min)
        return tb_errbuf_set(errbuf, errlen, "--%s: %s is below %.17g", row->long_name,
                             text, row->min);
    if (v > (long double)row->max)
        return tb_errbuf_set(errbuf, errlen, "--%s: %s is above %.17g", row->long_name,
                             text, row->max);
    return 0;
}

static int
parse_size(const char *text, size_t *out)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno == ERANGE)
        return -1;
    unsigned long long mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024ull; end++; break;
    case 'm': case 'M': mult = 1024ull * 1024; end++; break;
    case 'g': case 'G': mult = 1024ull * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' && mult > 1)        /* accept "KiB"-style spelling */
        end++;
    if ((*end == 'b' || *end == 'B') && mult > 1)
        end++;
    if (*end != '\0')
        return -1;
    if (v > (unsigned long long)(SIZE_MAX / mult))
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

static void
list_free(char ***list_p)
{
    char **list = *list_p;
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
    *list_p = NULL;
}

/* Appends a copy of value; on failure the list is left as it was. */
static int
list_append(char ***list_p, const char *value)
{
    size_t count = tb_opts_list_count(*list_p);
    char *copy = strdup(value);
    char **grown = copy ? realloc(*list_p, (count + 2) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return -1;
    }
    grown[count] = copy;
    grown[count + 1] = NULL;
    *list_p = grown;
    return 0;
}

size_t
tb_opts_list_count(char *const *list)
{
    size_t count = 0;
    while (list && list[count])
        count++;
    return count;
}

/* Set row's field from text.  The value for FLAG is a boolean word, for
 * COUNT an integer (both come from config files or defaults; on the
 * command line they take no argument and go through apply_no_arg). */
static int
set_row(const tb_opt_t *row, void *config, const char *value,
        char *errbuf, size_t errlen)
{
    void *f = field(row, config);
    char *end;
    switch (row->type) {
    case TB_OPT_FLAG: {
        bool b;
        if (parse_bool(value, &b) != 0)
            return tb_errbuf_set(errbuf, errlen, "--%s: '%s' is not a boolean (use true or false)",
                                 row->long_name, value);
        *(bool *)f = b;
        return 0;
    }
    case TB_OPT_COUNT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < 0 || v > 100)
            return tb_errbuf_set(errbuf, errlen, "--%s: '%s' is not a count (0 to 100)",
                                 row->long_name, value);
        *(int *)f = (int)v;
        return 0;
    }
    case TB_OPT_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno == ERANGE || end == value || *end != '\0')
            return tb_errbuf_set(errbuf, errlen, "--%s: '%s' is not an integer",
                                 row->long_name, value);
        if (check_range(row, (long double)v, value, errbuf, errlen) != 0)
            return -1;
        *(long long *)f = v;
        return 0;
    }
    case TB_OPT_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno == ERANGE || end == value || *end != '\0' || !isfinite(v))
            return tb_errbuf_set(errbuf, errlen, "--%s: '%s' is not a number",
                                 row->long_name, value);
        if (check_range(row, (long double)v, value, errbuf, errlen) != 0)
            return -1;
        *(double *)f = v;
        return 0;
    }
    case TB_OPT_SIZE: {
        size_t v;
        if (parse_size(value, &v) != 0)
            return tb_errbuf_set(errbuf, errlen,
                                 "--%s: '%s' is not a size (a number, optionally with k, M or G)",
                                 row->long_name, value);
        if (check_range(row, (long double)v, value, errbuf, errlen) != 0)
            return -1;
        *(size_t *)f = v;
        return 0;
    }
    case TB_OPT_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return tb_errbuf_set(errbuf, errlen, "--%s: out of memory", row->long_name);
        free(*(char **)f);
        *(char **)f = copy;
        return 0;
    }
    case TB_OPT_LIST:
        if (list_append((char ***)f, value) != 0)
            return tb_errbuf_set(errbuf, errlen, "--%s: out of memory", row->long_name);
        return 0;
    }
    return tb_errbuf_set(errbuf, errlen, "--%s: unknown option type", row->long_name);
}

static void
apply_no_arg(const tb_opt_t *row, void *config)
{
    if (row->type == TB_OPT_FLAG)
        *(bool *)field(row, config) = true;
    else
        (*(int *)field(row, config))++;
}

int
tb_opts_defaults(const tb_opt_t *table, size_t n, void *config,
                 char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const tb_opt_t *row = &table[i];
        void *f = field(row, config);
        switch (row->type) {
        case TB_OPT_FLAG:   *(bool *)f = false; break;
        case TB_OPT_COUNT:  *(int *)f = 0; break;
        case TB_OPT_INT:    *(long long *)f = 0; break;
        case TB_OPT_DOUBLE: *(double *)f = 0.0; break;
        case TB_OPT_SIZE:   *(size_t *)f = 0; break;
        case TB_OPT_STRING: free(*(char **)f); *(char **)f = NULL; break;
        case TB_OPT_LIST:
            list_free((char ***)f);
            if (row->default_value)
                return tb_errbuf_set(errbuf, errlen, "--%s: a list option has no default",
                                     row->long_name);
            break;
        }
        if (row->default_value
            && set_row(row, config, row->default_value, errbuf, errlen) != 0)
            return -1;
    }
    return 0;
}

int
tb_opts_set(const tb_opt_t *table, size_t n, void *config,
            const char *name, const char *value, char *errbuf, size_t errlen)
{
    const tb_opt_t *row = find_long(table, n, name, strlen(name));
    if (!row)
        return tb_errbuf_set(errbuf, errlen, "unknown option '%s'", name);
    if (!value)
        value = "";
    return set_row(row, config, value, errbuf, errlen);
}

int
tb_opts_parse_argv(const tb_opt_t *table, size_t n, void *config,
                   int argc, char **argv, bool *wants_help,
                   bool *wants_version, int *rest_index,
                   char *errbuf, size_t errlen)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break;                              /* first non-option */
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
            const tb_opt_t *row = find_long(table, n, name, name_len);
            if (!row) {
                if (wants_help && name_len == 4 && memcmp(name, "help", 4) == 0 && !eq) {
                    *wants_help = true;
                    continue;
                }
                if (wants_version && name_len == 7 && memcmp(name, "version", 7) == 0 && !eq) {
                    *wants_version = true;
                    continue;
                }
                return tb_errbuf_set(errbuf, errlen, "unknown option '--%.*s' (see --help)",
                                     (int)name_len, name);
            }
            if (!takes_argument(row)) {
                if (eq) {
                    if (row->type == TB_OPT_FLAG) {
                        if (set_row(row, config, eq + 1, errbuf, errlen) != 0)
                            return -1;
                        continue;
                    }
                    return tb_errbuf_set(errbuf, errlen, "--%s takes no value", row->long_name);
                }
                apply_no_arg(row, config);
                continue;
            }
            const char *value;
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return tb_errbuf_set(errbuf, errlen, "--%s needs a value (%s)", row->long_name,
                                     row->metavar ? row->metavar : "VALUE");
            if (set_row(row, config, value, errbuf, errlen) != 0)
                return -1;
            continue;
        }
        /* one or more short options bundled: -vv, -p7954, -p 7954 */
        for (const char *p = arg + 1; *p; p++) {
            const tb_opt_t *row = find_short(table, n, *p);
            if (!row) {
                if (wants_help && *p == 'h') {
                    *wants_help = true;
                    continue;
                }
                if (wants_version && *p == 'V') {
                    *wants_version = true;
                    continue;
                }
                return tb_errbuf_set(errbuf, errlen, "unknown option '-%c' (see --help)", *p);
            }
            if (!takes_argument(row)) {
                apply_no_arg(row, config);
                continue;
            }
            const char *value;
            if (p[1])
                value = p + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return tb_errbuf_set(errbuf, errlen, "-%c (--%s) needs a value (%s)", *p,
                                     row->long_name, row->metavar ? row->metavar : "VALUE");
            if (set_row(row, config, value, errbuf, errlen) != 0)
                return -1;
            break;
        }
    }
    if (rest_index)
        *rest_index = i;
    return 0;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

int
tb_opts_parse_file(const tb_opt_t *table, size_t n, void *config,
                   const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tb_errbuf_set(errbuf, errlen, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    char sub[256];
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = trim(eq + 1);
            /* matching quotes around a value are stripped; they do not
             * protect a '#', which already began a comment above */
            size_t vl = strlen(value);
            if (vl >= 2 && ((value[0] == '"' && value[vl - 1] == '"')
                            || (value[0] == '\'' && value[vl - 1] == '\''))) {
                value[vl - 1] = '\0';
                value++;
            }
        }
        char *name = trim(s);
        if (name[0] == '-' && name[1] == '-')       /* tolerate "--name = v" */
            name += 2;
        const tb_opt_t *row = find_long(table, n, name, strlen(name));
        if (!row) {
            rc = tb_errbuf_set(errbuf, errlen, "%s:%d: unknown option '%s'", path, lineno, name);
            break;
        }
        if (row->cli_only) {
            rc = tb_errbuf_set(errbuf, errlen, "%s:%d: '%s' is only accepted on the command line",
                               path, lineno, name);
            break;
        }
        if (!value) {
            if (takes_argument(row)) {
                rc = tb_errbuf_set(errbuf, errlen, "%s:%d: '%s' needs a value (%s = %s)", path,
                                   lineno, name, name, row->metavar ? row->metavar : "VALUE");
                break;
            }
            apply_no_arg(row, config);
            continue;
        }
        if (set_row(row, config, value, sub, sizeof sub) != 0) {
            rc = tb_errbuf_set(errbuf, errlen, "%s:%d: %s", path, lineno, sub);
            break;
        }
    }
    /* fopen succeeds on a directory and getline then fails: a config we
     * could not read must not pass for an empty one */
    if (rc == 0 && ferror(f))
        rc = tb_errbuf_set(errbuf, errlen, "%s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

void
tb_opts_print_help(const tb_opt_t *table, size_t n, FILE *out,
                   const char *usage, const char *footer)
{
    if (usage)
        fprintf(out, "%s\n", usage);
    fprintf(out, "\nOptions:\n");
    char left[128];
    for (size_t i = 0; i < n; i++) {
        const tb_opt_t *row = &table[i];
        const char *mv = takes_argument(row) ? (row->metavar ? row->metavar : "VALUE") : NULL;
        if (row->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", row->short_name, row->long_name,
                     mv ? " " : "", mv ? mv : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", row->long_name, mv ? " " : "",
                     mv ? mv : "");
        fprintf(out, "  %-34s %s", left, row->help ? row->help : "");
        if (row->default_value && row->default_value[0]
            && !(row->type == TB_OPT_FLAG && strcmp(row->default_value, "false") == 0)
            && !(row->type == TB_OPT_COUNT && strcmp(row->default_value, "0") == 0))
            fprintf(out, " (default: %s)", row->default_value);
        if (row->cli_only)
            fprintf(out, " [command line only]");
        fputc('\n', out);
    }
    fprintf(out, "  %-34s %s\n", "-h, --help", "print this help and exit");
    fprintf(out, "  %-34s %s\n", "-V, --version", "print the version and exit");
    if (footer)
        fprintf(out, "\n%s\n", footer);
}

void
tb_opts_free(const tb_opt_t *table, size_t n, void *config)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].type == TB_OPT_STRING) {
            char **f = field(&table[i], config);
            free(*f);
            *f = NULL;
        }
        else if (table[i].type == TB_OPT_LIST)
            list_free(field(&table[i], config));
    }
}
