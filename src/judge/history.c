/* history.c - the history tests (history.h). The calibration integrates
 * over every history a service at rate p0 could have produced, for every
 * p0 (intervals of baselines, each bounded at its worst); everything else
 * is closed-form arithmetic on counts. Pure functions, no I/O; the
 * calibration allocates scratch memory and remembers its results (a memo
 * of a pure function, under a mutex). */
#include "judge/history.h"
#include "judge/sequential.h"
#include "judge/stats.h"
#include <math.h>
#include <pthread.h>
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

/* P(Bin(n, p) <= x) = I_{1-p}(n - x, x + 1). */
static double binom_cdf(double x, double n, double p)
{
    if (x < 0)
        return 0;
    if (x >= n || p <= 0)
        return 1;
    if (p >= 1)
        return 0;
    return cd_beta_inc(n - x, x + 1, 1 - p);
}

/* One interval of baselines [pa, pb]. The histories that understate some
 * baseline in it (r(x) < pb) are cut into groups of consecutive x, the
 * most understating first; a group is charged the exponent of its lowest
 * x at pb (the smallest reference against the largest baseline: the
 * worst), and Abel summation turns the charges into differences times
 * P(X <= x), each of which is largest at pa. So the bound holds for every
 * baseline of the interval. */
#define GROUPS 32

typedef struct interval {
    int n;
    double used;            /* P_pa(r(X) < detect): the histories the test uses at all */
    double below[GROUPS];   /* P_pa(X <= the group's last x) */
    double lambda[GROUPS];  /* the group's exponent */
} interval;

/* The last x with r(x) < limit (-1: none). */
static double last_below(double limit, double n)
{
    if (cd_history_reference(0, n) >= limit)
        return -1;
    double lo = 0, hi = n + 1;   /* r(lo) < limit <= r(hi) */
    while (hi - lo > 1) {
        double mid = floor(0.5 * (lo + hi));
        if (cd_history_reference(mid, n) < limit)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void interval_of(double n, double pa, double pb, double detect, interval *iv)
{
    iv->n = 0;
    iv->used = binom_cdf(last_below(detect, n), n, pa);
    /* the histories used (r < detect) that understate pb: x <= xt */
    double xt = last_below(fmin(pb, detect), n);
    if (xt < 0)
        return;
    double mean = n * pa, sd = sqrt(n * pa * (1 - pa)) + 1;
    double x0 = fmax(0, floor(mean - 12 * sd));   /* below: under 1e-30, in the first group */
    if (x0 > xt)
        x0 = xt;
    /* at most GROUPS groups, each one distribution function evaluation:
     * the work does not grow with the history's size */
    double stride = fmax(1, ceil((xt - x0 + 1) / GROUPS));
    for (double x = x0; x <= xt && iv->n < GROUPS; x += stride) {
        double r = cd_history_reference(x, n), last = fmin(x + stride - 1, xt);
        iv->lambda[iv->n] = lambda_star(r, pb, alt_of(r, detect));
        iv->below[iv->n] = binom_cdf(last, n, pa);
        iv->n++;
    }
}

/* The bound on an interval at a level: level for the histories that do
 * not understate, each group's charge min(beta, level^lambda) above it. */
static double interval_bound(const interval *iv, double level, double beta)
{
    /* charges, least understating (last group) first: each at least the
     * one after it; the used histories that do not understate: level; the
     * unused ones: nothing */
    double b = level * iv->used, next = level;
    for (int g = iv->n - 1; g >= 0; g--) {
        double t = fmax(next, fmin(beta, pow(level, iv->lambda[g])));
        b += (t - next) * iv->below[g];
        next = t;
    }
    return b;
}

double cd_history_bound(double n, double p0, double detect, double level, double beta)
{
    interval iv;
    interval_of(floor(n), p0, p0, detect, &iv);
    return interval_bound(&iv, level, beta);
}

/* The baselines are covered by intervals of 2 %, from the smallest
 * reference (below it nothing is understated: the bound is the level) up
 * to where histories used at all become negligible. */
#define RATIO 1.02
#define MAX_INTERVALS 1200

static double calibrate(double n, double detect, double alpha_h, double beta)
{
    interval *iv = malloc(MAX_INTERVALS * sizeof *iv);
    if (!iv)
        return 0;
    int count = 0;
    for (double pa = cd_history_reference(0, n); pa < 1 && count < MAX_INTERVALS; pa *= RATIO) {
        double pb = fmin(pa * RATIO, 1 - 1e-9);
        interval_of(n, pa, pb, detect, &iv[count]);
        count++;
        if (iv[count - 1].n && iv[count - 1].below[iv[count - 1].n - 1] < 1e-12 * alpha_h)
            break;   /* beyond: a used history is vanishingly rare */
    }
    double lo = 0, hi = alpha_h;
    for (int it = 0; it < 30; it++) {   /* to 1e-9 of alpha_h */
        double mid = 0.5 * (lo + hi), worst = 0;
        for (int i = 0; i < count && worst <= alpha_h; i++)
            worst = fmax(worst, interval_bound(&iv[i], mid, beta));
        if (worst <= alpha_h)
            lo = mid;
        else
            hi = mid;
    }
    free(iv);
    return lo;
}

/* The level depends on the history's size and the configuration only:
 * remembered per process (a rollout, or a benchmark's thousands of them,
 * often asks again). */
#define MEMO 2048
static struct memo {
    double n, detect, alpha_h, beta, level;
} memo[MEMO];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static double level_for(double n, double detect, double alpha_h, double beta)
{
    size_t slot = (size_t)fmod(n * 2654435761.0 + detect * 1e6 + alpha_h * 1e7, MEMO);
    pthread_mutex_lock(&memo_lock);
    struct memo m = memo[slot];
    pthread_mutex_unlock(&memo_lock);
    if (m.n == n && m.detect == detect && m.alpha_h == alpha_h && m.beta == beta)
        return m.level;
    double level = calibrate(n, detect, alpha_h, beta);
    pthread_mutex_lock(&memo_lock);
    memo[slot] = (struct memo){n, detect, alpha_h, beta, level};
    pthread_mutex_unlock(&memo_lock);
    return level;
}

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
    out->level = level_for(n, detect, alpha_h, beta);
    return out->level > 0;
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
