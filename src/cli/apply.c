/* apply.c - `canaryctl apply -f FILE...`: sends manifests to canaryd local,
 * which validates them and writes them into its manifest directory. An
 * invalid manifest is refused with its errors and changes nothing. Exit 0
 * applied, 1 refused, 2 usage or unreachable server. */
#include "cli/commands.h"
#include "cli/local_client.h"
#include "util/fsutil.h"
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, stdin)) > 0) {
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

static int apply_one(const cd_api_client *c, const char *path)
{
    size_t len = 0;
    char *text = strcmp(path, "-") ? cd_read_file(path, &len) : read_stdin(&len);
    if (!text) {
        fprintf(stderr, "canaryctl apply: cannot read %s\n", path);
        return 2;
    }
    char *copy = strdup(path);
    char q[600];
    snprintf(q, sizeof q, "/api/v1/apply?name=%s", strcmp(path, "-") ? basename(copy) : "stdin.yaml");
    free(copy);
    long status;
    char err[600] = "";
    json_t *j = cd_api_call(c, "POST", q, text, len, &status, err, sizeof err);
    free(text);
    if (!status) {
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
        printf("%s applied\n", path);
    } else {
        fprintf(stderr, "%s: refused (%ld), nothing changed\n", path, status);
        rc = status == 422 ? 1 : 2;
    }
    json_decref(j);
    return rc;
}

int cmd_apply(int argc, char **argv)
{
    const char *server = NULL;
    const char *files_v[64];
    cd_flag_list files = {files_v, 0, 64};
    const cd_flag flags[] = {
        {.name = "filename", .alias = 'f', .type = CD_FLAG_LIST, .target = &files, .arg = "FILE",
         .help = "a manifest file, or - for stdin (repeatable)"},
        CD_API_SERVER_FLAG(&server),
    };
    cd_flag_cmd cmd = {
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
    cd_api_client_init(&client, server);
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
