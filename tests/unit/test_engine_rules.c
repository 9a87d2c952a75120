/* test_engine_rules.c - the engine's pure rules, called directly: weight
 * arithmetic (§2.5), strategies (§2.4), status transitions (§2.11),
 * change detection (§2.3), threshold checks (§3.1) and Go's formatting of
 * numbers and durations that the event texts rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include "engine/engine.h"
#include "util/gofmt.h"

static cd_analysis ladder(int *steps, size_t n)
{
    cd_analysis a;
    memset(&a, 0, sizeof a);
    a.step_weights = steps;
    a.n_step_weights = n;
    return a;
}

static void test_next_step_weight(void **state)
{
    cd_analysis a;
    memset(&a, 0, sizeof a);
    a.step_weight = 10;
    assert_int_equal(cd_engine_next_step_weight(&a, 0), 10);
    assert_int_equal(cd_engine_next_step_weight(&a, 90), 10);
    a.step_weight = 0;   /* no stepWeights either: never moves (Flagger) */
    assert_int_equal(cd_engine_next_step_weight(&a, 30), 0);

    int steps[] = {1, 2, 10, 80};
    a = ladder(steps, 4);
    assert_int_equal(cd_engine_next_step_weight(&a, 0), 1);
    assert_int_equal(cd_engine_next_step_weight(&a, 1), 1);
    assert_int_equal(cd_engine_next_step_weight(&a, 2), 8);
    assert_int_equal(cd_engine_next_step_weight(&a, 10), 70);
    assert_int_equal(cd_engine_next_step_weight(&a, 80), 20);   /* last: up to 100 */
    assert_int_equal(cd_engine_next_step_weight(&a, 33), 67);   /* off the ladder */
    assert_int_equal(cd_engine_next_step_weight(&a, 100), 1);   /* Flagger's maxStep 0 */
    a.step_weight = 5;   /* stepWeight wins over stepWeights */
    assert_int_equal(cd_engine_next_step_weight(&a, 2), 5);
}

static void expect_step(const cd_analysis *a, cd_weights now, int primary, int canary, bool mirrored)
{
    cd_weights next = cd_engine_canary_step(a, now);
    assert_int_equal(next.primary, primary);
    assert_int_equal(next.canary, canary);
    assert_int_equal(next.mirrored, mirrored);
}

static void test_canary_step(void **state)
{
    cd_analysis a;
    memset(&a, 0, sizeof a);
    a.step_weight = 20;
    a.max_weight_raw = 50;
    expect_step(&a, (cd_weights){100, 0, false}, 80, 20, false);
    expect_step(&a, (cd_weights){60, 40, false}, 50, 50, false);   /* Flagger: 40/60 */
    a.max_weight_raw = 0;                                           /* default 100 */
    expect_step(&a, (cd_weights){10, 90, false}, 0, 100, false);
    a.mirror = true;
    a.max_weight_raw = 50;
    expect_step(&a, (cd_weights){100, 0, false}, 100, 0, true);     /* mirror first */
    expect_step(&a, (cd_weights){100, 0, true}, 80, 20, false);     /* then the first step */
    expect_step(&a, (cd_weights){80, 20, false}, 60, 40, false);
    /* a router that reports nonsense still gets a split that sums to 100 */
    a.mirror = false;
    expect_step(&a, (cd_weights){100, 30, false}, 50, 50, false);
}

static void test_promotion_step(void **state)
{
    cd_analysis a;
    memset(&a, 0, sizeof a);
    bool done;
    cd_weights w = cd_engine_promotion_step(&a, (cd_weights){50, 50, false}, &done);
    assert_true(done);
    assert_int_equal(w.primary, 100);
    a.step_weight_promotion = 30;
    w = cd_engine_promotion_step(&a, (cd_weights){50, 50, false}, &done);
    assert_false(done);
    assert_int_equal(w.primary, 80);
    assert_int_equal(w.canary, 20);
    w = cd_engine_promotion_step(&a, w, &done);
    assert_true(done);
    assert_int_equal(w.primary, 100);
    assert_int_equal(w.canary, 0);
    w = cd_engine_promotion_step(&a, (cd_weights){100, 0, false}, &done);   /* Flagger stalls */
    assert_true(done);
    assert_int_equal(w.primary, 100);
}

static void test_strategy(void **state)
{
    cd_canary_spec s;
    memset(&s, 0, sizeof s);
    cd_http_match m;
    memset(&m, 0, sizeof m);
    assert_int_equal(cd_engine_strategy(&s, "istio"), CD_STRATEGY_CANARY);
    s.analysis.iterations = 3;
    assert_int_equal(cd_engine_strategy(&s, "istio"), CD_STRATEGY_BLUE_GREEN);
    s.analysis.match = &m;
    s.analysis.n_match = 1;
    assert_int_equal(cd_engine_strategy(&s, "istio"), CD_STRATEGY_AB_TESTING);
    assert_int_equal(cd_engine_strategy(&s, "kubernetes"), CD_STRATEGY_BLUE_GREEN);
    assert_int_equal(cd_engine_iterations(&s, "kubernetes"), 3);
    s.analysis.iterations = 0;
    assert_int_equal(cd_engine_strategy(&s, "istio"), CD_STRATEGY_CANARY);   /* match alone */
    assert_int_equal(cd_engine_iterations(&s, "kubernetes"), 10);
    assert_int_equal(cd_engine_iterations(&s, "istio"), 0);

    cd_object_meta meta = {.name = "c", .namespace_ = "ns"};
    cd_canary_status st;
    cd_status_init(&st);
    cd_canary_ref ref = {&meta, &s, &st, NULL, NULL};
    cd_engine_config cfg = {.mesh_provider = "linkerd"};
    assert_string_equal(cd_engine_provider(&cfg, &ref), "linkerd");
    s.provider = "appmesh:v1beta2";
    assert_string_equal(cd_engine_provider(&cfg, &ref), "appmesh:v1beta2");
    ref.provider = "kubernetes";
    assert_string_equal(cd_engine_provider(&cfg, &ref), "kubernetes");
    s.provider = NULL;
    ref.provider = NULL;
    assert_string_equal(cd_engine_provider(NULL, &ref), "");
}

static void test_set_phase(void **state)
{
    cd_canary_status s;
    cd_status_init(&s);
    s.canary_weight = 40;
    s.iterations = 3;
    snprintf(s.last_applied_spec, sizeof s.last_applied_spec, "abc");
    cd_engine_set_phase(&s, CD_PHASE_PROMOTING, 5, "Deployment", 1000);
    assert_int_equal(s.canary_weight, 40);   /* kept for Promoting */
    assert_int_equal(s.iterations, 3);
    assert_int_equal(s.last_transition_ms, 1000);
    assert_string_equal(s.condition.reason, "Promoting");
    assert_string_equal(s.condition.status, "Unknown");
    cd_engine_set_phase(&s, CD_PHASE_WAITING_PROMOTION, 5, "Deployment", 2000);
    assert_int_equal(s.canary_weight, 0);
    assert_int_equal(s.iterations, 4);
    cd_engine_set_phase(&s, CD_PHASE_WAITING_PROMOTION, 0, "Deployment", 2000);
    assert_int_equal(s.iterations, 0);   /* Flagger: -1 */
    assert_string_equal(s.last_promoted_spec, "");
    cd_engine_set_phase(&s, CD_PHASE_SUCCEEDED, 5, "Deployment", 3000);
    assert_string_equal(s.last_promoted_spec, "abc");
    assert_string_equal(s.condition.status, "True");
    assert_int_equal(s.condition.last_transition_ms, 3000);
    cd_engine_set_phase(&s, CD_PHASE_INITIALIZED, 5, "Deployment", 4000);
    assert_int_equal(s.condition.last_transition_ms, 3000);   /* still True */
    assert_int_equal(s.condition.last_update_ms, 4000);
    cd_status_free(&s);
}

static void test_sync_status(void **state)
{
    cd_canary_status s;
    cd_status_init(&s);
    s.failed_checks = 4;
    cd_tracked_config tc[] = {{"configmap/app", "0123456789abcdef"}};
    cd_engine_sync_status(&s, (cd_status_sync){CD_PHASE_INITIALIZED, 0, 0, 0}, "h1", tc, 1, true,
                          "DaemonSet", 500);
    assert_int_equal(s.phase, CD_PHASE_INITIALIZED);
    assert_int_equal(s.failed_checks, 0);
    assert_string_equal(s.last_applied_spec, "h1");
    assert_string_equal(s.last_promoted_spec, "h1");
    assert_int_equal(s.n_tracked, 1);
    assert_string_equal(s.condition.message, "DaemonSet initialization completed.");
    cd_engine_sync_status(&s, (cd_status_sync){CD_PHASE_FAILED, 100, 0, 0}, "h2", NULL, 0, false,
                          "DaemonSet", 600);
    assert_string_equal(s.last_promoted_spec, "h1");
    assert_string_equal(s.last_applied_spec, "h2");
    assert_int_equal(s.canary_weight, 100);
    assert_false(s.has_tracked_configs);
    assert_string_equal(s.condition.message, "Canary analysis failed, DaemonSet scaled to zero.");
    cd_status_free(&s);
}

static void test_change_detection(void **state)
{
    cd_canary_status s;
    cd_status_init(&s);
    assert_true(cd_engine_spec_changed(&s, "h1"));   /* never synced */
    snprintf(s.last_applied_spec, sizeof s.last_applied_spec, "h2");
    snprintf(s.last_promoted_spec, sizeof s.last_promoted_spec, "h1");
    assert_false(cd_engine_spec_changed(&s, "h2"));
    assert_false(cd_engine_spec_changed(&s, "h1"));   /* back to the primary's version */
    assert_true(cd_engine_spec_changed(&s, "h3"));

    cd_tracked_config a[] = {{"configmap/a", "1"}, {"secret/b", "2"}};
    cd_tracked_config b[] = {{"secret/b", "2"}, {"configmap/a", "1"}};
    cd_tracked_config c[] = {{"configmap/a", "1"}, {"secret/b", "3"}};
    assert_false(cd_engine_configs_changed(&s, NULL, 0, false));   /* tracking off */
    assert_false(cd_engine_configs_changed(&s, NULL, 0, true));    /* both empty */
    assert_true(cd_engine_configs_changed(&s, a, 2, true));        /* found, status nil */
    cd_status_set_tracked(&s, a, 2, true);
    assert_false(cd_engine_configs_changed(&s, b, 2, true));       /* order does not matter */
    assert_true(cd_engine_configs_changed(&s, c, 2, true));
    assert_true(cd_engine_configs_changed(&s, a, 1, true));
    cd_status_free(&s);
    assert_int_equal(cd_engine_status_gauge(CD_PHASE_PROGRESSING), 0);
    assert_int_equal(cd_engine_status_gauge(CD_PHASE_FAILED), 2);
    assert_int_equal(cd_engine_status_gauge(CD_PHASE_WAITING), 1);
}

static void expect_verdict(const cd_metric *m, cd_metric_kind kind, double v, const char *why)
{
    char buf[256];
    bool pass = cd_engine_threshold_pass(m, kind, v, buf, sizeof buf);
    if (!why) {
        assert_true(pass);
        assert_string_equal(buf, "");
    } else {
        assert_false(pass);
        assert_string_equal(buf, why);
    }
}

static void test_threshold_checks(void **state)
{
    cd_metric m;
    memset(&m, 0, sizeof m);
    m.name = "request-success-rate";
    m.has_min = true;
    m.min = 99;
    expect_verdict(&m, CD_METRIC_KIND_SUCCESS_RATE, 99, NULL);
    expect_verdict(&m, CD_METRIC_KIND_SUCCESS_RATE, 98.996, "success rate 99.00% < 99%");
    m.has_max = true;
    m.max = 99.5;
    expect_verdict(&m, CD_METRIC_KIND_SUCCESS_RATE, 99.9, "success rate 99.90% > 99.5%");
    memset(&m, 0, sizeof m);
    m.name = "request-success-rate";
    m.has_threshold = true;   /* deprecated: fails when threshold > value */
    m.threshold = 99;
    expect_verdict(&m, CD_METRIC_KIND_SUCCESS_RATE, 100, NULL);
    expect_verdict(&m, CD_METRIC_KIND_SUCCESS_RATE, 12.5, "success rate 12.50% < 99%");
    expect_verdict(&m, CD_METRIC_KIND_SUCCESS_RATE, NAN, "request-success-rate has no value");

    memset(&m, 0, sizeof m);
    m.name = "request-duration";
    m.has_max = true;
    m.max = 500.9;   /* Go truncates to 500ms */
    expect_verdict(&m, CD_METRIC_KIND_DURATION, 500.99, NULL);
    expect_verdict(&m, CD_METRIC_KIND_DURATION, 501, "request duration 501ms > 500ms");
    expect_verdict(&m, CD_METRIC_KIND_DURATION, 61001, "request duration 1m1.001s > 500ms");
    m.has_min = true;
    m.min = 10;
    expect_verdict(&m, CD_METRIC_KIND_DURATION, 9.9, "request duration 9ms < 10ms");
    memset(&m, 0, sizeof m);
    m.name = "request-duration";
    m.has_threshold = true;
    m.threshold = 1500;
    expect_verdict(&m, CD_METRIC_KIND_DURATION, 2000, "request duration 2s > 1.5s");

    memset(&m, 0, sizeof m);
    m.name = "error-rate";
    m.has_max = true;
    m.max = 1;
    expect_verdict(&m, CD_METRIC_KIND_TEMPLATE, 1, NULL);
    expect_verdict(&m, CD_METRIC_KIND_TEMPLATE, 1.234, "error-rate 1.23 > 1");
    m.has_max = false;
    m.has_threshold = true;
    m.threshold = 1000000;
    expect_verdict(&m, CD_METRIC_KIND_QUERY, 2e6, "error-rate 2000000.00 > 1e+06");
    m.has_threshold = false;   /* no threshold: every value passes */
    expect_verdict(&m, CD_METRIC_KIND_QUERY, 1e300, NULL);
}

static void expect_float(double v, const char *text)
{
    char buf[40];
    assert_string_equal(cd_go_float(v, buf, sizeof buf), text);
}

static void expect_duration(int64_t ms, const char *text)
{
    char buf[40];
    assert_string_equal(cd_go_duration_ms(ms, buf, sizeof buf), text);
}

static void test_go_formatting(void **state)
{
    expect_float(99, "99");
    expect_float(99.5, "99.5");
    expect_float(0.1, "0.1");
    expect_float(123456, "123456");
    expect_float(1234567, "1.234567e+06");
    expect_float(1e6, "1e+06");
    expect_float(0.0001, "0.0001");
    expect_float(0.00001, "1e-05");
    expect_float(-2.5, "-2.5");
    expect_float(0, "0");
    expect_float(1.0 / 3, "0.3333333333333333");
    expect_float(0.005, "0.005");
    expect_float(NAN, "NaN");
    expect_float(INFINITY, "+Inf");
    expect_float(-INFINITY, "-Inf");
    expect_duration(0, "0s");
    expect_duration(1, "1ms");
    expect_duration(500, "500ms");
    expect_duration(1000, "1s");
    expect_duration(1500, "1.5s");
    expect_duration(61001, "1m1.001s");
    expect_duration(3600000, "1h0m0s");
    expect_duration(3723000, "1h2m3s");
    expect_duration(-2000, "-2s");
    expect_duration(-250, "-250ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_step_weight), cmocka_unit_test(test_canary_step),
        cmocka_unit_test(test_promotion_step),   cmocka_unit_test(test_strategy),
        cmocka_unit_test(test_set_phase),        cmocka_unit_test(test_sync_status),
        cmocka_unit_test(test_change_detection), cmocka_unit_test(test_threshold_checks),
        cmocka_unit_test(test_go_formatting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
