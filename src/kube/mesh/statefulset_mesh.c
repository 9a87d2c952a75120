/* statefulset_mesh.c - a StatefulSet target under a mesh router
 * (docs/statefulset.md, "With a mesh"): wraps the partition's ports
 * (kube/workload/statefulset.c) so that the router's weights follow the
 * updated share. The Services select pods by controller-revision-hash:
 *
 *   <svc>-canary    the pods at status.updateRevision
 *   <svc>-primary   the pods at status.currentRevision, or every pod of
 *                   the set once the partition is 0 and currentRevision is
 *                   about to flip (promotion, a 100 % step): switched
 *                   before the partition is written, so that the primary
 *                   never selects a revision its last pods are leaving
 *   <svc>           every pod of the set
 *
 * The canary weight the router gets is min(engine weight, share of the
 * replicas that are ready at updateRevision), re-synced at every tick: a
 * step sends traffic to an ordinal only once it has been updated and is
 * ready, and the analysis of a step waits one interval after its weight
 * was raised (is_canary_ready). The engine's own weight stays the
 * partition's (get_routes). Only the routers of
 * cdk_statefulset_mesh_supported (istio, gatewayapi:v1 and v1beta1); an OnDelete set is
 * refused (its currentRevision never moves). Decides no partition. */
#include "kube/kjson.h"
#include "kube/mesh/router.h"
#include "kube/workload/builders.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

bool cdk_statefulset_mesh_supported(const char *provider)
{
    return provider && (!strcmp(provider, "istio") || !strcmp(provider, "gatewayapi:v1") ||
                        !strcmp(provider, "gatewayapi:v1beta1"));
}

static bool view_of(cdk_ctx *x, cdk_sts_view *v, cd_err *err)
{
    const json_t *t = cdk_target(x, err);
    if (!t)
        return false;
    cdk_sts_read(t, v);
    if (!v->rolling) {
        cd_errfmt(err, "statefulset %s.%s uses the OnDelete strategy: provider %s cannot route it "
                       "(its currentRevision never moves); use RollingUpdate or provider kubernetes",
                  x->target, x->ns, x->router->provider);
        return false;
    }
    return true;
}

/* The Services' selectors for the set as it is; flipping: the partition
 * is about to go to 0, the primary selects every pod. */
static cd_rc sync_services(cdk_ctx *x, bool flipping, cd_err *err)
{
    cdk_sts_view v;
    if (!view_of(x, &v, err))
        return CD_ERROR;
    bool same = v.current_rev && v.update_rev && !strcmp(v.current_rev, v.update_rev);
    const char *primary = flipping || (v.partition == 0 && !same) ? NULL : v.current_rev;
    /* the strings live in the target, which writing a Service does not drop */
    return cdk_services_statefulset(x, v.update_rev, primary, err);
}

/* Pods of the set that are at rev and ready (not being deleted). */
static int ready_at(cdk_ctx *x, const char *rev, cd_err *err)
{
    if (!cdk_target_metadata(x, err))
        return -1;
    char sel[900];
    snprintf(sel, sizeof sel, "%s=%s,controller-revision-hash=%s", x->label, x->value, rev);
    cd_kube_list_opts o = {.label_selector = sel};
    json_t *pods = NULL;
    cd_kube_err ke;
    if (!cd_kube_list(x->kc, &CD_KUBE_PODS, x->ns, &o, &pods, NULL, &ke)) {
        cdk_err_from_kube(err, &ke, "pods of statefulset %s.%s list query error", x->target, x->ns);
        return -1;
    }
    int n = 0;
    size_t i, k;
    json_t *p, *cond;
    json_array_foreach(pods, i, p) {
        if (kj_has(p, "metadata.deletionTimestamp"))
            continue;
        json_array_foreach(kj_at(p, "status.conditions"), k, cond)
            if (!strcmp(kj_str(cond, "type") ?: "", "Ready") &&
                !strcmp(kj_str(cond, "status") ?: "", "True"))
                n++;
    }
    json_decref(pods);
    return n;
}

/* The router's weights: the engine's canary weight, capped by the share of
 * replicas ready at updateRevision. */
static cd_rc push_weights(cdk_sts_mesh *m, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = m->x;
    int primary, canary;
    bool mirrored;
    cd_rc rc = m->partition.get_routes(m->partition.ctx, c, &primary, &canary, &mirrored, err);
    if (rc != CD_OK)
        return rc;
    cdk_sts_view v;
    if (!view_of(x, &v, err))
        return CD_ERROR;
    int want = canary;
    if (want > 0 && v.update_rev && v.replicas > 0) {
        int ready = ready_at(x, v.update_rev, err);
        if (ready < 0)
            return CD_ERROR;
        int share = ready >= v.replicas ? 100 : 100 * ready / v.replicas;
        if (share < want)
            want = share;
    }
    int mp, mc;
    rc = x->router->get_routes(x, c, &mp, &mc, &mirrored, err);
    if (rc != CD_OK)
        return rc;
    if (mc == want && mp == 100 - want)
        return CD_OK;
    if (want > mc)
        x->sts_weights_raised = true;   /* the analysis waits an interval (statefulset.c) */
    cd_logf(CD_LOG_INFO, x->key, "statefulset %s.%s: %s weights primary %d, canary %d (canary "
            "weight %d, updated share)", x->target, x->ns, x->router->provider, 100 - want, want,
            canary);
    return x->router->set_routes(x, c, 100 - want, want, false, err);
}

static cd_rc initialize_services(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_sts_mesh *m = ctx;
    if (m->x->router->precheck) {
        cd_rc rc = m->x->router->precheck(m->x, c, err);
        if (rc != CD_OK)
            return rc;
    }
    return sync_services(m->x, false, err);
}

static cd_rc reconcile_mesh(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_sts_mesh *m = ctx;
    cd_rc rc = m->x->router->reconcile(m->x, c, err);
    return rc == CD_OK ? push_weights(m, c, err) : rc;
}

static cd_rc get_routes(void *ctx, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    cdk_sts_mesh *m = ctx;
    return m->partition.get_routes(m->partition.ctx, c, primary, canary, mirrored, err);
}

static cd_rc set_routes(void *ctx, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_sts_mesh *m = ctx;
    cdk_sts_view v;
    if (!view_of(m->x, &v, err))
        return CD_ERROR;
    if (cdk_sts_partition_for(v.replicas, canary) == 0) {   /* currentRevision will flip */
        cd_rc rc = sync_services(m->x, true, err);
        if (rc != CD_OK)
            return rc;
    }
    cd_rc rc = m->partition.set_routes(m->partition.ctx, c, primary, canary, mirrored, err);
    return rc == CD_OK ? push_weights(m, c, err) : rc;
}

/* Promotion (partition 0): the primary selects every pod first. */
static cd_rc promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;   /* the workload port's context */
    cd_rc rc = sync_services(x, true, err);
    return rc == CD_OK ? cdk_statefulset_promote(x, c, err) : rc;
}

void cdk_statefulset_mesh_ports(cdk_sts_mesh *m, cd_workload_port *wp, cd_router_port *rp,
                                cdk_ctx *x)
{
    m->x = x;
    m->partition = *rp;
    wp->promote = promote;   /* ctx stays x */
    memset(rp, 0, sizeof *rp);
    rp->ctx = m;
    rp->initialize_services = initialize_services;
    rp->reconcile_mesh = reconcile_mesh;
    rp->get_routes = get_routes;
    rp->set_routes = set_routes;
}
