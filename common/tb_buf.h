/*
 * tb_buf.h - a growable byte buffer (internal).
 *
 * Why this exists: encoders in proto/, the broker's snapshot builder and the
 * libraries all append bytes to a buffer whose final size is unknown.  The
 * buffer never aborts: an allocation failure sets a sticky error flag that
 * the caller checks once at the end (tb_buf_failed), which keeps encoder code
 * straight-line.  A cap bounds growth (0 = no cap beyond SIZE_MAX/2).
 */
#ifndef TB_BUF_H
#define TB_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char  *data;     /* bytes; always NUL-terminated when len < alloc */
    size_t len;      /* bytes used */
    size_t alloc;    /* bytes allocated */
    size_t cap;      /* maximum len allowed; 0 = unlimited */
    bool   failed;   /* an append did not fit (OOM or over cap) */
} tb_buf_t;

void  tb_buf_init(tb_buf_t *b, size_t cap);
void  tb_buf_free(tb_buf_t *b);            /* frees data; buffer reusable */
void  tb_buf_reset(tb_buf_t *b);           /* len = 0, failed = false; keeps memory */
bool  tb_buf_reserve(tb_buf_t *b, size_t extra);  /* room for extra more bytes */
void  tb_buf_append(tb_buf_t *b, const void *p, size_t n);
void  tb_buf_append_str(tb_buf_t *b, const char *s);
void  tb_buf_append_char(tb_buf_t *b, char c);
void  tb_buf_printf(tb_buf_t *b, const char *fmt, ...)
      __attribute__((format(printf, 2, 3)));
static inline bool tb_buf_failed(const tb_buf_t *b) { return b->failed; }
/* Hand the bytes to the caller (who frees them); the buffer is left empty. */
char *tb_buf_steal(tb_buf_t *b, size_t *len);

#endif
