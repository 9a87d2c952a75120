/* test_judge_verdict.c - the judge's decisions and explanations
 * (cd_judge_update), its state surviving a restart (status JSON round
 * trip), and the `analysis.metrics[].judge` extension of the manifest:
 * defaults, positioned errors, `-o json`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "judge/judge.h"
#include "model/object.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cd_judge_spec spec_errors(void)
{
    cd_judge_spec s;
    memset(&s, 0, sizeof s);
    s.test = CD_JUDGE_ERRORS;
    s.direction = CD_DIR_INCREASE;
    s.allowed_increase = (cd_effect){CD_EFFECT_ABSOLUTE, 0.005, NULL};
    s.allowed_decrease = s.allowed_increase;
    s.detect_increase = (cd_effect){CD_EFFECT_ABSOLUTE, 0.02, NULL};
    s.detect_decrease = s.detect_increase;
    s.critical = true;
    s.no_data = CD_NODATA_WAIT;
    s.min_samples = 1000;
    s.alpha = 0.005;
    return s;
}

static cd_judge_spec spec_latency(void)
{
    cd_judge_spec s = spec_errors();
    s.test = CD_JUDGE_LATENCY;
    s.allowed_increase = (cd_effect){CD_EFFECT_RELATIVE, 0.10, NULL};
    s.allowed_decrease = s.allowed_increase;
    s.detect_increase = (cd_effect){CD_EFFECT_RELATIVE, 0.30, NULL};
    s.detect_decrease = s.detect_increase;
    s.min_samples = 50;
    return s;
}

static cd_judge_window errors_window(double nc, double xc, double np, double xp)
{
    cd_judge_window w;
    memset(&w, 0, sizeof w);
    w.canary_total = nc;
    w.canary_bad = xc;
    w.primary_total = np;
    w.primary_bad = xp;
    return w;
}

static cd_judge_state fresh(const char *metric)
{
    cd_judge_state st;
    memset(&st, 0, sizeof st);
    snprintf(st.metric, sizeof st.metric, "%s", metric);
    return st;
}

/* Failures piling up on the canary: Fail with evidence, and the reason
 * says by how much, against what allowance, with which p-value. */
static void test_errors_fail_on_evidence(void **state)
{
    cd_judge_spec s = spec_errors();
    cd_judge_state st = fresh("request-success-rate");
    cd_judge_window w = errors_window(100, 1, 900, 1);
    cd_judge_update(&s, &st, &w, 1000);
    assert_int_equal(st.verdict, CD_VERDICT_WAIT);
    assert_non_null(strstr(st.reason, "waiting for evidence: 100 of 1000 canary requests"));
    for (int i = 0; i < 3 && st.verdict != CD_VERDICT_FAIL; i++) {
        w = errors_window(300, 12, 700, 1);
        cd_judge_update(&s, &st, &w, 2000 + i);
    }
    assert_int_equal(st.verdict, CD_VERDICT_FAIL);
    assert_true(st.p_value <= s.alpha);
    assert_true(st.estimate > 2.0);                     /* percentage points */
    assert_string_equal(st.unit, "pp");
    assert_true(st.lower < st.estimate && st.estimate < st.upper);   /* always valid, wider */
    assert_string_equal(st.statistic_name, "e-value");
    assert_true(st.statistic >= 1 / s.alpha || st.p_value <= s.alpha);
    assert_non_null(strstr(st.reason, "worse than the primary: canary"));
    assert_non_null(strstr(st.reason, "more than the allowed +0.5pp"));
    assert_non_null(strstr(st.reason, "<= alpha 0.005"));
}

/* Healthy: the same rates on both sides. Below minSamples it waits for
 * data; then it waits until the evidence rules out the change to detect
 * (+2pp), then passes; it never fails. */
static void test_errors_pass_once_harm_ruled_out(void **state)
{
    cd_judge_spec s = spec_errors();
    s.min_samples = 300;
    cd_judge_state st = fresh("errors");
    int windows = 0;
    bool inconclusive = false;
    while (st.verdict != CD_VERDICT_PASS && windows < 50) {
        cd_judge_window w = errors_window(200, windows % 5 == 0, 800, 1);
        cd_judge_update(&s, &st, &w, windows++);
        assert_int_not_equal(st.verdict, CD_VERDICT_FAIL);
        if (windows == 1)
            assert_non_null(strstr(st.reason, "waiting for evidence: 200 of 300 canary requests"));
        if (st.verdict == CD_VERDICT_WAIT && windows > 1) {
            inconclusive = true;
            assert_non_null(strstr(st.reason, "not yet conclusive: canary "));
            assert_non_null(strstr(st.reason, "(+2pp must be ruled out to promote)"));
            assert_true(st.upper >= 2.0);
        }
    }
    assert_true(inconclusive);
    assert_int_equal(st.verdict, CD_VERDICT_PASS);
    assert_true(st.upper < 2.0 && st.lower < 0);
    assert_true(st.canary.samples == 200.0 * windows && st.primary.samples == 800.0 * windows);
    assert_non_null(strstr(st.reason, "no evidence of harm, and +2pp ruled out: canary"));
    assert_int_equal(st.windows, windows);
    /* 0 failures in n requests bound the canary's rate near (log(2/alpha) + log(n)/2) / n */
    assert_true(windows >= 3 && windows <= 6);
}

/* Worse, significantly, but by less than allowed: not a rollback. */
static void test_errors_within_allowed_effect(void **state)
{
    cd_judge_spec s = spec_errors();
    s.allowed_increase.value = 0.02;   /* 2pp allowed, 5pp to detect */
    s.detect_increase.value = 0.05;
    cd_judge_state st = fresh("errors");
    for (int i = 0; i < 10; i++) {
        cd_judge_window w = errors_window(5000, 60, 5000, 10);   /* 1.2% vs 0.2% */
        cd_judge_update(&s, &st, &w, i);
    }
    assert_true(st.p_value <= s.alpha);
    assert_int_equal(st.verdict, CD_VERDICT_PASS);
    assert_non_null(strstr(st.reason, "within the allowed +2pp"));
}

/* The no-data policies below minSamples. */
static void test_no_data_policies(void **state)
{
    cd_judge_window w = errors_window(0, 0, 50, 0);
    cd_judge_spec s = spec_errors();
    cd_judge_state st = fresh("e");
    cd_judge_update(&s, &st, &w, 1);
    assert_int_equal(st.verdict, CD_VERDICT_WAIT);
    s.no_data = CD_NODATA_PASS;
    st = fresh("e");
    cd_judge_update(&s, &st, &w, 1);
    assert_int_equal(st.verdict, CD_VERDICT_PASS);
    assert_non_null(strstr(st.reason, "(noData: pass)"));
    s.no_data = CD_NODATA_FAIL;
    st = fresh("e");
    cd_judge_update(&s, &st, &w, 1);
    assert_int_equal(st.verdict, CD_VERDICT_FAIL);
    assert_non_null(strstr(st.reason, "only 0 of 1000 canary requests so far (noData: fail)"));
    assert_true(st.p_value == 1);
    /* minSamples 0: no data policy never applies, but without requests
     * nothing is ruled out: it waits */
    s.min_samples = 0;
    st = fresh("e");
    cd_judge_update(&s, &st, &w, 1);
    assert_int_equal(st.verdict, CD_VERDICT_WAIT);
    assert_non_null(strstr(st.reason, "not yet conclusive: canary 0 and primary 50 requests"));
}

/* Direction: a drop in errors is harmless for "increase" and harmful for
 * "decrease" and "either". */
static void test_directions(void **state)
{
    for (int dir = 0; dir < 3; dir++) {
        cd_judge_spec s = spec_errors();
        s.direction = (cd_judge_direction)dir;
        cd_judge_state st = fresh("e");
        for (int i = 0; i < 8; i++) {
            cd_judge_window w = errors_window(1000, 5, 1000, 60);   /* canary far better */
            cd_judge_update(&s, &st, &w, i);
        }
        if (dir == CD_DIR_INCREASE)
            assert_int_equal(st.verdict, CD_VERDICT_PASS);
        else
            assert_int_equal(st.verdict, CD_VERDICT_FAIL);
    }
}

static double lognormal(uint64_t *x, double median, double sigma)
{
    /* Box-Muller on a small LCG: deterministic test data */
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    double u1 = ((double)(*x >> 11) + 0.5) / 9007199254740992.0;
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    double u2 = ((double)(*x >> 11) + 0.5) / 9007199254740992.0;
    return median * exp(sigma * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

/* Latency 30% slower: caught, with the shift reported in percent. A
 * healthy canary is not. */
static void test_latency(void **state)
{
    cd_judge_spec s = spec_latency();
    uint64_t seed = 7;
    double c[120], p[480];
    cd_judge_state bad = fresh("request-duration"), good = fresh("request-duration");
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 120; i++)
            c[i] = lognormal(&seed, 130, 0.6);
        for (int i = 0; i < 480; i++)
            p[i] = lognormal(&seed, 100, 0.6);
        cd_judge_window w = {.canary = c, .n_canary = 120, .primary = p, .n_primary = 480};
        cd_judge_update(&s, &bad, &w, k);
        for (int i = 0; i < 120; i++)
            c[i] = lognormal(&seed, 100, 0.6);
        cd_judge_update(&s, &good, &w, k);
    }
    assert_int_equal(bad.verdict, CD_VERDICT_FAIL);
    assert_string_equal(bad.unit, "%");
    assert_true(bad.estimate > 15 && bad.estimate < 45);
    assert_true(bad.lower < bad.estimate && bad.estimate < bad.upper);
    assert_string_equal(bad.statistic_name, "z");
    assert_true(bad.canary.p50 > bad.primary.p50);
    assert_int_not_equal(good.verdict, CD_VERDICT_FAIL);
    assert_true(good.p_value > s.alpha);
    /* an absolute allowance in ms */
    cd_judge_spec abs = s;
    abs.allowed_increase = (cd_effect){CD_EFFECT_ABSOLUTE, 50, "50ms"};
    cd_judge_state st = fresh("request-duration");
    for (int i = 0; i < 120; i++)
        c[i] = lognormal(&seed, 130, 0.6);
    cd_judge_window w = {.canary = c, .n_canary = 120, .primary = p, .n_primary = 480};
    cd_judge_update(&abs, &st, &w, 1);
    assert_string_equal(st.unit, "ms");
    assert_true(st.estimate > 10 && st.estimate < 60);
}

/* A canary whose p99 lies above the largest histogram bucket: Prometheus
 * answers +Inf for each step, which ranks as the slowest value there is
 * (not as no data), and the verdict is Fail with finite numbers. */
static void test_latency_above_the_largest_bucket(void **state)
{
    cd_judge_spec s = spec_latency();
    s.min_samples = 10;
    uint64_t seed = 11;
    double c[20], p[20];
    cd_judge_state st = fresh("request-duration");
    for (int k = 0; k < 4 && st.verdict != CD_VERDICT_FAIL; k++) {
        for (int i = 0; i < 20; i++) {
            c[i] = i % 4 ? INFINITY : NAN;   /* NaN steps: no requests, dropped */
            p[i] = lognormal(&seed, 100, 0.3);
        }
        cd_judge_window w = {.canary = c, .n_canary = 20, .primary = p, .n_primary = 20};
        cd_judge_update(&s, &st, &w, k);
    }
    assert_int_equal(st.verdict, CD_VERDICT_FAIL);
    assert_true(st.canary.samples >= 15 && st.canary.samples <= 60);
    assert_true(isfinite(st.estimate) && st.estimate > 30);
    assert_true(isfinite(st.canary.p50) && st.canary.p50 > st.primary.p50);
}

/* A restart in the middle of a rollout: the status goes to JSON (the
 * status subresource, the state file) and back, and the judge carries on
 * exactly as if nothing had happened. */
static void test_state_survives_restart(void **state)
{
    cd_judge_spec s = spec_errors();
    cd_canary_status a, b;
    cd_status_init(&a);
    cd_status_init(&b);
    cd_judge_state *ja = cd_status_judge_add(&a, "request-success-rate");
    for (int i = 0; i < 6; i++) {
        cd_judge_window w = errors_window(150 + i, i % 3, 700, 1);
        cd_judge_update(&s, ja, &w, 1735689600000LL + i * 60000);
        if (i == 2) {
            json_t *j = cd_status_to_json(&a);
            char *text = json_dumps(j, JSON_COMPACT);
            json_t *back = json_loads(text, 0, NULL);
            cd_status_from_json(&b, back);
            assert_true(cd_status_equal(&a, &b));
            json_decref(j);
            json_decref(back);
            free(text);
        }
        if (i > 2)
            cd_judge_update(&s, cd_status_judge_find(&b, "request-success-rate"), &w,
                            1735689600000LL + i * 60000);
    }
    assert_true(cd_status_equal(&a, &b));
    assert_int_equal(b.judge[0].windows, 6);
    /* copies are deep */
    cd_canary_status c;
    cd_status_init(&c);
    cd_status_copy(&c, &a);
    assert_true(cd_status_equal(&a, &c));
    c.judge[0].acc[0] += 1;
    assert_false(cd_status_equal(&a, &c));
    cd_status_free(&a);
    cd_status_free(&b);
    cd_status_free(&c);
}

/* A state this build did not write (other layout, garbage numbers)
 * restarts the test instead of misreading it. */
static void test_foreign_state_restarts(void **state)
{
    cd_judge_spec s = spec_errors();
    cd_canary_status st;
    cd_status_init(&st);
    json_t *j = json_loads("{\"phase\":\"Progressing\",\"judge\":[{\"metric\":\"e\",\"test\":"
                           "\"errors\",\"windows\":9,\"canary\":{\"samples\":5},\"state\":"
                           "{\"version\":99,\"values\":[1,2,3]}},{\"nometric\":1},"
                           "{\"metric\":\"e\"}]}", 0, NULL);
    cd_status_from_json(&st, j);
    json_decref(j);
    assert_int_equal(st.n_judge, 1);   /* no name: dropped; duplicate: first kept */
    cd_judge_window w = errors_window(10, 0, 90, 0);
    cd_judge_update(&s, &st.judge[0], &w, 5);
    assert_int_equal(st.judge[0].windows, 1);
    assert_true(st.judge[0].canary.samples == 10);
    assert_int_equal(st.judge[0].version, CD_JUDGE_STATE_VERSION);
    cd_status_free(&st);
}

/* ---- the manifest extension ------------------------------------------- */

#define CANARY(metrics)                                                                        \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: app, namespace: t}\n"   \
    "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}\n"                 \
    "  service: {port: 80}\n  analysis:\n    interval: 30s\n    threshold: 5\n"               \
    "    stepWeight: 10\n    metrics:\n" metrics

static size_t load(const char *yaml, cd_object_list *objs, cd_diags *d)
{
    cd_diags_init(d);
    memset(objs, 0, sizeof *objs);
    return cd_manifest_load_buffer("c.yaml", yaml, strlen(yaml), false, "t", objs, d);
}

static bool has_diag(const cd_diags *d, const char *path, const char *text, int line)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->items[i].path, path) && strstr(d->items[i].message, text) &&
            (line == 0 || d->items[i].line == line))
            return true;
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "diag: %s:%d: %s: %s\n", d->items[i].file, d->items[i].line,
                d->items[i].path, d->items[i].message);
    return false;
}

static void test_spec_defaults(void **state)
{
    cd_object_list objs;
    cd_diags d;
    assert_int_equal(load(CANARY("    - name: request-success-rate\n      judge: {}\n"
                                 "    - name: request-duration\n      judge: {}\n"),
                          &objs, &d), 0);
    const cd_analysis *a = &objs.items[0]->spec.canary.analysis;
    const cd_judge_spec *e = a->metrics[0].judge, *l = a->metrics[1].judge;
    assert_non_null(e);
    assert_int_equal(e->test, CD_JUDGE_ERRORS);
    assert_int_equal(e->direction, CD_DIR_INCREASE);
    assert_true(e->allowed_increase.kind == CD_EFFECT_ABSOLUTE && e->allowed_increase.value == 0.005);
    assert_true(e->detect_increase.kind == CD_EFFECT_ABSOLUTE && e->detect_increase.value == 0.02);
    assert_true(e->critical && e->no_data == CD_NODATA_WAIT);
    assert_int_equal(e->min_samples, CD_JUDGE_DEFAULT_MIN_SAMPLES_ERRORS);
    assert_true(e->alpha == CD_JUDGE_DEFAULT_ALPHA);
    assert_int_equal(l->test, CD_JUDGE_LATENCY);
    assert_true(l->allowed_increase.kind == CD_EFFECT_RELATIVE && l->allowed_increase.value == 0.1);
    assert_true(l->detect_decrease.kind == CD_EFFECT_RELATIVE && l->detect_decrease.value == 0.3);
    assert_int_equal(l->min_samples, CD_JUDGE_DEFAULT_MIN_SAMPLES_LATENCY);
    /* the primary's last hour is read before the release */
    assert_int_equal(e->history_ms, CD_JUDGE_DEFAULT_HISTORY_MS);
    assert_null(e->history);
    /* a judged metric's window is the analysis interval */
    assert_int_equal(a->metrics[0].interval_ms, 30000);
    assert_string_equal(a->metrics[0].interval, "30s");
    /* -o json shows the effective judge */
    json_t *j = cd_object_to_json(objs.items[0]);
    json_t *js = json_object_get(json_array_get(json_object_get(json_object_get(
                     json_object_get(j, "spec"), "analysis"), "metrics"), 1), "judge");
    char *text = json_dumps(js, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"allowedDecrease\":\"10%\",\"allowedIncrease\":\"10%\",\"alpha\":"
                              "0.0050000000000000001,\"critical\":true,\"detectDecrease\":\"30%\","
                              "\"detectIncrease\":\"30%\",\"direction\":\"increase\","
                              "\"history\":\"1h\",\"minSamples\":50,\"noData\":\"wait\","
                              "\"test\":\"latency\"}");
    free(text);
    json_decref(j);
    cd_object_list_free(&objs);
    cd_diags_free(&d);
    /* a plain Flagger metric has no judge */
    assert_int_equal(load(CANARY("    - name: request-success-rate\n      thresholdRange: {min: 99}\n"),
                          &objs, &d), 0);
    assert_null(objs.items[0]->spec.canary.analysis.metrics[0].judge);
    cd_object_list_free(&objs);
    cd_diags_free(&d);
}

static void test_spec_fields(void **state)
{
    cd_object_list objs;
    cd_diags d;
    assert_int_equal(load(CANARY("    - name: error-rate\n      templateRef: {name: errors}\n"
                                 "      judge:\n        test: errors\n        direction: either\n"
                                 "        allowedIncrease: +1.5pp\n        allowedDecrease: 50%\n"
                                 "        detectIncrease: 4pp\n        detectDecrease: 80%\n"
                                 "        critical: false\n        noData: fail\n"
                                 "        minSamples: 300\n        alpha: 0.01\n"
                                 "    - name: p95\n      templateRef: {name: p95}\n"
                                 "      judge: {test: latency, allowedIncrease: 0.2s, detectIncrease: 1s,"
                                 " step: 7500ms}\n"
                                 "    - name: queue\n      templateRef: {name: q}\n"
                                 "      judge: {test: latency, allowedIncrease: 7, detectIncrease: 20}\n"),
                          &objs, &d), 0);
    const cd_metric *m = objs.items[0]->spec.canary.analysis.metrics;
    const cd_judge_spec *j = m[0].judge;
    assert_int_equal(j->direction, CD_DIR_EITHER);
    assert_true(fabs(j->allowed_increase.value - 0.015) < 1e-15);
    assert_true(j->allowed_decrease.kind == CD_EFFECT_RELATIVE && j->allowed_decrease.value == 0.5);
    assert_true(fabs(j->detect_increase.value - 0.04) < 1e-15 && j->detect_decrease.value == 0.8);
    assert_false(j->critical);
    assert_int_equal(j->no_data, CD_NODATA_FAIL);
    assert_int_equal(j->min_samples, 300);
    assert_true(j->alpha == 0.01);
    assert_true(m[1].judge->allowed_increase.kind == CD_EFFECT_ABSOLUTE &&
                m[1].judge->allowed_increase.value == 200);
    assert_int_equal(m[1].judge->step_ms, 7500);
    json_t *js = cd_judge_spec_json(m[1].judge);
    assert_string_equal(json_string_value(json_object_get(js, "step")), "7500ms");
    json_decref(js);
    js = cd_judge_spec_json(m[2].judge);   /* not written: not shown (the default applies) */
    assert_null(json_object_get(js, "step"));
    assert_int_equal(m[2].judge->step_ms, 0);
    json_decref(js);
    /* a template judged as errors: counted only by canaryctl simulate, and said so */
    assert_true(has_diag(&d, "spec.analysis.metrics[0].judge", "errors test needs request and "
                                                              "failure counts", 0));
    assert_false(cd_diags_errors(&d));
    assert_true(m[2].judge->allowed_increase.value == 7);
    cd_object_list_free(&objs);
    cd_diags_free(&d);
}

/* Bad input: a clear error at the right place, and no object. */
static void test_spec_errors(void **state)
{
    struct { const char *metrics, *path, *text; int line; } cases[] = {
        {"    - name: request-success-rate\n      judge: {allowedIncrease: 50ms}\n",
         "spec.analysis.metrics[0].judge.allowedIncrease", "percentage points", 13},
        {"    - name: request-duration\n      judge: {allowedIncrease: 2pp}\n",
         "spec.analysis.metrics[0].judge.allowedIncrease", "a latency effect", 13},
        {"    - name: request-success-rate\n      judge: {allowedIncrease: -1}\n",
         "spec.analysis.metrics[0].judge.allowedIncrease", "negative", 13},
        {"    - name: request-success-rate\n      judge: {allowedIncrease: lots}\n",
         "spec.analysis.metrics[0].judge.allowedIncrease", "is not an effect", 13},
        {"    - name: request-success-rate\n      judge: {allowedIncrease: [1]}\n",
         "spec.analysis.metrics[0].judge.allowedIncrease", "must be a number or a string", 13},
        {"    - name: custom\n      query: up\n      judge: {}\n",
         "spec.analysis.metrics[0].judge", "needs judge.test", 14},
        {"    - name: request-duration\n      judge: {test: errors}\n",
         "spec.analysis.metrics[0].judge.test", "judged by the latency test", 13},
        {"    - name: request-success-rate\n      judge: {test: ranks}\n",
         "spec.analysis.metrics[0].judge.test", "must be one of", 13},
        {"    - name: request-success-rate\n      judge: {alpha: 0}\n",
         "spec.analysis.metrics[0].judge.alpha", "", 13},
        {"    - name: request-success-rate\n      judge: {alpha: 0.7}\n",
         "spec.analysis.metrics[0].judge.alpha", "", 13},
        {"    - name: request-success-rate\n      judge: {minSamples: -5}\n",
         "spec.analysis.metrics[0].judge.minSamples", "", 13},
        {"    - name: request-success-rate\n      judge: {noData: maybe}\n",
         "spec.analysis.metrics[0].judge.noData", "", 13},
        {"    - name: request-success-rate\n      judge: {detectIncrease: 0.5pp}\n",
         "spec.analysis.metrics[0].judge.detectIncrease", "must be larger than the allowed", 13},
        {"    - name: request-duration\n      judge: {allowedDecrease: 40%, detectDecrease: 20%}\n",
         "spec.analysis.metrics[0].judge.detectDecrease", "must be larger than the allowed", 13},
        {"    - name: request-success-rate\n      interval: 1m\n      judge: {}\n",
         "spec.analysis.metrics[0].interval", "overlapping windows", 13},
        {"    - name: request-duration\n      judge: {step: 1m}\n",
         "spec.analysis.metrics[0].judge.step", "longer than the metric's window (30s)", 13},
        {"    - name: request-duration\n      interval: 10s\n      judge: {step: 15s}\n",
         "spec.analysis.metrics[0].judge.step", "longer than the metric's window (10s)", 14},
        {"    - name: request-duration\n      judge: {step: 1ms}\n",
         "spec.analysis.metrics[0].judge.step", "more than 11000 steps", 13},
        {"    - name: request-duration\n      judge: {step: 0s}\n",
         "spec.analysis.metrics[0].judge.step", "not a positive duration", 13},
        {"    - name: request-duration\n      judge: {step: 5sec}\n",
         "spec.analysis.metrics[0].judge.step", "not a positive duration", 13},
        {"    - name: request-duration\n      judge: {step: soon}\n",
         "spec.analysis.metrics[0].judge.step", "", 13},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, CANARY("%s"), cases[i].metrics);
        cd_object_list objs;
        cd_diags d;
        size_t errors = load(yaml, &objs, &d);
        if (errors == 0 || objs.n != 0)
            fprintf(stderr, "case %zu accepted\n", i);
        assert_true(errors > 0);
        assert_int_equal(objs.n, 0);
        assert_true(has_diag(&d, cases[i].path, cases[i].text, cases[i].line));
        cd_object_list_free(&objs);
        cd_diags_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_fail_on_evidence),
        cmocka_unit_test(test_errors_pass_once_harm_ruled_out),
        cmocka_unit_test(test_errors_within_allowed_effect),
        cmocka_unit_test(test_no_data_policies),
        cmocka_unit_test(test_directions),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_latency_above_the_largest_bucket),
        cmocka_unit_test(test_state_survives_restart),
        cmocka_unit_test(test_foreign_state_restarts),
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_fields),
        cmocka_unit_test(test_spec_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
