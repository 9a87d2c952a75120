/* test_engine_properties.c - properties over many generated canaries and
 * scenarios (seeded, so every failure reproduces):
 *  - weights stay within 0-100 and sum to 100 on every tick;
 *  - the canary strategy never routes more than maxWeight to the canary
 *    while a release is in flight (a failed promotion, which sends all
 *    traffic to the canary because the primary is broken, is the one
 *    deliberate exception);
 *  - nothing is promoted while failedChecks >= threshold;
 *  - once the scenario stops changing, every run ends Succeeded or Failed
 *    within a bound computed from the spec;
 *  - the same inputs give the same trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine_fixture.h"

#define CASES 400

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static int between(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static bool chance(int percent) { return between(1, 100) <= percent; }

typedef struct gen {
    cd_buf canary, scenario;
    int interval_s, settle_s, deadline_s, threshold;
    bool canary_strategy;
    int max_weight;
} gen;

static const char *const gate_types[] = {"confirm-rollout", "confirm-traffic-increase",
                                         "confirm-promotion", "pre-rollout", "rollout",
                                         "rollback", "post-rollout"};

/* Steps at random times before the settle time, then a final value at it. */
static void put_steps(gen *g, const char *name, const char *key, const char *const *values,
                      int nvalues, const char *final)
{
    cd_buf_printf(&g->scenario, "  %s: [", name);
    int t = 0, n = between(0, 4);
    for (int i = 0; i < n; i++) {
        t += between(1, g->settle_s / 5 > 1 ? g->settle_s / 5 : 1);
        if (t >= g->settle_s)
            break;
        cd_buf_printf(&g->scenario, "{at: %ds, %s: %s}, ", t, key, values[between(0, nvalues - 1)]);
    }
    cd_buf_printf(&g->scenario, "{at: %ds, %s: %s}]\n", g->settle_s, key, final);
}

static void generate(gen *g)
{
    memset(g, 0, sizeof *g);
    g->interval_s = between(1, 12) * 10;
    g->settle_s = between(0, 40) * g->interval_s + between(1, 9);
    g->deadline_s = between(1, 20) * 30;
    g->threshold = between(1, 5);
    bool kube = chance(10), skip = chance(8);
    cd_buf *c = &g->canary;
    cd_buf_printf(c, "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: app\n"
                     "  namespace: prop\nspec:\n  provider: %s\n  progressDeadlineSeconds: %d\n"
                     "  skipAnalysis: %s\n  targetRef:\n    apiVersion: apps/v1\n"
                     "    kind: Deployment\n    name: app\n  service:\n    port: 80\n"
                     "  analysis:\n    interval: %ds\n    threshold: %d\n",
                  kube ? "kubernetes" : "istio", g->deadline_s, skip ? "true" : "false",
                  g->interval_s, g->threshold);
    int strategy = between(0, 9);   /* 0-5 canary, 6-7 blue/green, 8-9 A/B */
    if (strategy <= 5) {
        if (chance(60)) {
            cd_buf_printf(c, "    stepWeight: %d\n", between(1, 60));
            if (chance(60)) {
                g->max_weight = between(5, 100);
                cd_buf_printf(c, "    maxWeight: %d\n", g->max_weight);
            }
        } else {
            cd_buf_printf(c, "    stepWeights: [");
            int w = 0, n = between(1, 6);
            for (int i = 0; i < n && w < 100; i++) {
                w += between(1, 40);
                if (w > 100)
                    w = 100;
                cd_buf_printf(c, "%s%d", i ? ", " : "", w);
            }
            cd_buf_printf(c, "]\n");
            g->max_weight = w;
        }
        if (chance(30))
            cd_buf_printf(c, "    stepWeightPromotion: %d\n", between(1, 70));
        g->canary_strategy = !kube;
        if (!g->max_weight)
            g->max_weight = 100;
    } else {
        cd_buf_printf(c, "    iterations: %d\n", between(1, 6));
        if (strategy >= 8)
            cd_buf_printf(c, "    match:\n    - headers:\n        x-canary:\n"
                             "          exact: insider\n");
    }
    if (chance(30))
        cd_buf_printf(c, "    mirror: true\n");
    cd_buf_printf(c, "    metrics:\n    - name: request-success-rate\n"
                     "      thresholdRange: {min: 99}\n      interval: 1m\n"
                     "    - name: request-duration\n      thresholdRange: {max: 500}\n"
                     "      interval: 1m\n");
    bool hooks[7] = {0};
    if (chance(70)) {
        cd_buf_printf(c, "    webhooks:\n");
        for (int i = 0; i < 7; i++) {
            hooks[i] = chance(40);
            if (hooks[i])
                cd_buf_printf(c, "    - {name: %s, type: %s, url: 'http://hooks/'}\n",
                              gate_types[i], gate_types[i]);
        }
    }

    cd_buf *s = &g->scenario;
    int64_t duration = (int64_t)g->settle_s + (int64_t)(300 + g->deadline_s / g->interval_s) *
                                                  g->interval_s;
    cd_buf_printf(s, "duration: %llds\n", (long long)duration);
    if (chance(60)) {
        cd_buf_printf(s, "revisions: [");
        int n = between(1, 3), t = 0;
        for (int i = 0; i < n; i++) {
            t += between(1, g->settle_s / 2 > 1 ? g->settle_s / 2 : 1);
            if (i && t >= g->settle_s)
                break;
            cd_buf_printf(s, "%s%ds", i ? ", " : "", i ? t : 0);
        }
        cd_buf_printf(s, "]\n");
    }
    static const char *const rates[] = {"100", "99.5", "80", "nodata", "error"};
    static const char *const durations[] = {"100", "499", "900", "nodata", "error"};
    static const char *const passes[] = {"true", "false"};
    static const char *const ready[] = {"true", "false", "stuck"};
    cd_buf_printf(s, "metrics:\n");
    put_steps(g, "request-success-rate", "value", rates, 5, chance(70) ? "100" : "50");
    put_steps(g, "request-duration", "value", durations, 5, chance(80) ? "100" : "nodata");
    bool any_hook = false;
    for (int i = 0; i < 7; i++)
        any_hook |= hooks[i];
    if (any_hook) {
        cd_buf_printf(s, "webhooks:\n");
        for (int i = 0; i < 7; i++) {
            if (!hooks[i])
                continue;
            /* gates open in the end; the rollback hook may fire or not */
            bool rollback = !strcmp(gate_types[i], "rollback");
            put_steps(g, gate_types[i], "pass", passes, 2,
                      rollback ? (chance(30) ? "true" : "false") : "true");
        }
    }
    cd_buf_printf(s, "ready:\n");
    put_steps(g, "canary", "value", ready, 3, chance(85) ? "true" : "stuck");
    put_steps(g, "primary", "value", ready, 3, chance(90) ? "true" : "stuck");
}

static char *run_case(gen *g, int case_no, bool check)
{
    const cd_object *o = fx_canary(cd_buf_str(&g->canary));
    cd_scenario *sc = fx_scenario(cd_buf_str(&g->scenario));
    cd_sim *sim = cd_sim_new(&o->meta, &o->spec.canary, sc, NULL);
    cd_buf trace = CD_BUF_INIT;
    cd_sim_row row;
    int64_t settled_at = -1;
    while (!cd_sim_done(sim)) {
        cd_sim_tick(sim, &row);
        fx_row_line(&row, &trace);
        if (!check)
            continue;
        bool ok = row.canary_weight >= 0 && row.canary_weight <= 100 &&
                  row.primary_weight >= 0 && row.primary_weight <= 100 &&
                  row.canary_weight + row.primary_weight == 100;
        if (ok && g->canary_strategy && row.phase != CD_PHASE_FAILED)
            ok = row.canary_weight <= g->max_weight;
        ok = ok && row.failed_checks >= 0 && row.iterations >= 0 &&
             cd_sim_get_stats(sim)->promotions_over_threshold == 0;
        if (!ok) {
            fprintf(stderr, "case %d broke a property at t=%lldms\n--- canary\n%s--- scenario\n"
                    "%s--- trace\n%s", case_no, (long long)row.t_ms, cd_buf_str(&g->canary),
                    cd_buf_str(&g->scenario), cd_buf_str(&trace));
            fail();
        }
        bool final = row.phase == CD_PHASE_SUCCEEDED || row.phase == CD_PHASE_FAILED;
        if (!final)
            settled_at = -1;
        else if (settled_at < 0)
            settled_at = row.t_ms;   /* when it came to rest for good (so far) */
    }
    if (check) {
        cd_phase end = cd_sim_status(sim)->phase;
        int64_t bound_ms = ((int64_t)g->settle_s +
                            (int64_t)(250 + g->deadline_s / g->interval_s) * g->interval_s) * 1000;
        if ((end != CD_PHASE_SUCCEEDED && end != CD_PHASE_FAILED) || settled_at < 0 ||
            settled_at > bound_ms) {
            fprintf(stderr, "case %d did not end (phase %s, settled at %lld, bound %lld)\n"
                    "--- canary\n%s--- scenario\n%s--- trace\n%s", case_no, cd_phase_name(end),
                    (long long)settled_at, (long long)bound_ms, cd_buf_str(&g->canary),
                    cd_buf_str(&g->scenario), cd_buf_str(&trace));
            fail();
        }
    }
    cd_sim_free(sim);
    cd_scenario_free(sc);
    fx_release_objects();
    return cd_buf_steal(&trace);
}

static void test_properties(void **state)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    int succeeded = 0, failed = 0;
    for (int i = 0; i < CASES; i++) {
        gen g;
        generate(&g);
        char *a = run_case(&g, i, true);
        char *b = run_case(&g, i, false);
        assert_string_equal(a, b);   /* deterministic */
        const char *last = strrchr(a, '\n');
        while (last > a && last[-1] != '\n')
            last--;
        succeeded += strstr(last, " Succeeded ") != NULL;
        failed += strstr(last, " Failed ") != NULL;
        free(a);
        free(b);
        cd_buf_free(&g.canary);
        cd_buf_free(&g.scenario);
    }
    /* the generator must exercise both outcomes, not just one */
    fprintf(stderr, "%d cases: %d succeeded, %d failed\n", CASES, succeeded, failed);
    assert_true(succeeded > CASES / 5);
    assert_true(failed > CASES / 10);
    assert_int_equal(succeeded + failed, CASES);
}

/* Many canaries ticking at once on different threads (one thread per
 * canary, one registry for all) give the same traces as one by one: the
 * engine keeps no global state. */
#define PARALLEL 8

typedef struct job {
    const cd_object *canary;
    cd_scenario *sc;
    cd_registry *reg;
    char *trace;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    cd_sim_options opt = {.registry = j->reg};
    cd_sim *s = cd_sim_new(&j->canary->meta, &j->canary->spec.canary, j->sc, &opt);
    cd_buf out = CD_BUF_INIT;
    cd_sim_render(s, CD_SIM_FORMAT_JSON, &out);
    j->trace = cd_buf_steal(&out);
    cd_sim_free(s);
    return NULL;
}

static void test_parallel_canaries(void **state)
{
    rng_state = 0x2545f4914f6cdd1dull;
    gen g[PARALLEL];
    job seq[PARALLEL], par[PARALLEL];
    cd_registry *reg = cd_registry_new("test", "istio");
    for (int i = 0; i < PARALLEL; i++) {
        generate(&g[i]);
        /* distinct canaries and targets: app-<i> */
        cd_buf renamed = CD_BUF_INIT;
        const char *src = cd_buf_str(&g[i].canary), *at;
        while ((at = strstr(src, "name: app\n"))) {
            cd_buf_append(&renamed, src, (size_t)(at - src));
            cd_buf_printf(&renamed, "name: app-%d\n", i);
            src = at + strlen("name: app\n");
        }
        cd_buf_puts(&renamed, src);
        const cd_object *o = fx_canary(cd_buf_str(&renamed));
        cd_buf_free(&renamed);
        seq[i] = (job){o, fx_scenario(cd_buf_str(&g[i].scenario)), NULL, NULL};
        par[i] = seq[i];
        par[i].reg = reg;
        run_job(&seq[i]);
    }
    pthread_t th[PARALLEL];
    for (int i = 0; i < PARALLEL; i++)
        pthread_create(&th[i], NULL, run_job, &par[i]);
    for (int i = 0; i < PARALLEL; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < PARALLEL; i++) {
        assert_string_equal(par[i].trace, seq[i].trace);
        char series[96];
        snprintf(series, sizeof series,
                 "flagger_canary_status{name=\"app-%d\",namespace=\"prop\"}", i);
        double v = fx_metric(reg, series);   /* each canary has its own series */
        assert_true(v == 1 || v == 2);
        free(par[i].trace);
        free(seq[i].trace);
        cd_scenario_free(seq[i].sc);
        cd_buf_free(&g[i].canary);
        cd_buf_free(&g[i].scenario);
    }
    cd_registry_free(reg);
    fx_release_objects();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_parallel_canaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
