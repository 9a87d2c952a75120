/* engine.h - the analysis engine: one tick of one canary, Flagger's
 * scheduler (docs/flagger-behaviour.md §2) as a pure, deterministic
 * module. Everything outside the canary's status goes through the ports
 * (src/ports.h); all time comes from the clock port. No global state: many
 * canaries may tick at once on different threads, as long as each canary
 * is ticked by one thread at a time.
 *
 * The pure helpers below are the tick's arithmetic and status transitions,
 * exported so that tests and other tools (simulate, the local API) can use
 * exactly the rules the tick uses. */
#ifndef CD_ENGINE_H
#define CD_ENGINE_H
#include "ports.h"
#include <stdbool.h>
#include <stddef.h>

/* ---- statistical judge seam ---------------------------------------------
 * A metric with cd_metric.judge set is not compared with thresholds: the
 * engine hands it to this function (src/judge/judge.h: cd_judge_metric),
 * which reads samples through metrics->samples / metrics->counts and may
 * update the canary's status (status.judge); the engine persists the
 * status after the analysis. NO_DATA and ERROR count as failed checks
 * exactly like a threshold metric's. The verdict:
 *   pass && !hold   the metric passes;
 *   pass && hold    the metric passes for this tick (traffic may still
 *                   step up to maxWeight) but promotion waits: the judge
 *                   needs more evidence (no failed check is counted);
 *   !pass           a failed check, and with rollback the canary is
 *                   rolled back in this very tick (the evidence is
 *                   conclusive, counting failed checks would only delay). */
typedef struct cd_judge_verdict {
    bool pass;
    bool hold;
    bool rollback;
    double score;           /* exported as flagger_canary_metric_analysis */
    char reason[512];       /* appended to the "Halt ..." event when !pass */
} cd_judge_verdict;

typedef cd_metric_rc (*cd_metric_judge_fn)(void *ctx, const cd_metrics_port *metrics,
                                           const cd_canary_ref *c, const cd_metric *m,
                                           int64_t now_ms, cd_judge_verdict *verdict,
                                           cd_err *err);

/* Global settings the tick needs (Flagger's command-line flags). */
typedef struct cd_engine_config {
    const char *mesh_provider;      /* -mesh-provider: used when neither the ref nor the spec set one */
    cd_metric_judge_fn judge;       /* NULL: judged metrics fail with an explaining event */
    void *judge_ctx;
} cd_engine_config;

/* Runs exactly one tick (§2.2 steps 2-31) for the canary in *c, whose spec
 * and status the platform has just read. Mutates c->status and saves it
 * through ports->status.save at each point Flagger writes status.
 * Returns CD_OK when the tick ran to a decision, CD_RETRY when it waits for
 * a workload to become ready, CD_ERROR when a port failed (already reported
 * as a warning event), CD_FATAL when a required port is missing. */
cd_rc cd_engine_tick(const cd_engine_config *cfg, const cd_ports *ports, cd_canary_ref *c);

/* Which required ports are missing (NULL when complete): a text for the
 * platform's startup check. */
const char *cd_engine_ports_missing(const cd_ports *ports);

/* ---- strategies and weights (§2.4, §2.5) ---------------------------- */

typedef struct cd_weights {
    int primary, canary;
    bool mirrored;
} cd_weights;

/* Effective provider: ref->provider, else spec.provider, else the global one. */
const char *cd_engine_provider(const cd_engine_config *cfg, const cd_canary_ref *c);
/* Strategy as the tick runs it: provider kubernetes forces blue/green. */
cd_strategy cd_engine_strategy(const cd_canary_spec *s, const char *provider);
/* analysis.iterations as the tick uses it (kubernetes: at least 10 when unset). */
int cd_engine_iterations(const cd_canary_spec *s, const char *provider);
/* Flagger's nextStepWeight: the increment from canary weight w. */
int cd_engine_next_step_weight(const cd_analysis *a, int w);
/* One progressive step (runCanary) from the routes now in place. The canary
 * weight never exceeds maxWeight (docs/compatibility.md); the result always
 * sums to 100. The mirror step comes first when analysis.mirror is set. */
cd_weights cd_engine_canary_step(const cd_analysis *a, cd_weights now);
/* One Promoting step (runPromotionTrafficShift); *done when the primary
 * has all the traffic and the canary moves to Finalising. */
cd_weights cd_engine_promotion_step(const cd_analysis *a, cd_weights now, bool *done);

/* ---- status transitions (§2.11) ---------------------------------------- */

/* Flagger's SyncStatus: phase and counters as given, lastAppliedSpec =
 * hash, lastPromotedSpec too when Initialized, tracked configs, time and
 * the Promoted condition. */
typedef struct cd_status_sync {
    cd_phase phase;
    int canary_weight, failed_checks, iterations;
} cd_status_sync;
void cd_engine_sync_status(cd_canary_status *s, cd_status_sync to, const char *hash,
                           const cd_tracked_config *tracked, size_t n_tracked, bool tracked_present,
                           const char *kind, int64_t now_ms);
/* Flagger's SetStatusPhase; iterations = the analysis iterations in effect. */
void cd_engine_set_phase(cd_canary_status *s, cd_phase p, int iterations, const char *kind,
                         int64_t now_ms);
/* Flagger's hasSpecChanged for a freshly computed target hash. */
bool cd_engine_spec_changed(const cd_canary_status *s, const char *hash);
/* Flagger's config tracker comparison (HaveDependenciesChanged). */
bool cd_engine_configs_changed(const cd_canary_status *s, const cd_tracked_config *items, size_t n,
                               bool present);
/* ---- instant rollback (spec.rollbackWindow, docs/rollback.md) ---------- */

/* Puts revision first in status.promotedRevisions (promoted now), keeping
 * at most keep entries; a revision already first keeps its time. */
void cd_engine_note_promotion(cd_canary_status *s, const char *revision, int64_t now_ms, int keep);
/* Is revision within w: one of the first w->revisions entries of
 * status.promotedRevisions and, with maxAge, the primary's revision within
 * that time (entry i stopped serving when entry i-1 was promoted)? The
 * index of its entry, or -1. */
int cd_engine_rollback_match(const cd_canary_status *s, const cd_rollback_window *w,
                             const char *revision, int64_t now_ms);

/* flagger_canary_status value: 0 Progressing, 2 Failed, 1 otherwise. */
int cd_engine_status_gauge(cd_phase p);

/* ---- metric checks (§3.1) ------------------------------------------------ */

typedef enum {
    CD_METRIC_KIND_SUCCESS_RATE,    /* builtin request-success-rate (percent) */
    CD_METRIC_KIND_DURATION,        /* builtin request-duration (milliseconds) */
    CD_METRIC_KIND_QUERY,           /* inline query */
    CD_METRIC_KIND_TEMPLATE,        /* templateRef */
} cd_metric_kind;

/* How a metric is evaluated: templateRef first, then the inline query,
 * then the builtin query for its name. False: none applies. */
bool cd_engine_metric_kind(const cd_metric *m, cd_metric_kind *kind);

/* Does value v pass m's thresholdRange (or deprecated threshold)? When it
 * does not, why gets the tail of Flagger's "Halt ..." event, e.g.
 * "success rate 80.00% < 99%". */
bool cd_engine_threshold_pass(const cd_metric *m, cd_metric_kind kind, double v, char *why,
                              size_t whylen);

#endif
