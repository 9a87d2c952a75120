/* contour.c - the `contour` router (Flagger's ContourRouter): keeps the
 * HTTPProxy <svc> (no virtual host: the user's root HTTPProxy includes it)
 * in line with the canary and moves traffic by rewriting the weights of
 * <svc>-primary and <svc>-canary in its routes. A canary asking for what
 * the HTTPProxy cannot express (mirroring, session affinity, A/B matches
 * on anything but headers, a timeout or retry condition Contour refuses)
 * is refused with the reason on every tick. Objects are built by
 * contour_objects.c.
 *
 * Difference from Flagger, on purpose: bringing the HTTPProxy in line
 * keeps the weights it carries instead of resetting them to 100/0 in the
 * middle of an analysis. Must not touch any HTTPProxy it did not name. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <string.h>

static const cd_kube_resource HTTPPROXIES = {CDK_CONTOUR_GROUP, "v1", "httpproxies", "HTTPProxy",
                                             true};

static void contour_in(const cdk_ctx *x, cdk_contour_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->ns = x->ns;
    in->svc = x->svc;
    in->ingress_class = x->set->ingress_class;
    in->owner_ref = x->owner_ref;
}

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_contour_check(x->spec, err) ? CD_OK : CD_ERROR;
}

/* ---- reconcile ------------------------------------------------------------------ */

typedef struct reconcile_ud {
    const cdk_contour_in *in;
    bool updated;
} reconcile_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    int primary = 100, canary = 0;
    cd_err ignored;
    if (!cdk_contour_get_weights(live, u->in->svc, &primary, &canary, &ignored)) {
        primary = 100;   /* not ours yet (or edited by hand): start over */
        canary = 0;
    }
    json_t *want = cdk_contour_object(u->in, cdk_contour_spec(u->in, primary, canary));
    json_t *upd = cdk_contour_update(live, want);
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
    if (!cdk_contour_check(x->spec, err))
        return CD_ERROR;
    cdk_contour_in in;
    contour_in(x, &in);
    json_t *obj = cdk_contour_object(&in, cdk_contour_spec(&in, 100, 0));
    reconcile_ud ud = {&in, false};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &HTTPPROXIES, obj, bring_in_line, &ud, &created, &ke);
    json_decref(obj);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "HTTPProxy %s.%s reconcile error", x->svc, x->ns);
        return CD_ERROR;
    }
    if (created || ud.updated)
        cd_logf(CD_LOG_INFO, x->key, "HTTPProxy %s.%s %s", x->svc, x->ns,
                created ? "created" : "updated");
    return CD_OK;
}

/* ---- weights ---------------------------------------------------------------------- */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    json_t *proxy = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &HTTPPROXIES, x->ns, x->svc, &proxy, &ke)) {
        cdk_err_from_kube(err, &ke, "HTTPProxy %s.%s get query error", x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_contour_get_weights(proxy, x->svc, primary, canary, err);
    json_decref(proxy);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_contour_in *in;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *proxy, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *spec = cdk_contour_spec(w->in, w->primary, w->canary);
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
        cd_errfmt(err, "HTTPProxy %s.%s update failed: no valid weights", x->svc, x->ns);
        return CD_ERROR;
    }
    if (!cdk_contour_check(x->spec, err))
        return CD_ERROR;
    cdk_contour_in in;
    contour_in(x, &in);
    weights_ud ud = {&in, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &HTTPPROXIES, x->ns, x->svc, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "HTTPProxy %s.%s update error", x->svc, x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the HTTPProxy with it (owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_contour = {
    .provider = "contour",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
