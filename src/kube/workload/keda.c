/* keda.c - autoscalerRef to a KEDA ScaledObject (keda.sh/v1alpha1; Flagger's
 * ScaledObjectReconciler, docs/kubernetes.md): the primary's ScaledObject
 * <so>-primary created from the canary's (scaledobject.c builds it) and
 * brought in line with it, and the canary's ScaledObject paused at 0
 * replicas (annotation autoscaling.keda.sh/paused-replicas) while the
 * canary is scaled to zero, resumed before it runs again. Writes the
 * primary ScaledObject (create, read-modify-write) and only that
 * annotation of the user's; deletes nothing. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

typedef struct so_ud { const json_t *want; bool init; } so_ud;

static int so_mutate(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    so_ud *u = ud;
    return !u->init && cdk_scaled_object_update(live, u->want) ? 1 : 0;
}

static const char *so_name(const cd_canary_ref *c)
{
    return c->spec->autoscaler_ref.ref.name ? c->spec->autoscaler_ref.ref.name : "";
}

cd_rc cdk_keda_reconcile(cdk_ctx *x, const cd_canary_ref *c, bool init, cd_err *err)
{
    json_t *so = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_SCALEDOBJECTS, x->ns, so_name(c), &so, &ke)) {
        cdk_err_from_kube(err, &ke, "Keda ScaledObject %s.%s get query error", so_name(c), x->ns);
        return CD_ERROR;
    }
    json_t *want = cdk_primary_scaled_object(so, x->target, &c->spec->autoscaler_ref, x->owner_ref);
    json_decref(so);
    so_ud ud = {want, init};
    bool created = false;
    bool ok = cdk_apply(x, &CD_KUBE_SCALEDOBJECTS, want, so_mutate, &ud, &created, &ke);
    if (ok && created)
        cd_logf(CD_LOG_INFO, x->key, "Keda ScaledObject %s.%s created", cd_kobj_name(want), x->ns);
    if (!ok)
        cdk_err_from_kube(err, &ke, "reconciling Keda ScaledObject %s.%s failed", cd_kobj_name(want),
                          x->ns);
    json_decref(want);
    return ok ? CD_OK : CD_ERROR;
}

/* value "0" pauses, NULL resumes */
static cd_rc set_paused(cdk_ctx *x, const cd_canary_ref *c, const char *value, cd_err *err)
{
    json_t *so = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_SCALEDOBJECTS, x->ns, so_name(c), &so, &ke)) {
        cdk_err_from_kube(err, &ke, "Keda ScaledObject %s.%s get query error", so_name(c), x->ns);
        return CD_ERROR;
    }
    const char *now = json_string_value(
        json_object_get(kj_at(so, "metadata.annotations"), CDK_KEDA_PAUSED_REPLICAS));
    bool same = value ? now && !strcmp(now, value) : !now;
    json_decref(so);
    if (same)
        return CD_OK;
    json_t *patch = json_pack("{s:{s:{s:o}}}", "metadata", "annotations", CDK_KEDA_PAUSED_REPLICAS,
                              value ? json_string(value) : json_null());
    bool ok = cdk_merge_patch(x, &CD_KUBE_SCALEDOBJECTS, so_name(c), patch, &ke);
    json_decref(patch);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "Keda ScaledObject %s.%s update query error", so_name(c), x->ns);
        return CD_ERROR;
    }
    return CD_OK;
}

cd_rc cdk_keda_pause(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return set_paused(x, c, "0", err);
}

cd_rc cdk_keda_resume(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return set_paused(x, c, NULL, err);
}
