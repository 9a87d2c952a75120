/* table.h - canaryctl's tables: rows of text cells printed in columns as
 * wide as their widest cell (kubectl's layout: three spaces between
 * columns, the last one not padded). Pure formatting into a buffer. */
#ifndef CD_CLI_TABLE_H
#define CD_CLI_TABLE_H
#include "util/buf.h"
#include <stddef.h>

#define CD_TABLE_MAX_COLS 12

typedef struct cd_table {
    size_t ncols, nrows, cap;
    char **cells;          /* nrows * ncols, row-major, each malloc'd */
    const char *indent;    /* printed before every row ("" by default) */
} cd_table;

/* A table with these column headers (the first row). */
void cd_table_init(cd_table *t, size_t ncols, const char *const *headers);
/* Appends a row of ncols cells (NULL is an empty cell). */
void cd_table_row(cd_table *t, const char *const *cells);
/* Appends the table to out and frees it. */
void cd_table_flush(cd_table *t, cd_buf *out);

#endif
