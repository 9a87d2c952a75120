/* fuzz_kube_istio.c - libFuzzer target for the Istio router's pure parts
 * (src/kube/mesh/istio_objects.c). An input starting with '{' is a
 * VirtualService or DestinationRule as a cluster might return it: it goes
 * through the weights, the ownership check, the original spec and being
 * brought in line with a canary's objects. Any other input is a Canary
 * manifest: when it decodes, the objects of a whole run (weights,
 * mirroring, A/B, session affinity and its expiry) are built for it. None
 * may crash, hang or leak on any input. */
#include "kube/mesh/builders.h"
#include "model/object.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char canary_yaml[] =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  provider: istio\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service:\n    port: 9898\n    hosts: [a.example.com]\n    timeout: 30s\n"
    "    gateways: [public]\n    portDiscovery: true\n"
    "    match: [{uri: {prefix: /api}, headers: {x-a: {exact: b}}}]\n"
    "    headers: {response: {add: {x-r: r}}}\n"
    "    trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
    "  analysis:\n    interval: 1m\n    threshold: 5\n    stepWeight: 10\n    mirror: true\n"
    "    mirrorWeight: 40\n"
    "    sessionAffinity: {cookieName: c, primaryCookieName: p, domain: example.com}\n";

static cd_object *decode(const char *text, size_t len)
{
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("fuzz.yaml", text, len, false, "test", &l, &d);
    cd_object *c = l.n && l.items[0]->kind == CD_KIND_CANARY ? cd_object_retain(l.items[0]) : NULL;
    cd_object_list_free(&l);
    cd_diags_free(&d);
    return c;
}

static bool letters(char *out, size_t n)
{
    memset(out, 'x', n);
    return true;
}

static void run_objects(const cd_object *c, const json_t *live)
{
    static const int steps[][3] = {{100, 0, 0}, {90, 10, 0}, {0, 100, 1}, {100, 0, 1}, {-5, 300, 0}};
    json_t *o = cd_object_to_json(c);
    cdk_istio_in in = {&c->spec.canary, &c->meta, json_object_get(o, "spec"), NULL, letters};
    const char *svc = cd_canary_service_name(&c->spec.canary);
    cd_canary_status st;
    cd_status_init(&st);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cd_err err = {{0}};
        json_t *spec = cdk_istio_vs_spec(&in, steps[i][0], steps[i][1], steps[i][2], &st, &err);
        if (!spec)
            continue;
        json_t *vs = cdk_istio_vs_object(&in, spec);
        int p, w;
        bool m;
        cdk_istio_get_weights(vs, svc, i % 2, c->spec.canary.analysis.session_affinity.set, &p, &w, &m,
                              &err);
        if (live) {
            cdk_istio_vs_writable(live, &in, &err);
            json_decref(cdk_istio_vs_update(live, vs, &in));
        }
        json_decref(vs);
    }
    json_t *dr = cdk_istio_dr_object(&in, "podinfo-canary");
    if (live)
        json_decref(cdk_istio_dr_update(live, dr));
    json_decref(dr);
    cd_status_free(&st);
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    if (size && data[0] == '{') {
        json_t *live = json_loadb((const char *)data, size, 0, NULL);
        if (!live)
            return 0;
        static cd_object *c;
        if (!c)
            c = decode(canary_yaml, strlen(canary_yaml));
        cd_err err = {{0}};
        int p, w;
        bool m;
        for (int tcp = 0; tcp < 2; tcp++)
            for (int sa = 0; sa < 2; sa++)
                cdk_istio_get_weights(live, "podinfo", tcp, sa, &p, &w, &m, &err);
        json_t *orig = NULL;
        cdk_istio_original_spec(live, &orig, &err);
        json_decref(orig);
        if (c)
            run_objects(c, live);
        json_decref(live);
        return 0;
    }
    cd_object *c = decode((const char *)data, size);
    if (c) {
        run_objects(c, NULL);
        cd_object_free(c);
    }
    return 0;
}
