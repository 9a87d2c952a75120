/* bench_engine.c - what the engine costs (make bench):
 *  1. one tick with simulated ports, in the middle of an analysis (metrics,
 *     webhooks, a weight step): target <= 5 us;
 *  2. a 24-hour simulated rollout at a 10 s interval (8,640 ticks, a
 *     release every 20 minutes, some rolled back): target < 50 ms.
 * Each figure is printed next to a peer measured in the same run: encoding
 * the canary's status as JSON (cd_status_to_json + json_dumps), the least
 * a platform does to persist status on every tick. Best of several runs. */
#include "model/object.h"
#include "sim/report.h"
#include "util/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 7
#define DAY_TICKS (24 * 360 + 1)

static const char *const CANARY =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: bench}\n"
    "spec:\n  provider: istio\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service: {port: 9898}\n  analysis:\n    interval: 10s\n    threshold: 5\n"
    "    stepWeight: 1\n    maxWeight: 60\n    stepWeightPromotion: 10\n    metrics:\n"
    "    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}\n"
    "    - {name: request-duration, thresholdRange: {max: 500}, interval: 30s}\n"
    "    - {name: error-budget, templateRef: {name: budget}, thresholdRange: {max: 1}}\n"
    "    webhooks:\n"
    "    - {name: smoke, type: pre-rollout, url: 'http://loadtester/'}\n"
    "    - {name: load, type: rollout, url: 'http://loadtester/'}\n"
    "    - {name: approve, type: confirm-traffic-increase, url: 'http://loadtester/'}\n"
    "    - {name: abort, type: rollback, url: 'http://loadtester/'}\n";

static const cd_object *load_canary(cd_object_list *objs)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("bench.yaml", CANARY, strlen(CANARY), false, "bench", objs, &d);
    cd_diags_print(&d, stderr);
    cd_diags_free(&d);
    if (objs->n != 1) {
        fprintf(stderr, "bench canary does not decode\n");
        exit(1);
    }
    return objs->items[0];
}

static cd_scenario *day_scenario(void)
{
    /* a release every 20 minutes; every third one regresses latency */
    char text[65536];
    size_t n = (size_t)snprintf(text, sizeof text, "duration: 24h\nrevisions: [");
    for (int i = 0; i < 72; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%dm", i ? ", " : "", i * 20);
    n += (size_t)snprintf(text + n, sizeof text - n, "]\nmetrics:\n  request-duration: [");
    for (int i = 0; i < 72; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{at: %dm, value: %d}", i ? ", " : "",
                              i * 20, i % 3 == 2 ? 900 : 120);
    snprintf(text + n, sizeof text - n, "]\n");
    cd_diags d;
    cd_diags_init(&d);
    cd_scenario *sc = cd_scenario_parse("day.yaml", text, strlen(text), &d);
    cd_diags_print(&d, stderr);
    cd_diags_free(&d);
    if (!sc)
        exit(1);
    return sc;
}

/* ns per status JSON encoding of this status. */
static double status_json_ns(const cd_canary_status *s, int reps)
{
    double best = 1e18;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t t0 = cd_mono_ns();
        size_t bytes = 0;
        for (int i = 0; i < reps; i++) {
            json_t *j = cd_status_to_json(s);
            char *text = json_dumps(j, JSON_COMPACT);
            bytes += strlen(text);
            free(text);
            json_decref(j);
        }
        double ns = (double)(cd_mono_ns() - t0) / reps;
        if (bytes && ns < best)
            best = ns;
    }
    return best;
}

/* ns per tick in the middle of an analysis: weights step 1..60. */
static double tick_ns(const cd_object *o, cd_canary_status *sample, int *ticks_out)
{
    double best = 1e18;
    cd_scenario *sc = cd_scenario_default();
    for (int r = 0; r < ROUNDS; r++) {
        cd_sim *s = cd_sim_new(&o->meta, &o->spec.canary, sc, NULL);
        cd_sim_row row;
        cd_sim_tick(s, &row);   /* init */
        cd_sim_tick(s, &row);   /* detect */
        cd_sim_tick(s, &row);   /* start */
        int ticks = 0;
        int64_t t0 = cd_mono_ns();
        while (cd_sim_status(s)->phase == CD_PHASE_PROGRESSING) {
            cd_sim_tick(s, &row);
            ticks++;
        }
        double ns = (double)(cd_mono_ns() - t0) / ticks;
        if (ns < best)
            best = ns;
        *ticks_out = ticks;
        if (r == 0)
            cd_status_copy(sample, cd_sim_status(s));
        cd_sim_free(s);
    }
    cd_scenario_free(sc);
    return best;
}

/* ms for the whole day; with render, the JSON lines too. */
static double day_ms(const cd_object *o, const cd_scenario *sc, bool render, int *ticks,
                     int *succeeded, int *failed)
{
    double best = 1e18;
    for (int r = 0; r < ROUNDS; r++) {
        cd_sim *s = cd_sim_new(&o->meta, &o->spec.canary, sc, NULL);
        cd_buf out = CD_BUF_INIT;
        cd_sim_row row;
        int ok = 0, bad = 0;
        cd_phase last = CD_PHASE_NONE;
        int64_t t0 = cd_mono_ns();
        for (int i = 0; i < DAY_TICKS; i++) {   /* t = 0 .. 24h, every tick */
            cd_sim_tick(s, &row);
            if (render) {
                json_t *j = cd_sim_row_json(&row);
                char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                cd_buf_puts(&out, text);
                cd_buf_putc(&out, '\n');
                free(text);
                json_decref(j);
            }
            ok += row.phase == CD_PHASE_SUCCEEDED && last != CD_PHASE_SUCCEEDED;
            bad += row.phase == CD_PHASE_FAILED && last != CD_PHASE_FAILED;
            last = row.phase;
        }
        double ms = (double)(cd_mono_ns() - t0) / 1e6;
        if (ms < best)
            best = ms;
        *ticks = cd_sim_get_stats(s)->ticks;
        *succeeded = ok;
        *failed = bad;
        cd_buf_free(&out);
        cd_sim_free(s);
    }
    return best;
}

int main(void)
{
    cd_object_list objs = {0};
    const cd_object *o = load_canary(&objs);
    cd_canary_status sample;
    cd_status_init(&sample);

    int ticks = 0;
    double tick = tick_ns(o, &sample, &ticks);
    double peer = status_json_ns(&sample, 20000);
    printf("one analysis tick (simulated ports): %.2f us over %d ticks  [target <= 5 us]\n",
           tick / 1000, ticks);
    printf("  peer: status JSON encoding         %.2f us  -> tick = %.2fx peer\n", peer / 1000,
           tick / peer);

    cd_scenario *sc = day_scenario();
    int day_ticks = 0, ok = 0, bad = 0;
    double day = day_ms(o, sc, false, &day_ticks, &ok, &bad);
    double day_json = day_ms(o, sc, true, &day_ticks, &ok, &bad);
    double peer_day = peer * day_ticks / 1e6;
    printf("24 h rollout at 10 s: %d ticks, %d releases promoted, %d rolled back\n", day_ticks, ok,
           bad);
    printf("  engine + simulated ports   %.2f ms  [target < 50 ms]  -> %.2fx peer\n", day,
           day / peer_day);
    printf("  with -o json rendering     %.2f ms                    -> %.2fx peer\n", day_json,
           day_json / peer_day);
    printf("  peer: %d status JSON encodings %.2f ms\n", day_ticks, peer_day);

    cd_scenario_free(sc);
    cd_status_free(&sample);
    cd_object_list_free(&objs);
    return 0;
}
