/*
 * tb_client_json.c - compact JSON text for data received from the broker.
 *
 * Why this exists: the client hands data to programs as JSON text, and
 * tb-print-events prints it.  jansson's own dumper writes reals with 17
 * significant digits (0.1 becomes 0.10000000000000001), which is noise to a
 * reader; the codec's writers (proto/) give the shortest round-trip form and
 * the same string escaping as the broker, so the text matches what the
 * sender meant.
 */
#include <inttypes.h>
#include "tb_client_internal.h"
#include "tb_proto.h"

void
tb_client_json_write(tb_buf_t *out, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        bool first = true;
        tb_buf_append_char(out, '{');
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                tb_buf_append_char(out, ',');
            first = false;
            tb_json_write_string(out, key, strlen(key));
            tb_buf_append_char(out, ':');
            tb_client_json_write(out, val);
        }
        tb_buf_append_char(out, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        tb_buf_append_char(out, '[');
        json_array_foreach(v, i, val) {
            if (i)
                tb_buf_append_char(out, ',');
            tb_client_json_write(out, val);
        }
        tb_buf_append_char(out, ']');
        break;
    }
    case JSON_STRING:
        tb_json_write_string(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        tb_buf_printf(out, "%" PRId64, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        tb_json_write_double(out, json_real_value(v));
        break;
    case JSON_TRUE:
        tb_buf_append(out, "true", 4);
        break;
    case JSON_FALSE:
        tb_buf_append(out, "false", 5);
        break;
    case JSON_NULL:
    default:
        tb_buf_append(out, "null", 4);
        break;
    }
}

char *
tb_client_json_text(const json_t *v)
{
    tb_buf_t b;
    tb_buf_init(&b, 0);
    tb_client_json_write(&b, v);
    tb_buf_append_char(&b, '\0');
    if (tb_buf_failed(&b)) {
        tb_buf_free(&b);
        return NULL;
    }
    return tb_buf_steal(&b, NULL);
}
