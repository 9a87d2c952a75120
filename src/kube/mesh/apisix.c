/* apisix.c - the `apisix` router (Flagger's ApisixRouter): keeps the
 * ApisixRoute <routeRef>-<svc>-canary, a copy of the http route of the
 * user's ApisixRoute that sends to the apex Service, at top priority and
 * with weighted <svc>-primary and <svc>-canary backends, in line with it,
 * and moves traffic by those weights. A canary asking for what that cannot
 * express (mirroring, session affinity, A/B matches) is refused with the
 * reason on every tick. Objects are built by apisix_objects.c. Must not
 * write the user's ApisixRoute. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <string.h>

static const cd_kube_resource APISIXROUTES = {CDK_APISIX_GROUP, "v2", "apisixroutes", "ApisixRoute",
                                              true};

static bool prepare(cdk_ctx *x, cdk_apisix_in *in, char *name, size_t n, cd_err *err)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->ns = x->ns;
    in->svc = x->svc;
    in->owner_ref = x->owner_ref;
    return cdk_apisix_check(x->spec, err) && cdk_apisix_canary_name(in, name, n, err);
}

/* Before the Services and the primary: what the canary asks for that the
 * canary route cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_apisix_in in;
    char name[300];
    return prepare(x, &in, name, sizeof name, err) ? CD_OK : CD_ERROR;
}

typedef struct reconcile_ud {
    const json_t *want;
    const char *svc;
} reconcile_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    json_t *upd = cdk_apisix_update(live, u->want, u->svc);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_apisix_in in;
    char name[300];
    if (!prepare(x, &in, name, sizeof name, err))
        return CD_ERROR;
    const char *ref = x->spec->route_ref.name;
    json_t *user = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &APISIXROUTES, x->ns, ref, &user, &ke)) {
        cdk_err_from_kube(err, &ke, "APISIX route %s.%s get query error", ref, x->ns);
        return CD_ERROR;
    }
    json_t *want = cdk_apisix_canary_route(&in, user, name, err);
    json_decref(user);
    if (!want)
        return CD_ERROR;
    reconcile_ud ud = {want, x->svc};
    bool created = false;
    bool ok = cdk_apply(x, &APISIXROUTES, want, bring_in_line, &ud, &created, &ke);
    json_decref(want);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "APISIX route %s.%s reconcile error", name, x->ns);
        return CD_ERROR;
    }
    if (created)
        cd_logf(CD_LOG_INFO, x->key, "APISIX route %s.%s created", name, x->ns);
    return CD_OK;
}

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    cdk_apisix_in in;
    char name[300];
    if (!prepare(x, &in, name, sizeof name, err))
        return CD_ERROR;
    json_t *route = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &APISIXROUTES, x->ns, name, &route, &ke)) {
        cdk_err_from_kube(err, &ke, "apisix route %s.%s query error", name, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_apisix_get_weights(route, x->svc, primary, canary, err);
    json_decref(route);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const char *svc;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *route, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *before = json_deep_copy(json_object_get(route, "spec"));
    if (!cdk_apisix_set_weights(route, w->svc, w->primary, w->canary)) {
        json_decref(before);
        cd_kube_fail(kerr, CD_KR_INVALID, 0, "no http route sends to %s-primary", w->svc);
        return -1;
    }
    bool same = json_equal(before, json_object_get(route, "spec"));
    json_decref(before);
    return same ? 0 : 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_apisix_in in;
    char name[300];
    if (!prepare(x, &in, name, sizeof name, err))
        return CD_ERROR;
    if (primary == 0 && canary == 0) {
        cd_errfmt(err, "APISIX route %s.%s update failed: no valid weights", name, x->ns);
        return CD_ERROR;
    }
    weights_ud ud = {x->svc, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &APISIXROUTES, x->ns, name, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "apisix route %s.%s update error", name, x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the canary route with it (owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_apisix = {
    .provider = "apisix",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
