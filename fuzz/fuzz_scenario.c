/* fuzz_scenario.c - libFuzzer target: arbitrary bytes as a simulate
 * scenario, optionally preceded by a Canary manifest and a line
 * "#scenario". Decoding must never crash or leak; a scenario that decodes
 * is then played (a bounded number of ticks) against the given canary, or
 * one of three fixed ones (canary, blue/green on provider kubernetes, A/B),
 * so the engine sees whatever specs, metric values, webhook answers and
 * readiness the fuzzer invents. The statistical judge takes part; traffic
 * rates are capped so that a run stays short. */
#include "judge/judge.h"
#include "model/object.h"
#include "sim/sim.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const canaries[] = {
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: c, namespace: f}\n"
    "spec:\n  provider: istio\n  progressDeadlineSeconds: 60\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: c}\n  service: {port: 80}\n"
    "  analysis:\n    interval: 10s\n    threshold: 3\n    stepWeights: [5, 20, 60]\n"
    "    stepWeightPromotion: 30\n    mirror: true\n    metrics:\n"
    "    - {name: request-success-rate, thresholdRange: {min: 99}}\n"
    "    - {name: request-duration, threshold: 500}\n"
    "    - {name: errors, query: 'sum(x)', thresholdRange: {max: 1}}\n    webhooks:\n"
    "    - {name: gate, type: confirm-rollout, url: 'http://h/'}\n"
    "    - {name: more, type: confirm-traffic-increase, url: 'http://h/'}\n"
    "    - {name: promote, type: confirm-promotion, url: 'http://h/'}\n"
    "    - {name: abort, type: rollback, url: 'http://h/'}\n"
    "    - {name: smoke, type: pre-rollout, url: 'http://h/'}\n"
    "    - {name: load, url: 'http://h/'}\n",
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: c, namespace: f}\n"
    "spec:\n  provider: kubernetes\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: c}\n  service: {port: 80}\n"
    "  analysis:\n    interval: 10s\n    threshold: 2\n    iterations: 3\n    mirror: true\n"
    "    metrics:\n    - {name: request-success-rate, thresholdRange: {min: 99}}\n",
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: c, namespace: f}\n"
    "spec:\n  provider: istio\n  skipAnalysis: false\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: c}\n  service: {port: 80}\n"
    "  analysis:\n    interval: 10s\n    threshold: 2\n    iterations: 2\n"
    "    match: [{headers: {x: {exact: y}}}]\n    metrics:\n"
    "    - {name: request-duration, thresholdRange: {min: 1, max: 500}}\n    webhooks:\n"
    "    - {name: promote, type: confirm-promotion, url: 'http://h/'}\n",
};

static const char *find_split(const char *data, size_t size)
{
    static const char mark[] = "\n#scenario\n";
    return memmem(data, size, mark, sizeof mark - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cd_diags d;
    cd_diags_init(&d);
    const char *text = (const char *)data, *split = find_split(text, size);
    const char *canary = split ? text : canaries[size % 3];
    size_t canary_len = split ? (size_t)(split - text) : strlen(canary);
    const char *scenario = split ? split + 11 : text;
    size_t scenario_len = split ? size - (size_t)(scenario - text) : size;
    cd_scenario *sc = cd_scenario_parse("fuzz.yaml", scenario, scenario_len, &d);
    if (sc) {
        cd_object_list objs = {0};
        cd_manifest_load_buffer("c.yaml", canary, canary_len, false, "f", &objs, &d);
        if (objs.n >= 1 && objs.items[0]->kind == CD_KIND_CANARY) {
            const cd_object *o = objs.items[0];
            cd_scenario_check(sc, &o->spec.canary, &d);
            for (size_t i = 0; i < sc->traffic.rate.n; i++)   /* bounded work per tick */
                if (sc->traffic.rate.steps[i].value > 20)
                    sc->traffic.rate.steps[i].value = 20;
            cd_sim_options opt = {.judge = cd_judge_metric};
            cd_sim *s = cd_sim_new(&o->meta, &o->spec.canary, sc, &opt);
            cd_sim_row row;
            for (int i = 0; i < 500 && !cd_sim_done(s); i++)
                cd_sim_tick(s, &row);
            cd_sim_free(s);
        } else if (!split) {
            abort();   /* the fixed canaries must decode */
        }
        cd_object_list_free(&objs);
        cd_scenario_free(sc);
    }
    cd_diags_free(&d);
    return 0;
}
