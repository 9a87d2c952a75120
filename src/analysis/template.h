/* template.h - MetricTemplate queries and builtin queries are Go
 * text/template strings; this renders the subset Flagger's templates use,
 * with Flagger's model: {{ name }}, {{ namespace }}, {{ target }},
 * {{ service }}, {{ ingress }}, {{ route }}, {{ interval }} and
 * {{ variables.X }} (an unknown X is an error, as Flagger renders with
 * missingkey=error), plus canaryd's {{ revision }}: a StatefulSet's update
 * revision, empty for other targets.
 *
 * Supported syntax: trim markers {{- and -}}, comments (slash-star in braces),
 * variables ($x := ..., $x = ..., $x, $x.field), pipelines (a | b),
 * parentheses, string/raw/char/number/bool/nil literals and the functions
 * printf, print, println, index, len, urlquery. Control actions (if,
 * range, with, define, template, block) are refused with a clear error.
 * Pure: no I/O; every error carries line and column. */
#ifndef CD_ANALYSIS_TEMPLATE_H
#define CD_ANALYSIS_TEMPLATE_H
#include "model/canary.h"
#include "util/err.h"

typedef struct cd_template_model {
    const char *name, *namespace_, *target, *service, *ingress, *route, *interval;
    const cd_strmap *variables;     /* may be NULL: no variables */
    const char *revision;           /* canaryd's: a StatefulSet's update revision; NULL: "" */
} cd_template_model;

/* Flagger's toMetricModel: service = spec.service.name or T; ingress =
 * ingressRef.name or T; route = routeRef.name or T. */
void cd_template_model_for_canary(cd_template_model *m, const cd_object_meta *meta,
                                  const cd_canary_spec *spec, const char *interval,
                                  const cd_strmap *variables);

#define CD_TEMPLATE_MAX_OUTPUT (1u << 20)

/* Renders tmpl. Returns a malloc'd string, or NULL with err
 * ("template: tmpl:3:12: ...") on a syntax or execution error. */
char *cd_template_render(const char *tmpl, const cd_template_model *m, cd_err *err);



#endif
