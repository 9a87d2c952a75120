/* apply.c - `canaryctl apply -f FILE...`: sends manifests to canaryd local,
 * which validates them and writes them into its manifest directory. An
 * invalid manifest is refused with its errors and changes nothing. Exit 0
 * applied, 1 refused, 2 usage or unreachable server. */
#include "cli/commands.h"
#include "cli/local_client.h"
#include "model/object.h"
#include "model/workload.h"
#include "util/fsutil.h"
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && n <= CD_MANIFEST_MAX_BYTES && (r = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
        }
    }
    *len = n;
    return buf;
}

/* A LocalWorkload's relative command (with a slash) or workingDir is
 * relative to the manifest's directory: once applied, that is canaryd's
 * directory, not the one the file was applied from. Says so when they
 * differ, since the program is then looked for elsewhere. */
static void warn_moved_paths(const char *path, const char *text, size_t len, const char *dir)
{
    char *copy = strdup(path), from[4096], to[4096];
    bool differ = copy && realpath(dirname(copy), from) && realpath(dir, to) && strcmp(from, to);
    free(copy);
    if (!differ)
        return;
    cd_object_list objs = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer(path, text, len, strstr(path, ".json") != NULL, "default", &objs, &d);
    for (size_t i = 0; i < objs.n; i++) {
        const cd_object *o = objs.items[i];
        if (o->kind != CD_KIND_LOCAL_WORKLOAD)
            continue;
        const cd_local_workload_spec *w = o->spec.workload;
        const char *field = w->working_dir && w->working_dir[0] != '/' ? "workingDir"
                            : w->command && w->command[0] != '/' && strchr(w->command, '/')
                                ? "command"
                                : NULL;
        if (field)
            fprintf(stderr,
                    "%s:%d:1: warning: spec.%s: %s is relative to the manifest's directory, which "
                    "is now %s (canaryd local's), not %s: write an absolute path, or put the "
                    "file in %s yourself\n",
                    path, o->line, field, field[0] == 'w' ? w->working_dir : w->command, to, from,
                    to);
    }
    cd_object_list_free(&objs);
    cd_diags_free(&d);
}

static int apply_one(const cd_api_client *c, const char *path)
{
    size_t len = 0;
    char *text = strcmp(path, "-") ? cd_read_file_max(path, CD_MANIFEST_MAX_BYTES, &len)
                                   : read_stdin(&len);
    if (!text || len > CD_MANIFEST_MAX_BYTES) {
        if (text || errno == EFBIG)
            fprintf(stderr, "canaryctl apply: %s: larger than %u bytes (1 MiB), the limit for "
                            "a manifest\n", path, CD_MANIFEST_MAX_BYTES);
        else
            fprintf(stderr, "canaryctl apply: cannot read %s: %s\n", path, strerror(errno));
        free(text);
        return 2;
    }
    char *copy = strdup(path);
    char q[600];
    snprintf(q, sizeof q, "/api/v1/apply?name=%s", strcmp(path, "-") ? basename(copy) : "stdin.yaml");
    free(copy);
    long status;
    char err[600] = "";
    json_t *j = cd_api_call(c, "POST", q, text, len, &status, err, sizeof err);
    if (!status) {
        free(text);
        fprintf(stderr, "canaryctl apply: %s\n", err);
        return 2;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "warnings"), i, v)
        fprintf(stderr, "%s\n", json_string_value(v));
    json_array_foreach(json_object_get(j, "errors"), i, v)
        fprintf(stderr, "%s\n", json_string_value(v));
    int rc = 0;
    if (status == 200) {
        const char *dir = json_string_value(json_object_get(j, "directory"));
        if (dir && strcmp(path, "-"))
            warn_moved_paths(path, text, len, dir);
        printf("%s applied\n", path);
    } else {
        fprintf(stderr, "%s: refused (%ld), nothing changed\n", path, status);
        rc = status == 422 ? 1 : 2;
    }
    free(text);
    json_decref(j);
    return rc;
}

int cmd_apply(int argc, char **argv)
{
    const char *server = NULL, *token_file = NULL;
    const char *files_v[64];
    cd_flag_list files = {files_v, 0, 64};
    const cd_flag flags[] = {
        {.name = "filename", .alias = 'f', .type = CD_FLAG_LIST, .target = &files, .arg = "FILE",
         .help = "a manifest file, or - for stdin (repeatable)"},
        CD_API_SERVER_FLAG(&server),
        CD_API_TOKEN_FLAG(&token_file),
    };
    cd_flag_cmd cmd = {
        .env = cd_api_env_docs,
        .prog = "canaryctl apply",
        .synopsis = "-f FILE [-f FILE...] [flags]",
        .about = "Validates manifests and writes them into canaryd local's manifest directory\n"
                 "through its API. An invalid manifest is refused with every error and changes\n"
                 "nothing.",
        .footer = "Exit status: 0 applied, 1 refused (invalid), 2 usage error, unreadable file "
                  "or canaryd unreachable.",
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
    };
    int rc = cd_flags_parse(&cmd, argc, argv, NULL, stdout, stderr);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (files.n == 0)
        return cd_flags_fail(&cmd, stderr, "no manifest given (-f FILE)");
    cd_api_client client;
    if (!cd_api_client_init(&client, server, token_file))
        return 2;
    const char **files_list = files.items;
    int n = files.n;
    int worst = 0;
    for (int i = 0; i < n; i++) {
        int rc = apply_one(&client, files_list[i]);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}
