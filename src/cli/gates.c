/* gates.c - canaryctl's gate actions against canaryd local, which work
 * through the same webhook gates as Flagger's (see docs/local.md):
 *   promote NAME   open the promotion gate (and the loadtester-style gate)
 *   abort NAME     roll back now (through a rollback gate)
 *   hold NAME      hold the next promotion until `promote`
 *   hold NAME --rollout   hold new revisions until `resume`
 *   resume NAME    release holds
 *   rollback NAME  the last promoted revision back (spec.rollbackWindow; on a
 *                  cluster kube_rollback.c writes it into the target)
 *   retry NAME     analyse a Failed release again (Kubernetes only)
 * With --kube, --kubeconfig or --context (or run as kubectl-canary) they
 * act on a cluster through canaryd.io/... annotations (kube_ctl.c).
 * Exit 0 done, 1 no such canary, 2 usage or unreachable server. */
#include "cli/commands.h"
#include "cli/kube_ctl.h"
#include "cli/local_client.h"
#include <stdio.h>
#include <string.h>

static int act(const char *cmd_name, const char *action, const char *about, int argc,
               char **argv)
{
    const char *server = NULL, *token_file = NULL, *ns = "default";
    bool rollout = false, ns_given = false;
    cd_ctl_kube_flags kf = {0};
    char prog[64];
    snprintf(prog, sizeof prog, "%s %s", cd_ctl_as_plugin ? "kubectl canary" : "canaryctl", cmd_name);
    bool hold = !strcmp(cmd_name, "hold");
    cd_flag flags[] = {
        CD_API_NAMESPACE_FLAG(&ns),
        CD_API_SERVER_FLAG(&server),
        CD_API_TOKEN_FLAG(&token_file),
        CD_KUBE_FLAGS(&kf),
        CD_FLAG_SWITCH("rollout", 0, &rollout,
                       "hold new revisions (they wait in Initialized) until resume"),
    };
    flags[0].given = &ns_given;
    cd_flag_cmd fc = {
        .env = cd_api_env_docs,
        .prog = prog,
        .synopsis = hold ? "NAME [-n NS] [--rollout] [flags]" : "NAME [-n NS] [flags]",
        .about = about,
        .footer = "Exit status: 0 done, 1 no such canary, 2 usage error, refused or canaryd "
                  "unreachable.",
        .flags = flags,
        .nflags = hold ? 4 + CD_KUBE_NFLAGS : 3 + CD_KUBE_NFLAGS,
        .min_args = 1,
        .max_args = 1,
    };
    int nargs = 0;
    int rc = cd_flags_parse(&fc, argc, argv, &nargs, stdout, stderr);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    const char *name = argv[1];
    if (rollout && !strcmp(action, "hold"))
        action = "hold-rollout";
    if (cd_ctl_kube_wanted(&kf)) {
        cd_ctl_kube k;
        if (!cd_ctl_kube_open(&k, &kf, ns_given ? ns : NULL))
            return 2;
        rc = cd_ctl_kube_act(&k, name, action);
        cd_ctl_kube_close(&k);
        return rc;
    }
    if (!strcmp(action, "retry")) {
        fprintf(stderr, "%s: retry acts on Kubernetes only (--kube); with canaryd local, apply the "
                        "manifest again\n", prog);
        return 2;
    }
    cd_api_client client;
    if (!cd_api_client_init(&client, server, token_file))
        return 2;
    char path[800];
    cd_api_canary_path(path, sizeof path, ns, name);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", action);
    long status;
    char err[600] = "";
    json_t *j = cd_api_call(&client, "POST", path, "", 0, &status, err, sizeof err);
    rc = 0;
    if (!status) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rc = 2;
    } else if (status == 202) {
        printf("canary %s.%s: %s\n", name, ns, json_string_value(json_object_get(j, "result")) ?: "done");
    } else {
        fprintf(stderr, "%s: %s\n", prog,
                json_string_value(json_object_get(j, "error")) ?: "refused");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "errors"), i, e)   /* rollback's manifest errors */
            fprintf(stderr, "%s\n", json_string_value(e) ?: "");
        rc = status == 404 ? 1 : 2;
    }
    json_decref(j);
    return rc;
}

int cmd_promote(int argc, char **argv)
{
    return act("promote", "promote",
               "Opens the canary's promotion gate once: a canary held by `hold` (or waiting in\n"
               "WaitingPromotion on a confirm-promotion gate) is promoted.",
               argc, argv);
}

int cmd_abort(int argc, char **argv)
{
    return act("abort", "abort",
               "Rolls the canary's current release back now, through a rollback gate\n"
               "(\"Rolling back ... manual webhook invoked\"). Only a release being analysed\n"
               "(Progressing, Waiting, WaitingPromotion) can be aborted: otherwise canaryd\n"
               "refuses and nothing is armed, so no later release is rolled back.",
               argc, argv);
}

int cmd_hold(int argc, char **argv)
{
    return act("hold", "hold",
               "Holds the canary's next promotion until `promote` (it waits in WaitingPromotion),\n"
               "or with --rollout holds new revisions until `resume`.",
               argc, argv);
}

int cmd_resume(int argc, char **argv)
{
    return act("resume", "resume",
               "Releases the canary's holds (hold, hold --rollout) and cancels an abort not yet\n"
               "acted on; says what it released (describe shows them under Gates).",
               argc, argv);
}

int cmd_rollback(int argc, char **argv)
{
    return act("rollback", "rollback",
               "Puts the canary's last promoted revision (the newest in status.promotedRevisions\n"
               "other than the target's current one) back into the LocalWorkload's manifest, or\n"
               "on Kubernetes into the Deployment, StatefulSet or DaemonSet (its template from the\n"
               "ReplicaSet or ControllerRevision that holds it, as kubectl rollout undo);\n"
               "within spec.rollbackWindow the engine promotes it at once, without analysis\n"
               "(docs/rollback.md). Refused without spec.rollbackWindow.",
               argc, argv);
}

int cmd_retry(int argc, char **argv)
{
    return act("retry", "retry",
               "Analyses a Failed release again, on Kubernetes: canaryd kube starts the\n"
               "release of the target's current revision over (\"New revision detected\"), as\n"
               "if it had just been applied. Refused unless the canary is Failed.",
               argc, argv);
}
