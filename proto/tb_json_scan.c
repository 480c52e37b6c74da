/*
 * tb_json_scan.c - a single-pass validating JSON scanner (no DOM).
 *
 * Why this exists: the broker must validate every incoming JSON update
 * completely (RFC 8259 grammar, UTF-8, number ranges, depth) at a cost of
 * a few hundred nanoseconds, and must reach the same verdict as jansson,
 * which the clients use.  The scanner walks the bytes once with an explicit
 * bit stack for nesting (no recursion, so hostile nesting cannot exhaust
 * the C stack), allocates nothing, and reports the *first* problem in input
 * order, the way jansson's lexer meets it: a syntax error at a byte that is
 * not valid UTF-8 is a UTF-8 error; within one string, bad escapes, control
 * characters and bad UTF-8 come before unpaired surrogates, which come
 * before U+0000; depth beyond the soft limit is reported only once the
 * whole input proved well-formed (jansson parses first, we check after).
 */
#include "tb_proto_int.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* String byte classes: 0 plain, 1 quote, 2 backslash, 3 control, 4 non-ASCII. */
static const unsigned char str_class[256] = {
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
};

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static inline int
hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

void
tb_json_scan_init(tb_json_scan_t *s, const void *in, size_t len, unsigned max_depth)
{
    /* field by field: err_text is written only on failure */
    s->in = in;
    s->pos = 0;
    s->reason = TB_REASON_OK;
    s->err_off = 0;
    s->err_text[0] = '\0';
    s->str_has_escape = s->str_has_nul = false;
    s->len = len;
    s->max_depth = max_depth > TB_MAX_DEPTH_CAP ? TB_MAX_DEPTH_CAP : max_depth;
    s->deep_at = SIZE_MAX;
}

bool
tb_json_fail(tb_json_scan_t *s, tb_reason_t reason, size_t off, const char *fmt, ...)
{
    if (s->reason != TB_REASON_OK)
        return false;
    if (reason == TB_REASON_BAD_JSON && off < s->len && s->in[off] >= 0x80
        && !tb_utf8_seq_len(s->in + off, s->len - off)) {
        s->reason = TB_REASON_BAD_UTF8;
        s->err_off = off;
        snprintf(s->err_text, sizeof s->err_text, "invalid UTF-8 byte 0x%02x", s->in[off]);
        return false;
    }
    s->reason = reason;
    s->err_off = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err_text, sizeof s->err_text, fmt, ap);
    va_end(ap);
    return false;
}

/* The byte after a token that jansson reads as look-ahead: invalid UTF-8
 * there is reported before anything about the token itself. */
static inline bool
lookahead_ok(tb_json_scan_t *s, size_t off)
{
    if (off < s->len && s->in[off] >= 0x80 && !tb_utf8_seq_len(s->in + off, s->len - off))
        return tb_json_fail(s, TB_REASON_BAD_UTF8, off, "invalid UTF-8 byte 0x%02x", s->in[off]);
    return true;
}

static inline uint32_t
read_hex4(const unsigned char *p)
{
    return (uint32_t)(hex_val(p[0]) << 12 | hex_val(p[1]) << 8 | hex_val(p[2]) << 4 | hex_val(p[3]));
}

static inline bool
is_hex4(const unsigned char *p, size_t avail)
{
    return avail >= 4 && hex_val(p[0]) >= 0 && hex_val(p[1]) >= 0
        && hex_val(p[2]) >= 0 && hex_val(p[3]) >= 0;
}

bool
tb_json_scan_string(tb_json_scan_t *s, bool is_key)
{
    const unsigned char *in = s->in;
    size_t len = s->len;
    size_t i = s->pos + 1;
    size_t surrogate_err = SIZE_MAX;   /* first unpaired surrogate escape */
    uint32_t sur_a = 0, sur_b = 0;
    bool sur_pair = false;             /* the error names two escapes */
    bool expect_low = false;           /* previous escape was a paired high half */
    bool has_escape = false, has_nul = false;
    for (;;) {
        /* eight plain bytes at a time: none is '"', '\\', < 0x20 or >= 0x80 */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, in + i, 8);
            const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t special = ((w - ones * 0x20) | (q - ones) | (b - ones) | w) & highs;
            /* a byte < 0x20, or equal to '"' or '\\' after the xor, borrows
             * into its high bit; bytes >= 0x80 show through w itself.  A
             * borrow can also flag the byte after a special one, never hide
             * one: a flagged word is finished by the byte loop below. */
            if (special)
                break;
            i += 8;
        }
        while (i < len && str_class[in[i]] == 0)
            i++;
        if (i >= len)
            return tb_json_fail(s, TB_REASON_BAD_JSON, len, "premature end of input in a string");
        unsigned char c = in[i];
        switch (str_class[c]) {
        case 1:                       /* closing quote */
            s->pos = i + 1;
            s->str_has_escape = has_escape;
            s->str_has_nul = has_nul;
            if (surrogate_err != SIZE_MAX) {
                if (sur_pair)
                    return tb_json_fail(s, TB_REASON_BAD_JSON, surrogate_err,
                                        "invalid Unicode '\\u%04X\\u%04X'", sur_a, sur_b);
                return tb_json_fail(s, TB_REASON_BAD_JSON, surrogate_err,
                                    "invalid Unicode '\\u%04X'", sur_a);
            }
            if (has_nul && is_key)
                return tb_json_fail(s, TB_REASON_NUL_IN_STRING, s->pos - 1,
                                    "NUL byte in object key not supported");
            return true;
        case 3:
            if (c == '\n')
                return tb_json_fail(s, TB_REASON_BAD_JSON, i, "unexpected newline in a string");
            return tb_json_fail(s, TB_REASON_BAD_JSON, i, "control character 0x%x in a string", c);
        case 4: {
            size_t k = tb_utf8_seq_len(in + i, len - i);
            if (!k)
                return tb_json_fail(s, TB_REASON_BAD_UTF8, i, "invalid UTF-8 byte 0x%02x", c);
            i += k;
            break;
        }
        case 2: {                     /* escape */
            has_escape = true;
            size_t esc = i;
            if (i + 1 >= len)
                return tb_json_fail(s, TB_REASON_BAD_JSON, len, "premature end of input in a string");
            unsigned char e = in[i + 1];
            if (e != 'u') {
                if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f'
                    && e != 'n' && e != 'r' && e != 't')
                    return tb_json_fail(s, TB_REASON_BAD_JSON, i + 1, "invalid escape");
                i += 2;
                expect_low = false;
                break;
            }
            for (size_t h = 0; h < 4; h++) {
                if (i + 2 + h >= len)
                    return tb_json_fail(s, TB_REASON_BAD_JSON, len, "premature end of input in a string");
                if (hex_val(in[i + 2 + h]) < 0)
                    return tb_json_fail(s, TB_REASON_BAD_JSON, i + 2 + h, "invalid escape");
            }
            uint32_t v = read_hex4(in + i + 2);
            i += 6;
            if (expect_low) {         /* second half of a pair checked earlier */
                expect_low = false;
                break;
            }
            if (v == 0)
                has_nul = true;
            else if (v >= 0xD800 && v <= 0xDBFF) {
                if (i + 1 < len && in[i] == '\\' && in[i + 1] == 'u') {
                    if (is_hex4(in + i + 2, len - i - 2)) {
                        uint32_t v2 = read_hex4(in + i + 2);
                        if (v2 >= 0xDC00 && v2 <= 0xDFFF) {
                            expect_low = true;
                            break;
                        }
                        if (surrogate_err == SIZE_MAX) {
                            surrogate_err = esc;
                            sur_a = v; sur_b = v2; sur_pair = true;
                        }
                    }
                    /* broken hex in the next escape: found on the next turn */
                }
                else if (surrogate_err == SIZE_MAX) {
                    surrogate_err = esc;
                    sur_a = v;
                }
            }
            else if (v >= 0xDC00 && v <= 0xDFFF && surrogate_err == SIZE_MAX) {
                surrogate_err = esc;
                sur_a = v;
            }
            break;
        }
        }
    }
}

/* Number at s->pos: '-'? int frac? exp?.  Sets *kind to INTEGER or REAL. */
static bool
scan_number(tb_json_scan_t *s, tb_json_kind_t *kind)
{
    const unsigned char *in = s->in;
    size_t len = s->len, start = s->pos, i = s->pos;
    if (in[i] == '-')
        i++;
    if (i < len && in[i] == '0') {
        i++;
        if (i < len && is_digit(in[i]))
            return tb_json_fail(s, TB_REASON_BAD_JSON, start, "invalid token (leading zero)");
    }
    else if (i < len && is_digit(in[i])) {
        while (i < len && is_digit(in[i]))
            i++;
    }
    else
        return tb_json_fail(s, TB_REASON_BAD_JSON, i, "invalid token");
    size_t int_digits = i - start - (in[start] == '-');
    bool real = false, has_exp = false;
    if (i < len && in[i] == '.') {
        real = true;
        i++;
        if (i >= len || !is_digit(in[i]))
            return tb_json_fail(s, TB_REASON_BAD_JSON, i, "invalid token (digit expected after '.')");
        while (i < len && is_digit(in[i]))
            i++;
    }
    if (i < len && (in[i] == 'e' || in[i] == 'E')) {
        real = has_exp = true;
        i++;
        if (i < len && (in[i] == '+' || in[i] == '-'))
            i++;
        if (i >= len || !is_digit(in[i]))
            return tb_json_fail(s, TB_REASON_BAD_JSON, i, "invalid token (digit expected in exponent)");
        while (i < len && is_digit(in[i]))
            i++;
    }
    if (!lookahead_ok(s, i))
        return false;
    const char *lit = (const char *)in + start;
    if (!real) {
        if (!tb_json_int_fits(lit, i - start))
            return tb_json_fail(s, TB_REASON_BAD_NUMBER, start,
                                in[start] == '-' ? "too big negative integer" : "too big integer");
        *kind = TB_JSON_INTEGER;
    }
    else {
        /* without an exponent only 309+ integer digits can overflow */
        if ((has_exp || int_digits > 308) && tb_json_real_overflows(lit, i - start))
            return tb_json_fail(s, TB_REASON_BAD_NUMBER, start, "real number overflow");
        *kind = TB_JSON_REAL;
    }
    s->pos = i;
    return true;
}

/* A bare word: jansson reads the whole [A-Za-z]* run plus one look-ahead
 * byte, then compares it with true/false/null. */
static bool
scan_word(tb_json_scan_t *s, tb_json_kind_t *kind)
{
    size_t start = s->pos, i = start;
    while (i < s->len && is_alpha(s->in[i]))
        i++;
    if (!lookahead_ok(s, i))
        return false;
    size_t n = i - start;
    const char *w = (const char *)s->in + start;
    if (n == 4 && memcmp(w, "true", 4) == 0)
        *kind = TB_JSON_TRUE;
    else if (n == 5 && memcmp(w, "false", 5) == 0)
        *kind = TB_JSON_FALSE;
    else if (n == 4 && memcmp(w, "null", 4) == 0)
        *kind = TB_JSON_NULL;
    else
        return tb_json_fail(s, TB_REASON_BAD_JSON, start, "invalid token");
    s->pos = i;
    return true;
}

/* jansson's parser looks at a token only after its lexer read all of it,
 * so where a token is not the one expected, a fault inside that token
 * (bad UTF-8, number overflow, broken string) is the verdict.  Returns true
 * when the token at `at` lexes cleanly. */
static bool
token_lexes(tb_json_scan_t *s, size_t at)
{
    if (at >= s->len)
        return true;
    unsigned char c = s->in[at];
    size_t saved = s->pos;
    bool ok = true;
    s->pos = at;
    if (c == '"')
        ok = tb_json_scan_string(s, false);
    else if (c == '-' || is_digit(c)) {
        tb_json_kind_t k;
        ok = scan_number(s, &k);
        if (!ok && s->reason == TB_REASON_BAD_JSON) {   /* malformed: no lexer error */
            s->reason = TB_REASON_OK;
            ok = true;
        }
    }
    else if (is_alpha(c)) {
        size_t i = at;
        while (i < s->len && is_alpha(s->in[i]))
            i++;
        ok = lookahead_ok(s, i);
    }
    else if (c >= 0x80)
        ok = lookahead_ok(s, at);
    s->pos = saved;
    return ok;
}

bool
tb_json_syntax_error(tb_json_scan_t *s, size_t at, tb_reason_t reason, const char *text)
{
    if (!token_lexes(s, at))
        return false;
    return tb_json_fail(s, reason, at, "%s", text);
}

bool
tb_json_scan_value(tb_json_scan_t *s, unsigned base_depth, tb_json_kind_t *kind_out)
{
    /* Bit d-base_depth-1 set: the container at depth d is an object. */
    uint64_t stack[(TB_JSON_HARD_DEPTH + 63) / 64];
    unsigned depth = base_depth;
    tb_json_kind_t kind = 0;
    const unsigned char *in = s->in;
    size_t len = s->len;

value:
    tb_json_skip_ws(s);
    if (depth + 1 > TB_JSON_HARD_DEPTH)
        return tb_json_syntax_error(s, s->pos, TB_REASON_TOO_DEEP, "maximum parsing depth reached");
    if (s->pos >= len)
        return tb_json_fail(s, TB_REASON_BAD_JSON, len, "unexpected end of input");
    switch (in[s->pos]) {
    case '{':
    case '[': {
        bool is_obj = in[s->pos] == '{';
        depth++;
        if (depth > s->max_depth && s->deep_at == SIZE_MAX)
            s->deep_at = s->pos;
        unsigned d = depth - base_depth - 1;
        if (is_obj)
            stack[d / 64] |= (uint64_t)1 << (d % 64);
        else
            stack[d / 64] &= ~((uint64_t)1 << (d % 64));
        s->pos++;
        tb_json_skip_ws(s);
        if (s->pos < len && in[s->pos] == (is_obj ? '}' : ']')) {
            s->pos++;
            depth--;
            kind = is_obj ? TB_JSON_OBJECT : TB_JSON_ARRAY;
            goto after_value;
        }
        if (is_obj)
            goto key;
        goto value;
    }
    case '"':
        if (!tb_json_scan_string(s, false))
            return false;
        if (s->str_has_nul)
            return tb_json_fail(s, TB_REASON_NUL_IN_STRING, s->pos - 1,
                                "\\u0000 is not allowed in a string");
        kind = TB_JSON_STRING;
        goto after_value;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (!scan_number(s, &kind))
            return false;
        goto after_value;
    default:
        if (is_alpha(in[s->pos])) {
            if (!scan_word(s, &kind))
                return false;
            goto after_value;
        }
        return tb_json_fail(s, TB_REASON_BAD_JSON, s->pos, "unexpected character '%c'",
                            in[s->pos] >= 0x20 && in[s->pos] < 0x7f ? in[s->pos] : '?');
    }

key:
    /* just after '{' or ',' in an object, whitespace skipped */
    if (s->pos >= len || in[s->pos] != '"')
        return tb_json_syntax_error(s, s->pos, TB_REASON_BAD_JSON, "string or '}' expected");
    if (!tb_json_scan_string(s, true))
        return false;
    tb_json_skip_ws(s);
    if (s->pos >= len || in[s->pos] != ':')
        return tb_json_syntax_error(s, s->pos, TB_REASON_BAD_JSON, "':' expected");
    s->pos++;
    goto value;

after_value:
    if (depth == base_depth) {
        *kind_out = kind;
        return true;
    }
    tb_json_skip_ws(s);
    {
        unsigned d = depth - base_depth - 1;
        bool in_obj = (stack[d / 64] >> (d % 64)) & 1;
        if (s->pos < len && in[s->pos] == ',') {
            s->pos++;
            if (in_obj) {
                tb_json_skip_ws(s);
                goto key;
            }
            goto value;
        }
        if (s->pos < len && in[s->pos] == (in_obj ? '}' : ']')) {
            s->pos++;
            depth--;
            kind = in_obj ? TB_JSON_OBJECT : TB_JSON_ARRAY;
            goto after_value;
        }
        return tb_json_syntax_error(s, s->pos, TB_REASON_BAD_JSON,
                            in_obj ? "'}' expected" : "']' expected");
    }
}

bool
tb_json_scan_end(tb_json_scan_t *s)
{
    tb_json_skip_ws(s);
    if (s->pos >= s->len)
        return true;
    return tb_json_syntax_error(s, s->pos, TB_REASON_TRAILING_BYTES, "end of input expected");
}

tb_reason_t
tb_json_check(const char *text, size_t len, const tb_limits_t *limits,
              tb_decode_error_t *err)
{
    tb_limits_t lim;
    if (limits)
        lim = *limits;
    else
        tb_limits_default(&lim);
    if (!text && len) {
        tb_set_error(err, TB_REASON_BAD_JSON, NULL, 0, false, "no input");
        return TB_REASON_BAD_JSON;
    }
    if (len > lim.max_input) {
        tb_set_error(err, TB_REASON_TOO_LARGE, NULL, 0, false,
                     "input of %zu bytes exceeds the limit of %zu", len, lim.max_input);
        return TB_REASON_TOO_LARGE;
    }
    tb_json_scan_t s;
    tb_json_kind_t kind;
    tb_json_scan_init(&s, text ? text : "", len, lim.max_depth);
    tb_json_skip_ws(&s);
    if (tb_json_scan_value(&s, 0, &kind) && tb_json_scan_end(&s)) {
        if (s.deep_at == SIZE_MAX)
            return TB_REASON_OK;
        tb_json_fail(&s, TB_REASON_TOO_DEEP, s.deep_at,
                     "nesting deeper than %u levels", s.max_depth);
    }
    tb_set_error(err, s.reason, text, s.err_off, true, "%s", s.err_text);
    return s.reason;
}

bool
tb_json_unescape(const char *lit, size_t len, tb_buf_t *out)
{
    /* lit is a validated literal: escapes are well-formed, surrogates paired */
    const char *p = lit + 1, *end = lit + len - 1;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        if (!bs) {
            tb_buf_append(out, p, (size_t)(end - p));
            break;
        }
        tb_buf_append(out, p, (size_t)(bs - p));
        char e = bs[1];
        p = bs + 2;
        switch (e) {
        case 'b': tb_buf_append_char(out, '\b'); break;
        case 'f': tb_buf_append_char(out, '\f'); break;
        case 'n': tb_buf_append_char(out, '\n'); break;
        case 'r': tb_buf_append_char(out, '\r'); break;
        case 't': tb_buf_append_char(out, '\t'); break;
        case 'u': {
            uint32_t cp = read_hex4((const unsigned char *)p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p + 6 <= end) {
                uint32_t lo = read_hex4((const unsigned char *)p + 2);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            char u[4];
            size_t n;
            if (cp < 0x80) { u[0] = (char)cp; n = 1; }
            else if (cp < 0x800) {
                u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2;
            }
            else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
            }
            else {
                u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
            }
            tb_buf_append(out, u, n);
            break;
        }
        default:  /* '"', '\\', '/' stand for themselves */
            tb_buf_append_char(out, e);
        }
    }
    return !tb_buf_failed(out);
}
