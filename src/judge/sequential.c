/* sequential.c - the always-valid tests (sequential.h). The odds-ratio
 * grid and the mixture weights are fixed constants: changing them changes
 * the meaning of a persisted state, so src/judge/judge.c versions the
 * state layout. Pure, no I/O, no allocation. */
#include "judge/sequential.h"
#include "judge/stats.h"
#include <math.h>

/* Odds ratios 1.5, 2.25, ... (x1.5 per step) up to 1.5^10 = 57.7 and their
 * inverses: from "half again as many failures" to "a 0.1% service failing
 * 6% of the time". */
#define GRID_STEP 0.4054651081081644   /* log 1.5 */

double cd_odds_grid_psi(size_t i)
{
    double k = (double)(i % CD_ODDS_GRID + 1);
    return exp(i < CD_ODDS_GRID ? k * GRID_STEP : -k * GRID_STEP);
}

/* Counts above this are not whole numbers in a double any more. */
#define MAX_COUNT 1e15
/* The exact conditional law is summed over its whole support; a window
 * with more failures than this (over 16,000 failed requests a second for
 * a minute) is scaled down proportionally first: the same rates and split
 * with less information, so the test only gets more cautious. */
#define MAX_SUPPORT 1e6

bool cd_odds_update(double log_lr[CD_ODDS_STATE], double n_c, double x_c, double n_p, double x_p)
{
    if (!isfinite(n_c) || !isfinite(x_c) || !isfinite(n_p) || !isfinite(x_p) || n_c < 0 ||
        n_p < 0 || x_c < 0 || x_p < 0 || x_c > n_c || x_p > n_p || n_c > MAX_COUNT ||
        n_p > MAX_COUNT)
        return false;
    n_c = floor(n_c);
    n_p = floor(n_p);
    x_c = floor(x_c);
    x_p = floor(x_p);
    double f = (x_c + x_p) / MAX_SUPPORT;
    if (f > 1) {
        n_c = floor(n_c / f);
        n_p = floor(n_p / f);
        x_c = floor(x_c / f);
        x_p = floor(x_p / f);
    }
    double t = x_c + x_p;
    if (t == 0 || n_c == 0 || n_p == 0 || t == n_c + n_p)
        return true;   /* the conditional law is a point mass: no information */
    cd_hyper h;
    if (!cd_hyper_init(&h, n_c, n_p, t))
        return false;
    double log_psi[CD_ODDS_STATE], mgf[CD_ODDS_STATE];
    for (size_t i = 0; i < CD_ODDS_STATE; i++)
        log_psi[i] = log(cd_odds_grid_psi(i));
    cd_hyper_log_mgf(&h, log_psi, CD_ODDS_STATE, mgf);
    for (size_t i = 0; i < CD_ODDS_STATE; i++)
        log_lr[i] += x_c * log_psi[i] - mgf[i];
    return true;
}

double cd_odds_log_e(const double log_lr[CD_ODDS_STATE], int direction)
{
    double acc = -INFINITY;
    size_t from = direction == 1 ? CD_ODDS_GRID : 0;
    size_t to = direction == 0 ? CD_ODDS_GRID : CD_ODDS_STATE;
    double w = -log((double)(to - from));   /* uniform prior over the grid points used */
    for (size_t i = from; i < to; i++)
        acc = cd_log_add(acc, w + log_lr[i]);
    return acc;
}

double cd_odds_log_e_weighted(const double log_lr[CD_ODDS_STATE], const double *w)
{
    double acc = -INFINITY;
    for (size_t i = 0; i < CD_ODDS_GRID; i++)
        if (w[i] > 0)
            acc = cd_log_add(acc, log(w[i]) + log_lr[i]);
    return acc;
}

/* log of the mixture likelihood ratio against p0 (Jeffreys prior). */
static double binom_log_m(double x, double n, double p0)
{
    double lb = lgamma(0.5 + x) + lgamma(0.5 + n - x) - lgamma(1.0 + n) - log(M_PI);
    double ll = (x > 0 ? x * log(p0) : 0) + (n - x > 0 ? (n - x) * log1p(-p0) : 0);
    return lb - ll;
}

/* The p0 between from (inside the set) and to (outside) where the
 * mixture crosses 1/alpha, by bisection. */
static double cs_edge(double x, double n, double alpha, double from, double to)
{
    double level = -log(alpha);
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (from + to);
        if (mid == from || mid == to)
            break;
        if (binom_log_m(x, n, mid) < level)
            from = mid;
        else
            to = mid;
    }
    return from;
}

void cd_binom_cs(double x, double n, double alpha, double *lo, double *hi)
{
    *lo = 0;
    *hi = 1;
    if (!(n > 0) || !(x >= 0) || x > n || !(alpha > 0 && alpha < 1))
        return;
    double mle = x / n;
    if (x < n)
        *hi = cs_edge(x, n, alpha, mle, 1.0);
    if (x > 0)
        *lo = cs_edge(x, n, alpha, mle, 0.0);
}

double cd_normal_cs_radius(double se, double scale, double alpha)
{
    if (!(se > 0) || !(scale > 0))
        return INFINITY;
    double r2 = (se * se) / (scale * scale);
    return sqrt(se * se * (1.0 + r2) * log((1.0 + 1.0 / r2) / (alpha * alpha)));
}

void cd_rank_update(double *s, double *v, const cd_mw *w)
{
    if (!w || w->m == 0 || w->n == 0 || !(w->var > 0))
        return;
    double big = (double)(w->m + w->n) + 1.0;
    *s += (w->u - w->mean) / big;
    *v += w->var / (big * big);
}

double cd_rank_log_lambda(double s, double v, double rho, int direction)
{
    if (!(v > 0) || !(rho > 0))
        return 0.0;
    if (direction == 1)
        s = -s;
    double vr = v + rho;
    double base = 0.5 * log(rho / vr) + s * s / (2.0 * vr);
    if (direction == 2)
        return base;
    /* half-normal prior on theta > 0: twice the mass of the normal above 0 */
    return log(2.0) + base + cd_norm_logcdf(s / sqrt(vr));
}

double cd_rank_z_boundary(double v, double rho, double alpha)
{
    if (!(v > 0))
        return INFINITY;
    double vr = v + rho;
    return sqrt(vr / v * log(vr / (rho * alpha * alpha)));
}
