/*
 * fuzz_common.h - checks shared by the libFuzzer targets.
 *
 * Why this exists: a fuzz target is only as good as what it asserts.
 * Beyond "no crash, no sanitizer report", each input is decoded by our
 * decoder and by the reference decoder (ref_decode.c: jansson, msgpack-c),
 * which must agree; every accepted update is re-encoded and the result must
 * be one valid JSON object for both our checker and jansson.  Any
 * disagreement aborts, so libFuzzer saves the input.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tb_proto.h"
#include "ref_decode.h"

static void
fuzz_fail(const char *what, const char *why)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, why);
    abort();
}

/* The republished message must be valid JSON with the decoded fields. */
static void
fuzz_check_encoded(const tb_update_t *u)
{
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_encode_update(&b, u->ns, u->ns_len, u->data, u->data_len,
                     u->has_ts ? u->ts_json : "1.0", u->has_ts ? u->ts_json_len : 3,
                     u->doc_url, u->doc_url_len, 42);
    if (tb_buf_failed(&b))
        fuzz_fail("encode", "buffer failed");
    tb_limits_t any = { .max_input = SIZE_MAX, .max_depth = TB_MAX_DEPTH_CAP };
    if (tb_json_check(b.data, b.len, &any, NULL) != TB_REASON_OK)
        fuzz_fail("encode", "our checker rejects the encoded update");
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    if (!j || json_object_size(j) != 6
        || json_integer_value(json_object_get(j, "seq")) != 42
        || json_string_length(json_object_get(j, "ns")) != u->ns_len
        || memcmp(json_string_value(json_object_get(j, "ns")), u->ns, u->ns_len) != 0)
        fuzz_fail("encode", "jansson does not read the encoded update back");
    json_decref(j);
    tb_buf_free(&b);
}

#endif
