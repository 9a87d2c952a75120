/* test_judge_stats.c - the judge's statistics on known values and edge
 * cases (the SciPy cross-check on generated data is
 * tests/integration/test_judge_scipy.py): Kayenta's Mann-Whitney reference
 * vectors, determinism with ties, non-finite input, the pairwise-difference
 * selection against brute force, the sequential tests' basic laws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "judge/mannwhitney.h"
#include "judge/sequential.h"
#include "judge/stats.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_normal_known_values(void **state)
{
    assert_true(fabs(cd_norm_quantile(0.975) - 1.959963984540054) < 1e-14);
    assert_true(fabs(cd_norm_quantile(0.01) + 2.326347874040841) < 1e-14);   /* Kayenta's zQuant */
    assert_true(fabs(cd_norm_quantile(0.5)) < 1e-16);
    assert_true(isinf(cd_norm_quantile(0)) && cd_norm_quantile(0) < 0);
    assert_true(isinf(cd_norm_quantile(1)) && cd_norm_quantile(1) > 0);
    assert_true(isnan(cd_norm_quantile(NAN)));
    assert_true(fabs(cd_norm_cdf(1.959963984540054) - 0.975) < 1e-15);
    assert_true(fabs(cd_norm_logcdf(-40) - (-804.6084420137538)) < 1e-9);
    /* (SciPy's t.ppf(0.975, 10) = 2.2281388519649385 is 1e-11 off: its own
     * cdf gives 0.97499999999909 there) */
    double q = cd_t_quantile(0.975, 10);
    assert_true(fabs(q - 2.22813885196) < 1e-10);
    assert_true(fabs(cd_t_cdf(q, 10) - 0.975) < 1e-15);
    assert_true(fabs(cd_t_quantile(0.975, 1) - tan(0.475 * M_PI)) < 1e-12);   /* Cauchy */
    assert_true(isnan(cd_t_quantile(0.5, -1)));
}

static void test_kayenta_reference_vectors(void **state)
{
    const double x[] = {10, 20, 30, 40}, y[] = {1, 2, 3, 4};
    cd_hl hl;
    assert_true(cd_hl_shift(x, 4, y, 4, 0.95, &hl));
    assert_true(hl.exact);
    assert_true(hl.estimate == 22.5);
    assert_true(hl.lower == 6 && hl.upper == 39);
    cd_mw mw;
    assert_true(cd_mw_test(x, 4, y, 4, &mw));
    assert_true(mw.u == 16 && mw.exact && !mw.ties);
    assert_true(fabs(mw.p_greater - 1.0 / 70.0) < 1e-15);   /* 1 of C(8,4) arrangements */
    /* a tie forces the normal approximation: with y = {1,2,3,4,4} the tie
     * term is 6, sd = sqrt(20/12 (10 - 6/72)) = 4.065, k = ceil(10 - 0.5 -
     * 1.96 sd) = 2, so the interval is [D(2), D(19)] of the 20 ordered
     * differences 6 6 7 8 9 16 16 17 18 19 26 26 27 28 29 36 36 37 38 39 */
    const double y2[] = {1, 2, 3, 4, 4};
    assert_true(cd_hl_shift(x, 4, y2, 5, 0.95, &hl));
    assert_false(hl.exact);
    assert_true(hl.estimate == 22.5);
    assert_true(hl.lower == 6 && hl.upper == 38);
}

/* spinnaker#6278: Kayenta passed a canary with 7 of 10 points at 100
 * against a control of all 1s, because its tolerance was relative to the
 * estimate. Here the shift is 99 and the test is decisive. */
static void test_large_shift_with_wide_interval_is_caught(void **state)
{
    double x[10], y[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i < 7 ? 100 : 1;
        y[i] = 1;
    }
    cd_mw mw;
    cd_hl hl;
    assert_true(cd_mw_test(x, 10, y, 10, &mw));
    assert_true(cd_hl_shift(x, 10, y, 10, 0.98, &hl));
    assert_true(mw.p_greater < 1e-3);
    assert_true(hl.estimate == 99);
}

/* Ties get average ranks; no randomness anywhere: equal inputs give equal
 * outputs, and all-equal samples give no evidence at all. */
static void test_ties_are_deterministic(void **state)
{
    const double c[] = {5, 5, 5, 5, 5}, p[] = {5, 5, 5};
    cd_mw a, b;
    assert_true(cd_mw_test(c, 5, p, 3, &a));
    assert_true(cd_mw_test(c, 5, p, 3, &b));
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.var == 0 && a.z == 0 && a.p_greater == 1 && a.p_two_sided == 1);
    cd_hl hl;
    assert_true(cd_hl_shift(c, 5, p, 3, 0.95, &hl));
    assert_true(hl.estimate == 0 && hl.lower == 0 && hl.upper == 0);
    /* two constants, different: ranks are tied within groups only */
    const double hi[] = {100, 100, 100, 100}, lo[] = {1, 1, 1, 1};
    assert_true(cd_mw_test(hi, 4, lo, 4, &a));
    assert_true(a.u == 16 && a.ties && a.var > 0 && a.p_greater < 0.05);
}

static void test_non_finite_values_are_dropped(void **state)
{
    const double x[] = {NAN, 10, INFINITY, 20, 30, -INFINITY, 40}, y[] = {1, NAN, 2, 3, 4};
    cd_hl hl;
    assert_true(cd_hl_shift(x, 7, y, 5, 0.95, &hl));
    assert_true(hl.estimate == 22.5 && hl.lower == 6 && hl.upper == 39);
    const double only_nan[] = {NAN, NAN};
    cd_mw mw;
    assert_false(cd_mw_test(only_nan, 2, y, 5, &mw));
    assert_false(cd_mw_test(x, 7, NULL, 0, &mw));
    assert_false(cd_hl_shift(NULL, 0, y, 5, 0.95, &hl));
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The k-th pairwise difference without building them, against building
 * them, on data with ties, negative values and repeated differences. */
static void test_kth_difference_matches_brute_force(void **state)
{
    uint64_t seed = 42;
    for (int trial = 0; trial < 60; trial++) {
        size_t m = 1 + (size_t)(trial * 7 % 23), n = 1 + (size_t)(trial * 5 % 31);
        double *x = malloc(m * sizeof *x), *y = malloc(n * sizeof *y);
        double *d = malloc(m * n * sizeof *d);
        for (size_t i = 0; i < m; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (double)((seed >> 33) % 40) * (trial % 2 ? 0.25 : 1.7) - 10;
        }
        for (size_t j = 0; j < n; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            y[j] = (double)((seed >> 33) % 37) * 0.5 - 3;
        }
        qsort(x, m, sizeof *x, cmp);
        qsort(y, n, sizeof *y, cmp);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                d[i * n + j] = x[i] - y[j];
        qsort(d, m * n, sizeof *d, cmp);
        for (size_t k = 1; k <= m * n; k += 1 + m * n / 17)
            assert_true(cd_kth_difference(x, m, y, n, (double)k) == d[k - 1]);
        assert_true(cd_kth_difference(x, m, y, n, (double)(m * n)) == d[m * n - 1]);
        free(x);
        free(y);
        free(d);
    }
}

static void test_exact_distribution(void **state)
{
    /* sums to one, is symmetric, and matches hand counts for 2 x 2 */
    assert_true(fabs(cd_mw_exact_cdf(2, 2, 0) - 1.0 / 6.0) < 1e-15);
    assert_true(fabs(cd_mw_exact_cdf(2, 2, 1) - 2.0 / 6.0) < 1e-15);
    assert_true(fabs(cd_mw_exact_cdf(2, 2, 2) - 4.0 / 6.0) < 1e-15);
    assert_true(cd_mw_exact_cdf(17, 23, 17 * 23) == 1.0);
    for (double u = 0; u <= 17 * 23; u += 13)
        assert_true(fabs(cd_mw_exact_cdf(17, 23, u) - cd_mw_exact_sf(17, 23, 17 * 23 - u)) <
                    1e-12);
    assert_true(cd_mw_exact_quantile(4, 4, 0.025) == 1);   /* R's qwilcox(0.025, 4, 4) */
    assert_true(isnan(cd_mw_exact_cdf(50, 3, 1)));          /* out of the exact range */
}

/* The conditional likelihood ratio of a window with every failure on the
 * canary grows with the odds ratio; one with them all on the primary
 * shrinks; windows without failures change nothing; impossible counts
 * are refused. */
static void test_odds_eprocess_basics(void **state)
{
    double lr[CD_ODDS_STATE] = {0};
    assert_true(cd_odds_update(lr, 100, 0, 900, 0));
    for (size_t i = 0; i < CD_ODDS_STATE; i++)
        assert_true(lr[i] == 0);
    assert_true(cd_odds_update(lr, 100, 3, 900, 0));
    for (size_t i = 1; i < CD_ODDS_GRID; i++)
        assert_true(lr[i] > lr[i - 1] && lr[i] > 0);
    assert_true(cd_odds_log_e(lr, 0) > 0 && cd_odds_log_e(lr, 1) < 0);
    /* three failures all on a 10% canary: at most (1/0.1)^3 */
    assert_true(cd_odds_log_e(lr, 0) < 3 * log(1000.0 / 100.0));
    double keep[CD_ODDS_STATE];
    memcpy(keep, lr, sizeof keep);
    assert_false(cd_odds_update(lr, 10, 11, 100, 0));
    assert_false(cd_odds_update(lr, -1, 0, 100, 0));
    assert_false(cd_odds_update(lr, NAN, 0, 100, 0));
    assert_memory_equal(lr, keep, sizeof keep);
    double down[CD_ODDS_STATE] = {0};
    assert_true(cd_odds_update(down, 500, 0, 500, 6));
    assert_true(cd_odds_log_e(down, 0) < 0 && cd_odds_log_e(down, 1) > 0);
    assert_true(cd_odds_log_e(down, 2) > 0);
}

/* The rank mSPRT: no information, no evidence; drift in the harmful
 * direction raises Lambda, the other direction does not; the always-valid
 * z boundary shrinks towards sqrt(log(1/alpha^2))-ish growth. */
static void test_rank_msprt_basics(void **state)
{
    assert_true(cd_rank_log_lambda(0, 0, CD_RANK_RHO, 0) == 0);
    double s = 0, v = 0;
    const double x[] = {3, 4, 5, 6, 7, 8}, y[] = {1, 2, 3, 4, 5};
    cd_mw mw;
    assert_true(cd_mw_test(x, 6, y, 5, &mw));
    for (int i = 0; i < 10; i++)
        cd_rank_update(&s, &v, &mw);
    assert_true(s > 0 && v > 0);
    assert_true(cd_rank_log_lambda(s, v, CD_RANK_RHO, 0) > log(200.0));
    assert_true(cd_rank_log_lambda(s, v, CD_RANK_RHO, 1) < 0);
    assert_true(cd_rank_log_lambda(s, v, CD_RANK_RHO, 2) > 0);
    assert_true(cd_rank_z_boundary(1, CD_RANK_RHO, 0.005) > cd_norm_quantile(0.9975));
    assert_true(isinf(cd_rank_z_boundary(0, CD_RANK_RHO, 0.005)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_known_values),
        cmocka_unit_test(test_kayenta_reference_vectors),
        cmocka_unit_test(test_large_shift_with_wide_interval_is_caught),
        cmocka_unit_test(test_ties_are_deterministic),
        cmocka_unit_test(test_non_finite_values_are_dropped),
        cmocka_unit_test(test_kth_difference_matches_brute_force),
        cmocka_unit_test(test_exact_distribution),
        cmocka_unit_test(test_odds_eprocess_basics),
        cmocka_unit_test(test_rank_msprt_basics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
