/* routers.c - the table of mesh/ingress routers canaryd kube knows (one
 * line per router file) and the engine's router port built from the
 * Services (services.c) and the canary's router. Knows nothing about any
 * particular router. */
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const cdk_mesh_router *const routers[] = {
    &cdk_router_appmesh_v1beta2,
    &cdk_router_gatewayapi_v1,
    &cdk_router_gatewayapi_v1beta1,
    &cdk_router_istio,
    &cdk_router_kubernetes,
    &cdk_router_nginx,
    &cdk_router_contour,
    &cdk_router_traefik,
    &cdk_router_gloo,
    &cdk_router_skipper,
    &cdk_router_linkerd,
    &cdk_router_smi_v1alpha1,
    &cdk_router_smi_v1alpha2,
    &cdk_router_smi_v1alpha3,
    &cdk_router_osm,
    &cdk_router_apisix,
    &cdk_router_kuma,
    &cdk_router_knative,
};

static char router_names[512];

static void join_router_names(void)
{
    size_t off = 0;
    for (size_t i = 0; i < sizeof routers / sizeof routers[0]; i++) {
        int n = snprintf(router_names + off, sizeof router_names - off, "%s%s", i ? ", " : "",
                         routers[i]->provider);
        if (n < 0 || (size_t)n >= sizeof router_names - off)
            break;   /* cannot happen with this table; never overrun */
        off += (size_t)n;
    }
}

/* The providers of the table, in its order, for messages and --help. */
const char *cdk_router_names(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, join_router_names);
    return router_names;
}

const cdk_mesh_router *cdk_router_find(const char *provider, cd_err *err)
{
    const char *p = provider && *provider ? provider : "";
    for (size_t i = 0; i < sizeof routers / sizeof routers[0]; i++)
        if (!strcmp(routers[i]->provider, p))
            return routers[i];
    /* Flagger's smi:<version>:<target mesh> (the mesh only named an Istio
     * annotation): the version's router */
    static const cdk_mesh_router *const smi[] = {&cdk_router_smi_v1alpha1, &cdk_router_smi_v1alpha2,
                                                 &cdk_router_smi_v1alpha3};
    for (size_t i = 0; i < sizeof smi / sizeof smi[0]; i++) {
        size_t n = strlen(smi[i]->provider);
        if (!strncmp(p, smi[i]->provider, n) && p[n] == ':')
            return smi[i];
    }
    if (!strcmp(p, "appmesh"))
        cd_errfmt(err, "provider appmesh (App Mesh v1beta1) is not supported by canaryd kube: use "
                       "appmesh:v1beta2");
    else if (!strcmp(p, "gatewayapi"))
        cd_errfmt(err, "provider gatewayapi needs the API version: use gatewayapi:v1 (or "
                       "gatewayapi:v1beta1)");
    else
        cd_errfmt(err, "provider \"%s\" is not supported by canaryd kube (supported: %s)", p,
                  cdk_router_names());
    return NULL;
}

static cd_rc initialize_services(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    if (x->router->precheck) {
        cd_rc rc = x->router->precheck(x, c, err);
        if (rc != CD_OK)
            return rc;
    }
    return cdk_services_initialize(ctx, err);
}

static cd_rc reconcile_apex(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    return cdk_services_reconcile_apex(ctx, err);
}

static cd_rc reconcile_mesh(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    return x->router->reconcile(x, c, err);
}

static cd_rc get_routes(void *ctx, const cd_canary_ref *c, int *primary, int *canary, bool *mirrored,
                        cd_err *err)
{
    cdk_ctx *x = ctx;
    return x->router->get_routes(x, c, primary, canary, mirrored, err);
}

static cd_rc set_routes(void *ctx, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_ctx *x = ctx;
    return x->router->set_routes(x, c, primary, canary, mirrored, err);
}

void cdk_router_port(cd_router_port *p, cdk_ctx *x)
{
    memset(p, 0, sizeof *p);
    p->ctx = x;
    p->reconcile_mesh_first = x->router->reconcile_first;
    /* a Service target has no Services of canaryd's (Flagger's
     * KubernetesNoopRouter for kind Service) */
    bool service_target = x->wl && (x->wl->k == CDK_KNATIVE || x->wl->k == CDK_SERVICE);
    p->initialize_services = service_target ? NULL : initialize_services;
    p->reconcile_apex = service_target ? NULL : reconcile_apex;
    p->reconcile_mesh = reconcile_mesh;
    p->get_routes = get_routes;
    p->set_routes = set_routes;
}
