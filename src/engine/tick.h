/* tick.h - internal to src/engine: the state of one running tick and the
 * effects every step uses (events, alerts, status writes, routing, own
 * metrics). Each effect goes through a port; nothing here is kept after
 * cd_engine_tick returns. */
#ifndef CD_ENGINE_TICK_H
#define CD_ENGINE_TICK_H
#include "engine/engine.h"
#include "engine/texts.h"

#define CD_NAME_MAX 320

typedef struct cd_tick {
    const cd_engine_config *cfg;
    const cd_ports *p;
    cd_canary_ref *c;
    const cd_canary_spec *spec;
    const cd_analysis *an;
    cd_canary_status *st;
    const char *provider;       /* effective provider */
    const char *kind;           /* target kind, for conditions and alerts */
    const char *target, *ns;
    char cname[CD_NAME_MAX];    /* C.ns */
    char tname[CD_NAME_MAX];    /* T.ns */
    bool kube;                  /* provider kubernetes: blue/green without routing */
    int iterations;             /* analysis iterations in effect */
    cd_strategy strategy;       /* strategy in effect */
    /* Flagger ticks on an in-memory copy that its status writes do not
     * update; event webhooks carry that copy's phase. */
    cd_phase event_phase;
    int64_t begin_ms;
    cd_weights routes;          /* as read from the router this tick */
    bool timed;                 /* reached step 27: observe the tick's duration */
    /* the statistical judge this tick (analysis.c) */
    bool judged;                /* a judge updated status.judge: persist it */
    bool judge_rollback;        /* conclusive harm on a critical metric: roll back now */
    bool judge_hold;            /* promotion waits for more evidence */
    char judge_why[600];        /* "<metric> <reason>" of the first rollback or hold */
    cd_rc rc;                   /* what cd_engine_tick returns */
} cd_tick;

/* events and alerts (context.c) */
void cd_tick_event(cd_tick *t, cd_event_type type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cd_tick_event_phase(cd_tick *t, cd_phase phase, cd_event_type type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cd_tick_alert(cd_tick *t, bool metadata, cd_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A failed port call: warning event with its text; sets t->rc. */
void cd_tick_port_failed(cd_tick *t, cd_rc rc, const cd_err *err);
int64_t cd_tick_now(cd_tick *t);

/* status writes, each persisted through the status port (context.c);
 * false when the write failed (already reported) */
bool cd_tick_sync_status(cd_tick *t, cd_status_sync to);
bool cd_tick_set_phase(cd_tick *t, cd_phase p);
bool cd_tick_set_weight(cd_tick *t, int weight);
bool cd_tick_set_iterations(cd_tick *t, int iterations);
bool cd_tick_set_failed_checks(cd_tick *t, int failed);
bool cd_tick_save(cd_tick *t);

/* workload and router calls; false on failure (already reported) */
bool cd_tick_set_routes(cd_tick *t, int primary, int canary, bool mirrored);
bool cd_tick_workload(cd_tick *t, cd_rc (*fn)(void *, const cd_canary_ref *, cd_err *));
bool cd_tick_reconcile_primary_scaler(cd_tick *t, bool init);
bool cd_tick_target_hash(cd_tick *t, char hash[CD_HASH_MAX]);
bool cd_tick_target_changed(cd_tick *t, const cd_canary_status *against, bool *changed);

/* own metrics (context.c); no-ops without a registry */
void cd_tick_gauge_status(cd_tick *t, cd_phase p);
void cd_tick_gauge_weights(cd_tick *t, int primary, int canary);
void cd_tick_count_outcome(cd_tick *t, bool success, const char *analysis_status);

/* gates and hooks (gates.c) */
bool cd_gate_confirm_rollout(cd_tick *t);
bool cd_gate_pre_rollout(cd_tick *t);
bool cd_gate_rollout(cd_tick *t);
bool cd_gate_confirm_traffic_increase(cd_tick *t);
bool cd_gate_confirm_promotion(cd_tick *t);
bool cd_hooks_rollback_requested(cd_tick *t);
void cd_hooks_post_rollout(cd_tick *t, cd_phase phase);

/* metric analysis (analysis.c) */
void cd_analysis_check_providers(cd_tick *t);
bool cd_analysis_run(cd_tick *t);
/* true (after an event) when the judge holds promotion this tick */
bool cd_analysis_judge_holds(cd_tick *t);

/* strategies (strategies.c) */
void cd_strategy_canary(cd_tick *t);
void cd_strategy_ab(cd_tick *t);
void cd_strategy_blue_green(cd_tick *t);

/* outcomes (outcome.c) */
bool cd_outcome_promote(cd_tick *t);
void cd_outcome_rollback(cd_tick *t);
void cd_outcome_failed_promotion(cd_tick *t, const char *why);
void cd_outcome_promotion_shift(cd_tick *t);
void cd_outcome_finalise(cd_tick *t);
bool cd_outcome_skip_analysis(cd_tick *t);
/* spec.rollbackWindow: promotes revision (entry idx of
 * status.promotedRevisions) at once, without analysis or gates. */
void cd_outcome_instant_rollback(cd_tick *t, const char *revision, int idx);

#endif
