/* buf.c - growable byte buffer; see buf.h. Aborts on out-of-memory. */
#include "util/buf.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cd_buf_free(cd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cd_buf_reset(cd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void cd_buf_reserve(cd_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        fprintf(stderr, "canaryd: out of memory\n");
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void cd_buf_append(cd_buf *b, const void *p, size_t n)
{
    cd_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cd_buf_puts(cd_buf *b, const char *s) { cd_buf_append(b, s, strlen(s)); }
void cd_buf_putc(cd_buf *b, char c) { cd_buf_append(b, &c, 1); }

void cd_buf_vprintf(cd_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0) {
        cd_buf_reserve(b, 0);
        b->data[b->len] = '\0';
        return;
    }
    cd_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void cd_buf_printf(cd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cd_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *cd_buf_steal(cd_buf *b)
{
    if (!b->data)
        cd_buf_reserve(b, 0), b->data[0] = '\0';
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

const char *cd_buf_str(const cd_buf *b) { return b->data ? b->data : ""; }

/* Go's regexp \s+ -> " " as Flagger's providers apply it to queries */
char *cd_collapse_whitespace(const char *s)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_puts(&b, "");
    bool in_space = false;
    for (; s && *s; s++) {
        /* Go's \s: space, \t, \n, \f, \r (and \v is not in RE2's \s) */
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\f' || *s == '\r') {
            if (!in_space)
                cd_buf_putc(&b, ' ');
            in_space = true;
        } else {
            cd_buf_putc(&b, *s);
            in_space = false;
        }
    }
    return cd_buf_steal(&b);
}
