/* metrics_port.c - cd_metrics_port: builtin, inline and MetricTemplate
 * metrics (reference §3.1-§3.6). One provider is built per query and
 * closed after it, as Flagger does; every call is bounded by the
 * provider's HTTP timeout. Never keeps pointers into the canary. */
#include "analysis/metrics_port.h"
#include "analysis/observers.h"
#include "analysis/template.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_METRICS_SERVER "http://prometheus:9090"

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
    cd_template_model_for_canary(&model, c->meta, c->spec, interval_of(m), &m->template_variables);
    cd_err e = {""};
    char *q = cd_builtin_query(obs, m->name, &model, &e);
    if (!q) {
        cd_errfmt(err, "Prometheus query failed: rendering query failed: %s", e.msg);
        return CD_METRIC_ERROR;
    }
    const char *server = server_of(cfg, c);
    cd_provider *p = open_prometheus(cfg, server, interval_of(m), &e);
    if (!p) {
        cd_errfmt(err, "Error building Prometheus client for %s %s", server, e.msg);
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
    cd_template_model_for_canary(&model, c->meta, c->spec, interval_of(m), &m->template_variables);
    cd_err e = {""};
    char *q = cd_template_render(m->query, &model, &e);
    if (!q) {
        cd_errfmt(err, "Prometheus query failed for %s: %s", m->name, e.msg);
        return CD_METRIC_ERROR;
    }
    const char *server = server_of(cfg, c);
    cd_provider *p = open_prometheus(cfg, server, interval_of(m), &e);
    if (!p) {
        cd_errfmt(err, "Error building Prometheus client for %s %s", server, e.msg);
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
    cd_template_model_for_canary(&model, c->meta, c->spec, interval_of(m), &m->template_variables);
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
    const cd_metrics_config *cfg = ctx;
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
    const cd_metrics_config *cfg = ctx;
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

cd_metrics_port cd_metrics_port_make(const cd_metrics_config *cfg)
{
    cd_metrics_port p;
    memset(&p, 0, sizeof p);
    p.ctx = (void *)cfg;
    p.query = port_query;
    p.check_providers = port_check_providers;
    p.samples = NULL;   /* the statistical judge's seam: a later issue */
    return p;
}

void cd_metrics_port_release(cd_metrics_port *p)
{
    memset(p, 0, sizeof *p);
}

bool cd_metrics_describe(const cd_metrics_config *cfg, const cd_canary_ref *c, const cd_metric *m,
                         char provider[32], char address[512], char **query, cd_err *err)
{
    cd_template_model model;
    cd_template_model_for_canary(&model, c->meta, c->spec, interval_of(m), &m->template_variables);
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
