/* contour.c - the `contour` router (Flagger's ContourRouter): keeps the
 * HTTPProxy <svc> (no virtual host: the user's root HTTPProxy includes it)
 * in line with the canary and moves traffic by rewriting the weights of
 * <svc>-primary and <svc>-canary in its routes. A canary asking for what
 * the HTTPProxy cannot express (mirroring, session affinity, A/B matches
 * on anything but headers, a timeout or retry condition Contour refuses)
 * is refused with the reason on every tick. Objects are built by
 * contour_objects.c; reconcile and weights are weighted.c's.
 *
 * Difference from Flagger, on purpose: bringing the HTTPProxy in line
 * keeps the weights it carries instead of resetting them to 100/0 in the
 * middle of an analysis. Must not touch any HTTPProxy it did not name. */
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "kube/mesh/weighted.h"
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

static json_t *contour_spec(const cdk_ctx *x, int primary, int canary)
{
    cdk_contour_in in;
    contour_in(x, &in);
    return cdk_contour_spec(&in, primary, canary);
}

static json_t *contour_object(const cdk_ctx *x, json_t *spec)
{
    cdk_contour_in in;
    contour_in(x, &in);
    return cdk_contour_object(&in, spec);
}

static bool contour_weights(const cdk_ctx *x, const json_t *obj, int *primary, int *canary,
                            cd_err *err)
{
    return cdk_contour_get_weights(obj, x->svc, primary, canary, err);
}

static const cdk_weighted_kind HTTPPROXIES_KIND = {
    &HTTPPROXIES, cdk_contour_check, contour_spec, contour_object, cdk_contour_update, contour_weights,
};

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_weighted_precheck(&HTTPPROXIES_KIND, x, err);
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_weighted_reconcile(&HTTPPROXIES_KIND, x, err);
}

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    return cdk_weighted_get_routes(&HTTPPROXIES_KIND, x, primary, canary, mirrored, err);
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    return cdk_weighted_set_routes(&HTTPPROXIES_KIND, x, primary, canary, err);
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
