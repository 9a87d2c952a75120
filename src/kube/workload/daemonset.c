/* daemonset.c - what is particular to DaemonSet targets (reference §7.1):
 * readiness from the scheduled/updated/available counts with the canary's
 * progress deadline, and scaling to zero by a node selector no node has
 * (flagger.app/scale-to-zero: "true"), removed to scale back up. Must not
 * change the target's template otherwise. */
#include "kube/kjson.h"
#include "kube/workload/workload.h"
#include <stdio.h>

static cd_rc ready(cdk_ctx *x, const cd_canary_ref *c, const json_t *obj, int threshold, char *msg,
                   size_t n)
{
    return cdk_daemonset_ready(obj, c->spec->progress_deadline_seconds, threshold,
                               c->status->last_transition_ms, x->now_ms(), msg, n);
}

static cd_rc patch_selector(cdk_ctx *x, bool zero, cd_err *err)
{
    json_t *v = zero ? json_string("true") : json_null();
    json_t *patch = json_pack("{s:{s:{s:{s:{s:o}}}}}", "spec", "template", "spec", "nodeSelector",
                              CDK_SCALE_TO_ZERO_KEY, v);
    cd_kube_err ke;
    bool ok = cdk_merge_patch(x, &CD_KUBE_DAEMONSETS, x->target, patch, &ke);
    json_decref(patch);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "scaling %s daemonset %s.%s failed", zero ? "down" : "up",
                          x->target, x->ns);
        return CD_ERROR;
    }
    return CD_OK;
}

static bool has_zero_selector(cdk_ctx *x, cd_err *err)
{
    const json_t *t = cdk_target(x, err);
    json_t *ns = kj_at(t, "spec.template.spec.nodeSelector");
    return t && json_string_value(json_object_get(ns, CDK_SCALE_TO_ZERO_KEY)) != NULL;
}

static cd_rc scale_to_zero(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cd_err probe = {{0}};
    if (has_zero_selector(x, &probe))
        return CD_OK;
    return patch_selector(x, true, err);
}

static cd_rc scale_from_zero(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_target_forget(x);
    cd_err probe = {{0}};
    if (!has_zero_selector(x, &probe) && !probe.msg[0])
        return CD_OK;
    return patch_selector(x, false, err);
}

const cdk_workload_ops cdk_daemonset_ops = {
    .kind = "DaemonSet",
    .k = CDK_DAEMONSET,
    .resource = &CD_KUBE_DAEMONSETS,
    .word = "daemonset",
    .autoscalers = false,
    .ready = ready,
    .scale_to_zero = scale_to_zero,
    .scale_from_zero = scale_from_zero,
    .restore = scale_from_zero,
};
