/* errfmt.h - fills a cd_err (util/err.h) with a formatted message. Header-only
 * so that it adds no symbol other files could collide with. No I/O. */
#ifndef CD_ERRFMT_H
#define CD_ERRFMT_H
#include "err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static inline void cd_errfmt(cd_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void cd_errfmt(cd_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* Prefixes an existing message: "<prefix>: <old message>". */
static inline void cd_errprefix(cd_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void cd_errprefix(cd_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t pl = strlen(prefix), ol = strnlen(e->msg, sizeof e->msg - 1);
    if (pl + 2 >= sizeof e->msg)
        pl = sizeof e->msg - 3;
    if (pl + 2 + ol >= sizeof e->msg)
        ol = sizeof e->msg - 1 - pl - 2;
    memmove(e->msg + pl + 2, e->msg, ol);
    memcpy(e->msg, prefix, pl);
    e->msg[pl] = ':';
    e->msg[pl + 1] = ' ';
    e->msg[pl + 2 + ol] = '\0';
}

#endif
