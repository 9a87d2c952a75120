/* sequential.h - the two always-valid tests the judge runs across a whole
 * rollout, one window (analysis interval) at a time, stratified by window
 * so that canary and primary are only ever compared over the same time:
 *
 *  - errors: an e-process for "the canary's error odds are no higher than
 *    the primary's". Each window's canary failures, given both sides'
 *    request counts and the window's total failures, follow Fisher's
 *    noncentral hypergeometric law with the odds ratio psi as its only
 *    parameter; the product over windows of likelihood ratios psi_j : 1,
 *    mixed over a fixed grid of psi_j, is a nonnegative supermartingale
 *    whenever psi <= 1 (monotone likelihood ratio), so by Ville's
 *    inequality it ever reaches 1/alpha with probability at most alpha.
 *    Exact: no normal approximation, no nuisance parameter.
 *
 *  - ranks: a normal-mixture sequential probability ratio test (mSPRT) on
 *    the van Elteren sum of per-window Mann-Whitney statistics,
 *    S = sum (U_k - m_k n_k / 2) / (N_k + 1), with null variance V.
 *    Asymptotically valid (the per-window statistics are close to normal).
 *
 * Plain arrays and numbers in, numbers out: the caller persists them
 * (status.judge[].state). Pure, no I/O. */
#ifndef CD_JUDGE_SEQUENTIAL_H
#define CD_JUDGE_SEQUENTIAL_H
#include "judge/mannwhitney.h"
#include <stddef.h>

/* ---- errors ---------------------------------------------------------------- */

#define CD_ODDS_GRID 10                     /* odds ratios per side */
#define CD_ODDS_STATE (2 * CD_ODDS_GRID)    /* log likelihood ratios: increases, then decreases */

/* The odds ratio of grid point i (0 <= i < CD_ODDS_STATE). */
double cd_odds_grid_psi(size_t i);
/* Adds one window: canary n_c requests of which x_c failed, primary n_p and
 * x_p. Windows with no failures, or without requests on a side, carry no
 * information and change nothing. Returns false (nothing changed) for
 * impossible counts (negative, failures above requests, not finite, above
 * 1e15). Over a million failures in one window are scaled down first
 * (same rates, less information), which bounds the work. */
bool cd_odds_update(double log_lr[CD_ODDS_STATE], double n_c, double x_c, double n_p, double x_p);
/* log of the mixture e-value for a direction: 0 = increase (odds above
 * 1), 1 = decrease, 2 = either (half the prior on each side). */
double cd_odds_log_e(const double log_lr[CD_ODDS_STATE], int direction);
/* The same for direction 0 (increase) with a prior w over its
 * CD_ODDS_GRID grid points (weights summing to 1) instead of a uniform
 * one. */
double cd_odds_log_e_weighted(const double log_lr[CD_ODDS_STATE], const double *w);

/* An always-valid confidence sequence for a proportion: x successes in n
 * trials, confidence 1 - alpha at every n simultaneously (Robbins'
 * mixture martingale with a Beta(1/2, 1/2) prior: the set of p whose
 * mixture likelihood ratio stays below 1/alpha). lo = 0 when x = 0, hi = 1
 * when x = n; [0, 1] without trials. */
void cd_binom_cs(double x, double n, double alpha, double *lo, double *hi);

/* The half-width of an always-valid interval for a normal estimate with
 * standard error se, from a normal mixture whose prior sd is scale:
 * sqrt(se^2 (1 + se^2/scale^2) log((1 + scale^2/se^2) / alpha^2)). */
double cd_normal_cs_radius(double se, double scale, double alpha);

/* ---- ranks ------------------------------------------------------------------ */

/* Prior precision of the normal mixture on the drift theta = 12 (P - 1/2),
 * P = P(canary > primary): sd 1/sqrt(rho). */
#define CD_RANK_RHO 0.7

/* Adds one window's test (x = canary, y = primary) to S and V. */
void cd_rank_update(double *s, double *v, const cd_mw *window);
/* log Lambda of the mixture: direction 0 = increase (half-normal prior on
 * theta > 0), 1 = decrease, 2 = either (normal prior). */
double cd_rank_log_lambda(double s, double v, double rho, int direction);
/* The z value an always-valid two-sided 1 - alpha interval needs at
 * information v: sqrt((v + rho)/v * log((v + rho) / (rho alpha^2))). */
double cd_rank_z_boundary(double v, double rho, double alpha);

#endif
