/* scenario.h - what `canaryctl simulate` plays against a canary: when the
 * target changes, and how metrics, webhooks and workload readiness behave
 * over simulated time (docs/simulate.md). Each series is a step function:
 * the value at time t is the last step whose `at` <= t; before the first
 * step (and for anything the scenario does not name) everything passes.
 * Decoding reports every problem with file:line:col and never produces a
 * half-read scenario. Pure data; no I/O besides cd_scenario_load. */
#ifndef CD_SIM_SCENARIO_H
#define CD_SIM_SCENARIO_H
#include "model/canary.h"
#include "model/diag.h"
#include "util/arena.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CD_SIM_DEFAULT_DURATION_MS (2 * 3600 * 1000LL)

typedef enum { CD_SIM_VALUE, CD_SIM_NODATA, CD_SIM_ERROR } cd_sim_value_kind;
typedef enum { CD_SIM_READY, CD_SIM_NOT_READY, CD_SIM_STUCK } cd_sim_readiness;

typedef struct cd_sim_step {
    int64_t at_ms;
    int kind;               /* metric: cd_sim_value_kind; ready: cd_sim_readiness; webhook: pass (1/0) */
    double value;           /* metric value when kind == CD_SIM_VALUE */
} cd_sim_step;

typedef struct cd_sim_series {
    const char *name;
    cd_sim_step *steps;     /* strictly increasing at_ms */
    size_t n;
    int line, col;          /* where it was written, for cross-check errors */
} cd_sim_series;

/* Traffic (for the statistical judge, and for request-success-rate and
 * request-duration when the scenario gives no series for them): how one
 * side behaves from at_ms on. */
typedef struct cd_sim_profile {
    int64_t at_ms;
    double error_rate;          /* a fraction of requests that fail (scenario: percent) */
    double median_ms, p99_ms;   /* latency: log-normal with this median and 99th percentile */
} cd_sim_profile;

#define CD_SIM_MAX_REPLICAS 10000
#define CD_SIM_MAX_RATE 10000.0     /* requests per second */
#define CD_SIM_MAX_HISTORY_MS (24 * 3600 * 1000LL)

typedef struct cd_sim_traffic {
    bool set;                   /* written in the scenario */
    uint64_t seed;
    int64_t history_ms;         /* the primary served this traffic for this long before t=0
                                   (the judge's history); 0: a new service, no history.
                                   Steps of rate, primary and canary may start at -history_ms */
    cd_sim_series rate;         /* requests per second (CD_SIM_VALUE steps) */
    cd_sim_profile *primary, *canary;
    size_t n_primary, n_canary;
} cd_sim_traffic;

typedef struct cd_scenario {
    cd_arena arena;
    const char *file;
    int64_t duration_ms;
    bool has_revisions;     /* false: one revision right after initialization */
    int64_t *revisions;
    size_t n_revisions;
    cd_sim_series *metrics;
    size_t n_metrics;
    cd_sim_series *webhooks;
    size_t n_webhooks;
    cd_sim_series ready_canary, ready_primary;
    cd_sim_traffic traffic;
    int replicas;           /* a StatefulSet target's spec.replicas (0: not given) */
    int replicas_line, replicas_col;
} cd_scenario;

/* Decodes a scenario document; NULL when it has errors (all in diags). An
 * empty document is the default scenario. */
cd_scenario *cd_scenario_parse(const char *file, const char *data, size_t len, cd_diags *diags);
/* Reads a file ("-" = stdin) and parses it; *unreadable (may be NULL) tells
 * a file that could not be read from one that is invalid. */
cd_scenario *cd_scenario_load(const char *path, cd_diags *diags, bool *unreadable);
/* No revisions given, everything passes, 2h. */
cd_scenario *cd_scenario_default(void);
/* The traffic a scenario without a traffic section gets when the canary
 * has judged metrics: 10 requests per second, both sides failing 0.1% of
 * requests with latency median 100ms and p99 400ms, seed 1. */
void cd_scenario_default_traffic(cd_sim_traffic *t);
/* The profile of a side in effect at t (the first one before it starts). */
const cd_sim_profile *cd_sim_profile_at(const cd_sim_profile *p, size_t n, int64_t t_ms);
void cd_scenario_free(cd_scenario *s);

/* Errors for metric and webhook names the canary does not have (a typo
 * would silently make the scenario do nothing), and for `replicas` with a
 * target other than a StatefulSet. Returns the error count. */
size_t cd_scenario_check(const cd_scenario *s, const cd_canary_spec *spec, cd_diags *diags);

/* The step in effect at t, or NULL before the first one. */
const cd_sim_step *cd_sim_series_at(const cd_sim_series *s, int64_t t_ms);
const cd_sim_series *cd_scenario_metric(const cd_scenario *s, const char *name);
const cd_sim_series *cd_scenario_webhook(const cd_scenario *s, const char *name);

#endif
