/* sim.h - the engine on a virtual clock with simulated ports: what
 * `canaryctl simulate` runs and what the engine's tests pin. The workload,
 * router, metrics, webhooks and readiness follow a scenario (scenario.h);
 * every tick advances the clock by the analysis interval. With traffic
 * (the scenario's, or a default one when the canary has judged metrics)
 * the router's weights split simulated requests (traffic.h) from which
 * request-success-rate, request-duration and the judge's samples come.
 * Deterministic: the same canary and scenario always give the same rows.
 * No I/O. */
#ifndef CD_SIM_H
#define CD_SIM_H
#include "engine/engine.h"
#include "sim/scenario.h"

struct cd_registry;

typedef struct cd_sim_options {
    const char *mesh_provider;      /* global provider; NULL = none */
    struct cd_registry *registry;   /* flagger_* metrics; may be NULL */
    int64_t epoch_ms;               /* wall time of t=0; 0 = 2025-01-01T00:00:00Z */
    bool keep_log;                  /* keep the webhook/alert/event-webhook logs (tests) */
    cd_metric_judge_fn judge;       /* statistical judge; may be NULL */
    void *judge_ctx;
} cd_sim_options;

typedef struct cd_sim_event {
    cd_event_type type;
    const char *message;
} cd_sim_event;

typedef struct cd_sim_alert {
    cd_severity severity;
    bool metadata;
    const char *message;
} cd_sim_alert;

/* A threshold metric's value as the tick's analysis read it. */
typedef struct cd_sim_metric_value {
    const char *name;
    bool has_value;                 /* false: no data or a failed query */
    double value;
} cd_sim_metric_value;

#define CD_SIM_MAX_ROW_METRICS 32

/* One tick as it ended. Pointers stay valid until the next cd_sim_tick. */
typedef struct cd_sim_row {
    int64_t t_ms;                   /* since the start of the simulation */
    cd_phase phase;
    int canary_weight, primary_weight;
    bool mirrored;
    int failed_checks, iterations;
    const cd_sim_event *events;
    size_t n_events;
    const cd_sim_alert *alerts;
    size_t n_alerts;
    const cd_judge_state *judge;    /* status.judge after the tick (judged metrics) */
    size_t n_judge;
    const cd_sim_metric_value *metrics;   /* the metric queries this tick made */
    size_t n_metrics;
    int partition;                  /* a StatefulSet's, with scenario replicas; else -1 */
} cd_sim_row;

/* One webhook call (keep_log): which hook, with which phase, answer. */
typedef struct cd_sim_call {
    int64_t t_ms;
    const char *name;
    cd_hook_type type;
    cd_phase phase;
    bool passed;
} cd_sim_call;

/* One event webhook payload (keep_log): the phase it carried. */
typedef struct cd_sim_event_hook {
    cd_phase phase;
    cd_event_type type;
    const char *message;
} cd_sim_event_hook;

typedef struct cd_sim_stats {
    int ticks;
    int revision;                   /* current target revision (0 = the initial one) */
    int primary_revision;           /* what the primary runs */
    int promotions;                 /* workload.promote calls */
    int promotions_over_threshold;  /* ...while failedChecks >= threshold (must stay 0) */
    int status_writes;
    bool primary_exists;
    int canary_replicas;            /* 0 after scale_to_zero, 1 after scale_from_zero */
    const cd_sim_call *calls;       /* keep_log only */
    size_t n_calls;
    const cd_sim_event_hook *event_hooks;   /* keep_log only */
    size_t n_event_hooks;
} cd_sim_stats;

typedef struct cd_sim cd_sim;

/* meta and spec must outlive the simulation (they usually belong to a
 * cd_object); so must sc. */
cd_sim *cd_sim_new(const cd_object_meta *meta, const cd_canary_spec *spec, const cd_scenario *sc,
                   const cd_sim_options *opt);
void cd_sim_free(cd_sim *s);

/* Runs the next tick and describes it. */
void cd_sim_tick(cd_sim *s, cd_sim_row *row);
/* True once the simulated duration is over, or the canary rests (Initialized,
 * Succeeded or Failed) with no revision still to come. */
bool cd_sim_done(const cd_sim *s);
int64_t cd_sim_interval_ms(const cd_sim *s);
int64_t cd_sim_elapsed_ms(const cd_sim *s);    /* time of the last tick run */
const cd_sim_stats *cd_sim_get_stats(const cd_sim *s);

/* For tests: reach into the state between ticks. The status is the
 * persisted one, which the next tick starts from. */
cd_canary_status *cd_sim_status(cd_sim *s);
void cd_sim_set_routes(cd_sim *s, int primary, int canary, bool mirrored);
void cd_sim_change_target(cd_sim *s);
void cd_sim_set_revision(cd_sim *s, int revision);   /* e.g. back to the primary's */
/* The ports the engine is given; a test may wrap one function (keeping
 * ctx) to inject a failure the scenario cannot express. */
cd_ports *cd_sim_ports(cd_sim *s);

/* A value the metric passes with (what metrics default to). */
double cd_sim_passing_value(const cd_metric *m);

/* Whether rows carry a StatefulSet partition (a StatefulSet target and a
 * scenario that gives its replicas). */
bool cd_sim_shows_partition(const cd_sim *s);

#endif
