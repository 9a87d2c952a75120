/* appmesh_v1beta2.c - the `appmesh:v1beta2` router (reference §7.3): keeps
 * the VirtualNodes <svc>-primary and <svc>-canary, the VirtualRouters and
 * VirtualServices <svc> and <svc>-canary in line with the canary, and moves
 * traffic by rewriting the weights of the apex router's first route. The
 * objects come from appmesh_objects.c. Runs before the primary exists
 * (reconcile_first): App Mesh must know the nodes before their pods start.
 *
 * Differences from Flagger, on purpose: pod selectors use the target's
 * selector label value (Flagger assumes it equals the target's name), and
 * a VirtualService is created before its router, so that a failure between
 * the two cannot leave a router without its service for good. Must not
 * touch App Mesh objects it did not name (the Mesh, GatewayRoutes). */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

static void mesh_in(cdk_ctx *x, cdk_mesh_in *in)
{
    in->spec = x->spec;
    in->meta = &x->obj->meta;
    in->label = x->label;
    in->value = x->value;
    in->owner_ref = x->owner_ref;
}

typedef struct update_ud {
    const json_t *want;
    json_t *(*update)(const json_t *live, const json_t *want);
} update_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    update_ud *u = ud;
    json_t *upd = u->update(live, u->want);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static cd_rc apply_object(cdk_ctx *x, const cd_kube_resource *r, json_t *want,
                          json_t *(*update)(const json_t *, const json_t *), cd_err *err)
{
    update_ud ud = {want, update};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, r, want, bring_in_line, &ud, &created, &ke);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "%s %s.%s reconcile error", r->kind, cd_kobj_name(want), x->ns);
        return CD_ERROR;
    }
    if (created)
        cd_logf(CD_LOG_INFO, x->key, "%s %s.%s created", r->kind, cd_kobj_name(want), x->ns);
    return CD_OK;
}

static cd_rc reconcile_node(cdk_ctx *x, const char *name, const char *pod_value, cd_err *err)
{
    cdk_mesh_in in;
    mesh_in(x, &in);
    char host[600];
    snprintf(host, sizeof host, "%s.%s.svc.cluster.local.", name, x->ns);
    json_t *want = cdk_appmesh_virtual_node(&in, name, pod_value, host);
    cd_rc rc = apply_object(x, &CD_KUBE_APPMESH_VIRTUAL_NODES, want, cdk_appmesh_node_update, err);
    json_decref(want);
    return rc;
}

/* A router and its VirtualService; the service first (see the top). */
static cd_rc reconcile_router(cdk_ctx *x, const char *name, int canary_weight, cd_err *err)
{
    cdk_mesh_in in;
    mesh_in(x, &in);
    json_t *want = cdk_appmesh_virtual_router(&in, name, canary_weight);
    json_t *live = NULL;
    cd_kube_err ke;
    cd_rc rc = CD_OK;
    if (!cd_kube_get(x->kc, &CD_KUBE_APPMESH_VIRTUAL_ROUTERS, x->ns, name, &live, &ke)) {
        if (!cd_kube_is_not_found(&ke)) {
            cdk_err_from_kube(err, &ke, "VirtualRouter %s.%s get query error", name, x->ns);
            json_decref(want);
            return CD_ERROR;
        }
        json_t *vs = cdk_appmesh_virtual_service(&in, name, canary_weight == 0);
        if (cd_kube_create(x->kc, &CD_KUBE_APPMESH_VIRTUAL_SERVICES, x->ns, vs, NULL, &ke))
            cd_logf(CD_LOG_INFO, x->key, "VirtualService %s.%s created", name, x->ns);
        else if (!cd_kube_is_already_exists(&ke)) {
            cdk_err_from_kube(err, &ke, "VirtualService %s.%s create error", name, x->ns);
            rc = CD_ERROR;
        }
        json_decref(vs);
    }
    json_decref(live);
    if (rc == CD_OK)
        rc = apply_object(x, &CD_KUBE_APPMESH_VIRTUAL_ROUTERS, want, cdk_appmesh_router_update, err);
    json_decref(want);
    return rc;
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    if (!cdk_target_metadata(x, err))
        return CD_ERROR;
    char pnode[300], cnode[300], pvalue[300];
    snprintf(pnode, sizeof pnode, "%s-primary", x->svc);
    snprintf(cnode, sizeof cnode, "%s-canary", x->svc);
    snprintf(pvalue, sizeof pvalue, "%s-primary", x->value);
    cd_rc rc;
    if ((rc = reconcile_node(x, pnode, pvalue, err)) != CD_OK ||
        (rc = reconcile_node(x, cnode, x->value, err)) != CD_OK ||
        (rc = reconcile_router(x, x->svc, 0, err)) != CD_OK)
        return rc;
    return reconcile_router(x, cnode, 100, err);
}

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *mirrored = false;
    json_t *vr = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_APPMESH_VIRTUAL_ROUTERS, x->ns, x->svc, &vr, &ke)) {
        cdk_err_from_kube(err, &ke, "VirtualRouter %s get query error", x->svc);
        return CD_ERROR;
    }
    bool ok = cdk_appmesh_get_weights(vr, x->svc, primary, canary, err);
    json_decref(vr);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud { const char *svc; int primary, canary; } weights_ud;

static int set_weights(void *ud, json_t *vr, cd_kube_err *err)
{
    weights_ud *w = ud;
    if (!cdk_appmesh_set_weights(vr, w->svc, w->primary, w->canary)) {
        cd_kube_fail(err, CD_KR_INVALID, 0, "VirtualRouter %s has no route", w->svc);
        return -1;
    }
    return 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    (void)mirrored;   /* App Mesh has no mirroring */
    weights_ud ud = {x->svc, primary, canary};
    cd_kube_err ke;
    if (!cd_kube_update_retry(x->kc, &CD_KUBE_APPMESH_VIRTUAL_ROUTERS, x->ns, x->svc, false,
                              set_weights, &ud, NULL, &ke)) {
        cdk_err_from_kube(err, &ke, "VirtualRouter %s update error", x->svc);
        return CD_ERROR;
    }
    return CD_OK;
}

static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_appmesh_v1beta2 = {
    .provider = "appmesh:v1beta2",
    .reconcile_first = true,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
