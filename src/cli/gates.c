/* gates.c - canaryctl's gate actions against canaryd local, which work
 * through the same webhook gates as Flagger's (see docs/local.md):
 *   promote NAME   open the promotion gate (and the loadtester-style gate)
 *   abort NAME     roll back now (through a rollback gate)
 *   hold NAME      hold the next promotion until `promote`
 *   hold NAME --rollout   hold new revisions until `resume`
 *   resume NAME    release holds
 * Exit 0 done, 1 no such canary, 2 usage or unreachable server. */
#include "cli/commands.h"
#include "cli/local_client.h"
#include <stdio.h>
#include <string.h>

static int act(const char *cmd, const char *action, int argc, char **argv)
{
    cd_api_client client;
    if (!cd_api_client_init(&client, &argc, argv))
        return 2;
    const char *ns = "default", *name = NULL;
    bool rollout = false;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace")) && i + 1 < argc)
            ns = argv[++i];
        else if (!strcmp(argv[i], "--rollout"))
            rollout = true;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            name = NULL;
            break;
        }
    }
    if (!name) {
        fprintf(stderr, "Usage: canaryctl %s NAME [-n NS]%s [--server ADDR]\n", cmd,
                !strcmp(cmd, "hold") ? " [--rollout]" : "");
        return 2;
    }
    if (rollout && !strcmp(action, "hold"))
        action = "hold-rollout";
    char path[800];
    cd_api_canary_path(path, sizeof path, ns, name);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", action);
    long status;
    char err[600] = "";
    json_t *j = cd_api_call(&client, "POST", path, "", 0, &status, err, sizeof err);
    int rc = 0;
    if (!status) {
        fprintf(stderr, "canaryctl %s: %s\n", cmd, err);
        rc = 2;
    } else if (status == 202) {
        printf("canary %s.%s: %s\n", name, ns, json_string_value(json_object_get(j, "result")) ?: "done");
    } else {
        fprintf(stderr, "canaryctl %s: %s\n", cmd,
                json_string_value(json_object_get(j, "error")) ?: "refused");
        rc = status == 404 ? 1 : 2;
    }
    json_decref(j);
    return rc;
}

int cmd_promote(int argc, char **argv) { return act("promote", "promote", argc, argv); }
int cmd_abort(int argc, char **argv) { return act("abort", "abort", argc, argv); }
int cmd_hold(int argc, char **argv) { return act("hold", "hold", argc, argv); }
int cmd_resume(int argc, char **argv) { return act("resume", "resume", argc, argv); }
