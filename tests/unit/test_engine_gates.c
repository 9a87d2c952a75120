/* test_engine_gates.c - webhooks as gates (reference §4.2), the rollback
 * webhook, suspend, the kubernetes provider's forced blue/green, Failed
 * re-syncing, and canaryd's deliberate differences from Flagger
 * (docs/compatibility.md), each as an exact simulated trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "engine_fixture.h"

#define HEAD_FOR(provider)                                                                      \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n"              \
    "  namespace: default\nspec:\n  provider: " provider "\n  targetRef:\n"                    \
    "    apiVersion: apps/v1\n    kind: Deployment\n    name: podinfo\n  service:\n"           \
    "    port: 9898\n"
#define HEAD HEAD_FOR("istio")

typedef struct run {
    cd_scenario *sc;
    cd_sim *sim;
} run;

static run start(const char *canary, const char *scenario, bool keep_log)
{
    run r;
    const cd_object *o = fx_canary(canary);
    r.sc = fx_scenario(scenario ? scenario : "");
    cd_sim_options opt = {.keep_log = keep_log};
    r.sim = cd_sim_new(&o->meta, &o->spec.canary, r.sc, &opt);
    return r;
}

static void stop(run *r)
{
    cd_sim_free(r->sim);
    cd_scenario_free(r->sc);
    fx_release_objects();
}

#define GATES                                                                                   \
    HEAD "  analysis:\n    interval: 1m\n    threshold: 3\n    stepWeight: 25\n"                 \
         "    maxWeight: 50\n    webhooks:\n"                                                   \
         "    - {name: approve-rollout, type: confirm-rollout, url: 'http://gate/'}\n"         \
         "    - {name: approve-traffic, type: confirm-traffic-increase, url: 'http://gate/'}\n" \
         "    - {name: approve-promotion, type: confirm-promotion, url: 'http://gate/'}\n"     \
         "    - {name: smoke, type: pre-rollout, url: 'http://gate/'}\n"                        \
         "    - {name: load, type: rollout, url: 'http://gate/'}\n"

static void test_gates(void **state)
{
    run r = start(GATES,
                  "webhooks:\n"
                  "  approve-rollout: [{at: 0s, pass: false}, {at: 3m, pass: true}]\n"
                  "  smoke: [{at: 0s, pass: false}, {at: 5m, pass: true}]\n"
                  "  approve-traffic: [{at: 7m, pass: false}, {at: 9m, pass: true}]\n"
                  "  approve-promotion: [{at: 0s, pass: false}, {at: 12m, pass: true}]\n",
                  true);
    fx_skip(r.sim);
    cd_sim_row row;
    fx_expect_step(r.sim, "1m Waiting 0/100 f0 i0: Halt podinfo.default advancement waiting for "
                          "approval approve-rollout\n");
    fx_expect_trace(
        r.sim, 14,
        "2m Waiting 0/100 f0 i0:\n"
        "3m Progressing 0/100 f0 i0: Confirm-rollout check approve-rollout passed | New revision "
        "detected! Scaling up podinfo.default\n"
        "4m Progressing 0/100 f1 i0: Starting canary analysis for podinfo.default | Halt "
        "podinfo.default advancement pre-rollout check smoke failed the scenario rejects smoke\n"
        "5m Progressing 25/75 f1 i0: Starting canary analysis for podinfo.default | Pre-rollout "
        "check smoke passed | Confirm-traffic-increase check approve-traffic passed | Advance "
        "podinfo.default canary weight 25\n"
        "6m Progressing 50/50 f1 i0: Confirm-traffic-increase check approve-traffic passed | "
        "Advance podinfo.default canary weight 50\n"
        "7m Progressing 50/50 f1 i0: Halt podinfo.default advancement waiting for traffic "
        "increase approval approve-traffic\n"
        "8m Progressing 50/50 f1 i0: Halt podinfo.default advancement waiting for traffic "
        "increase approval approve-traffic\n"
        "9m WaitingPromotion 50/50 f1 i0: Confirm-traffic-increase check approve-traffic passed | "
        "Halt podinfo.default advancement waiting for promotion approval approve-promotion\n"
        "10m WaitingPromotion 50/50 f1 i0:\n"
        "11m WaitingPromotion 50/50 f1 i0:\n"
        "12m Promoting 50/50 f1 i0: Confirm-promotion check approve-promotion passed | Copying "
        "podinfo.default template spec to podinfo-primary.default\n"
        "13m Finalising 0/100 f1 i0: Routing all traffic to primary\n"
        "14m Succeeded 0/100 f1 i0: Promotion completed! Scaling down podinfo.default\n");
    (void)row;
    /* WaitingPromotion kept iterations at 0 (Flagger writes -1) */
    assert_int_equal(cd_sim_status(r.sim)->iterations, 0);
    stop(&r);
}

/* Alerts of closed gates: confirm-rollout and confirm-promotion once,
 * confirm-traffic-increase on every closed tick; muteAlert silences. */
static void count_gate_alerts(bool mute_traffic, int *rollout, int *traffic, int *promotion)
{
    char canary[2048];
    snprintf(canary, sizeof canary,
             HEAD "  analysis:\n    interval: 1m\n    threshold: 3\n    stepWeight: 25\n"
                  "    maxWeight: 50\n    webhooks:\n"
                  "    - {name: approve-rollout, type: confirm-rollout, url: 'http://gate/'}\n"
                  "    - {name: approve-traffic, type: confirm-traffic-increase, url: "
                  "'http://gate/', muteAlert: %s}\n"
                  "    - {name: approve-promotion, type: confirm-promotion, url: 'http://gate/'}\n",
             mute_traffic ? "true" : "false");
    run r = start(canary,
                  "webhooks:\n"
                  "  approve-rollout: [{at: 0s, pass: false}, {at: 3m, pass: true}]\n"
                  "  approve-traffic: [{at: 5m, pass: false}, {at: 7m, pass: true}]\n"
                  "  approve-promotion: [{at: 0s, pass: false}, {at: 11m, pass: true}]\n",
                  false);
    *rollout = *traffic = *promotion = 0;
    cd_sim_row row;
    while (!cd_sim_done(r.sim)) {
        cd_sim_tick(r.sim, &row);
        for (size_t k = 0; k < row.n_alerts; k++) {
            const char *m = row.alerts[k].message;
            bool warn = row.alerts[k].severity == CD_SEV_WARN;
            *rollout += warn && !strcmp(m, "Canary is waiting for approval.");
            *traffic += warn && !strcmp(m, "Canary traffic increase is waiting for approval.");
            *promotion += warn && !strcmp(m, "Canary promotion is waiting for approval.");
        }
    }
    assert_int_equal(cd_sim_status(r.sim)->phase, CD_PHASE_SUCCEEDED);
    stop(&r);
}

static void test_gate_alerts(void **state)
{
    int rollout, traffic, promotion;
    count_gate_alerts(false, &rollout, &traffic, &promotion);
    assert_int_equal(rollout, 1);
    assert_int_equal(traffic, 2);
    assert_int_equal(promotion, 1);
    count_gate_alerts(true, &rollout, &traffic, &promotion);
    assert_int_equal(rollout, 1);
    assert_int_equal(traffic, 0);
    assert_int_equal(promotion, 1);
}

static void test_rollback_webhook(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 3\n"
                              "    stepWeight: 25\n    webhooks:\n"
                              "    - {name: abort, type: rollback, url: 'http://gate/'}\n"
                              "    - {name: notify, type: post-rollout, url: 'http://gate/'}\n";
    run r = start(canary, "webhooks:\n  abort: [{at: 0s, pass: false}, {at: 3m, pass: true}]\n",
                  true);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 5,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 25/75 f0 i0: Rollback hook abort not signaling a rollback | "
                    "Starting canary analysis for podinfo.default | Advance podinfo.default "
                    "canary weight 25\n"
                    "3m Failed 0/100 f0 i0: Rollback check abort passed | Rolling back "
                    "podinfo.default manual webhook invoked | Canary failed! Scaling down "
                    "podinfo.default | Post-rollout check notify passed\n");
    const cd_sim_stats *st = cd_sim_get_stats(r.sim);
    /* the rollback hook hears the current phase; post-rollout hears Failed */
    assert_int_equal(st->calls[st->n_calls - 2].phase, CD_PHASE_PROGRESSING);
    assert_int_equal(st->calls[st->n_calls - 1].phase, CD_PHASE_FAILED);
    /* "Canary failed!" is sent with phase Failed, the rest with the tick's phase */
    for (size_t i = 0; i < st->n_event_hooks; i++) {
        const cd_sim_event_hook *e = &st->event_hooks[i];
        if (!strncmp(e->message, "Canary failed!", 14))
            assert_int_equal(e->phase, CD_PHASE_FAILED);
        if (!strncmp(e->message, "Rolling back", 12))
            assert_int_equal(e->phase, CD_PHASE_PROGRESSING);
    }
    stop(&r);
}

static void test_suspend(void **state)
{
    const char *canary = HEAD "  suspend: true\n  analysis:\n    interval: 1m\n    threshold: 3\n"
                              "    stepWeight: 25\n";
    run r = start(canary, "duration: 2m\n", false);
    fx_expect_trace(r.sim, 10,
                    "0s Initializing 0/100 f0 i0: skipping canary run as object is suspended\n"
                    "1m Initializing 0/100 f0 i0: skipping canary run as object is suspended\n"
                    "2m Initializing 0/100 f0 i0: skipping canary run as object is suspended\n");
    assert_true(cd_sim_done(r.sim));
    assert_false(cd_sim_get_stats(r.sim)->primary_exists);
    stop(&r);
}

/* Provider kubernetes: blue/green with the no-op router, match dropped,
 * 10 iterations when none are set; promotion needs no traffic shift. */
static void test_kubernetes_provider(void **state)
{
    const char *canary = HEAD_FOR("kubernetes") "  analysis:\n    interval: 1m\n"
                                                "    threshold: 10\n    iterations: 1\n"
                                                "    match:\n    - headers:\n"
                                                "        x-canary:\n          exact: insider\n";
    run r = start(canary, NULL, false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 10,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 100/0 f0 i1: Starting canary analysis for podinfo.default | "
                    "A/B testing is not supported when using the kubernetes provider | Advance "
                    "podinfo.default canary iteration 1/1\n"
                    "3m Progressing 100/0 f0 i2: A/B testing is not supported when using the "
                    "kubernetes provider\n"
                    "4m Promoting 100/0 f0 i2: A/B testing is not supported when using the "
                    "kubernetes provider | Copying podinfo.default template spec to "
                    "podinfo-primary.default\n"
                    "5m Finalising 0/100 f0 i0:\n"
                    "6m Succeeded 0/100 f0 i0: Promotion completed! Scaling down podinfo.default\n");
    stop(&r);

    const char *progressive = HEAD_FOR("kubernetes") "  analysis:\n    interval: 1m\n"
                                                     "    threshold: 10\n    stepWeight: 10\n";
    r = start(progressive, NULL, false);
    fx_skip(r.sim);
    fx_skip(r.sim);
    fx_expect_step(r.sim, "2m Progressing 100/0 f0 i1: Starting canary analysis for "
                          "podinfo.default | Progressive traffic is not supported when using the "
                          "kubernetes provider | Setting canaryAnalysis.iterations: 10 | Advance "
                          "podinfo.default canary iteration 1/10\n");
    while (!cd_sim_done(r.sim))
        fx_skip(r.sim);
    assert_int_equal(cd_sim_status(r.sim)->phase, CD_PHASE_SUCCEEDED);
    assert_int_equal(cd_sim_get_stats(r.sim)->ticks, 16);
    stop(&r);
}

/* Failed keeps re-syncing lastAppliedSpec: going back to the primary's
 * version starts nothing, re-applying the failed one starts a new run. */
static void test_failed_resync(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 1\n"
                              "    stepWeight: 50\n    metrics:\n"
                              "    - name: request-success-rate\n      thresholdRange:\n"
                              "        min: 99\n      interval: 1m\n";
    run r = start(canary, "metrics:\n  request-success-rate: [{at: 0s, value: 10}]\n", false);
    fx_expect_trace(r.sim, 10,
                    "0s Initialized 0/100 f0 i0: all the metrics providers are available! | "
                    "Initialization done! podinfo.default\n"
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 50/50 f0 i0: Starting canary analysis for podinfo.default | "
                    "Advance podinfo.default canary weight 50\n"
                    "3m Progressing 50/50 f1 i0: Halt podinfo.default advancement success rate "
                    "10.00% < 99%\n"
                    "4m Failed 0/100 f0 i0: Rolling back podinfo.default failed checks threshold "
                    "reached 1 | Canary failed! Scaling down podinfo.default\n");
    cd_sim_set_revision(r.sim, 0);   /* back to what the primary runs */
    fx_expect_step(r.sim, "5m Failed 0/100 f0 i0:\n");
    cd_sim_set_revision(r.sim, 1);   /* the failed revision again */
    fx_expect_step(r.sim,
                   "6m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n");
    stop(&r);
}

/* A stuck canary past its deadline rolls back; one not yet ready waits. */
static void test_canary_readiness(void **state)
{
    const char *canary = HEAD "  progressDeadlineSeconds: 90\n  analysis:\n    interval: 1m\n"
                              "    threshold: 5\n    stepWeight: 50\n";
    run r = start(canary,
                  "ready:\n  canary: [{at: 2m, value: false}, {at: 3m, value: stuck}]\n", false);
    fx_skip(r.sim);
    const char *waiting = "canary deployment podinfo.default not ready: waiting for rollout to "
                          "finish: 0 of 1 (readyThreshold 100%) updated replicas are available";
    char expect[2048];
    snprintf(expect, sizeof expect,
             "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
             "2m Progressing 0/100 f0 i0: %s\n3m Progressing 0/100 f0 i0: %s\n"
             "4m Progressing 0/100 f0 i0: %s\n"
             "5m Failed 0/100 f0 i0: canary deployment podinfo.default not ready: deployment "
             "\"podinfo\" exceeded its progress deadline | Canary failed! Scaling down "
             "podinfo.default\n", waiting, waiting, waiting);
    fx_expect_trace(r.sim, 10, expect);
    stop(&r);
}

/* A primary that never becomes ready during initialization fails it. */
static void test_primary_stuck_at_init(void **state)
{
    const char *canary = HEAD "  progressDeadlineSeconds: 60\n  analysis:\n    interval: 1m\n"
                              "    threshold: 5\n    stepWeight: 50\n";
    run r = start(canary, "duration: 3m\nready:\n  primary: [{at: 0s, value: stuck}]\n", false);
    const char *waiting = "podinfo-primary.default not ready: waiting for rollout to finish: 0 of "
                          "1 (readyThreshold 100%) updated replicas are available";
    char expect[2048];
    snprintf(expect, sizeof expect,
             "0s Initializing 0/100 f0 i0: all the metrics providers are available! | %s\n"
             "1m Initializing 0/100 f0 i0: all the metrics providers are available! | %s\n"
             "2m Failed 0/100 f0 i0: all the metrics providers are available! | "
             "podinfo-primary.default not ready: deployment \"podinfo-primary\" exceeded its "
             "progress deadline | Canary failed! Scaling down podinfo.default\n"
             "3m Failed 0/100 f0 i0:\n", waiting, waiting);
    fx_expect_trace(r.sim, 10, expect);
    stop(&r);
}

/* docs/compatibility.md: Promoting with stepWeightPromotion when the
 * canary weight is already 0 finishes instead of stalling. */
static void test_promoting_from_zero_finishes(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n"
                              "    stepWeight: 50\n    stepWeightPromotion: 30\n";
    run r = start(canary, NULL, false);
    fx_skip(r.sim);
    fx_skip(r.sim);
    cd_sim_status(r.sim)->phase = CD_PHASE_PROMOTING;
    cd_sim_set_routes(r.sim, 100, 0, false);
    fx_expect_trace(r.sim, 3,
                    "2m Finalising 0/100 f0 i0: Routing all traffic to primary\n"
                    "3m Succeeded 0/100 f0 i0: Promotion completed! Scaling down podinfo.default\n");
    stop(&r);
}

/* A change while WaitingPromotion restarts the analysis. */
static void test_restart_while_waiting_promotion(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n"
                              "    stepWeight: 100\n    webhooks:\n"
                              "    - {name: approve, type: confirm-promotion, url: 'http://g/'}\n";
    run r = start(canary, "revisions: [0s, 5m]\nwebhooks:\n  approve: [{at: 0s, pass: false}]\n",
                  false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 5,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 100/0 f0 i0: Starting canary analysis for podinfo.default | "
                    "Advance podinfo.default canary weight 100\n"
                    "3m WaitingPromotion 100/0 f0 i0: Halt podinfo.default advancement waiting for "
                    "promotion approval approve\n"
                    "4m WaitingPromotion 100/0 f0 i0:\n"
                    "5m Progressing 0/100 f0 i0: New revision detected! Restarting analysis for "
                    "podinfo.default\n");
    stop(&r);
}

/* Blue/green with mirroring, and a confirm-promotion gate: Flagger
 * rewinds one iteration per waiting tick. */
static void test_blue_green_mirror_waiting(void **state)
{
    const char *canary = HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n"
                              "    iterations: 2\n    mirror: true\n    webhooks:\n"
                              "    - {name: approve, type: confirm-promotion, url: 'http://g/'}\n";
    run r = start(canary, "webhooks:\n  approve: [{at: 0s, pass: false}, {at: 6m, pass: true}]\n",
                  false);
    fx_skip(r.sim);
    fx_expect_trace(r.sim, 11,
                    "1m Progressing 0/100 f0 i0: New revision detected! Scaling up podinfo.default\n"
                    "2m Progressing 0/100 mirrored f0 i1: Starting canary analysis for "
                    "podinfo.default | Advance podinfo.default canary iteration 1/2\n"
                    "3m Progressing 0/100 mirrored f0 i2: Advance podinfo.default canary "
                    "iteration 2/2\n"
                    "4m WaitingPromotion 0/100 mirrored f0 i1: Halt podinfo.default advancement "
                    "waiting for promotion approval approve\n"
                    "5m WaitingPromotion 0/100 mirrored f0 i2: Advance podinfo.default canary "
                    "iteration 2/2\n"
                    "6m WaitingPromotion 100/0 f0 i3: Confirm-promotion check approve passed | "
                    "Stop traffic mirroring and route all traffic to canary\n"
                    "7m Promoting 100/0 f0 i3: Confirm-promotion check approve passed | Copying "
                    "podinfo.default template spec to podinfo-primary.default\n"
                    "8m Finalising 0/100 f0 i0: Routing all traffic to primary\n"
                    "9m Succeeded 0/100 f0 i0: Promotion completed! Scaling down podinfo.default\n");
    stop(&r);
}

/* An alert with no severity means info (docs/compatibility.md). */
static void test_empty_severity_is_info(void **state)
{
    const cd_object *o = fx_canary(HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n"
                                        "    stepWeight: 50\n    alerts:\n"
                                        "    - name: on-call\n      providerRef:\n"
                                        "        name: slack\n");
    assert_int_equal(o->spec.canary.analysis.alerts[0].severity, CD_SEV_INFO);
    fx_release_objects();
}

/* The statistical judge seam: a judged metric goes to cfg.judge instead of
 * thresholds; without a judge it fails with an explaining event. */
static int judge_calls;
static cd_metric_rc fake_judge(void *ctx, const cd_metrics_port *metrics, const cd_canary_ref *c,
                               const cd_metric *m, int64_t now_ms, cd_judge_verdict *v,
                               cd_err *err)
{
    judge_calls++;
    int mode = *(int *)ctx;
    if (mode == 2) {
        snprintf(err->msg, sizeof err->msg, "no samples for the primary");
        return CD_METRIC_NO_DATA;
    }
    v->pass = mode == 0;
    v->score = mode == 0 ? 0.9 : 0.2;
    snprintf(v->reason, sizeof v->reason, "canary worse than primary (score %.1f)", v->score);
    return CD_METRIC_OK;
}

static char *judged_step(int mode, bool with_judge)
{
    const cd_object *o = fx_canary(HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n"
                                        "    stepWeight: 50\n    metrics:\n"
                                        "    - name: latency\n      templateRef:\n"
                                        "        name: latency\n");
    cd_metric *m = (cd_metric *)&o->spec.canary.analysis.metrics[0];
    m->judge = (const cd_judge_spec *)m;   /* any non-NULL spec marks the metric judged */
    cd_scenario *sc = fx_scenario("");
    cd_sim_options opt = {.judge = with_judge ? fake_judge : NULL, .judge_ctx = &mode};
    cd_sim *s = cd_sim_new(&o->meta, &o->spec.canary, sc, &opt);
    fx_skip(s);
    fx_skip(s);
    fx_skip(s);
    char *line = fx_step(s);
    cd_sim_free(s);
    cd_scenario_free(sc);
    fx_release_objects();
    return line;
}

static void test_judge_seam(void **state)
{
    judge_calls = 0;
    char *line = judged_step(0, true);
    assert_string_equal(line, "3m Progressing 100/0 f0 i0: Advance podinfo.default canary weight 100\n");
    free(line);
    assert_int_equal(judge_calls, 1);
    line = judged_step(1, true);
    assert_string_equal(line, "3m Progressing 50/50 f1 i0: Halt podinfo.default advancement latency "
                              "canary worse than primary (score 0.2)\n");
    free(line);
    line = judged_step(2, true);
    assert_string_equal(line, "3m Progressing 50/50 f1 i0: Halt advancement no values found for "
                              "custom metric: latency: no samples for the primary\n");
    free(line);
    line = judged_step(0, false);
    assert_string_equal(line, "3m Progressing 50/50 f1 i0: Metric latency asks for a statistical "
                              "judge, but none is configured\n");
    free(line);
    assert_int_equal(judge_calls, 3);
}

/* A failing port stops the tick with a warning event and changes nothing;
 * the next tick picks up where it was. */
static bool router_down;
static cd_rc (*real_set_routes)(void *, const cd_canary_ref *, int, int, bool, cd_err *);
static cd_rc flaky_set_routes(void *ctx, const cd_canary_ref *c, int p, int w, bool m, cd_err *err)
{
    if (router_down) {
        snprintf(err->msg, sizeof err->msg, "VirtualService podinfo.default update failed: 503");
        return CD_ERROR;
    }
    return real_set_routes(ctx, c, p, w, m, err);
}

static bool store_down;
static cd_rc (*real_save)(void *, const cd_canary_ref *, cd_err *);
static cd_rc flaky_save(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    if (store_down) {
        snprintf(err->msg, sizeof err->msg, "the server has received too many requests");
        return CD_ERROR;
    }
    return real_save(ctx, c, err);
}

static void test_port_failures(void **state)
{
    run r = start(HEAD "  analysis:\n    interval: 1m\n    threshold: 5\n    stepWeight: 50\n",
                  NULL, false);
    cd_ports *p = cd_sim_ports(r.sim);
    real_set_routes = p->router.set_routes;
    p->router.set_routes = flaky_set_routes;
    real_save = p->status.save;
    p->status.save = flaky_save;
    fx_skip(r.sim);
    fx_skip(r.sim);
    router_down = true;
    fx_expect_step(r.sim, "2m Progressing 0/100 f0 i0: Starting canary analysis for podinfo.default | "
                          "VirtualService podinfo.default update failed: 503\n");
    assert_int_equal(cd_sim_status(r.sim)->canary_weight, 0);
    router_down = false;
    fx_expect_step(r.sim, "3m Progressing 50/50 f0 i0: Starting canary analysis for podinfo.default | "
                          "Advance podinfo.default canary weight 50\n");
    store_down = true;
    /* the routes moved, the status write did not: Flagger's order */
    fx_expect_step(r.sim, "4m Progressing 100/0 f0 i0: the server has received too many requests\n");
    assert_int_equal(cd_sim_status(r.sim)->canary_weight, 50);
    store_down = false;
    fx_expect_step(r.sim, "5m Promoting 100/0 f0 i0: Copying podinfo.default template spec to "
                          "podinfo-primary.default\n");
    assert_null(cd_engine_ports_missing(p));
    stop(&r);

    /* a platform missing a required port is refused before anything happens */
    cd_ports none;
    memset(&none, 0, sizeof none);
    assert_string_equal(cd_engine_ports_missing(&none), "workload.initialize");
    cd_object_meta meta = {.name = "x", .namespace_ = "y"};
    cd_canary_spec spec;
    memset(&spec, 0, sizeof spec);
    cd_canary_status st;
    cd_status_init(&st);
    cd_canary_ref ref = {&meta, &spec, &st, NULL, NULL};
    assert_int_equal(cd_engine_tick(NULL, &none, &ref), CD_FATAL);
    assert_int_equal(st.phase, CD_PHASE_NONE);
    assert_int_equal(cd_engine_tick(NULL, NULL, &ref), CD_FATAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_gate_alerts),
        cmocka_unit_test(test_rollback_webhook),
        cmocka_unit_test(test_suspend),
        cmocka_unit_test(test_kubernetes_provider),
        cmocka_unit_test(test_failed_resync),
        cmocka_unit_test(test_canary_readiness),
        cmocka_unit_test(test_primary_stuck_at_init),
        cmocka_unit_test(test_promoting_from_zero_finishes),
        cmocka_unit_test(test_restart_while_waiting_promotion),
        cmocka_unit_test(test_blue_green_mirror_waiting),
        cmocka_unit_test(test_empty_severity_is_info),
        cmocka_unit_test(test_judge_seam),
        cmocka_unit_test(test_port_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
