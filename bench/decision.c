/* decision.c - decision quality of canaryd's statistical judge against
 * Flagger's fixed thresholds and against the best any test can do
 * (bench/decision.sh runs it). Many simulated releases per case and
 * request rate; each release is rolled out four times on the same
 * simulated requests (same seed: the same requests arrive at the same
 * times with the same outcomes):
 *
 *   flagger  the seed's Flagger configuration (thresholds);
 *   same     the judge comparing the canary with the primary over the same
 *            windows only (judge.history: 0s, what it did before history);
 *   history  the judge as configured by default: it also reads the
 *            primary's last hour before the release (judge.history: 1h);
 *   floor    a sequential probability ratio test (alpha = beta = 0.005)
 *            that knows the primary's baseline exactly: no valid test can
 *            decide faster on average, so it is the floor.
 *
 * The first three run canaryd's engine in the simulator; the floor is this
 * file's own judge function plugged into the same engine. Nothing here
 * decides for canaryd.
 *
 * Usage: decision [-n RELEASES] [--metrics case|both] [--rates 100,10,2,0.2]
 *                 [--cases SUBSTRING] [--history 1h] [--judge-errors 'minSamples: 1000']
 *                 [--judge-latency '...']
 * Prints a table and ends with the line
 *   judge: caught_2rps=.. minutes_2rps=.. promote_minutes_2rps=.. false_rollbacks=..
 *          floor_minutes_2rps=.. floor_promote_minutes_2rps=.. flagger_caught_2rps=..
 *          flagger_minutes_2rps=.. flagger_false_rollbacks=..
 * Minutes count from the tick that first sends the canary traffic to the
 * decision (rollback, or promotion: the start of Promoting). */
#include "judge/judge.h"
#include "judge/stats.h"
#include "model/object.h"
#include "sim/sim.h"
#include "util/buf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DURATION "8h"
#define MAX_DURATION_MIN 480
#define EPOCH_MS 1735689600000LL   /* 2025-01-01T00:00:00Z: the simulations' t = 0 */
#define FLOOR_ALPHA 0.005
#define DETECT_ERRORS 0.02         /* the judge's default detectIncrease: 2pp */
#define DETECT_LATENCY 0.30        /* and +30 % latency */

typedef enum { M_ERRORS = 1, M_LATENCY = 2, M_BOTH = 3 } metric_set;
typedef enum { A_FLAGGER, A_SAME, A_HISTORY, A_FLOOR, N_ALGOS } algo;
static const char *const algo_names[N_ALGOS] = {"flagger", "judge, same windows",
                                                "judge with history", "floor (known baseline)"};

/* How the baseline moves: both sides alike, from the release on. */
typedef enum { MOVE_NONE, MOVE_STEP, MOVE_CYCLE, MOVE_LATENCY } move_kind;

typedef struct bench_case {
    const char *name;
    metric_set metrics;         /* what the case is about: judged, and checked by Flagger */
    bool bad;                   /* a release that should be rolled back */
    bool headline;              /* the +2pp case of the final line */
    bool promote_headline;      /* the healthy case of the final line */
    double primary_errors, canary_errors;   /* percent (before the release for MOVE_STEP) */
    double primary_median, primary_p99, canary_median, canary_p99;
    move_kind move;
} bench_case;

static const bench_case cases[] = {
    {"healthy, 0.1% errors", M_ERRORS, false, false, true, 0.1, 0.1, 100, 400, 100, 400,
     MOVE_NONE},
    {"healthy, 0.8% errors", M_ERRORS, false, false, false, 0.8, 0.8, 100, 400, 100, 400,
     MOVE_NONE},
    {"+2pp errors (0.1% -> 2.1%)", M_ERRORS, true, true, false, 0.1, 2.1, 100, 400, 100, 400,
     MOVE_NONE},
    {"+2pp errors (0.8% -> 2.8%)", M_ERRORS, true, false, false, 0.8, 2.8, 100, 400, 100, 400,
     MOVE_NONE},
    {"healthy latency (p99 400ms)", M_LATENCY, false, false, false, 0.1, 0.1, 100, 400, 100,
     400, MOVE_NONE},
    {"+30% latency (p99 400 -> 520ms)", M_LATENCY, true, false, false, 0.1, 0.1, 100, 400, 130,
     520, MOVE_NONE},
    /* the baseline moves, on both sides: every release is healthy */
    {"both 0.1% -> 0.8% at the release", M_ERRORS, false, false, false, 0.1, 0.8, 100, 400, 100,
     400, MOVE_STEP},
    {"daily cycle x2 (rate, errors)", M_ERRORS, false, false, false, 0.1, 0.1, 100, 400, 100,
     400, MOVE_CYCLE},
    {"both +30% latency at the release", M_LATENCY, false, false, false, 0.1, 0.1, 100, 400, 130,
     520, MOVE_LATENCY},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

typedef struct tally {
    int runs, rolled_back, promoted, undecided;
    double minutes_rollback, minutes_promotion;
} tally;

static const char *judge_errors = "", *judge_latency = "";   /* --judge-errors / --judge-latency */
static const char *history = "1h";   /* --history: the judge with history's judge.history */
static int64_t release_ms;   /* when the canary first gets traffic (found by a dry run) */

/* ---- the baseline over time ------------------------------------------------------ */

/* The daily cycle: x2 from trough to peak (1 +- 1/3), rising fastest when
 * the release starts, over a day. */
static double cycle(int64_t t_ms)
{
    return 1.0 + sin(2.0 * M_PI * (double)(t_ms - release_ms) / 86400000.0) / 3.0;
}

/* The primary's error rate (a fraction) and latency median at time t. */
static double baseline_errors(const bench_case *c, int64_t t_ms)
{
    if (c->move == MOVE_STEP && t_ms >= release_ms)
        return c->canary_errors / 100.0;
    if (c->move == MOVE_CYCLE)
        return c->primary_errors / 100.0 * cycle(t_ms);
    return c->primary_errors / 100.0;
}

static double baseline_median(const bench_case *c, int64_t t_ms)
{
    if (c->move == MOVE_LATENCY && t_ms >= release_ms)
        return c->canary_median;
    return c->primary_median;
}

/* ---- the canaries -------------------------------------------------------------- */

static const char *canary_yaml(algo a, metric_set set)
{
    bool with_errors = set & M_ERRORS, with_latency = set & M_LATENCY;
    bool judged = a != A_FLAGGER;
    static char buf[4096], je[700], jl[700], hist[64];
    snprintf(hist, sizeof hist, "history: %s", a == A_SAME ? "0s" : history);
    snprintf(je, sizeof je, "      judge: {%s%s%s}\n", hist, *judge_errors ? ", " : "",
             judge_errors);
    snprintf(jl, sizeof jl, "      judge: {%s%s%s}\n", hist, *judge_latency ? ", " : "",
             judge_latency);
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

static const cd_object *load_canary(algo a, metric_set set)
{
    const char *y = canary_yaml(a, set);
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

/* ---- the scenarios ----------------------------------------------------------------- */

static cd_scenario *parse_scenario(const char *y)
{
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

/* The primary ran an hour before the simulation; the release starts at
 * release_ms. A moving baseline is written as steps (every 5 minutes for
 * the daily cycle). */
static cd_scenario *scenario_for(const bench_case *c, double rate)
{
    cd_buf y = CD_BUF_INIT;
    cd_buf_printf(&y, "duration: %s\ntraffic:\n  seed: 1\n  history: 1h\n", MAX_DURATION);
    long rel_s = (long)(release_ms / 1000);
    switch (c->move) {
    case MOVE_NONE:
        cd_buf_printf(&y,
                      "  rate: %g\n"
                      "  primary: {errorRate: %g, latency: {median: %g, p99: %g}}\n"
                      "  canary: {errorRate: %g, latency: {median: %g, p99: %g}}\n",
                      rate, c->primary_errors, c->primary_median, c->primary_p99,
                      c->canary_errors, c->canary_median, c->canary_p99);
        break;
    case MOVE_STEP:
    case MOVE_LATENCY:   /* the canary does what the primary does */
        cd_buf_printf(&y,
                      "  rate: %g\n"
                      "  primary:\n"
                      "  - {at: -1h, errorRate: %g, latency: {median: %g, p99: %g}}\n"
                      "  - {at: %lds, errorRate: %g, latency: {median: %g, p99: %g}}\n",
                      rate, c->primary_errors, c->primary_median, c->primary_p99, rel_s,
                      c->canary_errors, c->canary_median, c->canary_p99);
        break;
    case MOVE_CYCLE:
        cd_buf_puts(&y, "  rate:\n");
        for (long m = -60; m <= MAX_DURATION_MIN; m += 5)
            cd_buf_printf(&y, "  - {at: %ldm, value: %.6g}\n", m, rate * cycle(m * 60000LL));
        cd_buf_puts(&y, "  primary:\n");
        for (long m = -60; m <= MAX_DURATION_MIN; m += 5)
            cd_buf_printf(&y, "  - {at: %ldm, errorRate: %.6g, latency: {median: %g, p99: %g}}\n",
                          m, c->primary_errors * cycle(m * 60000LL), c->primary_median,
                          c->primary_p99);
        break;
    }
    cd_scenario *sc = parse_scenario(cd_buf_str(&y));
    cd_buf_free(&y);
    return sc;
}

/* ---- the floor: an SPRT that knows the baseline ------------------------------------- */

typedef struct floor_state {
    const bench_case *c;
    double llr;
} floor_state;

static cd_metric_rc floor_judge(void *ctx, const cd_metrics_port *mp, const cd_canary_ref *ref,
                                const cd_metric *m, int64_t now_ms, cd_judge_verdict *v,
                                cd_err *err)
{
    floor_state *f = ctx;
    memset(v, 0, sizeof *v);
    int64_t t = now_ms - EPOCH_MS, window = m->interval_ms > 0 ? m->interval_ms : 60000;
    int64_t mid = t - window / 2;
    cd_metric_rc rc;
    if (m->judge && m->judge->test == CD_JUDGE_LATENCY) {
        double *x = NULL;
        size_t n = 0;
        rc = mp->samples(mp->ctx, ref, m, "canary", &x, &n, err);
        /* log-normal: the baseline's median and spread known, +30 % to detect */
        double mu = log(baseline_median(f->c, mid));
        double sigma = log(f->c->primary_p99 / f->c->primary_median) / 2.3263478740408408;
        double d = log1p(DETECT_LATENCY);
        for (size_t i = 0; rc == CD_METRIC_OK && i < n; i++)
            if (x[i] > 0 && isfinite(x[i]))
                f->llr += (d * (log(x[i]) - mu) - d * d / 2) / (sigma * sigma);
    } else {
        uint64_t total = 0, failed = 0;
        rc = mp->counts(mp->ctx, ref, m, "canary", &total, &failed, err);
        double p0 = baseline_errors(f->c, mid), p1 = p0 + DETECT_ERRORS;
        if (rc == CD_METRIC_OK)
            f->llr += (double)failed * log(p1 / p0) +
                      (double)(total - failed) * log((1 - p1) / (1 - p0));
    }
    if (rc == CD_METRIC_NO_DATA)
        rc = CD_METRIC_OK;
    double upper = log((1 - FLOOR_ALPHA) / FLOOR_ALPHA), lower = -upper;
    v->pass = f->llr < upper;
    v->rollback = !v->pass;
    v->hold = v->pass && f->llr > lower;
    v->score = f->llr;
    snprintf(v->reason, sizeof v->reason, "log likelihood ratio %.3g", f->llr);
    return rc;
}

/* ---- running releases ------------------------------------------------------------- */

/* One release: until rollback or promotion (or the scenario's end). */
static void run_release(algo a, const cd_object *canary, cd_scenario *sc, const bench_case *c,
                        uint64_t seed, tally *t)
{
    sc->traffic.seed = seed;
    floor_state fs = {c, 0};
    cd_sim_options opt = {.judge = cd_judge_metric, .epoch_ms = EPOCH_MS};
    if (a == A_FLOOR) {
        opt.judge = floor_judge;
        opt.judge_ctx = &fs;
    }
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

/* When the canary first gets traffic: a dry run of the default rollout. */
static int64_t find_release(const cd_object *canary)
{
    cd_scenario *sc = parse_scenario("traffic: {rate: 1}\n");
    cd_sim_options opt = {.judge = cd_judge_metric, .epoch_ms = EPOCH_MS};
    cd_sim *s = cd_sim_new(&canary->meta, &canary->spec.canary, sc, &opt);
    cd_sim_row row;
    int64_t at = 120000;
    while (!cd_sim_done(s)) {
        cd_sim_tick(s, &row);
        if (row.canary_weight > 0) {
            at = row.t_ms;   /* the router holds the weight from this tick on */
            break;
        }
    }
    cd_sim_free(s);
    cd_scenario_free(sc);
    return at;
}

static double pct(int k, int n) { return n ? 100.0 * k / n : 0; }
static double mean(double sum, int n) { return n ? sum / n : NAN; }

typedef struct summary {
    double caught2, minutes2, promote2, worst;
} summary;

int main(int argc, char **argv)
{
    int n = 1000;
    bool both = false;
    const char *only = NULL;
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
        } else if (!strcmp(argv[i], "--cases") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--history") && i + 1 < argc) {
            history = argv[++i];
        } else if (!strcmp(argv[i], "--rates") && i + 1 < argc) {
            n_rates = 0;
            for (char *p = strtok(argv[++i], ","); p && n_rates < 8; p = strtok(NULL, ","))
                rates[n_rates++] = atof(p);
        } else {
            fprintf(stderr,
                    "usage: %s [-n RELEASES] [--metrics case|both] [--rates A,B,..]\n"
                    "       [--cases SUBSTRING] [--history DURATION] [--judge-errors 'FIELDS']\n"
                    "       [--judge-latency 'FIELDS']\n", argv[0]);
            return 2;
        }
    }
    if (n < 1)
        n = 1;
    if (strstr(judge_errors, "history") || strstr(judge_latency, "history")) {
        fprintf(stderr, "%s: judge.history is the benchmark's own (0s for the same-window "
                        "judge): use --history DURATION for the judge with history\n", argv[0]);
        return 2;
    }
    const cd_object *canaries[N_ALGOS][4];
    for (int set = M_ERRORS; set <= M_BOTH; set++)
        for (int a = 0; a < N_ALGOS; a++)
            canaries[a][set] = load_canary(a == A_FLOOR ? A_HISTORY : (algo)a, (metric_set)set);
    release_ms = find_release(canaries[A_FLAGGER][M_ERRORS]);
    printf("decision quality: %d releases per case and rate, each rolled out on the same\n"
           "simulated requests by Flagger's thresholds, by canaryd's judge over the same\n"
           "windows only (judge.history: 0s), by the judge with the primary's history\n"
           "(judge.history: %s), and by an SPRT that knows the baseline exactly (the floor;\n"
           "alpha = beta = %g)\n"
           "(interval 1m, threshold 5, stepWeight 10, maxWeight 50; Flagger checks\n"
           " request-success-rate >= 99%% over 1m and/or request-duration p99 <= 500ms over 30s,\n"
           " canaryd judges the same metrics with the judge's defaults%s%s%s%s;\n"
           " metrics: %s; the release starts at %lldm, the primary has served an hour before)\n\n",
           n, history, FLOOR_ALPHA, *judge_errors ? "; errors: " : "", judge_errors,
           *judge_latency ? "; latency: " : "", judge_latency,
           both ? "both on every case" : "the one each case is about",
           (long long)(release_ms / 60000));
    printf("%-34s %5s %-6s |", "case", "req/s", "");
    for (int a = 0; a < N_ALGOS; a++)
        printf(" %-23s |", algo_names[a]);
    printf("\n%-34s %5s %-6s |", "", "", "");
    for (int a = 0; a < N_ALGOS; a++)
        printf(" %6s %7s %7s |", "rate", "minutes", "undec");
    printf("\n");
    summary sum[N_ALGOS];
    for (int a = 0; a < N_ALGOS; a++)
        sum[a] = (summary){NAN, NAN, NAN, 0};
    for (size_t c = 0; c < N_CASES; c++) {
        if (only && !strstr(cases[c].name, only))
            continue;
        metric_set set = both ? M_BOTH : cases[c].metrics;
        for (size_t r = 0; r < n_rates; r++) {
            cd_scenario *sc = scenario_for(&cases[c], rates[r]);
            tally t[N_ALGOS] = {{0}};
            for (int i = 0; i < n; i++)
                for (int a = 0; a < N_ALGOS; a++)
                    run_release((algo)a, canaries[a][set], sc, &cases[c], (uint64_t)i + 1,
                                &t[a]);
            cd_scenario_free(sc);
            printf("%-34s %5g %-6s |", cases[c].name, rates[r], cases[c].bad ? "caught" : "false");
            for (int a = 0; a < N_ALGOS; a++) {
                double m = cases[c].bad ? mean(t[a].minutes_rollback, t[a].rolled_back)
                                        : mean(t[a].minutes_promotion, t[a].promoted);
                printf(" %5.1f%% %7.1f %6.1f%% |", pct(t[a].rolled_back, t[a].runs), m,
                       pct(t[a].undecided, t[a].runs));
                summary *s = &sum[a];
                if (!cases[c].bad) {
                    if (a != A_FLOOR || cases[c].move == MOVE_NONE)
                        s->worst = fmax(s->worst, pct(t[a].rolled_back, t[a].runs));
                    if (cases[c].promote_headline && rates[r] == 2)
                        s->promote2 = mean(t[a].minutes_promotion, t[a].promoted);
                } else if (cases[c].headline && rates[r] == 2) {
                    s->caught2 = pct(t[a].rolled_back, t[a].runs);
                    s->minutes2 = mean(t[a].minutes_rollback, t[a].rolled_back);
                }
            }
            printf("\n");
            fflush(stdout);
        }
    }
    printf("\nrate: the share rolled back (caught: bad releases; false: healthy ones);\n"
           "minutes: mean time from the first traffic to the canary to the decision (rollback\n"
           "for the +2pp and +30%% cases, promotion for the healthy ones); undec: neither\n"
           "within %s. The floor's worst false rollbacks leave out the moving baselines\n"
           "(it is told the baseline as it moves).\n\n", MAX_DURATION);
    for (int a = A_SAME; a <= A_FLOOR; a++)
        printf("%-22s caught_2rps=%.1f minutes_2rps=%.1f promote_minutes_2rps=%.1f "
               "worst_false_rollbacks=%.1f\n", algo_names[a], sum[a].caught2, sum[a].minutes2,
               sum[a].promote2, sum[a].worst);
    printf("judge: caught_2rps=%.1f minutes_2rps=%.1f promote_minutes_2rps=%.1f "
           "false_rollbacks=%.1f floor_minutes_2rps=%.1f floor_promote_minutes_2rps=%.1f "
           "flagger_caught_2rps=%.1f flagger_minutes_2rps=%.1f flagger_false_rollbacks=%.1f\n",
           sum[A_HISTORY].caught2, sum[A_HISTORY].minutes2, sum[A_HISTORY].promote2,
           sum[A_HISTORY].worst, sum[A_FLOOR].minutes2, sum[A_FLOOR].promote2,
           sum[A_FLAGGER].caught2, sum[A_FLAGGER].minutes2, sum[A_FLAGGER].worst);
    cd_object_list_free(&objects);
    return 0;
}
