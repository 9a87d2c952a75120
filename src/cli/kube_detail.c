/* kube_detail.c - one Canary of a cluster as canaryctl shows it: the
 * Canary object, its target and primary workloads (images, replicas
 * ready) and its core/v1 Events, folded into the detail canaryctl's views
 * take (view.h), plus the describe page and watch's verdict. Reads only;
 * never writes to the cluster. */
#include "cli/kube_ctl.h"
#include "cli/table.h"
#include "cli/view.h"
#include "judge/judge.h"
#include "kube/api.h"
#include "kube/gates.h"
#include "kube/kjson.h"
#include "model/object.h"
#include "model/status.h"
#include "util/redact.h"
#include "util/timeutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_or(const char *s, const char *def) { return s && *s ? s : def; }

static const cd_kube_resource *workload_resource(const char *kind)
{
    if (!strcmp(kind, "DaemonSet"))
        return &CD_KUBE_DAEMONSETS;
    if (!strcmp(kind, "StatefulSet"))
        return &CD_KUBE_STATEFULSETS;
    return &CD_KUBE_DEPLOYMENTS;
}

/* The object, or NULL when it does not exist (or cannot be read: then
 * *why says so). */
static json_t *get_opt(cd_ctl_kube *k, const cd_kube_resource *r, const char *ns, const char *name,
                       char *why, size_t n)
{
    json_t *o = NULL;
    cd_kube_err e;
    if (cd_kube_get(k->kc, r, ns, name, &o, &e))
        return o;
    snprintf(why, n, "%s", cd_kube_is_not_found(&e) ? "not found" : e.msg);
    return NULL;
}

/* {name, images[], desired, ready} of a workload (NULL obj: missing). */
static json_t *workload_view(const json_t *obj, const char *kind, const char *name, const char *why)
{
    json_t *v = json_pack("{s:s}", "name", name);
    if (!obj) {
        json_object_set_new(v, "error", json_string(why));
        return v;
    }
    json_t *images = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(kj_at(obj, "spec.template.spec.containers"), i, c)
        json_array_append_new(images, json_string(s_or(kj_str(c, "image"), "?")));
    json_object_set_new(v, "images", images);
    int64_t desired, ready;
    if (!strcmp(kind, "DaemonSet")) {
        desired = kj_int(obj, "status.desiredNumberScheduled", 0);
        ready = kj_int(obj, "status.numberReady", 0);
    } else {
        desired = kj_int(obj, "spec.replicas", 1);
        ready = kj_int(obj, "status.readyReplicas", 0);
    }
    json_object_set_new(v, "desired", json_integer(desired));
    json_object_set_new(v, "ready", json_integer(ready));
    return v;
}

/* The revision canaryd kube hashes (kube/workload's cdk_target_hash: the
 * pod template, without the DaemonSet scale-to-zero node selector). */
static void target_revision(const json_t *target, const char *kind, char out[16])
{
    json_t *tpl = kj_copy(kj_at(target, "spec.template"));
    if (!tpl)
        tpl = json_object();
    if (!strcmp(kind, "DaemonSet"))
        json_object_del(kj_obj(kj_obj(tpl, "spec"), "nodeSelector"), "flagger.app/scale-to-zero");
    cd_json_hash(tpl, out);
    json_decref(tpl);
}

/* When an Event last happened, for sorting and showing. */
static const char *event_time(const json_t *e)
{
    static const char *const keys[] = {"lastTimestamp", "series.lastObservedTime", "eventTime",
                                       "firstTimestamp", "metadata.creationTimestamp"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *s = kj_str(e, keys[i]);
        if (s && *s)
            return s;
    }
    return "";
}

static int by_time(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(event_time(x), event_time(y));
    if (c)
        return c;
    return strcmp(s_or(kj_str(x, "metadata.resourceVersion"), ""),
                  s_or(kj_str(y, "metadata.resourceVersion"), ""));
}

/* The Canary's core/v1 Events, oldest first, as [{ts,type,reason,count,message}]. */
static json_t *canary_events(cd_ctl_kube *k, const char *ns, const char *name)
{
    char sel[400];
    snprintf(sel, sizeof sel, "involvedObject.kind=Canary,involvedObject.name=%s", name);
    cd_kube_list_opts lo = {.field_selector = sel};
    json_t *items = NULL;
    cd_kube_err e;
    json_t *out = json_array();
    if (!cd_kube_list(k->kc, &CD_KUBE_EVENTS_V1CORE, ns, &lo, &items, NULL, &e))
        return out;   /* events are best effort: RBAC may not grant them */
    size_t n = json_array_size(items);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(items, i);
    qsort(v, n, sizeof *v, by_time);
    for (size_t i = 0; i < n; i++) {
        char msg[1024];
        cd_redact_text(s_or(kj_str(v[i], "message"), ""), NULL, 0, msg, sizeof msg);
        int64_t count = kj_int(v[i], "count", 0);
        if (count < kj_int(v[i], "series.count", 0))
            count = kj_int(v[i], "series.count", 0);
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:I,s:s}", "ts", event_time(v[i]),
                                             "type", s_or(kj_str(v[i], "type"), ""), "reason",
                                             s_or(kj_str(v[i], "reason"), ""), "count",
                                             (json_int_t)(count ? count : 1), "message", msg));
    }
    free(v);
    json_decref(items);
    return out;
}

/* Step n of N and the strategy, from spec.analysis and the status. */
static void steps(json_t *d, const json_t *an, const json_t *st, const char *provider)
{
    int64_t weight = kj_int(st, "canaryWeight", 0), iters = kj_int(an, "iterations", 0);
    int64_t step = kj_int(an, "stepWeight", 0), maxw = kj_int(an, "maxWeight", 0);
    const json_t *sw = kj_at(an, "stepWeights");
    const char *strategy;
    long n = 0, total = 0;
    if (json_array_size(sw) > 0 && strcmp(s_or(provider, ""), "kubernetes")) {
        strategy = "canary (stepWeights)";
        total = (long)json_array_size(sw);
        size_t i;
        json_t *w;
        json_array_foreach(sw, i, w)
            if (weight > 0 && json_integer_value(w) <= weight)
                n = (long)i + 1;
    } else if (step > 0 && strcmp(s_or(provider, ""), "kubernetes")) {
        strategy = "canary";
        if (maxw <= 0)
            maxw = 100;
        total = (long)((maxw + step - 1) / step);
        n = (long)((weight + step - 1) / step);
    } else if (iters > 0 || !strcmp(s_or(provider, ""), "kubernetes")) {
        if (iters <= 0)
            iters = 10;   /* Flagger's for the kubernetes provider (no traffic split) */
        strategy = json_array_size(kj_at(an, "match")) ? "A/B testing"
                   : json_is_true(kj_at(an, "mirror")) ? "Blue/Green (mirrored)"
                                                        : "Blue/Green";
        total = (long)iters;
        n = (long)kj_int(st, "iterations", 0);
    } else {
        strategy = "none";
    }
    /* waiting for promotion, every step is done (Flagger rewinds the
     * iteration count on each waiting tick: shown, it would flap) */
    const char *phase = kj_str(st, "phase");
    if (n > total || (phase && !strcmp(phase, "WaitingPromotion")))
        n = total;
    json_object_set_new(d, "strategy", json_string(strategy));
    json_object_set_new(d, "step", json_integer(n));
    json_object_set_new(d, "steps", json_integer(total));
}

/* Each metric of spec.analysis: its limits and, as the value, the last
 * Event that names it (canaryd kube keeps metric values in Events and in
 * status.judge only). */
static json_t *metrics(const json_t *an, const json_t *events)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(kj_at(an, "metrics"), i, m) {
        const char *name = s_or(kj_str(m, "name"), "?");
        json_t *row = json_pack("{s:s}", "name", name);
        json_t *min = kj_at(m, "thresholdRange.min"), *max = kj_at(m, "thresholdRange.max");
        if (json_is_number(min))
            json_object_set_new(row, "min", json_real(json_number_value(min)));
        if (json_is_number(max))
            json_object_set_new(row, "max", json_real(json_number_value(max)));
        if (json_is_object(kj_at(m, "judge")))
            json_object_set_new(row, "message", json_string("judged: see Statistical judge"));
        /* the last Event of this release naming the metric, else its
         * last failed query (builtin queries' messages name no metric) */
        for (size_t j = json_array_size(events); j-- > 0;) {
            const char *msg = kj_str(json_array_get(events, j), "message");
            if (!msg || kj_prefix(msg, "Starting canary analysis") || kj_prefix(msg, "New revision"))
                break;
            bool named = strstr(msg, name) != NULL;
            if (named || strstr(msg, "query failed")) {
                json_object_set_new(row, "message", json_string(msg));
                if (named)
                    json_object_set_new(row, "passed", json_false());
                break;
            }
        }
        json_array_append_new(out, row);
    }
    return out;
}

/* canaryd.io/... annotations: {key: who}. */
static json_t *gates(const json_t *canary)
{
    json_t *g = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(kj_at(canary, "metadata.annotations"), key, v)
        if (kj_prefix(key, CD_GATE_PREFIX) && json_is_string(v))
            json_object_set(g, key + strlen(CD_GATE_PREFIX), v);
    return g;
}

json_t *cd_ctl_kube_detail(cd_ctl_kube *k, const char *name, int *rc)
{
    char why[600] = "";
    json_t *canary = get_opt(k, &CD_KUBE_CANARIES, k->ns, name, why, sizeof why);
    if (!canary) {
        fprintf(stderr, "canaryctl: canary %s.%s: %s\n", name, k->ns, why);
        *rc = strcmp(why, "not found") ? 2 : 1;
        return NULL;
    }
    const json_t *st = kj_at(canary, "status"), *an = kj_at(canary, "spec.analysis");
    int64_t cw = kj_int(st, "canaryWeight", 0);
    json_t *d = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "name", name, "namespace", k->ns,
                          "phase", s_or(kj_str(st, "phase"), "Pending"), "canaryWeight",
                          (json_int_t)cw, "primaryWeight", (json_int_t)(100 - cw), "failedChecks",
                          (json_int_t)kj_int(st, "failedChecks", 0), "iterations",
                          (json_int_t)kj_int(st, "iterations", 0), "lastTransitionTime",
                          s_or(kj_str(st, "lastTransitionTime"), ""));
    json_object_set_new(d, "status", json_is_object(st) ? json_incref((json_t *)st) : json_object());
    json_object_set(d, "spec", kj_at(canary, "spec") ? kj_at(canary, "spec") : json_null());
    steps(d, an, st, kj_str(canary, "spec.provider"));

    const char *kind = s_or(kj_str(canary, "spec.targetRef.kind"), "Deployment");
    const char *tname = s_or(kj_str(canary, "spec.targetRef.name"), name);
    const cd_kube_resource *r = workload_resource(kind);
    json_t *target = get_opt(k, r, k->ns, tname, why, sizeof why);
    json_t *wl = json_pack("{s:s}", "kind", kind);
    json_object_set_new(wl, "canary", workload_view(target, kind, tname, why));
    if (target) {
        char rev[16];
        target_revision(target, kind, rev);
        json_object_set_new(wl, "revision", json_string(rev));
    }
    if (strcmp(kind, "StatefulSet")) {   /* a StatefulSet is released in place */
        char pname[300];
        snprintf(pname, sizeof pname, "%s-primary", tname);
        json_t *primary = get_opt(k, r, k->ns, pname, why, sizeof why);
        json_object_set_new(wl, "primary", workload_view(primary, kind, pname, why));
        json_decref(primary);
    }
    json_decref(target);
    json_object_set_new(d, "kube", wl);
    json_object_set_new(d, "gates", gates(canary));
    json_t *events = canary_events(k, k->ns, name);
    json_object_set_new(d, "metrics", metrics(an, events));
    json_object_set_new(d, "events", events);
    json_decref(canary);
    *rc = 0;
    return d;
}

int cd_ctl_kube_outcome(const json_t *d)
{
    const char *phase = kj_str(d, "phase");
    if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")))
        return -1;
    if (kj_str(d, "gates.retry"))
        return -1;   /* a retry canaryd kube has not acted on yet */
    const char *rev = kj_str(d, "kube.revision");
    const char *applied = kj_str(d, "status.lastAppliedSpec");
    const char *promoted = kj_str(d, "status.lastPromotedSpec");
    /* a new revision canaryd kube has not started yet; going back to the
     * primary's revision starts nothing */
    if (rev && applied && *applied && strcmp(rev, applied) && !(promoted && !strcmp(rev, promoted)))
        return -1;
    return strcmp(phase, "Succeeded") ? 1 : 0;
}

/* ---- describe -------------------------------------------------------------------- */

static void workload_line(cd_buf *out, const char *role, const json_t *w)
{
    if (!w)
        return;
    cd_buf_printf(out, "  %-8s %-28s ", role, s_or(kj_str(w, "name"), ""));
    if (kj_str(w, "error")) {
        cd_buf_printf(out, "(%s)\n", kj_str(w, "error"));
        return;
    }
    cd_buf_printf(out, "%lld/%lld ready  ", (long long)kj_int(w, "ready", 0),
                  (long long)kj_int(w, "desired", 0));
    size_t i;
    json_t *img;
    json_array_foreach(kj_at(w, "images"), i, img)
        cd_buf_printf(out, "%s%s", i ? ", " : "", json_string_value(img));
    cd_buf_putc(out, '\n');
}

static void gates_lines(cd_buf *out, const json_t *g)
{
    static const struct { const char *key, *text; } names[] = {
        {"hold", "promotion held by %s (canaryctl promote or resume)"},
        {"hold-rollout", "new revisions held by %s (canaryctl resume)"},
        {"promote", "promotion approved by %s (at the next confirm-promotion check)"},
        {"abort", "rollback requested by %s (at the next check)"},
        {"resume", "resume requested by %s (at the next check)"},
        {"retry", "retry requested by %s (at the next check)"},
    };
    bool any = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *who = kj_str(g, names[i].key);
        if (!who)
            continue;
        cd_buf_puts(out, any ? "                  " : "  Gates:          ");
        cd_buf_printf(out, names[i].text, who);
        cd_buf_putc(out, '\n');
        any = true;
    }
}

void cd_ctl_kube_describe_page(cd_buf *out, const json_t *d)
{
    const json_t *spec = kj_at(d, "spec"), *an = kj_at(spec, "analysis");
    cd_buf_printf(out, "Name:         %s\nNamespace:    %s\nTarget:       %s/%s\n",
                  kj_str(d, "name"), kj_str(d, "namespace"), s_or(kj_str(d, "kube.kind"), ""),
                  s_or(kj_str(spec, "targetRef.name"), ""));
    cd_buf_printf(out, "Provider:     %s\nService port: %lld\n", s_or(kj_str(spec, "provider"),
                  "(the operator's -mesh-provider)"), (long long)kj_int(spec, "service.port", 0));
    cd_buf_printf(out, "Analysis:     %s, every %s, threshold %lld\n", kj_str(d, "strategy"),
                  s_or(kj_str(an, "interval"), "1m"), (long long)kj_int(an, "threshold", 0));
    cd_buf_puts(out, "\nStatus:\n");
    cd_buf_printf(out, "  Phase:          %s\n", kj_str(d, "phase"));
    cd_buf_printf(out, "  Step:           %lld of %lld\n", (long long)kj_int(d, "step", 0),
                  (long long)kj_int(d, "steps", 0));
    int cw = (int)kj_int(d, "canaryWeight", 0);
    cd_buf_puts(out, "  Canary weight:  ");
    cd_view_bar(out, cw, 20);
    cd_buf_puts(out, "\n  Primary weight: ");
    cd_view_bar(out, 100 - cw, 20);
    cd_buf_printf(out, "\n  Failed checks:  %lld\n  Iterations:     %lld\n  Last transition: %s\n",
                  (long long)kj_int(d, "failedChecks", 0), (long long)kj_int(d, "iterations", 0),
                  kj_str(d, "lastTransitionTime"));
    gates_lines(out, kj_at(d, "gates"));
    cd_buf_printf(out, "\nRevisions (target %s, last applied %s, last promoted %s):\n",
                  s_or(kj_str(d, "kube.revision"), "-"),
                  s_or(kj_str(d, "status.lastAppliedSpec"), "-"),
                  s_or(kj_str(d, "status.lastPromotedSpec"), "-"));
    workload_line(out, "primary", kj_at(d, "kube.primary"));
    workload_line(out, "canary", kj_at(d, "kube.canary"));
    cd_buf_puts(out, "\nMetrics:\n");
    cd_view_metrics(out, d);
    if (kj_at(d, "status.judge")) {   /* the statistical judge's verdicts */
        cd_canary_status st;
        cd_status_init(&st);
        cd_status_from_json(&st, kj_at(d, "status"));
        cd_buf judged = CD_BUF_INIT;
        cd_judge_describe(&st, &judged);
        if (judged.len)
            cd_buf_printf(out, "\nStatistical judge:\n%s", cd_buf_str(&judged));
        cd_buf_free(&judged);
        cd_status_free(&st);
    }
    cd_buf_puts(out, "\nEvents:\n");
    cd_ctl_kube_events_table(out, kj_at(d, "events"), 20, "  ");
}

void cd_ctl_kube_events_table(cd_buf *out, const json_t *events, size_t last, const char *indent)
{
    static const char *const head[] = {"LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE"};
    cd_table t;
    cd_table_init(&t, 5, head);
    t.indent = indent;
    size_t n = json_array_size(events), start = last && n > last ? n - last : 0;
    for (size_t i = start; i < n; i++) {
        const json_t *e = json_array_get(events, i);
        char count[24];
        snprintf(count, sizeof count, "%lld", (long long)kj_int(e, "count", 1));
        const char *row[] = {kj_str(e, "ts"), kj_str(e, "type"), kj_str(e, "reason"), count,
                             kj_str(e, "message")};
        cd_table_row(&t, row);
    }
    cd_table_flush(&t, out);
}
