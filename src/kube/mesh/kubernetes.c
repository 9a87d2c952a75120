/* kubernetes.c - provider `kubernetes`: blue/green with plain Services and
 * no traffic router (Flagger's NopRouter, reference §2.6). The apex Service
 * always selects the primary; the canary is tested through <svc>-canary.
 * Weights exist only in the analysis: (100, 0) before the first iteration,
 * (0, 100) after it. Never writes anything. */
#include "kube/mesh/router.h"

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    bool started = c->status->iterations > 0;
    *primary = started ? 0 : 100;
    *canary = started ? 100 : 0;
    *mirrored = false;
    return CD_OK;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    return CD_OK;
}

static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_kubernetes = {
    .provider = "kubernetes",
    .reconcile_first = false,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
