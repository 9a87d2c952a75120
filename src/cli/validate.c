/* validate.c - `canaryctl validate -f PATH...`: decode and check manifests
 * without changing anything. Exit 0 valid, 1 invalid, 2 usage error or
 * unreadable path. Diagnostics go to stderr, results to stdout. */
#include "cli/commands.h"
#include "model/object.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: canaryctl validate -f PATH [-f PATH...] [-o json] [-n NAMESPACE] [--strict]\n"
            "\n"
            "Checks Canary, MetricTemplate, AlertProvider and LocalWorkload manifests\n"
            "against canaryd's CRD schemas and Flagger's rules.\n"
            "\n"
            "  -f, --filename PATH   a file, a directory (recursive *.yaml, *.yml, *.json)\n"
            "                        or - for stdin; repeatable\n"
            "  -o, --output json     print each object as decoded, defaults applied\n"
            "  -n, --namespace NS    namespace for objects that set none (default: default)\n"
            "      --strict          treat warnings as errors\n"
            "\n"
            "Exit status: 0 all valid, 1 something is invalid, 2 usage error or unreadable path.\n");
}

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"filename", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"namespace", required_argument, NULL, 'n'},
        {"strict", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    size_t npaths = 0;
    const char *output = NULL, *ns = "default";
    bool strict = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:o:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': paths[npaths++] = optarg; break;
        case 'o': output = optarg; break;
        case 'n': ns = optarg; break;
        case 'S': strict = true; break;
        case 'h': usage(stdout); free(paths); return 0;
        default: usage(stderr); free(paths); return 2;
        }
    }
    for (int i = optind; i < argc; i++)   /* also accept bare paths */
        paths[npaths++] = argv[i];
    if (npaths == 0 || (output && strcmp(output, "json"))) {
        if (output && strcmp(output, "json"))
            fprintf(stderr, "canaryctl validate: unsupported output format \"%s\" (json)\n", output);
        else
            fprintf(stderr, "canaryctl validate: no manifest given (-f PATH)\n");
        usage(stderr);
        free(paths);
        return 2;
    }

    cd_object_list objs = {0};
    cd_diags diags;
    cd_diags_init(&diags);
    bool unreadable = false;
    for (size_t i = 0; i < npaths; i++)
        if (cd_manifest_load_path(paths[i], ns, &objs, &diags) < 0)
            unreadable = true;
    cd_diags_sort(&diags);
    cd_diags_print(&diags, stderr);

    if (output) {
        json_t *out;
        if (objs.n == 1) {
            out = cd_object_to_json(objs.items[0]);
        } else {
            json_t *items = json_array();
            for (size_t i = 0; i < objs.n; i++)
                json_array_append_new(items, cd_object_to_json(objs.items[i]));
            out = json_pack("{s:s,s:s,s:o}", "apiVersion", "v1", "kind", "List", "items", items);
        }
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(out);
    } else {
        for (size_t i = 0; i < objs.n; i++) {
            const cd_object *o = objs.items[i];
            printf("%s/%s/%s valid (%s:%d)\n", o->kind_name, o->meta.namespace_, o->meta.name,
                   o->file ? o->file : "-", o->line);
        }
        printf("%zu valid, %zu error%s, %zu warning%s\n", objs.n, diags.errors,
               diags.errors == 1 ? "" : "s", diags.warnings, diags.warnings == 1 ? "" : "s");
    }
    int rc = unreadable ? 2 : (diags.errors || (strict && diags.warnings)) ? 1 : 0;
    cd_object_list_free(&objs);
    cd_diags_free(&diags);
    free(paths);
    return rc;
}
