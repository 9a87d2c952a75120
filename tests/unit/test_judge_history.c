/* test_judge_history.c - the judge's use of the primary's history
 * (src/judge/history.c, docs/judge.md#history):
 *  - the calibration: the grouped bound is an upper bound of the exact
 *    sum, and at the plan's level it holds on a grid of baselines much
 *    finer than the plan's own;
 *  - the step guard is the supremum it claims to be;
 *  - the false-rollback rate under the null, by simulation with a fixed
 *    seed (deterministic: it cannot flake), for a stationary baseline and
 *    for baselines that move on both sides (a step at the release, a
 *    drift, an incident in the middle of the rollout), and the
 *    false-promotion rate of a canary worse by exactly the change to
 *    detect; each is checked against the bound docs/judge.md states, with
 *    three standard errors of room;
 *  - the fallback: the drift monitor retires the history when the primary
 *    moves and not while it stays; without a history the judge says so and
 *    decides exactly as with judge.history: 0s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "judge/history.h"
#include "judge/judge.h"
#include "sim/traffic.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 0.005
#define DETECT 0.02
#define ALPHA_H (ALPHA * (1 - CD_JUDGE_SAME_WINDOW_SHARE))
#define ALPHA_F (ALPHA * CD_JUDGE_SAME_WINDOW_SHARE)

static cd_judge_spec spec_errors(void)
{
    cd_judge_spec s;
    memset(&s, 0, sizeof s);
    s.test = CD_JUDGE_ERRORS;
    s.direction = CD_DIR_INCREASE;
    s.allowed_increase = (cd_effect){CD_EFFECT_ABSOLUTE, 0.005, NULL};
    s.allowed_decrease = s.allowed_increase;
    s.detect_increase = (cd_effect){CD_EFFECT_ABSOLUTE, DETECT, NULL};
    s.detect_decrease = s.detect_increase;
    s.critical = true;
    s.no_data = CD_NODATA_WAIT;
    s.min_samples = 100;
    s.alpha = ALPHA;
    s.history_ms = 3600000;
    return s;
}

/* ---- the calibration ---------------------------------------------------------- */

/* The largest exponent in [0, 1] keeping E[LR^l] <= 1 per request, from
 * its definition: E[LR^l] is convex in l and 1 at l = 0. */
static double lambda_exact(double r, double q, double p1)
{
    double lo = 0, hi = 1;
    if (q * (p1 / r) + (1 - q) * ((1 - p1) / (1 - r)) <= 1)
        return 1;
    for (int i = 0; i < 100; i++) {
        double l = 0.5 * (lo + hi);
        if (q * pow(p1 / r, l) + (1 - q) * pow((1 - p1) / (1 - r), l) <= 1)
            lo = l;
        else
            hi = l;
    }
    return lo;
}

/* The exact sum over every history x, with the exponent of each x. */
static double bound_exact(double n, double p0, double level, double beta)
{
    double b = 0;
    for (double x = 0; x <= n; x += 1) {
        double lp = lgamma(n + 1) - lgamma(x + 1) - lgamma(n - x + 1) + x * log(p0) +
                    (n - x) * log1p(-p0);
        double pmf = exp(lp);
        double r = cd_history_reference(x, n);
        if (!(r < DETECT))
            continue;   /* not used */
        if (r >= p0)
            b += pmf * level;
        else
            b += pmf * fmin(beta, pow(level, lambda_exact(r, p0, fmin(r + DETECT, 1 - 1e-9))));
    }
    return b;
}

static void test_bound_is_an_upper_bound(void **state)
{
    static const double cases[][2] = {{200, 0.001}, {200, 0.01}, {720, 0.003}, {720, 0.008},
                                      {2000, 0.004}, {2000, 0.012}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double n = cases[i][0], p0 = cases[i][1];
        double exact = bound_exact(n, p0, 0.002, CD_JUDGE_STEP_BETA);
        double grouped = cd_history_bound(n, p0, DETECT, 0.002, CD_JUDGE_STEP_BETA);
        assert_true(grouped >= exact * (1 - 1e-9));
        assert_true(grouped <= exact * 1.5 + 1e-12);   /* and not uselessly loose */
    }
}

static void test_plan_holds_between_its_baselines(void **state)
{
    static const double sizes[] = {200, 720, 7200, 72000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double n = sizes[i];
        cd_history_plan h;
        assert_true(cd_history_plan_errors(n, n * 0.001, DETECT, ALPHA_H, CD_JUDGE_STEP_BETA, &h));
        assert_true(h.level > 0 && h.level <= ALPHA_H);
        assert_true(h.reference > h.p0 && h.alt > h.reference);
        double worst = 0;
        for (int k = 0; k <= 400; k++) {
            double p0 = 1e-6 * pow(0.9 / 1e-6, k / 400.0);
            worst = fmax(worst, cd_history_bound(n, p0, DETECT, h.level, CD_JUDGE_STEP_BETA));
        }
        assert_true(worst <= ALPHA_H * 1.02);
    }
    /* the reference grows with the failures seen; no history is no plan */
    for (double x = 0; x < 50; x += 1)
        assert_true(cd_history_reference(x + 1, 7200) > cd_history_reference(x, 7200));
    cd_history_plan h;
    assert_false(cd_history_plan_errors(0, 0, DETECT, ALPHA_H, CD_JUDGE_STEP_BETA, &h));
    /* a baseline near the change to detect: the history cannot help */
    assert_false(cd_history_plan_errors(7200, 7200 * 0.03, DETECT, ALPHA_H, CD_JUDGE_STEP_BETA,
                                        &h));
}

/* The step guard is below the likelihood ratio against every shared rate
 * q >= r (it is their supremum's complement), and reaches it. */
static void test_step_guard_is_the_supremum(void **state)
{
    cd_history_plan h;
    assert_true(cd_history_plan_errors(7200, 7, DETECT, ALPHA_H, CD_JUDGE_STEP_BETA, &h));
    static const double counts[][4] = {{120, 3, 480, 0}, {120, 0, 480, 4}, {50, 2, 50, 2},
                                       {1000, 30, 1000, 1}, {300, 1, 300, 0}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        double nc = counts[i][0], xc = counts[i][1], np = counts[i][2], xp = counts[i][3];
        double ui = cd_history_ui_log(&h, DETECT, nc, xc, np, xp);
        double num = cd_history_lr(nc, xc, h.p0 + DETECT, 0.5) + cd_history_lr(np, xp, h.p0, 0.5);
        double best = INFINITY;
        for (int k = 0; k <= 4000; k++) {
            double q = h.reference + (0.5 - h.reference) * k / 4000.0;
            for (int j = 0; j <= 50; j++) {
                double pc = q * j / 50.0;
                /* num - log L(pc, q), both relative to rate 1/2 */
                double v = num - cd_history_lr(nc, xc, fmax(pc, 1e-15), 0.5) -
                           cd_history_lr(np, xp, q, 0.5);
                best = fmin(best, v);
            }
        }
        assert_true(ui <= best + 1e-9);
        assert_true(ui >= best - 0.05);
    }
}

/* ---- simulated rollouts -------------------------------------------------------- */

typedef struct world {
    double rps;
    double history_rate;            /* the primary before the release */
    double (*primary)(int window);  /* the primary's rate during the rollout */
    double canary_extra;            /* the canary's rate above the primary's */
} world;

static uint64_t rng;

static double bernoulli_count(double n, double p)
{
    double k = 0;
    for (double i = 0; i < n; i += 1)
        k += cd_sim_rand_uniform(&rng) < p;
    return k;
}

typedef struct outcome_count {
    int runs, failed, passed, fell_back;
} outcome_count;

/* Rollouts of the seed's ramp (10 -> 50 %, then 50 %), decided as the
 * engine does: a Fail rolls back, a Pass at 50 % promotes. */
static outcome_count rollouts(const world *wd, int n, uint64_t seed)
{
    cd_judge_spec s = spec_errors();
    outcome_count o = {0};
    rng = seed;
    for (int r = 0; r < n; r++) {
        cd_judge_state st;
        memset(&st, 0, sizeof st);
        snprintf(st.metric, sizeof st.metric, "errors");
        double hn = cd_sim_rand_poisson(&rng, wd->rps * 3600);
        double hx = bernoulli_count(hn, wd->history_rate);
        o.runs++;
        for (int k = 0; k < 90; k++) {
            int weight = k < 5 ? 10 * (k + 1) : 50;
            double total = cd_sim_rand_poisson(&rng, wd->rps * 60);
            double nc = bernoulli_count(total, weight / 100.0), np = total - nc;
            double pp = wd->primary(k), pc = fmin(pp + wd->canary_extra, 1);
            cd_judge_window w;
            memset(&w, 0, sizeof w);
            w.canary_total = nc;
            w.canary_bad = bernoulli_count(nc, pc);
            w.primary_total = np;
            w.primary_bad = bernoulli_count(np, pp);
            w.history_ms = s.history_ms;
            w.with_history = true;
            w.history.requests = (uint64_t)hn;
            w.history.failed = (uint64_t)hx;
            w.history.covered_ms = s.history_ms;
            cd_judge_update(&s, &st, &w, k);
            if (st.verdict == CD_VERDICT_FAIL) {
                o.failed++;
                break;
            }
            if (st.verdict == CD_VERDICT_PASS && k >= 4) {
                o.passed++;
                break;
            }
        }
        o.fell_back += st.history.status == CD_HISTORY_FELL_BACK;
    }
    printf("  %d rollouts at %g req/s: %d rolled back, %d promoted, %d fell back\n", o.runs,
           wd->rps, o.failed, o.passed, o.fell_back);
    return o;
}

/* p with three standard errors of room for n runs. */
static double room(double p, int n) { return p + 3 * sqrt(p * (1 - p) / n); }

static double flat_01(int k) { (void)k; return 0.001; }
static double flat_08(int k) { (void)k; return 0.008; }
static double step_08(int k) { (void)k; return 0.008; }
static double step_03(int k) { (void)k; return 0.003; }
static double drift(int k) { return 0.001 * (1 + 0.5 * fmin(k, 60) / 60.0); }
static double incident(int k) { return k >= 5 && k < 9 ? 0.02 : 0.001; }

#define RUNS 1500

static void test_stationary_baseline_false_rollbacks(void **state)
{
    world a = {2, 0.001, flat_01, 0};
    outcome_count o = rollouts(&a, RUNS, 11);
    assert_true(o.failed <= room(ALPHA, RUNS) * RUNS);
    assert_true(o.passed >= RUNS * 0.98);
    world b = {2, 0.008, flat_08, 0};
    o = rollouts(&b, RUNS, 12);
    assert_true(o.failed <= room(ALPHA, RUNS) * RUNS);
    world c = {0.2, 0.001, flat_01, 0};
    o = rollouts(&c, 600, 13);
    assert_true(o.failed <= room(ALPHA, 600) * 600);
}

/* A step on both sides at the release, held: any such step is one of the
 * shared rates the step guard rules out, so the bound is the same-window
 * test's share plus beta. */
static void test_moving_baseline_false_rollbacks(void **state)
{
    double bound = ALPHA_F + CD_JUDGE_STEP_BETA;
    world step8 = {2, 0.001, step_08, 0};
    outcome_count o = rollouts(&step8, RUNS, 21);
    assert_true(o.failed <= room(bound, RUNS) * RUNS);
    assert_true(o.fell_back >= RUNS / 2);   /* and the drift monitor noticed, mostly */
    world step3 = {2, 0.001, step_03, 0};
    o = rollouts(&step3, RUNS, 22);
    assert_true(o.failed <= room(bound, RUNS) * RUNS);
    /* not covered by the proof (docs/judge.md says so): measured against the same bound */
    world slow = {2, 0.001, drift, 0};
    o = rollouts(&slow, RUNS, 23);
    assert_true(o.failed <= room(bound, RUNS) * RUNS);
    world burst = {2, 0.001, incident, 0};
    o = rollouts(&burst, RUNS, 24);
    assert_true(o.failed <= room(bound, RUNS) * RUNS);
}

/* A canary worse by exactly the change to detect is promoted at most
 * alpha of the time, and one that is worse is caught. */
static void test_promotion_and_power(void **state)
{
    world edge = {2, 0.001, flat_01, DETECT};
    outcome_count o = rollouts(&edge, RUNS, 31);
    assert_true(o.passed <= room(ALPHA, RUNS) * RUNS);
    assert_true(o.failed >= RUNS * 0.98);
}

/* ---- the fallback ---------------------------------------------------------------- */

static cd_judge_window window_with_history(double nc, double xc, double np, double xp)
{
    cd_judge_window w;
    memset(&w, 0, sizeof w);
    w.canary_total = nc;
    w.canary_bad = xc;
    w.primary_total = np;
    w.primary_bad = xp;
    w.history_ms = 3600000;
    w.with_history = true;
    w.history.requests = 7200;
    w.history.failed = 7;
    w.history.covered_ms = 3600000;
    return w;
}

static void test_fallback_trigger(void **state)
{
    cd_judge_spec s = spec_errors();
    cd_judge_state st;
    memset(&st, 0, sizeof st);
    /* the primary stays at its 0.1 %: the history stays in use */
    for (int k = 0; k < 20; k++) {
        cd_judge_window w = window_with_history(50, 0, 70, k % 10 == 9);
        cd_judge_update(&s, &st, &w, k);
    }
    assert_int_equal(st.history.status, CD_HISTORY_USED);
    assert_int_equal(st.history.fell_back_window, 0);
    assert_non_null(strstr(st.history.reason, "over the 1h before the release"));
    /* it jumps to 3 %: the monitor retires the history within a few windows */
    memset(&st, 0, sizeof st);
    int at = 0;
    for (int k = 0; k < 10 && !at; k++) {
        cd_judge_window w = window_with_history(20, 0, 100, 3);
        cd_judge_update(&s, &st, &w, k);
        if (st.history.status == CD_HISTORY_FELL_BACK)
            at = st.windows;
    }
    assert_true(at >= 1 && at <= 3);
    assert_int_equal(st.history.fell_back_window, at);
    assert_non_null(strstr(st.history.reason, "moved up during the release"));
    /* from then on only the same-window test decides: the p-value is its own */
    cd_judge_window w = window_with_history(20, 0, 100, 3);
    cd_judge_update(&s, &st, &w, 99);
    assert_int_equal(st.history.status, CD_HISTORY_FELL_BACK);
    assert_int_equal(st.history.fell_back_window, at);
    assert_null(strstr(st.reason, "before the release"));
}

/* Without a history (a new service), the judge says so and decides exactly
 * as it does with judge.history: 0s. */
static void test_missing_history_behaves_as_before(void **state)
{
    cd_judge_spec s = spec_errors();
    cd_judge_spec off = spec_errors();
    off.history_ms = 0;
    cd_judge_state a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    for (int k = 0; k < 12; k++) {
        cd_judge_window w;
        memset(&w, 0, sizeof w);
        w.canary_total = 30 + 10 * k;
        w.canary_bad = k % 3 == 0;
        w.primary_total = 300;
        w.primary_bad = k % 4 == 0;
        w.history_ms = s.history_ms;
        w.history_note = "no data of the primary in the 1h before the release (a new service?)";
        cd_judge_update(&s, &a, &w, k);
        w.history_ms = 0;
        cd_judge_update(&off, &b, &w, k);
        assert_int_equal(a.verdict, b.verdict);
        assert_true(a.p_value == b.p_value && a.upper == b.upper && a.lower == b.lower);
        assert_string_equal(a.reason, b.reason);
    }
    assert_int_equal(a.history.status, CD_HISTORY_MISSING);
    assert_non_null(strstr(a.history.reason, "a new service?"));
    assert_non_null(strstr(a.history.reason, "compared over the same windows only"));
    assert_int_equal(b.history.status, CD_HISTORY_OFF);
    /* a test the history cannot serve says why */
    cd_judge_spec either = spec_errors();
    either.direction = CD_DIR_EITHER;
    cd_judge_state c;
    memset(&c, 0, sizeof c);
    cd_judge_window w = window_with_history(100, 0, 100, 0);
    cd_judge_update(&either, &c, &w, 0);
    assert_int_equal(c.history.status, CD_HISTORY_UNUSED);
    assert_non_null(strstr(c.history.reason, "only direction: increase"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_is_an_upper_bound),
        cmocka_unit_test(test_plan_holds_between_its_baselines),
        cmocka_unit_test(test_step_guard_is_the_supremum),
        cmocka_unit_test(test_stationary_baseline_false_rollbacks),
        cmocka_unit_test(test_moving_baseline_false_rollbacks),
        cmocka_unit_test(test_promotion_and_power),
        cmocka_unit_test(test_fallback_trigger),
        cmocka_unit_test(test_missing_history_behaves_as_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
