/* test_engine_flagger.c - Flagger's own engine behaviours (reference §8.2,
 * items 1-17) replayed through the simulator with exact traces, adapted
 * where docs/compatibility.md records a deliberate difference. Items that
 * belong to other layers are pinned here only for the engine's part:
 * 12 (service ports) is the Kubernetes router's, 13 (Slack payload) the
 * notifier's, 15's rendering/provider details the metrics port's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "engine_fixture.h"

#define HEAD                                                                                    \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n"              \
    "  namespace: default\nspec:\n  provider: istio\n  targetRef:\n    apiVersion: apps/v1\n"  \
    "    kind: Deployment\n    name: podinfo\n  service:\n    port: 9898\n"

/* Flagger's scheduler fixture: threshold 10, stepWeight 10, maxWeight 50. */
#define FIXTURE                                                                                 \
    HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n    stepWeight: 10\n"                \
         "    maxWeight: 50\n    metrics:\n    - name: request-success-rate\n"                   \
         "      threshold: 99\n      interval: 1m\n    - name: request-duration\n"             \
         "      thresholdRange:\n        min: 0\n        max: 500000\n      interval: 1m\n"

typedef struct run {
    cd_scenario *sc;
    cd_registry *reg;
    cd_sim *sim;
} run;

static run start(const char *canary, const char *scenario, const char *provider, bool keep_log)
{
    run r;
    const cd_object *o = fx_canary(canary);
    r.sc = fx_scenario(scenario ? scenario : "");
    r.reg = cd_registry_new("test", provider ? provider : "istio");
    cd_sim_options opt = {.mesh_provider = provider, .registry = r.reg, .keep_log = keep_log};
    r.sim = cd_sim_new(&o->meta, &o->spec.canary, r.sc, &opt);
    return r;
}

static void stop(run *r)
{
    cd_sim_free(r->sim);
    cd_scenario_free(r->sc);
    cd_registry_free(r->reg);
    fx_release_objects();
}

static const char *const INIT_ROW =
    "0s Initialized 0/100 f0 i0: all the metrics providers are available! | "
    "Initialization done! podinfo.default\n";

/* 1, 2: init creates the primary and scales the target to zero; the next
 * revision scales it back up. */
static void test_init_and_new_revision(void **state)
{
    run r = start(FIXTURE, "revisions: [5m]", NULL, false);
    fx_expect_step(r.sim, INIT_ROW);
    const cd_sim_stats *st = cd_sim_get_stats(r.sim);
    assert_true(st->primary_exists);
    assert_int_equal(st->canary_replicas, 0);
    assert_string_equal(cd_sim_status(r.sim)->last_promoted_spec,
                        cd_sim_status(r.sim)->last_applied_spec);
    fx_expect_trace(r.sim, 4, "1m Initialized 0/100 f0 i0:\n2m Initialized 0/100 f0 i0:\n"
                              "3m Initialized 0/100 f0 i0:\n4m Initialized 0/100 f0 i0:\n");
    assert_int_equal(st->canary_replicas, 0);
    fx_expect_step(r.sim,
                   "5m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n");
    assert_int_equal(st->canary_replicas, 1);
    assert_string_equal(cd_sim_status(r.sim)->condition.reason, "Progressing");
    stop(&r);
}

/* 3: failed checks at the threshold roll back on the next tick. */
static void test_rollback_at_threshold(void **state)
{
    run r = start(FIXTURE, "metrics:\n  request-success-rate: [{at: 0s, value: 50}]\n", NULL,
                  false);
    fx_skip(r.sim);   /* init */
    fx_expect_step(r.sim,
                   "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n");
    cd_sim_status(r.sim)->failed_checks = 10;
    fx_expect_step(r.sim, "2m Failed 0/100 f0 i0: Rolling back podinfo.default failed checks "
                          "threshold reached 10 | Canary failed! Scaling down podinfo.default\n");
    assert_int_equal(cd_sim_get_stats(r.sim)->canary_replicas, 0);
    assert_int_equal(cd_sim_get_stats(r.sim)->promotions, 0);
    assert_true(fx_metric(r.reg, "flagger_canary_weight{workload=\"podinfo-primary\","
                                 "namespace=\"default\"}") == 100);
    assert_true(fx_metric(r.reg, "flagger_canary_weight{workload=\"podinfo\","
                                 "namespace=\"default\"}") == 0);
    assert_true(fx_metric(r.reg, "flagger_canary_status{name=\"podinfo\",namespace=\"default\"}") ==
                2);
    assert_true(fx_metric(r.reg, "flagger_canary_failures_total{name=\"podinfo\",namespace="
                                 "\"default\",deployment_strategy=\"canary\",analysis_status="
                                 "\"completed\"}") == 1);
    assert_true(cd_sim_done(r.sim));
    stop(&r);
}

/* Failed checks accumulate one per failing tick; the tick after the
 * threshold-th failure rolls back. */
static void test_failed_checks_accumulate(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 2\n"
                              "    stepWeight: 10\n    metrics:\n"
                              "    - name: request-success-rate\n      thresholdRange:\n"
                              "        min: 99\n      interval: 1m\n";
    run r = start(canary, "metrics:\n  request-success-rate: [{at: 3m, value: 80}]\n", NULL, false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 20,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 10/90 f0 i0: Starting canary analysis for podinfo.default | "
                    "Advance podinfo.default canary weight 10\n"
                    "3m Progressing 10/90 f1 i0: Halt podinfo.default advancement success rate "
                    "80.00% < 99%\n"
                    "4m Progressing 10/90 f2 i0: Halt podinfo.default advancement success rate "
                    "80.00% < 99%\n"
                    "5m Failed 0/100 f0 i0: Rolling back podinfo.default failed checks threshold "
                    "reached 2 | Canary failed! Scaling down podinfo.default\n");
    stop(&r);
}

/* 4: the primary stuck while Promoting: all traffic to the canary, which
 * keeps running; Failed with canaryWeight 100. */
static void failed_promotion_from(cd_phase phase, int canary_w, const char *row2)
{
    const char *canary = HEAD "  progressDeadlineSeconds: 60\n  analysis:\n    interval: 1m\n"
                              "    threshold: 10\n    stepWeight: 10\n    maxWeight: 50\n";
    run r = start(canary, "ready:\n  primary: [{at: 0s, value: true}, {at: 2m, value: stuck}]\n",
                  NULL, false);
    fx_skip(r.sim);
    fx_skip(r.sim);
    cd_sim_status(r.sim)->phase = phase;
    cd_sim_set_routes(r.sim, 100 - canary_w, canary_w, false);
    const char *waiting = "podinfo-primary.default not ready: waiting for rollout to finish: 0 of "
                          "1 (readyThreshold 100%) updated replicas are available";
    char expect[1024];
    snprintf(expect, sizeof expect, "2m %s f0 i0: %s\n3m %s f0 i0: %s\n", row2, waiting, row2,
             waiting);
    fx_expect_trace(r.sim, 2, expect);
    fx_expect_step(r.sim, "4m Failed 100/0 f0 i0: Promotion failed, primary not ready: "
                          "podinfo-primary.default not ready: deployment \"podinfo-primary\" "
                          "exceeded its progress deadline\n");
    assert_int_equal(cd_sim_status(r.sim)->canary_weight, 100);
    assert_int_equal(cd_sim_get_stats(r.sim)->canary_replicas, 1);   /* not scaled down */
    assert_true(fx_metric(r.reg, "flagger_canary_failures_total{name=\"podinfo\",namespace="
                                 "\"default\",deployment_strategy=\"canary\",analysis_status="
                                 "\"completed\"}") == 1);
    stop(&r);
}

static void test_failed_promotion(void **state)
{
    failed_promotion_from(CD_PHASE_PROMOTING, 50, "Promoting 50/50");
    failed_promotion_from(CD_PHASE_FINALISING, 0, "Finalising 0/100");
}

/* 5: skipAnalysis promotes on the tick after the change, counted as skipped. */
static void test_skip_analysis(void **state)
{
    const char *canary = HEAD "  skipAnalysis: true\n  analysis:\n    interval: 1m\n"
                              "    threshold: 10\n    stepWeight: 10\n";
    run r = start(canary, NULL, NULL, false);
    fx_expect_trace(r.sim, 10,
                    "0s Initialized 0/100 f0 i0: Initialization done! podinfo.default\n"
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Succeeded 0/100 f0 i0: Copying podinfo.default template spec to "
                    "podinfo-primary.default | Promotion completed! Canary analysis was skipped "
                    "for podinfo.default\n");
    assert_int_equal(cd_sim_get_stats(r.sim)->promotions, 1);
    assert_true(fx_metric(r.reg, "flagger_canary_successes_total{name=\"podinfo\",namespace="
                                 "\"default\",deployment_strategy=\"canary\",analysis_status="
                                 "\"skipped\"}") == 1);
    stop(&r);
}

/* 6: stepWeight 100, stepWeightPromotion 50. */
static void test_promotion_steps(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n"
                              "    stepWeight: 100\n    stepWeightPromotion: 50\n";
    run r = start(canary, NULL, NULL, false);
    const cd_phase phases[] = {CD_PHASE_INITIALIZED, CD_PHASE_PROGRESSING, CD_PHASE_PROGRESSING,
                               CD_PHASE_PROMOTING,   CD_PHASE_PROMOTING,   CD_PHASE_FINALISING,
                               CD_PHASE_SUCCEEDED};
    const int weights[] = {0, 0, 100, 100, 50, 0, 0};
    cd_sim_row row;
    for (size_t i = 0; i < 7; i++) {
        cd_sim_tick(r.sim, &row);
        assert_int_equal(cd_sim_status(r.sim)->phase, phases[i]);
        assert_int_equal(cd_sim_status(r.sim)->canary_weight, weights[i]);
    }
    assert_true(cd_sim_done(r.sim));
    stop(&r);
}

/* 7: blue/green with one iteration. */
static void test_blue_green(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n    iterations: 1\n";
    run r = start(canary, NULL, NULL, false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 10,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 0/100 f0 i1: Starting canary analysis for podinfo.default | "
                    "Advance podinfo.default canary iteration 1/1\n"
                    "3m Progressing 100/0 f0 i2: Routing all traffic to canary\n"
                    "4m Promoting 100/0 f0 i2: Copying podinfo.default template spec to "
                    "podinfo-primary.default\n"
                    "5m Finalising 0/100 f0 i0: Routing all traffic to primary\n"
                    "6m Succeeded 0/100 f0 i0: Promotion completed! Scaling down podinfo.default\n");
    assert_true(fx_metric(r.reg, "flagger_canary_successes_total{name=\"podinfo\",namespace="
                                 "\"default\",deployment_strategy=\"blue-green\",analysis_status="
                                 "\"completed\"}") == 1);
    stop(&r);
}

/* 8: a second change during the analysis resets routing and counters. */
static void test_new_revision_restarts(void **state)
{
    run r = start(FIXTURE, "revisions: [0s, 3m]\n", NULL, false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 4,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 10/90 f0 i0: Starting canary analysis for podinfo.default | "
                    "Advance podinfo.default canary weight 10\n"
                    "3m Progressing 0/100 f0 i0: New revision detected! Restarting analysis for "
                    "podinfo.default\n"
                    "4m Progressing 10/90 f0 i0: Starting canary analysis for podinfo.default | "
                    "Advance podinfo.default canary weight 10\n");
    assert_int_equal(cd_sim_get_stats(r.sim)->revision, 2);
    stop(&r);
}

/* 9: promotion copies the canary to the primary, then routes all traffic back. */
static void test_promotion(void **state)
{
    run r = start(FIXTURE, NULL, NULL, false);
    char *trace = fx_trace(r.sim, 7);   /* up to weight 50 */
    free(trace);
    const cd_sim_stats *st = cd_sim_get_stats(r.sim);
    assert_int_equal(st->promotions, 0);
    fx_expect_step(r.sim, "7m Promoting 50/50 f0 i0: Copying podinfo.default template spec to "
                          "podinfo-primary.default\n");
    assert_int_equal(st->promotions, 1);
    assert_int_equal(st->primary_revision, st->revision);
    fx_expect_step(r.sim, "8m Finalising 0/100 f0 i0: Routing all traffic to primary\n");
    assert_int_equal(st->canary_replicas, 1);
    fx_expect_step(r.sim, "9m Succeeded 0/100 f0 i0: Promotion completed! Scaling down "
                          "podinfo.default\n");
    assert_int_equal(st->canary_replicas, 0);
    cd_canary_status *s = cd_sim_status(r.sim);
    assert_string_equal(s->last_promoted_spec, s->last_applied_spec);
    assert_string_equal(s->condition.status, "True");
    assert_string_equal(s->condition.message,
                        "Canary analysis completed successfully, promotion finished.");
    assert_true(cd_sim_done(r.sim));
    stop(&r);
}

/* 10: mirroring comes first, then the first weight step. */
static void test_mirroring(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n"
                              "    stepWeight: 10\n    maxWeight: 50\n    mirror: true\n";
    run r = start(canary, NULL, NULL, false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 3,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 0/100 mirrored f0 i0: Starting canary analysis for "
                    "podinfo.default | Advance podinfo.default canary weight 0\n"
                    "3m Progressing 10/90 f0 i0: Advance podinfo.default canary weight 10\n");
    stop(&r);
}

/* 11: A/B: matched traffic to the canary for N iterations, then promotion. */
static void test_ab_testing(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n"
                              "    iterations: 10\n    match:\n    - headers:\n"
                              "        x-canary:\n          exact: insider\n";
    run r = start(canary, NULL, NULL, false);
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_expect_step(r.sim, "2m Progressing 100/0 f0 i1: Starting canary analysis for "
                          "podinfo.default | Advance podinfo.default canary iteration 1/10\n");
    cd_sim_status(r.sim)->iterations = 10;
    fx_expect_trace(r.sim, 3,
                    "3m Promoting 100/0 f0 i10: Copying podinfo.default template spec to "
                    "podinfo-primary.default\n"
                    "4m Finalising 0/100 f0 i0: Routing all traffic to primary\n"
                    "5m Succeeded 0/100 f0 i0: Promotion completed! Scaling down podinfo.default\n");
    assert_int_equal(cd_sim_get_stats(r.sim)->primary_revision, 1);
    assert_true(fx_metric(r.reg, "flagger_canary_successes_total{name=\"podinfo\",namespace="
                                 "\"default\",deployment_strategy=\"ab-testing\",analysis_status="
                                 "\"completed\"}") == 1);
    stop(&r);
}

/* 13 (engine part): init and new-revision alerts carry the metadata. */
static void test_alerts(void **state)
{
    run r = start(FIXTURE, NULL, NULL, false);
    cd_sim_row row;
    cd_sim_tick(r.sim, &row);
    assert_int_equal(row.n_alerts, 1);
    assert_string_equal(row.alerts[0].message, "New Deployment detected, initialization completed.");
    assert_true(row.alerts[0].metadata);
    assert_int_equal(row.alerts[0].severity, CD_SEV_INFO);
    cd_sim_tick(r.sim, &row);
    assert_int_equal(row.n_alerts, 1);
    assert_string_equal(row.alerts[0].message,
                        "New revision detected, progressing canary analysis.");
    assert_true(row.alerts[0].metadata);
    while (!cd_sim_done(r.sim))
        cd_sim_tick(r.sim, &row);
    assert_int_equal(row.n_alerts, 1);
    assert_string_equal(row.alerts[0].message,
                        "Canary analysis completed successfully, promotion finished.");
    assert_false(row.alerts[0].metadata);
    stop(&r);
}

/* 14: Service targets with several ladders; the canary weight stops at
 * maxWeight (Flagger overshoots to 60: docs/compatibility.md). */
static char *primary_weights(const char *analysis)
{
    char canary[2048];
    snprintf(canary, sizeof canary,
             "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n"
             "  namespace: default\nspec:\n  provider: istio\n  targetRef:\n    apiVersion: v1\n"
             "    kind: Service\n    name: podinfo\n  service:\n    port: 9898\n  analysis:\n"
             "    interval: 1m\n    threshold: 10\n%s", analysis);
    run r = start(canary, NULL, NULL, false);
    cd_buf out = CD_BUF_INIT;
    cd_sim_row row;
    while (!cd_sim_done(r.sim)) {
        cd_sim_tick(r.sim, &row);
        cd_buf_printf(&out, "%s%d%s", out.len ? " " : "", row.primary_weight,
                      row.phase == CD_PHASE_PROMOTING    ? "P"
                      : row.phase == CD_PHASE_FINALISING ? "F"
                      : row.phase == CD_PHASE_SUCCEEDED  ? "S"
                                                         : "");
    }
    stop(&r);
    return cd_buf_steal(&out);
}

static void expect_weights(const char *analysis, const char *expected)
{
    char *got = primary_weights(analysis);
    assert_string_equal(got, expected);
    free(got);
}

static void test_service_target_ladders(void **state)
{
    expect_weights("    stepWeight: 20\n    maxWeight: 50\n", "100 100 80 60 50 50P 100F 100S");
    expect_weights("    stepWeight: 50\n    maxWeight: 100\n", "100 100 50 0 0P 100F 100S");
    expect_weights("    stepWeights: [1, 2, 10, 80]\n", "100 100 99 98 90 20 20P 100F 100S");
    /* Flagger's [1, 2, 10, 200] (100, 99, 98, 90, 0) does not get this far:
     * canaryd's schema keeps each step within 0-100 (docs/compatibility.md) */
    expect_weights("    stepWeights: [1, 2, 10, 100]\n", "100 100 99 98 90 0 0P 100F 100S");
    expect_weights("    stepWeights: [5, 50]\n    stepWeightPromotion: 40\n",
                   "100 100 95 50 50P 90P 100F 100S");
}

/* 15: metric providers and checks, as the engine sees them. */
static cd_rc providers_down(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    snprintf(err->msg, sizeof err->msg,
             "prometheus not avaiable: Get \"http://fake:9090/api/v1/query\": dial tcp: lookup "
             "fake: no such host");
    return CD_ERROR;
}

static void test_metric_providers(void **state)
{
    run r = start(FIXTURE, NULL, NULL, false);
    cd_sim_ports(r.sim)->metrics.check_providers = providers_down;
    fx_expect_step(r.sim, "0s Initialized 0/100 f0 i0: Error checking metric providers: prometheus "
                          "not avaiable: Get \"http://fake:9090/api/v1/query\": dial tcp: lookup "
                          "fake: no such host | Initialization done! podinfo.default\n");
    stop(&r);
}

#define TEMPLATED                                                                               \
    HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n    stepWeight: 10\n"                \
         "    metrics:\n    - name: not-found\n      templateRef:\n        name: missing\n"      \
         "      thresholdRange:\n        max: 1\n    - name: inline\n"                          \
         "      query: sum(rate(http_requests_total[1m]))\n      thresholdRange:\n"             \
         "        max: 100\n"

static void test_metric_checks(void **state)
{
    run r = start(TEMPLATED, "metrics:\n  not-found: [{at: 0s, value: error}]\n", NULL, false);
    const cd_object *o = fx_objects.items[fx_objects.n - 1];
    /* templateRef without namespace means the canary's namespace */
    assert_string_equal(o->spec.canary.analysis.metrics[0].template_namespace, "default");
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_skip(r.sim);   /* weight 10: the next tick analyses */
    fx_expect_step(r.sim, "3m Progressing 10/90 f1 i0: Metric query failed for not-found: the "
                          "scenario makes the not-found query fail\n");
    stop(&r);

    /* the inline query and the template both pass when in range */
    r = start(TEMPLATED, NULL, NULL, false);
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_expect_step(r.sim, "3m Progressing 20/80 f0 i0: Advance podinfo.default canary weight 20\n");
    assert_true(fx_metric(r.reg, "flagger_canary_metric_analysis{name=\"podinfo\",namespace="
                                 "\"default\",metric=\"inline\"}") == 50);
    assert_true(fx_metric(r.reg, "flagger_canary_metric_analysis{name=\"podinfo\",namespace="
                                 "\"default\",metric=\"not-found\"}") == 0.5);
    /* a metric nothing can evaluate fails the check */
    cd_metric *m = (cd_metric *)&fx_objects.items[fx_objects.n - 1]->spec.canary.analysis.metrics[0];
    m->template_name = NULL;
    fx_expect_step(r.sim, "4m Progressing 20/80 f1 i0: Metric query failed for not-found: no "
                          "usable metrics template and query were configured\n");
    stop(&r);
}

/* No data fails the check with Flagger's "not receiving traffic" text; a
 * request-duration value is compared in whole milliseconds. */
static void test_no_data_and_duration(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n"
                              "    stepWeight: 10\n    metrics:\n"
                              "    - name: request-duration\n      thresholdRange:\n"
                              "        max: 500\n      interval: 1m\n";
    run r = start(canary,
                  "metrics:\n  request-duration: [{at: 3m, value: nodata}, {at: 4m, value: 500.9},"
                  " {at: 5m, value: 1500}]\n", NULL, false);
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 3,
                    "3m Progressing 10/90 f1 i0: Halt advancement no values found for istio metric "
                    "request-duration probably podinfo.default is not receiving traffic\n"
                    "4m Progressing 20/80 f1 i0: Advance podinfo.default canary weight 20\n"
                    "5m Progressing 20/80 f2 i0: Halt podinfo.default advancement request duration "
                    "1.5s > 500ms\n");
    assert_true(fx_metric(r.reg, "flagger_canary_metric_analysis{name=\"podinfo\",namespace="
                                 "\"default\",metric=\"request-duration\"}") == 1.5);
    stop(&r);
}

/* 16: own metrics during a rollout. */
static void test_own_metrics(void **state)
{
    run r = start(FIXTURE, NULL, NULL, false);
    const char *status = "flagger_canary_status{name=\"podinfo\",namespace=\"default\"}";
    const char *wp = "flagger_canary_weight{workload=\"podinfo-primary\",namespace=\"default\"}";
    const char *wc = "flagger_canary_weight{workload=\"podinfo\",namespace=\"default\"}";
    fx_skip(r.sim);
    assert_true(fx_metric(r.reg, status) == 1);
    fx_skip(r.sim);
    assert_true(fx_metric(r.reg, status) == 0);
    for (int i = 0; i < 5; i++) {
        fx_skip(r.sim);
        double p = fx_metric(r.reg, wp), c = fx_metric(r.reg, wc);
        assert_true(p + c == 100);
        assert_true(c >= 10 && c <= 50 && p >= 50 && p <= 90);
    }
    while (!cd_sim_done(r.sim))
        fx_skip(r.sim);
    assert_true(fx_metric(r.reg, status) == 1);
    assert_true(fx_metric(r.reg, "flagger_canary_successes_total{name=\"podinfo\",namespace="
                                 "\"default\",deployment_strategy=\"canary\",analysis_status="
                                 "\"completed\"}") == 1);
    assert_true(fx_metric(r.reg, "flagger_canary_duration_seconds_count{name=\"podinfo\","
                                 "namespace=\"default\"}") == 6);
    assert_true(fx_metric(r.reg, "flagger_info{version=\"test\",mesh_provider=\"istio\"}") == 1);
    stop(&r);
}

/* 17: the event webhook sequence of a happy canary run, and the phases the
 * gating hooks receive. */
#define HOOKS                                                                                   \
    "    webhooks:\n"                                                                           \
    "    - {name: confirm-rollout, type: confirm-rollout, url: 'http://hooks/'}\n"              \
    "    - {name: pre-rollout, type: pre-rollout, url: 'http://hooks/'}\n"                      \
    "    - {name: confirm-traffic-increase, type: confirm-traffic-increase, url: 'http://hooks/'}\n" \
    "    - {name: confirm-promotion, type: confirm-promotion, url: 'http://hooks/'}\n"          \
    "    - {name: post-rollout, type: post-rollout, url: 'http://hooks/'}\n"                    \
    "    - {name: events, type: event, url: 'http://hooks/'}\n"

static void test_event_webhook_sequence(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 10\n"
                              "    stepWeight: 100\n    stepWeightPromotion: 50\n" HOOKS;
    run r = start(canary, "ready:\n  primary: [{at: 0s, value: false}, {at: 1m, value: true}]\n",
                  NULL, true);
    while (!cd_sim_done(r.sim))
        fx_skip(r.sim);
    const char *expected[] = {
        "all the metrics providers are available!",
        ("podinfo-primary.default not ready: waiting for rollout to finish: 0 of 1 "
         "(readyThreshold 100%) updated replicas are available"),
        "all the metrics providers are available!",
        "Initialization done! podinfo.default",
        "Confirm-rollout check confirm-rollout passed",
        "New revision detected! Scaling up podinfo.default",
        "Starting canary analysis for podinfo.default",
        "Pre-rollout check pre-rollout passed",
        "Confirm-traffic-increase check confirm-traffic-increase passed",
        "Advance podinfo.default canary weight 100",
        "Confirm-traffic-increase check confirm-traffic-increase passed",
        "Confirm-promotion check confirm-promotion passed",
        "Copying podinfo.default template spec to podinfo-primary.default",
        "Advance podinfo.default primary weight 50",
        "Advance podinfo.default primary weight 100",
        "Post-rollout check post-rollout passed",
        "Promotion completed! Scaling down podinfo.default",
    };
    const cd_sim_stats *st = cd_sim_get_stats(r.sim);
    size_t n = sizeof expected / sizeof expected[0];
    for (size_t i = 0; i < n && i < st->n_event_hooks; i++)
        assert_string_equal(st->event_hooks[i].message, expected[i]);
    assert_int_equal(st->n_event_hooks, n);
    assert_int_equal(st->event_hooks[1].type, CD_EVENT_WARNING);
    for (size_t i = 0; i < st->n_calls; i++) {
        const cd_sim_call *c = &st->calls[i];
        cd_phase want = c->type == CD_HOOK_CONFIRM_ROLLOUT ? CD_PHASE_INITIALIZED
                        : c->type == CD_HOOK_POST_ROLLOUT  ? CD_PHASE_SUCCEEDED
                                                           : CD_PHASE_PROGRESSING;
        assert_int_equal(c->phase, want);
        assert_true(c->passed);
    }
    assert_int_equal(st->n_calls, 6);   /* the event hook is not called as a gate */
    stop(&r);
}

static void test_skip_analysis_event_sequence(void **state)
{
    const char *canary = HEAD "  skipAnalysis: true\n  analysis:\n    interval: 1m\n"
                              "    threshold: 10\n    stepWeight: 10\n" HOOKS;
    run r = start(canary, NULL, NULL, true);
    while (!cd_sim_done(r.sim))
        fx_skip(r.sim);
    const char *expected[] = {
        "Initialization done! podinfo.default",
        "Confirm-rollout check confirm-rollout passed",
        "New revision detected! Scaling up podinfo.default",
        "Copying podinfo.default template spec to podinfo-primary.default",
        "Post-rollout check post-rollout passed",
        "Promotion completed! Canary analysis was skipped for podinfo.default",
    };
    const cd_sim_stats *st = cd_sim_get_stats(r.sim);
    assert_int_equal(st->n_event_hooks, sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < st->n_event_hooks; i++)
        assert_string_equal(st->event_hooks[i].message, expected[i]);
    stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_new_revision),
        cmocka_unit_test(test_rollback_at_threshold),
        cmocka_unit_test(test_failed_checks_accumulate),
        cmocka_unit_test(test_failed_promotion),
        cmocka_unit_test(test_skip_analysis),
        cmocka_unit_test(test_promotion_steps),
        cmocka_unit_test(test_blue_green),
        cmocka_unit_test(test_new_revision_restarts),
        cmocka_unit_test(test_promotion),
        cmocka_unit_test(test_mirroring),
        cmocka_unit_test(test_ab_testing),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_service_target_ladders),
        cmocka_unit_test(test_metric_providers),
        cmocka_unit_test(test_metric_checks),
        cmocka_unit_test(test_no_data_and_duration),
        cmocka_unit_test(test_own_metrics),
        cmocka_unit_test(test_event_webhook_sequence),
        cmocka_unit_test(test_skip_analysis_event_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
