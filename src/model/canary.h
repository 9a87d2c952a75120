/* canary.h - the flagger.app/v1beta1 Canary as C structs: spec (every field
 * of Flagger's CanarySpec) and status. Strings in a spec point into the
 * owning object's arena and are read-only; the status is a separate value
 * that the engine mutates (see status.h). Pure data: no I/O here. */
#ifndef CD_CANARY_H
#define CD_CANARY_H
#include "model/node.h"
#include "model/status.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cd_kv { const char *key, *value; } cd_kv;
typedef struct cd_strmap { cd_kv *items; size_t n; } cd_strmap;
typedef struct cd_strlist { const char **items; size_t n; } cd_strlist;

const char *cd_strmap_get(const cd_strmap *m, const char *key);

/* Istio StringMatch / Flagger header match: at most one member is set. */
typedef struct cd_string_match { const char *exact, *prefix, *suffix, *regex; } cd_string_match;
typedef struct cd_named_match { const char *name; cd_string_match match; } cd_named_match;
typedef struct cd_named_matches { cd_named_match *items; size_t n; } cd_named_matches;

static inline bool cd_string_match_set(const cd_string_match *m)
{
    return m->exact || m->prefix || m->suffix || m->regex;
}

/* Istio HTTPMatchRequest (service.match, analysis.match). */
typedef struct cd_http_match {
    const char *name;
    cd_string_match uri, scheme, method, authority;
    cd_named_matches headers, query_params, without_headers;
    bool has_port;
    int32_t port;
    cd_strmap source_labels;
    cd_strlist gateways;
    bool ignore_uri_case;
    const char *source_namespace;
} cd_http_match;

typedef struct cd_object_ref {
    const char *api_version, *kind, *name, *namespace_;
} cd_object_ref;

typedef struct cd_autoscaler_ref {
    bool set;
    cd_object_ref ref;
    cd_strmap primary_scaler_queries;
    bool has_min_replicas, has_max_replicas;
    int32_t min_replicas, max_replicas;
} cd_autoscaler_ref;

/* Gateway API ParentReference (service.gatewayRefs). */
typedef struct cd_parent_ref {
    const char *group, *kind, *name, *namespace_, *section_name;
    bool has_port;
    int32_t port;
} cd_parent_ref;

/* Gateway API BackendObjectReference (service.mirror[].backendRef). */
typedef struct cd_backend_ref {
    const char *group, *kind, *name, *namespace_;
    bool has_port;
    int32_t port;
} cd_backend_ref;

typedef struct cd_retries {
    bool set;
    bool has_attempts;
    int32_t attempts;
    const char *per_try_timeout, *retry_on;
} cd_retries;

typedef struct cd_rewrite { const char *uri, *authority, *type; } cd_rewrite;

typedef struct cd_header_ops {
    cd_strmap set, add;
    cd_strlist remove;
} cd_header_ops;

typedef struct cd_headers {
    bool has_request, has_response;
    cd_header_ops request, response;
} cd_headers;

typedef struct cd_cors {
    bool set;
    cd_strlist allow_origin, allow_methods, allow_headers, expose_headers;
    cd_string_match *allow_origins;
    size_t n_allow_origins;
    const char *max_age;
    bool has_allow_credentials, allow_credentials;
} cd_cors;

typedef struct cd_metadata { cd_strmap labels, annotations; } cd_metadata;
typedef struct cd_unmanaged { cd_strlist annotations, labels; } cd_unmanaged;

typedef struct cd_int_or_string {
    bool set, is_string;
    int32_t num;
    const char *str;
} cd_int_or_string;

typedef struct cd_service {
    const char *name;           /* default: targetRef.name */
    int32_t port;
    const char *port_name;      /* default "http" */
    cd_int_or_string target_port;   /* default: port */
    const char *app_protocol, *traffic_distribution;
    bool port_discovery, headless, delegation;
    const char *timeout, *backend_timeout, *mesh_name;
    cd_strlist backends, hosts, gateways;
    cd_parent_ref *gateway_refs;
    size_t n_gateway_refs;
    cd_http_match *match;
    size_t n_match;
    cd_retries retries;
    cd_rewrite rewrite;
    bool has_rewrite;
    cd_headers headers;
    cd_backend_ref *mirror;
    size_t n_mirror;
    cd_cors cors;
    const cd_node *traffic_policy;   /* Istio TrafficPolicy, passed through as is */
    cd_metadata apex, primary, canary;
    bool has_apex, has_primary, has_canary;
    cd_unmanaged unmanaged;
} cd_service;

/* canaryd extension of analysis.metrics[]: the statistical judge. */
typedef struct cd_judge_spec cd_judge_spec;

typedef struct cd_metric {
    const char *name;
    const char *interval;       /* as written; builtin metrics default "1m" */
    int64_t interval_ms;        /* parsed interval, 0 when empty */
    bool has_threshold;         /* deprecated single threshold */
    double threshold;
    bool has_min, has_max;      /* thresholdRange */
    double min, max;
    const char *query;          /* deprecated inline PromQL */
    const char *template_name, *template_namespace;   /* templateRef */
    cd_strmap template_variables;
    const cd_judge_spec *judge; /* NULL: plain Flagger threshold check */
} cd_metric;

typedef enum {
    CD_HOOK_ROLLOUT = 0,        /* "" or "rollout" */
    CD_HOOK_CONFIRM_ROLLOUT,
    CD_HOOK_PRE_ROLLOUT,
    CD_HOOK_CONFIRM_PROMOTION,
    CD_HOOK_POST_ROLLOUT,
    CD_HOOK_EVENT,
    CD_HOOK_ROLLBACK,
    CD_HOOK_CONFIRM_TRAFFIC_INCREASE,
} cd_hook_type;
const char *cd_hook_type_name(cd_hook_type t);
bool cd_hook_type_parse(const char *s, cd_hook_type *t);

typedef struct cd_webhook {
    cd_hook_type type;
    const char *type_raw;       /* as written ("" allowed) */
    const char *name, *url;
    bool mute_alert;
    const char *timeout;        /* as written */
    int64_t timeout_ms;         /* effective: default 10s */
    cd_strmap metadata;
    int retries;
    bool disable_tls;
} cd_webhook;

typedef enum { CD_SEV_INFO = 0, CD_SEV_WARN, CD_SEV_ERROR } cd_severity;
const char *cd_severity_name(cd_severity s);

typedef struct cd_alert {
    const char *name;
    const char *severity_raw;   /* "", info, warn, error */
    cd_severity severity;       /* "" means info (see docs/compatibility.md) */
    const char *provider_name, *provider_namespace;
} cd_alert;

typedef struct cd_session_affinity {
    bool set;
    const char *cookie_name, *primary_cookie_name, *domain, *path, *same_site;
    bool http_only, partitioned, secure;
    int64_t max_age;            /* default 86400 */
} cd_session_affinity;

typedef struct cd_analysis {
    bool set;
    const char *interval;       /* as written */
    int64_t interval_ms;        /* effective: default 60s, at least 10s */
    int iterations;
    int threshold;              /* effective: at least 1 */
    int max_weight;             /* effective (see cd_analysis_max_weight) */
    int max_weight_raw;         /* as written, 0 when absent */
    int step_weight;
    int *step_weights;
    size_t n_step_weights;
    int step_weight_promotion;
    bool mirror;
    bool has_mirror_weight;
    int mirror_weight;
    int primary_ready_threshold;    /* default 100 */
    int canary_ready_threshold;     /* default 100 */
    bool has_iterations, has_step_weight, has_threshold, has_max_weight;
    cd_http_match *match;
    size_t n_match;
    cd_session_affinity session_affinity;
    cd_metric *metrics;
    size_t n_metrics;
    cd_webhook *webhooks;
    size_t n_webhooks;
    cd_alert *alerts;
    size_t n_alerts;
} cd_analysis;

/* spec.rollbackWindow (canaryd's extension, docs/rollback.md): a new
 * target revision equal to one of the last `revisions` promoted ones (the
 * primary's included) is promoted at once, without analysis; with maxAge,
 * only if it served as the primary within that time. */
typedef struct cd_rollback_window {
    bool set;
    int revisions;              /* 1..CD_PROMOTED_MAX */
    const char *max_age;        /* as written, NULL when absent */
    int64_t max_age_ms;         /* 0: no age limit */
} cd_rollback_window;

typedef struct cd_canary_spec {
    const char *provider;       /* NULL/"" -> the controller's global provider */
    const char *metrics_server;
    cd_object_ref target_ref;
    cd_autoscaler_ref autoscaler_ref;
    cd_object_ref ingress_ref, route_ref, upstream_ref;
    bool has_ingress_ref, has_route_ref, has_upstream_ref;
    cd_service service;
    cd_analysis analysis;       /* from analysis, or deprecated canaryAnalysis */
    bool analysis_from_deprecated;
    int32_t progress_deadline_seconds;  /* default 600 */
    bool skip_analysis, revert_on_deletion, suspend;
    cd_rollback_window rollback_window;
} cd_canary_spec;

typedef struct cd_object_meta {
    const char *name, *namespace_;
    const char *uid, *resource_version;
    int64_t generation;
    cd_strmap labels, annotations;
} cd_object_meta;

typedef enum {
    CD_STRATEGY_CANARY, CD_STRATEGY_BLUE_GREEN, CD_STRATEGY_AB_TESTING
} cd_strategy;
const char *cd_strategy_name(cd_strategy s);   /* canary, blue-green, ab-testing */

/* Derived values, as Flagger computes them. */
cd_strategy cd_canary_strategy(const cd_canary_spec *s);
int cd_analysis_max_weight(const cd_analysis *a);
const char *cd_canary_service_name(const cd_canary_spec *s);   /* S */
bool cd_metric_is_builtin(const cd_metric *m);

#endif
