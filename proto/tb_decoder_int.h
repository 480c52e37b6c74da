/*
 * tb_decoder_int.h - the decoder object's insides, shared by the JSON and
 * msgpack front ends (not installed).
 *
 * Why this exists: both front ends reuse the same scratch memory across
 * calls (no allocation per message in the steady state) and finish with the
 * same thing_update rules, so they share one struct and one rule checker.
 */
#ifndef TB_DECODER_INT_H
#define TB_DECODER_INT_H
#include "tb_proto_int.h"

/* A msgpack container being read: elements (or key/value items) left. */
typedef struct {
    uint64_t left;       /* items still to read (a map has 2 per entry) */
    bool     is_map;
} tb_mp_level_t;

struct tb_decoder_t {
    tb_limits_t    limits;       /* max_depth already capped */
    tb_buf_t       out;          /* msgpack data transcoded to JSON */
    tb_buf_t       str;          /* decoded strings (ns, keys with escapes) */
    tb_mp_level_t *levels;       /* indexed by depth 1..max_depth */
    char           ts_json[48];
};

/* What the front ends found for each thing_update field, before the rules. */
typedef enum { TB_F_TYPE, TB_F_NS, TB_F_DATA, TB_F_TS, TB_F_DOC, TB_F_COUNT } tb_field_t;

typedef enum {
    TB_V_ABSENT = 0, TB_V_NULL, TB_V_STRING, TB_V_NUMBER, TB_V_OTHER
} tb_vkind_t;

#endif
