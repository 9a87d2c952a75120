/* smi.c - the SMI TrafficSplit routers (Flagger's SmiRouter, Smiv1alpha2-
 * and Smiv1alpha3Router): `linkerd` and `smi:v1alpha1` write
 * split.smi-spec.io/v1alpha1, `smi:v1alpha2` and `osm` v1alpha2,
 * `smi:v1alpha3` v1alpha3; the same TrafficSplit <svc> in each, whose
 * backends' weights move the traffic. A canary asking for what a
 * TrafficSplit cannot express (mirroring, session affinity, A/B matches)
 * is refused with the reason on every tick. Objects are built by
 * smi_objects.c.
 *
 * Difference from Flagger, on purpose: bringing the TrafficSplit in line
 * keeps the weights it carries. Must not touch any other object. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <string.h>

static const struct {
    const cdk_mesh_router *router;
    const char *version;
} versions[] = {
    {&cdk_router_linkerd, "v1alpha1"},      {&cdk_router_smi_v1alpha1, "v1alpha1"},
    {&cdk_router_smi_v1alpha2, "v1alpha2"}, {&cdk_router_smi_v1alpha3, "v1alpha3"},
    {&cdk_router_osm, "v1alpha2"},
};

static const char *version_of(const cdk_ctx *x)
{
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        if (versions[i].router == x->router)
            return versions[i].version;
    return "v1alpha1";
}

static void resource(const cdk_ctx *x, cd_kube_resource *r)
{
    *r = (cd_kube_resource){CDK_SMI_GROUP, version_of(x), "trafficsplits", "TrafficSplit", true};
}

static void smi_in(const cdk_ctx *x, cdk_smi_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->ns = x->ns;
    in->svc = x->svc;
    in->provider = x->router->provider;
    in->version = version_of(x);
    in->owner_ref = x->owner_ref;
}

/* Before the Services and the primary: what the canary asks for that a
 * TrafficSplit cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_smi_in in;
    smi_in(x, &in);
    return cdk_smi_check(&in, err) ? CD_OK : CD_ERROR;
}

/* ---- reconcile ------------------------------------------------------------------ */

typedef struct reconcile_ud {
    const cdk_smi_in *in;
    bool updated;
} reconcile_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    int primary = 100, canary = 0;
    cd_err ignored;
    if (!cdk_smi_get_weights(live, u->in->svc, &primary, &canary, &ignored)) {
        primary = 100;   /* not ours yet (or edited by hand): start over */
        canary = 0;
    }
    json_t *want = cdk_smi_object(u->in, cdk_smi_spec(u->in, primary, canary));
    json_t *upd = cdk_smi_update(live, want);
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
    cdk_smi_in in;
    smi_in(x, &in);
    if (!cdk_smi_check(&in, err))
        return CD_ERROR;
    cd_kube_resource r;
    resource(x, &r);
    json_t *obj = cdk_smi_object(&in, cdk_smi_spec(&in, 100, 0));
    reconcile_ud ud = {&in, false};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &r, obj, bring_in_line, &ud, &created, &ke);
    json_decref(obj);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "TrafficSplit %s.%s reconcile error", x->svc, x->ns);
        return CD_ERROR;
    }
    if (created || ud.updated)
        cd_logf(CD_LOG_INFO, x->key, "TrafficSplit %s.%s %s", x->svc, x->ns,
                created ? "created" : "updated");
    return CD_OK;
}

/* ---- weights ---------------------------------------------------------------------- */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    cd_kube_resource r;
    resource(x, &r);
    json_t *ts = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &r, x->ns, x->svc, &ts, &ke)) {
        cdk_err_from_kube(err, &ke, "TrafficSplit %s.%s get query error", x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_smi_get_weights(ts, x->svc, primary, canary, err);
    json_decref(ts);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_smi_in *in;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *ts, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *spec = cdk_smi_spec(w->in, w->primary, w->canary);
    if (json_equal(spec, json_object_get(ts, "spec"))) {
        json_decref(spec);
        return 0;
    }
    json_object_set_new(ts, "spec", spec);
    return 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_smi_in in;
    smi_in(x, &in);
    if (!cdk_smi_check(&in, err))
        return CD_ERROR;
    cd_kube_resource r;
    resource(x, &r);
    weights_ud ud = {&in, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &r, x->ns, x->svc, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "TrafficSplit %s.%s update error", x->svc, x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the TrafficSplit with it (owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

#define SMI_ROUTER(var, name)                                                                  \
    const cdk_mesh_router var = {                                                             \
        .provider = name,                                                                     \
        .reconcile_first = false,                                                             \
        .precheck = precheck,                                                                 \
        .reconcile = reconcile,                                                               \
        .get_routes = get_routes,                                                             \
        .set_routes = set_routes,                                                             \
        .finalize = finalize,                                                                 \
    };

SMI_ROUTER(cdk_router_linkerd, "linkerd")
SMI_ROUTER(cdk_router_smi_v1alpha1, "smi:v1alpha1")
SMI_ROUTER(cdk_router_smi_v1alpha2, "smi:v1alpha2")
SMI_ROUTER(cdk_router_smi_v1alpha3, "smi:v1alpha3")
SMI_ROUTER(cdk_router_osm, "osm")
