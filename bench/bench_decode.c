/* bench_decode.c - how long canaryd takes to decode a typical Canary
 * (parse + schema validation + decode with defaults), next to two peers
 * measured in the same run on the same text: libfyaml building its own
 * document tree (the bare YAML parse any consumer pays) and jansson
 * parsing the same object as JSON. Prints per-decode times and ratios.
 * Usage: bench_decode [FILE] (default: a Canary like the seed's). */
#include "model/object.h"
#include "util/timeutil.h"
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SEED_CANARY =
    "apiVersion: flagger.app/v1beta1\n"
    "kind: Canary\n"
    "metadata:\n"
    "  name: webapp\n"
    "  namespace: webapp\n"
    "spec:\n"
    "  provider: appmesh:v1beta2\n"
    "  targetRef:\n"
    "    apiVersion: apps/v1\n"
    "    kind: Deployment\n"
    "    name: webapp\n"
    "  progressDeadlineSeconds: 60\n"
    "  autoscalerRef:\n"
    "    apiVersion: autoscaling/v2\n"
    "    kind: HorizontalPodAutoscaler\n"
    "    name: webapp\n"
    "  service:\n"
    "    port: 80\n"
    "    targetPort: 8080\n"
    "    timeout: 15s\n"
    "    retries:\n"
    "      attempts: 3\n"
    "      perTryTimeout: 5s\n"
    "      retryOn: \"gateway-error,client-error,stream-error\"\n"
    "    match:\n"
    "      - uri:\n"
    "          prefix: /\n"
    "    rewrite:\n"
    "      uri: /\n"
    "  analysis:\n"
    "    interval: 1m\n"
    "    threshold: 5\n"
    "    maxWeight: 50\n"
    "    stepWeight: 10\n"
    "    metrics:\n"
    "    - name: request-success-rate\n"
    "      thresholdRange:\n"
    "        min: 99\n"
    "      interval: 1m\n"
    "    - name: request-duration\n"
    "      thresholdRange:\n"
    "        max: 500\n"
    "      interval: 30s\n"
    "    webhooks:\n"
    "      - name: acceptance-test\n"
    "        type: pre-rollout\n"
    "        url: http://flagger-loadtester.test/\n"
    "        timeout: 30s\n"
    "        metadata:\n"
    "          type: bash\n"
    "          cmd: \"curl -sd 'test' http://webapp-canary.webapp/ping | grep token\"\n"
    "      - name: load-test\n"
    "        url: http://flagger-loadtester.test/\n"
    "        timeout: 5s\n"
    "        metadata:\n"
    "          cmd: \"hey -z 1m -q 10 -c 2 http://webapp-canary.webapp/\"\n";

typedef void (*fn)(const char *text, size_t len, void *arg);

static void decode_canaryd(const char *text, size_t len, void *arg)
{
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("bench.yaml", text, len, false, "default", &l, &d);
    if (l.n != 1 || d.errors) {
        fprintf(stderr, "bench_decode: the input does not decode\n");
        exit(1);
    }
    cd_object_list_free(&l);
    cd_diags_free(&d);
}

static void parse_libfyaml(const char *text, size_t len, void *arg)
{
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
    struct fy_document *doc = fy_document_build_from_string(&cfg, text, len);
    if (!doc)
        exit(1);
    fy_document_destroy(doc);
}

static void parse_jansson(const char *text, size_t len, void *arg)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    if (!j)
        exit(1);
    json_decref(j);
}

/* Best of 5 rounds of n runs: ns per run. */
static double measure(fn f, const char *text, size_t len, int n)
{
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        int64_t t0 = cd_mono_ns();
        for (int i = 0; i < n; i++)
            f(text, len, NULL);
        double per = (double)(cd_mono_ns() - t0) / n;
        if (per < best)
            best = per;
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *text = SEED_CANARY;
    char *owned = NULL;
    size_t len = strlen(text);
    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        if (!f) {
            perror(argv[1]);
            return 2;
        }
        owned = malloc(1 << 20);
        len = fread(owned, 1, 1 << 20, f);
        fclose(f);
        text = owned;
    }
    /* the same object as JSON, for jansson */
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("bench.yaml", text, len, false, "default", &l, &d);
    if (l.n != 1) {
        fprintf(stderr, "bench_decode: input must hold exactly one valid object\n");
        return 2;
    }
    json_t *j = cd_object_to_json(l.items[0]);
    char *json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cd_object_list_free(&l);
    cd_diags_free(&d);

    int n = 2000;
    decode_canaryd(text, len, NULL);   /* warm up: loads the embedded CRDs once */
    double t_cd = measure(decode_canaryd, text, len, n);
    double t_fy = measure(parse_libfyaml, text, len, n);
    double t_js = measure(parse_jansson, json, strlen(json), n);
    printf("input: %zu bytes of YAML (%zu as JSON)\n", len, strlen(json));
    printf("canaryd decode (parse+validate+defaults): %8.1f us\n", t_cd / 1000);
    printf("libfyaml document build (parse only):     %8.1f us\n", t_fy / 1000);
    printf("jansson json_loadb (parse only, JSON):    %8.1f us\n", t_js / 1000);
    printf("decode/libfyaml ratio: %.2f decode/jansson ratio: %.2f\n", t_cd / t_fy, t_cd / t_js);
    free(json);
    free(owned);
    return 0;
}
