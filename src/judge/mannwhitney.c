/* mannwhitney.c - Mann-Whitney U and Hodges-Lehmann (mannwhitney.h).
 * Ranks come from one sort of the pooled sample; the exact null
 * distribution of U from the counting recursion
 * f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u) (only additions, so
 * doubles stay exact far beyond what the sizes allowed here need); the
 * Hodges-Lehmann order statistics by bisection over doubles with an
 * O(m + n) count, never materialising the m n differences. Must stay
 * deterministic: equal inputs give equal outputs bit for bit. */
#include "judge/mannwhitney.h"
#include "judge/stats.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Finite values of v, sorted, in a new array (NULL when none or no memory). */
static double *sorted_finite(const double *v, size_t n, size_t *out_n)
{
    *out_n = 0;
    double *s = n ? malloc(n * sizeof *s) : NULL;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            s[(*out_n)++] = v[i];
    if (*out_n == 0) {
        free(s);
        return NULL;
    }
    qsort(s, *out_n, sizeof *s, cmp_double);
    return s;
}

/* ---- the exact null distribution ------------------------------------------- */

/* Counts of U = 0..m n over all C(m + n, m) arrangements into freq (m n + 1
 * values); returns their total, or 0 when the sizes are out of range. */
static double exact_counts(size_t m, size_t n, double *freq)
{
    if (m == 0 || n == 0 || m >= CD_MW_EXACT_MAX || n >= CD_MW_EXACT_MAX)
        return 0;
    size_t width = m * n + 1;
    double *prev = calloc((n + 1) * width, sizeof *prev);
    double *cur = calloc((n + 1) * width, sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return 0;
    }
    for (size_t j = 0; j <= n; j++)
        prev[j * width] = 1.0;              /* f(0, j, 0) = 1 */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * width * sizeof *cur);
        cur[0] = 1.0;                       /* f(i, 0, 0) = 1 */
        for (size_t j = 1; j <= n; j++) {
            double *c = cur + j * width, *left = cur + (j - 1) * width, *up = prev + j * width;
            size_t top = i * j;
            for (size_t u = 0; u <= top; u++)
                c[u] = left[u] + (u >= j ? up[u - j] : 0.0);
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    double total = 0;
    for (size_t u = 0; u < width; u++) {
        freq[u] = prev[n * width + u];
        total += freq[u];
    }
    free(prev);
    free(cur);
    return total;
}

/* P(U <= u) from counts; u may be fractional (then floor). */
static double counts_cdf(const double *freq, size_t width, double total, double u)
{
    if (u < 0)
        return 0.0;
    double acc = 0;
    for (size_t k = 0; k < width && (double)k <= u; k++)
        acc += freq[k];
    return acc / total;
}

static double with_counts(size_t m, size_t n, double u, int what)
{
    size_t width = m * n + 1;
    double *freq = (m && n && m < CD_MW_EXACT_MAX && n < CD_MW_EXACT_MAX)
                       ? malloc(width * sizeof *freq) : NULL;
    double total = freq ? exact_counts(m, n, freq) : 0;
    double r = NAN;
    if (total > 0) {
        if (what == 0) {
            r = counts_cdf(freq, width, total, u);
        } else if (what == 1) {       /* P(U >= u) = P(U <= mn - u) by symmetry */
            r = counts_cdf(freq, width, total, (double)(m * n) - ceil(u));
        } else {                      /* quantile */
            double acc = 0;
            r = (double)(m * n);
            for (size_t k = 0; k < width; k++) {
                acc += freq[k];
                if (acc / total >= u * (1.0 - 1e-12)) {
                    r = (double)k;
                    break;
                }
            }
        }
    }
    free(freq);
    return r;
}

double cd_mw_exact_cdf(size_t m, size_t n, double u) { return with_counts(m, n, u, 0); }
double cd_mw_exact_sf(size_t m, size_t n, double u) { return with_counts(m, n, u, 1); }
double cd_mw_exact_quantile(size_t m, size_t n, double p) { return with_counts(m, n, p, 2); }

/* ---- the test ------------------------------------------------------------------ */

typedef struct tagged { double v; int x; } tagged;

static int cmp_tagged(const void *a, const void *b)
{
    const tagged *p = a, *q = b;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return p->x - q->x;   /* deterministic order; ranks are averaged anyway */
}

/* Rank sum of x (average ranks) and the tie term sum(t^3 - t). */
static bool rank_sum(const double *xs, size_t m, const double *ys, size_t n, double *r1,
                     double *tie_term)
{
    size_t total = m + n;
    tagged *all = malloc(total * sizeof *all);
    if (!all)
        return false;
    for (size_t i = 0; i < m; i++)
        all[i] = (tagged){xs[i], 1};
    for (size_t j = 0; j < n; j++)
        all[m + j] = (tagged){ys[j], 0};
    qsort(all, total, sizeof *all, cmp_tagged);
    *r1 = 0;
    *tie_term = 0;
    for (size_t i = 0; i < total;) {
        size_t j = i;
        while (j + 1 < total && all[j + 1].v == all[i].v)
            j++;
        double t = (double)(j - i + 1), rank = ((double)i + (double)j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            if (all[k].x)
                *r1 += rank;
        *tie_term += t * t * t - t;
        i = j + 1;
    }
    free(all);
    return true;
}

static double clamp01(double p) { return p < 0 ? 0 : p > 1 ? 1 : p; }

static void normal_p_values(cd_mw *r)
{
    double sd = sqrt(r->var);
    if (!(sd > 0)) {
        r->p_greater = r->p_less = r->p_two_sided = 1.0;
        return;
    }
    double u1 = r->u, u2 = (double)(r->m * r->n) - r->u;
    double zg = (u1 - r->mean - 0.5) / sd, zl = (u2 - r->mean - 0.5) / sd;
    double zt = ((u1 > u2 ? u1 : u2) - r->mean - 0.5) / sd;
    r->p_greater = clamp01(cd_norm_sf(zg));
    r->p_less = clamp01(cd_norm_sf(zl));
    r->p_two_sided = clamp01(2.0 * cd_norm_sf(zt));
}

static bool exact_p_values(cd_mw *r)
{
    size_t width = r->m * r->n + 1;
    double *freq = malloc(width * sizeof *freq);
    double total = freq ? exact_counts(r->m, r->n, freq) : 0;
    if (total <= 0) {
        free(freq);
        return false;
    }
    double mn = (double)(r->m * r->n), u1 = r->u, u2 = mn - r->u;
    /* P(U >= u) = P(U <= mn - u) */
    r->p_greater = clamp01(counts_cdf(freq, width, total, mn - u1));
    r->p_less = clamp01(counts_cdf(freq, width, total, mn - u2));
    r->p_two_sided = clamp01(2.0 * counts_cdf(freq, width, total, mn - (u1 > u2 ? u1 : u2)));
    free(freq);
    return true;
}

bool cd_mw_test(const double *x, size_t nx, const double *y, size_t ny, cd_mw *r)
{
    memset(r, 0, sizeof *r);
    size_t m, n;
    double *xs = sorted_finite(x, nx, &m), *ys = sorted_finite(y, ny, &n);
    double r1 = 0, tie_term = 0;
    bool ok = xs && ys && rank_sum(xs, m, ys, n, &r1, &tie_term);
    free(xs);
    free(ys);
    if (!ok)
        return false;
    double dm = (double)m, dn = (double)n, big = dm + dn;
    r->m = m;
    r->n = n;
    r->u = r1 - dm * (dm + 1.0) / 2.0;
    r->mean = dm * dn / 2.0;
    r->var = dm * dn / 12.0 * ((big + 1.0) - tie_term / (big * (big - 1.0)));
    if (r->var < 0)
        r->var = 0;
    r->ties = tie_term > 0;
    r->z = r->var > 0 ? (r->u - r->mean) / sqrt(r->var) : 0.0;
    r->cles = r->u / (dm * dn);
    r->exact = !r->ties && m < CD_MW_EXACT_MAX && n < CD_MW_EXACT_MAX && exact_p_values(r);
    if (!r->exact)
        normal_p_values(r);
    return true;
}

/* ---- Hodges-Lehmann --------------------------------------------------------------- */

/* #{(i, j): xs[i] - ys[j] <= d}, both sorted ascending. */
static double count_le(const double *xs, size_t m, const double *ys, size_t n, double d)
{
    double count = 0;
    size_t j = 0;
    for (size_t i = 0; i < m; i++) {
        while (j < n && xs[i] - ys[j] > d)
            j++;
        count += (double)(n - j);
    }
    return count;
}

/* Doubles ordered as unsigned integers. */
static uint64_t key_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u >> 63) ? ~u : u | 0x8000000000000000ull;
}

static double double_of(uint64_t k)
{
    uint64_t u = (k >> 63) ? k & 0x7fffffffffffffffull : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

double cd_kth_difference(const double *xs, size_t m, const double *ys, size_t n, double k)
{
    if (m == 0 || n == 0)
        return NAN;
    if (k < 1)
        k = 1;
    if (k > (double)m * (double)n)
        k = (double)m * (double)n;
    uint64_t lo = key_of(xs[0] - ys[n - 1]), hi = key_of(xs[m - 1] - ys[0]);
    while (lo < hi) {   /* smallest key whose value has count_le >= k */
        uint64_t mid = lo + (hi - lo) / 2;
        if (count_le(xs, m, ys, n, double_of(mid)) >= k)
            hi = mid;
        else
            lo = mid + 1;
    }
    double d = double_of(lo);
    return d == 0 ? 0.0 : d;   /* never -0 */
}

bool cd_hl_shift(const double *x, size_t nx, const double *y, size_t ny, double confidence,
                 cd_hl *r)
{
    memset(r, 0, sizeof *r);
    size_t m, n;
    double *xs = sorted_finite(x, nx, &m), *ys = sorted_finite(y, ny, &n);
    cd_mw mw;
    if (!xs || !ys || !cd_mw_test(xs, m, ys, n, &mw)) {
        free(xs);
        free(ys);
        return false;
    }
    double mn = (double)m * (double)n;
    if (fmod(mn, 2.0) == 1.0)
        r->estimate = cd_kth_difference(xs, m, ys, n, (mn + 1.0) / 2.0);
    else
        r->estimate = (cd_kth_difference(xs, m, ys, n, mn / 2.0) +
                       cd_kth_difference(xs, m, ys, n, mn / 2.0 + 1.0)) / 2.0;
    if (!(confidence > 0 && confidence < 1))
        confidence = 0.95;
    r->confidence = confidence;
    double alpha = 1.0 - confidence, k;
    if (mw.exact) {
        k = cd_mw_exact_quantile(m, n, alpha / 2.0);
        if (!(k >= 1))
            k = 1;
        r->exact = true;
    } else {
        double zs = cd_norm_quantile(1.0 - alpha / 2.0) * sqrt(mw.var);
        k = ceil(mn / 2.0 - 0.5 - zs);
    }
    double kmax = floor((mn + 1.0) / 2.0);
    if (k < 1)
        k = 1;
    if (k > kmax)
        k = kmax;
    r->lower = cd_kth_difference(xs, m, ys, n, k);
    r->upper = cd_kth_difference(xs, m, ys, n, mn + 1.0 - k);
    free(xs);
    free(ys);
    return true;
}
