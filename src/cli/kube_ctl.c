/* kube_ctl.c - canaryctl's commands on a Kubernetes cluster (kube_ctl.h):
 * the connection as kubectl makes it, who the user is, get, events,
 * watch and the actions (canaryd.io/... annotations, kube/gates.h). The
 * page of one canary is kube_detail.c's. Must not print a credential. */
#include "cli/kube_ctl.h"
#include "cli/view.h"
#include "kube/api.h"
#include "kube/gates.h"
#include "kube/kjson.h"
#include "util/timeutil.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool cd_ctl_as_plugin;

bool cd_ctl_kube_wanted(const cd_ctl_kube_flags *f)
{
    return cd_ctl_as_plugin || f->kube || (f->kubeconfig && *f->kubeconfig) ||
           (f->context && *f->context);
}

static bool exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

/* kubectl's loading rules: with no --kubeconfig, the files of $KUBECONFIG
 * (else ~/.kube/config); when none of them exists and the process runs in
 * a pod, the pod's service account. */
static bool any_kubeconfig(void)
{
    const char *list = getenv("KUBECONFIG");
    if (list && *list) {
        char *copy = strdup(list), *save = NULL;
        bool found = false;
        for (char *p = strtok_r(copy, ":", &save); p && !found; p = strtok_r(NULL, ":", &save))
            found = exists(p);
        free(copy);
        return found;
    }
    const char *home = getenv("HOME");
    char path[1024];
    snprintf(path, sizeof path, "%s/.kube/config", home ? home : "");
    return home && exists(path);
}

/* The user as the API server authenticated them (SelfSubjectReview,
 * Kubernetes 1.28+), else the kubeconfig's user entry. */
void cd_ctl_kube_whoami(cd_ctl_kube *k)
{
    json_t *body = json_pack("{s:s,s:s}", "apiVersion", "authentication.k8s.io/v1", "kind",
                             "SelfSubjectReview");
    json_t *out = NULL;
    cd_kube_err e;
    const char *user = NULL;
    if (cd_kube_request(k->kc, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", NULL,
                        body, &out, &e))
        user = kj_str(out, "status.userInfo.username");
    if (user && *user)
        snprintf(k->who, sizeof k->who, "%.200s", user);
    else if (k->cfg.user && *k->cfg.user)
        snprintf(k->who, sizeof k->who, "%.200s", k->cfg.user);
    else
        snprintf(k->who, sizeof k->who, "%s", k->cfg.in_cluster ? "in-cluster service account"
                                                                 : "unknown user");
    json_decref(out);
    json_decref(body);
}

bool cd_ctl_kube_open(cd_ctl_kube *k, const cd_ctl_kube_flags *f, const char *ns_flag)
{
    memset(k, 0, sizeof *k);
    cd_kube_err e;
    bool explicit_file = f->kubeconfig && *f->kubeconfig;
    bool ok;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (!explicit_file && !any_kubeconfig() && host && *host) {
        ok = cd_kube_config_in_cluster(NULL, &k->cfg, &e);
    } else {
        cd_kube_config_opts o = {.kubeconfig = f->kubeconfig, .context = f->context,
                                 .no_in_cluster = true};
        ok = cd_kube_config_load(&o, &k->cfg, &e);
    }
    if (!ok) {
        fprintf(stderr, "canaryctl: %s\n", e.msg);
        return false;
    }
    cd_kube_client_opts co = {.timeout_ms = 20000, .max_retries = 2};
    char ua[64];
    snprintf(ua, sizeof ua, "canaryctl");
    co.user_agent = ua;
    k->kc = cd_kube_client_new(&k->cfg, &co, &e);
    if (!k->kc) {
        fprintf(stderr, "canaryctl: %s: %s\n", k->cfg.source ? k->cfg.source : "kubeconfig", e.msg);
        cd_kube_config_free(&k->cfg);
        return false;
    }
    k->ns = ns_flag && *ns_flag ? ns_flag : k->cfg.namespace && *k->cfg.namespace ? k->cfg.namespace
                                                                                  : "default";
    return true;
}

void cd_ctl_kube_close(cd_ctl_kube *k)
{
    cd_kube_client_free(k->kc);
    cd_kube_config_free(&k->cfg);
    memset(k, 0, sizeof *k);
}

static void print(cd_buf *b)
{
    fwrite(cd_buf_str(b), 1, b->len, stdout);
    cd_buf_free(b);
}

/* ---- get, describe, events ------------------------------------------------------ */

int cd_ctl_kube_get(cd_ctl_kube *k, bool all_ns, bool json)
{
    json_t *items = NULL;
    cd_kube_err e;
    if (!cd_kube_list(k->kc, &CD_KUBE_CANARIES, all_ns ? NULL : k->ns, NULL, &items, NULL, &e)) {
        fprintf(stderr, "canaryctl get: %s\n", e.msg);
        return 2;
    }
    cd_buf b = CD_BUF_INIT;
    if (json) {
        json_t *list = json_pack("{s:s,s:s,s:{s:s},s:O}", "apiVersion", "v1", "kind", "List",
                                 "metadata", "resourceVersion", "", "items", items);
        char *s = json_dumps(list, JSON_INDENT(4));
        cd_buf_printf(&b, "%s\n", s);
        free(s);
        json_decref(list);
    } else if (json_array_size(items) == 0) {
        fprintf(stderr, "No canaries found%s%s.\n", all_ns ? "" : " in namespace ",
                all_ns ? "" : k->ns);
    } else {
        json_t *rows = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(items, i, c)
            json_array_append_new(
                rows, json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "namespace",
                                kj_str(c, "metadata.namespace") ?: "", "name",
                                kj_str(c, "metadata.name") ?: "", "phase",
                                kj_str(c, "status.phase") ?: "", "canaryWeight",
                                (json_int_t)kj_int(c, "status.canaryWeight", 0), "failedChecks",
                                (json_int_t)kj_int(c, "status.failedChecks", 0),
                                "lastTransitionTime", kj_str(c, "status.lastTransitionTime") ?: ""));
        cd_view_table(&b, rows, all_ns);
        json_decref(rows);
    }
    print(&b);
    json_decref(items);
    return 0;
}

int cd_ctl_kube_describe(cd_ctl_kube *k, const char *name, bool json)
{
    int rc;
    json_t *d = cd_ctl_kube_detail(k, name, &rc);
    if (!d)
        return rc;
    cd_buf b = CD_BUF_INIT;
    if (json) {
        char *s = json_dumps(d, JSON_INDENT(2) | JSON_SORT_KEYS);
        cd_buf_printf(&b, "%s\n", s);
        free(s);
    } else {
        cd_ctl_kube_describe_page(&b, d);
    }
    print(&b);
    json_decref(d);
    return 0;
}

int cd_ctl_kube_events(cd_ctl_kube *k, const char *name, int limit, bool json)
{
    int rc;
    json_t *d = cd_ctl_kube_detail(k, name, &rc);
    if (!d)
        return rc;
    json_t *ev = json_object_get(d, "events");
    size_t n = json_array_size(ev), start = n > (size_t)limit ? n - (size_t)limit : 0;
    cd_buf b = CD_BUF_INIT;
    if (json) {
        for (size_t i = start; i < n; i++) {
            char *s = json_dumps(json_array_get(ev, i), JSON_COMPACT | JSON_SORT_KEYS);
            cd_buf_printf(&b, "%s\n", s);
            free(s);
        }
    } else {
        cd_ctl_kube_events_table(&b, ev, (size_t)limit, "");
    }
    print(&b);
    json_decref(d);
    return 0;
}

/* ---- watch ---------------------------------------------------------------------- */

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static void frame(cd_buf *b, const json_t *d)
{
    int cw = (int)kj_int(d, "canaryWeight", 0);
    cd_buf_printf(b, "%s.%s  %s  step %lld of %lld\n\n", kj_str(d, "name"), kj_str(d, "namespace"),
                  kj_str(d, "phase"), (long long)kj_int(d, "step", 0),
                  (long long)kj_int(d, "steps", 0));
    cd_buf_puts(b, "  canary  ");
    cd_view_bar(b, cw, 40);
    cd_buf_puts(b, "\n  primary ");
    cd_view_bar(b, 100 - cw, 40);
    cd_buf_printf(b, "\n\n  failed checks %lld   iterations %lld\n",
                  (long long)kj_int(d, "failedChecks", 0), (long long)kj_int(d, "iterations", 0));
    static const char *const roles[] = {"primary", "canary"};
    for (int i = 0; i < 2; i++) {
        const json_t *w = kj_at(kj_at(d, "kube"), roles[i]);
        if (!w || kj_str(w, "error"))
            continue;
        cd_buf_printf(b, "  %-8s %lld/%lld ready  %s\n", roles[i], (long long)kj_int(w, "ready", 0),
                      (long long)kj_int(w, "desired", 0),
                      json_string_value(json_array_get(kj_at(w, "images"), 0)) ?: "");
    }
    const char *key;
    json_t *v;
    json_object_foreach(kj_at(d, "gates"), key, v)
        cd_buf_printf(b, "  gate     %s by %s\n", key, json_string_value(v));
    cd_buf_putc(b, '\n');
    if (json_array_size(kj_at(d, "metrics"))) {
        cd_view_metrics(b, d);
        cd_buf_putc(b, '\n');
    }
    cd_ctl_kube_events_table(b, kj_at(d, "events"), 8, "  ");
}

/* One line per change when piped. */
static void line(cd_buf *b, const json_t *d)
{
    int cw = (int)kj_int(d, "canaryWeight", 0);
    cd_buf_printf(b, "%s %-16s step %lld/%lld canary %3d%% primary %3d%% failed %lld", kj_str(d, "name"),
                  kj_str(d, "phase"), (long long)kj_int(d, "step", 0),
                  (long long)kj_int(d, "steps", 0), cw, 100 - cw,
                  (long long)kj_int(d, "failedChecks", 0));
    const char *key;
    json_t *v;
    json_object_foreach(kj_at(d, "gates"), key, v)
        cd_buf_printf(b, " %s=%s", key, json_string_value(v));
    cd_buf_putc(b, '\n');
}

int cd_ctl_kube_watch(cd_ctl_kube *k, const char *name, bool until_done, int64_t timeout_ms)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    bool tty = isatty(STDOUT_FILENO);
    int64_t deadline = timeout_ms > 0 ? cd_mono_ms() + timeout_ms : 0;
    cd_buf last = CD_BUF_INIT;
    int rc = 0;
    while (!g_stop) {
        json_t *d = cd_ctl_kube_detail(k, name, &rc);
        if (!d)
            break;
        cd_buf b = CD_BUF_INIT;
        if (tty) {
            cd_buf_puts(&b, "\033[H\033[2J");
            frame(&b, d);
            print(&b);
        } else {
            line(&b, d);
            if (last.len == b.len && !memcmp(cd_buf_str(&last), cd_buf_str(&b), b.len)) {
                cd_buf_free(&b);
            } else {
                cd_buf_free(&last);
                cd_buf_puts(&last, cd_buf_str(&b));
                print(&b);
            }
        }
        fflush(stdout);
        int outcome = cd_ctl_kube_outcome(d);
        json_decref(d);
        if (until_done && outcome >= 0) {
            rc = outcome;
            break;
        }
        if (deadline && cd_mono_ms() >= deadline) {
            fprintf(stderr, "canaryctl watch: %s.%s not done after the --timeout\n", name, k->ns);
            rc = 3;
            break;
        }
        for (int i = 0; i < 10 && !g_stop; i++)
            usleep(100000);
    }
    cd_buf_free(&last);
    return rc;
}

/* ---- actions -------------------------------------------------------------------- */

typedef struct action {
    const char *name, *annotation, *done;
    const char *need;       /* phases it acts in ("|"-separated), NULL: any */
    const char *need_text;
} action;

static const action actions[] = {
    {"promote", CD_GATE_PROMOTE, "promotion approved", NULL, NULL},
    {"abort", CD_GATE_ABORT, "rollback requested", "|Progressing|Waiting|WaitingPromotion|",
     "Progressing, Waiting or WaitingPromotion (a release being analysed)"},
    {"hold", CD_GATE_HOLD, "promotion held", NULL, NULL},
    {"hold-rollout", CD_GATE_HOLD_ROLLOUT, "rollout held", NULL, NULL},
    {"resume", CD_GATE_RESUME, "resume requested", NULL, NULL},
    {"retry", CD_GATE_RETRY, "retry requested", "|Failed|", "Failed"},
};

int cd_ctl_kube_act(cd_ctl_kube *k, const char *name, const char *what)
{
    if (!strcmp(what, "rollback"))
        return cd_ctl_kube_rollback(k, name);
    const action *a = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(actions[i].name, what))
            a = &actions[i];
    if (!a) {
        fprintf(stderr, "canaryctl %s: not available on Kubernetes (docs/kubectl-plugin.md)\n", what);
        return 2;
    }
    json_t *canary = NULL;
    cd_kube_err e;
    if (!cd_kube_get(k->kc, &CD_KUBE_CANARIES, k->ns, name, &canary, &e)) {
        fprintf(stderr, "canaryctl %s: canary %s.%s: %s\n", what, name, k->ns,
                cd_kube_is_not_found(&e) ? "not found" : e.msg);
        return cd_kube_is_not_found(&e) ? 1 : 2;
    }
    const char *phase = kj_str(canary, "status.phase");
    char bar[64];
    snprintf(bar, sizeof bar, "|%.40s|", phase && *phase ? phase : "-");
    if (a->need && !strstr(a->need, bar)) {
        fprintf(stderr, "canaryctl %s: canary %s.%s is %s: %s acts only in %s\n", what, name, k->ns,
                phase && *phase ? phase : "not initialised yet", what, a->need_text);
        json_decref(canary);
        return 2;
    }
    json_decref(canary);
    cd_ctl_kube_whoami(k);
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", a->annotation, k->who);
    bool ok = cd_kube_patch(k->kc, &CD_KUBE_CANARIES, k->ns, name, CD_KUBE_MERGE_PATCH, patch, NULL,
                            NULL, &e);
    json_decref(patch);
    if (!ok) {
        fprintf(stderr, "canaryctl %s: canary %s.%s: %s\n", what, name, k->ns, e.msg);
        return cd_kube_is_not_found(&e) ? 1 : 2;
    }
    printf("canary %s.%s: %s by %s (annotation %s; canaryd kube acts on it at its next check)\n",
           name, k->ns, a->done, k->who, a->annotation);
    return 0;
}
