/*
 * tb_error.h - the text for each thingsbus error code (internal).
 *
 * Why this exists: libraries export their own *_strerror(); they all call
 * this one table so the words stay the same everywhere.
 */
#ifndef TB_ERROR_H
#define TB_ERROR_H
#include "thingsbus_errors.h"

/* Plain-words description of an enum tb_error value; never NULL. */
const char *tb_error_text(int code);

#endif
