/* gloo.c - the `gloo` router (Flagger's GlooRouter, Gloo Edge): keeps an
 * Upstream for each of <svc>-primary and <svc>-canary (named
 * <ns>-<svc>-<primary|canary>upstream-<port>, settings copied from
 * spec.upstreamRef) and the RouteTable <svc> (delegated to by the user's
 * VirtualService) in line with the canary, and moves traffic by rewriting
 * the weights of its two destinations. A canary asking for what the
 * RouteTable cannot express (mirroring, session affinity, A/B matches on
 * paths or hosts) is refused with the reason on every tick. Objects are
 * built by gloo_objects.c.
 *
 * Differences from Flagger, on purpose: bringing the RouteTable in line
 * keeps the weights it carries; an A/B test adds a route for the
 * requests that do not match (Flagger's table then has none, and Gloo
 * answers them 404). Must not touch any VirtualService, RouteTable or
 * Upstream it did not name. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "kube/mesh/weighted.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

static const cd_kube_resource ROUTETABLES = {CDK_GLOO_GATEWAY_GROUP, "v1", "routetables",
                                             "RouteTable", true};
static const cd_kube_resource UPSTREAMS = {CDK_GLOO_GROUP, "v1", "upstreams", "Upstream", true};

static void gloo_in(const cdk_ctx *x, cdk_gloo_in *in)
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
    return cdk_gloo_check(x->spec, err) ? CD_OK : CD_ERROR;
}

/* ---- Upstreams ------------------------------------------------------------------ */

/* The Upstream of spec.upstreamRef (*out NULL when none is named). */
static bool config_upstream(cdk_ctx *x, json_t **out, cd_err *err)
{
    *out = NULL;
    if (!x->spec->has_upstream_ref || !x->spec->upstream_ref.name)
        return true;
    const cd_object_ref *r = &x->spec->upstream_ref;
    const char *ns = r->namespace_ && *r->namespace_ ? r->namespace_ : x->ns;
    cd_kube_err ke;
    if (cd_kube_get(x->kc, &UPSTREAMS, ns, r->name, out, &ke))
        return true;
    cdk_err_from_kube(err, &ke, "config upstream %s.%s get query error", r->name, ns);
    return false;
}

static int upstream_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    json_t *upd = cdk_gloo_upstream_update(live, ud);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static bool reconcile_upstream(cdk_ctx *x, const cdk_gloo_in *in, bool canary, const json_t *config,
                               cd_err *err)
{
    char svc[300], name[400];
    snprintf(svc, sizeof svc, "%s-%s", x->svc, canary ? "canary" : "primary");
    cdk_gloo_upstream_name(in, canary, name, sizeof name);
    json_t *service = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_SERVICES, x->ns, svc, &service, &ke)) {
        cdk_err_from_kube(err, &ke, "service %s.%s get query error", svc, x->ns);
        return false;
    }
    json_t *obj = cdk_gloo_upstream(in, canary, kj_at(service, "spec.selector"), config);
    json_decref(service);
    bool created = false;
    bool ok = cdk_apply(x, &UPSTREAMS, obj, upstream_in_line, obj, &created, &ke);
    json_decref(obj);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "upstream %s.%s reconcile error", name, x->ns);
        return false;
    }
    if (created)
        cd_logf(CD_LOG_INFO, x->key, "Upstream %s.%s created", name, x->ns);
    return true;
}

/* ---- the RouteTable (weighted.c) ------------------------------------------------ */

static json_t *gloo_spec(const cdk_ctx *x, int primary, int canary)
{
    cdk_gloo_in in;
    gloo_in(x, &in);
    return cdk_gloo_spec(&in, primary, canary);
}

static json_t *gloo_object(const cdk_ctx *x, json_t *spec)
{
    cdk_gloo_in in;
    gloo_in(x, &in);
    return cdk_gloo_object(&in, spec);
}

static bool gloo_weights(const cdk_ctx *x, const json_t *rt, int *primary, int *canary, cd_err *err)
{
    cdk_gloo_in in;
    gloo_in(x, &in);
    return cdk_gloo_get_weights(rt, &in, primary, canary, err);
}

static const cdk_weighted_kind ROUTETABLE_KIND = {
    &ROUTETABLES, cdk_gloo_check, gloo_spec, gloo_object, cdk_gloo_update, gloo_weights,
};

/* ---- reconcile: the Upstreams, then the RouteTable -------------------------------- */

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    if (!cdk_gloo_check(x->spec, err))
        return CD_ERROR;
    cdk_gloo_in in;
    gloo_in(x, &in);
    json_t *config = NULL;
    if (!config_upstream(x, &config, err))
        return CD_ERROR;
    bool ok = reconcile_upstream(x, &in, false, config, err) &&
              reconcile_upstream(x, &in, true, config, err);
    json_decref(config);
    if (!ok)
        return CD_ERROR;
    return cdk_weighted_reconcile(&ROUTETABLE_KIND, x, err);
}

/* ---- weights ---------------------------------------------------------------------- */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    return cdk_weighted_get_routes(&ROUTETABLE_KIND, x, primary, canary, mirrored, err);
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    return cdk_weighted_set_routes(&ROUTETABLE_KIND, x, primary, canary, err);
}

/* Deleting the Canary deletes the RouteTable and Upstreams with it (owner
 * references). */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_gloo = {
    .provider = "gloo",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
