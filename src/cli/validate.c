/* validate.c - `canaryctl validate -f PATH...`: decode and check manifests
 * without changing anything. Exit 0 valid, 1 invalid, 2 usage error or
 * unreadable path. Diagnostics go to stderr, results to stdout. */
#include "cli/commands.h"
#include "model/object.h"
#include "util/flags.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const outputs[] = {"json", NULL};

int cmd_validate(int argc, char **argv)
{
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths)
        abort();
    cd_flag_list list = {paths, 0, argc};
    const char *output = NULL, *ns = "default";
    bool strict = false;
    const cd_flag flags[] = {
        {.name = "filename", .alias = 'f', .type = CD_FLAG_LIST, .target = &list, .arg = "PATH",
         .help = "a file, a directory (recursive *.yaml, *.yml, *.json) or - for stdin; "
                 "repeatable (bare paths work too)"},
        {.name = "output", .alias = 'o', .type = CD_FLAG_ENUM, .target = &output,
         .choices = outputs, .help = "print each object as decoded, defaults applied"},
        CD_FLAG_STR("namespace", 'n', &ns, "NS", "namespace for objects that set none"),
        CD_FLAG_SWITCH("strict", 0, &strict, "treat warnings as errors"),
    };
    cd_flag_cmd cmd = {
        .prog = "canaryctl validate",
        .synopsis = "-f PATH [-f PATH...] [-o json] [-n NAMESPACE] [--strict]",
        .about = "Checks Canary, MetricTemplate, AlertProvider and LocalWorkload manifests\n"
                 "against canaryd's CRD schemas and Flagger's rules. Changes nothing.",
        .footer = "Exit status: 0 all valid, 1 something is invalid, 2 usage error or unreadable "
                  "path.",
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
        .max_args = -1,
    };
    int nargs = 0;
    int rc = cd_flags_parse(&cmd, argc, argv, &nargs, stdout, stderr);
    if (rc != CD_FLAGS_OK) {
        free(paths);
        return cd_flags_exit(rc);
    }
    for (int i = 0; i < nargs; i++)   /* bare paths */
        paths[list.n++] = argv[1 + i];
    size_t npaths = (size_t)list.n;
    if (npaths == 0) {
        free(paths);
        return cd_flags_fail(&cmd, stderr, "no manifest given (-f PATH)");
    }

    cd_object_list objs = {0};
    cd_diags diags;
    cd_diags_init(&diags);
    bool unreadable = false;
    for (size_t i = 0; i < npaths; i++)
        if (cd_manifest_load_path(paths[i], ns, &objs, &diags) < 0)
            unreadable = true;
    /* an empty file, or a directory without manifests (a wrong -f): say
     * so rather than "0 valid, 0 errors" and exit 0 silently */
    if (!objs.n && !diags.errors && !unreadable)
        for (size_t i = 0; i < npaths; i++)
            cd_diags_add(&diags, CD_DIAG_WARNING, strcmp(paths[i], "-") ? paths[i] : "<stdin>", 0,
                         0, "", "no Canary, MetricTemplate, AlertProvider or LocalWorkload in it%s",
                         strcmp(paths[i], "-") ? " (directories: *.yaml, *.yml, *.json files)"
                                               : "");
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
    rc = unreadable ? 2 : (diags.errors || (strict && diags.warnings)) ? 1 : 0;
    cd_object_list_free(&objs);
    cd_diags_free(&diags);
    free(paths);
    return rc;
}
