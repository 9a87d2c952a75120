/* history.h - what the statistical judge does with the primary's history
 * (its requests before the release; docs/judge.md#history): the
 * sequential tests that compare the canary with the baseline the history
 * shows, the guards that keep them valid when the baseline moves, and the
 * calibration that makes the false-rollback bound hold whatever the
 * history happened to show. The errors test only; every function is pure
 * arithmetic on counts (no state, no I/O, no allocation beyond the plan's scratch): src/judge/judge.c
 * keeps the numbers in status.judge[].state.
 *
 * The pieces, for a history of N requests with X failures, and the
 * canary's (n_c, x_c) and the primary's (n_p, x_p) counts during the
 * rollout:
 *
 *  - the plan (cd_history_plan_errors): the baseline p0 = (X + 1/2) /
 *    (N + 1), the reference r = an upper 1 - CD_HISTORY_ALPHA_R bound
 *    of the history's rate (cd_history_reference), the alternative
 *    p1 = r + detect, and the level at which the history test must run so
 *    that, averaged over what a history of N requests can show, its
 *    false-rollback probability stays at most alpha_h for every baseline
 *    p0 (the exponent bound of cd_history_bound);
 *
 *  - the history test: the canary's one-sample likelihood ratio of p1
 *    against r, window by window (cd_history_lr): a supermartingale while
 *    the canary's rate is at most r;
 *
 *  - the step guard (cd_history_ui_log): a universal-inference e-value of
 *    "the canary at p0 + detect, the primary at p0" against every shared
 *    rate q >= r held by both sides during the rollout (the canary's at
 *    most q): it is at most the likelihood ratio against the true q, so
 *    it reaches 1/beta with probability at most beta when the baseline
 *    stepped, at or before the release, to any level;
 *
 *  - the drift monitor (cd_history_drift_log): the evidence that the
 *    primary's rate during the rollout is c times the history's (c in
 *    1/4 .. 8, the history's own uncertainty integrated out); when it is
 *    strong the judge retires the history test (the same-window test
 *    alone decides from then on) and says so;
 *
 *  - the promotion test (cd_history_promote_lr): the canary's one-sample
 *    likelihood ratio of a predictable rate (the baseline, updated with
 *    the canary's own requests) against the change to detect above the
 *    primary's lower bound: a supermartingale whenever the canary is
 *    worse than the primary by the change to detect, whatever the
 *    baseline does. */
#ifndef CD_JUDGE_HISTORY_H
#define CD_JUDGE_HISTORY_H
#include <stdbool.h>
#include <stddef.h>

/* Level of the history's upper bound r (a tuning constant: a larger one
 * gives a tighter r; the plan's level pays for the histories that
 * understate the baseline). */
#define CD_HISTORY_ALPHA_R 0.2
/* Strength (in requests) of the baseline as the promotion test's prior
 * on the canary's rate. */
#define CD_HISTORY_PRIOR_REQUESTS 200.0
/* Multipliers of the history's rate the drift monitor looks for. */
#define CD_HISTORY_DRIFT_N 6

typedef struct cd_history_plan {
    double n, x;            /* the history: requests and failed requests */
    double p0;              /* the baseline: (x + 1/2) / (n + 1) */
    double reference;       /* r: the canary is tested against this rate */
    double alt;             /* p1: the canary's rate under the alternative */
    double level;           /* the history test rejects at e-value >= 1 / level */
} cd_history_plan;

/* The reference r for a history of n requests with x failures: the
 * upper 1 - CD_HISTORY_ALPHA_R bound of its rate (Poisson, in Wilson and
 * Hilferty's closed form; the calibration accounts for the histories it
 * understates, so it need not be exact). */
double cd_history_reference(double x, double n);

/* A bound on the probability that the history test (run at `level`, its
 * step guard at `beta`) rolls back a canary whose rate is p0 when the
 * history (n requests) also ran at p0: the sum over the histories x that
 * are used of P(x) times level when r(x) >= p0, else
 * min(beta, level^lambda), lambda the largest exponent that keeps the
 * test's likelihood ratio to the power lambda a supermartingale at p0.
 * Exposed for the tests. */
double cd_history_bound(double n, double p0, double detect, double level, double beta);

/* Fills the plan for a history of n requests with x failures, a change to
 * detect of `detect` (a fraction: 0.02 = 2pp) and a budget alpha_h for
 * the history test. False when the history cannot be used: no requests,
 * impossible counts, or a reference r at or above the change to detect
 * (the history says too little about the baseline; the bound counts only
 * the histories that are used). Allocates scratch memory (about 1 MB),
 * freed before it returns; a few milliseconds for large histories. */
bool cd_history_plan_errors(double n, double x, double detect, double alpha_h, double beta,
                            cd_history_plan *out);

/* log of one window's likelihood ratio Bin(x; n, p1) / Bin(x; n, p)
 * (binomial coefficients cancel). */
double cd_history_lr(double n, double x, double p1, double p);

/* log of the step guard's e-value over the rollout's pooled counts. */
double cd_history_ui_log(const cd_history_plan *h, double detect, double n_c, double x_c,
                         double n_p, double x_p);

/* log of the drift monitor's evidence that the primary's n_p requests
 * with x_p failures ran at c times the history's rate, for the c of each
 * direction: *up (c = 2, 4, 8) and *down (c = 1/2, 1/4, 1/8), each a
 * mixture with equal weights. */
void cd_history_drift_log(const cd_history_plan *h, double n_p, double x_p, double *up,
                          double *down);

/* The rate the promotion test bets on for the next window: the canary's
 * n_c requests with x_c failures so far, shrunk towards `prior` (the
 * baseline) with CD_HISTORY_PRIOR_REQUESTS requests of weight, and kept
 * below `bound`. */
double cd_history_promote_rate(double n_c, double x_c, double prior, double bound);

/* Fisher's odds-ratio grid weights centred on the odds ratio a change of
 * `detect` above p0 means (a prior over the grid: the same-window test
 * stays exactly valid, it only bets where the harm would be). w receives
 * count weights summing to 1. */
void cd_history_odds_weights(double p0, double detect, double *w, size_t count);

#endif
