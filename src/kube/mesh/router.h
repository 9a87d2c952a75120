/* router.h - traffic routing on Kubernetes: the Services every canary gets
 * (services.c, Flagger's KubernetesDefaultRouter) and one file per mesh or
 * ingress router behind a table of function pointers (appmesh_v1beta2.c,
 * gatewayapi.c, istio.c, kubernetes.c, nginx.c, contour.c, traefik.c,
 * skipper.c, smi.c, apisix.c, kuma.c, gloo.c, knative.c; routers.c lists them). Adding a router = one file with a
 * cdk_mesh_router and one line in routers.c. */
#ifndef CD_KUBE_MESH_ROUTER_H
#define CD_KUBE_MESH_ROUTER_H
#include "kube/platform.h"
#include "kube/workload/workload.h"  /* the target and its metadata */
#include "ports.h"

typedef struct cdk_mesh_router {
    const char *provider;           /* spec.provider / -mesh-provider value */
    /* App Mesh: the mesh objects must exist before the primary's pods */
    bool reconcile_first;
    /* Optional: refuses the canary before anything (Services, primary) is
     * written, e.g. a routing object someone else owns. */
    cd_rc (*precheck)(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
    /* Creates or updates the routing objects, keeping current weights (c:
     * the canary being ticked; a router may keep state in c->status, such
     * as session-affinity cookies, persisted by the next status write). */
    cd_rc (*reconcile)(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
    cd_rc (*get_routes)(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err);
    cd_rc (*set_routes)(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err);
    /* revertOnDeletion: undo what reconcile did to objects the user owns */
    cd_rc (*finalize)(cdk_ctx *x, cd_err *err);
} cdk_mesh_router;

extern const cdk_mesh_router cdk_router_appmesh_v1beta2, cdk_router_gatewayapi_v1,
    cdk_router_gatewayapi_v1beta1, cdk_router_istio, cdk_router_kubernetes;
extern const cdk_mesh_router cdk_router_nginx, cdk_router_contour, cdk_router_traefik,
    cdk_router_skipper, cdk_router_linkerd, cdk_router_smi_v1alpha1, cdk_router_smi_v1alpha2,
    cdk_router_smi_v1alpha3, cdk_router_osm, cdk_router_apisix, cdk_router_kuma, cdk_router_gloo,
    cdk_router_knative;

/* The router for a provider, or NULL with err naming what is supported. */
const cdk_mesh_router *cdk_router_find(const char *provider, cd_err *err);
/* Comma-separated providers canaryd kube routes (for messages and -h). */
const char *cdk_router_names(void);

/* The Services (services.c). */
cd_rc cdk_services_initialize(cdk_ctx *x, cd_err *err);   /* <svc>-canary, <svc>-primary */
cd_rc cdk_services_reconcile_apex(cdk_ctx *x, cd_err *err); /* <svc> -> primary */
/* revertOnDeletion: a user-owned apex Service selects the target again. */
cd_rc cdk_services_finalize(cdk_ctx *x, cd_err *err);

/* A StatefulSet target (no primary copy): <svc>-canary selects the pods at
 * canary_rev, <svc>-primary those at primary_rev (NULL: all), <svc> all. */
cd_rc cdk_services_statefulset(cdk_ctx *x, const char *canary_rev, const char *primary_rev,
                               cd_err *err);

/* A StatefulSet target under a mesh router (statefulset_mesh.c): can the
 * provider's router follow its partition? */
bool cdk_statefulset_mesh_supported(const char *provider);
typedef struct cdk_sts_mesh {
    cdk_ctx *x;
    cd_router_port partition;   /* statefulset.c's port, wrapped */
} cdk_sts_mesh;
/* Wraps the ports cdk_statefulset_ports filled so that x->router's weights
 * follow the updated share; m must outlive the ports. */
void cdk_statefulset_mesh_ports(cdk_sts_mesh *m, cd_workload_port *wp, cd_router_port *rp,
                                cdk_ctx *x);

/* The engine's router port: Services plus the canary's mesh router. */
void cdk_router_port(cd_router_port *p, cdk_ctx *x);

#endif
