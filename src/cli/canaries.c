/* canaries.c - canaryctl's read commands against canaryd local:
 *   get canaries [NAME] [-n NS | -A] [-o json]
 *   describe canary NAME [-n NS]
 *   events NAME [-n NS] [--limit N]
 *   watch NAME [-n NS] [--until-done]
 * Exit 0, 1 when the canary does not exist, 2 for usage errors or an
 * unreachable server. With --kube, --kubeconfig or --context (or run as
 * kubectl-canary) they read a cluster instead (kube_ctl.c). */
#include "cli/commands.h"
#include "cli/kube_ctl.h"
#include "cli/local_client.h"
#include "cli/view.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/timeutil.h"
#include <unistd.h>

typedef struct common {
    cd_api_client client;
    const char *server, *token_file, *ns, *output;
    bool all_ns, until_done, ns_given;
    int limit;
    int64_t timeout_ms;
    cd_ctl_kube_flags kf;
    cd_ctl_kube kube;       /* connected when kf selects the cluster */
    bool on_kube;
    char **args;
    int nargs;
} common;

enum { F_ALL_NS = 1, F_OUTPUT = 2, F_LIMIT = 4, F_UNTIL_DONE = 8, F_TIMEOUT = 16 };

static const char *const outputs[] = {"json", NULL};

#define EXIT_STATUS "Exit status: 0 done, 1 no such canary, 2 usage error or canaryd unreachable."

/* Parses a read command's flags (those in `which`) and connects the
 * client. Returns CD_FLAGS_OK or what cd_flags_exit turns into the exit
 * status. */
static bool valid_namespace(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static int parse(common *o, const char *prog, const char *synopsis, const char *about,
                 unsigned which, int min_args, int max_args, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    char as_plugin[64];   /* kubectl-canary's help says how kubectl runs it */
    if (cd_ctl_as_plugin && !strncmp(prog, "canaryctl ", 10)) {
        snprintf(as_plugin, sizeof as_plugin, "kubectl canary %s", prog + 10);
        prog = as_plugin;
    }
    o->ns = "default";
    o->limit = 50;
    cd_flag all[] = {
        CD_API_NAMESPACE_FLAG(&o->ns),
        CD_FLAG_SWITCH("all-namespaces", 'A', &o->all_ns, "canaries of every namespace"),
        {.name = "output", .alias = 'o', .type = CD_FLAG_ENUM, .target = &o->output,
         .choices = outputs, .help = "print JSON instead of a table"},
        CD_FLAG_NUM("limit", &o->limit, "N", 1, 10000, "the most recent N events"),
        CD_FLAG_SWITCH("until-done", 0, &o->until_done,
                       "exit when the canary is done: 0 on Succeeded, 1 on Failed"),
        CD_API_SERVER_FLAG(&o->server),
        CD_API_TOKEN_FLAG(&o->token_file),
        CD_FLAG_DUR("timeout", &o->timeout_ms, 0, 864e5,
                    "with --until-done: give up after this long (exit 3; 0: never)"),
        CD_KUBE_FLAGS(&o->kf),
    };
    all[0].given = &o->ns_given;
    static const unsigned bit[] = {0, F_ALL_NS, F_OUTPUT, F_LIMIT, F_UNTIL_DONE, 0, 0, F_TIMEOUT,
                                   0, 0, 0};
    cd_flag t[sizeof all / sizeof all[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!bit[i] || (which & bit[i]))
            t[n++] = all[i];
    cd_flag_cmd cmd = {.prog = prog, .synopsis = synopsis, .about = about, .env = cd_api_env_docs,
                       .footer = EXIT_STATUS, .flags = t, .nflags = n,
                       .min_args = min_args, .max_args = max_args};
    int rc = cd_flags_parse(&cmd, argc, argv, &o->nargs, stdout, stderr);
    if (rc != CD_FLAGS_OK)
        return rc;
    /* -n "" is no namespace given, as kubectl takes it ("No canaries found
     * in namespace ." before); anything but a namespace name is refused,
     * not put into a URL path ("-n ../x") */
    if (o->ns_given && !o->ns[0]) {
        o->ns = "default";
        o->ns_given = false;
    }
    if (!valid_namespace(o->ns)) {
        fprintf(stderr, "%s: -n %s: not a namespace name (lowercase letters, digits and '-', "
                        "at most 63)\n", prog, o->ns);
        return CD_FLAGS_USAGE;
    }
    o->args = argv + 1;
    if (cd_ctl_kube_wanted(&o->kf)) {
        o->on_kube = true;
        return cd_ctl_kube_open(&o->kube, &o->kf, o->ns_given ? o->ns : NULL) ? CD_FLAGS_OK
                                                                               : CD_FLAGS_USAGE;
    }
    if (!cd_api_client_init(&o->client, o->server, o->token_file))
        return CD_FLAGS_USAGE;
    return CD_FLAGS_OK;
}

/* Runs the cluster's version of a command and disconnects. */
static int kube_done(common *o, int rc)
{
    cd_ctl_kube_close(&o->kube);
    return rc;
}

static bool is_canary_resource(const char *s)
{
    return !strcmp(s, "canaries") || !strcmp(s, "canary") || !strcmp(s, "canaries.flagger.app") ||
           !strcmp(s, "canary.flagger.app");
}

static json_t *fetch(const common *o, const char *path, int *rc)
{
    long status;
    char err[600] = "";
    json_t *j = cd_api_call(&o->client, "GET", path, NULL, 0, &status, err, sizeof err);
    if (!status) {
        fprintf(stderr, "canaryctl: %s\n", err);
        *rc = 2;
    } else if (status == 404) {
        fprintf(stderr, "canaryctl: %s\n", json_string_value(json_object_get(j, "error")) ?: "not found");
        *rc = 1;
    } else if (status != 200) {
        fprintf(stderr, "canaryctl: the server answered %ld\n", status);
        *rc = 2;
    } else {
        *rc = 0;
        return j;
    }
    json_decref(j);
    return NULL;
}

static void print(cd_buf *b)
{
    fwrite(cd_buf_str(b), 1, b->len, stdout);
    cd_buf_free(b);
}

static json_t *fetch_canary(const common *o, const char *name, int *rc)
{
    char path[700];
    cd_api_canary_path(path, sizeof path, o->ns, name);
    return fetch(o, path, rc);
}

int cmd_get(int argc, char **argv)
{
    common o;
    int rc = parse(&o, "canaryctl get", "canaries [NAME] [-n NS | -A] [-o json] [flags]",
                   "Lists the canaries of canaryd local, or of a cluster with --kube, --kubeconfig,\n"
                   "--context or as kubectl-canary (docs/kubectl-plugin.md): NAME, STATUS, WEIGHT, FAILEDCHECKS,\n"
                   "LASTTRANSITIONTIME (as kubectl get canaries); with NAME (canaryd local), only that\n"
                   "one (exit 1 when it does not exist). With -o json, a v1 List of the Canary objects\n"
                   "(apiVersion, kind, metadata, spec, status; secrets redacted), as kubectl get\n"
                   "canaries -o json prints it, or with NAME the one object; describe canary NAME\n"
                   "-o json has canaryd's summary of one (phase, weights, processes, metrics, events).",
                   F_ALL_NS | F_OUTPUT, 1, 2, argc, argv);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (!is_canary_resource(o.args[0])) {
        fprintf(stderr, "canaryctl get: unknown resource \"%s\" (canaryctl gets canaries)\n",
                o.args[0]);
        return 2;
    }
    const char *only = o.nargs > 1 ? o.args[1] : NULL;   /* get canaries NAME */
    if (only && o.all_ns) {
        fprintf(stderr, "canaryctl get: a NAME is looked up in one namespace: drop -A\n");
        return 2;
    }
    if (only && o.on_kube) {
        fprintf(stderr, "canaryctl get: on a cluster, get lists the namespace's canaries; "
                        "describe canary %s shows one\n", only);
        return 2;
    }
    if (o.on_kube)
        return kube_done(&o, cd_ctl_kube_get(&o.kube, o.all_ns, o.output != NULL));
    if (only) {   /* the server's 404 names it and suggests the closest */
        json_t *one = fetch_canary(&o, only, &rc);
        if (!one)
            return rc;
        json_decref(one);
    }
    json_t *j = fetch(&o, o.output ? "/api/v1/canaries?view=objects" : "/api/v1/canaries", &rc);
    if (!j)
        return rc;
    json_t *items = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "items"), i, c) {
        json_t *meta = json_object_get(c, "metadata");   /* a Canary object with -o json */
        const char *ns = json_string_value(json_object_get(meta ? meta : c, "namespace"));
        const char *name = json_string_value(json_object_get(meta ? meta : c, "name"));
        if ((o.all_ns || !strcmp(ns ? ns : "", o.ns)) && (!only || !strcmp(name ? name : "", only)))
            json_array_append(items, c);
    }
    cd_buf b = CD_BUF_INIT;
    if (o.output && only && json_array_size(items) == 1) {
        /* kubectl get canary NAME -o json: the object itself */
        char *s = json_dumps(json_array_get(items, 0), JSON_INDENT(4));
        cd_buf_printf(&b, "%s\n", s);
        free(s);
    } else if (o.output) {
        /* kubectl get -o json: a v1 List of the Canary objects */
        json_t *list = json_pack("{s:s,s:s,s:{s:s},s:O}", "apiVersion", "v1", "kind", "List",
                                 "metadata", "resourceVersion", "", "items", items);
        char *s = json_dumps(list, JSON_INDENT(4));
        cd_buf_printf(&b, "%s\n", s);
        free(s);
        json_decref(list);
    } else if (json_array_size(items) == 0) {
        fprintf(stderr, "No canaries found%s%s.\n", o.all_ns ? "" : " in namespace ",
                o.all_ns ? "" : o.ns);
    } else {
        cd_view_table(&b, items, o.all_ns);
    }
    print(&b);
    json_decref(items);
    json_decref(j);
    return 0;
}

int cmd_describe(int argc, char **argv)
{
    common o;
    int rc = parse(&o, "canaryctl describe", "canary NAME [-n NS] [-o json] [flags]",
                   "A canary's spec summary, status, processes, each metric's last value beside\n"
                   "its limit, and its recent events. On a cluster (--kube, --kubeconfig, --context,\n"
                   "kubectl-canary): step n of N, the primary's and canary's images and replicas,\n"
                   "the gates and who set them, the Canary's Events.",
                   F_OUTPUT, 1, 2, argc, argv);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (o.nargs == 1) {   /* "describe podinfo": the kind is missing, as kubectl needs it */
        if (is_canary_resource(o.args[0]))
            fprintf(stderr, "canaryctl describe: missing NAME: canaryctl describe canary NAME "
                            "(canaryctl get canaries lists them)\n");
        else
            fprintf(stderr, "canaryctl describe: \"%s\" is not a kind: did you mean canaryctl "
                            "describe canary %s?\n", o.args[0], o.args[0]);
        return 2;
    }
    const char *name = o.args[1];
    if (!is_canary_resource(o.args[0])) {
        fprintf(stderr, "canaryctl describe: unknown resource \"%s\" (usage: canaryctl describe "
                        "canary NAME)\n", o.args[0]);
        return 2;
    }
    if (o.on_kube)
        return kube_done(&o, cd_ctl_kube_describe(&o.kube, name, o.output != NULL));
    json_t *j = fetch_canary(&o, name, &rc);
    if (!j)
        return rc;
    cd_buf b = CD_BUF_INIT;
    if (o.output) {
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        cd_buf_printf(&b, "%s\n", s);
        free(s);
    } else {
        cd_view_describe(&b, j);
    }
    print(&b);
    json_decref(j);
    return 0;
}

int cmd_events(int argc, char **argv)
{
    common o;
    int rc = parse(&o, "canaryctl events", "NAME [-n NS] [--limit N] [-o json] [flags]",
                   "A canary's event journal, oldest first (one JSON object per line with -o json).",
                   F_OUTPUT | F_LIMIT, 1, 1, argc, argv);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (o.on_kube)
        return kube_done(&o, cd_ctl_kube_events(&o.kube, o.args[0], o.limit, o.output != NULL));
    char path[800];
    cd_api_canary_path(path, sizeof path, o.ns, o.args[0]);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/events?limit=%d", o.limit);
    json_t *j = fetch(&o, path, &rc);
    if (!j)
        return rc;
    size_t i;
    json_t *e;
    if (o.output) {
        json_array_foreach(json_object_get(j, "items"), i, e) {
            char *s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", s);
            free(s);
        }
    } else {
        cd_buf b = CD_BUF_INIT;
        cd_view_events(&b, json_object_get(j, "items"), "");
        print(&b);
    }
    json_decref(j);
    return 0;
}

static volatile sig_atomic_t g_stop;
static void on_int(int sig) { g_stop = 1; }

int cmd_watch(int argc, char **argv)
{
    common o;
    int rc = parse(&o, "canaryctl watch", "NAME [-n NS] [--until-done] [flags]",
                   "Follows a canary live: in place on a terminal, one line per change when "
                   "piped. The weights are the router's: they add up to 100.\n\n"
                   "With --until-done it exits when the release of the workload's current "
                   "revision is done (0 Succeeded, 1 Failed); a Succeeded or Failed left from "
                   "the previous revision is not taken for it, and a finished phase seen first "
                   "is confirmed a second later, in case canaryd has not yet read an edit made "
                   "just before.\n\nOn a cluster (--kube, --kubeconfig, --context, kubectl-canary) "
                   "it polls the Canary once a second; docs/kubectl-plugin.md.",
                   F_UNTIL_DONE | F_TIMEOUT, 1, 1, argc, argv);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (o.on_kube)
        return kube_done(&o, cd_ctl_kube_watch(&o.kube, o.args[0], o.until_done, o.timeout_ms));
    signal(SIGINT, on_int);
    int64_t deadline = o.timeout_ms > 0 ? cd_mono_ms() + o.timeout_ms : 0;
    signal(SIGTERM, on_int);
    bool tty = isatty(STDOUT_FILENO);
    char last[1024] = "";
    int seen_done = 0;   /* polls in a row that found the release done */
    for (int polls = 0; !g_stop; polls++) {
        json_t *j = fetch_canary(&o, o.args[0], &rc);
        if (!j)
            return rc;
        cd_buf b = CD_BUF_INIT;
        if (tty) {
            cd_buf_puts(&b, "\033[H\033[2J");
            cd_view_watch(&b, j, 8);
            print(&b);
            fflush(stdout);
        } else {
            cd_view_line(&b, j);
            /* print a line only when phase, weights or failed checks changed */
            int cw, pw;
            bool mirrored;
            cd_view_weights(j, &cw, &pw, &mirrored);
            char key[1024];
            snprintf(key, sizeof key, "%s %d %d %d %lld",
                     json_string_value(json_object_get(j, "phase")) ?: "", cw, pw, mirrored,
                     (long long)json_integer_value(json_object_get(j, "failedChecks")));
            if (strcmp(key, last)) {
                snprintf(last, sizeof last, "%s", key);
                print(&b);
                fflush(stdout);
            } else {
                cd_buf_free(&b);
            }
        }
        int outcome = cd_watch_outcome(j);   /* read before j is released */
        json_decref(j);
        seen_done = outcome >= 0 ? seen_done + 1 : 0;
        /* done after a poll that was not: at once; done from the first
         * poll on: confirmed by the polls of the second after it */
        bool changed = polls + 1 > seen_done;
        if (o.until_done && outcome >= 0 && (changed || seen_done >= 3))
            return outcome;
        if (deadline && cd_mono_ms() >= deadline) {
            fprintf(stderr, "canaryctl watch: %s.%s not done after the --timeout\n", o.args[0], o.ns);
            return 3;
        }
        usleep(500000);
    }
    return 0;
}
