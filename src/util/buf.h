/* buf.h - a growable byte buffer for building strings and bodies.
 * Not for hot paths that need zero-copy (the router has its own buffers). */
#ifndef CD_BUF_H
#define CD_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct cd_buf {
    char *data;     /* always NUL-terminated when len > 0 or after any append */
    size_t len, cap;
} cd_buf;

#define CD_BUF_INIT {NULL, 0, 0}

void  cd_buf_free(cd_buf *b);
void  cd_buf_reset(cd_buf *b);
void  cd_buf_reserve(cd_buf *b, size_t extra);
void  cd_buf_append(cd_buf *b, const void *p, size_t n);
void  cd_buf_puts(cd_buf *b, const char *s);
void  cd_buf_putc(cd_buf *b, char c);
void  cd_buf_printf(cd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  cd_buf_vprintf(cd_buf *b, const char *fmt, va_list ap);
/* Hands the string to the caller (malloc'd, never NULL) and empties b. */
char *cd_buf_steal(cd_buf *b);
const char *cd_buf_str(const cd_buf *b);   /* "" when empty */

/* Collapses every run of whitespace to one space (what Flagger's
 * Prometheus and Graphite providers do before sending). malloc'd. */
char *cd_collapse_whitespace(const char *s);

#endif
