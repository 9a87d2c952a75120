/* deployment.c - what is particular to Deployment targets (reference §7.1):
 * readiness from the Deployment's conditions and replica counts, scaling
 * by spec.replicas (merge patches), and giving the target its replicas
 * back when a canary is deleted with revertOnDeletion. Must not touch
 * anything but the target's replicas. */
#include "kube/kjson.h"
#include "kube/workload/workload.h"
#include "util/log.h"
#include <stdio.h>

static cd_rc ready(cdk_ctx *x, const cd_canary_ref *c, const json_t *obj, int threshold, char *msg,
                   size_t n)
{
    return cdk_deployment_ready(obj, c->spec->progress_deadline_seconds, threshold, x->now_ms(), msg, n);
}

static cd_rc set_replicas(cdk_ctx *x, int replicas, cd_err *err)
{
    json_t *patch = json_pack("{s:{s:i}}", "spec", "replicas", replicas);
    cd_kube_err ke;
    bool ok = cdk_merge_patch(x, &CD_KUBE_DEPLOYMENTS, x->target, patch, &ke);
    json_decref(patch);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "scaling %s.%s to %d failed", x->target, x->ns, replicas);
        return CD_ERROR;
    }
    return CD_OK;
}

static cd_rc scale_to_zero(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cd_err probe = {{0}};
    const json_t *t = cdk_target(x, &probe);
    if (t && kj_has(t, "spec.replicas") && kj_int(t, "spec.replicas", 1) == 0)
        return CD_OK;
    return set_replicas(x, 0, err);
}

static bool read_scale_inputs(cdk_ctx *x, const cd_canary_ref *c, json_t **target, json_t **primary,
                              json_t **hpa, cd_err *err)
{
    cd_kube_err ke;
    *primary = *hpa = NULL;
    if (!cd_kube_get(x->kc, &CD_KUBE_DEPLOYMENTS, x->ns, x->target, target, &ke)) {
        cdk_err_from_kube(err, &ke, "deployment %s.%s get query error", x->target, x->ns);
        return false;
    }
    cdk_get_primary(x, primary, &ke);   /* optional */
    const cd_autoscaler_ref *ar = &c->spec->autoscaler_ref;
    if (ar->set && ar->ref.name && cdk_is_scaled_object(c)) {
        /* a ScaledObject's minReplicaCount counts as an HPA's minReplicas */
        json_t *so = NULL;
        if (cd_kube_get(x->kc, &CD_KUBE_SCALEDOBJECTS, x->ns, ar->ref.name, &so, &ke))
            *hpa = json_pack("{s:{s:O?}}", "spec", "minReplicas", kj_at(so, "spec.minReplicaCount"));
        json_decref(so);
    } else if (ar->set && ar->ref.name) {
        cd_kube_get(x->kc, &CD_KUBE_HPAS, x->ns, ar->ref.name, hpa, &ke);   /* optional */
    }
    return true;
}

static cd_rc scale_from_zero(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    json_t *target, *primary, *hpa;
    if (!read_scale_inputs(x, c, &target, &primary, &hpa, err))
        return CD_ERROR;
    int r = cdk_scale_up_replicas(target, primary, hpa, c->spec->autoscaler_ref.set);
    bool same = kj_int(target, "spec.replicas", -1) == r;
    json_decref(target);
    json_decref(primary);
    json_decref(hpa);
    return same ? CD_OK : set_replicas(x, r, err);
}

/* Flagger's Finalize: the primary's replicas (1 when unset), or a plain
 * scale-up when the primary is gone. */
static cd_rc restore(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    json_t *primary = NULL;
    cd_kube_err ke;
    if (!cdk_get_primary(x, &primary, &ke)) {
        if (!cd_kube_is_not_found(&ke)) {
            cdk_err_from_kube(err, &ke, "deployment %s-primary.%s get query error", x->target, x->ns);
            return CD_ERROR;
        }
        return scale_from_zero(x, c, err);
    }
    int r = (int)kj_int(primary, "spec.replicas", 1);
    json_decref(primary);
    return set_replicas(x, r, err);
}

const cdk_workload_ops cdk_deployment_ops = {
    .kind = "Deployment",
    .k = CDK_DEPLOYMENT,
    .resource = &CD_KUBE_DEPLOYMENTS,
    .word = "deployment",
    .autoscalers = true,
    .ready = ready,
    .scale_to_zero = scale_to_zero,
    .scale_from_zero = scale_from_zero,
    .restore = restore,
};
