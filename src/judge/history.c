/* history.c - the history tests (history.h). The calibration integrates
 * over every history a service at rate p0 could have produced, on a grid
 * of baselines; everything else is closed-form arithmetic on counts.
 * Pure: no state, no I/O, no allocation. */
#include "judge/history.h"
#include "judge/sequential.h"
#include "judge/stats.h"
#include <math.h>
#include <stdlib.h>

#define TINY 1e-12

/* z of the reference: the upper 1 - CD_HISTORY_ALPHA_R quantile of the normal */
#define Z_R 0.8416212335729143

double cd_history_reference(double x, double n)
{
    if (!(n > 0))
        return 1;
    /* Wilson-Hilferty's form of the Poisson (Garwood) upper bound of x */
    double k = x + 1, c = 1 - 1 / (9 * k) + Z_R / (3 * sqrt(k));
    return fmin(1, k * c * c * c / n);
}

/* The largest lambda in [0, 1] with E_q[LR^lambda] <= 1 per request, LR
 * the history test's ratio of p1 against r: 1 when q <= r. */
static double lambda_star(double r, double q, double p1)
{
    double a = log(p1 / r), b = log((1 - p1) / (1 - r));
    if (q * exp(a) + (1 - q) * exp(b) <= 1)
        return 1;
    if (q * a + (1 - q) * b >= 0)
        return 0;   /* the log-ratio drifts upwards: no exponent helps */
    double lo = 0, hi = 1;
    for (int i = 0; i < 40; i++) {
        double mid = 0.5 * (lo + hi);
        if (q * exp(mid * a) + (1 - q) * exp(mid * b) <= 1)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static double alt_of(double r, double detect) { return fmin(r + detect, 1 - 1e-9); }

/* The history test is used only when its reference is below the change
 * to detect: above it, the history says too little about the baseline. */
static bool usable(double r, double detect) { return r < detect; }

/* For one baseline p0: the histories (x failures of n) whose reference
 * understates p0, as groups of consecutive x each charged the exponent of
 * its lowest x (the smallest r: the worst case), and the probability of
 * the used histories that do not understate it. */
#define GROUPS 160

typedef struct tail_groups {
    double mass[GROUPS];
    double lambda[GROUPS];
    int n;
    double rest;            /* used histories with r >= p0: charged the level */
} tail_groups;

static void tail_of(double n, double p0, double detect, tail_groups *t)
{
    t->n = 0;
    t->rest = 0;
    double mean = n * p0, sd = sqrt(n * p0 * (1 - p0)) + 1;
    double x0 = fmax(0, floor(mean - 40 * sd)), x1 = fmin(n, ceil(mean + 40 * sd));
    /* the first x whose reference reaches p0 (r is increasing in x) */
    double lo = -1, hi = x1 + 1;
    while (hi - lo > 1) {
        double mid = floor(0.5 * (lo + hi));
        if (cd_history_reference(mid, n) >= p0)
            hi = mid;
        else
            lo = mid;
    }
    double xt = hi;   /* x < xt understate p0 */
    double lq = log(p0), lr = log1p(-p0);
    double lpmf = cd_log_choose(n, x0) + x0 * lq + (n - x0) * lr;
    double stride = fmax(1, ceil((fmin(xt, x1 + 1) - x0) / GROUPS));
    double group_mass = 0, group_lambda = 1;
    int in_group = 0;
    for (double x = x0; x <= x1; x += 1) {
        double pmf = exp(lpmf);
        double r = cd_history_reference(x, n);
        if (usable(r, detect)) {
            if (x < xt) {
                if (!in_group)
                    group_lambda = lambda_star(r, p0, alt_of(r, detect));
                group_mass += pmf;
                if (++in_group >= stride || x + 1 >= xt) {
                    if (t->n == GROUPS) {   /* (the stride keeps below this) merge */
                        t->mass[GROUPS - 1] += group_mass;
                        t->lambda[GROUPS - 1] = fmin(t->lambda[GROUPS - 1], group_lambda);
                    } else {
                        t->mass[t->n] = group_mass;
                        t->lambda[t->n++] = group_lambda;
                    }
                    group_mass = 0;
                    in_group = 0;
                }
            } else {
                t->rest += pmf;
            }
        }
        if (x < n)
            lpmf += log(n - x) - log(x + 1) + lq - lr;
    }
}

/* A history that understates p0 leaves the history test exposed, but the
 * step guard is not: the shared rate p0 is one of the rates >= r it
 * rules out, so such a history costs at most beta. */
static double bound_of(const tail_groups *t, double level, double beta)
{
    double b = level * fmin(1, t->rest);
    for (int k = 0; k < t->n; k++)
        b += t->mass[k] * fmin(beta, pow(level, t->lambda[k]));
    return b;
}

double cd_history_bound(double n, double p0, double detect, double level, double beta)
{
    tail_groups t;
    tail_of(floor(n), p0, detect, &t);
    return bound_of(&t, level, beta);
}

/* Baselines the calibration checks: log-spaced from 1e-6 to 0.9. */
#define BASELINES 48

bool cd_history_plan_errors(double n, double x, double detect, double alpha_h, double beta,
                            cd_history_plan *out)
{
    if (!(n >= 1) || !(x >= 0) || x > n || !isfinite(n) || n > 1e12 || !(detect > 0) ||
        detect >= 1 || !(alpha_h > 0 && alpha_h < 1) || !(beta > 0 && beta <= 1))
        return false;
    n = floor(n);
    x = floor(x);
    out->n = n;
    out->x = x;
    out->p0 = (x + 0.5) / (n + 1);
    out->reference = cd_history_reference(x, n);
    out->alt = alt_of(out->reference, detect);
    out->level = 0;
    if (!usable(out->reference, detect))
        return false;
    /* the level: the largest that keeps the bound <= alpha_h at every baseline */
    tail_groups *g = malloc(BASELINES * sizeof *g);
    if (!g)
        return false;
    for (int i = 0; i < BASELINES; i++)
        tail_of(n, 1e-6 * pow(0.9 / 1e-6, (double)i / (BASELINES - 1)), detect, &g[i]);
    double lo = 0, hi = alpha_h;
    for (int it = 0; it < 40; it++) {
        double mid = 0.5 * (lo + hi), worst = 0;
        for (int i = 0; i < BASELINES && worst <= alpha_h; i++)
            worst = fmax(worst, bound_of(&g[i], mid, beta));
        if (worst <= alpha_h)
            lo = mid;
        else
            hi = mid;
    }
    free(g);
    out->level = lo;
    return lo > 0;
}

static double ll(double x, double n, double p)
{
    double v = 0;
    if (x > 0)
        v += x * log(fmax(p, TINY));
    if (n - x > 0)
        v += (n - x) * log1p(-fmin(p, 1 - TINY));
    return v;
}

double cd_history_lr(double n, double x, double p1, double p) { return ll(x, n, p1) - ll(x, n, p); }

double cd_history_ui_log(const cd_history_plan *h, double detect, double n_c, double x_c,
                         double n_p, double x_p)
{
    double num = ll(x_c, n_c, fmin(h->p0 + detect, 1 - 1e-9)) + ll(x_p, n_p, h->p0);
    /* the best null: a shared rate q >= r, the canary's at most q */
    double pc = n_c > 0 ? x_c / n_c : 0, pp = n_p > 0 ? x_p / n_p : 0;
    double pooled = n_c + n_p > 0 ? (x_c + x_p) / (n_c + n_p) : 0;
    double q = pc <= pp ? fmax(h->reference, pp) : fmax(h->reference, pooled);
    double c = fmin(pc, q);
    return num - (ll(x_c, n_c, c) + ll(x_p, n_p, q));
}

void cd_history_drift_log(const cd_history_plan *h, double n_p, double x_p, double *up,
                          double *down)
{
    /* Poisson counts; the history's rate integrated over its Gamma(X + 1/2,
     * N) posterior: the Bayes factor of rate c p against p is
     * c^x (N + n)^(a + x) / (N + c n)^(a + x). */
    static const double cs[CD_HISTORY_DRIFT_N] = {2, 4, 8, 0.5, 0.25, 0.125};
    double a = h->x + 0.5, b = h->n;
    *up = *down = -INFINITY;
    for (int i = 0; i < CD_HISTORY_DRIFT_N; i++) {
        double c = cs[i];
        double lbf = x_p * log(c) + (a + x_p) * (log(b + n_p) - log(b + c * n_p)) - log(3.0);
        if (c > 1)
            *up = cd_log_add(*up, lbf);
        else
            *down = cd_log_add(*down, lbf);
    }
}

double cd_history_promote_rate(double n_c, double x_c, double prior, double bound)
{
    double p = (x_c + CD_HISTORY_PRIOR_REQUESTS * prior) / (n_c + CD_HISTORY_PRIOR_REQUESTS);
    return fmax(fmin(p, bound), TINY);
}

void cd_history_odds_weights(double p0, double detect, double *w, size_t count)
{
    double p1 = fmin(p0 + detect, 1 - 1e-9);
    double target = log((p1 / (1 - p1)) / (p0 / (1 - p0)));
    double sd = 1.5 * log(1.5), sum = 0;
    for (size_t i = 0; i < count; i++) {
        double d = log(cd_odds_grid_psi(i)) - target;
        w[i] = exp(-d * d / (2 * sd * sd));
        sum += w[i];
    }
    for (size_t i = 0; i < count; i++)
        w[i] = sum > 0 ? w[i] / sum : 1.0 / (double)count;
}
