/* workload.h - the engine's workload port (ports.h) over Kubernetes
 * workloads, one file per target kind behind a table of function pointers
 * (deployment.c, daemonset.c): primary creation, readiness, promotion,
 * scaling, config tracking and the primary HPA. The shared logic is in
 * port.c; what differs by kind is in cdk_workload_ops. */
#ifndef CD_KUBE_WORKLOAD_WORKLOAD_H
#define CD_KUBE_WORKLOAD_WORKLOAD_H
#include "kube/platform.h"
#include "kube/workload/builders.h"
#include "ports.h"

typedef struct cdk_workload_ops {
    const char *kind;                   /* targetRef.kind */
    cdk_kind k;
    const cd_kube_resource *resource;
    const char *word;                   /* "deployment", "daemonset" in messages */
    bool autoscalers;                   /* an HPA may scale it */
    /* readiness of obj (the target or its primary) with a threshold */
    cd_rc (*ready)(cdk_ctx *x, const cd_canary_ref *c, const json_t *obj, int threshold_pct,
                   char *msg, size_t msglen);
    cd_rc (*scale_to_zero)(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
    cd_rc (*scale_from_zero)(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
    /* revertOnDeletion: give the target back its replicas */
    cd_rc (*restore)(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
} cdk_workload_ops;

extern const cdk_workload_ops cdk_deployment_ops, cdk_daemonset_ops, cdk_statefulset_ops;

/* StatefulSet targets (statefulset.c) have no primary: both the workload
 * and the router port work on the StatefulSet's partition. */
void cdk_statefulset_ports(cd_workload_port *wp, cd_router_port *rp, cdk_ctx *x);
/* Its promote (partition 0; ctx: the cdk_ctx), for kube/router's mesh wrapper. */
cd_rc cdk_statefulset_promote(void *ctx, const cd_canary_ref *c, cd_err *err);

/* The ops for a targetRef.kind, or NULL. */
const cdk_workload_ops *cdk_workload_find(const char *kind);
/* The ops for a targetRef (kind Service with apiVersion
 * serving.knative.dev/... is a Knative Service), or NULL. */
const cdk_workload_ops *cdk_workload_for_target(const char *kind, const char *api_version);

/* Knative Service targets (knative.c, docs/knative.md): no primary copy;
 * the workload port over the Service's revisions. */
extern const cdk_workload_ops cdk_knative_ops;
void cdk_knative_workload_port(cd_workload_port *p, cdk_ctx *x);
/* Plain Service targets (service.c): <svc>-canary and <svc>-primary copies. */
extern const cdk_workload_ops cdk_service_ops;
void cdk_service_workload_port(cd_workload_port *p, cdk_ctx *x);
/* The annotation flagger.app/primary-revision of a Knative Service, or NULL. */
const char *cdk_knative_primary_revision(const json_t *svc);
/* Merge-patches the target Knative Service with patch (taken) and drops
 * the cached target. */
cd_rc cdk_knative_patch(cdk_ctx *x, json_t *patch, cd_err *err);

/* The engine's workload port over x (x must outlive the port). */
void cdk_workload_port(cd_workload_port *p, cdk_ctx *x);

/* Does the primary run exactly what the target specifies (pod spec as the
 * primary gets it, pod labels, pod annotations but flagger-id)? Used to
 * adopt canaries whose lastAppliedSpec another implementation wrote (Go
 * Flagger's hashes differ from canaryd's). False on any doubt. */
bool cdk_primary_matches_target(cdk_ctx *x);

/* KEDA ScaledObjects (keda.c): the primary's, and the canary's paused at
 * 0 replicas / resumed. */
cd_rc cdk_keda_reconcile(cdk_ctx *x, const cd_canary_ref *c, bool init, cd_err *err);
cd_rc cdk_keda_pause(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
cd_rc cdk_keda_resume(cdk_ctx *x, const cd_canary_ref *c, cd_err *err);
/* autoscalerRef.kind is ScaledObject. */
bool cdk_is_scaled_object(const cd_canary_ref *c);

/* Helpers for the kind files. */
bool cdk_random_uuid(char out[37]);
/* GET of the target's primary. */
bool cdk_get_primary(cdk_ctx *x, json_t **out, cd_kube_err *err);

/* The target (workload/target.c), read once per tick (NULL with err when it cannot be read). */
const json_t *cdk_target(cdk_ctx *x, cd_err *err);
/* Drops the cached target (after a write to it). */
void cdk_target_forget(cdk_ctx *x);
/* Selector label, its value and the discovered ports (Flagger's
 * GetMetadata). */
bool cdk_target_metadata(cdk_ctx *x, cd_err *err);

#endif
