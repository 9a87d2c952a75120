/* knative.c - provider `knative` (Flagger's KnativeRouter; docs/knative.md):
 * the weights are the Knative Service's own spec.traffic, the latest
 * revision (the canary) and the revision named by the annotation
 * flagger.app/primary-revision (the primary). Works on the user's
 * Service only (annotation and spec.traffic, by merge patch); creates no
 * Service or routing object of its own. The target must be a Knative
 * Service (workload/knative.c). */
#include "kube/kjson.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>

/* Flagger's Reconcile: a Service without the annotation gets its latest
 * revision as the primary (a Canary created for a Service already split). */
static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    if (!cdk_knative_check(c->spec, err))
        return CD_ERROR;
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    if (cdk_knative_primary_revision(svc))
        return CD_OK;
    const char *rev = kj_str(svc, "status.latestCreatedRevisionName");
    if (!rev || !*rev) {
        cd_errfmt(err, "Knative Service %s.%s has no revision yet (status.latestCreatedRevisionName)",
                  x->target, x->ns);
        return CD_RETRY;
    }
    cd_rc rc = cdk_knative_patch(x, json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
                                              CDK_KNATIVE_PRIMARY_REVISION, rev),
                                 err);
    if (rc == CD_OK)
        cd_logf(CD_LOG_INFO, x->key, "Knative Service %s.%s updated", x->target, x->ns);
    return rc;
}

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    const char *rev = cdk_knative_primary_revision(svc);
    if (!rev) {
        cd_errfmt(err, "Knative Service %s.%s annotation not found", x->target, x->ns);
        return CD_ERROR;
    }
    char msg[256];
    if (!cdk_knative_routes(svc, rev, primary, canary, msg, sizeof msg)) {
        cd_errfmt(err, "Knative Service %s.%s %s", x->target, x->ns, msg);
        return CD_ERROR;
    }
    *mirrored = false;
    return CD_OK;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    const char *rev = cdk_knative_primary_revision(svc);
    if (!rev) {
        cd_errfmt(err, "Knative Service %s.%s annotation not found", x->target, x->ns);
        return CD_ERROR;
    }
    json_t *traffic = cdk_knative_traffic(rev, primary, canary);
    if (json_equal(traffic, kj_at(svc, "spec.traffic"))) {
        json_decref(traffic);
        return CD_OK;
    }
    return cdk_knative_patch(x, json_pack("{s:{s:o}}", "spec", "traffic", traffic), err);
}

/* revertOnDeletion: the annotation goes (as Flagger's) and so does the
 * split: Knative sends every request to the latest revision again. */
static cd_rc finalize(cdk_ctx *x, cd_err *err)
{
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    if (!cdk_knative_primary_revision(svc))
        return CD_OK;
    return cdk_knative_patch(x, json_pack("{s:{s:{s:n}}, s:{s:n}}", "metadata", "annotations",
                                          CDK_KNATIVE_PRIMARY_REVISION, "spec", "traffic"),
                             err);
}

const cdk_mesh_router cdk_router_knative = {
    .provider = "knative",
    .reconcile_first = false,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
