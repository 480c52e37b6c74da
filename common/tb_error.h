/*
 * tb_error.h - the text for each thingsbus error code, and the one way to
 * fill a caller's error buffer (internal).
 *
 * Why this exists: libraries export their own *_strerror(); they all call
 * this one table so the words stay the same everywhere.  Parsers (options,
 * bridge rules, sources) report a rejection as a sentence in a caller's
 * buffer; tb_errbuf_set is the single helper they share for that.
 */
#ifndef TB_ERROR_H
#define TB_ERROR_H
#include <stddef.h>
#include "thingsbus_errors.h"

/* Plain-words description of an enum tb_error value; never NULL. */
const char *tb_error_text(int code);

/* Formats a message (printf-style) into errbuf, truncated to errlen bytes
 * including the NUL.  errbuf may be NULL or errlen 0: nothing is written.
 * Returns -1 always, so a parser can write `return tb_errbuf_set(...)`. */
int tb_errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
