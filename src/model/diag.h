/* diag.h - diagnostics for manifests: errors and warnings, each with the
 * file, line, column and field path of the node it is about. Collecting a
 * diagnostic never stops processing; callers decide by cd_diags_errors(). */
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

typedef struct cd_diags {
    cd_diag *items;
    size_t n, cap;
    size_t errors, warnings;
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
/* Orders by file, line, column (stable for equal positions). */
void cd_diags_sort(cd_diags *d);

#endif
