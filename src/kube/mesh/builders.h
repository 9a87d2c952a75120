/* builders.h - the routing objects of a canary as pure functions: the
 * Kubernetes Services <svc>, <svc>-primary and <svc>-canary (reference
 * §7.1, Flagger's KubernetesDefaultRouter), the App Mesh v1beta2
 * VirtualNodes, VirtualRouters and VirtualServices (§7.3) and the Gateway
 * API HTTPRoute (§7.4), plus how an existing object is brought in line and
 * how weights are read and set.
 * Spec in, JSON out: no I/O, so each rule is unit-tested and every object
 * can be checked against the real CRD schemas. */
#ifndef CD_KUBE_MESH_BUILDERS_H
#define CD_KUBE_MESH_BUILDERS_H
#include "kube/workload/builders.h"
#include "model/canary.h"
#include "util/err.h"
#include <jansson.h>

/* ---- Services ------------------------------------------------------------ */

typedef struct cdk_svc_in {
    const cd_canary_spec *spec;
    const char *ns, *name;
    const char *label, *selector_value;   /* pods selected: {label: selector_value} */
    const cd_metadata *md;                /* service.apex/primary/canary; NULL when unset */
    const cdk_port *ports;                /* discovered ports (portDiscovery) */
    size_t nports;
    const json_t *owner_ref;              /* the Canary's controller reference */
    const char *revision;                 /* StatefulSet: also controller-revision-hash (or NULL) */
} cdk_svc_in;

/* The annotations of a routing object canaryd writes: md's (NULL: none)
 * without Flux's toolkit ones, and Flux's reconcile and drift detection
 * disabled. */
json_t *cdk_router_annotations(const cd_metadata *md);

/* The Service to create. */
json_t *cdk_service_build(const cdk_svc_in *in);
/* The live Service brought in line (ports and selector; labels and
 * annotations only when the canary named canary_name owns it, keeping the
 * service.unmanagedMetadata keys as they are), or NULL when nothing is to
 * change. */
json_t *cdk_service_update(const json_t *live, const cdk_svc_in *in, const char *canary_name);

/* ---- App Mesh v1beta2 ------------------------------------------------------- */

#define CDK_APPMESH_ACCESSLOG "appmesh.flagger.app/accesslog"

typedef struct cdk_mesh_in {
    const cd_canary_spec *spec;
    const cd_object_meta *meta;      /* the canary (namespace, annotations) */
    const char *label, *value;       /* the target's selector label and value */
    const json_t *owner_ref;
} cdk_mesh_in;

/* VirtualNode `name` for the pods labelled {label: pod_value}, reached at
 * host (an FQDN with a trailing dot). */
json_t *cdk_appmesh_virtual_node(const cdk_mesh_in *in, const char *name, const char *pod_value,
                                 const char *host);
/* VirtualRouter `name` whose route sends canary_weight to <svc>-canary
 * (A/B header routes on the apex router, i.e. weight 0, when
 * analysis.match is set). */
json_t *cdk_appmesh_virtual_router(const cdk_mesh_in *in, const char *name, int canary_weight);
/* VirtualService `name` provided by the router of the same name; the apex
 * one carries the App Mesh gateway annotations when service.hosts is set. */
json_t *cdk_appmesh_virtual_service(const cdk_mesh_in *in, const char *name, bool apex);

/* The live object brought in line with desired, keeping what App Mesh's
 * controller owns (awsName, meshRef) and, for routers, the current route
 * weights; NULL when nothing is to change. */
json_t *cdk_appmesh_node_update(const json_t *live, const json_t *desired);
json_t *cdk_appmesh_router_update(const json_t *live, const json_t *desired);

/* Weights of the first route of the apex router (exactly two weighted
 * targets). False with err otherwise, or when both weights are 0. */
bool cdk_appmesh_get_weights(const json_t *vr, const char *svc, int *primary, int *canary,
                             cd_err *err);
/* Sets the first route's targets to [<svc>-canary: canary, <svc>-primary:
 * primary] (in place); false when the router has no route. */
bool cdk_appmesh_set_weights(json_t *vr, const char *svc, int primary, int canary);

/* ---- Gateway API HTTPRoute -------------------------------------------------- */

#define CDK_GATEWAY_GROUP "gateway.networking.k8s.io"

typedef struct cdk_route_in {
    const cd_canary_spec *spec;
    const cd_object_meta *meta;      /* the canary (namespace) */
    const json_t *owner_ref;         /* may be NULL */
    bool v1beta1;                    /* gatewayapi:v1beta1: no timeouts, no CORS filter */
    /* Fills out[0..n-1] with random ASCII letters (session cookie values);
     * NULL: OpenSSL's RAND_bytes. Tests make it deterministic. */
    bool (*random_letters)(char *out, size_t n);
} cdk_route_in;

/* The HTTPRoute's spec for a routing state: parentRefs from
 * service.gatewayRefs, hostnames from service.hosts, the weighted rule to
 * <svc>-primary and <svc>-canary (matches, filters, timeouts from the
 * service), a RequestMirror filter to <svc>-canary when mirrored, the
 * session-affinity rules, the A/B rules of analysis.match. With
 * session affinity it sets, moves or clears the cookies in *st (the
 * canary's status, persisted by the next status write). NULL with err
 * when the canary asks for something Gateway API cannot express (err says
 * what); *st is then unchanged. */
json_t *cdk_httproute_spec(const cdk_route_in *in, int primary, int canary, bool mirrored,
                           cd_canary_status *st, cd_err *err);
/* The HTTPRoute <svc> to create around spec (stolen): service.apex labels
 * and annotations, the Flux opt-out annotations, the owner reference. */
json_t *cdk_httproute_object(const cdk_route_in *in, json_t *spec);
/* The live route brought in line with desired (an object from
 * cdk_httproute_object): spec compared as the API server stores it
 * (defaults applied, empty lists equal to absent ones), ignoring backend
 * weights, and with session affinity the sticky-cookie rules and backend
 * filters, and with analysis.mirror during phase Waiting, Progressing or
 * WaitingPromotion the rule filters; labels replaced by desired's;
 * annotations desired's plus the live ones other controllers set. NULL
 * when nothing is to change. */
json_t *cdk_httproute_update(const json_t *live, const json_t *desired, const cdk_route_in *in,
                             cd_phase phase);
/* A copy of an HTTPRoute spec with the CRD's defaults applied and empty
 * lists dropped (what the API server would store, for comparisons). */
json_t *cdk_httproute_normalize(const json_t *spec);

/* False with err ("HTTPRoute <svc>.<ns> parent <name> is not ready ...")
 * when a parent that reported status has an Accepted condition that is
 * not True or was observed for an older generation of the route. */
bool cdk_httproute_parents_ready(const json_t *route, cd_err *err);
/* Weights of the rule sending traffic to <svc>-primary and <svc>-canary
 * (with session affinity: the one whose backends carry filters), and
 * whether a rule mirrors requests to <svc>-canary. False with err when no
 * rule routes to both. */
bool cdk_httproute_get_weights(const json_t *route, const char *svc, bool session_affinity,
                               int *primary, int *canary, bool *mirrored, cd_err *err);

/* The Cookie header regex canaryd matches a session cookie "<name>=<value>"
 * with: `.*<name>.*<value>.*`, regex metacharacters escaped. */
void cdk_cookie_regex(const char *cookie, char *out, size_t outlen);

/* A Go duration (service.timeout) as a Gateway API Duration (GEP-2257:
 * "1h30m", "1s500ms"): kept as written when it is one already. False when
 * s is no duration or does not fit (negative, more than 99999 hours). */
bool cdk_gateway_duration(const char *s, char *out, size_t outlen, int64_t *ms);

/* ---- Istio VirtualService and DestinationRules (istio_objects.c) ------------------ */

#define CDK_ISTIO_GROUP "networking.istio.io"
/* Where the spec of a VirtualService the user wrote is kept when canaryd
 * takes it over (Flagger's annotation, so either restores it). */
#define CDK_ISTIO_ORIGINAL "flagger.kubernetes.io/original-configuration"
#define CDK_KUBECTL_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

typedef struct cdk_istio_in {
    const cd_canary_spec *spec;
    const cd_object_meta *meta;      /* the canary (namespace, uid) */
    /* the canary's spec as JSON in Flagger's field names (cd_object_to_json):
     * service.match, retries, corsPolicy, headers and analysis.match are
     * Istio's own types there, so they are copied as they are */
    const json_t *spec_json;
    const json_t *owner_ref;         /* may be NULL */
    /* session cookie letters; NULL: OpenSSL's RAND_bytes */
    bool (*random_letters)(char *out, size_t n);
} cdk_istio_in;

/* What Istio cannot be given (service.delegation with hosts or gateways, a
 * session affinity with A/B matches, ...): false with err naming the field. */
bool cdk_istio_check(const cdk_istio_in *in, cd_err *err);
/* The VirtualService spec for a routing state (Flagger's SetRoutes): the
 * weighted route to <svc>-primary and <svc>-canary (TCP when
 * service.appProtocol is tcp), the mirror to <svc>-canary when mirrored,
 * the A/B routes of analysis.match, the session-affinity routes (cookies
 * set, moved or cleared in *st, unchanged on failure). NULL with err. */
json_t *cdk_istio_vs_spec(const cdk_istio_in *in, int primary, int canary, bool mirrored,
                          cd_canary_status *st, cd_err *err);
/* The VirtualService <svc> around spec (stolen): apex labels and
 * annotations, owner reference. */
json_t *cdk_istio_vs_object(const cdk_istio_in *in, json_t *spec);
/* The DestinationRule `host` (host = name, service.trafficPolicy). */
json_t *cdk_istio_dr_object(const cdk_istio_in *in, const char *host);
/* The live DestinationRule with desired's spec; NULL when equal. */
json_t *cdk_istio_dr_update(const json_t *live, const json_t *desired);
/* True when the canary may write the live VirtualService: it is the
 * canary's (controller reference to its uid), or it carries the original
 * configuration of a taken-over one, or revertOnDeletion lets canaryd take
 * it over. False with err ("... is not owned by canary ...") otherwise. */
bool cdk_istio_vs_writable(const json_t *live, const cdk_istio_in *in, cd_err *err);
/* The Gateway spec.service.gateways[i] names, as Istio reads a
 * VirtualService's gateways: "<ns>/<name>", "<name>.<ns>[.svc...]" (the
 * older FQDN form), or "<name>" in the canary's namespace. false for
 * "mesh" (the sidecars, no object) and for a name that fits nowhere. */
bool cdk_istio_gateway_ref(const cdk_istio_in *in, size_t i, char *ns, size_t ns_len, char *name,
                           size_t name_len);
/* The live VirtualService brought in line with desired (an object from
 * cdk_istio_vs_object): specs compared ignoring weights, mirrors and, with
 * session affinity, the sticky routes and destination headers; labels
 * desired's (service.unmanagedMetadata keys kept as they are live),
 * annotations desired's plus the live ones others set; the live spec kept
 * in CDK_ISTIO_ORIGINAL the first time canaryd changes a VirtualService it
 * did not create (and no kubectl last-applied annotation has it). NULL
 * when nothing is to change. */
json_t *cdk_istio_vs_update(const json_t *live, const json_t *desired, const cdk_istio_in *in);
/* Weights of the route to <svc>-primary and <svc>-canary (Flagger's
 * GetRoutes). False with err when both are 0. */
bool cdk_istio_get_weights(const json_t *vs, const char *svc, bool tcp, bool session_affinity,
                           int *primary, int *canary, bool *mirrored, cd_err *err);
/* The spec the user had before canaryd took the VirtualService over (from
 * kubectl's last-applied annotation or CDK_ISTIO_ORIGINAL), a new
 * reference in *out; *out NULL when there is none. False with err when the
 * annotation is not JSON. */
bool cdk_istio_original_spec(const json_t *vs, json_t **out, cd_err *err);

#endif
