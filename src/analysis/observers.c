/* observers.c - the builtin PromQL templates of each observer, exactly as
 * Flagger sends them once whitespace is collapsed (reference §3.3), the
 * observer selection (§3.2) and Skipper's model encoding. Pure data:
 * adding a provider is one row in the table. */
#include "analysis/observers.h"
#include "util/errfmt.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIPPER_ROUTE CD_SKIPPER_ROUTE

/* Each template starts with a newline, as Flagger's do, so that the query
 * on the wire begins with one space. */
static const cd_observer observers[] = {
    {"appmesh",
     "\nsum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace=\"{{ namespace }}\","
     " kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\", "
     "envoy_response_code!~\"5.*\" }[{{ interval }}] ) ) / sum( rate( "
     "envoy_cluster_upstream_rq{ kubernetes_namespace=\"{{ namespace }}\", "
     "kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[{{ interval "
     "}}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
     "kubernetes_namespace=\"{{ namespace }}\", kubernetes_pod_name=~\"{{ target "
     "}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[{{ interval }}] ) ) by (le) )",
     1, false},
    {"istio",
     "\nsum( rate( istio_requests_total{ reporter=\"destination\", "
     "destination_workload_namespace=\"{{ namespace }}\", destination_workload=~\"{{ "
     "target }}\", response_code!~\"5.*\" }[{{ interval }}] ) ) / sum( rate( "
     "istio_requests_total{ reporter=\"destination\", "
     "destination_workload_namespace=\"{{ namespace }}\", destination_workload=~\"{{ "
     "target }}\" }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( "
     "istio_request_duration_milliseconds_bucket{ reporter=\"destination\", "
     "destination_workload_namespace=\"{{ namespace }}\", destination_workload=~\"{{ "
     "target }}\" }[{{ interval }}] ) ) by (le) )",
     1, false},
    {"linkerd",
     "\nsum( rate( response_total{ namespace=\"{{ namespace }}\", deployment=~\"{{ "
     "target }}\", classification!=\"failure\", direction=\"inbound\" }[{{ interval }}] )"
     " ) / sum( rate( response_total{ namespace=\"{{ namespace }}\", deployment=~\"{{ "
     "target }}\", direction=\"inbound\" }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ "
     "namespace=\"{{ namespace }}\", deployment=~\"{{ target }}\", direction=\"inbound\" "
     "}[{{ interval }}] ) ) by (le) )",
     1, false},
    {"http",
     "\nsum( rate( http_request_duration_seconds_count{ kubernetes_namespace=\"{{ "
     "namespace }}\", kubernetes_pod_name=~\"{{ target "
     "}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\", status!~\"5.*\" }[{{ interval }}] ) ) / sum( "
     "rate( http_request_duration_seconds_count{ kubernetes_namespace=\"{{ namespace "
     "}}\", kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[{{ "
     "interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ "
     "kubernetes_namespace=\"{{ namespace }}\", kubernetes_pod_name=~\"{{ target "
     "}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[{{ interval }}] ) ) by (le) )",
     1000, false},
    {"nginx",
     "\nsum( rate( nginx_ingress_controller_requests{ namespace=\"{{ namespace }}\", "
     "ingress=\"{{ ingress }}\", canary!=\"\", status!~\"5.*\" }[{{ interval }}] ) ) / "
     "sum( rate( nginx_ingress_controller_requests{ namespace=\"{{ namespace }}\", "
     "ingress=\"{{ ingress }}\", canary!=\"\" }[{{ interval }}] ) ) * 100",
     "\nsum( rate( nginx_ingress_controller_response_duration_seconds_sum{ "
     "namespace=\"{{ namespace }}\", ingress=\"{{ ingress }}\", canary!=\"\" }[{{ interval"
     " }}] ) ) / sum( rate( "
     "nginx_ingress_controller_response_duration_seconds_count{ namespace=\"{{ "
     "namespace }}\", ingress=\"{{ ingress }}\", canary!=\"\" }[{{ interval }}] ) ) * "
     "1000",
     1, false},
    {"contour",
     "\nsum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}_{{"
     " service }}-canary_[0-9a-zA-Z-]+\", envoy_response_code!~\"5.*\" }[{{ interval "
     "}}] ) ) / sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ "
     "namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+\", }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
     "envoy_cluster_name=~\"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+\", }[{{"
     " interval }}] ) ) by (le) )",
     1, false},
    {"gloo",
     "\nsum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}-{{"
     " target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+\", "
     "envoy_response_code!~\"5.*\" }[{{ interval }}] ) ) / sum( rate( "
     "envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}-{{ target "
     "}}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+\", }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
     "envoy_cluster_name=~\"{{ namespace }}-{{ target "
     "}}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+\", }[{{ interval }}] ) ) by (le) "
     ")",
     1, false},
    {"traefik",
     "\nsum( rate( traefik_service_request_duration_seconds_bucket{ service=~\"{{ "
     "namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd\", code!~\"5..\", "
     "le=\"+Inf\" }[{{ interval }}] ) ) / sum( rate( "
     "traefik_service_request_duration_seconds_bucket{ service=~\"{{ namespace }}-{{ "
     "target }}-canary-[0-9a-zA-Z-]+@kubernetescrd\", le=\"+Inf\" }[{{ interval }}] ) )"
     " * 100",
     "\nhistogram_quantile( 0.99, sum( rate( "
     "traefik_service_request_duration_seconds_bucket{ service=~\"{{ namespace }}-{{ "
     "target }}-canary-[0-9a-zA-Z-]+@kubernetescrd\" }[{{ interval }}] ) ) by (le) ) "
     "* 1000",
     1, false},
    {"kuma",
     "\nsum( rate( envoy_cluster_upstream_rq{ service=~\"{{ target }}-canary_{{ "
     "namespace }}_svc_[0-9a-zA-Z-]+\", envoy_response_code!~\"5.*\" }[{{ interval }}] "
     ") ) / sum( rate( envoy_cluster_upstream_rq{ service=~\"{{ target }}-canary_{{ "
     "namespace }}_svc_[0-9a-zA-Z-]+\", }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
     "service=~\"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+\", }[{{ "
     "interval }}] ) ) by (le) )",
     1, false},
    {"osm",
     "\nsum( rate( osm_request_total{ destination_namespace=\"{{ namespace }}\", "
     "destination_kind=\"Deployment\", destination_name=\"{{ target }}\", "
     "response_code!~\"5.*\" }[{{ interval }}] ) ) / sum( rate( osm_request_total{ "
     "destination_namespace=\"{{ namespace }}\", destination_kind=\"Deployment\", "
     "destination_name=\"{{ target }}\" }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( osm_request_duration_ms_bucket{ "
     "destination_namespace=\"{{ namespace }}\", destination_kind=\"Deployment\", "
     "destination_name=\"{{ target }}\" }[{{ interval }}] ) ) by (le) )",
     1, false},
    {"apisix",
     "\nsum( rate( apisix_http_status{ route=~\"{{ namespace }}_{{ route }}-{{ target "
     "}}-canary_.+\", code!~\"5..\" }[{{ interval }}] ) ) / sum( rate( "
     "apisix_http_status{ route=~\"{{ namespace }}_{{ route }}-{{ target "
     "}}-canary_.+\" }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( apisix_http_latency_bucket{ "
     "type=~\"request\", route=~\"{{ namespace }}_{{ route }}-{{ target }}-canary_.+\" "
     "}[{{ interval }}] ) ) by (le) )",
     1, false},
    {"skipper",
     SKIPPER_ROUTE
     "\nsum(rate(skipper_response_duration_seconds_bucket{route=~\"{{ $route "
     "}}\",code!~\"5..\",le=\"+Inf\"}[{{ interval }}])) / "
     "sum(rate(skipper_response_duration_seconds_bucket{route=~\"{{ $route "
     "}}\",le=\"+Inf\"}[{{ interval }}])) * 100",
     SKIPPER_ROUTE
     "\nsum(rate(skipper_serve_route_duration_seconds_sum{route=~\"{{ $route }}\"}[{{ "
     "interval }}])) / "
     "sum(rate(skipper_serve_route_duration_seconds_count{route=~\"{{ $route }}\"}[{{ "
     "interval }}])) * 1000",
     1, true},
    /* canaryd's, for StatefulSet targets (docs/statefulset.md): the pods'
     * own HTTP series, as `kubernetes`'s, of the ordinals the partition
     * updated (their controller-revision-hash label, mapped by Prometheus'
     * labelmap of pod labels, is the update revision) */
    {"statefulset",
     "\nsum( rate( http_request_duration_seconds_count{ kubernetes_namespace=\"{{ "
     "namespace }}\", kubernetes_pod_name=~\"{{ target }}-[0-9]+\", "
     "controller_revision_hash=\"{{ revision }}\", status!~\"5.*\" }[{{ interval }}] ) ) "
     "/ sum( rate( http_request_duration_seconds_count{ kubernetes_namespace=\"{{ namespace "
     "}}\", kubernetes_pod_name=~\"{{ target }}-[0-9]+\", controller_revision_hash=\"{{ "
     "revision }}\" }[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ "
     "kubernetes_namespace=\"{{ namespace }}\", kubernetes_pod_name=~\"{{ target "
     "}}-[0-9]+\", controller_revision_hash=\"{{ revision }}\" }[{{ interval }}] ) ) by "
     "(le) )",
     1000, false},
    {"knative",
     "\nsum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}/{{"
     " route }}\", envoy_response_code!~\"5.*\" }[{{ interval }}] ) ) / sum( rate( "
     "envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}/{{ route }}\", "
     "}[{{ interval }}] ) ) * 100",
     "\nhistogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
     "envoy_cluster_name=~\"{{ namespace }}/{{ route }}\", }[{{ interval }}] ) ) by "
     "(le) )",
     1, false},
};

#define N_OBSERVERS (sizeof observers / sizeof observers[0])

static const cd_observer *by_name(const char *name)
{
    for (size_t i = 0; i < N_OBSERVERS; i++)
        if (!strcmp(observers[i].name, name))
            return &observers[i];
    return NULL;
}

const cd_observer *cd_observer_at(size_t i)
{
    return i < N_OBSERVERS ? &observers[i] : NULL;
}

static bool has_prefix(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

const cd_observer *cd_observer_for(const char *p)
{
    if (!p)
        p = "";
    const char *name = "istio";
    /* canaryd's built-in router exports App Mesh (Envoy) compatible series */
    if (has_prefix(p, "appmesh") || !strcmp(p, "canaryd"))
        name = "appmesh";
    else if (has_prefix(p, "gloo"))
        name = "gloo";
    else if (!strcmp(p, "kubernetes") || has_prefix(p, "gatewayapi"))
        name = "http";
    else if (!strcmp(p, "linkerd") || !strcmp(p, "contour") || !strcmp(p, "nginx") ||
             !strcmp(p, "skipper") || !strcmp(p, "traefik") || !strcmp(p, "osm") ||
             !strcmp(p, "kuma") || !strcmp(p, "apisix") || !strcmp(p, "knative") ||
             !strcmp(p, "istio") || !strcmp(p, "statefulset"))
        name = p;
    return by_name(name);
}

static bool is_knative(const cd_object_ref *t)
{
    return t && t->api_version && has_prefix(t->api_version, "serving.knative.dev/");
}

void cd_metrics_provider_name(const char *global_provider, const char *spec_provider,
                              const cd_object_ref *target, char *out, size_t n)
{
    const char *g = global_provider ? global_provider : "";
    const char *p = strstr(g, "crossover") ? "crossover" : g;
    if (spec_provider && *spec_provider) {
        p = spec_provider;
        if (strstr(g, "linkerd"))
            p = "linkerd";
    }
    bool service = target && target->kind && !strcmp(target->kind, "Service") && !is_knative(target);
    /* canaryd's: a StatefulSet's updated pods against the others, whatever
     * the provider (docs/statefulset.md) */
    if (target && target->kind && !strcmp(target->kind, "StatefulSet")) {
        snprintf(out, n, "statefulset");
        return;
    }
    snprintf(out, n, "%s%s", p, service ? ":service" : "");
}

/* Skipper route names replace every non-word character with '_'. */
static char *skipper_encode(const char *s)
{
    char *o = strdup(s ? s : "");
    if (!o)
        abort();
    for (char *p = o; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    return o;
}

char *cd_builtin_query(const cd_observer *o, const char *metric, const cd_template_model *m,
                       cd_err *err)
{
    const char *tmpl = NULL;
    if (metric && !strcmp(metric, "request-success-rate"))
        tmpl = o->success_rate;
    else if (metric && !strcmp(metric, "request-duration"))
        tmpl = o->duration;
    if (!tmpl) {
        cd_errfmt(err, "\"%s\" is not a builtin metric", metric ? metric : "");
        return NULL;
    }
    return cd_observer_render(o, tmpl, m, err);
}

char *cd_observer_render(const cd_observer *o, const char *tmpl, const cd_template_model *m,
                         cd_err *err)
{
    if (!o->skipper_encoding)
        return cd_template_render(tmpl, m, err);
    cd_template_model e = *m;
    char *name = skipper_encode(m->name), *ns = skipper_encode(m->namespace_),
         *target = skipper_encode(m->target), *svc = skipper_encode(m->service),
         *ing = skipper_encode(m->ingress);
    e.name = name;
    e.namespace_ = ns;
    e.target = target;
    e.service = svc;
    e.ingress = ing;
    char *q = cd_template_render(tmpl, &e, err);
    free(name);
    free(ns);
    free(target);
    free(svc);
    free(ing);
    return q;
}

double cd_observer_duration_ms(const cd_observer *o, double value)
{
    double ms = value * o->duration_to_ms;
    if (isnan(ms) || isinf(ms))
        return ms;
    return trunc(ms);
}
