/* fuzz_kube_gatewayapi.c - libFuzzer target for the Gateway API router's
 * pure parts (src/kube/mesh/gatewayapi_route.c, gatewayapi_live.c). An
 * input starting with '{' is an HTTPRoute as a cluster might return it:
 * it goes through the normal form, the parents' readiness, the weights and
 * being brought in line with canaries' routes. Any other input is a Canary
 * manifest: when it decodes, the routes of a whole run (weights, mirroring,
 * session affinity, A/B) are built for it, v1 and v1beta1. None may crash,
 * hang or leak on any input. */
#include "kube/mesh/builders.h"
#include "model/object.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char canary_yaml[] =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  provider: gatewayapi:v1\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service:\n    port: 9898\n    hosts: [a.example.com]\n    timeout: 30s\n"
    "    gatewayRefs: [{name: gw, namespace: infra}]\n"
    "    match: [{uri: {prefix: /api}, headers: {x-a: {exact: b}}}]\n"
    "    headers: {response: {add: {x-r: r}}}\n"
    "  analysis:\n    interval: 1m\n    threshold: 5\n    stepWeight: 10\n    mirror: true\n"
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

static void run_routes(const cd_object *c, const json_t *live)
{
    static const int steps[][3] = {{100, 0, 0}, {90, 10, 0}, {0, 100, 1}, {100, 0, 1}, {-5, 300, 0}};
    for (int beta = 0; beta < 2; beta++) {
        cdk_route_in in = {&c->spec.canary, &c->meta, NULL, beta, letters};
        cd_canary_status st;
        cd_status_init(&st);
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            cd_err err = {{0}};
            json_t *spec = cdk_httproute_spec(&in, steps[i][0], steps[i][1], steps[i][2], &st, &err);
            if (!spec)
                continue;
            json_t *route = cdk_httproute_object(&in, spec);
            int p, w;
            bool m;
            cdk_httproute_get_weights(route, cd_canary_service_name(&c->spec.canary),
                                      c->spec.canary.analysis.session_affinity.set, &p, &w, &m, &err);
            if (live) {
                json_t *upd = cdk_httproute_update(live, route, &in, (cd_phase)(i % 12));
                json_decref(upd);
            }
            json_decref(route);
        }
        cd_status_free(&st);
    }
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
        json_t *n = cdk_httproute_normalize(json_object_get(live, "spec"));
        json_decref(n);
        cd_err err = {{0}};
        cdk_httproute_parents_ready(live, &err);
        int p, w;
        bool m;
        cdk_httproute_get_weights(live, "podinfo", true, &p, &w, &m, &err);
        cdk_httproute_get_weights(live, "podinfo", false, &p, &w, &m, &err);
        if (c)
            run_routes(c, live);
        json_decref(live);
        return 0;
    }
    cd_object *c = decode((const char *)data, size);
    if (c) {
        run_routes(c, NULL);
        cd_object_free(c);
    }
    return 0;
}
