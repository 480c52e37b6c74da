/*
 * tb_proto_int.h - pieces shared by the proto/ sources (not installed).
 *
 * Why this exists: the JSON scanner, the msgpack transcoder and the encoders
 * share the UTF-8 validator, the number checks and the error-filling helper;
 * keeping them in one header lets every decoder give the same verdicts for
 * the same content (a string is valid UTF-8 in both, a number overflows in
 * both at the same point).
 */
#ifndef TB_PROTO_INT_H
#define TB_PROTO_INT_H
#include "tb_proto.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* jansson's own nesting limit (JSON_PARSER_MAX_DEPTH, counting every value
 * level).  Past it the scanner stops at once, like jansson; below it, depth
 * beyond limits.max_depth is reported only after the whole input proved to
 * be well-formed, so verdicts match "parse with jansson, then check". */
#define TB_JSON_HARD_DEPTH 2048u

/* Length of the valid UTF-8 sequence starting at p[0] (p[0] >= 0x80) with
 * n bytes available, or 0 if it is not valid (overlong, surrogate, beyond
 * U+10FFFF, bad continuation, truncated). */
size_t tb_utf8_seq_len(const unsigned char *p, size_t n);

/* true if s[0..n) is entirely valid UTF-8. */
bool tb_utf8_valid(const unsigned char *s, size_t n);

/* Checks of a JSON number literal that the grammar already accepted. */
bool tb_json_int_fits(const char *lit, size_t len);   /* within int64 */
bool tb_json_real_overflows(const char *lit, size_t len); /* strtod gives +-inf */

/* Value of a JSON number literal (grammar already checked), correctly
 * rounded, independent of the process locale. */
double tb_json_number_value(const char *lit, size_t len);

/* Fills *err (if not NULL) for a failure at byte offset off of input.
 * line/column are computed from the input only when with_position. */
void tb_set_error(tb_decode_error_t *err, tb_reason_t reason,
                  const char *input, size_t off, bool with_position,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---------------------------------------------------------- JSON scanner */
typedef enum {
    TB_JSON_STRING = 1, TB_JSON_INTEGER, TB_JSON_REAL, TB_JSON_TRUE,
    TB_JSON_FALSE, TB_JSON_NULL, TB_JSON_OBJECT, TB_JSON_ARRAY
} tb_json_kind_t;

typedef struct {
    const unsigned char *in;
    size_t      len;
    size_t      pos;
    unsigned    max_depth;   /* soft limit (reported after a full parse) */
    size_t      deep_at;     /* offset of the first container beyond it, or SIZE_MAX */
    tb_reason_t reason;      /* first failure */
    size_t      err_off;
    char        err_text[100];
    /* set by tb_json_scan_string for the last string scanned */
    bool        str_has_escape;
    bool        str_has_nul;
} tb_json_scan_t;

void tb_json_scan_init(tb_json_scan_t *s, const void *in, size_t len, unsigned max_depth);

/* Skip JSON whitespace (space, tab, CR, LF). */
static inline void
tb_json_skip_ws(tb_json_scan_t *s)
{
    while (s->pos < s->len) {
        unsigned char c = s->in[s->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        s->pos++;
    }
}

/* Scan one whole value at s->pos (whitespace already skipped) inside
 * base_depth open containers.  Returns true and sets *kind, s->pos just
 * past the value; false with s->reason set. */
bool tb_json_scan_value(tb_json_scan_t *s, unsigned base_depth, tb_json_kind_t *kind);

/* Scan a string literal at s->pos (which is '"').  is_key: a NUL (\u0000)
 * is an error for keys at once; for values it sets str_has_nul and the
 * caller decides (jansson's order).  Returns false with s->reason set. */
bool tb_json_scan_string(tb_json_scan_t *s, bool is_key);

/* After the top-level value: whitespace then end of input, else the
 * verdict jansson gives for the extra token (TRAILING_BYTES, or BAD_UTF8 /
 * BAD_NUMBER / BAD_JSON when that token is itself broken). */
bool tb_json_scan_end(tb_json_scan_t *s);

/* Record a failure at off (a syntax error there becomes BAD_UTF8 when the
 * byte at off starts no valid UTF-8 sequence, as jansson reads it first). */
bool tb_json_fail(tb_json_scan_t *s, tb_reason_t reason, size_t off,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A token of the wrong kind at `at`: reports the token's own lexing fault
 * if it has one, else reason (BAD_JSON or TRAILING_BYTES) with text. */
bool tb_json_syntax_error(tb_json_scan_t *s, size_t at, tb_reason_t reason,
                          const char *text);

/* Decode the string literal lit[0..len) (with its quotes, already
 * validated) into out as UTF-8.  Returns false on OOM. */
bool tb_json_unescape(const char *lit, size_t len, tb_buf_t *out);

#endif
