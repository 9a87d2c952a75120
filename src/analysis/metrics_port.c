/* metrics_port.c - cd_metrics_port: builtin, inline and MetricTemplate
 * metrics (reference §3.1-§3.6), and the statistical judge's reads of
 * them (counts and samples of the canary and of the primary, docs/judge.md
 * and docs/metrics.md "Judged metrics"). One provider is built per query
 * and closed after it, as Flagger does; every call is bounded by the
 * provider's HTTP timeout. Never keeps pointers into the canary; keeps
 * only the last samples it handed out. */
#include "analysis/metrics_port.h"
#include "analysis/judged.h"
#include "analysis/observers.h"
#include "analysis/template.h"
#include "model/judge.h"
#include "providers/provider.h"
#include "util/duration.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_METRICS_SERVER "http://prometheus:9090"

/* The port's context: the configuration and the values samples() handed
 * out last (the port owns them until its next call). */
typedef struct port_ctx {
    const cd_metrics_config *cfg;
    double *samples;
} port_ctx;


/* The template model of c, with {{ route }} as the platform says when it
 * knows better (a Knative Service's latest revision, as Flagger's). */
static void model_for(const cd_metrics_config *cfg, cd_template_model *m, const cd_canary_ref *c,
                      const char *interval, const cd_strmap *variables)
{
    cd_template_model_for_canary(m, c->meta, c->spec, interval, variables);
    m->revision = c->revision;
    if (cfg && cfg->route && *cfg->route)
        m->route = cfg->route;
}

static const char *server_of(const cd_metrics_config *cfg, const cd_canary_ref *c)
{
    if (c->spec->metrics_server && *c->spec->metrics_server)
        return c->spec->metrics_server;
    return cfg->metrics_server && *cfg->metrics_server ? cfg->metrics_server
                                                        : DEFAULT_METRICS_SERVER;
}

static const char *interval_of(const cd_metric *m)
{
    return m->interval && *m->interval ? m->interval : "1m";
}

static const char *ns_of(const cd_canary_ref *c)
{
    return c->meta->namespace_ ? c->meta->namespace_ : "";
}

static cd_provider *open_prometheus(const cd_metrics_config *cfg, const char *address,
                                    const char *interval, cd_err *err)
{
    cd_provider_config pc;
    memset(&pc, 0, sizeof pc);
    pc.type = "prometheus";
    pc.address = address;
    pc.interval = interval;
    pc.timeout_ms = cfg->prometheus_timeout_ms;
    pc.ca_file = cfg->ca_file;
    return cd_provider_open(&pc, err);
}

/* The canary's Prometheus server as a provider; NULL with Flagger's event
 * text in err when no client could be built for it. */
static cd_provider *open_server(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                const cd_metric *m, cd_err *err)
{
    const char *server = server_of(cfg, c);
    cd_err e = {""};
    cd_provider *p = open_prometheus(cfg, server, interval_of(m), &e);
    if (!p)
        cd_errfmt(err, "Error building Prometheus client for %s %s", server, e.msg);
    return p;
}

static void builtin_provider_name(const cd_metrics_config *cfg, const cd_canary_ref *c, char *out,
                                  size_t n)
{
    cd_metrics_provider_name(cfg->mesh_provider && *cfg->mesh_provider ? cfg->mesh_provider
                                                                        : "istio",
                             c->spec->provider, &c->spec->target_ref, out, n);
}

static cd_metric_rc query_builtin(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                  const cd_metric *m, double *value, cd_err *err)
{
    char provname[64];
    builtin_provider_name(cfg, c, provname, sizeof provname);
    const cd_observer *obs = cd_observer_for(provname);
    cd_template_model model;
    model_for(cfg, &model, c, interval_of(m), &m->template_variables);
    cd_err e = {""};
    char *q = cd_builtin_query(obs, m->name, &model, &e);
    if (!q) {
        cd_errfmt(err, "Prometheus query failed: rendering query failed: %s", e.msg);
        return CD_METRIC_ERROR;
    }
    cd_provider *p = open_server(cfg, c, m, err);
    if (!p) {
        free(q);
        return CD_METRIC_ERROR;
    }
    cd_logf(CD_LOG_DEBUG, NULL, "builtin %s query for %s.%s: %s", m->name, c->meta->name,
            ns_of(c), q);
    cd_metric_rc rc = cd_provider_query(p, q, value, &e);
    cd_provider_close(p);
    free(q);
    const char *target = c->spec->target_ref.name ? c->spec->target_ref.name : "";
    if (rc == CD_METRIC_NO_DATA) {
        if (!strcmp(m->name, "request-duration"))
            cd_errfmt(err, "Halt advancement no values found for %s metric %s probably %s.%s is "
                           "not receiving traffic",
                      provname, m->name, target, ns_of(c));
        else
            cd_errfmt(err, "Halt advancement no values found for %s metric %s probably %s.%s is "
                           "not receiving traffic: running query failed: %s",
                      provname, m->name, target, ns_of(c), e.msg);
    } else if (rc == CD_METRIC_ERROR) {
        cd_errfmt(err, "Prometheus query failed: running query failed: %s", e.msg);
    } else if (!strcmp(m->name, "request-duration")) {
        *value = cd_observer_duration_ms(obs, *value);
    }
    return rc;
}

static cd_metric_rc query_inline(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                 const cd_metric *m, double *value, cd_err *err)
{
    cd_template_model model;
    model_for(cfg, &model, c, interval_of(m), &m->template_variables);
    cd_err e = {""};
    char *q = cd_template_render(m->query, &model, &e);
    if (!q) {
        cd_errfmt(err, "Prometheus query failed for %s: %s", m->name, e.msg);
        return CD_METRIC_ERROR;
    }
    cd_provider *p = open_server(cfg, c, m, err);
    if (!p) {
        free(q);
        return CD_METRIC_ERROR;
    }
    cd_metric_rc rc = cd_provider_query(p, q, value, &e);
    cd_provider_close(p);
    free(q);
    if (rc == CD_METRIC_NO_DATA)
        cd_errfmt(err, "Halt advancement no values found for metric: %s", m->name);
    else if (rc == CD_METRIC_ERROR)
        cd_errfmt(err, "Prometheus query failed for %s: %s", m->name, e.msg);
    return rc;
}

/* Loads the template, its secret and builds its provider. On failure err
 * holds Flagger's event text; *tmpl_out is set when the template exists. */
static cd_provider *open_template_provider(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                           const cd_metric *m,
                                           const cd_metric_template_spec **tmpl_out,
                                           const char **ns_out, bool lowercase, cd_err *err)
{
    const char *ns = m->template_namespace && *m->template_namespace ? m->template_namespace
                                                                      : ns_of(c);
    *ns_out = ns;
    const char *word = lowercase ? "metric template" : "Metric template";
    cd_err e = {""};
    const cd_metric_template_spec *t = cd_store_find_template(cfg->store, ns, m->template_name, &e);
    *tmpl_out = t;
    if (!t) {
        cd_errfmt(err, "%s %s.%s error: %s", word, m->template_name, ns, e.msg);
        return NULL;
    }
    cd_secret secret;
    bool have_secret = false;
    if (t->secret_ref && *t->secret_ref) {
        cd_secret_init(&secret, t->secret_ref);
        if (cd_secret_load(cfg->secrets, ns, t->secret_ref, &secret, &e) != CD_SECRET_FOUND) {
            cd_errfmt(err, "%s %s.%s secret %s error: %s", word, m->template_name, ns,
                      t->secret_ref, e.msg);
            cd_secret_free(&secret);
            return NULL;
        }
        have_secret = true;
    }
    cd_provider_config pc;
    memset(&pc, 0, sizeof pc);
    pc.type = t->provider_type;
    pc.address = t->address;
    pc.headers = t->headers;
    pc.n_headers = t->n_headers;
    pc.insecure_skip_verify = t->insecure_skip_verify;
    pc.region = t->region;
    pc.secret = have_secret ? &secret : NULL;
    pc.interval = interval_of(m);
    pc.ca_file = cfg->ca_file;
    pc.cluster = cfg->cluster;
    if (pc.type && !strcmp(pc.type, "prometheus"))
        pc.timeout_ms = cfg->prometheus_timeout_ms;
    cd_provider *p = cd_provider_open(&pc, &e);
    if (have_secret)
        cd_secret_free(&secret);
    if (!p)
        cd_errfmt(err, "%s %s.%s provider %s error: %s", word, m->template_name, ns,
                  t->provider_type ? t->provider_type : "prometheus", e.msg);
    return p;
}

static cd_metric_rc query_template(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                   const cd_metric *m, double *value, cd_err *err)
{
    const cd_metric_template_spec *t;
    const char *ns;
    cd_provider *p = open_template_provider(cfg, c, m, &t, &ns, false, err);
    if (!p)
        return CD_METRIC_ERROR;
    cd_template_model model;
    model_for(cfg, &model, c, interval_of(m), &m->template_variables);
    cd_err e = {""};
    char *q = cd_template_render(t->query, &model, &e);
    if (!q) {
        cd_errfmt(err, "Metric template %s.%s query render error: %s", m->template_name, ns, e.msg);
        cd_provider_close(p);
        return CD_METRIC_ERROR;
    }
    cd_logf(CD_LOG_DEBUG, NULL, "Metric template %s.%s query: %s", m->template_name, ns, q);
    cd_metric_rc rc = cd_provider_query(p, q, value, &e);
    cd_provider_close(p);
    free(q);
    if (rc == CD_METRIC_NO_DATA)
        cd_errfmt(err, "Halt advancement no values found for custom metric: %s: %s", m->name, e.msg);
    else if (rc == CD_METRIC_ERROR)
        cd_errfmt(err, "Metric query failed for %s: %s", m->name, e.msg);
    return rc;
}

static cd_metric_rc port_query(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                               double *value, cd_err *err)
{
    const cd_metrics_config *cfg = ((port_ctx *)ctx)->cfg;
    *value = 0;
    if (m->template_name && *m->template_name)
        return query_template(cfg, c, m, value, err);
    if (m->query && *m->query)
        return query_inline(cfg, c, m, value, err);
    if (cd_metric_is_builtin(m))
        return query_builtin(cfg, c, m, value, err);
    cd_errfmt(err, "Metric query failed for no usable metrics template and query were configured");
    return CD_METRIC_ERROR;
}

static cd_rc port_check_providers(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    const cd_metrics_config *cfg = ((port_ctx *)ctx)->cfg;
    const cd_analysis *a = &c->spec->analysis;
    for (size_t i = 0; i < a->n_metrics; i++) {
        const cd_metric *m = &a->metrics[i];
        cd_err e = {""};
        if (cd_metric_is_builtin(m)) {
            const char *server = server_of(cfg, c);
            cd_provider *p = open_prometheus(cfg, server, interval_of(m), &e);
            if (!p) {
                cd_errfmt(err, "error building Prometheus client for %s %s", server, e.msg);
                return CD_ERROR;
            }
            bool ok = cd_provider_is_online(p, &e);
            cd_provider_close(p);
            if (!ok) {
                cd_errfmt(err, "prometheus not available: %s", e.msg);
                return CD_ERROR;
            }
            continue;
        }
        if (m->template_name && *m->template_name) {
            const cd_metric_template_spec *t;
            const char *ns;
            cd_provider *p = open_template_provider(cfg, c, m, &t, &ns, true, err);
            if (!p)
                return CD_ERROR;
            bool ok = cd_provider_is_online(p, &e);
            cd_provider_close(p);
            if (!ok) {
                cd_errfmt(err, "%s in metric template %s.%s not available: %s",
                          t->provider_type ? t->provider_type : "prometheus", m->template_name, ns,
                          e.msg);
                return CD_ERROR;
            }
        }
    }
    return CD_OK;
}

/* ---- the statistical judge's reads ------------------------------------------ */

/* The default step of a judged latency range query (docs/judge.md). */
#define DEFAULT_JUDGE_STEP_MS 15000

static int64_t judged_window_ms(const cd_metric *m)
{
    return m->interval_ms > 0 ? m->interval_ms : 60000;
}

int64_t cd_metrics_judge_step_ms(const cd_metric *m)
{
    int64_t step = m->judge && m->judge->step_ms > 0 ? m->judge->step_ms : DEFAULT_JUDGE_STEP_MS;
    int64_t window = judged_window_ms(m);
    return step < window ? step : window;
}

static const char *side_name(bool primary) { return primary ? "primary" : "canary"; }

static void errors_unsupported(const cd_metric *m, cd_err *err)
{
    cd_errfmt(err, "%s: the errors test needs request and failure counts, which canaryd reads "
                   "only for the builtin request-success-rate (docs/judge.md); judge this metric "
                   "with test: latency (its per-step values), or judge request-success-rate",
              m->name ? m->name : "");
}

/* A query of a template or an inline metric for one side: {{ target }}
 * is the primary's workload (T-primary) on the primary's side. */
static char *render_side(const char *tmpl, const cd_template_model *m, bool primary, cd_err *err)
{
    if (!primary)
        return cd_template_render(tmpl, m, err);
    cd_template_model pm = *m;
    char *target = cd_primary_target(m->target);
    pm.target = target;
    char *q = cd_template_render(tmpl, &pm, err);
    free(target);
    return q;
}

/* Fills d for one side of judged metric m (no I/O besides the template
 * lookup). *scale multiplies the values (builtin durations to ms). */
static bool plan_judged(const cd_metrics_config *cfg, const cd_canary_ref *c, const cd_metric *m,
                        const char *which, int64_t interval_ms, cd_judged_description *d,
                        double *scale, cd_err *err)
{
    memset(d, 0, sizeof *d);
    *scale = 1;
    bool primary;
    if (!m->judge) {
        cd_errfmt(err, "metric %s is not judged", m->name ? m->name : "");
        return false;
    }
    if (!cd_judged_side(which, &primary, err))
        return false;
    d->latency = m->judge->test == CD_JUDGE_LATENCY;
    d->window_ms = judged_window_ms(m);
    d->step_ms = d->latency ? cd_metrics_judge_step_ms(m) : 0;
    if (interval_ms > 0 && d->latency)
        d->step_ms = interval_ms;
    char interval[32];
    cd_duration_format_ms(interval_ms > 0 ? interval_ms : d->latency ? d->step_ms : d->window_ms,
                          interval, sizeof interval);
    cd_template_model model;
    model_for(cfg, &model, c, interval, &m->template_variables);
    cd_err e = {""};
    bool is_template = m->template_name && *m->template_name;
    if (is_template || (m->query && *m->query)) {
        if (!d->latency) {
            errors_unsupported(m, err);
            return false;
        }
        const char *tmpl = m->query;
        if (is_template) {
            const char *ns = m->template_namespace && *m->template_namespace
                                 ? m->template_namespace
                                 : ns_of(c);
            const cd_metric_template_spec *t = cd_store_find_template(cfg->store, ns,
                                                                      m->template_name, &e);
            if (!t) {
                cd_errfmt(err, "Metric template %s.%s error: %s", m->template_name, ns, e.msg);
                return false;
            }
            const char *type = t->provider_type && *t->provider_type ? t->provider_type
                                                                      : "prometheus";
            if (strcmp(type, "prometheus")) {
                cd_errfmt(err, "metric template %s.%s uses the %s provider: the statistical "
                               "judge reads per-step values from Prometheus only",
                          m->template_name, ns, type);
                return false;
            }
            snprintf(d->provider, sizeof d->provider, "%s", type);
            snprintf(d->address, sizeof d->address, "%s", t->address ? t->address : "");
            tmpl = t->query;
        } else {
            snprintf(d->provider, sizeof d->provider, "prometheus");
            snprintf(d->address, sizeof d->address, "%s", server_of(cfg, c));
        }
        d->queries[0] = render_side(tmpl ? tmpl : "", &model, primary, &e);
        if (!d->queries[0]) {
            cd_errfmt(err, "rendering the %s's query failed: %s", side_name(primary), e.msg);
            return false;
        }
        return true;
    }
    if (!cd_metric_is_builtin(m)) {
        cd_errfmt(err, "no usable metrics template and query were configured");
        return false;
    }
    char provname[64];
    builtin_provider_name(cfg, c, provname, sizeof provname);
    const cd_observer *obs = cd_observer_for(provname);
    snprintf(d->provider, sizeof d->provider, "prometheus");
    snprintf(d->address, sizeof d->address, "%s", server_of(cfg, c));
    bool duration = !strcmp(m->name, "request-duration");
    if (duration != d->latency) {   /* the decoder never lets this through */
        cd_errfmt(err, "%s is judged by the %s test", m->name, duration ? "latency" : "errors");
        return false;
    }
    cd_judged_kind kinds[2] = {duration ? CD_JUDGED_DURATION : CD_JUDGED_REQUESTS,
                               CD_JUDGED_FAILURES};
    for (int i = 0; i < (duration ? 1 : 2); i++) {
        d->queries[i] = cd_judged_builtin_query(obs, kinds[i], primary, &model, &e);
        if (!d->queries[i]) {
            cd_errfmt(err, "rendering the %s's query failed: %s", side_name(primary), e.msg);
            cd_judged_description_free(d);
            return false;
        }
    }
    if (duration)
        *scale = obs->duration_to_ms;
    return true;
}

/* The provider that runs a judged metric's queries. */
static cd_provider *open_judged(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                const cd_metric *m, cd_err *err)
{
    if (m->template_name && *m->template_name) {
        const cd_metric_template_spec *t;
        const char *ns;
        return open_template_provider(cfg, c, m, &t, &ns, false, err);
    }
    return open_server(cfg, c, m, err);
}

/* Rounds a Prometheus increase() to a count; false when it is none. */
static bool to_count(double v, uint64_t *out)
{
    if (!isfinite(v) || v > 1e15)
        return false;
    *out = v < 0.5 ? 0 : (uint64_t)llround(v);
    return true;
}

static cd_metric_rc port_counts(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                                const char *which, uint64_t *total, uint64_t *failed,
                                cd_err *err)
{
    const cd_metrics_config *cfg = ((port_ctx *)ctx)->cfg;
    *total = *failed = 0;
    cd_judged_description d;
    double scale;
    if (!plan_judged(cfg, c, m, which, 0, &d, &scale, err))
        return CD_METRIC_ERROR;
    if (d.latency) {
        cd_errfmt(err, "metric %s is judged by the latency test: it has samples, not counts",
                  m->name);
        cd_judged_description_free(&d);
        return CD_METRIC_ERROR;
    }
    cd_provider *p = open_judged(cfg, c, m, err);
    cd_metric_rc rc = p ? CD_METRIC_OK : CD_METRIC_ERROR;
    uint64_t *out[2] = {total, failed};
    static const char *const what[2] = {"requests", "failed requests"};
    for (int i = 0; p && i < 2 && rc == CD_METRIC_OK; i++) {
        double v = 0;
        cd_err e = {""};
        cd_logf(CD_LOG_DEBUG, NULL, "judged %s %s query for the %s of %s.%s: %s", m->name,
                what[i], which, c->meta->name, ns_of(c), d.queries[i]);
        cd_metric_rc r = cd_provider_query(p, d.queries[i], &v, &e);
        if (r == CD_METRIC_NO_DATA) {   /* no series: none (no failures, or no traffic) */
            if (i == 0) {
                cd_errfmt(err, "no requests to the %s: %s", which, e.msg);
                rc = CD_METRIC_NO_DATA;
            }
            continue;
        }
        if (r == CD_METRIC_ERROR) {
            cd_errfmt(err, "running the %s's %s query failed: %s", which, what[i], e.msg);
            rc = CD_METRIC_ERROR;
        } else if (!to_count(v, out[i])) {
            cd_errfmt(err, "the %s's %s query returned %g, not a count", which, what[i], v);
            rc = CD_METRIC_ERROR;
        }
    }
    cd_provider_close(p);
    cd_judged_description_free(&d);
    if (rc != CD_METRIC_OK)
        *total = *failed = 0;
    else if (*total == 0)
        rc = CD_METRIC_NO_DATA;
    return rc;
}

static cd_metric_rc port_samples(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                                 const char *which, double **values, size_t *n, cd_err *err)
{
    port_ctx *x = ctx;
    free(x->samples);
    x->samples = NULL;
    *values = NULL;
    *n = 0;
    cd_judged_description d;
    double scale;
    if (!plan_judged(x->cfg, c, m, which, 0, &d, &scale, err))
        return CD_METRIC_ERROR;
    if (!d.latency) {
        cd_errfmt(err, "metric %s is judged by the errors test: it has counts, not samples",
                  m->name);
        cd_judged_description_free(&d);
        return CD_METRIC_ERROR;
    }
    cd_provider *p = open_judged(x->cfg, c, m, err);
    if (!p) {
        cd_judged_description_free(&d);
        return CD_METRIC_ERROR;
    }
    int64_t end = cd_provider_now_ms(p);
    int64_t start = end - d.window_ms + d.step_ms;
    cd_logf(CD_LOG_DEBUG, NULL, "judged %s range query (step %lld ms) for the %s of %s.%s: %s",
            m->name, (long long)d.step_ms, which, c->meta->name, ns_of(c), d.queries[0]);
    double *v = NULL;
    size_t k = 0;
    cd_err e = {""};
    cd_metric_rc rc = cd_provider_query_range(p, d.queries[0], start, end, d.step_ms, &v, &k, &e);
    cd_provider_close(p);
    cd_judged_description_free(&d);
    if (rc == CD_METRIC_OK) {
        for (size_t i = 0; i < k; i++)
            v[i] *= scale;
        x->samples = v;
        *values = v;
        *n = k;
    } else if (rc == CD_METRIC_NO_DATA) {
        cd_errfmt(err, "no values for the %s over the window: %s", which, e.msg);
    } else {
        free(v);
        cd_errfmt(err, "running the %s's range query failed: %s", which, e.msg);
    }
    return rc;
}

/* The step of a history's range queries: the window (counts) or the
 * judge's step (latency), doubled until the span holds at most 10000 of
 * them (Prometheus answers at most 11000 points per series). */
static int64_t history_step_ms(const cd_metric *m, int64_t span_ms)
{
    int64_t step = m->judge && m->judge->test == CD_JUDGE_LATENCY ? cd_metrics_judge_step_ms(m)
                                                                   : judged_window_ms(m);
    if (step <= 0)
        step = 60000;
    while (span_ms / step > 10000)
        step *= 2;
    return step;
}

/* Sums a range query's per-step increases into a count. */
static cd_metric_rc history_count(cd_provider *p, const char *q, int64_t start, int64_t end,
                                  int64_t step, uint64_t *count, int64_t *covered, cd_err *err)
{
    double *v = NULL, sum = 0;
    size_t k = 0;
    cd_metric_rc rc = cd_provider_query_range(p, q, start, end, step, &v, &k, err);
    for (size_t i = 0; rc == CD_METRIC_OK && i < k; i++)
        if (isfinite(v[i]) && v[i] > 0)
            sum += v[i];
    free(v);
    if (rc == CD_METRIC_OK && !to_count(sum, count)) {
        cd_errfmt(err, "the query summed to %g, not a count", sum);
        rc = CD_METRIC_ERROR;
    }
    if (covered)
        *covered = (int64_t)k * step;
    return rc;
}

/* The primary before the release: the judged queries of the primary as
 * range queries over the span that ended ago_ms before Prometheus' now. */
static cd_metric_rc port_history(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                                 int64_t ago_ms, int64_t span_ms, cd_metric_history *out,
                                 cd_err *err)
{
    port_ctx *x = ctx;
    free(x->samples);
    x->samples = NULL;
    memset(out, 0, sizeof *out);
    out->p50 = out->p99 = NAN;
    int64_t step = history_step_ms(m, span_ms);
    cd_judged_description d;
    double scale;
    if (!plan_judged(x->cfg, c, m, "primary", step, &d, &scale, err))
        return CD_METRIC_ERROR;
    cd_provider *p = open_judged(x->cfg, c, m, err);
    if (!p) {
        cd_judged_description_free(&d);
        return CD_METRIC_ERROR;
    }
    int64_t end = cd_provider_now_ms(p) - ago_ms, start = end - span_ms + step;
    if (start > end)
        start = end;
    cd_err e = {""};
    cd_metric_rc rc;
    cd_logf(CD_LOG_DEBUG, NULL, "judged %s history range query (step %lld ms) for the primary "
            "of %s.%s: %s", m->name, (long long)step, c->meta->name, ns_of(c), d.queries[0]);
    if (d.latency) {
        double *v = NULL;
        size_t k = 0;
        rc = cd_provider_query_range(p, d.queries[0], start, end, step, &v, &k, &e);
        if (rc == CD_METRIC_OK) {
            for (size_t i = 0; i < k; i++)
                v[i] *= scale;
            x->samples = v;
            out->values = v;
            out->n_values = k;
            out->requests = k;
            out->covered_ms = (int64_t)k * step;
        } else {
            free(v);
        }
    } else {
        rc = history_count(p, d.queries[0], start, end, step, &out->requests, &out->covered_ms, &e);
        if (rc == CD_METRIC_OK) {
            cd_metric_rc r2 = history_count(p, d.queries[1], start, end, step, &out->failed, NULL,
                                            &e);
            if (r2 == CD_METRIC_ERROR)
                rc = r2;
            else if (r2 == CD_METRIC_NO_DATA)
                out->failed = 0;   /* no failure series: none failed */
            if (out->failed > out->requests)
                out->failed = out->requests;
        }
        if (rc == CD_METRIC_OK && out->requests == 0)
            rc = CD_METRIC_NO_DATA;
    }
    cd_provider_close(p);
    cd_judged_description_free(&d);
    if (rc == CD_METRIC_ERROR)
        cd_errfmt(err, "running the primary's history range query failed: %s", e.msg);
    else if (rc == CD_METRIC_NO_DATA)
        cd_errfmt(err, "%s", e.msg);
    return rc;
}

bool cd_metrics_describe_judged(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                const cd_metric *m, const char *which, cd_judged_description *d,
                                cd_err *err)
{
    double scale;
    return plan_judged(cfg, c, m, which, 0, d, &scale, err);
}

void cd_judged_description_free(cd_judged_description *d)
{
    free(d->queries[0]);
    free(d->queries[1]);
    d->queries[0] = d->queries[1] = NULL;
}

cd_metrics_port cd_metrics_port_make(const cd_metrics_config *cfg)
{
    cd_metrics_port p;
    memset(&p, 0, sizeof p);
    port_ctx *x = calloc(1, sizeof *x);
    if (!x)
        abort();
    x->cfg = cfg;
    p.ctx = x;
    p.query = port_query;
    p.check_providers = port_check_providers;
    p.samples = port_samples;
    p.counts = port_counts;
    p.history = port_history;
    return p;
}

void cd_metrics_port_release(cd_metrics_port *p)
{
    port_ctx *x = p->ctx;
    if (x && p->query == port_query) {
        free(x->samples);
        free(x);
    }
    memset(p, 0, sizeof *p);
}

bool cd_metrics_describe(const cd_metrics_config *cfg, const cd_canary_ref *c, const cd_metric *m,
                         char provider[32], char address[512], char **query, cd_err *err)
{
    cd_template_model model;
    model_for(cfg, &model, c, interval_of(m), &m->template_variables);
    *query = NULL;
    if (m->template_name && *m->template_name) {
        const char *ns = m->template_namespace && *m->template_namespace ? m->template_namespace
                                                                          : ns_of(c);
        cd_err e = {""};
        const cd_metric_template_spec *t = cd_store_find_template(cfg->store, ns, m->template_name,
                                                                  &e);
        if (!t) {
            cd_errfmt(err, "Metric template %s.%s error: %s", m->template_name, ns, e.msg);
            return false;
        }
        snprintf(provider, 32, "%s", t->provider_type ? t->provider_type : "prometheus");
        snprintf(address, 512, "%s", t->address ? t->address : "(provider default)");
        *query = cd_template_render(t->query, &model, &e);
        if (!*query)
            cd_errfmt(err, "Metric template %s.%s query render error: %s", m->template_name, ns,
                      e.msg);
        return *query != NULL;
    }
    snprintf(provider, 32, "prometheus");
    snprintf(address, 512, "%s", server_of(cfg, c));
    if (m->query && *m->query) {
        *query = cd_template_render(m->query, &model, err);
        return *query != NULL;
    }
    if (cd_metric_is_builtin(m)) {
        char provname[64];
        builtin_provider_name(cfg, c, provname, sizeof provname);
        *query = cd_builtin_query(cd_observer_for(provname), m->name, &model, err);
        return *query != NULL;
    }
    cd_errfmt(err, "Metric query failed for no usable metrics template and query were configured");
    return false;
}
