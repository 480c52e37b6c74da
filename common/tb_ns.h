/*
 * tb_ns.h - thingsbus namespaces: validate, split, join, parent, descendant.
 *
 * Why this exists: the namespace rule (PROTOCOL-v1.md) is checked by the
 * broker, the adaptor library, the client library and the tools; one
 * implementation keeps them in agreement.
 *
 * Rule: a namespace is "" (the root) or parts joined by '.', each part
 * matching ^[a-z][a-z0-9_-]{0,63}$.  "A", "a.B", "a.", ".a", "a..b" are
 * invalid.  We additionally bound the whole name to TB_NS_MAX_LEN bytes so
 * that one message cannot create an unbounded chain of parent Things.
 * All functions take explicit lengths; no NUL terminator is needed.
 */
#ifndef TB_NS_H
#define TB_NS_H
#include <stdbool.h>
#include <stddef.h>

#define TB_NS_PART_MAX 64     /* bytes in one part */
#define TB_NS_MAX_LEN  1024   /* bytes in a whole namespace */

/* true if ns[0..len) is a valid namespace; "" (len 0) is the root: valid. */
bool tb_ns_valid(const char *ns, size_t len);

/* true if part[0..len) is one valid part (non-empty, no dots). */
bool tb_ns_part_valid(const char *part, size_t len);

/* Length of the parent's name: "a.b.c" -> 3 ("a.b"), "a" -> 0 (root).
 * The root (len 0) has no parent: returns 0 and *has_parent (if given) is
 * false. */
size_t tb_ns_parent_len(const char *ns, size_t len, bool *has_parent);

/* true if ns is ancestor itself or lies below it ("a.b" is within "a",
 * "ab" is not within "a"; everything is within the root ""). */
bool tb_ns_within(const char *ns, size_t ns_len, const char *ancestor, size_t anc_len);

/* Number of parts (0 for the root). */
size_t tb_ns_depth(const char *ns, size_t len);

/* Iterate parts: start with *pos = 0; each call sets *part and *part_len to the
 * next part and returns true, or returns false at the end. */
bool tb_ns_next_part(const char *ns, size_t len, size_t *pos,
                     const char **part, size_t *part_len);

/* Join base and sub with '.' into out (NUL-terminated).  Either may be ""
 * (then the other is copied).  Returns the joined length, or -1 if it does
 * not fit in cap or the result is not a valid namespace. */
int tb_ns_join(char *out, size_t cap, const char *base, const char *sub);

#endif
