/* metrics_port.h - canaryd's cd_metrics_port (ports.h): evaluates one
 * analysis metric of a canary by rendering its query (builtin, inline or
 * MetricTemplate) and running it on the right provider, and runs the
 * provider availability check (§3.6). Platform lookups (templates,
 * secrets) come in through cd_store and cd_secret_source.
 *
 * Error texts are Flagger's event texts ("Metric template x.ns error: ...",
 * "Prometheus query failed: ...", "Halt advancement no values found for
 * ..."), so the engine can record err->msg as the event as is. */
#ifndef CD_ANALYSIS_METRICS_PORT_H
#define CD_ANALYSIS_METRICS_PORT_H
#include "lookup/secrets.h"
#include "lookup/store.h"
#include "ports.h"
#include <stdint.h>

typedef struct cd_metrics_config {
    const char *metrics_server;     /* global -metrics-server; NULL: http://prometheus:9090 */
    const char *mesh_provider;      /* global -mesh-provider; NULL: istio */
    const cd_store *store;          /* MetricTemplates; may be NULL */
    const cd_secret_source *secrets;/* may be NULL */
    int64_t prometheus_timeout_ms;  /* 0: 5 s (Flagger's) */
    const char *ca_file;            /* extra trusted CA for every provider; may be NULL */
} cd_metrics_config;

/* Builds the port. The config and what it points to must outlive it. */
cd_metrics_port cd_metrics_port_make(const cd_metrics_config *cfg);
void cd_metrics_port_release(cd_metrics_port *p);

/* What the port would run for metric m, without running it: the provider
 * type ("prometheus", ...), its address and the rendered query (whitespace
 * kept). For canaryctl and debugging. Returns false with err (a render
 * error, a missing template, ...). *query is malloc'd. */
bool cd_metrics_describe(const cd_metrics_config *cfg, const cd_canary_ref *c, const cd_metric *m,
                         char provider[32], char address[512], char **query, cd_err *err);

#endif
