/* ingress.h - the routing objects of the ingress-controller routers as
 * pure functions: for provider `nginx` (Flagger's IngressRouter) the
 * canary Ingress <ingressRef>-canary copied from the user's Ingress and the
 * NGINX canary annotations that carry its weight or its A/B match; for
 * provider `contour` (Flagger's ContourRouter) the HTTPProxy <svc> with
 * its weighted services; for provider `traefik` (Flagger's TraefikRouter)
 * the TraefikService <svc>, a weighted round robin; for provider `skipper`
 * (Flagger's SkipperRouter) the canary Ingress <ingressRef>-canary routing
 * each path to both <svc>-primary and <svc>-canary, weighted by Skipper's
 * backend-weights annotation; for the SMI providers (`linkerd`,
 * `smi:v1alpha1` to `v1alpha3`, `osm`; Flagger's SmiRouter) the
 * TrafficSplit <svc>; for provider `apisix` (Flagger's ApisixRouter) the
 * ApisixRoute <routeRef>-<svc>-canary; for provider `kuma` (Flagger's
 * KumaRouter) the cluster-scoped TrafficRoute <svc>; for provider `gloo`
 * (Flagger's GlooRouter) the RouteTable <svc> and its two Upstreams; and
 * what a Canary asks for that each cannot do.
 * Spec in, JSON out: no I/O, so each rule is unit-tested and every object
 * is checked against the Ingress schema of a real API server. */
#ifndef CD_KUBE_MESH_INGRESS_H
#define CD_KUBE_MESH_INGRESS_H
#include "model/canary.h"
#include "ports.h"
#include <jansson.h>
#include <stdbool.h>

/* Flagger's -ingress-annotations-prefix default. */
#define CDK_NGINX_PREFIX "nginx.ingress.kubernetes.io"

typedef struct cdk_nginx_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service the user's Ingress routes to */
    const char *prefix;         /* annotations prefix; NULL: CDK_NGINX_PREFIX */
    const json_t *owner_ref;    /* the Canary's controller reference; may be NULL */
} cdk_nginx_in;

/* What analysis.match selects, in NGINX's terms (NULL: not set). */
typedef struct cdk_nginx_ab {
    const char *header, *value, *pattern;   /* canary-by-header(-value|-pattern) */
    const char *cookie;                     /* canary-by-cookie */
} cdk_nginx_ab;

/* False with err naming the field when the canary asks for what NGINX
 * canary annotations cannot express: analysis.mirror, sessionAffinity,
 * a match on anything but one header (exact or regex) and one cookie
 * (exact: its name). Fills *ab (pointers into spec) otherwise. */
bool cdk_nginx_check(const cd_canary_spec *spec, cdk_nginx_ab *ab, cd_err *err);

/* "<ingressRef>-canary" into out; false with err (naming provider) when
 * the name is missing or too long for an object name. */
bool cdk_ingress_canary_name(const char *provider, const cd_canary_spec *spec, char *out, size_t n,
                             cd_err *err);

/* The canary Ingress built from the user's Ingress `ingress`: its spec
 * with every rule path whose backend is the apex Service sent to
 * <svc>-canary, its labels, its annotations without the canary ones and
 * kubectl's last-applied-configuration, with Flux's reconcile disabled,
 * `canary: "true"` and `canary-weight: "0"`; owned by the Canary. NULL
 * with err when no path of the Ingress routes to the apex Service. */
json_t *cdk_nginx_canary_ingress(const cdk_nginx_in *in, const json_t *ingress, const char *name,
                                 cd_err *err);

/* The live canary Ingress with desired's spec when they differ (NULL when
 * nothing is to change); its annotations, which carry the weights, kept. */
json_t *cdk_nginx_update(const json_t *live, const json_t *desired);

/* The annotations of the canary Ingress for a canary weight (in place):
 * with analysis.match the A/B annotations while canary > 0, otherwise
 * canary-weight; canary 0 resets to `canary: "true"`, weight "0". */
void cdk_nginx_set_routes(json_t *ingress, const cdk_nginx_in *in, const cdk_nginx_ab *ab,
                          int canary);

/* Weights the canary Ingress carries: (0, 100) with analysis.match when an
 * A/B annotation is set, else (100 - w, w) for canary-weight w (0 when
 * absent). False with err when canary-weight is not a number in 0..100. */
bool cdk_nginx_get_routes(const json_t *ingress, const cdk_nginx_in *in, int *primary,
                          int *canary, cd_err *err);

/* ---- Contour HTTPProxy ------------------------------------------------------------- */

#define CDK_CONTOUR_GROUP "projectcontour.io"

typedef struct cdk_contour_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service name: the HTTPProxy's */
    const char *ingress_class;  /* -ingress-class: spec.ingressClassName; NULL/"": none */
    const json_t *owner_ref;    /* may be NULL */
} cdk_contour_in;

/* False with err naming the field when the canary asks for what Contour's
 * HTTPProxy (as Flagger drives it) cannot express: analysis.mirror,
 * sessionAffinity, an A/B match on anything but headers, a service.timeout
 * or retries.perTryTimeout Contour does not parse, a retries.retryOn
 * condition Contour does not know. */
bool cdk_contour_check(const cd_canary_spec *spec, cd_err *err);

/* The HTTPProxy's spec at (primary, canary): one route per analysis.match
 * entry (its headers as conditions, the weights given), then the route of
 * every request (prefix of service.match[0].uri, default "/"; the weights
 * given, or 100/0 in an A/B test); timeout and retry policies from
 * service.timeout and service.retries; each service setting Linkerd's
 * l5d-dst-override request header. Call cdk_contour_check first. */
json_t *cdk_contour_spec(const cdk_contour_in *in, int primary, int canary);
/* The HTTPProxy <svc> to create around spec (stolen): service.apex labels
 * and annotations with Flux's reconcile disabled, the owner reference. */
json_t *cdk_contour_object(const cdk_contour_in *in, json_t *spec);
/* The live HTTPProxy brought in line with desired (spec compared without
 * service weights, retry count default applied; labels and annotations
 * replaced by desired's), its weights kept; NULL when nothing changes. */
json_t *cdk_contour_update(const json_t *live, const json_t *desired);
/* Weights of <svc>-primary and <svc>-canary in the first route. False with
 * err when that route does not name both. */
bool cdk_contour_get_weights(const json_t *proxy, const char *svc, int *primary, int *canary,
                             cd_err *err);

/* ---- Traefik TraefikService ------------------------------------------------------- */

#define CDK_TRAEFIK_GROUP "traefik.io"

typedef struct cdk_traefik_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service name: the TraefikService's */
    const json_t *owner_ref;    /* may be NULL */
} cdk_traefik_in;

/* False with err naming the field when the canary asks for what Flagger's
 * weighted TraefikService cannot express: analysis.mirror,
 * sessionAffinity, analysis.match. */
bool cdk_traefik_check(const cd_canary_spec *spec, cd_err *err);
/* spec.weighted.services: <svc>-primary at primary, then <svc>-canary at
 * canary when canary > 0 (Flagger's shape), both on service.port. */
json_t *cdk_traefik_spec(const cdk_traefik_in *in, int primary, int canary);
/* The TraefikService <svc> around spec (stolen): service.apex labels and
 * annotations with Flux's reconcile disabled, the owner reference. */
json_t *cdk_traefik_object(const cdk_traefik_in *in, json_t *spec);
/* The live TraefikService with desired's spec, labels and annotations
 * when they differ (spec compared without weights); NULL otherwise. */
json_t *cdk_traefik_update(const json_t *live, const json_t *desired);
/* Weights of <svc>-primary and <svc>-canary (0 when absent). False with
 * err when <svc>-primary is not among the weighted services. */
bool cdk_traefik_get_weights(const json_t *ts, const char *svc, int *primary, int *canary,
                             cd_err *err);

/* ---- Skipper canary Ingress ------------------------------------------------------- */

#define CDK_SKIPPER_WEIGHTS "zalando.org/backend-weights"
#define CDK_SKIPPER_PREDICATE "zalando.org/skipper-predicate"

typedef struct cdk_skipper_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service the user's Ingress routes to */
    const json_t *owner_ref;    /* may be NULL */
} cdk_skipper_in;

/* False with err naming the field when the canary asks for what Skipper's
 * weighted canary Ingress cannot express: analysis.mirror,
 * sessionAffinity, analysis.match. */
bool cdk_skipper_check(const cd_canary_spec *spec, cd_err *err);
/* The canary Ingress `name` built from the user's Ingress: its spec with
 * every rule path to the apex Service sent to <svc>-primary and followed
 * by a copy sent to <svc>-canary; its labels and annotations (without
 * kubectl's last-applied-configuration), Flux's reconcile disabled, the
 * weights {primary: 100, canary: 0} and the predicate Weight(100); owned
 * by the Canary. NULL with err when no path routes to the apex Service. */
json_t *cdk_skipper_canary_ingress(const cdk_skipper_in *in, const json_t *ingress,
                                   const char *name, cd_err *err);
/* The live canary Ingress with desired's spec when they differ (NULL when
 * nothing is to change); its annotations, which carry the weights, kept. */
json_t *cdk_skipper_update(const json_t *live, const json_t *desired);
/* The weights annotation set to {primary, canary} (in place), and the
 * predicate annotation led by Weight(100), or by False() when canary is 0
 * (the canary Ingress then routes nothing and the user's serves all);
 * the user's own predicates kept after it. */
void cdk_skipper_set_routes(json_t *ingress, const cdk_skipper_in *in, int primary, int canary);
/* The weights of <svc>-primary and <svc>-canary in the weights annotation.
 * False with err when it is missing, not a JSON object of numbers, or
 * lacks either. */
bool cdk_skipper_get_routes(const json_t *ingress, const cdk_skipper_in *in, int *primary,
                            int *canary, cd_err *err);

/* ---- SMI TrafficSplit -------------------------------------------------------------- */

#define CDK_SMI_GROUP "split.smi-spec.io"

typedef struct cdk_smi_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service: the TrafficSplit's name */
    const char *provider;       /* for messages */
    const char *version;        /* v1alpha1 (weights as quantities), v1alpha2, v1alpha3 */
    const json_t *owner_ref;    /* may be NULL */
} cdk_smi_in;

/* False with err naming the field when the canary asks for what Flagger's
 * TrafficSplit cannot express: analysis.mirror, sessionAffinity,
 * analysis.match. */
bool cdk_smi_check(const cdk_smi_in *in, cd_err *err);
/* {service: service.hosts[0] or <svc>, backends: [<svc>-canary: canary,
 * <svc>-primary: primary]}; weights as strings (Kubernetes quantities) in
 * v1alpha1, numbers after. */
json_t *cdk_smi_spec(const cdk_smi_in *in, int primary, int canary);
/* The TrafficSplit <svc> around spec (stolen), owned by the Canary. */
json_t *cdk_smi_object(const cdk_smi_in *in, json_t *spec);
/* The live TrafficSplit with desired's spec when they differ other than in
 * weights; NULL otherwise. */
json_t *cdk_smi_update(const json_t *live, const json_t *desired);
/* Weights of <svc>-primary and <svc>-canary (numbers, or quantities such
 * as "100" or "500m"). False with err when neither has a weight above 0. */
bool cdk_smi_get_weights(const json_t *ts, const char *svc, int *primary, int *canary,
                         cd_err *err);

/* ---- APISIX ApisixRoute ------------------------------------------------------------ */

#define CDK_APISIX_GROUP "apisix.apache.org"

typedef struct cdk_apisix_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service the user's route sends to */
    const json_t *owner_ref;    /* may be NULL */
} cdk_apisix_in;

/* False with err naming the field when the canary asks for what Flagger's
 * APISIX canary route cannot express (analysis.mirror, sessionAffinity,
 * analysis.match), or names no spec.routeRef. */
bool cdk_apisix_check(const cd_canary_spec *spec, cd_err *err);
/* "<routeRef>-<svc>-canary" into out; false with err when too long. */
bool cdk_apisix_canary_name(const cdk_apisix_in *in, char *out, size_t n, cd_err *err);
/* The canary ApisixRoute `name` built from the user's route: its labels
 * and annotations, and of its http routes only the first with a backend
 * to the apex Service, at priority 10000, its backend renamed
 * <svc>-primary (weight 100) and followed by <svc>-canary (weight 0) on
 * the same port, resolve granularity and subset; owned by the Canary.
 * NULL with err when no http route sends to the apex Service, or when
 * that route has more than one backend. */
json_t *cdk_apisix_canary_route(const cdk_apisix_in *in, const json_t *route, const char *name,
                                cd_err *err);
/* The live canary route with desired's spec when they differ other than in
 * weights (the weights of svc's backends kept); NULL otherwise. */
json_t *cdk_apisix_update(const json_t *live, const json_t *desired, const char *svc);
/* The weights of <svc>-primary and <svc>-canary in the http route that
 * sends to <svc>-primary (in place); false when there is none. */
bool cdk_apisix_set_weights(json_t *route, const char *svc, int primary, int canary);
/* The weights of that http route. False with err when there is none or it
 * lacks either backend. */
bool cdk_apisix_get_weights(const json_t *route, const char *svc, int *primary, int *canary,
                            cd_err *err);

/* ---- Kuma TrafficRoute -------------------------------------------------------------- */

#define CDK_KUMA_GROUP "kuma.io"
#define CDK_KUMA_MESH_ANNOTATION "kuma.io/mesh"

typedef struct cdk_kuma_in {
    const cd_canary_spec *spec;
    const cd_object_meta *meta; /* the canary: namespace, kuma.io/mesh annotation */
    const char *svc;            /* the apex Service: the TrafficRoute's name */
} cdk_kuma_in;

/* False with err naming the field when the canary asks for what Flagger's
 * TrafficRoute cannot express: analysis.mirror, sessionAffinity,
 * analysis.match. */
bool cdk_kuma_check(const cd_canary_spec *spec, cd_err *err);
/* {sources: all services, destinations: <svc>_<ns>_svc_<port>, conf.split:
 * <svc>-primary_<ns>_svc_<port> at primary, <svc>-canary_... at canary}. */
json_t *cdk_kuma_spec(const cdk_kuma_in *in, int primary, int canary);
/* The cluster-scoped TrafficRoute <svc> around spec (stolen), in the mesh
 * of the canary's kuma.io/mesh annotation (default "default"), with
 * service.apex labels and annotations and Flux's reconcile disabled; no
 * owner reference (a namespaced Canary cannot own it). */
json_t *cdk_kuma_object(const cdk_kuma_in *in, json_t *spec);
/* The live TrafficRoute with desired's spec, labels and annotations when
 * they differ other than in weights (its weights kept); NULL otherwise. */
json_t *cdk_kuma_update(const json_t *live, const json_t *desired);
/* The weights of the primary's and the canary's split. False with err
 * when neither has a weight above 0. */
bool cdk_kuma_get_weights(const json_t *tr, const cdk_kuma_in *in, int *primary, int *canary,
                          cd_err *err);

/* ---- Gloo Edge RouteTable and Upstreams ------------------------------------------- */

#define CDK_GLOO_GROUP "gloo.solo.io"
#define CDK_GLOO_GATEWAY_GROUP "gateway.solo.io"

typedef struct cdk_gloo_in {
    const cd_canary_spec *spec;
    const char *ns;
    const char *svc;            /* the apex Service name: the RouteTable's */
    const json_t *owner_ref;    /* may be NULL */
} cdk_gloo_in;

/* False with err naming the field when the canary asks for what Gloo's
 * RouteTable (as canaryd drives it) cannot express: analysis.mirror,
 * sessionAffinity, an A/B match on uri, scheme, authority, port, source
 * labels or namespace, a method other than exact, a query parameter other
 * than exact or regex, a match entry matching nothing. */
bool cdk_gloo_check(const cd_canary_spec *spec, cd_err *err);
/* Flagger's Upstream name "<ns>-<svc>-<primary|canary>upstream-<port>". */
void cdk_gloo_upstream_name(const cdk_gloo_in *in, bool canary, char *out, size_t n);
/* The Upstream of <svc>-primary (canary false) or <svc>-canary: spec.kube
 * naming the Service, its namespace, service.port and the Service's pod
 * selector (selector: a JSON object, may be NULL); with config (the live
 * Upstream of spec.upstreamRef, may be NULL) its sslConfig,
 * circuitBreakers, connectionConfig, loadBalancerConfig, useHttp2, window
 * sizes and httpProxyHostname copied; owned by the Canary. */
json_t *cdk_gloo_upstream(const cdk_gloo_in *in, bool canary, const json_t *selector,
                          const json_t *config);
/* The live Upstream with desired's kube and copied fields when they differ
 * (the spec fields canaryd does not write are kept); NULL otherwise. */
json_t *cdk_gloo_upstream_update(const json_t *live, const json_t *desired);
/* The RouteTable's spec at (primary, canary): one route per
 * analysis.match entry (its headers, withoutHeaders, queryParams and
 * method as a matcher; the weights given), then the route of every other
 * request (no matcher; the weights given, or 100/0 in an A/B test); every
 * route inherits the parent's path matchers and sends to the two
 * Upstreams as weighted destinations. Call cdk_gloo_check first. */
json_t *cdk_gloo_spec(const cdk_gloo_in *in, int primary, int canary);
/* The RouteTable <svc> around spec (stolen): service.apex labels and
 * annotations with Flux's reconcile disabled, the owner reference. */
json_t *cdk_gloo_object(const cdk_gloo_in *in, json_t *spec);
/* The live RouteTable with desired's spec, labels and annotations when
 * they differ (spec compared without weights); NULL otherwise. */
json_t *cdk_gloo_update(const json_t *live, const json_t *desired);
/* Weights of the two Upstreams in the first route. False with err when
 * that route does not send to both. */
bool cdk_gloo_get_weights(const json_t *rt, const cdk_gloo_in *in, int *primary, int *canary,
                          cd_err *err);

#endif
