/* registry.h - canaryd's own Prometheus metrics (Flagger's flagger_* names,
 * reference §6) kept in memory and written in the text exposition format.
 * Thread-safe: the engine updates it from worker threads while the HTTP
 * endpoint reads it. Must not do I/O itself: cd_registry_write fills a
 * buffer and the caller serves it. */
#ifndef CD_TELEMETRY_REGISTRY_H
#define CD_TELEMETRY_REGISTRY_H
#include "util/buf.h"

typedef struct cd_registry cd_registry;

cd_registry *cd_registry_new(const char *version, const char *mesh_provider);
void cd_registry_free(cd_registry *r);

/* flagger_canary_total{namespace} */
void cd_registry_set_canary_total(cd_registry *r, const char *ns, int count);
/* flagger_canary_status{name,namespace}: 0 Progressing, 2 Failed, 1 other */
void cd_registry_set_status(cd_registry *r, const char *name, const char *ns, int value);
/* flagger_canary_weight{workload,namespace} for <target>-primary and <target> */
void cd_registry_set_weight(cd_registry *r, const char *target, const char *ns, int primary,
                            int canary);
/* flagger_canary_duration_seconds{name,namespace} histogram */
void cd_registry_observe_duration(cd_registry *r, const char *name, const char *ns,
                                  double seconds);
/* flagger_canary_metric_analysis{name,namespace,metric} */
void cd_registry_set_metric(cd_registry *r, const char *name, const char *ns,
                            const char *metric, double value);
/* flagger_canary_successes_total / _failures_total
 * {name,namespace,deployment_strategy,analysis_status} */
void cd_registry_inc_success(cd_registry *r, const char *name, const char *ns,
                             const char *strategy, const char *analysis_status);
void cd_registry_inc_failure(cd_registry *r, const char *name, const char *ns,
                             const char *strategy, const char *analysis_status);
/* Drops every series of one canary (it was deleted). */
void cd_registry_forget(cd_registry *r, const char *name, const char *ns);

/* Appends the text exposition (HELP/TYPE lines, sorted series). */
void cd_registry_write(cd_registry *r, cd_buf *out);

#endif
