/* fuzz_kube_ingress.c - libFuzzer target for the ingress routers' pure
 * parts (src/kube/mesh/nginx_objects.c, contour_objects.c,
 * traefik_objects.c, skipper_objects.c, smi_objects.c, apisix_objects.c,
 * kuma_objects.c, gloo_objects.c). An input starting with '{' is an
 * object as a cluster might return it (the user's Ingress, a canary
 * Ingress, an HTTPProxy, a TraefikService, a RouteTable or Upstream): the
 * canary Ingress is built from it, and it is read for weights, brought in
 * line and given new weights by every router. Any other input is a Canary
 * manifest: when it decodes, every router checks it and builds its
 * objects for a whole run. None may crash, hang or leak on any input. */
#include "kube/mesh/ingress.h"
#include "model/object.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char canary_yaml[] =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}\n"
    "  service:\n    port: 9898\n    timeout: 30s\n    retries: {attempts: 2, retryOn: 5xx}\n"
    "    apex: {labels: {a: b}}\n"
    "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 5\n"
    "    match: [{headers: {x-a: {exact: b}, cookie: {exact: c}}}]\n";

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

static const int steps[][2] = {{100, 0}, {90, 10}, {0, 100}, {-5, 300}};

static void nginx(const cd_canary_spec *s, const json_t *live)
{
    cd_err err = {{0}};
    cdk_nginx_ab ab;
    bool ok = cdk_nginx_check(s, &ab, &err);
    char name[300];
    cdk_ingress_canary_name("nginx", s, name, sizeof name, &err);
    cdk_nginx_in in = {s, "test", "podinfo", NULL, NULL};
    json_t *user = live ? json_incref((json_t *)live)
                        : json_pack("{s:{s:[{s:{s:[{s:s, s:s, s:{s:{s:s, s:{s:i}}}}]}}]}}", "spec",
                                    "rules", "http", "paths", "path", "/", "pathType", "Prefix",
                                    "backend", "service", "name", "podinfo", "port", "number", 80);
    json_t *ing = cdk_nginx_canary_ingress(&in, user, "podinfo-canary", &err);
    if (!ing)
        ing = json_deep_copy(user);
    for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++) {
        int p, w;
        cdk_nginx_set_routes(ing, &in, &ab, steps[i][1]);
        cdk_nginx_get_routes(ing, &in, &p, &w, &err);
    }
    if (live) {
        int p, w;
        cdk_nginx_get_routes(live, &in, &p, &w, &err);
        json_decref(cdk_nginx_update(live, ing));
    }
    json_decref(ing);
    json_decref(user);
}

static void contour(const cd_canary_spec *s, const json_t *live)
{
    cd_err err = {{0}};
    if (!cdk_contour_check(s, &err) && !live)
        return;
    cdk_contour_in in = {s, "test", "podinfo", "contour", NULL};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        json_t *o = cdk_contour_object(&in, cdk_contour_spec(&in, steps[i][0], steps[i][1]));
        int p, w;
        cdk_contour_get_weights(o, "podinfo", &p, &w, &err);
        if (live) {
            cdk_contour_get_weights(live, "podinfo", &p, &w, &err);
            json_decref(cdk_contour_update(live, o));
        }
        json_decref(o);
    }
}

static void traefik(const cd_canary_spec *s, const json_t *live)
{
    cd_err err = {{0}};
    if (!cdk_traefik_check(s, &err) && !live)
        return;
    cdk_traefik_in in = {s, "test", "podinfo", NULL};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        json_t *o = cdk_traefik_object(&in, cdk_traefik_spec(&in, steps[i][0], steps[i][1]));
        int p, w;
        cdk_traefik_get_weights(o, "podinfo", &p, &w, &err);
        if (live) {
            cdk_traefik_get_weights(live, "podinfo", &p, &w, &err);
            json_decref(cdk_traefik_update(live, o));
        }
        json_decref(o);
    }
}

static void skipper(const cd_canary_spec *s, const json_t *live)
{
    cd_err err = {{0}};
    cdk_skipper_check(s, &err);
    cdk_skipper_in in = {s, "test", "podinfo", NULL};
    json_t *user = live ? json_incref((json_t *)live)
                        : json_pack("{s:{s:[{s:{s:[{s:s, s:{s:{s:s}}}]}}]}}", "spec", "rules", "http",
                                    "paths", "path", "/", "backend", "service", "name", "podinfo");
    json_t *ing = cdk_skipper_canary_ingress(&in, user, "podinfo-canary", &err);
    if (!ing)
        ing = json_deep_copy(user);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int p, w;
        cdk_skipper_set_routes(ing, &in, steps[i][0], steps[i][1]);
        cdk_skipper_get_routes(ing, &in, &p, &w, &err);
    }
    if (live) {
        int p, w;
        cdk_skipper_get_routes(live, &in, &p, &w, &err);
        json_decref(cdk_skipper_update(live, ing));
    }
    json_decref(ing);
    json_decref(user);
}

static void smi(const cd_canary_spec *s, const json_t *live)
{
    static const char *const versions[] = {"v1alpha1", "v1alpha2", "v1alpha3"};
    for (size_t v = 0; v < 3; v++) {
        cd_err err = {{0}};
        cdk_smi_in in = {s, "test", "podinfo", "linkerd", versions[v], NULL};
        cdk_smi_check(&in, &err);
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            json_t *o = cdk_smi_object(&in, cdk_smi_spec(&in, steps[i][0], steps[i][1]));
            int p, w;
            cdk_smi_get_weights(o, "podinfo", &p, &w, &err);
            if (live) {
                cdk_smi_get_weights(live, "podinfo", &p, &w, &err);
                json_decref(cdk_smi_update(live, o));
            }
            json_decref(o);
        }
    }
}

static void apisix(const cd_canary_spec *s, const json_t *live)
{
    cd_err err = {{0}};
    cdk_apisix_check(s, &err);
    cdk_apisix_in in = {s, "test", "podinfo", NULL};
    json_t *user = live ? json_incref((json_t *)live)
                        : json_pack("{s:{s:[{s:s, s:[{s:s, s:i}]}]}}", "spec", "http", "name", "r",
                                    "backends", "serviceName", "podinfo", "servicePort", 80);
    json_t *r = cdk_apisix_canary_route(&in, user, "podinfo-podinfo-canary", &err);
    if (!r)
        r = json_deep_copy(user);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int p, w;
        cdk_apisix_set_weights(r, "podinfo", steps[i][0], steps[i][1]);
        cdk_apisix_get_weights(r, "podinfo", &p, &w, &err);
    }
    if (live)
        json_decref(cdk_apisix_update(live, r, "podinfo"));
    json_decref(r);
    json_decref(user);
}

static void kuma(const cd_object *c, const json_t *live)
{
    cd_err err = {{0}};
    cdk_kuma_check(&c->spec.canary, &err);
    cdk_kuma_in in = {&c->spec.canary, &c->meta, "podinfo"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        json_t *o = cdk_kuma_object(&in, cdk_kuma_spec(&in, steps[i][0], steps[i][1]));
        int p, w;
        cdk_kuma_get_weights(o, &in, &p, &w, &err);
        if (live) {
            cdk_kuma_get_weights(live, &in, &p, &w, &err);
            json_decref(cdk_kuma_update(live, o));
        }
        json_decref(o);
    }
}

static void gloo(const cd_canary_spec *s, const json_t *live)
{
    cd_err err = {{0}};
    if (!cdk_gloo_check(s, &err) && !live)
        return;
    cdk_gloo_in in = {s, "test", "podinfo", NULL};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        json_t *o = cdk_gloo_object(&in, cdk_gloo_spec(&in, steps[i][0], steps[i][1]));
        int p, w;
        cdk_gloo_get_weights(o, &in, &p, &w, &err);
        if (live) {
            cdk_gloo_get_weights(live, &in, &p, &w, &err);
            json_decref(cdk_gloo_update(live, o));
        }
        json_decref(o);
    }
    json_t *us = cdk_gloo_upstream(&in, true, live ? json_object_get(live, "selector") : NULL, live);
    if (live)
        json_decref(cdk_gloo_upstream_update(live, us));
    json_decref(us);
}

static void run(const cd_canary_spec *s, const json_t *live)
{
    smi(s, live);
    apisix(s, live);
    skipper(s, live);
    nginx(s, live);
    contour(s, live);
    traefik(s, live);
    gloo(s, live);
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
        if (c) {
            run(&c->spec.canary, live);
            kuma(c, live);
        }
        json_decref(live);
        return 0;
    }
    cd_object *c = decode((const char *)data, size);
    if (c) {
        run(&c->spec.canary, NULL);
        kuma(c, NULL);
        cd_object_free(c);
    }
    return 0;
}
