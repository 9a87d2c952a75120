/* test_engine_scenario.c - decoding simulate scenarios: every key, the
 * step-function lookup, and clear positioned errors for bad input (which
 * must produce no scenario at all). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "engine_fixture.h"

static void test_full_scenario(void **state)
{
    cd_scenario *sc = fx_scenario(
        "duration: 30m\n"
        "revisions: [0s, 12m]\n"
        "metrics:\n"
        "  request-success-rate: [{at: 0s, value: 99.9}, {at: 4m, value: 80}]\n"
        "  request-duration: [{at: 0, value: 120}, {at: 5m, value: nodata}, {at: 6m, value: error}]\n"
        "webhooks:\n"
        "  approval: [{at: 0s, pass: false}, {at: 3m, pass: true}]\n"
        "ready:\n"
        "  canary: [{at: 0s, value: true}, {at: 1h, value: stuck}]\n"
        "  primary: [{at: 0s, value: false}, {at: 90s, value: true}]\n");
    assert_int_equal(sc->duration_ms, 30 * 60000);
    assert_true(sc->has_revisions);
    assert_int_equal(sc->n_revisions, 2);
    assert_int_equal(sc->revisions[1], 12 * 60000);
    const cd_sim_series *sr = cd_scenario_metric(sc, "request-success-rate");
    assert_non_null(sr);
    assert_null(cd_sim_series_at(sr, -1));
    assert_true(cd_sim_series_at(sr, 0)->value == 99.9);
    assert_true(cd_sim_series_at(sr, 4 * 60000 - 1)->value == 99.9);
    assert_true(cd_sim_series_at(sr, 4 * 60000)->value == 80);
    assert_true(cd_sim_series_at(sr, 99 * 60000)->value == 80);
    const cd_sim_series *rd = cd_scenario_metric(sc, "request-duration");
    assert_int_equal(cd_sim_series_at(rd, 5 * 60000)->kind, CD_SIM_NODATA);
    assert_int_equal(cd_sim_series_at(rd, 7 * 60000)->kind, CD_SIM_ERROR);
    assert_null(cd_scenario_metric(sc, "other"));
    const cd_sim_series *ap = cd_scenario_webhook(sc, "approval");
    assert_int_equal(cd_sim_series_at(ap, 2 * 60000)->kind, 0);
    assert_int_equal(cd_sim_series_at(ap, 3 * 60000)->kind, 1);
    assert_int_equal(cd_sim_series_at(&sc->ready_canary, 3600000)->kind, CD_SIM_STUCK);
    assert_int_equal(cd_sim_series_at(&sc->ready_primary, 0)->kind, CD_SIM_NOT_READY);
    cd_scenario_free(sc);

    sc = fx_scenario("");   /* empty: defaults */
    assert_int_equal(sc->duration_ms, CD_SIM_DEFAULT_DURATION_MS);
    assert_false(sc->has_revisions);
    assert_int_equal(sc->n_metrics, 0);
    cd_scenario_free(sc);
    sc = fx_scenario("revisions: []\n");   /* no release at all */
    assert_true(sc->has_revisions);
    assert_int_equal(sc->n_revisions, 0);
    cd_scenario_free(sc);
}

/* Each bad scenario gives exactly this first diagnostic and no scenario. */
static void expect_error(const char *yaml, const char *first)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_scenario *sc = cd_scenario_parse("s.yaml", yaml, strlen(yaml), &d);
    assert_null(sc);
    assert_true(d.errors > 0);
    cd_diags_sort(&d);
    char *text = cd_diag_format(&d.items[0]);
    assert_string_equal(text, first);
    free(text);
    cd_diags_free(&d);
}

static void test_errors(void **state)
{
    expect_error("durtion: 5m\n",
                 "s.yaml:1:1: durtion: unknown key \"durtion\" (expected duration, revisions, "
                 "metrics, webhooks, ready, traffic, replicas)");
    expect_error("duration: 5\n",
                 "s.yaml:1:11: duration: must be a duration such as 30s, 4m or 1h30m");
    expect_error("duration: 5 minutes\n",
                 "s.yaml:1:11: duration: \"5 minutes\" is not a duration (write 30s, 4m or 1h30m)");
    expect_error("duration: 0s\n", "s.yaml:1:11: duration: must be longer than 0s");
    expect_error("revisions: [5m, 1m]\n",
                 "s.yaml:1:17: revisions[1]: revisions must be in increasing time order");
    expect_error("revisions: [-1m]\n",
                 "s.yaml:1:13: revisions[0]: \"-1m\" is negative: times count from the start "
                 "of the simulation");
    expect_error("metrics:\n  rate: [{at: 1m, value: 1}, {at: 1m, value: 2}]\n",
                 "s.yaml:2:35: metrics.rate[1].at: steps must be in increasing time order (\"1m\" "
                 "does not come after the previous step)");
    expect_error("metrics:\n  rate: [{at: 1m, value: high}]\n",
                 "s.yaml:2:26: metrics.rate[0].value: must be a number, nodata or error");
    expect_error("metrics:\n  rate: [{value: 1}]\n", "s.yaml:2:10: metrics.rate[0]: missing \"at\"");
    expect_error("metrics:\n  rate: {at: 1m, value: 1}\n",
                 "s.yaml:2:9: metrics.rate: must be a list (of {at, ...} steps)");
    expect_error("webhooks:\n  gate: [{at: 1m, pass: yes}]\n",
                 "s.yaml:2:25: webhooks.gate[0].pass: must be true or false");
    expect_error("webhooks:\n  gate: [{at: 1m, pas: true}]\n",
                 "s.yaml:2:10: webhooks.gate[0]: missing \"pass\"");
    expect_error("ready:\n  canery: []\n",
                 "s.yaml:2:3: ready.canery: unknown key \"canery\" (expected canary, primary)");
    expect_error("ready:\n  canary: [{at: 0s, value: never}]\n",
                 "s.yaml:2:28: ready.canary[0].value: must be true, false (not ready yet) or "
                 "stuck (never ready)");
    expect_error("- 1\n- 2\n",
                 "s.yaml:1:1: must be a mapping (a scenario: duration, revisions, metrics, "
                 "webhooks, ready, traffic, replicas)");
    expect_error("replicas: 0\n", "s.yaml:1:11: replicas: must be a whole number from 1 to 10000 "
                                  "(the StatefulSet's spec.replicas)");
    expect_error("replicas: 2.5\n", "s.yaml:1:11: replicas: must be a whole number from 1 to "
                                    "10000 (the StatefulSet's spec.replicas)");
    expect_error("duration: 1m\n---\nduration: 2m\n",
                 "s.yaml:3:1: a scenario file holds one document, found 2");
    expect_error("duration: [\n", "s.yaml:2:1: YAML syntax error: flow sequence without a closing bracket");
}

static void test_cross_check(void **state)
{
    const cd_object *o = fx_canary(
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\nspec:\n"
        "  targetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: podinfo\n"
        "  service:\n    port: 80\n  analysis:\n    interval: 1m\n    threshold: 5\n"
        "    stepWeight: 10\n    metrics:\n    - name: request-success-rate\n"
        "      thresholdRange: {min: 99}\n    webhooks:\n"
        "    - {name: gate, type: confirm-rollout, url: 'http://x/'}\n");
    cd_scenario *sc = fx_scenario("metrics:\n  request-success-rate: []\n  latency: []\n"
                                  "webhooks:\n  gate: []\n  gaet: []\n");
    cd_diags d;
    cd_diags_init(&d);
    assert_int_equal(cd_scenario_check(sc, &o->spec.canary, &d), 2);
    char *a = cd_diag_format(&d.items[0]), *b = cd_diag_format(&d.items[1]);
    assert_string_equal(a, "scenario.yaml:3:3: metrics: the canary has no metric named "
                           "\"latency\" in analysis.metrics");
    assert_string_equal(b, "scenario.yaml:6:3: webhooks: the canary has no webhook named "
                           "\"gaet\" in analysis.webhooks");
    free(a);
    free(b);
    cd_diags_free(&d);
    cd_scenario_free(sc);
    /* replicas shows a StatefulSet's partition: refused for a Deployment */
    sc = fx_scenario("replicas: 3\n");
    cd_diags_init(&d);
    assert_int_equal(cd_scenario_check(sc, &o->spec.canary, &d), 1);
    a = cd_diag_format(&d.items[0]);
    assert_string_equal(a, "scenario.yaml:1:11: replicas: replicas is a StatefulSet's (to show "
                           "its partition); the canary targets a Deployment");
    free(a);
    cd_diags_free(&d);
    cd_scenario_free(sc);
    fx_release_objects();
}

static void test_passing_values(void **state)
{
    cd_metric m;
    memset(&m, 0, sizeof m);
    m.name = "request-success-rate";
    m.has_min = true;
    m.min = 99;
    assert_true(cd_sim_passing_value(&m) == 100);
    m.has_max = true;
    m.max = 99.5;
    assert_true(cd_sim_passing_value(&m) == 99.25);
    memset(&m, 0, sizeof m);
    m.name = "request-duration";
    m.has_max = true;
    m.max = 500;
    assert_true(cd_sim_passing_value(&m) == 250);
    memset(&m, 0, sizeof m);
    m.name = "request-success-rate";
    m.has_threshold = true;
    m.threshold = 99;
    assert_true(cd_sim_passing_value(&m) == 100);
    m.name = "errors";
    m.query = "sum(errors)";
    assert_true(cd_sim_passing_value(&m) == 49.5);
    /* whatever the thresholds, the default value passes them */
    const double lims[] = {-5, 0, 0.5, 1, 99, 100, 250, 1e6};
    for (size_t i = 0; i < 8; i++)
        for (size_t j = i; j < 8; j++)
            for (int kind = 0; kind < 3; kind++) {
                memset(&m, 0, sizeof m);
                m.name = kind == 0 ? "request-success-rate"
                         : kind == 1 ? "request-duration" : "custom";
                m.has_min = true;
                m.min = lims[i];
                m.has_max = j != i;
                m.max = lims[j];
                cd_metric_kind k = kind == 0 ? CD_METRIC_KIND_SUCCESS_RATE
                                   : kind == 1 ? CD_METRIC_KIND_DURATION
                                               : CD_METRIC_KIND_TEMPLATE;
                assert_true(cd_engine_threshold_pass(&m, k, cd_sim_passing_value(&m), NULL, 0));
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_scenario),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cross_check),
        cmocka_unit_test(test_passing_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
