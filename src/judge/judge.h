/* judge.h - canaryd's statistical judge: turns one window of canary and
 * primary data for a judged metric into a verdict (pass, wait, fail) with
 * its explanation, keeping the sequential test's state in the metric's
 * status.judge entry so that it survives restarts. docs/judge.md explains
 * the method and the guarantees.
 *
 * cd_judge_update is pure (state in, state out). cd_judge_metric is the
 * engine's cd_metric_judge_fn: it reads the window through the metrics
 * port and writes the verdict into the canary's status; the engine then
 * persists the status. */
#ifndef CD_JUDGE_JUDGE_H
#define CD_JUDGE_JUDGE_H
#include "engine/engine.h"
#include "model/judge.h"
#include "util/buf.h"

#define CD_JUDGE_STATE_VERSION 2

/* One window (the analysis interval just ended) of a judged metric. */
typedef struct cd_judge_window {
    /* errors: requests and failed requests of each side */
    double canary_total, canary_bad, primary_total, primary_bad;
    /* latency: sample values of each side (non-finite values are dropped) */
    const double *canary, *primary;
    size_t n_canary, n_primary;
    /* The primary before the release (docs/judge.md#history), read with the
     * first window of a rollout and used only when the test starts over:
     * history_ms is what judge.history asks for (0: off); with_history
     * tells whether the source answered; history_note says why not. */
    int64_t history_ms;
    bool with_history;
    cd_metric_history history;
    const char *history_note;
} cd_judge_window;

/* The budgets of the errors test when it uses a history (docs/judge.md):
 * the same-window test gets this share of alpha, the history test the
 * rest; the history test's step guard rejects at 1/CD_JUDGE_STEP_BETA;
 * the drift monitor retires the history at this evidence; the primary's
 * lower bound in the promotion test takes this share of alpha ... */
#define CD_JUDGE_SAME_WINDOW_SHARE 0.5
#define CD_JUDGE_STEP_BETA 0.01
#define CD_JUDGE_DRIFT_EVIDENCE 20.0
#define CD_JUDGE_PROMOTE_LOWER_SHARE 0.02
/* ... and one window brings the history test at most this share of the
 * evidence it needs. */
#define CD_JUDGE_WINDOW_CAP 0.5

/* Adds the window to st (the metric's status.judge entry; a zeroed entry,
 * or one written for another test or state layout, starts over) and sets
 * st's verdict, reason, estimate, interval, statistic and p-value. */
void cd_judge_update(const cd_judge_spec *spec, cd_judge_state *st, const cd_judge_window *w,
                     int64_t now_ms);

/* The engine's seam (cd_metric_judge_fn); ctx is unused. */
cd_metric_rc cd_judge_metric(void *ctx, const cd_metrics_port *metrics, const cd_canary_ref *c,
                             const cd_metric *m, int64_t now_ms, cd_judge_verdict *verdict,
                             cd_err *err);

/* status.judge as text for `canaryctl describe` and `canaryctl simulate`:
 * a table (metric, test, verdict, canary, primary, estimate, interval,
 * statistic, p-value) and each metric's reason. Appends nothing when the
 * status has no judged metric. */
void cd_judge_describe(const cd_canary_status *st, cd_buf *out);

#endif
