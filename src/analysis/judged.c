/* judged.c - the statistical judge's builtin queries (judged.h): one row
 * per observer with the canary's request and failure counts; the
 * primary's are derived from them (and from the observer's
 * request-duration query) by target or by marker. Pure data: supporting
 * another observer is one row. Must not do I/O. */
#include "analysis/judged.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_INCREASE(sel) "sum( increase( " sel "[{{ interval }}] ) )"

typedef struct judged_row {
    const char *observer;
    const char *requests, *failures;    /* the canary's, over {{ interval }} */
    const char *mark, *primary_mark;    /* NULL: the primary is {{ target }}-primary */
    const char *refused;                /* why the primary cannot be told apart */
} judged_row;

#define APPMESH_SEL                                                                          \
    "envoy_cluster_upstream_rq{ kubernetes_namespace=\"{{ namespace }}\", "                  \
    "kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\""
#define ISTIO_SEL                                                                            \
    "istio_requests_total{ reporter=\"destination\", destination_workload_namespace=\"{{ "  \
    "namespace }}\", destination_workload=~\"{{ target }}\""
#define HTTP_SEL                                                                             \
    "http_request_duration_seconds_count{ kubernetes_namespace=\"{{ namespace }}\", "        \
    "kubernetes_pod_name=~\"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\""
#define NGINX_SEL                                                                            \
    "nginx_ingress_controller_requests{ namespace=\"{{ namespace }}\", ingress=\"{{ ingress "\
    "}}\", canary!=\"\""
#define CONTOUR_SEL                                                                          \
    "envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}_{{ service "           \
    "}}-canary_[0-9a-zA-Z-]+\""
#define GLOO_SEL                                                                             \
    "envoy_cluster_upstream_rq{ envoy_cluster_name=~\"{{ namespace }}-{{ target "            \
    "}}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+\""
#define STS_SEL                                                                              \
    "http_request_duration_seconds_count{ kubernetes_namespace=\"{{ namespace }}\", "        \
    "kubernetes_pod_name=~\"{{ target }}-[0-9]+\", controller_revision_hash=\"{{ revision }}\""
#define TRAEFIK_SEL                                                                          \
    "traefik_service_request_duration_seconds_bucket{ service=~\"{{ namespace }}-{{ target " \
    "}}-canary-[0-9a-zA-Z-]+@kubernetescrd\", le=\"+Inf\""
#define KUMA_SEL                                                                             \
    "envoy_cluster_upstream_rq{ service=~\"{{ target }}-canary_{{ namespace "                \
    "}}_svc_[0-9a-zA-Z-]+\""
#define OSM_SEL                                                                              \
    "osm_request_total{ destination_namespace=\"{{ namespace }}\", "                         \
    "destination_kind=\"Deployment\", destination_name=\"{{ target }}\""
#define SKIPPER_SEL                                                                          \
    "skipper_response_duration_seconds_bucket{ route=~\"{{ $route }}\", le=\"+Inf\""

static const judged_row rows[] = {
    {"appmesh", SUM_INCREASE(APPMESH_SEL " }"),
     SUM_INCREASE(APPMESH_SEL ", envoy_response_code=~\"5.*\" }"), NULL, NULL, NULL},
    {"istio", SUM_INCREASE(ISTIO_SEL " }"), SUM_INCREASE(ISTIO_SEL ", response_code=~\"5.*\" }"),
     NULL, NULL, NULL},
    {"linkerd",
     SUM_INCREASE("response_total{ namespace=\"{{ namespace }}\", deployment=~\"{{ target }}\", "
                  "direction=\"inbound\" }"),
     SUM_INCREASE("response_total{ namespace=\"{{ namespace }}\", deployment=~\"{{ target }}\", "
                  "classification=\"failure\", direction=\"inbound\" }"),
     NULL, NULL, NULL},
    {"http", SUM_INCREASE(HTTP_SEL " }"), SUM_INCREASE(HTTP_SEL ", status=~\"5.*\" }"), NULL,
     NULL, NULL},
    {"nginx", SUM_INCREASE(NGINX_SEL " }"), SUM_INCREASE(NGINX_SEL ", status=~\"5.*\" }"),
     "canary!=\"\"", "canary=\"\"", NULL},
    {"contour", SUM_INCREASE(CONTOUR_SEL " }"),
     SUM_INCREASE(CONTOUR_SEL ", envoy_response_code=~\"5.*\" }"), "}}-canary_", "}}-primary_",
     NULL},
    {"gloo", SUM_INCREASE(GLOO_SEL " }"), SUM_INCREASE(GLOO_SEL ", envoy_response_code=~\"5.*\" }"),
     "-canaryupstream-", "-primaryupstream-", NULL},
    {"traefik", SUM_INCREASE(TRAEFIK_SEL " }"), SUM_INCREASE(TRAEFIK_SEL ", code=~\"5..\" }"),
     "}}-canary-", "}}-primary-", NULL},
    {"kuma", SUM_INCREASE(KUMA_SEL " }"), SUM_INCREASE(KUMA_SEL ", envoy_response_code=~\"5.*\" }"),
     "}}-canary_", "}}-primary_", NULL},
    {"osm", SUM_INCREASE(OSM_SEL " }"), SUM_INCREASE(OSM_SEL ", response_code=~\"5.*\" }"), NULL,
     NULL, NULL},
    {"skipper", CD_SKIPPER_ROUTE "\n" SUM_INCREASE(SKIPPER_SEL " }"),
     CD_SKIPPER_ROUTE "\n" SUM_INCREASE(SKIPPER_SEL ", code=~\"5..\" }"), "_canary(_",
     "_primary(_", NULL},
    {"statefulset", SUM_INCREASE(STS_SEL " }"), SUM_INCREASE(STS_SEL ", status=~\"5.*\" }"),
     "controller_revision_hash=\"", "controller_revision_hash!=\"", NULL},
    {"apisix", NULL, NULL, NULL, NULL,
     "APISIX's series label the canary's route, which serves both the primary and the canary "
     "backends: the primary's requests cannot be told from the canary's"},
    {"knative", NULL, NULL, NULL, NULL,
     "Knative's series (envoy_cluster_name=<namespace>/<route>) cover every revision of the "
     "service: the primary's requests cannot be told from the canary's"},
};

static const judged_row *row_of(const cd_observer *o)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strcmp(rows[i].observer, o->name))
            return &rows[i];
    return NULL;
}

bool cd_judged_side(const char *which, bool *primary, cd_err *err)
{
    if (which && !strcmp(which, "canary")) {
        *primary = false;
        return true;
    }
    if (which && !strcmp(which, "primary")) {
        *primary = true;
        return true;
    }
    cd_errfmt(err, "unknown side \"%s\" (canary or primary)", which ? which : "");
    return false;
}

char *cd_primary_target(const char *target)
{
    size_t n = strlen(target ? target : "") + sizeof "-primary";
    char *s = malloc(n);
    if (!s)
        abort();
    snprintf(s, n, "%s-primary", target ? target : "");
    return s;
}

/* tmpl with every `mark` replaced by `with`; NULL when mark is absent. */
static char *swap_mark(const char *tmpl, const char *mark, const char *with)
{
    size_t ml = strlen(mark), wl = strlen(with), count = 0;
    for (const char *p = strstr(tmpl, mark); p; p = strstr(p + ml, mark))
        count++;
    if (!count)
        return NULL;
    size_t n = strlen(tmpl) + count * wl + 1;
    char *out = malloc(n), *o = out;
    if (!out)
        abort();
    const char *p = tmpl;
    for (const char *q = strstr(p, mark); q; q = strstr(p, mark)) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, with, wl);
        o += wl;
        p = q + ml;
    }
    strcpy(o, p);
    return out;
}

char *cd_judged_builtin_query(const cd_observer *o, cd_judged_kind kind, bool primary,
                              const cd_template_model *m, cd_err *err)
{
    const judged_row *r = row_of(o);
    if (!r || r->refused) {
        cd_errfmt(err, "the statistical judge cannot compare the canary with the primary on %s's "
                       "builtin metrics: %s",
                  o->name, r ? r->refused : "no queries for this provider");
        return NULL;
    }
    const char *tmpl = kind == CD_JUDGED_REQUESTS   ? r->requests
                       : kind == CD_JUDGED_FAILURES ? r->failures
                                                    : o->duration;
    if (!primary)
        return cd_observer_render(o, tmpl, m, err);
    if (r->mark) {
        char *swapped = swap_mark(tmpl, r->mark, r->primary_mark);
        if (!swapped) {   /* a table mistake, caught by the tests */
            cd_errfmt(err, "internal error: %s's query has no \"%s\" to tell the primary by",
                      o->name, r->mark);
            return NULL;
        }
        char *q = cd_observer_render(o, swapped, m, err);
        free(swapped);
        return q;
    }
    cd_template_model pm = *m;
    char *target = cd_primary_target(m->target);
    pm.target = target;
    char *q = cd_observer_render(o, tmpl, &pm, err);
    free(target);
    return q;
}

void cd_judged_templates(const cd_observer *o, const char **requests, const char **failures,
                         const char **mark, const char **primary_mark, const char **refused)
{
    const judged_row *r = row_of(o);
    *requests = r ? r->requests : NULL;
    *failures = r ? r->failures : NULL;
    *mark = r ? r->mark : NULL;
    *primary_mark = r ? r->primary_mark : NULL;
    *refused = r ? r->refused : "no queries for this provider";
}
