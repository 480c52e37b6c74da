/*
 * ref_decode.h - reference thing_update decoders for differential tests.
 *
 * Why this exists: our decoders are hand-written single-pass scanners; the
 * way to trust them is to compare every verdict and every decoded field
 * with decoders built on independent implementations: jansson's parser and
 * DOM for JSON, msgpack-c's unpacker (+ jansson for UTF-8 checks) for
 * msgpack, and a POSIX regex for the namespace rule.  These follow the rule
 * order documented in proto/PROTOCOL.md, written from the spec, not from
 * our code.  Used by test_proto_corpus and the fuzz targets.
 */
#ifndef REF_DECODE_H
#define REF_DECODE_H
#include "tb_proto.h"
#include <jansson.h>

typedef struct {
    char   *ns;          /* malloc'd, NUL-terminated */
    size_t  ns_len;
    json_t *data;        /* owned */
    bool    has_ts;
    double  ts;
    json_t *doc;         /* owned string, or NULL */
} ref_update_t;

/* Verdict meaning "the reference cannot decide this input" (msgpack whose
 * declared counts would make msgpack-c allocate gigabytes). */
#define REF_SKIP ((tb_reason_t)1000)

void ref_update_clear(ref_update_t *u);

/* true if ns[0..len) matches the namespace rule (regex based). */
bool ref_ns_valid(const char *ns, size_t len);

tb_reason_t ref_decode_json(const void *in, size_t len, const tb_limits_t *lim,
                            ref_update_t *out);

/* msgpack-c nests at most 32 containers that have elements: run both
 * decoders with max_depth <= REF_MSGPACK_MAX_DEPTH. */
#define REF_MSGPACK_MAX_DEPTH 32u
tb_reason_t ref_decode_msgpack(const void *in, size_t len, const tb_limits_t *lim,
                               ref_update_t *out);

/* Compare our verdict and output with the reference's.  Returns NULL when
 * they agree, else a static description of the disagreement.
 * tolerate_depth: accept too_deep vs bad_msgpack (see ref_decode.c). */
const char *ref_compare(tb_reason_t ours, const tb_update_t *u,
                        tb_reason_t ref, const ref_update_t *r,
                        bool tolerate_depth);

/* Run both decoders on one input and compare; NULL when they agree.
 * dec must have been created with lim. */
const char *ref_check_json(tb_decoder_t *dec, const tb_limits_t *lim,
                           const void *in, size_t len);
const char *ref_check_msgpack(tb_decoder_t *dec, const tb_limits_t *lim,
                              const void *in, size_t len);

#endif
