/*
 * tb_ns.c - the namespace rule and the small tree operations on names.
 *
 * Why this exists: every component (broker, adaptor and client libraries,
 * tools) must agree byte for byte on which names are valid and how a name
 * relates to its parent, so the rule lives in exactly one place.  The
 * broker validates the ns of every incoming update on its hot path, so the
 * check is a single pass over a 256-entry class table, no regex, no
 * allocation.
 */
#include "tb_ns.h"
#include <string.h>

/* Byte classes: 1 = may start a part ([a-z]); 2 = may follow ([a-z0-9_-]). */
enum { NS_FIRST = 1, NS_REST = 2 };

static const unsigned char ns_class[256] = {
    ['a'] = 3, ['b'] = 3, ['c'] = 3, ['d'] = 3, ['e'] = 3, ['f'] = 3,
    ['g'] = 3, ['h'] = 3, ['i'] = 3, ['j'] = 3, ['k'] = 3, ['l'] = 3,
    ['m'] = 3, ['n'] = 3, ['o'] = 3, ['p'] = 3, ['q'] = 3, ['r'] = 3,
    ['s'] = 3, ['t'] = 3, ['u'] = 3, ['v'] = 3, ['w'] = 3, ['x'] = 3,
    ['y'] = 3, ['z'] = 3,
    ['0'] = 2, ['1'] = 2, ['2'] = 2, ['3'] = 2, ['4'] = 2,
    ['5'] = 2, ['6'] = 2, ['7'] = 2, ['8'] = 2, ['9'] = 2,
    ['_'] = 2, ['-'] = 2,
};

bool
tb_ns_part_valid(const char *part, size_t len)
{
    if (len == 0 || len > TB_NS_PART_MAX || !part)
        return false;
    const unsigned char *p = (const unsigned char *)part;
    if (!(ns_class[p[0]] & NS_FIRST))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!(ns_class[p[i]] & NS_REST))
            return false;
    return true;
}

bool
tb_ns_valid(const char *ns, size_t len)
{
    if (len == 0)
        return true;
    if (!ns || len > TB_NS_MAX_LEN)
        return false;
    const unsigned char *p = (const unsigned char *)ns;
    size_t part_start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '.') {
            size_t part_len = i - part_start;
            if (part_len == 0 || part_len > TB_NS_PART_MAX)
                return false;
            part_start = i + 1;
        }
        else if (i == part_start) {
            if (!(ns_class[p[i]] & NS_FIRST))
                return false;
        }
        else if (!(ns_class[p[i]] & NS_REST))
            return false;
    }
    return true;
}

size_t
tb_ns_parent_len(const char *ns, size_t len, bool *has_parent)
{
    if (has_parent)
        *has_parent = len > 0;
    if (len == 0 || !ns)
        return 0;
    const char *dot = memrchr(ns, '.', len);
    return dot ? (size_t)(dot - ns) : 0;
}

bool
tb_ns_within(const char *ns, size_t ns_len, const char *ancestor, size_t anc_len)
{
    if (anc_len == 0)
        return true;
    if (ns_len < anc_len || memcmp(ns, ancestor, anc_len) != 0)
        return false;
    return ns_len == anc_len || ns[anc_len] == '.';
}

size_t
tb_ns_depth(const char *ns, size_t len)
{
    if (len == 0 || !ns)
        return 0;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += ns[i] == '.';
    return n;
}

bool
tb_ns_next_part(const char *ns, size_t len, size_t *pos,
                const char **part, size_t *part_len)
{
    /* *pos == len + 1 marks "past the last part"; the root has no parts. */
    if (len == 0 || !ns || *pos > len)
        return false;
    const char *start = ns + *pos;
    const char *dot = memchr(start, '.', len - *pos);
    size_t n = dot ? (size_t)(dot - start) : len - *pos;
    *part = start;
    *part_len = n;
    *pos += n + 1;
    return true;
}

int
tb_ns_join(char *out, size_t cap, const char *base, const char *sub)
{
    if (!out || !base || !sub)
        return -1;
    size_t bl = strlen(base), sl = strlen(sub);
    size_t total = bl + sl + (bl && sl ? 1 : 0);
    if (total >= cap || total > TB_NS_MAX_LEN)
        return -1;
    /* Both pieces valid and the length bounded make the join valid; checking
     * before writing leaves out untouched on failure. */
    if (!tb_ns_valid(base, bl) || !tb_ns_valid(sub, sl))
        return -1;
    memmove(out, base, bl);
    size_t n = bl;
    if (bl && sl)
        out[n++] = '.';
    memmove(out + n, sub, sl);
    out[total] = '\0';
    return (int)total;
}
