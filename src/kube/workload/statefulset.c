/* statefulset.c - StatefulSet targets (docs/statefulset.md): released in
 * place by the RollingUpdate partition, with no primary copy. The
 * engine's workload port and its router port over one StatefulSet:
 *
 *   canary weight w   partition = replicas - ceil(replicas * w / 100): the
 *                     ordinals from it up run the update revision
 *   canary ready      those ordinals are updated and the pods ready
 *   promote           partition 0: every ordinal updates; the primary is
 *                     ready when currentRevision = updateRevision
 *   rollback          the promoted template (the ControllerRevision
 *                     hashing to lastPromotedSpec) is restored; the
 *                     updated ordinals roll back to it; at rest, once the
 *                     set has converged, the partition goes back to replicas
 *   at rest           partition = replicas: a new template updates no pod
 *                     until the engine steps the partition down
 *   OnDelete          the partition is canaryd's own (an annotation) and
 *                     canaryd deletes the pods it selects, one per tick
 *
 * The partition is only ever lowered while pods are on two revisions
 * (raising it cannot undo an update); the last weight set is kept in the
 * annotation canaryd.dev/canary-weight so that get_routes reports it
 * exactly. Creates nothing; deletes pods only of an OnDelete set. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHT_ANNOTATION "canaryd.dev/canary-weight"
#define PARTITION_ANNOTATION "canaryd.dev/partition"   /* OnDelete: canaryd's own partition */

static cdk_ctx *ctx_of(void *p) { return p; }

static const char *annotation(const json_t *t, const char *key)
{
    return json_string_value(json_object_get(kj_at(t, "metadata.annotations"), key));
}

/* The StatefulSet as the partition sees it. With OnDelete the controller
 * has no partition: canaryd keeps its own in an annotation (replicas when
 * absent) and deletes the pods it selects (drive_on_delete). */
static bool read_view(cdk_ctx *x, cdk_sts_view *v, const json_t **obj, cd_err *err)
{
    const json_t *t = cdk_target(x, err);
    if (!t)
        return false;
    cdk_sts_read(t, v);
    if (!v->rolling) {
        const char *p = annotation(t, PARTITION_ANNOTATION);
        v->partition = p ? atoi(p) : v->replicas;
        if (v->partition < 0 || v->partition > v->replicas)
            v->partition = v->replicas;
    }
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

/* Merge patch of the partition (partition < 0: unchanged) and the weight
 * annotation. */
static cd_rc patch_partition(cdk_ctx *x, bool rolling, int partition, int weight, cd_err *err)
{
    char w[16], p[16];
    snprintf(w, sizeof w, "%d", weight);
    snprintf(p, sizeof p, "%d", partition);
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", WEIGHT_ANNOTATION, w);
    if (partition >= 0 && rolling)
        json_object_set_new(patch, "spec",
                            json_pack("{s:{s:{s:i}}}", "updateStrategy", "rollingUpdate",
                                      "partition", partition));
    else if (partition >= 0)
        json_object_set_new(kj_at(patch, "metadata.annotations"), PARTITION_ANNOTATION,
                            json_string(p));
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

/* The label selector of the StatefulSet's pods ("k=v,k2=v2"), or NULL. */
static char *pod_selector(const json_t *t)
{
    json_t *ml = kj_at(t, "spec.selector.matchLabels");
    if (!json_is_object(ml) || !json_object_size(ml))
        return NULL;
    size_t n = 1;
    const char *k;
    json_t *val;
    json_object_foreach(ml, k, val) n += strlen(k) + strlen(json_string_value(val) ?: "") + 2;
    char *out = calloc(1, n);
    if (!out)
        abort();
    json_object_foreach(ml, k, val) {
        if (*out)
            strcat(out, ",");
        strcat(out, k);
        strcat(out, "=");
        strcat(out, json_string_value(val) ?: "");
    }
    return out;
}

static bool pod_ready(const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach(kj_at(pod, "status.conditions"), i, c)
        if (!strcmp(kj_str(c, "type") ?: "", "Ready"))
            return !strcmp(kj_str(c, "status") ?: "", "True");
    return false;
}

static int pod_ordinal(const json_t *pod, const char *set)
{
    const char *name = kj_str(pod, "metadata.name") ?: "";
    size_t n = strlen(set);
    if (strncmp(name, set, n) || name[n] != '-' || !name[n + 1])
        return -1;
    char *end;
    long o = strtol(name + n + 1, &end, 10);
    return *end || o < 0 || o > 100000 ? -1 : (int)o;
}

/* OnDelete: the controller updates a pod only when it is deleted. With
 * every pod ready, the highest ordinal from canaryd's partition up that
 * is not at updateRevision is deleted (one per tick, as the controller's
 * RollingUpdate would update it); the controller recreates it at
 * updateRevision. At rollback the restored template is the update
 * revision, so the same rule rolls the updated ordinals back. */
static cd_rc drive_on_delete(cdk_ctx *x, const json_t *t, const cdk_sts_view *v, cd_err *err)
{
    if (v->rolling || v->generation > v->observed || !v->update_rev || v->partition >= v->replicas)
        return CD_OK;
    char *sel = pod_selector(t);
    if (!sel)
        return CD_OK;
    cd_kube_list_opts o = {.label_selector = sel};
    json_t *pods = NULL;
    cd_kube_err ke;
    bool ok = cd_kube_list(x->kc, &CD_KUBE_PODS, x->ns, &o, &pods, NULL, &ke);
    free(sel);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "pods of statefulset %s.%s list query error", x->target, x->ns);
        return CD_ERROR;
    }
    const char *victim = NULL;
    int best = -1;
    bool all_ready = true;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        int ord = pod_ordinal(p, x->target);
        if (ord < 0)
            continue;
        all_ready &= pod_ready(p) && !kj_has(p, "metadata.deletionTimestamp");
        const char *rev = kj_str(p, "metadata.labels.controller-revision-hash");
        if (ord >= v->partition && ord < v->replicas && (!rev || strcmp(rev, v->update_rev)) &&
            ord > best) {
            best = ord;
            victim = kj_str(p, "metadata.name");
        }
    }
    cd_rc rc = CD_OK;
    if (victim && all_ready) {
        if (cd_kube_delete(x->kc, &CD_KUBE_PODS, x->ns, victim, NULL, &ke) ||
            cd_kube_is_not_found(&ke)) {
            cd_logf(CD_LOG_INFO, x->key, "statefulset %s.%s (OnDelete): pod %s deleted to update it "
                    "to %s", x->target, x->ns, victim, v->update_rev);
        } else {
            cdk_err_from_kube(err, &ke, "deleting pod %s.%s failed", victim, x->ns);
            rc = CD_ERROR;
        }
    }
    json_decref(pods);
    return rc;
}

/* Step 9: OnDelete pods are deleted as the partition says; at rest, once
 * converged, the partition holds every ordinal (a new template then
 * updates no pod by itself). */
static cd_rc initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    cdk_sts_view v;
    const json_t *t;
    if (!read_view(x, &v, &t, err))
        return CD_ERROR;
    cd_rc rc = drive_on_delete(x, t, &v, err);
    if (rc != CD_OK)
        return rc;
    if (at_rest(c->status->phase) && cdk_sts_converged(&v) && v.partition < v.replicas) {
        rc = patch_partition(x, v.rolling, v.replicas, 0, err);
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
    if (rc == CD_OK && x->sts_weights_raised) {   /* analyse traffic the step has had */
        snprintf(msg, sizeof msg, "waiting for rollout to finish: the mesh weights just reached "
                 "the updated ordinals");
        rc = CD_RETRY;
    }
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
cd_rc cdk_statefulset_promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    x->sts_promoted = true;
    cdk_sts_view v;
    if (!read_view(x, &v, NULL, err))
        return CD_ERROR;
    return patch_partition(x, v.rolling, 0, 100, err);
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

/* The template of a ControllerRevision (its data.spec.template without
 * "$patch"), or NULL. New reference. */
static json_t *revision_template(const json_t *cr)
{
    json_t *tpl = kj_copy(kj_at(cr, "data.spec.template"));
    if (!json_is_object(tpl)) {
        json_decref(tpl);
        return NULL;
    }
    json_object_del(tpl, "$patch");
    return tpl;
}

static bool owned_by(const json_t *o, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach(kj_at(o, "metadata.ownerReferences"), i, r)
        if (uid && !strcmp(kj_str(r, "uid") ?: "", uid))
            return true;
    return false;
}

/* The promoted template: the StatefulSet's ControllerRevision whose
 * template hashes to lastPromotedSpec, else that of status.currentRevision
 * (OnDelete never moves currentRevision, so the hash comes first). */
static json_t *promoted_template(cdk_ctx *x, const json_t *t, const char *promoted, cd_err *err)
{
    char *sel = pod_selector(t);
    cd_kube_list_opts o = {.label_selector = sel};
    json_t *crs = NULL, *found = NULL;
    cd_kube_err ke;
    bool ok = cd_kube_list(x->kc, &CD_KUBE_CONTROLLERREVISIONS, x->ns, &o, &crs, NULL, &ke);
    free(sel);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "controllerrevisions of statefulset %s.%s list query error",
                          x->target, x->ns);
        return NULL;
    }
    const char *uid = kj_str(t, "metadata.uid"), *current = kj_str(t, "status.currentRevision");
    json_t *fallback = NULL;
    size_t i;
    json_t *cr;
    json_array_foreach(crs, i, cr) {
        if (!owned_by(cr, uid))
            continue;
        json_t *tpl = revision_template(cr);
        if (!tpl)
            continue;
        json_t *wrap = json_pack("{s:{s:O}}", "spec", "template", tpl);
        char h[CD_HASH_MAX];
        cdk_target_hash(wrap, CDK_STATEFULSET, h);
        json_decref(wrap);
        if (!found && promoted && !strcmp(h, promoted))
            found = json_incref(tpl);
        if (!fallback && current && !strcmp(kj_str(cr, "metadata.name") ?: "", current))
            fallback = json_incref(tpl);
        json_decref(tpl);
    }
    json_decref(crs);
    if (found) {
        json_decref(fallback);
        return found;
    }
    if (!fallback)
        cd_errfmt(err, "statefulset %s.%s: no ControllerRevision holds the promoted template %s",
                  x->target, x->ns, promoted ? promoted : "");
    else
        cd_logf(CD_LOG_WARN, x->key, "statefulset %s.%s: no ControllerRevision hashes to %s; "
                "restoring currentRevision %s", x->target, x->ns, promoted ? promoted : "", current);
    return fallback;
}

/* Rollback: the promoted template goes back into the StatefulSet; the
 * partition stays, so that the updated ordinals roll back to it (raising
 * it would leave them on the failed revision). */
static cd_rc restore_template(cdk_ctx *x, const json_t *t, const char *promoted, cd_err *err)
{
    json_t *tpl = promoted_template(x, t, promoted, err);
    if (!tpl)
        return CD_ERROR;
    restore_ud ud = {tpl};
    cd_kube_err ke;
    bool ok = cd_kube_update_retry(x->kc, &CD_KUBE_STATEFULSETS, x->ns, x->target, false,
                                   restore_mutate, &ud, NULL, &ke);
    json_decref(tpl);
    cdk_target_forget(x);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "restoring the template of statefulset %s.%s failed", x->target,
                          x->ns);
        return CD_ERROR;
    }
    cd_logf(CD_LOG_INFO, x->key, "statefulset %s.%s: promoted template %s restored", x->target,
            x->ns, promoted ? promoted : "");
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
    return restore_template(x, t, c->status->last_promoted_spec, err);
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
    const char *ann = annotation(t, WEIGHT_ANNOTATION);
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
        return patch_partition(x, v.rolling, want, canary, err);
    char w[16];
    snprintf(w, sizeof w, "%d", canary);
    const char *ann = annotation(t, WEIGHT_ANNOTATION);
    if (want == v.partition && (!ann || strcmp(ann, w)))
        return patch_partition(x, v.rolling, -1, canary, err);
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
    wp->promote = cdk_statefulset_promote;
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
    cdk_sts_view v;
    if (!read_view(x, &v, NULL, err))
        return CD_ERROR;
    return patch_partition(x, v.rolling, 0, 100, err);
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
