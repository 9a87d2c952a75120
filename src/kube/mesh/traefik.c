/* traefik.c - the `traefik` router (Flagger's TraefikRouter): keeps the
 * TraefikService <svc> (traefik.io/v1alpha1, a weighted round robin your
 * IngressRoute points at) in line with the canary and moves traffic by
 * rewriting the weights of <svc>-primary and <svc>-canary. A canary
 * asking for what that cannot express (mirroring, session affinity, A/B
 * matches) is refused with the reason on every tick. Objects are built by
 * traefik_objects.c.
 *
 * Difference from Flagger, on purpose: bringing the TraefikService in line
 * keeps the weights it carries. Must not touch any IngressRoute or any
 * TraefikService it did not name. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <string.h>

static const cd_kube_resource TRAEFIKSERVICES = {CDK_TRAEFIK_GROUP, "v1alpha1", "traefikservices",
                                                 "TraefikService", true};

static void traefik_in(const cdk_ctx *x, cdk_traefik_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->ns = x->ns;
    in->svc = x->svc;
    in->owner_ref = x->owner_ref;
}

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_traefik_check(x->spec, err) ? CD_OK : CD_ERROR;
}

/* ---- reconcile ------------------------------------------------------------------ */

typedef struct reconcile_ud {
    const cdk_traefik_in *in;
    bool updated;
} reconcile_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    int primary = 100, canary = 0;
    cd_err ignored;
    if (!cdk_traefik_get_weights(live, u->in->svc, &primary, &canary, &ignored)) {
        primary = 100;   /* not ours yet (or edited by hand): start over */
        canary = 0;
    }
    json_t *want = cdk_traefik_object(u->in, cdk_traefik_spec(u->in, primary, canary));
    json_t *upd = cdk_traefik_update(live, want);
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
    if (!cdk_traefik_check(x->spec, err))
        return CD_ERROR;
    cdk_traefik_in in;
    traefik_in(x, &in);
    json_t *obj = cdk_traefik_object(&in, cdk_traefik_spec(&in, 100, 0));
    reconcile_ud ud = {&in, false};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &TRAEFIKSERVICES, obj, bring_in_line, &ud, &created, &ke);
    json_decref(obj);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "TraefikService %s.%s reconcile error", x->svc, x->ns);
        return CD_ERROR;
    }
    if (created || ud.updated)
        cd_logf(CD_LOG_INFO, x->key, "TraefikService %s.%s %s", x->svc, x->ns,
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
    if (!cd_kube_get(x->kc, &TRAEFIKSERVICES, x->ns, x->svc, &proxy, &ke)) {
        cdk_err_from_kube(err, &ke, "TraefikService %s.%s get query error", x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_traefik_get_weights(proxy, x->svc, primary, canary, err);
    json_decref(proxy);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_traefik_in *in;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *proxy, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *spec = cdk_traefik_spec(w->in, w->primary, w->canary);
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
        cd_errfmt(err, "TraefikService %s.%s update failed: no valid weights", x->svc, x->ns);
        return CD_ERROR;
    }
    if (!cdk_traefik_check(x->spec, err))
        return CD_ERROR;
    cdk_traefik_in in;
    traefik_in(x, &in);
    weights_ud ud = {&in, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &TRAEFIKSERVICES, x->ns, x->svc, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "TraefikService %s.%s update error", x->svc, x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the TraefikService with it (owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_traefik = {
    .provider = "traefik",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
