/* sim.c - simulated ports and the virtual clock (sim.h). The workload is a
 * revision counter (its hash changes with each scenario revision), the
 * router keeps weights in memory (provider kubernetes: Flagger's no-op
 * router, which reports weights from the iteration count), metrics,
 * webhooks and readiness follow the scenario's step functions. Must stay
 * deterministic and free of I/O: what it prints is the caller's business. */
#include "engine/schedule.h"
#include "model/judge.h"
#include "sim/sim.h"
#include "sim/traffic.h"
#include "util/hash.h"
#include "util/grow.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EPOCH_MS 1735689600000LL   /* 2025-01-01T00:00:00Z */
#define DEFAULT_INTERVAL_MS 60000

typedef struct pooled { cd_event_type type; size_t off; } pooled;
typedef struct pooled_alert { cd_severity sev; bool metadata; size_t off; } pooled_alert;

struct cd_sim {
    const cd_scenario *sc;
    cd_engine_config cfg;
    cd_ports ports;
    cd_object_meta meta;
    const cd_canary_spec *spec;
    cd_canary_status status;    /* what the engine ticks on (re-read each tick) */
    cd_canary_status stored;    /* what the last successful save persisted */
    cd_canary_ref ref;
    const char *provider;
    bool nop_router;
    int64_t epoch_ms, interval_ms;
    int64_t now_ms;             /* time of the tick being run / next tick */
    cd_sched sched;             /* the canary's job, as canaryd kube schedules it */
    cd_sched_job job;
    int64_t last_ms;            /* time of the last tick run */
    size_t next_revision;       /* index of the next pending scenario revision */
    bool default_revision_pending;
    int primary_w, canary_w;
    bool mirrored;
    cd_sim_stats stats;
    bool keep_log;
    cd_sim_metric_value mv[CD_SIM_MAX_ROW_METRICS];   /* this tick's metric values */
    size_t n_mv;
    /* simulated requests (scenario traffic, or the default one for judged
     * metrics): the router's weight history and the last window made */
    const cd_sim_traffic *traffic;
    cd_sim_traffic default_traffic;
    cd_sim_weight *weights;
    size_t n_weights, cap_weights;
    cd_sim_requests window;
    bool window_valid;
    cd_sim_requests history;        /* the last history read (the judge's) */
    /* this tick's events and alerts: texts in one pool */
    char *pool;
    size_t pool_len, pool_cap;
    pooled *ev;
    size_t n_ev, cap_ev;
    pooled_alert *al;
    size_t n_al, cap_al;
    cd_sim_event *ev_out;
    cd_sim_alert *al_out;
    /* keep_log */
    cd_sim_call *calls;
    size_t n_calls, cap_calls;
    cd_sim_event_hook *ehooks;
    size_t n_ehooks, cap_ehooks;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    return cd_grow(p, cap, need, size, 16);
}

static size_t pool_put(cd_sim *s, const char *text)
{
    size_t n = strlen(text) + 1;
    s->pool = grow(s->pool, &s->pool_cap, s->pool_len + n, 1);
    size_t off = s->pool_len;
    memcpy(s->pool + off, text, n);
    s->pool_len += n;
    return off;
}

static char *xstrdup(const char *t)
{
    char *p = strdup(t ? t : "");
    if (!p)
        abort();
    return p;
}

static cd_sim *sim_of(void *ctx) { return ctx; }

static void set_err(cd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(cd_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* ---- readiness ------------------------------------------------------------ */

/* When the current run of "stuck" steps began. */
static int64_t stuck_since(const cd_sim_series *s, const cd_sim_step *step)
{
    size_t i = (size_t)(step - s->steps);
    while (i > 0 && s->steps[i - 1].kind == CD_SIM_STUCK)
        i--;
    return s->steps[i].at_ms;
}

static void lower(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
    dst[i] = '\0';
}

static cd_rc readiness(cd_sim *s, const cd_sim_series *series, bool primary, cd_err *err)
{
    const cd_sim_step *step = cd_sim_series_at(series, s->now_ms);
    if (!step || step->kind == CD_SIM_READY)
        return CD_OK;
    const char *target = s->spec->target_ref.name ? s->spec->target_ref.name : "";
    const char *ns = s->meta.namespace_ ? s->meta.namespace_ : "";
    char kind[32], who[640], workload[300];
    lower(kind, sizeof kind, s->spec->target_ref.kind ? s->spec->target_ref.kind : "Deployment");
    snprintf(workload, sizeof workload, "%s%s", target, primary ? "-primary" : "");
    if (primary)
        snprintf(who, sizeof who, "%s.%s", workload, ns);
    else
        snprintf(who, sizeof who, "canary %s %s.%s", kind, target, ns);
    int64_t deadline_ms = (int64_t)s->spec->progress_deadline_seconds * 1000;
    if (step->kind == CD_SIM_STUCK && s->now_ms - stuck_since(series, step) > deadline_ms) {
        set_err(err, "%s not ready: %s \"%s\" exceeded its progress deadline", who, kind,
                workload);
        return CD_FATAL;
    }
    int threshold = primary ? s->spec->analysis.primary_ready_threshold
                            : s->spec->analysis.canary_ready_threshold;
    set_err(err,
            "%s not ready: waiting for rollout to finish: 0 of 1 (readyThreshold %d%%) updated "
            "replicas are available", who, threshold ? threshold : 100);
    return CD_RETRY;
}

/* ---- workload port ---------------------------------------------------------- */

static cd_rc wl_initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    s->stats.primary_exists = true;
    return require_ready ? readiness(s, &s->sc->ready_primary, true, err) : CD_OK;
}

static cd_rc wl_primary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    return readiness(s, &s->sc->ready_primary, true, err);
}

static cd_rc wl_canary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    return readiness(s, &s->sc->ready_canary, false, err);
}

static void revision_hash(int revision, char out[CD_HASH_MAX])
{
    char text[32], h[16];
    snprintf(text, sizeof text, "revision-%d", revision);
    cd_flagger_hash(text, strlen(text), h);
    snprintf(out, CD_HASH_MAX, "%s", h);
}

static cd_rc wl_target_hash(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX],
                            cd_err *err)
{
    revision_hash(sim_of(ctx)->stats.revision, hash);
    return CD_OK;
}

static cd_rc wl_promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    int threshold = s->spec->analysis.threshold > 0 ? s->spec->analysis.threshold : 1;
    s->stats.promotions++;
    if (s->status.failed_checks >= threshold)
        s->stats.promotions_over_threshold++;
    s->stats.primary_revision = s->stats.revision;
    return CD_OK;
}

static cd_rc wl_scale_to_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    sim_of(ctx)->stats.canary_replicas = 0;
    return CD_OK;
}

static cd_rc wl_scale_from_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    sim_of(ctx)->stats.canary_replicas = 1;
    return CD_OK;
}

/* ---- router port -------------------------------------------------------------- */

static void current_routes(const cd_sim *s, const cd_canary_status *st, int *primary, int *canary,
                           bool *mirrored)
{
    if (s->nop_router) {   /* Flagger's NopRouter: derived from the iterations */
        bool switched = st->iterations > 0;
        *primary = switched ? 0 : 100;
        *canary = switched ? 100 : 0;
        *mirrored = false;
        return;
    }
    *primary = s->primary_w;
    *canary = s->canary_w;
    *mirrored = s->mirrored;
}

/* The router's weights from now on (requests follow them). */
static void record_weights(cd_sim *s)
{
    if (s->n_weights && s->weights[s->n_weights - 1].at_ms == s->now_ms) {
        s->n_weights--;   /* changed twice in one tick: the last one holds */
    }
    s->weights = grow(s->weights, &s->cap_weights, s->n_weights + 1, sizeof *s->weights);
    s->weights[s->n_weights++] = (cd_sim_weight){s->now_ms, s->canary_w, s->mirrored};
    s->window_valid = false;
}

static cd_rc rt_get_routes(void *ctx, const cd_canary_ref *c, int *primary, int *canary,
                           bool *mirrored, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    current_routes(s, &s->status, primary, canary, mirrored);
    return CD_OK;
}

static cd_rc rt_set_routes(void *ctx, const cd_canary_ref *c, int primary, int canary,
                           bool mirrored, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    if (s->nop_router)
        return CD_OK;
    s->primary_w = primary;
    s->canary_w = canary;
    s->mirrored = mirrored;
    record_weights(s);
    return CD_OK;
}

/* ---- metrics port ---------------------------------------------------------------- */

double cd_sim_passing_value(const cd_metric *m)
{
    bool rate = m->name && !strcmp(m->name, "request-success-rate") && !m->query &&
                !m->template_name;
    if (m->has_min && m->has_max)
        return m->min + (m->max - m->min) / 2;
    if (m->has_min)
        return rate && m->min <= 100 ? 100 : m->min;
    if (m->has_max)
        return m->max > 0 ? m->max / 2 : m->max;
    if (m->has_threshold) {
        if (rate)   /* passes when value >= threshold */
            return m->threshold <= 100 ? 100 : m->threshold;
        return m->threshold > 0 ? m->threshold / 2 : m->threshold;   /* passes when <= */
    }
    return rate ? 100 : 0;
}

/* The requests of the metric's window that ends now. */
static const cd_sim_requests *requests(cd_sim *s, const cd_metric *m, bool with_latency)
{
    int64_t window = m->interval_ms > 0 ? m->interval_ms : s->interval_ms;
    int64_t from = s->now_ms - window;
    cd_sim_requests *r = &s->window;
    if (!s->window_valid || r->from_ms != from || r->to_ms != s->now_ms ||
        (with_latency && !r->with_latency)) {
        cd_sim_requests_window(s->traffic, s->weights, s->n_weights, from, s->now_ms,
                               with_latency, r);
        s->window_valid = true;
    }
    return r;
}

static bool builtin(const cd_metric *m, const char *name)
{
    return m->name && !strcmp(m->name, name) && !(m->query && *m->query) &&
           !(m->template_name && *m->template_name);
}

/* request-success-rate and request-duration of the canary, as Flagger's
 * builtin queries would measure the simulated requests. */
static cd_metric_rc traffic_value(cd_sim *s, const cd_metric *m, double *value, cd_err *err)
{
    bool duration = builtin(m, "request-duration");
    const cd_sim_requests *r = requests(s, m, duration);
    if (r->total[CD_SIDE_CANARY] == 0) {
        snprintf(err->msg, sizeof err->msg, "no values found");
        return CD_METRIC_NO_DATA;
    }
    if (duration)
        *value = cd_sim_histogram_quantile(r->latency[CD_SIDE_CANARY], r->n_latency[CD_SIDE_CANARY],
                                           0.99);
    else
        *value = 100.0 * (1.0 - r->failed[CD_SIDE_CANARY] / r->total[CD_SIDE_CANARY]);
    return CD_METRIC_OK;
}

static cd_metric_rc query_value(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                                double *value, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    const cd_sim_step *step = cd_sim_series_at(cd_scenario_metric(s->sc, m->name), s->now_ms);
    if (!step && s->traffic && (builtin(m, "request-success-rate") || builtin(m, "request-duration")))
        return traffic_value(s, m, value, err);
    if (!step) {
        *value = cd_sim_passing_value(m);
        return CD_METRIC_OK;
    }
    switch (step->kind) {
    case CD_SIM_NODATA:
        return CD_METRIC_NO_DATA;   /* the engine words "no values found" */
    case CD_SIM_ERROR: {
        /* worded as the real metrics port words a failed query */
        const char *name = m->name ? m->name : "metric";
        cd_metric_kind kind = CD_METRIC_KIND_QUERY;
        cd_engine_metric_kind(m, &kind);
        if (kind == CD_METRIC_KIND_TEMPLATE)
            snprintf(err->msg, sizeof err->msg,
                     "Metric query failed for %s: the scenario makes the %s query fail", name, name);
        else if (kind == CD_METRIC_KIND_QUERY)
            snprintf(err->msg, sizeof err->msg,
                     "Prometheus query failed for %s: the scenario makes the %s query fail", name,
                     name);
        else
            snprintf(err->msg, sizeof err->msg,
                     "Prometheus query failed: the scenario makes the %s query fail", name);
        return CD_METRIC_ERROR;
    }
    default:
        *value = step->value;
        return CD_METRIC_OK;
    }
}

/* Answers a query and keeps the value for this tick's row (the plot). */
static cd_metric_rc mx_query(void *ctx, const cd_canary_ref *c, const cd_metric *m, double *value,
                             cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    cd_metric_rc rc = query_value(ctx, c, m, value, err);
    if (s->n_mv < CD_SIM_MAX_ROW_METRICS && m->name)
        s->mv[s->n_mv++] = (cd_sim_metric_value){m->name, rc == CD_METRIC_OK,
                                                 rc == CD_METRIC_OK ? *value : 0};
    return rc;
}

static cd_rc mx_check_providers(void *ctx, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

static int side_of(const char *which) { return strcmp(which, "canary") ? CD_SIDE_PRIMARY : CD_SIDE_CANARY; }

/* The statistical judge's view of the simulated requests. */
static cd_metric_rc mx_samples(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                               const char *which, double **values, size_t *n, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    *values = NULL;
    *n = 0;
    if (!s->traffic)
        return CD_METRIC_NO_DATA;
    const cd_sim_requests *r = requests(s, m, true);
    int side = side_of(which);
    *values = r->latency[side];
    *n = r->n_latency[side];
    return *n ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

static cd_metric_rc mx_counts(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                              const char *which, uint64_t *total, uint64_t *failed, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    *total = *failed = 0;
    if (!s->traffic)
        return CD_METRIC_NO_DATA;
    const cd_sim_requests *r = requests(s, m, false);
    int side = side_of(which);
    *total = (uint64_t)r->total[side];
    *failed = (uint64_t)r->failed[side];
    return *total ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

/* The judge's history: the primary's requests of the span that ended
 * ago_ms before now, as far as the scenario's traffic.history reaches
 * back (none without it: a new service). At most 20000 latencies, as a
 * router's sample reservoir or a Prometheus range query would give. */
static cd_metric_rc mx_history(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                               int64_t ago_ms, int64_t span_ms, cd_metric_history *out,
                               cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    memset(out, 0, sizeof *out);
    out->p50 = out->p99 = NAN;
    if (!s->traffic || s->traffic->history_ms <= 0) {
        snprintf(err->msg, sizeof err->msg, "the scenario gives the primary no history "
                                            "(traffic.history)");
        return CD_METRIC_NO_DATA;
    }
    int64_t to = s->now_ms - ago_ms, from = to - span_ms;
    if (from < -s->traffic->history_ms)
        from = -s->traffic->history_ms;
    if (to <= from)
        return CD_METRIC_NO_DATA;
    bool latency = m->judge && m->judge->test == CD_JUDGE_LATENCY;
    cd_sim_history_window(s->traffic, s->weights, s->n_weights, from, to, latency, 20000,
                          &s->history);
    out->requests = (uint64_t)s->history.total[CD_SIDE_PRIMARY];
    out->failed = (uint64_t)s->history.failed[CD_SIDE_PRIMARY];
    out->values = s->history.latency[CD_SIDE_PRIMARY];
    out->n_values = latency ? s->history.n_latency[CD_SIDE_PRIMARY] : 0;
    out->covered_ms = to - from;
    return out->requests ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

static bool has_judged_metric(const cd_canary_spec *spec)
{
    for (size_t i = 0; i < spec->analysis.n_metrics; i++)
        if (spec->analysis.metrics[i].judge)
            return true;
    return false;
}

/* ---- hooks, notifier, events, status, clock ---------------------------------------- */

static bool hk_call(void *ctx, const cd_canary_ref *c, const cd_webhook *w, cd_phase phase,
                    cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    const cd_sim_step *step = cd_sim_series_at(cd_scenario_webhook(s->sc, w->name), s->now_ms);
    /* unscripted hooks answer as in a healthy release: gates open, and a
     * rollback hook does not ask for a rollback */
    bool pass = step ? step->kind != 0 : w->type != CD_HOOK_ROLLBACK;
    if (!pass)
        snprintf(err->msg, sizeof err->msg, "the scenario rejects %s", w->name ? w->name : "it");
    if (s->keep_log) {
        s->calls = grow(s->calls, &s->cap_calls, s->n_calls + 1, sizeof *s->calls);
        s->calls[s->n_calls++] = (cd_sim_call){s->now_ms, w->name, w->type, phase, pass};
    }
    return pass;
}

static void hk_send_event(void *ctx, const cd_canary_ref *c, cd_phase phase, const char *type,
                          const char *message)
{
    cd_sim *s = sim_of(ctx);
    if (!s->keep_log)
        return;
    s->ehooks = grow(s->ehooks, &s->cap_ehooks, s->n_ehooks + 1, sizeof *s->ehooks);
    s->ehooks[s->n_ehooks++] = (cd_sim_event_hook){
        phase, !strcmp(type, "Warning") ? CD_EVENT_WARNING : CD_EVENT_NORMAL, xstrdup(message)};
}

static void nt_alert(void *ctx, const cd_canary_ref *c, const char *message, bool with_metadata,
                     cd_severity severity)
{
    cd_sim *s = sim_of(ctx);
    s->al = grow(s->al, &s->cap_al, s->n_al + 1, sizeof *s->al);
    s->al[s->n_al++] = (pooled_alert){severity, with_metadata, pool_put(s, message)};
}

static void ev_record(void *ctx, const cd_canary_ref *c, cd_event_type type, const char *message)
{
    cd_sim *s = sim_of(ctx);
    s->ev = grow(s->ev, &s->cap_ev, s->n_ev + 1, sizeof *s->ev);
    s->ev[s->n_ev++] = (pooled){type, pool_put(s, message)};
}

static cd_rc st_save(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_sim *s = sim_of(ctx);
    s->stats.status_writes++;
    cd_status_copy(&s->stored, &s->status);
    return CD_OK;
}

static int64_t ck_now(void *ctx)
{
    cd_sim *s = sim_of(ctx);
    return s->epoch_ms + s->now_ms;
}

/* ---- the simulation -------------------------------------------------------------- */

cd_sim *cd_sim_new(const cd_object_meta *meta, const cd_canary_spec *spec, const cd_scenario *sc,
                   const cd_sim_options *opt)
{
    cd_sim *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    cd_sim_options none = {0};
    if (!opt)
        opt = &none;
    s->sc = sc;
    s->spec = spec;
    s->meta = *meta;
    cd_status_init(&s->status);
    s->cfg = (cd_engine_config){opt->mesh_provider, opt->judge, opt->judge_ctx};
    s->ref = (cd_canary_ref){&s->meta, spec, &s->status, NULL, NULL};
    s->provider = cd_engine_provider(&s->cfg, &s->ref);
    /* as canaryd kube runs it: the canary strategy on the partition
     * (docs/statefulset.md); the weights are the updated share */
    if (spec->target_ref.kind && !strcmp(spec->target_ref.kind, "StatefulSet"))
        s->provider = "statefulset";
    s->ref.provider = s->provider;
    s->nop_router = !strcmp(s->provider, "kubernetes");
    s->epoch_ms = opt->epoch_ms ? opt->epoch_ms : DEFAULT_EPOCH_MS;
    s->interval_ms = spec->analysis.interval_ms > 0 ? spec->analysis.interval_ms
                                                    : DEFAULT_INTERVAL_MS;
    /* one job on the virtual clock, first at 0, then every interval */
    cd_sched_init(&s->sched, (cd_sched_policy){CD_SCHED_FIXED_PERIOD, 0});
    cd_sched_job_init(&s->job);
    cd_sched_arm(&s->sched, &s->job, meta->namespace_ ? meta->namespace_ : "", s->interval_ms, 0);
    s->default_revision_pending = !sc->has_revisions;
    s->primary_w = 100;
    s->keep_log = opt->keep_log;
    s->stats.canary_replicas = 1;
    /* what Flagger's syncHandler does before the first tick */
    s->status.phase = CD_PHASE_INITIALIZING;
    s->status.last_transition_ms = s->epoch_ms;
    cd_status_update_condition(&s->status,
                               spec->target_ref.kind ? spec->target_ref.kind : "Deployment",
                               s->epoch_ms);
    cd_status_init(&s->stored);
    cd_status_copy(&s->stored, &s->status);

    cd_ports *p = &s->ports;
    p->workload = (cd_workload_port){.ctx = s,
                                     .initialize = wl_initialize,
                                     .is_primary_ready = wl_primary_ready,
                                     .is_canary_ready = wl_canary_ready,
                                     .target_hash = wl_target_hash,
                                     .promote = wl_promote,
                                     .scale_to_zero = wl_scale_to_zero,
                                     .scale_from_zero = wl_scale_from_zero};
    p->router = (cd_router_port){.ctx = s, .get_routes = rt_get_routes, .set_routes = rt_set_routes};
    p->metrics = (cd_metrics_port){.ctx = s, .query = mx_query,
                                   .check_providers = mx_check_providers,
                                   .samples = mx_samples, .counts = mx_counts,
                                   .history = mx_history};
    if (sc->traffic.set) {
        s->traffic = &sc->traffic;
    } else if (has_judged_metric(spec)) {
        cd_scenario_default_traffic(&s->default_traffic);
        s->traffic = &s->default_traffic;
    }
    record_weights(s);   /* all traffic on the primary until the router changes */
    p->hooks = (cd_hooks_port){.ctx = s, .call = hk_call, .send_event = hk_send_event};
    p->notifier = (cd_notifier_port){.ctx = s, .alert = nt_alert};
    p->events = (cd_events_port){.ctx = s, .record = ev_record};
    p->status = (cd_status_port){.ctx = s, .save = st_save};
    p->clock = (cd_clock_port){.ctx = s, .now_ms = ck_now};
    p->registry = opt->registry;
    return s;
}

void cd_sim_free(cd_sim *s)
{
    if (!s)
        return;
    cd_status_free(&s->status);
    cd_status_free(&s->stored);
    for (size_t i = 0; i < s->n_ehooks; i++)
        free((char *)s->ehooks[i].message);
    free(s->ehooks);
    free(s->calls);
    free(s->pool);
    free(s->ev);
    free(s->al);
    free(s->ev_out);
    free(s->al_out);
    free(s->weights);
    cd_sim_requests_free(&s->window);
    cd_sim_requests_free(&s->history);
    cd_sched_free(&s->sched);
    free(s);
}

static bool initialized(const cd_sim *s) { return s->stored.last_promoted_spec[0] != '\0'; }

static bool revision_pending(const cd_sim *s)
{
    return s->default_revision_pending || s->next_revision < s->sc->n_revisions;
}

/* The partition canaryd kube writes for a StatefulSet (docs/statefulset.md),
 * when the scenario gives its replicas: replicas at rest and after a
 * rollback, 0 while promoting, else replicas - ceil(replicas x weight /
 * 100) for the engine's weight. -1 for other targets. */
static int partition_of(const cd_sim *s)
{
    int n = s->sc->replicas;
    if (n <= 0 || strcmp(s->provider, "statefulset"))
        return -1;
    cd_phase p = s->stored.phase;
    if (p == CD_PHASE_PROMOTING)
        return 0;
    int w = s->stored.canary_weight;
    if (w <= 0 || p == CD_PHASE_FINALISING || p == CD_PHASE_SUCCEEDED || p == CD_PHASE_FAILED)
        return n;
    int updated = (int)(((int64_t)n * (w > 100 ? 100 : w) + 99) / 100);
    return n - updated;
}

bool cd_sim_shows_partition(const cd_sim *s) { return partition_of(s) >= 0; }

/* New revisions due by now. A release "before" initialization has
 * finished arrives right after it: the simulator models a canary that is
 * installed first and released to. */
static void apply_revisions(cd_sim *s)
{
    if (!initialized(s))
        return;
    bool changed = false;
    if (s->default_revision_pending) {
        s->default_revision_pending = false;
        changed = true;
    }
    while (s->next_revision < s->sc->n_revisions &&
           s->sc->revisions[s->next_revision] <= s->now_ms) {
        s->next_revision++;
        changed = true;
    }
    if (changed)
        s->stats.revision++;
}

static void fill_row(cd_sim *s, cd_sim_row *row)
{
    s->ev_out = realloc(s->ev_out, (s->n_ev ? s->n_ev : 1) * sizeof *s->ev_out);
    s->al_out = realloc(s->al_out, (s->n_al ? s->n_al : 1) * sizeof *s->al_out);
    if (!s->ev_out || !s->al_out)
        abort();
    for (size_t i = 0; i < s->n_ev; i++)
        s->ev_out[i] = (cd_sim_event){s->ev[i].type, s->pool + s->ev[i].off};
    for (size_t i = 0; i < s->n_al; i++)
        s->al_out[i] = (cd_sim_alert){s->al[i].sev, s->al[i].metadata, s->pool + s->al[i].off};
    memset(row, 0, sizeof *row);
    row->t_ms = s->now_ms;
    row->phase = s->stored.phase;
    current_routes(s, &s->stored, &row->primary_weight, &row->canary_weight, &row->mirrored);
    row->failed_checks = s->stored.failed_checks;
    row->iterations = s->stored.iterations;
    row->events = s->ev_out;
    row->n_events = s->n_ev;
    row->alerts = s->al_out;
    row->n_alerts = s->n_al;
    row->judge = s->stored.judge;
    row->n_judge = s->stored.n_judge;
    row->metrics = s->mv;
    row->n_metrics = s->n_mv;
    row->partition = partition_of(s);
}

void cd_sim_tick(cd_sim *s, cd_sim_row *row)
{
    s->pool_len = 0;
    s->n_ev = 0;
    s->n_al = 0;
    s->n_mv = 0;
    apply_revisions(s);
    cd_status_copy(&s->status, &s->stored);   /* the platform re-reads the canary */
    cd_engine_tick(&s->cfg, &s->ports, &s->ref);
    fill_row(s, row);
    s->last_ms = s->now_ms;
    s->stats.ticks++;
    unsigned what;
    cd_sched_pop(&s->sched, s->now_ms, &what);   /* ticked: due a period later */
    s->now_ms = cd_sched_next_due(&s->sched);
}

bool cd_sim_done(const cd_sim *s)
{
    if (s->stats.ticks == 0)
        return false;
    if (s->now_ms > s->sc->duration_ms)
        return true;
    cd_phase p = s->stored.phase;
    bool resting = p == CD_PHASE_INITIALIZED || p == CD_PHASE_SUCCEEDED || p == CD_PHASE_FAILED;
    if (!resting || revision_pending(s))
        return false;
    /* a revision the canary has not started on yet (it was waiting for
     * the primary, say) keeps the simulation going */
    char hash[CD_HASH_MAX];
    revision_hash(s->stats.revision, hash);
    return !cd_engine_spec_changed(&s->stored, hash);
}

int64_t cd_sim_interval_ms(const cd_sim *s) { return s->interval_ms; }
int64_t cd_sim_elapsed_ms(const cd_sim *s) { return s->last_ms; }

const cd_sim_stats *cd_sim_get_stats(const cd_sim *s)
{
    cd_sim *m = (cd_sim *)s;
    m->stats.calls = s->calls;
    m->stats.n_calls = s->n_calls;
    m->stats.event_hooks = s->ehooks;
    m->stats.n_event_hooks = s->n_ehooks;
    return &m->stats;
}

cd_canary_status *cd_sim_status(cd_sim *s) { return &s->stored; }

void cd_sim_set_routes(cd_sim *s, int primary, int canary, bool mirrored)
{
    s->primary_w = primary;
    s->canary_w = canary;
    s->mirrored = mirrored;
    record_weights(s);
}

void cd_sim_change_target(cd_sim *s)
{
    s->default_revision_pending = false;
    s->stats.revision++;
}

cd_ports *cd_sim_ports(cd_sim *s) { return &s->ports; }

void cd_sim_set_revision(cd_sim *s, int revision)
{
    s->default_revision_pending = false;
    s->stats.revision = revision;
}
