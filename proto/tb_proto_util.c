/*
 * tb_proto_util.c - UTF-8 validation, number checks and error filling
 * shared by the JSON scanner, the msgpack transcoder and the encoders.
 *
 * Why this exists: "is this valid UTF-8", "does this integer fit int64",
 * "does this real overflow" must get one answer whichever wire format the
 * value came in, and the answer must be jansson's (RFC 3629 UTF-8; int64;
 * strtod overflowing to infinity).  Number values are computed without the
 * process locale, since a library cannot know what setlocale() the program
 * called.
 */
#include "tb_proto_int.h"
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t
tb_utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)            /* continuation byte, or overlong 2-byte lead */
        return 0;
    if (c < 0xE0) { need = 2; cp = c & 0x1F; }
    else if (c < 0xF0) { need = 3; cp = c & 0x0F; }
    else if (c < 0xF5) { need = 4; cp = c & 0x07; }
    else
        return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000)
        || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

bool
tb_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = tb_utf8_seq_len(s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

bool
tb_json_int_fits(const char *lit, size_t len)
{
    bool neg = len && lit[0] == '-';
    const char *d = lit + neg;
    size_t n = len - neg;
    if (n < 19)
        return true;
    if (n > 19)
        return false;
    return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* strtod in the "C" locale whatever the program set. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static double
strtod_c(const char *lit, size_t len, bool *overflow)
{
    char small[64];
    char *tmp = small;
    if (len >= sizeof small) {
        tmp = malloc(len + 1);
        if (!tmp) {               /* cannot happen for sane literals; be safe */
            *overflow = false;
            return 0.0;
        }
    }
    memcpy(tmp, lit, len);
    tmp[len] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    errno = 0;
    double v = c_locale ? strtod_l(tmp, NULL, c_locale) : strtod(tmp, NULL);
    *overflow = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
    if (tmp != small)
        free(tmp);
    return v;
}

/* A number literal taken apart: the decimal exponent of its leading
 * non-zero digit, and up to 19 significant digits as an integer. */
typedef struct {
    bool     neg, zero;
    int64_t  e10;          /* exponent of the leading non-zero digit */
    uint64_t mant;         /* the first significant digits */
    int      sig;          /* how many digits mant holds (<= 19) */
    bool     inexact;      /* a non-zero digit did not fit in mant */
    int64_t  mant_exp;     /* value = mant * 10^mant_exp when !inexact */
} num_parts_t;

static void
num_parts(const char *lit, size_t len, num_parts_t *np)
{
    size_t i = 0;
    memset(np, 0, sizeof *np);
    np->zero = true;
    if (i < len && lit[i] == '-') {
        np->neg = true;
        i++;
    }
    int64_t int_digits = 0, first_nz = -1, idx = 0, frac_used = 0, int_dropped = 0;
    bool in_frac = false;
    for (; i < len; i++) {
        char c = lit[i];
        if (c == '.') {
            in_frac = true;
            continue;
        }
        if (c == 'e' || c == 'E')
            break;
        if (!in_frac)
            int_digits++;
        if (c != '0' && first_nz < 0)
            first_nz = idx;
        idx++;
        if (first_nz < 0) {
            frac_used += in_frac;       /* 0.05: the leading zeros scale too */
            continue;
        }
        if (np->sig < 19) {
            np->mant = np->mant * 10 + (uint64_t)(c - '0');
            np->sig++;
            frac_used += in_frac;
        }
        else {
            int_dropped += !in_frac;
            if (c != '0')
                np->inexact = true;
        }
    }
    int64_t exp = 0;
    if (i < len) {                      /* exponent, saturated */
        i++;
        bool eneg = false;
        if (i < len && (lit[i] == '+' || lit[i] == '-'))
            eneg = lit[i++] == '-';
        for (; i < len; i++)
            if (exp < 1000000000)
                exp = exp * 10 + (lit[i] - '0');
        if (eneg)
            exp = -exp;
    }
    if (first_nz < 0)
        return;
    np->zero = false;
    np->e10 = int_digits - 1 - first_nz + exp;
    np->mant_exp = exp - frac_used + int_dropped;
}

bool
tb_json_real_overflows(const char *lit, size_t len)
{
    num_parts_t np;
    num_parts(lit, len, &np);
    if (np.zero || np.e10 < 308)
        return false;
    if (np.e10 > 308)
        return true;
    bool overflow;
    strtod_c(lit, len, &overflow);
    return overflow;
}

double
tb_json_number_value(const char *lit, size_t len)
{
    static const double pow10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    num_parts_t np;
    num_parts(lit, len, &np);
    if (np.zero)
        return np.neg ? -0.0 : 0.0;
    /* Clinger's fast path: an exact mantissa below 2^53 times an exact
     * power of ten is correctly rounded by one IEEE operation. */
    if (!np.inexact && np.mant <= ((uint64_t)1 << 53) && np.mant_exp >= -22 && np.mant_exp <= 22) {
        double m = (double)np.mant;
        double v = np.mant_exp >= 0 ? m * pow10[np.mant_exp] : m / pow10[-np.mant_exp];
        return np.neg ? -v : v;
    }
    bool overflow;
    return strtod_c(lit, len, &overflow);
}

void
tb_set_error(tb_decode_error_t *err, tb_reason_t reason, const char *input,
             size_t off, bool with_position, const char *fmt, ...)
{
    if (!err)
        return;
    err->reason = reason;
    err->offset = off;
    err->line = 0;
    err->column = 0;
    if (with_position && input) {
        int line = 1;
        size_t line_start = 0;
        for (size_t i = 0; i < off; i++)
            if (input[i] == '\n') {
                line++;
                line_start = i + 1;
            }
        err->line = line;
        err->column = (int)(off - line_start) + 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}
