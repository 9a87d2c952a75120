/* table.c - see table.h. */
#include "cli/table.h"
#include "util/grow.h"
#include <stdlib.h>
#include <string.h>

void cd_table_init(cd_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols < CD_TABLE_MAX_COLS ? ncols : CD_TABLE_MAX_COLS;
    t->indent = "";
    cd_table_row(t, headers);
}

void cd_table_row(cd_table *t, const char *const *cells)
{
    CD_GROW(t->cells, t->cap, (t->nrows + 1) * t->ncols, 16 * t->ncols);
    for (size_t i = 0; i < t->ncols; i++) {
        char *c = strdup(cells[i] ? cells[i] : "");
        if (!c)
            abort();
        for (char *p = c; *p; p++)   /* one row is one line */
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        t->cells[t->nrows * t->ncols + i] = c;
    }
    t->nrows++;
}

/* display width: UTF-8 continuation bytes take no column */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void cd_table_flush(cd_table *t, cd_buf *out)
{
    size_t w[CD_TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < t->ncols; i++) {
            size_t n = width(t->cells[r * t->ncols + i]);
            if (n > w[i])
                w[i] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        cd_buf_puts(out, t->indent);
        for (size_t i = 0; i < t->ncols; i++) {
            const char *c = t->cells[r * t->ncols + i];
            cd_buf_puts(out, c);
            if (i + 1 < t->ncols)
                cd_buf_printf(out, "%*s", (int)(w[i] - width(c) + 3), "");
        }
        /* no trailing blanks when the last cells are empty */
        while (out->len && cd_buf_str(out)[out->len - 1] == ' ')
            out->len--;
        cd_buf_putc(out, '\n');
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
