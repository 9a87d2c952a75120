/* judged.h - the PromQL the statistical judge sends for the builtin
 * metrics (docs/metrics.md, "Judged metrics"): for each observer of
 * reference §3.3, the requests and failed requests of one side over a
 * window (request-success-rate, errors test) and the request-duration
 * series of one side (latency test), for the canary and for the primary.
 *
 * The primary is found in one of two ways, per observer: its workload is
 * `{{ target }}-primary` (App Mesh pods T-primary-<hash>-<n>, Istio's
 * destination_workload, ...), so the canary's query is rendered with that
 * target; or its series carry the primary's name where the canary's carry
 * the canary's (Contour's <svc>-primary cluster, NGINX's empty canary
 * label, a StatefulSet's pods off the update revision, ...), so a marker
 * in the canary's query is swapped. Observers
 * whose series cannot tell the two apart (APISIX, Knative) are refused
 * with a reason. Pure data and pure functions. */
#ifndef CD_ANALYSIS_JUDGED_H
#define CD_ANALYSIS_JUDGED_H
#include "analysis/observers.h"
#include <stdbool.h>

typedef enum {
    CD_JUDGED_REQUESTS,     /* requests of a side over {{ interval }} (the window) */
    CD_JUDGED_FAILURES,     /* failed (5xx) requests of a side over {{ interval }} */
    CD_JUDGED_DURATION,     /* the request-duration series, {{ interval }} = the step */
} cd_judged_kind;

/* "canary" or "primary" -> false/true; false with err for anything else. */
bool cd_judged_side(const char *which, bool *primary, cd_err *err);

/* The primary's workload name for target T: "T-primary". malloc'd. */
char *cd_primary_target(const char *target);

/* The query of `kind` for one side, rendered for m (whose interval is the
 * window for counts, the step for the duration series; whose target is
 * the canary's). Not whitespace-collapsed. malloc'd; NULL with err for an
 * observer that cannot tell the primary from the canary, or a render
 * error. */
char *cd_judged_builtin_query(const cd_observer *o, cd_judged_kind kind, bool primary,
                              const cd_template_model *m, cd_err *err);

/* For tests and docs: the templates (before rendering) of the canary's
 * requests and failures, how the primary's differ (*mark NULL: the target
 * becomes T-primary; else *mark is replaced by *primary_mark), and the
 * reason the observer is refused (NULL when supported). */
void cd_judged_templates(const cd_observer *o, const char **requests, const char **failures,
                         const char **mark, const char **primary_mark, const char **refused);

#endif
