/* sync.c - Flagger's syncHandler for one Canary (reference §2.1 step 3):
 * checks the spec (-no-cross-namespace-refs, session cookies), finalizes a
 * deleted canary with revertOnDeletion, marks a new canary Initializing,
 * schedules its analysis job and keeps its finalizer in step with
 * revertOnDeletion. Runs on a worker; reads the informer cache, writes
 * through the client. Must not run the analysis (that is tick.c's). */
#include "kube/api.h"
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/operator/operator.h"
#include "util/errfmt.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <stdio.h>
#include <string.h>

static bool other_ns(const char *ref_ns, const char *ns)
{
    return ref_ns && *ref_ns && strcmp(ref_ns, ns) != 0;
}

/* Flagger's verifyCanary. */
static bool verify(cdk_operator *op, const cd_object *o, cd_err *err)
{
    const cd_canary_spec *s = &o->spec.canary;
    const char *ns = o->meta.namespace_;
    if (op->opt.no_cross_namespace_refs) {
        if (s->has_upstream_ref && other_ns(s->upstream_ref.namespace_, ns)) {
            cd_errfmt(err, "can't access gloo upstream %s.%s, cross-namespace references are blocked",
                      s->upstream_ref.name, s->upstream_ref.namespace_);
            return false;
        }
        for (size_t i = 0; i < s->analysis.n_metrics; i++) {
            const cd_metric *m = &s->analysis.metrics[i];
            if (m->template_name && other_ns(m->template_namespace, ns)) {
                cd_errfmt(err, "can't access metric template %s.%s, cross-namespace references are "
                               "blocked",
                          m->template_name, m->template_namespace);
                return false;
            }
        }
        for (size_t i = 0; i < s->analysis.n_alerts; i++) {
            const cd_alert *a = &s->analysis.alerts[i];
            if (other_ns(a->provider_namespace, ns)) {
                cd_errfmt(err, "can't access alert provider %s.%s, cross-namespace references are "
                               "blocked",
                          a->provider_name, a->provider_namespace);
                return false;
            }
        }
    }
    const cd_session_affinity *sa = &s->analysis.session_affinity;
    if (sa->set && sa->cookie_name && sa->primary_cookie_name &&
        !strcmp(sa->cookie_name, sa->primary_cookie_name)) {
        cd_errfmt(err, "session affinity cookieName and primaryCookieName cannot have the same value");
        return false;
    }
    return true;
}

static int64_t interval_of(cdk_operator *op, const cd_object *o)
{
    if (op->opt.interval_override_ms > 0)
        return op->opt.interval_override_ms;
    int64_t ms = o->spec.canary.analysis.interval_ms;
    return ms > 0 ? ms : 60000;
}

/* Flagger's syncHandler sets Initializing when the status has no
 * conditions yet. */
static void mark_initializing(cdk_operator *op, const cd_object *o, const char *key)
{
    if (o->status.condition.set)
        return;
    cd_canary_status st;
    cd_status_init(&st);
    cd_status_copy(&st, &o->status);
    st.phase = CD_PHASE_INITIALIZING;
    st.last_transition_ms = cd_wall_ms();
    const char *kind = o->spec.canary.target_ref.kind ? o->spec.canary.target_ref.kind : "Deployment";
    cd_status_update_condition(&st, kind, st.last_transition_ms);
    cd_err err = {{0}};
    if (!cdk_write_status(op, o->meta.namespace_, o->meta.name, &st, &err)) {
        cd_logf(CD_LOG_ERROR, key, "%s", err.msg);
        cdk_enqueue_sync_later(op, o->meta.namespace_, o->meta.name);
    }
    cd_status_free(&st);
}

static void keep_finalizer(cdk_operator *op, const json_t *canary, const cd_object *o, const char *key)
{
    bool want = o->spec.canary.revert_on_deletion;
    bool have = cd_kobj_has_finalizer(canary, CDK_FINALIZER);
    if (want == have)
        return;
    cd_kube_err ke;
    bool ok = want ? cd_kube_add_finalizer(op->kc, &CD_KUBE_CANARIES, o->meta.namespace_, o->meta.name,
                                           CDK_FINALIZER, &ke)
                   : cd_kube_remove_finalizer(op->kc, &CD_KUBE_CANARIES, o->meta.namespace_,
                                              o->meta.name, CDK_FINALIZER, &ke);
    if (!ok) {
        cd_logf(CD_LOG_ERROR, key, "cannot %s the finalizer: %s", want ? "add" : "remove", ke.msg);
        cdk_enqueue_sync_later(op, o->meta.namespace_, o->meta.name);
    }
}

static void finalize_deleted(cdk_operator *op, const json_t *canary, const cd_object *o,
                             const char *key)
{
    cdk_schedule(op, o->meta.namespace_, o->meta.name, -1, NULL);
    if (!cd_kobj_has_finalizer(canary, CDK_FINALIZER))
        return;
    cd_err err = {{0}};
    if (o->status.phase != CD_PHASE_TERMINATED && cdk_finalize(op, canary, o, &err) != CD_OK) {
        cdk_record_event(op, canary, key, true, err.msg);
        cdk_enqueue_sync_later(op, o->meta.namespace_, o->meta.name);   /* try again */
        return;
    }
    cd_kube_err ke;
    if (!cd_kube_remove_finalizer(op->kc, &CD_KUBE_CANARIES, o->meta.namespace_, o->meta.name,
                                  CDK_FINALIZER, &ke)) {
        cd_logf(CD_LOG_ERROR, key, "cannot remove the finalizer: %s", ke.msg);
        cdk_enqueue_sync_later(op, o->meta.namespace_, o->meta.name);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "Terminated canary %s", key);
    cdk_record_event(op, canary, key, false, msg);
}

/* A Canary that cannot be read gets canaryd's condition Accepted=False
 * (reason InvalidSpec, the error) beside the rest of its status, which is
 * kept; the first tick of a valid spec removes it (engine/tick.c). */
static void mark_invalid(cdk_operator *op, const json_t *canary, const char *ns, const char *name,
                         const char *key, const char *why)
{
    cd_canary_status st;
    cd_status_init(&st);   /* cd_status_from_json frees what st holds first */
    cd_status_from_json(&st, json_object_get(canary, "status"));
    cd_err err = {{0}};
    if (cd_status_set_refused(&st, "InvalidSpec", why, cd_wall_ms()) &&
        !cdk_write_status(op, ns, name, &st, &err))
        cd_logf(CD_LOG_ERROR, key, "%s", err.msg);
    cd_status_free(&st);
}

void cdk_sync(cdk_operator *op, const char *ns, const char *name)
{
    char key[320];
    snprintf(key, sizeof key, "%s.%s", name, ns);
    json_t *canary = cd_informer_get(op->canaries, ns, name);
    if (!canary) {
        cdk_schedule(op, ns, name, -1, NULL);
        return;
    }
    cd_err err = {{0}};
    cd_object *o = cdk_decode(canary, "Canary", &err);
    if (!o || !verify(op, o, &err)) {
        cd_logf(CD_LOG_ERROR, key, "invalid canary: %s", err.msg);
        cdk_record_event(op, canary, key, true, err.msg);
        mark_invalid(op, canary, ns, name, key, err.msg);
        cdk_schedule(op, ns, name, -1, NULL);
        cd_object_free(o);
        json_decref(canary);
        return;
    }
    if (cd_kobj_is_deleting(canary)) {
        if (o->spec.canary.revert_on_deletion)
            finalize_deleted(op, canary, o, key);
        else
            cdk_schedule(op, ns, name, -1, NULL);
        cd_object_free(o);
        json_decref(canary);
        return;
    }
    mark_initializing(op, o, key);
    char target[320];
    snprintf(target, sizeof target, "%s.%s", o->spec.canary.target_ref.name ?: "", ns);
    cdk_schedule(op, ns, name, interval_of(op, o), target);
    keep_finalizer(op, canary, o, key);
    cd_object_free(o);
    json_decref(canary);
}
