/* canaryctl.c - entry point of canaryctl: dispatches to one command per
 * file in src/cli/. Must not contain command logic itself. */
#include "cli/commands.h"
#include "cli/kube_ctl.h"
#include "util/suggest.h"
#include "version.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"validate", cmd_validate, "check manifests against canaryd's schemas and Flagger's rules"},
    {"simulate", cmd_simulate, "play a canary's rollout on a virtual clock against a scenario"},
    {"apply", cmd_apply, "validate and apply manifests through canaryd local"},
    {"get", cmd_get, "list canaries (get canaries)"},
    {"describe", cmd_describe, "a canary's spec, status, processes, metrics and events"},
    {"events", cmd_events, "a canary's events"},
    {"watch", cmd_watch, "follow a canary live"},
    {"promote", cmd_promote, "open a canary's promotion gate"},
    {"abort", cmd_abort, "roll a canary back now"},
    {"hold", cmd_hold, "hold a canary's promotion (or, with --rollout, new revisions)"},
    {"resume", cmd_resume, "release a canary's holds"},
    {"retry", cmd_retry, "analyse a Failed release again (Kubernetes)"},
    {"rollback", cmd_rollback, "put a canary's last promoted revision back (instant rollback)"},
    {"load", cmd_load, "send steady HTTP load (canaryd's built-in load generator)"},
    {"metrics", cmd_metrics, "render and run a canary's metric queries, print values and verdicts"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: %s COMMAND [ARGS]\n\nCommands:\n",
            cd_ctl_as_plugin ? "kubectl canary" : "canaryctl");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "  %-10s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'canaryctl COMMAND --help' for a command's options.\n");
}

/* kubectl takes its connection flags before the command (kubectl -n prod
 * get canaries): the leading --server, --token-file, --kubeconfig,
 * --context, -n/--namespace and --kube
 * (with their values) are moved behind the command name. Returns how many
 * argv entries they took. */
static int leading_globals(int argc, char **argv)
{
    static const char *const with_value[] = {"--server", "-server", "--token-file",
                                             "-token-file", "--namespace", "-namespace", "-n",
                                             "--kubeconfig", "-kubeconfig", "--context",
                                             "-context"};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        bool known = false, joined = false;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            size_t n = strlen(with_value[k]);
            if (!strcmp(argv[i], with_value[k]))
                known = true;
            else if (!strncmp(argv[i], with_value[k], n) && argv[i][n] == '=')
                known = joined = true;
        }
        /* --kube takes no value (docs/kubectl-plugin.md: canaryctl --kube get canaries) */
        if (!strcmp(argv[i], "--kube") || !strcmp(argv[i], "-kube")) {
            i++;
            continue;
        }
        if (!known || (!joined && i + 1 >= argc))
            break;
        i += joined ? 1 : 2;
    }
    int taken = i - 1;
    if (taken && i < argc) {   /* rotate: COMMAND first, then the flags */
        char *cmd = argv[i];
        memmove(argv + 2, argv + 1, (size_t)taken * sizeof *argv);
        argv[1] = cmd;
    }
    return taken;
}

/* Installed (or linked) as kubectl-canary, canaryctl is a kubectl plugin:
 * `kubectl canary get canaries` runs it against kubectl's cluster. */
static bool plugin_name(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    return !strncmp(base, "kubectl-canary", 14);
}

int main(int argc, char **argv)
{
    cd_ctl_as_plugin = argc > 0 && plugin_name(argv[0]);
    leading_globals(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("canaryctl %s\n", CANARYD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    cd_suggest sg;
    cd_suggest_init(&sg, cmd);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        cd_suggest_offer(&sg, commands[i].name);
    if (sg.best) {
        fprintf(stderr, "canaryctl: unknown command \"%s\": did you mean %s? (canaryctl --help "
                        "lists them)\n", cmd, sg.best);
        return 2;
    }
    fprintf(stderr, "canaryctl: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
