/* builders.h - the routing objects of a canary as pure functions: the
 * Kubernetes Services <svc>, <svc>-primary and <svc>-canary (reference
 * §7.1, Flagger's KubernetesDefaultRouter) and the App Mesh v1beta2
 * VirtualNodes, VirtualRouters and VirtualServices (§7.3), plus how an
 * existing object is brought in line and how weights are read and set.
 * Spec in, JSON out: no I/O, so each rule is unit-tested and every object
 * can be checked against the real CRD schemas. */
#ifndef CD_KUBE_ROUTER_BUILDERS_H
#define CD_KUBE_ROUTER_BUILDERS_H
#include "kube/workload/builders.h"
#include "model/canary.h"
#include "ports.h"
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
} cdk_svc_in;

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

#endif
