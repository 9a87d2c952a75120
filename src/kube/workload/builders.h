/* builders.h - the Kubernetes workload side of a canary as pure functions
 * (reference §7.1, §2.3, §2.8, §7.2): which selector label a target uses,
 * the <target>-primary Deployment/DaemonSet built from the target, what
 * promotion copies, config tracking (which ConfigMaps and Secrets a pod
 * spec uses, their checksums, the -primary renames), readiness, the hash
 * of a target, the ports a service discovers, and the primary HPA.
 *
 * Objects in, objects out (jansson values); never does I/O, never reads
 * the clock or random numbers (callers pass them in), so every rule here
 * is unit-tested against Flagger's behaviours. */
#ifndef CD_KUBE_WORKLOAD_BUILDERS_H
#define CD_KUBE_WORKLOAD_BUILDERS_H
#include "kube/tick_types.h"
#include "model/canary.h"
#include "util/err.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CDK_DEPLOYMENT, CDK_DAEMONSET, CDK_STATEFULSET, CDK_KNATIVE, CDK_SERVICE } cdk_kind;

/* The scale-to-zero node selector of DaemonSet targets. */
#define CDK_SCALE_TO_ZERO_KEY "flagger.app/scale-to-zero"
#define CDK_FLAGGER_ID "flagger-id"
#define CDK_CONFIG_TRACKING_ANNOTATION "flagger.app/config-tracking"

/* ---- selector label and metadata --------------------------------------- */

/* The first of labels (in order) present in spec.selector.matchLabels.
 * False with err "deployment web.ns spec.selector.matchLabels must contain
 * one of [app name app.kubernetes.io/name]". label/value point into obj. */
bool cdk_selector_label(const json_t *obj, cdk_kind kind, const cd_strlist *labels,
                        const char **label, const char **value, cd_err *err);

/* Labels whose key starts with one of prefixes ("*" keeps all; none when
 * prefixes is empty), never keys containing "toolkit.fluxcd.io": Flagger's
 * -include-label-prefix. New object. */
json_t *cdk_filter_by_prefix(const json_t *map, const cd_strlist *prefixes);
/* map without keys containing "toolkit.fluxcd.io". New object. */
json_t *cdk_without_toolkit(const json_t *map);
/* map without Flux's keys, with label set to value. New object. */
json_t *cdk_with_label(const json_t *map, const char *label, const char *value);
/* Pod annotations without Flux's keys, with flagger-id set to id (forces a
 * rolling update). */
json_t *cdk_pod_annotations(const json_t *annotations, const char *id);

/* ---- config tracking (§2.3) ------------------------------------------------ */

/* cdk_config_kind, cdk_config_ref(s): kube/tick_types.h */

bool cdk_config_refs_has(const cdk_config_refs *r, cdk_config_kind kind, const char *name);
void cdk_config_refs_add(cdk_config_refs *r, cdk_config_kind kind, const char *name, bool optional);

/* Every ConfigMap and Secret a pod spec uses: volumes (configMap, secret,
 * projected sources), env[].valueFrom.{configMapKeyRef,secretKeyRef} and
 * envFrom[].{configMapRef,secretRef} of containers and initContainers. */
void cdk_scan_config_refs(const json_t *pod_spec, cdk_config_refs *out);

/* Whether a fetched ConfigMap/Secret is tracked: not annotated
 * flagger.app/config-tracking: disabled*, and for Secrets of type Opaque
 * (or none), kubernetes.io/basic-auth, ssh-auth or tls. */
bool cdk_config_trackable(const json_t *obj, cdk_config_kind kind);

/* Flagger's checksum of a config's data: the first 8 bytes of SHA-256
 * over the data map encoded as Go's encoding/json does (sorted keys, HTML
 * escaping), in hex: identical to Go Flagger's trackedConfigs values. */
void cdk_config_checksum(const json_t *data, char out[17]);
/* "configmap/<name>" or "secret/<name>". */
const char *cdk_config_key(cdk_config_kind kind, const char *name, char *out, size_t n);

/* The -primary copy of a tracked config: same data (and type), labels
 * filtered by prefixes, the canary's controller ownerRef plus the
 * original's foreign ownerRefs (not as controller). New object. */
json_t *cdk_primary_config(const json_t *config, cdk_config_kind kind, const cd_strlist *prefixes,
                           const json_t *owner_ref);

/* Renames every reference to a tracked config in a pod spec to
 * <name>-primary (in place). */
void cdk_rename_config_refs(json_t *pod_spec, const cdk_config_refs *tracked);

/* ---- the primary workload (§7.1) ---------------------------------------- */

typedef struct cdk_primary_in {
    cdk_kind kind;
    const json_t *target;            /* the target Deployment/DaemonSet */
    const cd_strlist *selector_labels; /* -selector-labels */
    const cd_strlist *label_prefixes;  /* -include-label-prefix */
    const cdk_config_refs *tracked;  /* configs renamed to -primary; may be NULL */
    const json_t *owner_ref;         /* the Canary's controller ownerReference */
    const char *flagger_id;          /* a fresh UUID for the pod annotations */
    bool has_autoscaler;             /* autoscalerRef set: promotion keeps replicas */
} cdk_primary_in;

/* The pod spec the primary runs: the target's with tracked configs
 * renamed, pod anti-affinity and topology spread selectors that name the
 * target (under a selector-label key) pointing at <target>-primary, and
 * (DaemonSets) without the scale-to-zero node selector. New object. */
json_t *cdk_primary_pod_spec(const cdk_primary_in *in);

/* The <target>-primary object to create. NULL with err when the target
 * has no usable selector label. */
json_t *cdk_primary_build(const cdk_primary_in *in, cd_err *err);

/* Promotion: copies the target onto the primary (in place): strategy /
 * updateStrategy, minReadySeconds, revisionHistoryLimit,
 * progressDeadlineSeconds, replicas (Deployments without autoscaler), the
 * pod spec, pod labels and pod annotations with a new flagger-id, and the
 * object's labels and annotations filtered by prefixes. */
bool cdk_primary_promote(json_t *primary, const cdk_primary_in *in, cd_err *err);

/* ---- change detection --------------------------------------------------- */

/* lastAppliedSpec: cd_json_hash of spec.template (DaemonSets: without the
 * scale-to-zero node selector, nodeSelector absent = {}). */
void cdk_target_hash(const json_t *target, cdk_kind kind, char out[CD_HASH_MAX]);

/* ---- readiness (§2.8) --------------------------------------------------- */

/* CD_OK ready; CD_RETRY not yet (msg says why); CD_FATAL stuck for good
 * (progress deadline). threshold_pct: primary/canaryReadyThreshold. */
cd_rc cdk_deployment_ready(const json_t *dep, int deadline_s, int threshold_pct, int64_t now_ms,
                           char *msg, size_t msglen);
/* DaemonSets: stuck when not ready past the canary's lastTransitionTime +
 * deadline. */
cd_rc cdk_daemonset_ready(const json_t *ds, int deadline_s, int threshold_pct,
                          int64_t last_transition_ms, int64_t now_ms, char *msg, size_t msglen);

/* ---- StatefulSet partitions (partition.c, docs/statefulset.md) ------------ */

/* The RollingUpdate partition that puts canary weight w (percent) of
 * replicas on the update revision: ordinals >= it update. Any w > 0
 * updates at least one pod; 100 gives 0. */
int cdk_sts_partition_for(int replicas, int weight);
/* The updated share a partition gives, in percent (rounded down). */
int cdk_sts_weight_of(int replicas, int partition);

typedef struct cdk_sts_view {
    int replicas, partition;            /* spec.replicas, rollingUpdate.partition (OnDelete:
                                           canaryd's own, see statefulset.c) */
    bool rolling;                       /* updateStrategy RollingUpdate (else OnDelete) */
    int64_t generation, observed;
    int ready, updated, status_replicas;
    const char *current_rev, *update_rev;
} cdk_sts_view;
/* Reads a StatefulSet (missing fields: Kubernetes' defaults). */
void cdk_sts_read(const json_t *sts, cdk_sts_view *v);
/* Is the set where the partition puts it: every ordinal >= partition on
 * updateRevision (all of them when all), at least threshold_pct of the
 * pods ready, the spec observed? CD_OK, or CD_RETRY with msg. */
cd_rc cdk_sts_ready(const cdk_sts_view *v, bool all, int threshold_pct, char *msg, size_t msglen);
/* Has the last rollout completed (every pod updated and ready; with
 * RollingUpdate also currentRevision = updateRevision)? */
bool cdk_sts_converged(const cdk_sts_view *v);

/* ---- replicas ------------------------------------------------------------- */

/* ScaleFromZero's replica count: the target's when > 0; else (without an
 * autoscaler) the primary's when > 0; else the HPA's minReplicas when > 1;
 * else 1. primary and hpa may be NULL. */
int cdk_scale_up_replicas(const json_t *target, const json_t *primary, const json_t *hpa,
                          bool has_autoscaler);

/* ---- port discovery --------------------------------------------------------- */

/* cdk_port: kube/tick_types.h */

/* Every container port of the target (sidecars istio-proxy and envoy
 * excepted) other than the service's main one, named by its port name or
 * tcp-<container>-<index>, sorted by name. *out is malloc'd. */
size_t cdk_discover_ports(const json_t *target, const cd_service *svc, cdk_port **out);

/* ---- autoscaler (§7.2) ------------------------------------------------------- */

/* The primary HPA <hpa>-primary for an autoscaling/v2 HPA: scaleTargetRef
 * <target>-primary (kind and apiVersion kept), min/max/metrics/behavior
 * copied then overridden by primaryScalerReplicas, labels without toolkit
 * keys, the canary's ownerRef. New object. */
json_t *cdk_primary_hpa(const json_t *hpa, const char *primary_name, const cd_autoscaler_ref *ref,
                        const json_t *owner_ref);
/* Copies min/max/metrics/behavior from desired onto live when they differ;
 * returns whether it changed anything. */
bool cdk_hpa_update(json_t *live, const json_t *desired);

/* KEDA (scaledobject.c, Flagger's ScaledObjectReconciler). The primary
 * ScaledObject <so>-primary for the canary's: scaleTargetRef
 * <target>-primary (kind, apiVersion, envSourceContainerName kept);
 * pollingInterval, cooldownPeriod, idleReplicaCount, min/maxReplicaCount
 * (then primaryScalerReplicas), advanced (its HPA name, when set, gets
 * -primary), fallback and the triggers copied. A trigger's
 * metadata.query becomes, with primaryScalerQueries, the query named
 * after the trigger; without it, the query with <target> and
 * <target>-canary both renamed <target>-primary. Labels and annotations
 * without Flux's keys, the canary's ownerRef. New object. */
json_t *cdk_primary_scaled_object(const json_t *so, const char *target, const cd_autoscaler_ref *ref,
                                  const json_t *owner_ref);
/* Copies the desired spec onto live when it differs; returns whether it
 * changed anything. */
bool cdk_scaled_object_update(json_t *live, const json_t *desired);
/* The query with every <target>-canary and <target> renamed
 * <target>-primary (names inside longer words too, as Flagger's). New. */
char *cdk_primary_scaler_query(const char *query, const char *target);
/* KEDA's annotation pausing a ScaledObject at a replica count. */
#define CDK_KEDA_PAUSED_REPLICAS "autoscaling.keda.sh/paused-replicas"

/* ---- plain Service targets (service.c) ------------------------------------------ */

/* The copy <name> of a target Service (Flagger's buildService): its
 * labels, annotations without kubectl's record, the canary's ownerRef,
 * its spec without the cluster-assigned clusterIP(s) (kept "None" when
 * headless), node ports and health-check node port, and
 * trafficDistribution when given. New object. */
json_t *cdk_service_copy(const json_t *src, const char *name, const char *traffic_distribution,
                         const json_t *owner_ref);

/* ---- Knative Service targets (knative_objects.c) ------------------------------- */

/* Flagger's annotation on the Knative Service naming the promoted revision. */
#define CDK_KNATIVE_PRIMARY_REVISION "flagger.app/primary-revision"

/* What a Knative canary cannot do (Knative splits by percent only, as
 * Flagger's KnativeRouter): mirroring, session affinity, A/B matches.
 * False with err naming the field. */
bool cdk_knative_check(const cd_canary_spec *spec, cd_err *err);
/* spec.traffic for a split: the latest revision at canary percent, the
 * primary revision at primary percent (Flagger's order). New array. */
json_t *cdk_knative_traffic(const char *primary_revision, int primary, int canary);
/* The split spec.traffic holds: the latestRevision entry is the canary,
 * the entry naming primary_revision (not the latest one) the primary, or
 * the only other entry (the previous primary, right after a promotion).
 * False with msg when either is missing or has no percent. */
bool cdk_knative_routes(const json_t *svc, const char *primary_revision, int *primary, int *canary,
                        char *msg, size_t msglen);
/* Readiness of a revision from the Service's status (Knative Services
 * report it: latestReadyRevisionName, the revisions status.traffic routes
 * to, ConfigurationsReady False when the latest revision failed):
 * CD_OK ready, CD_RETRY not yet (msg says why). */
cd_rc cdk_knative_revision_ready(const json_t *svc, const char *revision, char *msg, size_t msglen);

#endif
