/* stats.c - distribution functions (stats.h), written from their
 * mathematical definitions: the normal quantile is Wichura's algorithm
 * AS 241 polished by one Newton step, the incomplete beta a continued
 * fraction evaluated with Lentz's method, the t quantile a safeguarded
 * Newton iteration. Pure: no state, no allocation, no I/O. */
#include "judge/stats.h"
#include <float.h>
#include <math.h>

#define SQRT1_2 0.70710678118654752440
#define LOG_SQRT_2PI 0.91893853320467274178

double cd_norm_pdf(double x) { return exp(-0.5 * x * x - LOG_SQRT_2PI); }

double cd_norm_cdf(double x) { return 0.5 * erfc(-x * SQRT1_2); }

double cd_norm_sf(double x) { return 0.5 * erfc(x * SQRT1_2); }

/* log Φ(x): for very negative x, erfc underflows; use the asymptotic
 * series of the Mills ratio instead. */
double cd_norm_logcdf(double x)
{
    if (isnan(x))
        return x;
    if (x > -20.0)
        return log(cd_norm_cdf(x));
    double z = x * x, s = 1.0, term = 1.0;
    for (int k = 1; k < 8; k++) {
        term *= -(2.0 * k - 1.0) / z;
        s += term;
    }
    return -0.5 * z - LOG_SQRT_2PI - log(-x) + log(s);
}

static double poly(const double *c, int n, double r)
{
    double v = c[n - 1];
    for (int i = n - 2; i >= 0; i--)
        v = v * r + c[i];
    return v;
}

/* AS 241 (PPND16), Wichura 1988. */
static double ppnd16(double p)
{
    static const double a[8] = {3.3871328727963666080e0, 1.3314166789178437745e+2,
                                1.9715909503065514427e+3, 1.3731693765509461125e+4,
                                4.5921953931549871457e+4, 6.7265770927008700853e+4,
                                3.3430575583588128105e+4, 2.5090809287301226727e+3};
    static const double b[8] = {1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
                                5.3941960214247511077e+3, 2.1213794301586595867e+4,
                                3.9307895800092710610e+4, 2.8729085735721942674e+4,
                                5.2264952788528545610e+3};
    static const double c[8] = {1.42343711074968357734e0, 4.63033784615654529590e0,
                                5.76949722146069140550e0, 3.64784832476320460504e0,
                                1.27045825245236838258e0, 2.41780725177450611770e-1,
                                2.27238449892691845833e-2, 7.74545014278341407640e-4};
    static const double d[8] = {1.0, 2.05319162663775882187e0, 1.67638483018380384940e0,
                                6.89767334985100004550e-1, 1.48103976427480074590e-1,
                                1.51986665636164571966e-2, 5.47593808499534494600e-4,
                                1.05075007164441684324e-9};
    static const double e[8] = {6.65790464350110377720e0, 5.46378491116411436990e0,
                                1.78482653991729133580e0, 2.96560571828504891230e-1,
                                2.65321895265761230930e-2, 1.24266094738807843860e-3,
                                2.71155556874348757815e-5, 2.01033439929228813265e-7};
    static const double f[8] = {1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
                                1.48753612908506148525e-2, 7.86869131145613259100e-4,
                                1.84631831751005468180e-5, 1.42151175831644588870e-7,
                                2.04426310338993978564e-15};
    double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        double r = 0.180625 - q * q;
        return q * poly(a, 8, r) / poly(b, 8, r);
    }
    double r = q < 0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    double v;
    if (r <= 5.0) {
        r -= 1.6;
        v = poly(c, 8, r) / poly(d, 8, r);
    } else {
        r -= 5.0;
        v = poly(e, 8, r) / poly(f, 8, r);
    }
    return q < 0 ? -v : v;
}

double cd_norm_quantile(double p)
{
    if (isnan(p))
        return p;
    if (p <= 0.0)
        return -INFINITY;
    if (p >= 1.0)
        return INFINITY;
    double x = ppnd16(p);
    /* one Newton step on the tail that is computed without cancellation */
    double dens = cd_norm_pdf(x);
    if (dens > 0 && isfinite(x)) {
        double err = p < 0.5 ? cd_norm_cdf(x) - p : (1.0 - p) - cd_norm_sf(x);
        x -= err / dens;
    }
    return x;
}

/* ---- incomplete beta and Student's t ------------------------------------ */

/* log Γ(a) - log Γ(a + b) for large a, from Stirling's series, written so
 * that nothing large cancels (lgamma(a) - lgamma(a + b) loses about
 * log10(a) digits). */
static double lgamma_ratio_large(double a, double b)
{
    double c = a + b;
    return -(a - 0.5) * log1p(b / a) - b * log(c) + b + (1.0 / a - 1.0 / c) / 12.0 -
           (1.0 / (a * a * a) - 1.0 / (c * c * c)) / 360.0 +
           (1.0 / (a * a * a * a * a) - 1.0 / (c * c * c * c * c)) / 1260.0;
}

static double log_beta(double a, double b)
{
    if (a < b) {
        double t = a;
        a = b;
        b = t;
    }
    if (a > 1e4)
        return lgamma(b) + lgamma_ratio_large(a, b);
    return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/* Continued fraction for I_x(a, b), valid for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double f = 1.0, c = 1.0, d = 0.0;
    for (int i = 0; i <= 600; i++) {
        double m = i / 2, num;
        if (i == 0)
            num = 1.0;
        else if (i % 2 == 0)
            num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        else
            num = -((a + m) * (a + b + m) * x) / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        if (fabs(d) < tiny)
            d = tiny;
        d = 1.0 / d;
        c = 1.0 + num / c;
        if (fabs(c) < tiny)
            c = tiny;
        double cd = c * d;
        f *= cd;
        if (fabs(1.0 - cd) < 1e-16)
            break;
    }
    return f - 1.0;
}

/* I_x(a, b) with y = 1 - x given separately (no cancellation near 1). */
static double beta_inc_xy(double a, double b, double x, double y)
{
    if (isnan(a) || isnan(b) || isnan(x) || a <= 0 || b <= 0)
        return NAN;
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    double lx = y < 0.5 ? log1p(-y) : log(x), ly = x < 0.5 ? log1p(-x) : log(y);
    double lfront = a * lx + b * ly - log_beta(a, b);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lfront) * beta_cf(b, a, y) / b;
}

double cd_beta_inc(double a, double b, double x) { return beta_inc_xy(a, b, x, 1.0 - x); }

double cd_t_cdf(double t, double df)
{
    if (isnan(t) || isnan(df) || df <= 0)
        return NAN;
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    if (isinf(df))
        return cd_norm_cdf(t);
    double x = df / (df + t * t), y = t * t / (df + t * t);
    double tail = 0.5 * beta_inc_xy(0.5 * df, 0.5, x, y);
    return t > 0 ? 1.0 - tail : tail;
}

static double t_pdf(double t, double df)
{
    double l = lgamma(0.5 * (df + 1.0)) - lgamma(0.5 * df) - 0.5 * log(df * M_PI) -
               0.5 * (df + 1.0) * log1p(t * t / df);
    return exp(l);
}

double cd_t_quantile(double p, double df)
{
    if (isnan(p) || isnan(df) || df <= 0)
        return NAN;
    if (p <= 0.0)
        return -INFINITY;
    if (p >= 1.0)
        return INFINITY;
    if (isinf(df))
        return cd_norm_quantile(p);
    if (p > 0.5)
        return -cd_t_quantile(1.0 - p, df);   /* symmetric; solve in the lower tail */
    if (p == 0.5)
        return 0.0;
    /* bracket [lo, hi] with cdf(lo) <= p <= cdf(hi), then safeguarded Newton */
    double hi = 0.0, lo = cd_norm_quantile(p) * 2.0 - 1.0;
    while (cd_t_cdf(lo, df) > p && lo > -1e300)
        lo *= 2.0;
    double x = 0.5 * (lo + hi);
    for (int i = 0; i < 400; i++) {
        double f = cd_t_cdf(x, df) - p;
        if (f == 0.0)
            return x;
        if (f > 0)
            hi = x;
        else
            lo = x;
        double dens = t_pdf(x, df), next = x - f / dens;
        if (!(dens > 0) || !(next > lo && next < hi))
            next = 0.5 * (lo + hi);
        if (fabs(next - x) <= 1e-15 * fabs(x) + 1e-300)
            return next;
        x = next;
    }
    return x;
}

/* ---- log-space helpers and the hypergeometric ------------------------------ */

double cd_log_add(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

double cd_log_choose(double n, double k)
{
    if (k < 0 || k > n)
        return -INFINITY;
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}

bool cd_hyper_init(cd_hyper *h, double n1, double n2, double t)
{
    if (!(n1 >= 0) || !(n2 >= 0) || !(t >= 0) || t > n1 + n2 || !isfinite(n1 + n2))
        return false;
    h->n1 = floor(n1);
    h->n2 = floor(n2);
    h->t = floor(t);
    h->lo = h->t - h->n2 > 0 ? h->t - h->n2 : 0;
    h->hi = h->n1 < h->t ? h->n1 : h->t;
    return true;
}

double cd_hyper_log_pmf(const cd_hyper *h, double x)
{
    if (x < h->lo || x > h->hi || x != floor(x))
        return -INFINITY;
    return cd_log_choose(h->n1, x) + cd_log_choose(h->n2, h->t - x) -
           cd_log_choose(h->n1 + h->n2, h->t);
}

void cd_hyper_log_mgf(const cd_hyper *h, const double *log_psi, size_t n, double *out)
{
    for (size_t j = 0; j < n; j++)
        out[j] = -INFINITY;
    double norm = -INFINITY;
    /* log C(n1, x) C(n2, t - x) by the ratio of consecutive terms */
    double lh = cd_log_choose(h->n1, h->lo) + cd_log_choose(h->n2, h->t - h->lo);
    for (double x = h->lo; x <= h->hi; x += 1.0) {
        norm = cd_log_add(norm, lh);
        for (size_t j = 0; j < n; j++)
            out[j] = cd_log_add(out[j], lh + x * log_psi[j]);
        lh += log(h->n1 - x) - log(x + 1.0) + log(h->t - x) - log(h->n2 - h->t + x + 1.0);
    }
    for (size_t j = 0; j < n; j++)
        out[j] -= norm;
}
