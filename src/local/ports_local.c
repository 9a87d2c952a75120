/* ports_local.c - the engine's ports on the local platform, built for one
 * tick of one canary: the workload port over its process sets, the router
 * port (router_ctl.c), metrics from the router's own measurements (builtin
 * metrics) or from the providers (templates, inline queries, Prometheus
 * when metricsServer is set), webhooks with canaryd's local gates, alerts,
 * events in the journal and the log, status in the state directory.
 *
 * Lookups (MetricTemplates, AlertProviders) use a snapshot of the objects
 * taken at the start of the tick, so edits cannot pull them from under a
 * running tick. */
#include "local/local.h"
#include "util/redact.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <stdlib.h>
#include <string.h>

#define GATE_URL_PREFIX "canaryd://gate/"

struct lc_tick {
    lc_canary *c;
    cd_local_target_ctx wctx;
    cd_object_list snapshot;
    cd_store store;
    cd_metrics_config mcfg;
    cd_metrics_port providers;
    cd_notify_config ncfg;
    cd_hooks_port webhooks;
    cd_canary_spec spec;            /* the manifest's, plus local gates */
    cd_webhook *hooks;
    char provider[32];
    char key[300];                  /* "name.namespace" for logs */
    double *samples;                /* the last samples handed to the judge */
};

static int64_t wall_now(void) { return cd_wall_ms(); }

/* ---- status ------------------------------------------------------------- */

static cd_rc status_save(void *ctx, const cd_canary_ref *ref, cd_err *err)
{
    lc_tick *t = ctx;
    lc_canary *c = t->c;
    int rc = cd_state_save_status(c->L->state, c->ns, c->name, ref->status);
    pthread_mutex_lock(&c->L->lock);
    cd_status_copy(&c->status, ref->status);
    lc_history_note(c, cd_wall_ms());   /* for the dashboard */
    pthread_mutex_unlock(&c->L->lock);
    if (rc != 0) {
        snprintf(err->msg, sizeof err->msg, "cannot write the status of %s: %s", t->key,
                 strerror(-rc));
        return CD_ERROR;
    }
    return CD_OK;
}

/* ---- events ------------------------------------------------------------- */

static void event_record(void *ctx, const cd_canary_ref *ref, cd_event_type type, const char *raw)
{
    lc_tick *t = ctx;
    char msg[1024];
    cd_redact_text(raw, NULL, 0, msg, sizeof msg);     /* the journal is read by canaryctl */
    const char *ty = type == CD_EVENT_WARNING ? "Warning" : "Normal";
    /* the same event again (a tick waiting for processes retries every
     * second): journalled once a minute, as Kubernetes aggregates
     * repeated events into one with a count */
    lc_canary *c = t->c;
    int64_t now = cd_mono_ms();
    char key[sizeof c->last_event];
    snprintf(key, sizeof key, "%s|%s|%s", ty, cd_phase_name(ref->status->phase), msg);
    if (!strcmp(key, c->last_event) && now - c->last_event_ms < LC_EVENT_REPEAT_MS) {
        cd_logf(CD_LOG_DEBUG, t->key, "%s (repeated)", msg);
        return;
    }
    snprintf(c->last_event, sizeof c->last_event, "%s", key);
    c->last_event_ms = now;
    cd_logf(type == CD_EVENT_WARNING ? CD_LOG_WARN : CD_LOG_INFO, t->key, "%s", msg);
    int rc = cd_state_append_event(t->c->L->state, t->c->ns, t->c->name, cd_wall_ms(), ty,
                                   cd_phase_name(ref->status->phase), msg);
    if (rc != 0)
        cd_logf(CD_LOG_ERROR, t->key, "cannot write the event journal: %s", strerror(-rc));
}

static int64_t clock_now(void *ctx) { return cd_wall_ms(); }

/* ---- metrics ------------------------------------------------------------- */

static void remember_metric(lc_tick *t, const cd_metric *m, cd_metric_rc rc, double v,
                            const char *msg)
{
    lc_canary *c = t->c;
    pthread_mutex_lock(&c->L->lock);
    lc_metric_view *slot = NULL;
    for (size_t i = 0; i < c->n_metrics; i++)
        if (!strcmp(c->metrics[i].name, m->name ? m->name : ""))
            slot = &c->metrics[i];
    if (!slot && c->n_metrics < sizeof c->metrics / sizeof c->metrics[0])
        slot = &c->metrics[c->n_metrics++];
    if (slot) {
        snprintf(slot->name, sizeof slot->name, "%s", m->name ? m->name : "");
        slot->has_value = rc == CD_METRIC_OK;
        slot->value = v;
        slot->at_ms = cd_wall_ms();
        char why[256] = "";
        cd_metric_kind kind = CD_METRIC_KIND_QUERY;
        cd_engine_metric_kind(m, &kind);
        slot->passed = rc == CD_METRIC_OK && cd_engine_threshold_pass(m, kind, v, why, sizeof why);
        cd_redact_text(rc == CD_METRIC_OK ? why : msg ? msg : "", NULL, 0, slot->message,
                       sizeof slot->message);
    }
    pthread_mutex_unlock(&c->L->lock);
}

/* The built-in router answers the builtin metrics itself unless the
 * canary points at a Prometheus (metricsServer): then the providers run
 * Flagger's App Mesh queries against the router's Envoy-style series. */
static bool router_native(const lc_tick *t, const cd_metric *m)
{
    cd_metric_kind kind;
    return (!t->spec.metrics_server || !*t->spec.metrics_server) &&
           cd_engine_metric_kind(m, &kind) &&
           (kind == CD_METRIC_KIND_SUCCESS_RATE || kind == CD_METRIC_KIND_DURATION);
}

static cd_metric_rc metrics_query(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                                  double *value, cd_err *err)
{
    lc_tick *t = ctx;
    cd_metric_rc rc;
    if (router_native(t, m)) {
        rc = lc_router_metric(t->c->L, t->c, m, value, err);
    } else {
        rc = t->providers.query(t->providers.ctx, ref, m, value, err);
    }
    remember_metric(t, m, rc, rc == CD_METRIC_OK ? *value : 0, err->msg);
    return rc;
}

static cd_rc metrics_check(void *ctx, const cd_canary_ref *ref, cd_err *err)
{
    lc_tick *t = ctx;
    bool any_remote = false;
    for (size_t i = 0; i < ref->spec->analysis.n_metrics; i++)
        any_remote |= !router_native(t, &ref->spec->analysis.metrics[i]);
    if (!any_remote)
        return CD_OK;   /* the router is there: the controller started it */
    return t->providers.check_providers(t->providers.ctx, ref, err);
}

/* The statistical judge's inputs: from the router for builtin metrics
 * (per-request counts and latencies), else from the providers. */
static cd_metric_rc metrics_samples(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                                    const char *which, double **values, size_t *n, cd_err *err)
{
    lc_tick *t = ctx;
    if (router_native(t, m)) {
        free(t->samples);
        t->samples = NULL;
        cd_metric_rc rc = lc_router_samples(t->c->L, t->c, m, which, &t->samples, n, err);
        *values = t->samples;
        return rc;
    }
    if (!t->providers.samples) {
        snprintf(err->msg, sizeof err->msg,
                 "the metrics provider gives no samples to the statistical judge");
        return CD_METRIC_ERROR;
    }
    return t->providers.samples(t->providers.ctx, ref, m, which, values, n, err);
}

static cd_metric_rc metrics_counts(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                                   const char *which, uint64_t *total, uint64_t *failed,
                                   cd_err *err)
{
    lc_tick *t = ctx;
    if (router_native(t, m))
        return lc_router_counts(t->c->L, t->c, m, which, total, failed, err);
    if (!t->providers.counts) {
        snprintf(err->msg, sizeof err->msg,
                 "the metrics provider gives no counts to the statistical judge");
        return CD_METRIC_ERROR;
    }
    return t->providers.counts(t->providers.ctx, ref, m, which, total, failed, err);
}

/* The primary before the release: the router's own windows for builtin
 * metrics (it keeps an hour and five minutes of them), else the
 * providers (Prometheus range queries). */
static cd_metric_rc metrics_history(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                                    int64_t ago_ms, int64_t span_ms, cd_metric_history *out,
                                    cd_err *err)
{
    lc_tick *t = ctx;
    if (router_native(t, m))
        return lc_router_history(t->c->L, t->c, m, ago_ms, span_ms, out, err);
    if (!t->providers.history) {
        snprintf(err->msg, sizeof err->msg, "the metrics provider keeps no history");
        return CD_METRIC_ERROR;
    }
    return t->providers.history(t->providers.ctx, ref, m, ago_ms, span_ms, out, err);
}

/* ---- webhooks and local gates ------------------------------------------ */

static bool gate_call(lc_tick *t, const char *gate, cd_err *err)
{
    lc_canary *c = t->c;
    bool ok = false;
    pthread_mutex_lock(&c->L->lock);
    if (!strcmp(gate, "rollback")) {
        ok = c->rollback_requested;
        c->rollback_requested = false;
        if (!ok)
            snprintf(err->msg, sizeof err->msg, "no rollback requested");
    } else if (!strcmp(gate, "promotion")) {
        ok = c->promotion_approved || !c->promotion_held;
        if (c->promotion_approved) {
            c->promotion_approved = false;
            c->promotion_held = false;
        }
        if (!ok)
            snprintf(err->msg, sizeof err->msg, "promotion held (canaryctl promote %s)", c->name);
    } else if (!strcmp(gate, "rollout")) {
        ok = !c->rollout_held;
        if (!ok)
            snprintf(err->msg, sizeof err->msg, "rollout held (canaryctl resume %s)", c->name);
    }
    pthread_mutex_unlock(&c->L->lock);
    return ok;
}

static bool hooks_call(void *ctx, const cd_canary_ref *ref, const cd_webhook *w, cd_phase phase,
                       cd_err *err)
{
    lc_tick *t = ctx;
    if (w->url && !strncmp(w->url, GATE_URL_PREFIX, strlen(GATE_URL_PREFIX)))
        return gate_call(t, w->url + strlen(GATE_URL_PREFIX), err);
    return t->webhooks.call(t->webhooks.ctx, ref, w, phase, err);
}

static void hooks_send_event(void *ctx, const cd_canary_ref *ref, cd_phase phase,
                             const char *type, const char *message)
{
    lc_tick *t = ctx;
    if (t->webhooks.send_event)
        t->webhooks.send_event(t->webhooks.ctx, ref, phase, type, message);
}

/* The manifest's webhooks plus the gates canaryctl operates, only while
 * one is engaged, so a canary nobody gates emits Flagger's events only. */
static void add_gates(lc_tick *t)
{
    lc_canary *c = t->c;
    const cd_analysis *a = &c->obj->spec.canary.analysis;
    pthread_mutex_lock(&c->L->lock);
    cd_phase ph = c->status.phase;
    if (c->rollback_requested && ph != CD_PHASE_PROGRESSING && ph != CD_PHASE_WAITING &&
        ph != CD_PHASE_WAITING_PROMOTION) {
        /* the release ended before the abort was acted on: it must not
         * roll back the next one (the API refuses an abort here) */
        c->rollback_requested = false;
        cd_logf(CD_LOG_WARN, t->key, "rollback request dropped: the canary is %s",
                cd_phase_name(ph));
    }
    bool rollback = c->rollback_requested;
    bool promotion = c->promotion_held || c->promotion_approved;
    bool rollout = c->rollout_held;
    pthread_mutex_unlock(&c->L->lock);
    size_t n = a->n_webhooks;
    t->hooks = calloc(n + 3, sizeof *t->hooks);
    if (!t->hooks)
        abort();
    if (n)
        memcpy(t->hooks, a->webhooks, n * sizeof *t->hooks);
    static const struct { const char *name, *url; cd_hook_type type; } gates[] = {
        {"canaryd-rollback", GATE_URL_PREFIX "rollback", CD_HOOK_ROLLBACK},
        {"canaryd-promotion", GATE_URL_PREFIX "promotion", CD_HOOK_CONFIRM_PROMOTION},
        {"canaryd-rollout", GATE_URL_PREFIX "rollout", CD_HOOK_CONFIRM_ROLLOUT},
    };
    bool on[3] = {rollback, promotion, rollout};
    for (size_t i = 0; i < 3; i++) {
        if (!on[i])
            continue;
        cd_webhook *w = &t->hooks[n++];
        memset(w, 0, sizeof *w);
        w->name = gates[i].name;
        w->url = gates[i].url;
        w->type = gates[i].type;
        w->type_raw = cd_hook_type_name(gates[i].type);
        w->timeout_ms = 1000;
        w->mute_alert = true;
    }
    t->spec.analysis.webhooks = t->hooks;
    t->spec.analysis.n_webhooks = n;
}

/* ---- the tick ------------------------------------------------------------ */

static void snapshot_lookups(lc_tick *t)
{
    cd_local *L = t->c->L;
    pthread_mutex_lock(&L->lock);
    size_t n = cd_manifest_dir_count(L->manifests);
    for (size_t i = 0; i < n; i++) {
        cd_object *o = cd_manifest_dir_at(L->manifests, i);
        if (o->kind == CD_KIND_METRIC_TEMPLATE || o->kind == CD_KIND_ALERT_PROVIDER)
            cd_object_list_push(&t->snapshot, cd_object_retain(o));
    }
    pthread_mutex_unlock(&L->lock);
    t->store = cd_object_store(&t->snapshot);
}

lc_tick *lc_tick_begin(lc_canary *c, cd_ports *ports, cd_canary_ref *ref)
{
    cd_local *L = c->L;
    lc_tick *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->c = c;
    snprintf(t->key, sizeof t->key, "%s.%s", c->name, c->ns);
    t->spec = c->obj->spec.canary;
    snprintf(t->provider, sizeof t->provider, "%s",
             t->spec.provider && *t->spec.provider ? t->spec.provider : "canaryd");
    add_gates(t);
    snapshot_lookups(t);

    t->mcfg = L->metrics_cfg;
    t->mcfg.store = &t->store;
    t->providers = cd_metrics_port_make(&t->mcfg);
    t->ncfg = L->opt.notify;
    t->ncfg.store = &t->store;
    t->ncfg.secrets = &L->secrets;
    t->webhooks = cd_hooks_port_make(&L->hooks_cfg);

    memset(ports, 0, sizeof *ports);
    t->wctx.target = c->target;
    t->wctx.now_ms = wall_now;
    cd_local_workload_port(&ports->workload, &t->wctx);
    lc_router_port(&ports->router, c);
    ports->metrics = (cd_metrics_port){t, metrics_query, metrics_check, metrics_samples,
                                       metrics_counts, metrics_history};
    ports->hooks = (cd_hooks_port){t, hooks_call, hooks_send_event};
    ports->notifier = cd_notifier_port_make(&t->ncfg);
    ports->events = (cd_events_port){t, event_record};
    ports->status = (cd_status_port){t, status_save};
    ports->clock = (cd_clock_port){t, clock_now};
    ports->registry = L->registry;

    pthread_mutex_lock(&L->lock);
    cd_status_copy(&c->tick_status, &c->status);
    pthread_mutex_unlock(&L->lock);
    ref->meta = &c->obj->meta;
    ref->spec = &t->spec;
    ref->status = &c->tick_status;
    ref->provider = t->provider;
    return t;
}

void lc_tick_end(lc_tick *t)
{
    if (!t)
        return;
    cd_metrics_port_release(&t->providers);
    cd_hooks_port_release(&t->webhooks);
    cd_object_list_free(&t->snapshot);
    free(t->hooks);
    free(t->samples);
    free(t);
}
