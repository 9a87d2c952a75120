/* gatewayapi.c - the `gatewayapi:v1` and `gatewayapi:v1beta1` routers
 * (reference §7.4, Flagger's GatewayAPIRouter): keeps the HTTPRoute <svc>
 * attached to service.gatewayRefs in line with the canary and moves
 * traffic by rewriting its rules' backend weights. Before reading weights
 * it checks that every parent that reported status accepted the route's
 * current generation, and aborts the tick otherwise. The route itself is
 * built by gatewayapi_route.c and read by gatewayapi_live.c; the two
 * versions differ only in the API version they write (v1beta1 has no
 * timeouts and no CORS filter).
 *
 * Difference from Flagger, on purpose: bringing a route in line keeps the
 * weights (and mirror, cookies) it carries instead of resetting it to
 * 100/0 in the middle of an analysis. Must not touch Gateways or any route
 * it did not name. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

static const cd_kube_resource HTTPROUTES_V1 = {CDK_GATEWAY_GROUP, "v1", "httproutes", "HTTPRoute",
                                               true};
static const cd_kube_resource HTTPROUTES_V1BETA1 = {CDK_GATEWAY_GROUP, "v1beta1", "httproutes",
                                                    "HTTPRoute", true};

static bool is_v1beta1(const cdk_ctx *x) { return x->router == &cdk_router_gatewayapi_v1beta1; }

static const cd_kube_resource *resource(const cdk_ctx *x)
{
    return is_v1beta1(x) ? &HTTPROUTES_V1BETA1 : &HTTPROUTES_V1;
}

static void route_in(const cdk_ctx *x, cdk_route_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->meta = &x->obj->meta;
    in->owner_ref = x->owner_ref;
    in->v1beta1 = is_v1beta1(x);
}

/* ---- reconcile ------------------------------------------------------------------ */

typedef struct reconcile_ud {
    const cdk_route_in *in;
    const cd_canary_ref *c;
    const char *svc;
    bool updated;
    bool refused;       /* the canary asks for what Gateway API cannot express */
    cd_err why;
} reconcile_ud;

/* The live route brought in line, its current routing state kept. */
static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    int primary = 100, canary = 0;
    bool mirrored = false;
    cd_err err = {{0}};
    if (!cdk_httproute_get_weights(live, u->svc, u->in->spec->analysis.session_affinity.set,
                                   &primary, &canary, &mirrored, &err)) {
        primary = 100;   /* not ours yet (or edited by hand): start over */
        canary = 0;
        mirrored = false;
    }
    json_t *spec = cdk_httproute_spec(u->in, primary, canary, mirrored, u->c->status, &u->why);
    if (!spec) {
        u->refused = true;
        cd_kube_fail(kerr, CD_KR_INVALID, 0, "%s", u->why.msg);
        return -1;
    }
    json_t *want = cdk_httproute_object(u->in, spec);
    json_t *upd = cdk_httproute_update(live, want, u->in, u->c->status->phase);
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
    cdk_route_in in;
    route_in(x, &in);
    const cd_kube_resource *r = resource(x);
    reconcile_ud ud = {&in, c, x->svc, false, false, {{0}}};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, r, x->ns, x->svc, false, bring_in_line, &ud, NULL, &ke)) {
        if (ud.updated)
            cd_logf(CD_LOG_INFO, x->key, "HTTPRoute %s.%s updated", x->svc, x->ns);
        return CD_OK;
    }
    if (ud.refused) {
        *err = ud.why;
        return CD_ERROR;
    }
    if (!cd_kube_is_not_found(&ke)) {
        cdk_err_from_kube(err, &ke, "HTTPRoute %s.%s reconcile error", x->svc, x->ns);
        return CD_ERROR;
    }
    json_t *spec = cdk_httproute_spec(&in, 100, 0, false, c->status, err);
    if (!spec)
        return CD_ERROR;
    json_t *route = cdk_httproute_object(&in, spec);
    bool ok = cd_kube_create(x->kc, r, x->ns, route, NULL, &ke);
    json_decref(route);
    if (ok) {
        cd_logf(CD_LOG_INFO, x->key, "HTTPRoute %s.%s created", x->svc, x->ns);
        return CD_OK;
    }
    if (cd_kube_is_already_exists(&ke) &&   /* someone created it meanwhile */
        cd_kube_update_retry(x->kc, r, x->ns, x->svc, false, bring_in_line, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "HTTPRoute %s.%s create error", x->svc, x->ns);
    return CD_ERROR;
}

/* ---- weights ---------------------------------------------------------------------- */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    json_t *route = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, resource(x), x->ns, x->svc, &route, &ke)) {
        cdk_err_from_kube(err, &ke, "HTTPRoute %s.%s get error", x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_httproute_parents_ready(route, err) &&
              cdk_httproute_get_weights(route, x->svc, x->spec->analysis.session_affinity.set,
                                        primary, canary, mirrored, err);
    json_decref(route);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_route_in *in;
    const cd_canary_ref *c;
    int primary, canary;
    bool mirrored;
    bool refused;
    cd_err why;
} weights_ud;

static int set_weights(void *ud, json_t *route, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *spec = cdk_httproute_spec(w->in, w->primary, w->canary, w->mirrored, w->c->status,
                                      &w->why);
    if (!spec) {
        w->refused = true;
        cd_kube_fail(kerr, CD_KR_INVALID, 0, "%s", w->why.msg);
        return -1;
    }
    json_t *a = cdk_httproute_normalize(json_object_get(route, "spec"));
    json_t *b = cdk_httproute_normalize(spec);
    bool same = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (same) {
        json_decref(spec);
        return 0;
    }
    json_object_set_new(route, "spec", spec);
    return 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_route_in in;
    route_in(x, &in);
    weights_ud ud = {&in, c, primary, canary, mirrored, false, {{0}}};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, resource(x), x->ns, x->svc, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    if (ud.refused)
        *err = ud.why;
    else
        cdk_err_from_kube(err, &ke, "HTTPRoute %s.%s update error while setting weights", x->svc,
                          x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the route with it (owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_gatewayapi_v1 = {
    .provider = "gatewayapi:v1",
    .reconcile_first = false,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};

const cdk_mesh_router cdk_router_gatewayapi_v1beta1 = {
    .provider = "gatewayapi:v1beta1",
    .reconcile_first = false,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
