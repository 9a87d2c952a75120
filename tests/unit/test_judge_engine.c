/* test_judge_engine.c - the statistical judge inside the rollout loop, on
 * the simulator: conclusive harm rolls back in the same tick (no counting
 * to threshold), "wait" keeps stepping but holds promotion without failed
 * checks, non-critical metrics count failed checks, a new revision starts
 * the judge over, blue/green holds before switching traffic, the state is
 * persisted every tick, and thresholds on plain metrics read the same
 * simulated traffic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine_fixture.h"
#include "judge/judge.h"
#include "model/judge.h"

#define CANARY(analysis)                                                                       \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: app, namespace: t}\n"   \
    "spec:\n  provider: istio\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}\n" \
    "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n" analysis

#define JUDGED(judge)                                                                          \
    CANARY("    maxWeight: 50\n    stepWeight: 10\n    metrics:\n"                             \
           "    - name: request-success-rate\n      thresholdRange: {min: 99}\n"              \
           "      judge: {" judge "}\n")

static cd_sim *start(const char *canary, const char *scenario, cd_scenario **sc,
                     cd_registry *reg)
{
    const cd_object *o = fx_canary(canary);
    *sc = fx_scenario(scenario);
    cd_sim_options opt = {.judge = cd_judge_metric, .registry = reg};
    return cd_sim_new(&o->meta, &o->spec.canary, *sc, &opt);
}

static void stop(cd_sim *s, cd_scenario *sc)
{
    cd_sim_free(s);
    cd_scenario_free(sc);
    fx_release_objects();
}

/* Runs until the phase is reached (or max ticks); returns the last row's
 * trace line in *line (malloc'd) and the whole trace. */
static char *run_until(cd_sim *s, cd_phase phase, int max, cd_sim_row *last)
{
    cd_buf out = CD_BUF_INIT;
    for (int i = 0; i < max && !cd_sim_done(s); i++) {
        cd_sim_tick(s, last);
        fx_row_line(last, &out);
        if (last->phase == phase)
            break;
    }
    return cd_buf_steal(&out);
}

static void test_conclusive_harm_rolls_back_at_once(void **state)
{
    cd_scenario *sc;
    cd_registry *reg = cd_registry_new("test", "istio");
    cd_sim *s = start(JUDGED(""), "traffic: {seed: 3, rate: 20, canary: {errorRate: 25}}", &sc,
                      reg);
    cd_sim_row row;
    char *trace = run_until(s, CD_PHASE_FAILED, 30, &row);
    assert_int_equal(row.phase, CD_PHASE_FAILED);
    /* the first analysis tick, with one failed check of five allowed */
    assert_int_equal(row.t_ms, 3 * 60000);
    assert_non_null(strstr(trace, "Halt app.t advancement request-success-rate worse than the "
                                  "primary: canary "));
    assert_non_null(strstr(trace, "| Rolling back app.t the statistical judge found "
                                  "request-success-rate worse than the primary"));
    assert_non_null(strstr(trace, "| Canary failed! Scaling down app.t"));
    assert_null(strstr(trace, "failed checks threshold reached"));
    bool alerted = false;
    for (size_t i = 0; i < row.n_alerts; i++)
        alerted |= row.alerts[i].severity == CD_SEV_ERROR &&
                   !strncmp(row.alerts[i].message, "Statistical judge: request-success-rate", 39);
    assert_true(alerted);
    /* the explanation stays in the status after the rollback */
    const cd_canary_status *st = cd_sim_status(s);
    assert_int_equal(st->n_judge, 1);
    assert_int_equal(st->judge[0].verdict, CD_VERDICT_FAIL);
    assert_true(st->judge[0].p_value <= 0.005);
    /* exported as flagger_canary_metric_analysis: the estimate, in pp */
    double v = fx_metric(reg, "flagger_canary_metric_analysis{name=\"app\",namespace=\"t\","
                              "metric=\"request-success-rate\"}");
    assert_true(v > 15 && v < 35);
    free(trace);
    stop(s, sc);
    cd_registry_free(reg);
}

/* Low traffic, healthy: traffic keeps stepping to maxWeight, then the
 * judge holds promotion (no failed check) until minSamples, then it
 * promotes. */
static void test_wait_holds_promotion(void **state)
{
    cd_scenario *sc;
    cd_sim *s = start(JUDGED("minSamples: 600"), "traffic: {seed: 1, rate: 2}", &sc, NULL);
    cd_sim_row row;
    char *trace = run_until(s, CD_PHASE_PROMOTING, 60, &row);
    assert_int_equal(row.phase, CD_PHASE_PROMOTING);
    assert_non_null(strstr(trace, "6m Progressing 50/50 f0 i0: Advance app.t canary weight 50\n"));
    assert_non_null(strstr(trace, "7m Progressing 50/50 f0 i0: Halt app.t promotion the "
                                  "statistical judge is waiting for request-success-rate waiting "
                                  "for evidence: "));
    assert_null(strstr(trace, " f1 "));
    /* at 2 req/s and 50%, 600 canary requests take about 7 more minutes */
    assert_true(row.t_ms >= 12 * 60000 && row.t_ms <= 16 * 60000);
    const cd_canary_status *st = cd_sim_status(s);
    assert_int_equal(st->judge[0].verdict, CD_VERDICT_PASS);
    assert_true(st->judge[0].canary.samples >= 600 && st->judge[0].primary.samples >= 600);
    /* one window per analysis tick, accumulated in the persisted status */
    assert_int_equal(st->judge[0].windows, (int)(row.t_ms / 60000) - 2);
    free(trace);
    stop(s, sc);
}

/* critical: false - evidence of harm is a failed check; Flagger's
 * threshold decides. */
static void test_non_critical_counts_failed_checks(void **state)
{
    cd_scenario *sc;
    cd_sim *s = start(JUDGED("critical: false"),
                      "traffic: {seed: 3, rate: 20, canary: {errorRate: 25}}", &sc, NULL);
    cd_sim_row row;
    char *trace = run_until(s, CD_PHASE_FAILED, 30, &row);
    assert_int_equal(row.phase, CD_PHASE_FAILED);
    assert_non_null(strstr(trace, "7m Progressing 10/90 f5 i0: Halt app.t advancement "
                                  "request-success-rate worse than the primary"));
    assert_non_null(strstr(trace, "8m Failed 0/100 f0 i0: Rolling back app.t failed checks "
                                  "threshold reached 5 | Canary failed! Scaling down app.t"));
    assert_null(strstr(trace, "the statistical judge found"));
    free(trace);
    stop(s, sc);
}

/* noData: fail behaves like Flagger without traffic: failed checks. */
static void test_no_data_fail(void **state)
{
    cd_scenario *sc;
    cd_sim *s = start(JUDGED("noData: fail"), "traffic: {seed: 1, rate: 0}", &sc, NULL);
    cd_sim_row row;
    char *trace = run_until(s, CD_PHASE_FAILED, 30, &row);
    assert_int_equal(row.phase, CD_PHASE_FAILED);
    assert_non_null(strstr(trace, "3m Progressing 10/90 f1 i0: Halt app.t advancement "
                                  "request-success-rate only 0 of 100 canary requests so far "
                                  "(noData: fail)"));
    assert_non_null(strstr(trace, "failed checks threshold reached 5"));
    free(trace);
    stop(s, sc);
}

/* A new revision in the middle restarts the analysis, and the judge with
 * it: evidence about the old revision says nothing about the new one. */
static void test_new_revision_restarts_judge(void **state)
{
    cd_scenario *sc;
    cd_sim *s = start(JUDGED("minSamples: 100000"), "revisions: [0s, 270s]\n"
                                                    "traffic: {seed: 1, rate: 5}",
                      &sc, NULL);
    cd_sim_row row;
    for (int i = 0; i < 5; i++)
        cd_sim_tick(s, &row);   /* 0..4m: three windows judged */
    assert_int_equal(cd_sim_status(s)->judge[0].windows, 2);
    cd_sim_tick(s, &row);       /* 5m: restart */
    assert_int_equal(cd_sim_status(s)->n_judge, 0);
    cd_sim_tick(s, &row);       /* 6m: pre-rollout, weight 10 */
    cd_sim_tick(s, &row);       /* 7m: first window of the new revision */
    assert_int_equal(cd_sim_status(s)->judge[0].windows, 1);
    stop(s, sc);
}

/* Blue/green: the judge holds before all traffic moves to the canary (not
 * after: then nothing would be left to compare with). */
static void test_blue_green_holds_before_switch(void **state)
{
    cd_scenario *sc;
    cd_sim *s = start(CANARY("    iterations: 2\n    mirror: true\n    metrics:\n"
                             "    - name: request-duration\n      judge: {minSamples: 400}\n"),
                      "traffic: {seed: 2, rate: 3}", &sc, NULL);
    cd_sim_row row;
    char *trace = run_until(s, CD_PHASE_PROMOTING, 40, &row);
    assert_int_equal(row.phase, CD_PHASE_PROMOTING);
    const char *hold = strstr(trace, "promotion the statistical judge is waiting for "
                                     "request-duration");
    const char *sw = strstr(trace, "Stop traffic mirroring and route all traffic to canary");
    assert_non_null(hold);
    assert_non_null(sw);
    assert_true(hold < sw);
    free(trace);
    stop(s, sc);
}

/* A metric without a judge reads the simulated traffic as Flagger's
 * builtin query would: the canary's success rate over the window. */
static void test_thresholds_read_the_same_traffic(void **state)
{
    cd_scenario *sc;
    cd_sim *s = start(CANARY("    maxWeight: 50\n    stepWeight: 10\n    metrics:\n"
                             "    - name: request-success-rate\n      thresholdRange: {min: 99}\n"),
                      "traffic: {seed: 4, rate: 50, canary: {errorRate: 30}}", &sc, NULL);
    cd_sim_row row;
    char *trace = run_until(s, CD_PHASE_FAILED, 30, &row);
    const char prefix[] = "3m Progressing 10/90 f1 i0: Halt app.t advancement success rate ";
    const char *halt = strstr(trace, prefix);
    assert_non_null(halt);
    double rate = strtod(halt + strlen(prefix), NULL);   /* 30% of the canary's requests fail */
    assert_true(rate > 60 && rate < 80);
    assert_non_null(strstr(trace, "failed checks threshold reached 5"));
    assert_int_equal(cd_sim_status(s)->n_judge, 0);
    free(trace);
    stop(s, sc);
}

/* The traffic section of a scenario: values, inheritance, steps, and
 * every mistake reported with its position (and no scenario). */
static void test_traffic_scenario(void **state)
{
    cd_scenario *sc = fx_scenario("traffic:\n  seed: 9\n  rate: [{at: 0s, value: 2}, {at: 5m, value: 20}]\n"
                                  "  primary: {errorRate: 0.5, latency: {median: 80, p99: 300}}\n"
                                  "  canary: [{at: 0s, errorRate: 1}, {at: 3m, latency: {p99: 900}}]\n");
    const cd_sim_traffic *t = &sc->traffic;
    assert_true(t->set && t->seed == 9);
    assert_true(cd_sim_series_at(&t->rate, 6 * 60000)->value == 20);
    assert_true(t->primary[0].error_rate == 0.005 && t->primary[0].median_ms == 80);
    /* the canary inherits what it does not say: from the primary, then from its last step */
    assert_true(t->canary[0].error_rate == 0.01 && t->canary[0].median_ms == 80);
    assert_true(t->canary[1].error_rate == 0.01 && t->canary[1].p99_ms == 900);
    assert_true(cd_sim_profile_at(t->canary, t->n_canary, 4 * 60000)->p99_ms == 900);
    cd_scenario_free(sc);

    struct { const char *yaml, *path, *text; } bad[] = {
        {"traffic: {rate: -1}\n", "traffic.rate", "requests per second"},
        {"traffic: {rate: 20000}\n", "traffic.rate", "from 0 to 10000"},
        {"traffic: {seed: -3}\n", "traffic.seed", "whole number"},
        {"traffic: {primary: {errorRate: 120}}\n", "traffic.primary.errorRate", "percentage"},
        {"traffic: {canary: {latency: {median: 500, p99: 100}}}\n", "traffic.canary.latency",
         "below the median"},
        {"traffic: {canary: {latency: {median: 0}}}\n", "traffic.canary.latency.median", "above 0"},
        {"traffic: {canary: {errors: 3}}\n", "traffic.canary.errors", "unknown key"},
        {"traffic: {canary: [{at: 2m, errorRate: 1}, {at: 1m, errorRate: 2}]}\n",
         "traffic.canary[1].at", "increasing time order"},
        {"traffic: {canary: [{errorRate: 1}]}\n", "traffic.canary[0]", "missing \"at\""},
        {"traffic: {canary: []}\n", "traffic.canary", "needs 1 to"},
        {"traffic: [1]\n", "traffic", "must be a mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cd_diags d;
        cd_diags_init(&d);
        cd_scenario *x = cd_scenario_parse("s.yaml", bad[i].yaml, strlen(bad[i].yaml), &d);
        assert_null(x);
        bool found = false;
        for (size_t k = 0; k < d.n; k++)
            found |= !strcmp(d.items[k].path, bad[i].path) && strstr(d.items[k].message, bad[i].text) &&
                     d.items[k].line == 1;
        if (!found)
            for (size_t k = 0; k < d.n; k++)
                fprintf(stderr, "case %zu: %s: %s\n", i, d.items[k].path, d.items[k].message);
        assert_true(found);
        cd_diags_free(&d);
    }
}

/* Without a traffic section, a judged canary gets the default traffic;
 * the same seed gives the same requests (and rows) twice. */
static void test_default_traffic_is_deterministic(void **state)
{
    char *traces[2];
    for (int k = 0; k < 2; k++) {
        cd_scenario *sc;
        cd_sim *s = start(JUDGED("minSamples: 300"), "", &sc, NULL);
        cd_sim_row row;
        traces[k] = run_until(s, CD_PHASE_PROMOTING, 40, &row);
        assert_int_equal(row.phase, CD_PHASE_PROMOTING);
        assert_true(cd_sim_status(s)->judge[0].primary.samples > 0);
        stop(s, sc);
    }
    assert_string_equal(traces[0], traces[1]);
    free(traces[0]);
    free(traces[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conclusive_harm_rolls_back_at_once),
        cmocka_unit_test(test_wait_holds_promotion),
        cmocka_unit_test(test_non_critical_counts_failed_checks),
        cmocka_unit_test(test_no_data_fail),
        cmocka_unit_test(test_new_revision_restarts_judge),
        cmocka_unit_test(test_blue_green_holds_before_switch),
        cmocka_unit_test(test_thresholds_read_the_same_traffic),
        cmocka_unit_test(test_traffic_scenario),
        cmocka_unit_test(test_default_traffic_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
