/* analysis.c - one analysis round (reference §3.1): rollout webhooks, then
 * metrics with builtin names or inline queries, then templated metrics;
 * the first failure stops the round. "No data" and query errors fail the
 * check, as in Flagger. The numbers come from the metrics port; this file
 * only judges them. A judged metric (cd_metric.judge) branches off in
 * check_metric() to the statistical judge seam (cd_engine_config.judge). */
#include "engine/tick.h"
#include "telemetry/registry.h"
#include "util/gofmt.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* How the metrics port evaluates a metric: templateRef first, then the
 * inline query, then the builtin query for its name (src/ports.h). */
bool cd_engine_metric_kind(const cd_metric *m, cd_metric_kind *kind)
{
    if (m->template_name && *m->template_name)
        *kind = CD_METRIC_KIND_TEMPLATE;
    else if (m->query && *m->query)
        *kind = CD_METRIC_KIND_QUERY;
    else if (m->name && !strcmp(m->name, "request-success-rate"))
        *kind = CD_METRIC_KIND_SUCCESS_RATE;
    else if (m->name && !strcmp(m->name, "request-duration"))
        *kind = CD_METRIC_KIND_DURATION;
    else
        return false;
    return true;
}

static const char *metric_name(const cd_metric *m) { return m->name ? m->name : ""; }

/* ---- pure threshold rules ------------------------------------------------ */

static bool fail_with(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail_with(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool success_rate_pass(const cd_metric *m, double v, char *why, size_t n)
{
    char lim[32];
    if (m->has_min || m->has_max) {
        if (m->has_min && v < m->min)
            return fail_with(why, n, "success rate %.2f%% < %s%%", v,
                             cd_go_float(m->min, lim, sizeof lim));
        if (m->has_max && v > m->max)
            return fail_with(why, n, "success rate %.2f%% > %s%%", v,
                             cd_go_float(m->max, lim, sizeof lim));
        return true;
    }
    if (m->has_threshold && m->threshold > v)
        return fail_with(why, n, "success rate %.2f%% < %s%%", v,
                         cd_go_float(m->threshold, lim, sizeof lim));
    return true;
}

/* Go's time.Duration(x) of a float64 of milliseconds: truncated. */
static int64_t ms_of(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9.2e15)
        return INT64_MAX / 1000000;
    if (x <= -9.2e15)
        return -(INT64_MAX / 1000000);
    return (int64_t)x;
}

static bool duration_pass(const cd_metric *m, double v, char *why, size_t n)
{
    char a[32], b[32];
    int64_t val = ms_of(v);
    if (m->has_min || m->has_max) {
        if (m->has_min && val < ms_of(m->min))
            return fail_with(why, n, "request duration %s < %s", cd_go_duration_ms(val, a, sizeof a),
                             cd_go_duration_ms(ms_of(m->min), b, sizeof b));
        if (m->has_max && val > ms_of(m->max))
            return fail_with(why, n, "request duration %s > %s", cd_go_duration_ms(val, a, sizeof a),
                             cd_go_duration_ms(ms_of(m->max), b, sizeof b));
        return true;
    }
    if (m->has_threshold && val > ms_of(m->threshold))
        return fail_with(why, n, "request duration %s > %s", cd_go_duration_ms(val, a, sizeof a),
                         cd_go_duration_ms(ms_of(m->threshold), b, sizeof b));
    return true;
}

static bool value_pass(const cd_metric *m, double v, char *why, size_t n)
{
    char lim[32];
    if (m->has_min || m->has_max) {
        if (m->has_min && v < m->min)
            return fail_with(why, n, "%s %.2f < %s", metric_name(m), v,
                             cd_go_float(m->min, lim, sizeof lim));
        if (m->has_max && v > m->max)
            return fail_with(why, n, "%s %.2f > %s", metric_name(m), v,
                             cd_go_float(m->max, lim, sizeof lim));
        return true;
    }
    if (m->has_threshold && v > m->threshold)
        return fail_with(why, n, "%s %.2f > %s", metric_name(m), v,
                         cd_go_float(m->threshold, lim, sizeof lim));
    return true;
}

bool cd_engine_threshold_pass(const cd_metric *m, cd_metric_kind kind, double v, char *why,
                              size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (isnan(v))
        return fail_with(why, whylen, "%s has no value", metric_name(m));
    switch (kind) {
    case CD_METRIC_KIND_SUCCESS_RATE: return success_rate_pass(m, v, why, whylen);
    case CD_METRIC_KIND_DURATION: return duration_pass(m, v, why, whylen);
    default: return value_pass(m, v, why, whylen);
    }
}

/* ---- the round ------------------------------------------------------------ */

static bool is_knative(const cd_object_ref *r)
{
    return r->kind && !strcmp(r->kind, "Service") && r->api_version &&
           !strncmp(r->api_version, "serving.knative.dev/", 20);
}

/* The observer name Flagger puts in "no values" events (§3.2). */
static void metrics_provider(const cd_tick *t, char *out, size_t n)
{
    const char *global = t->cfg && t->cfg->mesh_provider ? t->cfg->mesh_provider : "";
    const char *p = strstr(global, "crossover") ? "crossover" : global;
    if (t->spec->provider && *t->spec->provider)
        p = strstr(global, "linkerd") ? "linkerd" : t->spec->provider;
    const cd_object_ref *target = &t->spec->target_ref;
    bool service = target->kind && !strcmp(target->kind, "Service") && !is_knative(target);
    snprintf(out, n, "%s%s", p, service ? ":service" : "");
}

static void report_unusable(cd_tick *t, const cd_metric *m, cd_metric_kind kind, cd_metric_rc rc,
                            const cd_err *err, bool err_is_event)
{
    /* The metrics port words the event itself (Flagger's texts differ by
     * provider and failure); the engine words it only when it did not. */
    if (err_is_event && err->msg[0]) {
        cd_tick_event(t, CD_EVENT_WARNING, "%s", err->msg);
        return;
    }
    const char *name = metric_name(m);
    if (rc == CD_METRIC_NO_DATA) {
        char provider[96];
        switch (kind) {
        case CD_METRIC_KIND_SUCCESS_RATE:
        case CD_METRIC_KIND_DURATION:
            metrics_provider(t, provider, sizeof provider);
            cd_tick_event(t, CD_EVENT_WARNING, EV_NO_VALUES_BUILTIN, provider, name, t->tname);
            break;
        case CD_METRIC_KIND_QUERY:
            cd_tick_event(t, CD_EVENT_WARNING, EV_NO_VALUES_QUERY, name);
            break;
        case CD_METRIC_KIND_TEMPLATE:
            cd_tick_event(t, CD_EVENT_WARNING, EV_NO_VALUES_TEMPLATE, name,
                          err->msg[0] ? err->msg : "no values found");
            break;
        }
        return;
    }
    const char *msg = err->msg[0] ? err->msg : "query failed";
    switch (kind) {
    case CD_METRIC_KIND_SUCCESS_RATE:
    case CD_METRIC_KIND_DURATION:
        cd_tick_event(t, CD_EVENT_WARNING, EV_QUERY_FAILED_BUILTIN, msg);
        break;
    case CD_METRIC_KIND_QUERY:
        cd_tick_event(t, CD_EVENT_WARNING, EV_QUERY_FAILED_QUERY, name, msg);
        break;
    case CD_METRIC_KIND_TEMPLATE:
        cd_tick_event(t, CD_EVENT_WARNING, EV_QUERY_FAILED_TEMPLATE, name, msg);
        break;
    }
}

/* The statistical judge seam: a judged metric is compared canary against
 * primary by cfg->judge rather than with thresholds. */
static bool judge_metric(cd_tick *t, const cd_metric *m, cd_metric_kind kind)
{
    if (!t->cfg || !t->cfg->judge) {
        cd_tick_event(t, CD_EVENT_WARNING, EV_NO_JUDGE, metric_name(m));
        return false;
    }
    cd_judge_verdict v;
    cd_err err = {{0}};
    memset(&v, 0, sizeof v);
    cd_metric_rc rc = t->cfg->judge(t->cfg->judge_ctx, &t->p->metrics, t->c, m, cd_tick_now(t),
                                    &v, &err);
    t->judged = true;
    if (rc != CD_METRIC_OK) {
        report_unusable(t, m, kind, rc, &err, false);
        return false;
    }
    cd_registry_set_metric(t->p->registry, t->target, t->ns, metric_name(m),
                           isfinite(v.score) ? v.score : 0.0);
    char why[sizeof t->judge_why];
    snprintf(why, sizeof why, "%s %s", metric_name(m), v.reason);
    if (!v.pass) {
        cd_tick_event(t, CD_EVENT_WARNING, EV_METRIC_HALT, t->cname, why);
        if (v.rollback && !t->judge_rollback) {
            t->judge_rollback = true;
            memcpy(t->judge_why, why, sizeof why);
        }
        return false;
    }
    if (v.hold && !t->judge_hold) {
        t->judge_hold = true;
        memcpy(t->judge_why, why, sizeof why);
    }
    return true;
}

bool cd_analysis_judge_holds(cd_tick *t)
{
    if (!t->judge_hold)
        return false;
    cd_tick_event(t, CD_EVENT_NORMAL, EV_JUDGE_HOLD, t->cname, t->judge_why);
    return true;
}

static bool check_metric(cd_tick *t, const cd_metric *m, cd_metric_kind kind)
{
    if (m->judge)
        return judge_metric(t, m, kind);
    double v = NAN;
    cd_err err = {{0}};
    cd_metric_rc rc = t->p->metrics.query(t->p->metrics.ctx, t->c, m, &v, &err);
    if (rc == CD_METRIC_OK && isnan(v)) {
        rc = CD_METRIC_NO_DATA;   /* Flagger: NaN is ErrNoValuesFound */
        snprintf(err.msg, sizeof err.msg, "no values found");
    }
    if (rc != CD_METRIC_OK) {
        report_unusable(t, m, kind, rc, &err, true);
        return false;
    }
    double exported = kind == CD_METRIC_KIND_DURATION ? (double)ms_of(v) / 1000.0 : v;
    cd_registry_set_metric(t->p->registry, t->target, t->ns, metric_name(m), exported);
    char why[320];
    if (cd_engine_threshold_pass(m, kind, v, why, sizeof why))
        return true;
    cd_tick_event(t, CD_EVENT_WARNING, EV_METRIC_HALT, t->cname, why);
    return false;
}

void cd_analysis_check_providers(cd_tick *t)
{
    if (!t->p->metrics.check_providers)
        return;
    cd_err err = {{0}};
    if (t->p->metrics.check_providers(t->p->metrics.ctx, t->c, &err) == CD_OK)
        cd_tick_event(t, CD_EVENT_NORMAL, EV_PROVIDERS_OK);
    else
        cd_tick_event(t, CD_EVENT_WARNING, EV_PROVIDERS_ERROR,
                      err.msg[0] ? err.msg : "unavailable");
}

bool cd_analysis_run(cd_tick *t)
{
    if (!cd_gate_rollout(t))
        return false;
    /* builtin and inline-query metrics first, as Flagger's builtin pass */
    for (size_t i = 0; i < t->an->n_metrics; i++) {
        const cd_metric *m = &t->an->metrics[i];
        cd_metric_kind kind;
        if (cd_engine_metric_kind(m, &kind) && kind != CD_METRIC_KIND_TEMPLATE && !check_metric(t, m, kind))
            return false;
    }
    /* then templated metrics, and metrics nothing can evaluate */
    for (size_t i = 0; i < t->an->n_metrics; i++) {
        const cd_metric *m = &t->an->metrics[i];
        cd_metric_kind kind;
        if (!cd_engine_metric_kind(m, &kind)) {
            cd_tick_event(t, CD_EVENT_WARNING, EV_NO_USABLE_METRIC, metric_name(m));
            return false;
        }
        if (kind == CD_METRIC_KIND_TEMPLATE && !check_metric(t, m, kind))
            return false;
    }
    return true;
}
