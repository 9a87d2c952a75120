/* observers.h - Flagger's builtin metrics: the request-success-rate and
 * request-duration PromQL templates of every mesh/ingress provider
 * (reference §3.3), which observer a canary uses (§3.2), and how a
 * duration result becomes milliseconds. Pure data and pure functions. */
#ifndef CD_ANALYSIS_OBSERVERS_H
#define CD_ANALYSIS_OBSERVERS_H
#include "analysis/template.h"
#include "model/canary.h"
#include <stdbool.h>
#include <stddef.h>

/* Skipper's route name pattern, declared before its queries. */
#define CD_SKIPPER_ROUTE                                                                 \
    "{{- $route := printf \"kube(ew)?_%s__%s_canary__.*__%s_canary(_[0-9]+)?\" "          \
    "namespace ingress service }}"

typedef struct cd_observer {
    const char *name;           /* appmesh, istio, linkerd, http, nginx, ... */
    const char *success_rate;   /* template of request-success-rate (percent) */
    const char *duration;       /* template of request-duration */
    double duration_to_ms;      /* result * this, truncated = milliseconds */
    bool skipper_encoding;      /* model fields: non-word characters -> '_' */
} cd_observer;

/* Flagger's metricsProvider for the builtin checks: the global mesh
 * provider ("crossover" when it contains "crossover"); the canary's
 * spec.provider when set, except that a global provider containing
 * "linkerd" forces "linkerd"; ":service" appended when the target is a
 * (non-Knative) Service. canaryd's: "statefulset" for a StatefulSet target
 * (its updated pods against the others, docs/statefulset.md). */
void cd_metrics_provider_name(const char *global_provider, const char *spec_provider,
                              const cd_object_ref *target, char *out, size_t n);

/* The observer for a metrics provider name (never NULL: Istio is the
 * fallback, as in Flagger). */
const cd_observer *cd_observer_for(const char *metrics_provider);

/* Every observer, for tests and docs; NULL past the end. */
const cd_observer *cd_observer_at(size_t i);

/* Renders the builtin query `metric` ("request-success-rate" or
 * "request-duration") for model m, applying the observer's model encoding.
 * Not whitespace-collapsed (the Prometheus provider does that, as Flagger).
 * malloc'd; NULL with err for another metric name or a render error. */
char *cd_builtin_query(const cd_observer *o, const char *metric, const cd_template_model *m,
                       cd_err *err);

/* Renders any template tmpl as the observer's builtin queries are
 * rendered: Skipper's model encoding applied. malloc'd; NULL with err. */
char *cd_observer_render(const cd_observer *o, const char *tmpl, const cd_template_model *m,
                         cd_err *err);

/* Result of request-duration in whole milliseconds (Flagger truncates). */
double cd_observer_duration_ms(const cd_observer *o, double value);

#endif
