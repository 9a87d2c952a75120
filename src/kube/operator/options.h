/* options.h - `canaryd kube` flags: Flagger's (reference §9) with their
 * defaults, Go-style (-flag value, -flag=value, --flag; booleans as -flag
 * or -flag=false), plus canaryd's few. Parsing is pure: it never reads the
 * environment or files (the SLACK_* / MSTEAMS_* / EVENT_WEBHOOK_URL
 * variables are applied later, as Flagger does). */
#ifndef CD_KUBE_OPERATOR_OPTIONS_H
#define CD_KUBE_OPERATOR_OPTIONS_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cdk_options {
    const char *kubeconfig, *master, *context;
    double qps;                     /* -kubeconfig-qps (100) */
    int burst;                      /* -kubeconfig-burst (250) */
    const char *metrics_server;     /* http://prometheus:9090 */
    int64_t control_loop_ms;        /* -control-loop-interval (10s) */
    const char *log_level;          /* debug */
    bool log_json;                  /* -zap-encoding json (default) | console */
    int port;                       /* 8080: /metrics, /healthz */
    const char *slack_url, *slack_token, *slack_proxy, *slack_user, *slack_channel;
    const char *msteams_url, *msteams_proxy;
    const char *event_webhook;
    const char *include_label_prefix;   /* comma list, "*" = all */
    int threadiness;                /* 2 */
    const char *namespace_;         /* "" = all namespaces */
    const char *mesh_provider;      /* istio (Flagger's default) */
    const char *ingress_annotations_prefix;  /* nginx.ingress.kubernetes.io */
    const char *ingress_class;      /* "" */
    const char *selector_labels;    /* app,name,app.kubernetes.io/name */
    bool leader_election;
    const char *leader_election_namespace;  /* kube-system; -namespace wins */
    bool config_tracking;           /* true */
    const char *cluster_name;
    bool no_cross_namespace_refs;
    bool dashboard;                 /* -dashboard: read-only pages under /ui on -port */
    /* canaryd's own */
    int64_t interval_override_ms;   /* -interval-override: 0 = analysis.interval */
    const char *lease_name;         /* -leader-election-lease (canaryd-leader-election) */
    int64_t lease_duration_ms;      /* -leader-election-lease-duration (60s) */
    int64_t renew_deadline_ms;      /* -leader-election-renew-deadline (15s) */
    int64_t retry_period_ms;        /* -leader-election-retry-period (5s) */
    int64_t shutdown_grace_ms;      /* -shutdown-grace (15s) */
} cdk_options;

void cdk_options_defaults(cdk_options *o);

/* 0: parsed; 1: -h or -version handled (printed to out), exit 0; 2: bad
 * flags (explained on err). Values point into argv. */
int cdk_options_parse(cdk_options *o, int argc, char **argv, FILE *out, FILE *err);

void cdk_options_usage(FILE *out);

#endif
