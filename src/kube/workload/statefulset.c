/* statefulset.c - StatefulSet targets (docs/statefulset.md): released in
 * place by the RollingUpdate partition, with no primary copy. The
 * engine's workload port and its router port over one StatefulSet:
 *
 *   canary weight w   partition = replicas - ceil(replicas * w / 100): the
 *                     ordinals from it up run the update revision
 *   canary ready      those ordinals are updated and the pods ready
 *   promote           partition 0: every ordinal updates; the primary is
 *                     ready when currentRevision = updateRevision
 *   rollback          the template of status.currentRevision (its
 *                     ControllerRevision) is restored; the updated
 *                     ordinals roll back to it; at rest, once the set has
 *                     converged, the partition goes back to replicas
 *   at rest           partition = replicas: a new template updates no pod
 *                     until the engine steps the partition down
 *
 * The partition is only ever lowered while pods are on two revisions
 * (raising it cannot undo an update); the last weight set is kept in the
 * annotation canaryd.dev/canary-weight so that get_routes reports it
 * exactly. Never creates or deletes anything. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHT_ANNOTATION "canaryd.dev/canary-weight"

static cdk_ctx *ctx_of(void *p) { return p; }

static bool read_view(cdk_ctx *x, cdk_sts_view *v, const json_t **obj, cd_err *err)
{
    const json_t *t = cdk_target(x, err);
    if (!t)
        return false;
    cdk_sts_read(t, v);
    if (obj)
        *obj = t;
    return true;
}

static int threshold_of(int v) { return v > 0 ? v : 100; }

static bool past_deadline(const cd_canary_ref *c, int64_t now)
{
    int64_t from = c->status->last_transition_ms;
    int deadline = c->spec->progress_deadline_seconds;
    return from > 0 && deadline > 0 && from + (int64_t)deadline * 1000 < now;
}

/* A readiness answer with Flagger's deadline rule (as for DaemonSets). */
static cd_rc with_deadline(cdk_ctx *x, const cd_canary_ref *c, cd_rc rc, const char *what,
                           const char *msg, cd_err *err)
{
    if (rc == CD_OK)
        return CD_OK;
    if (past_deadline(c, x->now_ms())) {
        cd_errfmt(err, "statefulset %s.%s %s exceeded its progressDeadlineSeconds: %d (%s)",
                  x->target, x->ns, what, c->spec->progress_deadline_seconds, msg);
        return CD_FATAL;
    }
    cd_errfmt(err, "statefulset %s.%s %s not ready: %s", x->target, x->ns, what, msg);
    return rc;
}

/* Merge patch of the partition and/or the weight annotation. */
static cd_rc patch_partition(cdk_ctx *x, int partition, int weight, cd_err *err)
{
    char w[16];
    snprintf(w, sizeof w, "%d", weight);
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", WEIGHT_ANNOTATION, w);
    if (partition >= 0)
        json_object_set_new(patch, "spec",
                            json_pack("{s:{s:{s:i}}}", "updateStrategy", "rollingUpdate",
                                      "partition", partition));
    cd_kube_err ke;
    bool ok = cdk_merge_patch(x, &CD_KUBE_STATEFULSETS, x->target, patch, &ke);
    json_decref(patch);
    cdk_target_forget(x);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "setting the partition of statefulset %s.%s failed", x->target,
                          x->ns);
        return CD_ERROR;
    }
    if (partition >= 0)
        cd_logf(CD_LOG_INFO, x->key, "statefulset %s.%s: partition %d (canary weight %d)", x->target,
                x->ns, partition, weight);
    return CD_OK;
}

static bool at_rest(cd_phase p)
{
    return p == CD_PHASE_NONE || p == CD_PHASE_INITIALIZING || p == CD_PHASE_INITIALIZED ||
           p == CD_PHASE_SUCCEEDED || p == CD_PHASE_FAILED;
}

/* ---- the workload port ------------------------------------------------------ */

static cd_rc is_primary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cdk_sts_view v;
    if (!read_view(x, &v, NULL, err))
        return CD_ERROR;
    bool promoting = c->status->phase == CD_PHASE_PROMOTING || c->status->phase == CD_PHASE_FINALISING;
    char msg[300] = "";
    cd_rc rc;
    if (promoting) {
        rc = cdk_sts_ready(&v, true, threshold_of(c->spec->analysis.primary_ready_threshold), msg,
                           sizeof msg);
    } else {   /* the set as a whole serves: its pods ready, whatever their revision */
        cdk_sts_view all = v;
        all.updated = all.replicas;
        rc = cdk_sts_ready(&all, false, threshold_of(c->spec->analysis.primary_ready_threshold), msg,
                           sizeof msg);
    }
    return with_deadline(x, c, rc, promoting ? "rollout" : "", msg, err);
}

/* Step 9: OnDelete is refused; at rest, once converged, the partition
 * holds every ordinal (a new template then updates nothing by itself). */
static cd_rc initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cdk_sts_view v;
    if (!read_view(x, &v, NULL, err))
        return CD_ERROR;
    if (!v.rolling) {
        cd_errfmt(err,
                  "statefulset %s.%s has updateStrategy OnDelete: canaryd releases a StatefulSet by "
                  "its RollingUpdate partition; set spec.updateStrategy.type: RollingUpdate "
                  "(docs/statefulset.md)",
                  x->target, x->ns);
        return CD_ERROR;
    }
    if (at_rest(c->status->phase) && cdk_sts_converged(&v) && v.partition < v.replicas) {
        cd_rc rc = patch_partition(x, v.replicas, 0, err);
        if (rc != CD_OK)
            return rc;
    }
    return require_ready ? is_primary_ready(ctx, c, err) : CD_OK;
}

static cd_rc is_canary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cdk_sts_view v;
    if (!read_view(x, &v, NULL, err))
        return CD_ERROR;
    char msg[300] = "";
    cd_rc rc = cdk_sts_ready(&v, false, threshold_of(c->spec->analysis.canary_ready_threshold), msg,
                             sizeof msg);
    return with_deadline(x, c, rc, "canary ordinals", msg, err);
}

static cd_rc target_hash(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX], cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *t = cdk_target(x, err);
    if (!t)
        return CD_ERROR;
    cdk_target_hash(t, CDK_STATEFULSET, hash);
    return CD_OK;
}

/* Promotion: every ordinal updates. */
static cd_rc promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    x->sts_promoted = true;
    return patch_partition(x, 0, 100, err);
}

typedef struct restore_ud { const json_t *tpl; } restore_ud;

static int restore_mutate(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    const json_t *tpl = ((restore_ud *)ud)->tpl;
    json_t *spec = kj_obj(live, "spec");
    if (kj_equal(json_object_get(spec, "template"), tpl))
        return 0;
    kj_set_copy(spec, "template", tpl);
    return 1;
}

/* Rollback: the template the pods at currentRevision run goes back into
 * the StatefulSet; the partition stays, so that the updated ordinals roll
 * back to it (raising it would leave them on the failed revision). */
static cd_rc restore_template(cdk_ctx *x, const json_t *t, cd_err *err)
{
    const char *rev = kj_str(t, "status.currentRevision");
    if (!rev || !*rev) {
        cd_errfmt(err, "statefulset %s.%s has no status.currentRevision to roll back to", x->target,
                  x->ns);
        return CD_ERROR;
    }
    json_t *cr = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_CONTROLLERREVISIONS, x->ns, rev, &cr, &ke)) {
        cdk_err_from_kube(err, &ke, "controllerrevision %s.%s get query error", rev, x->ns);
        return CD_ERROR;
    }
    json_t *tpl = kj_copy(kj_at(cr, "data.spec.template"));
    json_decref(cr);
    if (!json_is_object(tpl)) {
        json_decref(tpl);
        cd_errfmt(err, "controllerrevision %s.%s has no data.spec.template", rev, x->ns);
        return CD_ERROR;
    }
    json_object_del(tpl, "$patch");
    restore_ud ud = {tpl};
    bool ok = cd_kube_update_retry(x->kc, &CD_KUBE_STATEFULSETS, x->ns, x->target, false,
                                   restore_mutate, &ud, NULL, &ke);
    json_decref(tpl);
    cdk_target_forget(x);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "restoring the template of statefulset %s.%s failed", x->target,
                          x->ns);
        return CD_ERROR;
    }
    cd_logf(CD_LOG_INFO, x->key, "statefulset %s.%s: template of %s restored", x->target, x->ns, rev);
    return CD_OK;
}

/* The engine scales the canary down at rollback and after promotion; for a
 * StatefulSet only the rollback does something: a release in flight whose
 * template was not promoted gets the promoted one back. */
static cd_rc scale_to_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cd_phase p = c->status->phase;
    if (x->sts_promoted || !c->status->last_promoted_spec[0] ||
        (p != CD_PHASE_PROGRESSING && p != CD_PHASE_WAITING_PROMOTION && p != CD_PHASE_WAITING))
        return CD_OK;
    const json_t *t = cdk_target(x, err);
    if (!t)
        return CD_ERROR;
    char hash[CD_HASH_MAX];
    cdk_target_hash(t, CDK_STATEFULSET, hash);
    if (!strcmp(hash, c->status->last_promoted_spec))
        return CD_OK;
    return restore_template(x, t, err);
}

static cd_rc no_op(void *ctx, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

/* ---- the router port: the partition ------------------------------------------ */

static cd_rc get_routes(void *ctx, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cdk_sts_view v;
    const json_t *t;
    if (!read_view(x, &v, &t, err))
        return CD_ERROR;
    int w = cdk_sts_weight_of(v.replicas, v.partition);
    const char *ann = kj_str(t, "metadata.annotations." WEIGHT_ANNOTATION);
    if (ann) {
        int a = atoi(ann);
        if (a >= 0 && a <= 100 && cdk_sts_partition_for(v.replicas, a) == v.partition)
            w = a;   /* the exact weight behind this partition */
    }
    *canary = w;
    *primary = 100 - w;
    *mirrored = false;
    return CD_OK;
}

static cd_rc set_routes(void *ctx, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cdk_sts_view v;
    const json_t *t;
    if (!read_view(x, &v, &t, err))
        return CD_ERROR;
    int want = cdk_sts_partition_for(v.replicas, canary);
    if (want < v.partition || (want > v.partition && cdk_sts_converged(&v)))
        return patch_partition(x, want, canary, err);
    char w[16];
    snprintf(w, sizeof w, "%d", canary);
    const char *ann = kj_str(t, "metadata.annotations." WEIGHT_ANNOTATION);
    if (want == v.partition && (!ann || strcmp(ann, w)))
        return patch_partition(x, -1, canary, err);
    return CD_OK;   /* raising it now would not undo an update: rollback restores the template */
}

void cdk_statefulset_ports(cd_workload_port *wp, cd_router_port *rp, cdk_ctx *x)
{
    memset(wp, 0, sizeof *wp);
    wp->ctx = x;
    wp->initialize = initialize;
    wp->is_primary_ready = is_primary_ready;
    wp->is_canary_ready = is_canary_ready;
    wp->target_hash = target_hash;
    wp->promote = promote;
    wp->scale_to_zero = scale_to_zero;
    wp->scale_from_zero = no_op;
    memset(rp, 0, sizeof *rp);
    rp->ctx = x;
    rp->get_routes = get_routes;
    rp->set_routes = set_routes;
}

/* ---- what the operator's other paths need (finalize.c) -------------------------- */

static cd_rc ops_ready(cdk_ctx *x, const cd_canary_ref *c, const json_t *obj, int threshold_pct,
                       char *msg, size_t msglen)
{
    cdk_sts_view v;
    cdk_sts_read(obj, &v);
    return cdk_sts_ready(&v, true, threshold_pct, msg, msglen);
}

static cd_rc ops_no_op(cdk_ctx *x, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

/* revertOnDeletion: the StatefulSet updates by itself again (partition 0). */
static cd_rc ops_restore(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    return patch_partition(x, 0, 100, err);
}

const cdk_workload_ops cdk_statefulset_ops = {
    .kind = "StatefulSet",
    .k = CDK_STATEFULSET,
    .resource = &CD_KUBE_STATEFULSETS,
    .word = "statefulset",
    .autoscalers = false,
    .ready = ops_ready,
    .scale_to_zero = ops_no_op,
    .scale_from_zero = ops_no_op,
    .restore = ops_restore,
};
