/* ports.h - everything the engine needs from the outside world, as structs
 * of function pointers (one struct per concern, each with its own ctx).
 * The engine (src/engine/) is pure: it never does I/O except through
 * these. Platforms implement them: the Kubernetes operator (src/kube/),
 * the local platform (src/local/) and the simulator (canaryctl simulate).
 *
 * The shapes follow Flagger's Go interfaces (canary.Controller,
 * router.Interface, router.KubernetesRouter, observers/providers, the
 * webhook caller and the notifier) so that the engine can follow
 * docs/flagger-behaviour.md §2 step by step.
 *
 * Conventions: every call gets the canary being ticked (cd_canary_ref)
 * and, when it can fail, a cd_err to explain why (its text ends up in
 * events, so write it for users). A port function pointer may be NULL
 * where noted: the engine then treats the call as a successful no-op. */
#ifndef CD_PORTS_H
#define CD_PORTS_H
#include "model/canary.h"
#include "model/status.h"
#include "util/err.h"  /* cd_err, cd_rc */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/* The canary being ticked. The engine mutates *status; it never keeps
 * any pointer after the tick returns. */
typedef struct cd_canary_ref {
    const cd_object_meta *meta;     /* name, namespace */
    const cd_canary_spec *spec;
    cd_canary_status *status;
    const char *provider;           /* effective: spec.provider or the global one */
    /* A StatefulSet target's status.updateRevision: the
     * controller-revision-hash of its updated pods, {{ revision }} in
     * metric queries (docs/statefulset.md); NULL for other targets. */
    const char *revision;
} cd_canary_ref;

/* The workload being released and its primary copy (Flagger's
 * canary.Controller): Deployment/DaemonSet on Kubernetes, a process set
 * locally. */
typedef struct cd_workload_port {
    void *ctx;
    /* Creates the primary if missing (step 9). When require_ready, also
     * checks that the primary is ready: CD_RETRY while it is not,
     * CD_FATAL when it never will be. */
    cd_rc (*initialize)(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err);
    cd_rc (*is_primary_ready)(void *ctx, const cd_canary_ref *c, cd_err *err);
    cd_rc (*is_canary_ready)(void *ctx, const cd_canary_ref *c, cd_err *err);
    /* Hash of the target's spec (Deployment pod template, LocalWorkload
     * spec) and the checksums of the configs it uses (may be NULL: no
     * config tracking). The engine compares them with the status. */
    cd_rc (*target_hash)(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX], cd_err *err);
    /* Fills the tracked configs into the status-shaped array; *present
     * false means "tracking off" (nil in Flagger). *items stays owned by
     * the port (valid until its next call for this canary); the engine
     * copies what it keeps. May be NULL. */
    cd_rc (*tracked_configs)(void *ctx, const cd_canary_ref *c, cd_tracked_config **items,
                             size_t *n, bool *present, cd_err *err);
    cd_rc (*promote)(void *ctx, const cd_canary_ref *c, cd_err *err);       /* copy canary -> primary */
    cd_rc (*scale_to_zero)(void *ctx, const cd_canary_ref *c, cd_err *err);
    cd_rc (*scale_from_zero)(void *ctx, const cd_canary_ref *c, cd_err *err);
    /* Autoscaler handling (steps 10, 19, 24, 25); each may be NULL. */
    cd_rc (*reconcile_primary_scaler)(void *ctx, const cd_canary_ref *c, bool init, cd_err *err);
    cd_rc (*pause_target_scaler)(void *ctx, const cd_canary_ref *c, cd_err *err);
    cd_rc (*resume_target_scaler)(void *ctx, const cd_canary_ref *c, cd_err *err);
} cd_workload_port;

/* Traffic routing (Flagger's KubernetesRouter + router.Interface). */
typedef struct cd_router_port {
    void *ctx;
    /* App Mesh needs its virtual nodes before the primary pods start:
     * when true, reconcile_mesh runs at step 8 instead of step 13. */
    bool reconcile_mesh_first;
    /* Services <svc>-canary and <svc>-primary (step 6); may be NULL. */
    cd_rc (*initialize_services)(void *ctx, const cd_canary_ref *c, cd_err *err);
    /* The apex service <svc> selecting the primary (step 11); may be NULL. */
    cd_rc (*reconcile_apex)(void *ctx, const cd_canary_ref *c, cd_err *err);
    /* Mesh or ingress objects, keeping current weights (step 8/13); may be NULL. */
    cd_rc (*reconcile_mesh)(void *ctx, const cd_canary_ref *c, cd_err *err);
    cd_rc (*get_routes)(void *ctx, const cd_canary_ref *c, int *primary_weight,
                        int *canary_weight, bool *mirrored, cd_err *err);
    cd_rc (*set_routes)(void *ctx, const cd_canary_ref *c, int primary_weight, int canary_weight,
                        bool mirrored, cd_err *err);
} cd_router_port;

typedef enum {
    CD_METRIC_OK = 0,
    CD_METRIC_NO_DATA,      /* empty result, NaN: Flagger's ErrNoValuesFound */
    CD_METRIC_ERROR,        /* query failed, template missing, ... */
} cd_metric_rc;

/* The primary's history for the statistical judge (cd_metrics_port.history). */
typedef struct cd_metric_history {
    uint64_t requests, failed;      /* errors test; latency: requests behind p50/p99 */
    double *values;                 /* latency test: sample values, or NULL with ... */
    size_t n_values;
    double p50, p99;                /* ... a summary (a router's histogram) */
    int64_t covered_ms;             /* how much of the span the source had data for */
} cd_metric_history;

/* Where metric values come from: builtin queries (request-success-rate,
 * request-duration) rendered for the provider, inline queries, and
 * MetricTemplates. The provider returns one number; the engine compares
 * it with the thresholds. request-duration values are in milliseconds.
 * A metric is evaluated by its templateRef when set, else by its inline
 * query, else by the builtin query of its name (the engine words its
 * events and units the same way). */
typedef struct cd_metrics_port {
    void *ctx;
    /* On NO_DATA and ERROR, err->msg is the complete warning event
     * (Flagger's text, e.g. "Prometheus query failed: ..."); when it is
     * empty the engine words a generic one. */
    cd_metric_rc (*query)(void *ctx, const cd_canary_ref *c, const cd_metric *m, double *value,
                          cd_err *err);
    /* Availability check at initialization (§3.6); may be NULL (then no
     * "all the metrics providers are available!" event either). */
    cd_rc (*check_providers)(void *ctx, const cd_canary_ref *c, cd_err *err);
    /* The statistical judge (src/judge/, docs/judge.md), for metrics with
     * cd_metric.judge set. Both read one side, "canary" or "primary",
     * over the metric's window: the m->interval_ms that ends now (for a
     * judged metric the analysis interval, so that consecutive windows do
     * not overlap). CD_METRIC_NO_DATA means "no samples in the window".
     * samples: the values of a judged latency metric (per-request
     * latencies in ms from a router, or per-step values of a series);
     * *values stays owned by the port, valid until its next call. May be
     * NULL. */
    cd_metric_rc (*samples)(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                            const char *which /* "canary" | "primary" */, double **values,
                            size_t *n, cd_err *err);
    /* counts: requests and failed requests of a judged errors metric. May
     * be NULL: the judge then reads samples(), one value per request,
     * non-zero for a failure. */
    cd_metric_rc (*counts)(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                           const char *which, uint64_t *total, uint64_t *failed, cd_err *err);
    /* history: what the primary did before the release, the judge's
     * baseline (docs/judge.md#history): the primary's requests over the
     * span_ms that ended ago_ms before now (the start of the first judged
     * window). Errors: requests and failed requests; latency: sample
     * values, owned by the port until its next call. NO_DATA: the source
     * has none (a new service). May be NULL (no history anywhere). */
    cd_metric_rc (*history)(void *ctx, const cd_canary_ref *c, const cd_metric *m,
                            int64_t ago_ms, int64_t span_ms, cd_metric_history *out,
                            cd_err *err);
} cd_metrics_port;

/* Webhooks (§4). call returns true on success (HTTP status <= 202). */
typedef struct cd_hooks_port {
    void *ctx;
    bool (*call)(void *ctx, const cd_canary_ref *c, const cd_webhook *w, cd_phase phase,
                 cd_err *err);
    /* Event webhooks: every `type: event` hook of the canary, or the
     * global event webhook when it has none. May be NULL. */
    void (*send_event)(void *ctx, const cd_canary_ref *c, cd_phase phase, const char *event_type,
                       const char *message);
} cd_hooks_port;

/* Alerts (§5): the notifier resolves analysis.alerts (or the global
 * notifier) and applies severity routing. may be NULL. */
typedef struct cd_notifier_port {
    void *ctx;
    void (*alert)(void *ctx, const cd_canary_ref *c, const char *message, bool with_metadata,
                  cd_severity severity);
} cd_notifier_port;

typedef enum { CD_EVENT_NORMAL, CD_EVENT_WARNING } cd_event_type;

/* Events on the canary (Kubernetes Events / the local journal) and logs. */
typedef struct cd_events_port {
    void *ctx;
    void (*record)(void *ctx, const cd_canary_ref *c, cd_event_type type, const char *message);
} cd_events_port;

/* Persists the status wherever it lives (status subresource, state
 * directory). Called at each point where Flagger writes status. */
typedef struct cd_status_port {
    void *ctx;
    cd_rc (*save)(void *ctx, const cd_canary_ref *c, cd_err *err);
} cd_status_port;

typedef struct cd_clock_port {
    void *ctx;
    int64_t (*now_ms)(void *ctx);   /* wall clock, ms since the epoch */
} cd_clock_port;

struct cd_registry;     /* src/telemetry/registry.h: canaryd's own flagger_* metrics */

typedef struct cd_ports {
    cd_workload_port workload;
    cd_router_port router;
    cd_metrics_port metrics;
    cd_hooks_port hooks;
    cd_notifier_port notifier;
    cd_events_port events;
    cd_status_port status;
    cd_clock_port clock;
    struct cd_registry *registry;   /* may be NULL */
} cd_ports;

#endif
