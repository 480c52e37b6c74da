/*
 * tb_proto.h - the thingsbus wire codec: one place for the wire format.
 *
 * Why this exists: the broker's hot path must validate and republish
 * hundreds of thousands of thing_updates per second, so it cannot build a
 * DOM and re-serialize each message.  The decoders here validate the whole
 * input in one pass (full JSON grammar, UTF-8, depth and size bounds, the
 * thing_update rules of PROTOCOL-v1.md) and hand back *byte spans*: the
 * data value as JSON text, the namespace, the ts as a JSON number and the
 * documentation_url as a JSON string literal.  Encoders splice those spans
 * into the outgoing messages with memcpy.  msgpack input is transcoded to
 * JSON text once, here, so everything downstream sees JSON.
 *
 * Verdicts follow jansson (the reference decoder the tests compare with):
 * what jansson rejects (bad syntax, invalid UTF-8, \u0000 in a string,
 * integers outside int64, reals that overflow, NaN/Infinity) we reject,
 * with the reason jansson's first error implies.  One deliberate
 * difference: jansson 2.14 skips a NUL byte read as look-ahead right after
 * a number or literal ("[1\0]" loads); we reject it (bad_json).  The order
 * of checks and every reason are specified in proto/PROTOCOL.md.
 */
#ifndef TB_PROTO_H
#define TB_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tb_buf.h"

/* ------------------------------------------------------------ reasons */
/* Every rejection has a named reason.  Keep tb_reason_name() in sync. */
typedef enum {
    TB_REASON_OK = 0,
    TB_REASON_BAD_JSON,        /* JSON syntax error (line/column in error) */
    TB_REASON_BAD_MSGPACK,     /* malformed or truncated msgpack */
    TB_REASON_TRAILING_BYTES,  /* bytes after the first complete value */
    TB_REASON_BAD_UTF8,        /* a string is not valid UTF-8 */
    TB_REASON_TOO_DEEP,        /* nesting deeper than limits.max_depth */
    TB_REASON_TOO_LARGE,       /* input larger than limits.max_input */
    TB_REASON_BAD_NUMBER,      /* integer outside int64, real overflow, NaN */
    TB_REASON_NOT_AN_OBJECT,   /* top level is neither object nor list form */
    TB_REASON_MISSING_TYPE,    /* object without "type" */
    TB_REASON_UNKNOWN_TYPE,    /* "type" is not "thing_update" (or not a string) */
    TB_REASON_MISSING_NS,      /* no "ns" */
    TB_REASON_BAD_NS,          /* ns not a string, or breaks the namespace rule */
    TB_REASON_BAD_TS,          /* ts present and neither number nor null */
    TB_REASON_MISSING_DATA,    /* no "data" key */
    TB_REASON_BAD_DOC_URL,     /* documentation_url neither string nor null */
    TB_REASON_BAD_LIST_LENGTH, /* list form with other than 4 elements */
    TB_REASON_BAD_KEY,         /* msgpack map key neither string nor integer */
    TB_REASON_UNSUPPORTED_TYPE,/* msgpack bin/ext or other non-JSON type */
    TB_REASON_NUL_IN_STRING,   /* a string holds U+0000 (JSON \u0000, or a NUL
                                  byte in a msgpack string): jansson-based
                                  readers cannot take it */
    TB_REASON_NOMEM,           /* out of memory while decoding */
    TB_REASON_COUNT
} tb_reason_t;

/* Stable snake_case name of a reason, e.g. "bad_ns"; used in logs,
 * counters and test corpus file names.  Never NULL. */
const char *tb_reason_name(tb_reason_t reason);

/* Look a reason up by its name; returns TB_REASON_COUNT if unknown. */
tb_reason_t tb_reason_from_name(const char *name);

/* Detail of a rejection, in the spirit of jansson's json_error_t. */
typedef struct {
    tb_reason_t reason;
    size_t      offset;   /* byte offset in the input where it was found */
    int         line;     /* 1-based (JSON only; 0 for msgpack) */
    int         column;   /* 1-based, in bytes (JSON only; 0 for msgpack) */
    char        text[120];/* plain words, e.g. "expected ':' after key" */
} tb_decode_error_t;

/* --------------------------------------------------------------- limits */
typedef struct {
    size_t   max_input;   /* bytes; larger inputs are TOO_LARGE before parsing */
    unsigned max_depth;   /* nesting of arrays/objects, the top level is 1;
                             values above TB_MAX_DEPTH_CAP act as the cap */
} tb_limits_t;

#define TB_DEFAULT_MAX_INPUT  (1024u * 1024u)
#define TB_DEFAULT_MAX_DEPTH  64u
#define TB_UDP_MAX_PAYLOAD    65507u
/* Largest usable max_depth.  jansson's parser stops at 2048 value levels
 * (containers plus the scalar inside); JSON nested that deep is TOO_DEEP at
 * once, and a configured max_depth above this cap acts as the cap. */
#define TB_MAX_DEPTH_CAP      2047u

/* Fills the defaults above. */
void tb_limits_default(tb_limits_t *limits);

/* -------------------------------------------------------------- update */
/* One decoded thing_update.  All pointers are spans, valid until the input
 * buffer or the decoder is reused/destroyed (whichever comes first). */
typedef struct {
    const char *ns;        /* namespace, decoded (no escapes), not NUL-terminated */
    size_t      ns_len;
    const char *data;      /* the data value as compact-or-verbatim JSON text */
    size_t      data_len;
    bool        has_ts;    /* false when ts was absent or null */
    double      ts;        /* seconds since 1970 UTC (valid when has_ts) */
    const char *ts_json;   /* ts as a JSON float literal (always has '.' or 'e'),
                              valid when has_ts */
    size_t      ts_json_len;
    const char *doc_url;   /* documentation_url as a JSON string literal with
                              its quotes, or NULL when absent or null */
    size_t      doc_url_len;
} tb_update_t;

/* A decoder owns scratch memory reused across calls (no allocation per
 * message in the steady state).  Not thread-safe: one per thread. */
typedef struct tb_decoder_t tb_decoder_t;

/* Create a decoder with the given limits (NULL = defaults).
 * Returns NULL on out of memory. */
tb_decoder_t *tb_decoder_new(const tb_limits_t *limits);

/* Destroy; accepts NULL and *self_p == NULL; sets *self_p to NULL. */
void tb_decoder_destroy(tb_decoder_t **self_p);

/* Decode one thing_update from JSON text (map form or the 4-element list
 * form [ns, ts, data, documentation_url]).  Leading/trailing JSON
 * whitespace is allowed; anything else after the value is TRAILING_BYTES.
 * On success returns TB_REASON_OK and fills *out: data, doc_url and (for a
 * real literal) ts_json are spans of the input, verbatim; ns points into
 * the input unless it contained escapes (then into the decoder); an integer
 * ts gets ".0" appended in the decoder.  Unknown keys are ignored, the last
 * duplicate key wins.  On failure returns the reason and, if err is not
 * NULL, fills it (line/column of the offending byte). */
tb_reason_t tb_decode_json(tb_decoder_t *self, const void *input, size_t len,
                           tb_update_t *out, tb_decode_error_t *err);

/* Decode one thing_update from a msgpack object (map or list form), the
 * whole input being exactly one object.  Map keys must be strings or
 * integers (integers become decimal strings); bin, ext are rejected;
 * strings must be valid UTF-8 without NUL; NaN/inf and integers above
 * INT64_MAX are BAD_NUMBER.  A declared array/map length larger than the
 * bytes that remain is BAD_MSGPACK at once (no allocation in proportion to
 * a declared count), as is nesting beyond max_depth (TOO_DEEP).  data and
 * doc_url are transcoded to JSON text in the decoder, ts_json is written
 * with tb_json_write_double, ns points into the input.  Structure errors
 * come before TRAILING_BYTES, which comes before content errors, which come
 * before the thing_update rules. */
tb_reason_t tb_decode_msgpack(tb_decoder_t *self, const void *input, size_t len,
                              tb_update_t *out, tb_decode_error_t *err);

/* Validate that text[0..len) is exactly one JSON value (any type, surrounded
 * by optional whitespace) within the limits.  Used by the adaptor library to
 * check caller data.  Returns TB_REASON_OK or the reason. */
tb_reason_t tb_json_check(const char *text, size_t len, const tb_limits_t *limits,
                          tb_decode_error_t *err);

/* ------------------------------------------------------------ encoders */
/* Append a JSON string literal (with quotes) for the UTF-8 bytes s[0..n),
 * escaping '"', '\\' and control characters. */
void tb_json_write_string(tb_buf_t *out, const char *s, size_t n);

/* Append a double as a JSON float literal that reads back as the same
 * double, always containing '.' or 'e'.  For 1e-4 <= |v| < 1e15: plain
 * decimal notation with the fewest digits that round-trip (the digits
 * Python's repr gives: "5.0", "0.1", "1423351104.945", "0.0001"); other
 * values: the shortest of %.15g/%.16g/%.17g that round-trips ("1e+300",
 * "2e-05", "1e+15").
 * Zero keeps its sign ("-0.0"); non-finite values are written as null. */
void tb_json_write_double(tb_buf_t *out, double v);

/* Append the normalized v1 thing_update the broker republishes:
 * {"type":"thing_update","ns":"…","data":…,"ts":…,"documentation_url":…}
 * ts_json must be a JSON number literal; doc_url a JSON string literal or
 * NULL (written as null).  seq >= 0 adds ,"seq":N before the closing brace
 * (protocol v2 extension, ignored by v1 readers); pass -1 to omit it. */
void tb_encode_update(tb_buf_t *out, const char *ns, size_t ns_len,
                      const char *data, size_t data_len,
                      const char *ts_json, size_t ts_json_len,
                      const char *doc_url, size_t doc_url_len,
                      int64_t seq);

/* Append the 4-element list form [ns, ts, data, documentation_url] of a
 * thing_update (what firmware-style adaptors send); same spans as
 * tb_encode_update, doc_url NULL is written as null. */
void tb_encode_update_list(tb_buf_t *out, const char *ns, size_t ns_len,
                           const char *data, size_t data_len,
                           const char *ts_json, size_t ts_json_len,
                           const char *doc_url, size_t doc_url_len);

/* Append one v1 snapshot entry (no leading comma):
 * "ns":{"data":…,"ts":…,"ns":"…","documentation_url":…}  */
void tb_encode_snapshot_entry(tb_buf_t *out, const char *ns, size_t ns_len,
                              const char *data, size_t data_len,
                              const char *ts_json, size_t ts_json_len,
                              const char *doc_url, size_t doc_url_len);

/* Begin / end a v1 thing_snapshot message:
 * {"type":"thing_snapshot","ts":<now>,"data":{  …entries…  }} */
void tb_encode_snapshot_begin(tb_buf_t *out, double now);
void tb_encode_snapshot_end(tb_buf_t *out);

#endif
