/* metrics_port.h - canaryd's cd_metrics_port (ports.h): evaluates one
 * analysis metric of a canary by rendering its query (builtin, inline or
 * MetricTemplate) and running it on the right provider, and runs the
 * provider availability check (§3.6). For the statistical judge it also
 * reads the canary's and the primary's counts and per-step values
 * (ports.h samples/counts; docs/metrics.md "Judged metrics"). Platform
 * lookups (templates, secrets) come in through cd_store and
 * cd_secret_source. Must not keep pointers into the canary.
 *
 * Error texts of query() are Flagger's event texts ("Metric template x.ns
 * error: ...", "Prometheus query failed: ...", "Halt advancement no values
 * found for ..."), so the engine can record err->msg as the event as is;
 * those of samples() and counts() are the reason the engine words into
 * its event ("running the primary's requests query failed: ..."). */
#ifndef CD_ANALYSIS_METRICS_PORT_H
#define CD_ANALYSIS_METRICS_PORT_H
#include "lookup/secrets.h"
#include "lookup/store.h"
#include "ports.h"
#include "providers/provider.h"
#include <stdint.h>

typedef struct cd_metrics_config {
    const char *metrics_server;     /* global -metrics-server; NULL: http://prometheus:9090 */
    const char *mesh_provider;      /* global -mesh-provider; NULL: istio */
    const cd_store *store;          /* MetricTemplates; may be NULL */
    const cd_secret_source *secrets;/* may be NULL */
    int64_t prometheus_timeout_ms;  /* 0: 5 s (Flagger's) */
    const char *ca_file;            /* extra trusted CA for every provider; may be NULL */
    const cd_provider_cluster *cluster; /* the Kubernetes API (externalmetrics); may be NULL */
    const char *route;              /* {{ route }} when set (Knative: the Service's
                                     * latestCreatedRevisionName); NULL: routeRef or target */
} cd_metrics_config;

/* Builds the port. The config and what it points to must outlive it;
 * release it with cd_metrics_port_release (it owns the last samples). */
cd_metrics_port cd_metrics_port_make(const cd_metrics_config *cfg);
void cd_metrics_port_release(cd_metrics_port *p);

/* What the port would run for metric m, without running it: the provider
 * type ("prometheus", ...), its address and the rendered query (whitespace
 * kept). For canaryctl and debugging. Returns false with err (a render
 * error, a missing template, ...). *query is malloc'd. */
bool cd_metrics_describe(const cd_metrics_config *cfg, const cd_canary_ref *c, const cd_metric *m,
                         char provider[32], char address[512], char **query, cd_err *err);

/* What the statistical judge reads for one side of a judged metric: the
 * provider and its address, and the queries, rendered with {{ target }}
 * as the canary's (T) or the primary's (T-primary) workload (builtin
 * metrics: docs/metrics.md "Judged metrics"). */
typedef struct cd_judged_description {
    char provider[32], address[512];
    bool latency;               /* queries[0] is a range query (per-step values) */
    char *queries[2];           /* errors: requests and failed requests over the window,
                                   instant queries; latency: the series, queries[1] NULL */
    int64_t window_ms;          /* the window that ends at the tick */
    int64_t step_ms;            /* latency: the range query's step ({{ interval }}) */
} cd_judged_description;

/* Fills d without running anything (which: "canary" or "primary"). False
 * with err when the metric cannot be judged from its provider: a
 * MetricTemplate or query under the errors test, a template of another
 * provider than Prometheus, an observer whose series cannot tell the
 * primary apart, a missing template, a render error. */
bool cd_metrics_describe_judged(const cd_metrics_config *cfg, const cd_canary_ref *c,
                                const cd_metric *m, const char *which, cd_judged_description *d,
                                cd_err *err);
void cd_judged_description_free(cd_judged_description *d);

/* The step of a judged latency metric's range query: judge.step, else
 * 15s, never longer than the metric's window. */
int64_t cd_metrics_judge_step_ms(const cd_metric *m);

#endif
