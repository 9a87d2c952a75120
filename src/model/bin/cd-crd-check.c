/* cd-crd-check.c - the build step that compiles deploy/crds into the
 * binaries runs this first: every file must parse and every
 * CustomResourceDefinition in it must be one an API server accepts
 * (schema_check.c: no unknown schema keyword, no value of the wrong kind).
 * Prints file:line:col: path: message for each problem and fails the
 * build. Usage: cd-crd-check FILE... Reads files; writes nothing. */
#include "model/node.h"
#include "model/schema_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = p;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(data);
        return NULL;
    }
    data[n] = 0;
    *len = n;
    return data;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cd-crd-check FILE...\n");
        return 2;
    }
    size_t crds = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        char *text = read_file(argv[i], &len);
        if (!text) {
            fprintf(stderr, "%s: cannot read: %m\n", argv[i]);
            errors++;
            continue;
        }
        cd_diags d;
        cd_diags_init(&d);
        cd_stream *s = cd_stream_parse(argv[i], text, len, false, &d);
        if (s) {
            for (size_t k = 0; k < s->ndocs; k++) {
                const char *kind = cd_node_str(cd_map_get(s->docs[k].root, "kind"));
                crds += kind && !strcmp(kind, "CustomResourceDefinition");
            }
            if (!d.errors)
                cd_schema_check_stream(s, &d);
            cd_stream_free(s);
        }
        errors += d.errors;
        cd_diags_print(&d, stderr);
        cd_diags_free(&d);
        free(text);
    }
    if (errors) {
        fprintf(stderr, "cd-crd-check: %zu error%s: an API server would refuse these CRDs\n",
                errors, errors == 1 ? "" : "s");
        return 1;
    }
    if (crds == 0) {
        fprintf(stderr, "cd-crd-check: no CustomResourceDefinition in the files given\n");
        return 1;
    }
    return 0;
}
