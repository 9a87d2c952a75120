/* diag.h - diagnostics for manifests: errors and warnings, each with the
 * file, line, column and field path of the node it is about. Collecting a
 * diagnostic never stops processing; callers decide by cd_diags_errors().
 * Only the first CD_DIAGS_KEEP are kept (a hostile input can produce one
 * per byte); the rest are counted, and every listing ends with how many
 * were left out. */
#ifndef CD_DIAG_H
#define CD_DIAG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { CD_DIAG_ERROR, CD_DIAG_WARNING } cd_diag_severity;

typedef struct cd_diag {
    cd_diag_severity severity;
    char *file;      /* may be NULL (API input) */
    int line, col;   /* 1-based; 0 when unknown */
    char *path;      /* "spec.analysis.stepWeight"; may be "" */
    char *message;
} cd_diag;

#define CD_DIAGS_KEEP 100

typedef struct cd_diags {
    cd_diag *items;
    size_t n, cap;
    size_t errors, warnings;        /* all of them, kept or not */
    size_t dropped_errors, dropped_warnings;   /* counted but not kept */
} cd_diags;

void cd_diags_init(cd_diags *d);
void cd_diags_free(cd_diags *d);
void cd_diags_add(cd_diags *d, cd_diag_severity sev, const char *file, int line, int col,
                  const char *path, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void cd_diags_vadd(cd_diags *d, cd_diag_severity sev, const char *file, int line, int col,
                   const char *path, const char *fmt, va_list ap);
void cd_diags_move(cd_diags *dst, cd_diags *src);   /* appends src to dst, empties src */
static inline size_t cd_diags_errors(const cd_diags *d) { return d->errors; }
/* "file:line:col: path: message" ("warning: " before the path for warnings). */
char *cd_diag_format(const cd_diag *d);   /* malloc'd */
void cd_diags_print(const cd_diags *d, FILE *out);
/* "... and 3 more errors and 1 more warning (only the first 100 are
 * listed)" when some were left out, else NULL. malloc'd. */
char *cd_diags_omitted(const cd_diags *d);
/* Orders by file, line, column (stable for equal positions). */
void cd_diags_sort(cd_diags *d);

#endif
