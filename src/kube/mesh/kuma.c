/* kuma.c - the `kuma` router (Flagger's KumaRouter): keeps the
 * cluster-scoped TrafficRoute <svc> (kuma.io/v1alpha1, in the mesh of the
 * canary's kuma.io/mesh annotation) in line with the canary and moves
 * traffic by the weights of its split between the primary's and the
 * canary's Kuma services. As in Flagger it has no owner reference (a
 * namespaced Canary cannot own a cluster-scoped object), so it outlives
 * the Canary. A canary asking for what a TrafficRoute split cannot express
 * (mirroring, session affinity, A/B matches) is refused with the reason on
 * every tick. Objects are built by kuma_objects.c. Must not touch any
 * other TrafficRoute. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <string.h>

static const cd_kube_resource TRAFFICROUTES = {CDK_KUMA_GROUP, "v1alpha1", "trafficroutes",
                                               "TrafficRoute", false};

static void kuma_in(const cdk_ctx *x, cdk_kuma_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->meta = &x->obj->meta;
    in->svc = x->svc;
}

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_kuma_check(x->spec, err) ? CD_OK : CD_ERROR;
}

/* ---- reconcile ------------------------------------------------------------------ */

typedef struct reconcile_ud {
    const cdk_kuma_in *in;
    bool updated;
} reconcile_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    int primary = 100, canary = 0;
    cd_err ignored;
    if (!cdk_kuma_get_weights(live, u->in, &primary, &canary, &ignored)) {
        primary = 100;   /* not ours yet (or edited by hand): start over */
        canary = 0;
    }
    json_t *want = cdk_kuma_object(u->in, cdk_kuma_spec(u->in, primary, canary));
    json_t *upd = cdk_kuma_update(live, want);
    json_decref(want);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    u->updated = true;
    return 1;
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    if (!cdk_kuma_check(x->spec, err))
        return CD_ERROR;
    cdk_kuma_in in;
    kuma_in(x, &in);
    json_t *obj = cdk_kuma_object(&in, cdk_kuma_spec(&in, 100, 0));
    reconcile_ud ud = {&in, false};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &TRAFFICROUTES, obj, bring_in_line, &ud, &created, &ke);
    json_decref(obj);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "TrafficRoute %s reconcile error", x->svc);
        return CD_ERROR;
    }
    if (created || ud.updated)
        cd_logf(CD_LOG_INFO, x->key, "TrafficRoute %s %s", x->svc,
                created ? "created" : "updated");
    return CD_OK;
}

/* ---- weights ---------------------------------------------------------------------- */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    cdk_kuma_in in;
    kuma_in(x, &in);
    json_t *tr = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &TRAFFICROUTES, x->ns, x->svc, &tr, &ke)) {
        cdk_err_from_kube(err, &ke, "TrafficRoute %s get query error", x->svc);
        return CD_ERROR;
    }
    bool ok = cdk_kuma_get_weights(tr, &in, primary, canary, err);
    json_decref(tr);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_kuma_in *in;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *proxy, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *spec = cdk_kuma_spec(w->in, w->primary, w->canary);
    if (json_equal(spec, json_object_get(proxy, "spec"))) {
        json_decref(spec);
        return 0;
    }
    json_object_set_new(proxy, "spec", spec);
    json_object_del(proxy, "status");
    return 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    if (primary == 0 && canary == 0) {
        cd_errfmt(err, "TrafficRoute %s update failed: no valid weights", x->svc);
        return CD_ERROR;
    }
    if (!cdk_kuma_check(x->spec, err))
        return CD_ERROR;
    cdk_kuma_in in;
    kuma_in(x, &in);
    weights_ud ud = {&in, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &TRAFFICROUTES, x->ns, x->svc, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "TrafficRoute %s update error", x->svc);
    return CD_ERROR;
}

/* As in Flagger, the TrafficRoute is left in place (no owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_kuma = {
    .provider = "kuma",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
