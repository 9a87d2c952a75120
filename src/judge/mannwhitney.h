/* mannwhitney.h - the Mann-Whitney U (Wilcoxon rank-sum) test of x against
 * y, the Hodges-Lehmann estimate of the shift x - y and its confidence
 * interval. Ties get average ranks and the tie-corrected variance: the
 * result is a function of the data alone (no random tie-breaking, unlike
 * Kayenta). Exact small-sample p-values and intervals when there are no
 * ties and both samples have fewer than 50 values, as R's wilcox.test
 * does; the normal approximation otherwise. NaN and infinite values are
 * dropped first. Pure: no state, no I/O; allocates only scratch memory
 * that it frees. */
#ifndef CD_JUDGE_MANNWHITNEY_H
#define CD_JUDGE_MANNWHITNEY_H
#include <stdbool.h>
#include <stddef.h>

#define CD_MW_EXACT_MAX 50   /* exact when both sizes are below this and no ties */

typedef enum { CD_ALT_GREATER, CD_ALT_LESS, CD_ALT_TWO_SIDED } cd_alternative;

typedef struct cd_mw {
    size_t m, n;            /* sizes of x and y after dropping non-finite values */
    double u;               /* U of x: #{x_i > y_j} + 0.5 #{x_i = y_j} */
    double mean, var;       /* null mean m n / 2 and tie-corrected variance */
    bool ties;              /* any tie in the combined sample */
    bool exact;             /* p-values and interval from the exact null distribution */
    double z;               /* (U - mean) / sd, without continuity correction; 0 when var = 0 */
    double p_greater, p_less, p_two_sided;   /* SciPy's conventions (continuity-corrected
                                                normal approximation, or exact) */
    double cles;            /* U / (m n): probability that x exceeds y (ties count half) */
} cd_mw;

/* Tests x against y. Returns false (and leaves *r zeroed) when either
 * sample is empty after dropping non-finite values or memory runs out. */
bool cd_mw_test(const double *x, size_t nx, const double *y, size_t ny, cd_mw *r);

typedef struct cd_hl {
    double estimate;        /* median of the m n differences x_i - y_j */
    double lower, upper;    /* confidence interval for the shift */
    double confidence;      /* as requested */
    bool exact;             /* interval from exact order statistics */
} cd_hl;

/* Hodges-Lehmann shift of x - y with a two-sided interval at the given
 * confidence (e.g. 0.95). Sorted copies are made internally. Same failure
 * rule as cd_mw_test. The interval is [D(k), D(mn + 1 - k)] where D are the
 * ordered differences and k comes from the exact distribution of U
 * (R's convention) or from the tie-corrected normal approximation with a
 * continuity correction, k = ceil(mn/2 - 1/2 - z sd), at least 1. */
bool cd_hl_shift(const double *x, size_t nx, const double *y, size_t ny, double confidence,
                 cd_hl *r);

/* The k-th smallest (1-based) of the differences x_i - y_j, for sorted
 * finite x and y, without building them: O((m + n) log) by bisection over
 * doubles. */
double cd_kth_difference(const double *xs, size_t m, const double *ys, size_t n, double k);

/* Exact null distribution of U without ties: P(U <= u) and P(U >= u) for
 * sizes m, n < CD_MW_EXACT_MAX (NaN otherwise), and the smallest u with
 * P(U <= u) >= p. */
double cd_mw_exact_cdf(size_t m, size_t n, double u);
double cd_mw_exact_sf(size_t m, size_t n, double u);
double cd_mw_exact_quantile(size_t m, size_t n, double p);

#endif
