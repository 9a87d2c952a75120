/* traefik.c - the `traefik` router (Flagger's TraefikRouter): keeps the
 * TraefikService <svc> (traefik.io/v1alpha1, a weighted round robin your
 * IngressRoute points at) in line with the canary and moves traffic by
 * rewriting the weights of <svc>-primary and <svc>-canary. A canary
 * asking for what that cannot express (mirroring, session affinity, A/B
 * matches) is refused with the reason on every tick. Objects are built by
 * traefik_objects.c; reconcile and weights are weighted.c's.
 *
 * Difference from Flagger, on purpose: bringing the TraefikService in line
 * keeps the weights it carries. Must not touch any IngressRoute or any
 * TraefikService it did not name. */
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "kube/mesh/weighted.h"
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

static json_t *traefik_spec(const cdk_ctx *x, int primary, int canary)
{
    cdk_traefik_in in;
    traefik_in(x, &in);
    return cdk_traefik_spec(&in, primary, canary);
}

static json_t *traefik_object(const cdk_ctx *x, json_t *spec)
{
    cdk_traefik_in in;
    traefik_in(x, &in);
    return cdk_traefik_object(&in, spec);
}

static bool traefik_weights(const cdk_ctx *x, const json_t *obj, int *primary, int *canary,
                            cd_err *err)
{
    return cdk_traefik_get_weights(obj, x->svc, primary, canary, err);
}

static const cdk_weighted_kind TRAEFIKSERVICES_KIND = {
    &TRAEFIKSERVICES, cdk_traefik_check, traefik_spec, traefik_object, cdk_traefik_update, traefik_weights,
};

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_weighted_precheck(&TRAEFIKSERVICES_KIND, x, err);
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return cdk_weighted_reconcile(&TRAEFIKSERVICES_KIND, x, err);
}

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    return cdk_weighted_get_routes(&TRAEFIKSERVICES_KIND, x, primary, canary, mirrored, err);
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    return cdk_weighted_set_routes(&TRAEFIKSERVICES_KIND, x, primary, canary, err);
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
