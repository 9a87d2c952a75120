/* diag.c - see diag.h. */
#include "model/diag.h"
#include "util/buf.h"
#include "util/grow.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cd_diags_init(cd_diags *d) { memset(d, 0, sizeof *d); }

void cd_diags_free(cd_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].path);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void cd_diags_vadd(cd_diags *d, cd_diag_severity sev, const char *file, int line, int col,
                   const char *path, const char *fmt, va_list ap)
{
    if (d->n >= CD_DIAGS_KEEP) {
        if (sev == CD_DIAG_ERROR) {
            d->errors++;
            d->dropped_errors++;
        } else {
            d->warnings++;
            d->dropped_warnings++;
        }
        return;
    }
    CD_GROW(d->items, d->cap, d->n + 1, 8);
    cd_buf msg = CD_BUF_INIT;
    cd_buf_vprintf(&msg, fmt, ap);
    cd_diag *x = &d->items[d->n++];
    x->severity = sev;
    x->file = dup_or_null(file);
    x->line = line;
    x->col = col;
    x->path = strdup(path ? path : "");
    x->message = cd_buf_steal(&msg);
    if (sev == CD_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

void cd_diags_add(cd_diags *d, cd_diag_severity sev, const char *file, int line, int col,
                  const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(d, sev, file, line, col, path, fmt, ap);
    va_end(ap);
}

void cd_diags_move(cd_diags *dst, cd_diags *src)
{
    for (size_t i = 0; i < src->n; i++) {
        cd_diag *s = &src->items[i];
        cd_diags_add(dst, s->severity, s->file, s->line, s->col, s->path, "%s", s->message);
    }
    dst->errors += src->dropped_errors;
    dst->dropped_errors += src->dropped_errors;
    dst->warnings += src->dropped_warnings;
    dst->dropped_warnings += src->dropped_warnings;
    cd_diags_free(src);
}

char *cd_diag_format(const cd_diag *d)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_puts(&b, d->file ? d->file : "<input>");
    if (d->line > 0)
        cd_buf_printf(&b, ":%d:%d", d->line, d->col);
    cd_buf_puts(&b, ": ");
    if (d->severity == CD_DIAG_WARNING)
        cd_buf_puts(&b, "warning: ");
    if (d->path && *d->path)
        cd_buf_printf(&b, "%s: ", d->path);
    cd_buf_puts(&b, d->message);
    return cd_buf_steal(&b);
}

static int cmp_diag(const void *pa, const void *pb)
{
    const cd_diag *a = pa, *b = pb;
    int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return a < b ? -1 : (a > b);
}

void cd_diags_sort(cd_diags *d)
{
    if (d->n > 1)
        qsort(d->items, d->n, sizeof *d->items, cmp_diag);
}

void cd_diags_print(const cd_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = cd_diag_format(&d->items[i]);
        fprintf(out, "%s\n", s);
        free(s);
    }
    char *o = cd_diags_omitted(d);
    if (o)
        fprintf(out, "%s\n", o);
    free(o);
}

char *cd_diags_omitted(const cd_diags *d)
{
    if (!d->dropped_errors && !d->dropped_warnings)
        return NULL;
    cd_buf b = CD_BUF_INIT;
    cd_buf_puts(&b, "...");
    if (d->dropped_errors)
        cd_buf_printf(&b, " and %zu more error%s", d->dropped_errors,
                      d->dropped_errors == 1 ? "" : "s");
    if (d->dropped_warnings)
        cd_buf_printf(&b, " and %zu more warning%s", d->dropped_warnings,
                      d->dropped_warnings == 1 ? "" : "s");
    cd_buf_printf(&b, " (only the first %d are listed)", CD_DIAGS_KEEP);
    return cd_buf_steal(&b);
}
