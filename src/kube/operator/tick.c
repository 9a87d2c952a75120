/* tick.c - one analysis tick of one Canary on Kubernetes (Flagger's
 * advanceCanary): reads the Canary fresh from the API server, builds the
 * engine's ports over the cluster (workload, Services and mesh router,
 * metric providers with MetricTemplates from the informer caches,
 * webhooks, alerts, Kubernetes Events, the status subresource, the wall
 * clock) and runs cd_engine_tick. Also the status write and event record
 * the sync uses. Keeps nothing between ticks. */
#include "kube/api.h"
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/operator/operator.h"
#include "kube/mesh/router.h"
#include "kube/workload/workload.h"
#include "util/redact.h"
#include "util/errfmt.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cdk_open_ctx(cdk_operator *op, cdk_ctx *x, const json_t *canary, const cd_object *obj,
                  cd_err *err)
{
    const cd_canary_spec *spec = &obj->spec.canary;
    const char *kind = spec->target_ref.kind ? spec->target_ref.kind : "Deployment";
    const cdk_workload_ops *wl = cdk_workload_for_target(kind, spec->target_ref.api_version);
    cdk_ctx_init(x, op->kc, &op->set, canary, obj, wl, NULL);
    if (!wl) {
        cd_errfmt(err, "target kind %s is not supported by canaryd kube (Deployment, DaemonSet, "
                       "StatefulSet, Service and Knative Service are)",
                  kind);
        return false;
    }
    const char *provider = spec->provider && *spec->provider ? spec->provider : op->set.mesh_provider;
    if (wl->k == CDK_STATEFULSET) {
        /* traffic follows the pods the partition updates (docs/statefulset.md) */
        if (spec->provider && *spec->provider && strcmp(spec->provider, "kubernetes") &&
            !cdk_statefulset_mesh_supported(spec->provider)) {
            cd_errfmt(err, "a StatefulSet target is released by its partition, traffic following "
                           "the pods: provider %s is not supported for it (use istio, "
                           "gatewayapi:v1, gatewayapi:v1beta1, kubernetes or none)",
                      spec->provider);
            return false;
        }
        /* -mesh-provider is not applied: a mesh is named in spec.provider */
        provider = cdk_statefulset_mesh_supported(spec->provider) ? spec->provider : "kubernetes";
    }
    /* Flagger's verifyKnativeCanary: a Knative Service and provider knative go together */
    bool knative = wl->k == CDK_KNATIVE;
    if (knative != (provider && !strcmp(provider, "knative"))) {
        if (knative)
            cd_errfmt(err, "can't use %s provider with Knative Service as target",
                      provider ? provider : "");
        else
            cd_errfmt(err, "can't use %s/%s as target if provider is set to knative",
                      spec->target_ref.api_version ? spec->target_ref.api_version : "", kind);
        return false;
    }
    x->router = cdk_router_find(provider, err);
    return x->router != NULL;
}

cd_object *cdk_decode(const json_t *obj, const char *kind, cd_err *err)
{
    json_t *j = json_deep_copy(obj);
    if (!json_is_string(json_object_get(j, "apiVersion")))
        json_object_set_new(j, "apiVersion", json_string("flagger.app/v1beta1"));
    if (!json_is_string(json_object_get(j, "kind")))
        json_object_set_new(j, "kind", json_string(kind));
    cd_diags d;
    cd_diags_init(&d);
    cd_stream *s = cd_stream_from_json(kind, j);
    json_decref(j);
    cd_object *o = s ? cd_object_decode(s->docs[0].root, NULL, 0, kj_str(obj, "metadata.namespace"), &d)
                     : NULL;
    if (!o) {
        const cd_diag *first = NULL;
        for (size_t i = 0; i < d.n && !first; i++)
            if (d.items[i].severity == CD_DIAG_ERROR)
                first = &d.items[i];
        if (first && first->path && *first->path)
            cd_errfmt(err, "%s: %s%s", first->path, first->message,
                      d.errors > 1 ? " (and more errors)" : "");
        else
            cd_errfmt(err, "%s", first ? first->message : "cannot decode the object");
    }
    cd_stream_free(s);
    cd_diags_free(&d);
    return o;
}

void cdk_record_event(cdk_operator *op, const json_t *canary, const char *key, bool warning,
                      const char *raw)
{
    char msg[1024];
    cd_redact_text(raw, NULL, 0, msg, sizeof msg);     /* events are read by everyone */
    cd_logf(warning ? CD_LOG_WARN : CD_LOG_INFO, key, "%s", msg);
    cd_kube_err ke;
    if (op->events && !cd_kube_event(op->events, canary, warning ? "Warning" : "Normal", "Synced",
                                     "Analysis", msg, &ke))
        cd_logf(CD_LOG_ERROR, key, "cannot record the event: %s", ke.msg);
}

/* ---- status ------------------------------------------------------------------ */

static const char *const managed_status[] = {
    "phase", "canaryWeight", "failedChecks", "iterations", "lastAppliedSpec", "lastPromotedSpec",
    "lastTransitionTime", "trackedConfigs", "conditions", "sessionAffinityCookie",
    "primarySessionAffinityCookie", "previousSessionAffinityCookie", "judge",
};

static int merge_status(void *ud, json_t *obj, cd_kube_err *err)
{
    (void)err;
    const cd_canary_status *st = ud;
    json_t *cur = kj_obj(obj, "status");
    json_t *before = json_deep_copy(cur);
    json_t *want = cd_status_to_json(st);
    for (size_t i = 0; i < sizeof managed_status / sizeof managed_status[0]; i++)
        if (!json_object_get(want, managed_status[i]))
            json_object_del(cur, managed_status[i]);
    json_object_update(cur, want);
    bool changed = !json_equal(before, cur);
    json_decref(before);
    json_decref(want);
    return changed ? 1 : 0;
}

bool cdk_write_status(cdk_operator *op, const char *ns, const char *name,
                      const cd_canary_status *status, cd_err *err)
{
    cd_kube_err ke;
    if (cd_kube_update_retry(op->kc, &CD_KUBE_CANARIES, ns, name, true, merge_status,
                             (void *)status, NULL, &ke)) {
        cdk_history_note(op, ns, name, status);   /* -dashboard's chart */
        return true;
    }
    cdk_err_from_kube(err, &ke, "status update of %s.%s failed", name, ns);
    return false;
}

/* ---- the tick's ports ---------------------------------------------------------- */

typedef struct tick_io {
    cdk_operator *op;
    const json_t *canary;
    const char *ns, *name, *key;
} tick_io;

static void event_record(void *ctx, const cd_canary_ref *ref, cd_event_type type, const char *msg)
{
    tick_io *t = ctx;
    cdk_record_event(t->op, t->canary, t->key, type == CD_EVENT_WARNING, msg);
}

static cd_rc status_save(void *ctx, const cd_canary_ref *ref, cd_err *err)
{
    tick_io *t = ctx;
    return cdk_write_status(t->op, t->ns, t->name, ref->status, err) ? CD_OK : CD_ERROR;
}

static int64_t clock_now(void *ctx) { return cd_wall_ms(); }

static json_t *read_canary(cdk_operator *op, const char *ns, const char *name, const char *key)
{
    json_t *canary = NULL;
    cd_kube_err ke;
    if (cd_kube_get(op->kc, &CD_KUBE_CANARIES, ns, name, &canary, &ke))
        return canary;
    if (cd_kube_is_not_found(&ke))
        cd_logf(CD_LOG_DEBUG, key, "canary %s.%s not found, skipping", name, ns);
    else if (!cd_kube_is_cancelled(&ke))
        cd_logf(CD_LOG_ERROR, key, "cannot read the canary: %s", ke.msg);
    return NULL;
}

/* A settled canary whose lastAppliedSpec another implementation wrote (Go
 * Flagger hashes the pod template differently) would otherwise look
 * changed and start an analysis of what the primary already runs: when
 * the primary runs exactly the target's spec, take the hashes over. */
static void adopt_foreign_hash(cdk_operator *op, cdk_ctx *x, cd_canary_status *st)
{
    if (st->phase != CD_PHASE_SUCCEEDED && st->phase != CD_PHASE_INITIALIZED)
        return;
    if (x->wl->k == CDK_STATEFULSET || x->wl->k == CDK_KNATIVE || x->wl->k == CDK_SERVICE)
        return;   /* no primary workload to compare with */
    if (!st->last_applied_spec[0] || strcmp(st->last_applied_spec, st->last_promoted_spec) != 0)
        return;
    cd_err err = {{0}};
    const json_t *t = cdk_target(x, &err);
    if (!t)
        return;
    char hash[CD_HASH_MAX];
    cdk_target_hash(t, x->wl->k, hash);
    if (!strcmp(hash, st->last_applied_spec) || !cdk_primary_matches_target(x))
        return;
    cd_logf(CD_LOG_INFO, x->key,
            "adopting %s: the primary runs the target's spec; lastAppliedSpec %s (written by another "
            "implementation) becomes %s",
            x->key, st->last_applied_spec, hash);
    snprintf(st->last_applied_spec, sizeof st->last_applied_spec, "%s", hash);
    snprintf(st->last_promoted_spec, sizeof st->last_promoted_spec, "%s", hash);
    if (!cdk_write_status(op, x->ns, x->name, st, &err))
        cd_logf(CD_LOG_ERROR, x->key, "%s", err.msg);
}

void cdk_tick(cdk_operator *op, const char *ns, const char *name)
{
    char key[320];
    snprintf(key, sizeof key, "%s.%s", name, ns);
    json_t *canary = read_canary(op, ns, name, key);
    if (!canary)
        return;
    if (cd_kobj_is_deleting(canary)) {   /* the sync finalizes it */
        json_decref(canary);
        return;
    }
    cd_err err = {{0}};
    cd_object *obj = cdk_decode(canary, "Canary", &err);
    if (!obj) {
        cdk_record_event(op, canary, key, true, err.msg);
        json_decref(canary);
        return;
    }
    cdk_ctx x;
    if (!cdk_open_ctx(op, &x, canary, obj, &err)) {
        cdk_record_event(op, canary, key, true, err.msg);
        cdk_ctx_release(&x);
        cd_object_free(obj);
        json_decref(canary);
        return;
    }
    cdk_lookups lk;
    cdk_lookups_init(&lk, op);
    cd_store store = cdk_lookups_store(&lk);
    cd_metrics_config mcfg = {op->opt.metrics_server, op->opt.mesh_provider, &store, &op->secrets, 0,
                              NULL, &op->cluster, NULL};
    char route[256] = "";   /* a copy: the tick drops the cached target after writes */
    if (x.wl->k == CDK_KNATIVE) {   /* {{ route }}: the latest revision, as Flagger's */
        cd_err terr = {{0}};
        const json_t *svc = cdk_target(&x, &terr);
        snprintf(route, sizeof route, "%s", svc ? kj_str(svc, "status.latestCreatedRevisionName") ?: "" : "");
        mcfg.route = route;
    }
    cd_notify_config ncfg = op->notify;
    ncfg.store = &store;
    ncfg.secrets = &op->secrets;
    tick_io io = {op, canary, ns, name, key};

    cd_ports ports;
    memset(&ports, 0, sizeof ports);
    bool sts = x.wl->k == CDK_STATEFULSET;
    cdk_sts_mesh mesh;   /* a StatefulSet under a mesh router: its weights follow */
    if (sts) {
        cdk_statefulset_ports(&ports.workload, &ports.router, &x);
        if (cdk_statefulset_mesh_supported(x.router->provider))
            cdk_statefulset_mesh_ports(&mesh, &ports.workload, &ports.router, &x);
    } else if (x.wl->k == CDK_KNATIVE) {
        cdk_knative_workload_port(&ports.workload, &x);
        cdk_router_port(&ports.router, &x);
    } else if (x.wl->k == CDK_SERVICE) {
        cdk_service_workload_port(&ports.workload, &x);
        cdk_router_port(&ports.router, &x);
    } else {
        cdk_workload_port(&ports.workload, &x);
        cdk_router_port(&ports.router, &x);
    }
    ports.metrics = cd_metrics_port_make(&mcfg);
    ports.hooks = cd_hooks_port_make(&op->hooks);
    ports.notifier = cd_notifier_port_make(&ncfg);
    ports.events = (cd_events_port){&io, event_record};
    ports.status = (cd_status_port){&io, status_save};
    ports.clock = (cd_clock_port){&io, clock_now};
    ports.registry = op->registry;

    cd_canary_status st;
    cd_status_init(&st);
    cd_status_copy(&st, &obj->status);
    adopt_foreign_hash(op, &x, &st);
    cdk_gates gates;   /* canaryctl's annotations, as webhook gates */
    cdk_gates_begin(&gates, op, canary, key, &obj->spec.canary.analysis, &st, &ports.hooks);
    /* a StatefulSet runs the canary strategy on its partition, whatever
     * -mesh-provider says ("statefulset" is no router: the engine steps) */
    cd_canary_ref ref = {&obj->meta, &obj->spec.canary, &st, sts ? "statefulset" : NULL, NULL};
    /* the updated pods' controller-revision-hash, for the builtin metrics
     * and {{ revision }} (read now: the tick may forget the target) */
    char revision[256] = "";
    if (sts) {
        cd_err ignored;
        const json_t *t = cdk_target(&x, &ignored);
        const char *rev = t ? kj_str(t, "status.updateRevision") : NULL;
        snprintf(revision, sizeof revision, "%s", rev ? rev : "");
        ref.revision = revision;
    }
    cd_rc rc = cd_engine_tick(&op->engine, &ports, &ref);
    cd_logf(CD_LOG_DEBUG, key, "tick done: phase %s, canary weight %d (%s)",
            cd_phase_name(st.phase), st.canary_weight,
            rc == CD_OK ? "ok" : rc == CD_RETRY ? "waiting" : "error");
    cdk_gates_end(&gates);

    cd_status_free(&st);
    cd_metrics_port_release(&ports.metrics);
    cd_hooks_port_release(&ports.hooks);
    cdk_lookups_release(&lk);
    cdk_ctx_release(&x);
    cd_object_free(obj);
    json_decref(canary);
}
