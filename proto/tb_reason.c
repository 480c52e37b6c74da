/*
 * tb_reason.c - names of the rejection reasons and the default limits.
 *
 * Why this exists: reasons are counted, logged and used as test-corpus file
 * names by their snake_case names; one table keeps those names stable.
 */
#include "tb_proto.h"
#include <string.h>

static const char *const reason_names[TB_REASON_COUNT] = {
    [TB_REASON_OK]               = "ok",
    [TB_REASON_BAD_JSON]         = "bad_json",
    [TB_REASON_BAD_MSGPACK]      = "bad_msgpack",
    [TB_REASON_TRAILING_BYTES]   = "trailing_bytes",
    [TB_REASON_BAD_UTF8]         = "bad_utf8",
    [TB_REASON_TOO_DEEP]         = "too_deep",
    [TB_REASON_TOO_LARGE]        = "too_large",
    [TB_REASON_BAD_NUMBER]       = "bad_number",
    [TB_REASON_NOT_AN_OBJECT]    = "not_an_object",
    [TB_REASON_MISSING_TYPE]     = "missing_type",
    [TB_REASON_UNKNOWN_TYPE]     = "unknown_type",
    [TB_REASON_MISSING_NS]       = "missing_ns",
    [TB_REASON_BAD_NS]           = "bad_ns",
    [TB_REASON_BAD_TS]           = "bad_ts",
    [TB_REASON_MISSING_DATA]     = "missing_data",
    [TB_REASON_BAD_DOC_URL]      = "bad_doc_url",
    [TB_REASON_BAD_LIST_LENGTH]  = "bad_list_length",
    [TB_REASON_BAD_KEY]          = "bad_key",
    [TB_REASON_UNSUPPORTED_TYPE] = "unsupported_type",
    [TB_REASON_NUL_IN_STRING]    = "nul_in_string",
    [TB_REASON_NOMEM]            = "nomem",
};

const char *
tb_reason_name(tb_reason_t reason)
{
    if ((unsigned)reason >= TB_REASON_COUNT || !reason_names[reason])
        return "unknown";
    return reason_names[reason];
}

tb_reason_t
tb_reason_from_name(const char *name)
{
    if (!name)
        return TB_REASON_COUNT;
    for (unsigned r = 0; r < TB_REASON_COUNT; r++)
        if (reason_names[r] && strcmp(reason_names[r], name) == 0)
            return (tb_reason_t)r;
    return TB_REASON_COUNT;
}

void
tb_limits_default(tb_limits_t *limits)
{
    if (!limits)
        return;
    limits->max_input = TB_DEFAULT_MAX_INPUT;
    limits->max_depth = TB_DEFAULT_MAX_DEPTH;
}
