/* decision.c - decision quality of canaryd's statistical judge against
 * Flagger's fixed thresholds (bench/decision.sh runs it). Many simulated
 * releases per case and request rate; each release is rolled out twice on
 * the same simulated requests (same seed: the same requests arrive at the
 * same times with the same outcomes), once with the seed's Flagger
 * configuration and once with the same metrics judged. Both run canaryd's
 * engine in the simulator; nothing here decides anything.
 *
 * Usage: decision [-n RELEASES] [--metrics case|both] [--rates 100,10,2,0.2]
 *                 [--judge-errors 'minSamples: 1000'] [--judge-latency '...']
 * Prints a table and ends with the line
 *   judge: caught_2rps=.. minutes_2rps=.. false_rollbacks=.. flagger_caught_2rps=..
 *          flagger_minutes_2rps=.. flagger_false_rollbacks=..
 * Minutes count from the tick that first sends the canary traffic to the
 * decision (rollback, or promotion: the start of Promoting). */
#include "judge/judge.h"
#include "model/object.h"
#include "sim/sim.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DURATION "8h"

typedef enum { M_ERRORS = 1, M_LATENCY = 2, M_BOTH = 3 } metric_set;

typedef struct bench_case {
    const char *name;
    metric_set metrics;         /* what the case is about: judged, and checked by Flagger */
    bool bad;                   /* a release that should be rolled back */
    bool headline;              /* the +2pp case of the final line */
    double primary_errors, canary_errors;   /* percent */
    double primary_median, primary_p99, canary_median, canary_p99;
} bench_case;

static const bench_case cases[] = {
    {"healthy, 0.1% errors", M_ERRORS, false, false, 0.1, 0.1, 100, 400, 100, 400},
    {"healthy, 0.8% errors", M_ERRORS, false, false, 0.8, 0.8, 100, 400, 100, 400},
    {"+2pp errors (0.1% -> 2.1%)", M_ERRORS, true, true, 0.1, 2.1, 100, 400, 100, 400},
    {"+2pp errors (0.8% -> 2.8%)", M_ERRORS, true, false, 0.8, 2.8, 100, 400, 100, 400},
    {"healthy latency (p99 400ms)", M_LATENCY, false, false, 0.1, 0.1, 100, 400, 100, 400},
    {"+30% latency (p99 400 -> 520ms)", M_LATENCY, true, false, 0.1, 0.1, 100, 400, 130, 520},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

typedef struct tally {
    int runs, rolled_back, promoted, undecided;
    double minutes_rollback, minutes_promotion;
} tally;

static const char *judge_errors = "", *judge_latency = "";   /* --judge-errors / --judge-latency */

static const char *canary_yaml(bool judged, metric_set set)
{
    bool with_errors = set & M_ERRORS, with_latency = set & M_LATENCY;
    static char buf[4096], je[512], jl[512];
    snprintf(je, sizeof je, "      judge: {%s}\n", judge_errors);
    snprintf(jl, sizeof jl, "      judge: {%s}\n", judge_latency);
    snprintf(buf, sizeof buf,
             "apiVersion: flagger.app/v1beta1\n"
             "kind: Canary\n"
             "metadata: {name: app, namespace: bench}\n"
             "spec:\n"
             "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}\n"
             "  service: {port: 80}\n"
             "  analysis:\n"
             "    interval: 1m\n"
             "    threshold: 5\n"
             "    maxWeight: 50\n"
             "    stepWeight: 10\n"
             "    metrics:\n"
             "%s%s"
             "%s%s",
             with_errors ? "    - name: request-success-rate\n"
                           "      thresholdRange: {min: 99}\n"
                           "      interval: 1m\n"
                         : "",
             with_errors && judged ? je : "",
             with_latency ? "    - name: request-duration\n"
                            "      thresholdRange: {max: 500}\n"
                          : "",
             with_latency ? (judged ? jl : "      interval: 30s\n") : "");
    return buf;
}

static cd_object_list objects;

static const cd_object *load_canary(bool judged, metric_set set)
{
    const char *y = canary_yaml(judged, set);
    cd_diags d;
    cd_diags_init(&d);
    size_t before = objects.n;
    size_t errors = cd_manifest_load_buffer("bench.yaml", y, strlen(y), false, "bench", &objects,
                                            &d);
    if (errors || objects.n != before + 1) {
        cd_diags_print(&d, stderr);
        exit(2);
    }
    cd_diags_free(&d);
    return objects.items[objects.n - 1];
}

static cd_scenario *scenario_for(const bench_case *c, double rate)
{
    char y[1024];
    snprintf(y, sizeof y,
             "duration: %s\n"
             "traffic:\n"
             "  seed: 1\n"
             "  rate: %g\n"
             "  primary: {errorRate: %g, latency: {median: %g, p99: %g}}\n"
             "  canary: {errorRate: %g, latency: {median: %g, p99: %g}}\n",
             MAX_DURATION, rate, c->primary_errors, c->primary_median, c->primary_p99,
             c->canary_errors, c->canary_median, c->canary_p99);
    cd_diags d;
    cd_diags_init(&d);
    cd_scenario *sc = cd_scenario_parse("bench-scenario.yaml", y, strlen(y), &d);
    if (!sc) {
        cd_diags_print(&d, stderr);
        exit(2);
    }
    cd_diags_free(&d);
    return sc;
}

/* One release: until rollback or promotion (or the scenario's end). */
static void run_release(const cd_object *canary, cd_scenario *sc, uint64_t seed, tally *t)
{
    sc->traffic.seed = seed;
    cd_sim_options opt = {.judge = cd_judge_metric};
    cd_sim *s = cd_sim_new(&canary->meta, &canary->spec.canary, sc, &opt);
    cd_sim_row row;
    int64_t start = -1;
    t->runs++;
    while (!cd_sim_done(s)) {
        cd_sim_tick(s, &row);
        if (start < 0 && row.canary_weight > 0)
            start = row.t_ms;
        double minutes = start < 0 ? 0 : (double)(row.t_ms - start) / 60000.0;
        if (row.phase == CD_PHASE_FAILED && start >= 0) {
            t->rolled_back++;
            t->minutes_rollback += minutes;
            cd_sim_free(s);
            return;
        }
        if (row.phase == CD_PHASE_PROMOTING) {
            t->promoted++;
            t->minutes_promotion += minutes;
            cd_sim_free(s);
            return;
        }
    }
    t->undecided++;
    cd_sim_free(s);
}

static double pct(int k, int n) { return n ? 100.0 * k / n : 0; }
static double mean(double sum, int n) { return n ? sum / n : NAN; }

int main(int argc, char **argv)
{
    int n = 1000;
    bool both = false;
    double rates[8] = {100, 10, 2, 0.2};
    size_t n_rates = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--metrics") && i + 1 < argc) {
            both = !strcmp(argv[++i], "both");
        } else if (!strcmp(argv[i], "--judge-errors") && i + 1 < argc) {
            judge_errors = argv[++i];
        } else if (!strcmp(argv[i], "--judge-latency") && i + 1 < argc) {
            judge_latency = argv[++i];
        } else if (!strcmp(argv[i], "--rates") && i + 1 < argc) {
            n_rates = 0;
            for (char *p = strtok(argv[++i], ","); p && n_rates < 8; p = strtok(NULL, ","))
                rates[n_rates++] = atof(p);
        } else {
            fprintf(stderr,
                    "usage: %s [-n RELEASES] [--metrics case|both] [--rates A,B,..]\n"
                    "       [--judge-errors 'FIELDS'] [--judge-latency 'FIELDS']\n", argv[0]);
            return 2;
        }
    }
    if (n < 1)
        n = 1;
    const cd_object *flagger[4], *judged[4];
    for (int set = M_ERRORS; set <= M_BOTH; set++) {
        flagger[set] = load_canary(false, (metric_set)set);
        judged[set] = load_canary(true, (metric_set)set);
    }
    printf("decision quality: %d releases per case and rate, each rolled out on the same\n"
           "simulated requests by Flagger's thresholds and by canaryd's judge\n"
           "(interval 1m, threshold 5, stepWeight 10, maxWeight 50; Flagger checks\n"
           " request-success-rate >= 99%% over 1m and/or request-duration p99 <= 500ms over 30s,\n"
           " canaryd judges the same metrics with the judge's defaults%s%s%s%s;\n"
           " metrics: %s)\n\n",
           n, *judge_errors ? "; errors: " : "", judge_errors, *judge_latency ? "; latency: " : "",
           judge_latency, both ? "both on every case" : "the one each case is about");
    printf("%-32s %7s | %-24s %7s %6s | %-24s %7s %6s\n", "case", "req/s", "flagger", "minutes",
           "undec", "judge", "minutes", "undec");
    double caught2 = NAN, minutes2 = NAN, fcaught2 = NAN, fminutes2 = NAN;
    double worst = 0, fworst = 0;
    for (size_t c = 0; c < N_CASES; c++) {
        metric_set set = both ? M_BOTH : cases[c].metrics;
        for (size_t r = 0; r < n_rates; r++) {
            cd_scenario *sc = scenario_for(&cases[c], rates[r]);
            tally ft = {0}, jt = {0};
            for (int i = 0; i < n; i++) {
                run_release(flagger[set], sc, (uint64_t)i + 1, &ft);
                run_release(judged[set], sc, (uint64_t)i + 1, &jt);
            }
            cd_scenario_free(sc);
            const char *what = cases[c].bad ? "caught" : "false rollbacks";
            char fcol[40], jcol[40];
            snprintf(fcol, sizeof fcol, "%s %.1f%%", what, pct(ft.rolled_back, ft.runs));
            snprintf(jcol, sizeof jcol, "%s %.1f%%", what, pct(jt.rolled_back, jt.runs));
            double fm = cases[c].bad ? mean(ft.minutes_rollback, ft.rolled_back)
                                     : mean(ft.minutes_promotion, ft.promoted);
            double jm = cases[c].bad ? mean(jt.minutes_rollback, jt.rolled_back)
                                     : mean(jt.minutes_promotion, jt.promoted);
            printf("%-32s %7g | %-24s %7.1f %5.1f%% | %-24s %7.1f %5.1f%%\n", cases[c].name,
                   rates[r], fcol, fm, pct(ft.undecided, ft.runs), jcol, jm,
                   pct(jt.undecided, jt.runs));
            fflush(stdout);
            if (!cases[c].bad) {
                if (pct(jt.rolled_back, jt.runs) > worst)
                    worst = pct(jt.rolled_back, jt.runs);
                if (pct(ft.rolled_back, ft.runs) > fworst)
                    fworst = pct(ft.rolled_back, ft.runs);
            } else if (cases[c].headline && rates[r] == 2) {
                caught2 = pct(jt.rolled_back, jt.runs);
                minutes2 = mean(jt.minutes_rollback, jt.rolled_back);
                fcaught2 = pct(ft.rolled_back, ft.runs);
                fminutes2 = mean(ft.minutes_rollback, ft.rolled_back);
            }
        }
    }
    printf("\nminutes: mean time from the first traffic to the canary to the decision (rollback\n"
           "for the +2pp and +30%% cases, promotion for the healthy ones); undec: neither\n"
           "within %s.\n\n", MAX_DURATION);
    printf("judge: caught_2rps=%.1f minutes_2rps=%.1f false_rollbacks=%.1f flagger_caught_2rps=%.1f "
           "flagger_minutes_2rps=%.1f flagger_false_rollbacks=%.1f\n",
           caught2, minutes2, worst, fcaught2, fminutes2, fworst);
    cd_object_list_free(&objects);
    return 0;
}
