/*
 * tb_v2_json.c - just enough JSON reading for the v2 client: walk the
 * members of an object and hand back each value as a span.
 *
 * Why this exists: a joining client reads its whole directory at once
 * (100 000 Things is about 10 MB of snapshot batches); building a DOM for
 * it costs most of the join time in malloc and free.  The messages have a
 * fixed shape, so the client walks them in place: values it only passes on
 * (data, ts, documentation_url) are checked with the codec's one-pass
 * validator (tb_json_check: full grammar, UTF-8, depth) and handed over as
 * spans; the few it reads itself (type, ns, seq, prev, epoch...) are read
 * strictly here.  Anything that is not well-formed is refused.
 */
#include "tb_v2sync_int.h"
#include "tb_proto.h"
#include <string.h>

#define MAX_DEPTH 512

/* bytes that can appear in numbers and in true/false/null */
static const bool literal_char[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['e'] = 1,
    ['E'] = 1, ['t'] = 1, ['r'] = 1, ['u'] = 1, ['f'] = 1, ['a'] = 1, ['l'] = 1,
    ['s'] = 1, ['n'] = 1,
};

static const char *
ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': returns the byte after the closing quote, or NULL. */
static const char *
skip_string(const char *p, const char *end, bool *escaped)
{
    *escaped = false;
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            *escaped = true;
            if (++p >= end)
                return NULL;
        } else if ((unsigned char)*p < 0x20) {
            return NULL;
        }
    }
    return NULL;
}

/* Structural skip of one value (exact checking is tb_json_check's job). */
static const char *
skip_value(const char *p, const char *end, int depth)
{
    if (p >= end || depth > MAX_DEPTH)
        return NULL;
    bool esc;
    if (*p == '"')
        return skip_string(p, end, &esc);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if (p >= end || *p != '"' || !(p = skip_string(p, end, &esc)))
                    return NULL;
                p = ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p = ws(p + 1, end);
            }
            if (!(p = skip_value(p, end, depth + 1)))
                return NULL;
            p = ws(p, end);
            if (p < end && *p == ',') {
                p = ws(p + 1, end);
                continue;
            }
            return p < end && *p == close ? p + 1 : NULL;
        }
    }
    const char *start = p;
    while (p < end && literal_char[(unsigned char)*p])
        p++;
    return p > start ? p : NULL;
}

bool
v2_json_members(const char *text, size_t len, v2_member_fn fn, void *arg)
{
    const char *p = text, *end = text + len;
    p = ws(p, end);
    if (p >= end || *p != '{')
        return false;
    p = ws(p + 1, end);
    if (p < end && *p == '}')
        return ws(p + 1, end) == end;
    for (;;) {
        bool esc;
        if (p >= end || *p != '"')
            return false;
        const char *k = p + 1, *kend = skip_string(p, end, &esc);
        if (!kend || esc) /* our keys never need escapes */
            return false;
        p = ws(kend, end);
        if (p >= end || *p != ':')
            return false;
        p = ws(p + 1, end);
        const char *v = p;
        if (!(p = skip_value(p, end, 1)))
            return false;
        if (!fn(arg, k, (size_t)(kend - 1 - k), v, (size_t)(p - v)))
            return false;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        return p < end && *p == '}' && ws(p + 1, end) == end;
    }
}

bool
v2_json_u64(const char *v, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && v[0] == '0'))
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

bool
v2_json_plain_string(const char *v, size_t len, const char **s, size_t *slen)
{
    bool esc;
    if (len < 2 || v[0] != '"' || skip_string(v, v + len, &esc) != v + len || esc)
        return false;
    *s = v + 1;
    *slen = len - 2;
    return true;
}

bool
v2_json_valid(const char *v, size_t len)
{
    return tb_json_check(v, len, NULL, NULL) == TB_REASON_OK;
}

bool
v2_json_u64_array(const char *v, size_t len, size_t want_index, size_t *count,
                  uint64_t *at_index)
{
    const char *p = v, *end = v + len;
    if (p >= end || *p != '[')
        return false;
    *count = 0;
    p = ws(p + 1, end);
    if (p < end && *p == ']')
        return p + 1 == end;
    for (;;) {
        const char *s = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        uint64_t x;
        if (!v2_json_u64(s, (size_t)(p - s), &x))
            return false;
        if (*count == want_index)
            *at_index = x;
        (*count)++;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        return p < end && *p == ']' && p + 1 == end;
    }
}
