/* finalize.c - revertOnDeletion (reference §2.13, Flagger's finalize): when
 * a Canary with the finalizer is deleted, its target gets its replicas
 * back and must become ready, a user-owned apex Service selects the
 * target again, and the mesh router undoes its changes; then the sync
 * removes the finalizer and Kubernetes garbage-collects what canaryd
 * created. Blocks its worker while the target comes back (bounded). */
#include "kube/kjson.h"
#include "kube/operator/operator.h"
#include "kube/mesh/router.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <stdio.h>
#include <time.h>

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Flagger waits with a backoff of 3 s doubling, capped at the analysis
 * interval, 4 steps. */
static cd_rc wait_target_ready(cdk_operator *op, cdk_ctx *x, const cd_canary_ref *ref, cd_err *err)
{
    int64_t cap = x->spec->analysis.interval_ms > 0 ? x->spec->analysis.interval_ms : 60000;
    int64_t delay = 3000;
    for (int step = 0; step < 4 && !atomic_load(&op->stopping); step++) {
        json_t *t = NULL;
        cd_kube_err ke;
        if (cd_kube_get(x->kc, x->wl->resource, x->ns, x->target, &t, &ke)) {
            char msg[300];
            cd_rc rc = x->wl->ready(x, ref, t, 100, msg, sizeof msg);
            json_decref(t);
            if (rc == CD_OK)
                return CD_OK;
        }
        if (step < 3)
            sleep_ms(delay < cap ? delay : cap);
        delay *= 2;
    }
    cd_errfmt(err, "canary not ready during finalizing");
    return CD_ERROR;
}

cd_rc cdk_finalize(cdk_operator *op, const json_t *canary, const cd_object *obj, cd_err *err)
{
    cdk_ctx x;
    if (!cdk_open_ctx(op, &x, canary, obj, err)) {
        cdk_ctx_release(&x);
        return CD_ERROR;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "Terminating canary %s", x.key);
    cdk_record_event(op, canary, x.key, false, msg);

    cd_canary_status st;
    cd_status_init(&st);
    cd_status_copy(&st, &obj->status);
    st.phase = CD_PHASE_TERMINATING;
    st.last_transition_ms = cd_wall_ms();
    const char *kind = x.wl->kind;
    cd_status_update_condition(&st, kind, st.last_transition_ms);
    cd_rc rc = cdk_write_status(op, x.ns, x.name, &st, err) ? CD_OK : CD_ERROR;

    cd_canary_ref ref = {&obj->meta, &obj->spec.canary, &st, NULL, NULL};
    if (rc == CD_OK)
        rc = x.wl->restore(&x, &ref, err);
    if (rc == CD_OK && cdk_is_scaled_object(&ref))   /* its KEDA scaler runs it again */
        rc = cdk_keda_resume(&x, &ref, err);
    if (rc == CD_OK)
        rc = wait_target_ready(op, &x, &ref, err);
    /* without a mesh a StatefulSet has no Services or routes of its own;
     * a (Knative) Service target has no apex Service of canaryd's */
    bool sts = x.wl->k == CDK_STATEFULSET && !cdk_statefulset_mesh_supported(x.router->provider);
    if (rc == CD_OK && !sts && x.wl->k != CDK_KNATIVE && x.wl->k != CDK_SERVICE)
        rc = cdk_services_finalize(&x, err);
    if (rc == CD_OK && !sts)
        rc = x.router->finalize(&x, err);
    cd_status_free(&st);
    cdk_ctx_release(&x);
    return rc;
}
