/* test_kube_nginx.c - provider nginx's pure builders (src/kube/mesh/
 * nginx_objects.c, Flagger's IngressRouter): the canary Ingress copied
 * from the user's, the canary annotations at each weight and in A/B mode,
 * reading them back, and the refusals of what NGINX cannot do. Every
 * Ingress built is checked against the networking.k8s.io/v1 Ingress
 * schema of a real API server (shared/conformance/kube-api/
 * openapi-v2.json.gz, its $refs inlined into a structural schema) with
 * canaryd's validator, unknown fields counting as errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "model/object.h"
#include "model/schema.h"
#include "kubefix.h"

#include "ingressfix.h"

static void test_schema_rejects(void **state)
{
    const cd_crd_version *crd = ingress_schema();
    /* a path without pathType (required), a port number as a string */
    json_t *bad = obj("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":"
                      "{\"name\":\"x\"},\"spec\":{\"rules\":[{\"http\":{\"paths\":[{\"path\":\"/\","
                      "\"backend\":{\"service\":{\"name\":\"a\",\"port\":{\"number\":\"80\"}}}}]}}],"
                      "\"bogus\":1}}");
    cd_stream *s = cd_stream_from_json("bad", bad);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd->schema, s->docs[0].root, NULL, "", &d);
    assert_true(d.n >= 3);
    cd_diags_free(&d);
    cd_stream_free(s);
    json_decref(bad);
}

/* ---- fixtures ------------------------------------------------------------------------ */

static const char *const CANARY_WEIGHTED =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  provider: nginx\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}\n"
    "  service: {port: 80, targetPort: 9898}\n"
    "  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}\n";

static const char *const CANARY_AB =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  provider: nginx\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}\n"
    "  service: {port: 80, targetPort: 9898}\n"
    "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 10\n    match:\n"
    "    - headers: {x-canary: {exact: insider}}\n    - headers: {cookie: {exact: canary}}\n";

static const char *const USER_INGRESS =
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"podinfo\","
    "\"namespace\":\"test\",\"uid\":\"u1\",\"resourceVersion\":\"7\",\"labels\":{\"app\":\"podinfo\"},"
    "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\","
    "\"nginx.ingress.kubernetes.io/canary-weight\":\"30\",\"nginx.ingress.kubernetes.io/"
    "proxy-body-size\":\"8m\",\"kustomize.toolkit.fluxcd.io/reconcile\":\"enabled\"}},"
    "\"spec\":{\"ingressClassName\":\"nginx\",\"rules\":[{\"host\":\"app.example.com\",\"http\":{"
    "\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"podinfo\","
    "\"port\":{\"number\":80}}}},{\"path\":\"/static\",\"pathType\":\"Prefix\",\"backend\":{\"service\":"
    "{\"name\":\"cdn\",\"port\":{\"name\":\"http\"}}}}]}}]},\"status\":{\"loadBalancer\":{}}}";

static cdk_nginx_in in_for(const cd_object *c)
{
    cdk_nginx_in in = {&c->spec.canary, "test", "podinfo", NULL, NULL};
    return in;
}

static const char *ann(const json_t *ing, const char *suffix)
{
    char k[200];
    snprintf(k, sizeof k, "nginx.ingress.kubernetes.io/%s", suffix);
    return json_string_value(json_object_get(kj_at(ing, "metadata.annotations"), k));
}

static json_t *canary_ingress(const cd_object *c, const json_t *owner)
{
    cdk_nginx_in in = in_for(c);
    in.owner_ref = owner;
    json_t *user = obj(USER_INGRESS);
    char name[300];
    cd_err err = {{0}};
    assert_true(cdk_ingress_canary_name("nginx", &c->spec.canary, name, sizeof name, &err));
    assert_string_equal(name, "podinfo-canary");
    json_t *ing = cdk_nginx_canary_ingress(&in, user, name, &err);
    json_decref(user);
    assert_non_null(ing);
    return ing;
}

/* ---- the canary Ingress ---------------------------------------------------------------- */

static void test_canary_ingress(void **state)
{
    cd_object *c = canary(CANARY_WEIGHTED);
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"podinfo\","
                        "\"uid\":\"c1\",\"controller\":true,\"blockOwnerDeletion\":true}");
    json_t *ing = canary_ingress(c, owner);
    assert_schema_valid(ingress_schema(), ing);
    assert_string_equal(S(ing, "metadata.name"), "podinfo-canary");
    assert_string_equal(S(ing, "metadata.namespace"), "test");
    assert_null(kj_at(ing, "metadata.uid"));
    assert_null(kj_at(ing, "metadata.resourceVersion"));
    assert_null(json_object_get(ing, "status"));
    assert_string_equal(S(ing, "metadata.labels.app"), "podinfo");
    assert_string_equal(S(json_array_get(kj_at(ing, "metadata.ownerReferences"), 0), "uid"), "c1");
    /* the apex backend sent to the canary Service, the other kept */
    json_t *paths = kj_at(json_array_get(kj_at(ing, "spec.rules"), 0), "http.paths");
    assert_string_equal(S(json_array_get(paths, 0), "backend.service.name"), "podinfo-canary");
    assert_int_equal(kj_int(json_array_get(paths, 0), "backend.service.port.number", 0), 80);
    assert_string_equal(S(json_array_get(paths, 1), "backend.service.name"), "cdn");
    assert_string_equal(S(ing, "spec.ingressClassName"), "nginx");
    /* annotations: the user's without canary ones and last-applied, Flux off,
     * canary "true" at weight "0" */
    json_t *a = kj_at(ing, "metadata.annotations");
    assert_string_equal(ann(ing, "canary"), "true");
    assert_string_equal(ann(ing, "canary-weight"), "0");
    assert_string_equal(ann(ing, "proxy-body-size"), "8m");
    assert_null(json_object_get(a, "kubectl.kubernetes.io/last-applied-configuration"));
    assert_string_equal(json_string_value(json_object_get(a, "kustomize.toolkit.fluxcd.io/reconcile")),
                        "disabled");
    assert_string_equal(json_string_value(json_object_get(a, "helm.toolkit.fluxcd.io/driftDetection")),
                        "disabled");
    json_decref(ing);
    json_decref(owner);
    cd_object_free(c);
}

static void test_backend_missing(void **state)
{
    cd_object *c = canary(CANARY_WEIGHTED);
    cdk_nginx_in in = in_for(c);
    in.svc = "other";
    json_t *user = obj(USER_INGRESS);
    cd_err err = {{0}};
    assert_null(cdk_nginx_canary_ingress(&in, user, "podinfo-canary", &err));
    assert_string_equal(err.msg, "backend other not found in ingress podinfo");
    /* any JSON: no crash, same refusal */
    json_t *junk = obj("{\"spec\":{\"rules\":[1,{\"http\":{\"paths\":[null,{\"backend\":7}]}}]}}");
    assert_null(cdk_nginx_canary_ingress(&in, junk, "x", &err));
    json_decref(junk);
    json_decref(user);
    cd_object_free(c);
}

static void test_update_keeps_weights(void **state)
{
    cd_object *c = canary(CANARY_WEIGHTED);
    json_t *want = canary_ingress(c, NULL);
    json_t *live = json_deep_copy(want);
    json_object_set_new(json_object_get(live, "metadata"), "resourceVersion", json_string("9"));
    cdk_nginx_in in = in_for(c);
    cdk_nginx_ab ab;
    cd_err err = {{0}};
    assert_true(cdk_nginx_check(&c->spec.canary, &ab, &err));
    cdk_nginx_set_routes(live, &in, &ab, 40);
    assert_null(cdk_nginx_update(live, want));   /* same spec: nothing to write */
    /* the user changed a path: spec follows, weight and resourceVersion kept */
    json_object_set_new(json_array_get(kj_at(json_array_get(kj_at(want, "spec.rules"), 0), "http.paths"), 0),
                        "path", json_string("/api"));
    json_t *upd = cdk_nginx_update(live, want);
    assert_non_null(upd);
    assert_true(json_equal(json_object_get(upd, "spec"), json_object_get(want, "spec")));
    assert_string_equal(ann(upd, "canary-weight"), "40");
    assert_string_equal(S(upd, "metadata.resourceVersion"), "9");
    assert_schema_valid(ingress_schema(), upd);
    json_decref(upd);
    json_decref(live);
    json_decref(want);
    cd_object_free(c);
}

/* ---- weights ------------------------------------------------------------------------------ */

static void test_weights_step(void **state)
{
    cd_object *c = canary(CANARY_WEIGHTED);
    cdk_nginx_in in = in_for(c);
    cdk_nginx_ab ab;
    cd_err err = {{0}};
    assert_true(cdk_nginx_check(&c->spec.canary, &ab, &err));
    json_t *ing = canary_ingress(c, NULL);
    int p, w;
    assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(p, 100);
    assert_int_equal(w, 0);
    for (int step = 10; step <= 50; step += 10) {
        cdk_nginx_set_routes(ing, &in, &ab, step);
        char want[8];
        snprintf(want, sizeof want, "%d", step);
        assert_string_equal(ann(ing, "canary-weight"), want);
        assert_string_equal(ann(ing, "canary"), "true");
        assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
        assert_int_equal(w, step);
        assert_int_equal(p, 100 - step);
        assert_schema_valid(ingress_schema(), ing);
    }
    /* promotion / rollback: back to 0, the user's other annotations kept */
    cdk_nginx_set_routes(ing, &in, &ab, 0);
    assert_string_equal(ann(ing, "canary-weight"), "0");
    assert_string_equal(ann(ing, "proxy-body-size"), "8m");
    assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(w, 0);
    /* a weight that is no number is an error naming the annotation */
    json_object_set_new(kj_at(ing, "metadata.annotations"), "nginx.ingress.kubernetes.io/canary-weight",
                        json_string("ten"));
    assert_false(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_string_equal(err.msg, "ingress podinfo-canary.test annotation "
                                 "nginx.ingress.kubernetes.io/canary-weight: \"ten\" is not a weight "
                                 "(0 to 100)");
    json_object_set_new(kj_at(ing, "metadata.annotations"), "nginx.ingress.kubernetes.io/canary-weight",
                        json_string("101"));
    assert_false(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    json_decref(ing);
    cd_object_free(c);
}

static void test_prefix(void **state)
{
    cd_object *c = canary(CANARY_WEIGHTED);
    cdk_nginx_in in = in_for(c);
    in.prefix = "custom.ingress.kubernetes.io";
    cdk_nginx_ab ab;
    cd_err err = {{0}};
    assert_true(cdk_nginx_check(&c->spec.canary, &ab, &err));
    json_t *ing = canary_ingress(c, NULL);
    cdk_nginx_set_routes(ing, &in, &ab, 20);
    json_t *a = kj_at(ing, "metadata.annotations");
    assert_string_equal(json_string_value(json_object_get(a, "custom.ingress.kubernetes.io/canary-weight")),
                        "20");
    assert_string_equal(json_string_value(json_object_get(a, "custom.ingress.kubernetes.io/canary")),
                        "true");
    int p, w;
    assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(w, 20);
    json_decref(ing);
    cd_object_free(c);
}

static void test_ab(void **state)
{
    cd_object *c = canary(CANARY_AB);
    cdk_nginx_in in = in_for(c);
    cdk_nginx_ab ab;
    cd_err err = {{0}};
    assert_true(cdk_nginx_check(&c->spec.canary, &ab, &err));
    assert_string_equal(ab.header, "x-canary");
    assert_string_equal(ab.value, "insider");
    assert_null(ab.pattern);
    assert_string_equal(ab.cookie, "canary");
    json_t *ing = canary_ingress(c, NULL);
    int p, w;
    assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(w, 0);
    cdk_nginx_set_routes(ing, &in, &ab, 100);
    assert_string_equal(ann(ing, "canary"), "true");
    assert_string_equal(ann(ing, "canary-by-header"), "x-canary");
    assert_string_equal(ann(ing, "canary-by-header-value"), "insider");
    assert_null(ann(ing, "canary-by-header-pattern"));
    assert_string_equal(ann(ing, "canary-by-cookie"), "canary");
    assert_string_equal(ann(ing, "canary-weight"), "0");   /* no weighted traffic */
    assert_schema_valid(ingress_schema(), ing);
    assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(p, 0);
    assert_int_equal(w, 100);
    /* promotion: A/B annotations dropped */
    cdk_nginx_set_routes(ing, &in, &ab, 0);
    assert_null(ann(ing, "canary-by-header"));
    assert_null(ann(ing, "canary-by-header-value"));
    assert_null(ann(ing, "canary-by-cookie"));
    assert_string_equal(ann(ing, "canary-weight"), "0");
    assert_true(cdk_nginx_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(w, 0);
    json_decref(ing);
    cd_object_free(c);
}

static void test_ab_regex(void **state)
{
    cd_object *c = canary(
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
        "spec:\n  provider: nginx\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
        "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}\n"
        "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 5\n    match:\n"
        "    - headers: {user-agent: {regex: \".*Firefox.*\"}}\n");
    cdk_nginx_in in = in_for(c);
    cdk_nginx_ab ab;
    cd_err err = {{0}};
    assert_true(cdk_nginx_check(&c->spec.canary, &ab, &err));
    json_t *ing = canary_ingress(c, NULL);
    cdk_nginx_set_routes(ing, &in, &ab, 100);
    assert_string_equal(ann(ing, "canary-by-header"), "user-agent");
    assert_string_equal(ann(ing, "canary-by-header-pattern"), ".*Firefox.*");
    assert_null(ann(ing, "canary-by-header-value"));
    assert_null(ann(ing, "canary-by-cookie"));
    json_decref(ing);
    cd_object_free(c);
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void refused(const char *analysis, const char *want)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
             "spec:\n  provider: nginx\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
             "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}\n"
             "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n%s",
             analysis);
    cd_object *c = canary(yaml);
    cdk_nginx_ab ab;
    cd_err err = {{0}};
    assert_false(cdk_nginx_check(&c->spec.canary, &ab, &err));
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
    assert_non_null(strstr(err.msg, "provider nginx cannot "));
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    refused("    stepWeight: 10\n    maxWeight: 50\n    mirror: true\n",
            "cannot mirror traffic (analysis.mirror)");
    refused("    stepWeight: 10\n    maxWeight: 50\n    sessionAffinity: {cookieName: c}\n",
            "(analysis.sessionAffinity)");
    refused("    iterations: 5\n    match:\n    - uri: {prefix: /api}\n",
            "match requests by uri (analysis.match[0].uri)");
    refused("    iterations: 5\n    match:\n    - headers: {x-a: {exact: a}}\n"
            "    - headers: {x-b: {exact: b}}\n",
            "match two headers (x-a and x-b, analysis.match[1])");
    refused("    iterations: 5\n    match:\n    - headers: {x-a: {prefix: a}}\n",
            "match header x-a by prefix or suffix");
    refused("    iterations: 5\n    match:\n    - headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}\n",
            "match a cookie other than by its name");
    refused("    iterations: 5\n    match:\n    - queryParams: {a: {exact: b}}\n",
            "match requests by queryParams");
    /* no ingressRef */
    cd_object *c = canary("apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: p, namespace: t}\n"
                          "spec:\n  provider: nginx\n  targetRef: {apiVersion: apps/v1, kind: Deployment, "
                          "name: p}\n  service: {port: 80}\n"
                          "  analysis: {interval: 1m, threshold: 5, iterations: 3}\n");
    char name[300];
    cd_err err = {{0}};
    assert_false(cdk_ingress_canary_name("nginx", &c->spec.canary, name, sizeof name, &err));
    assert_string_equal(err.msg, "provider nginx needs spec.ingressRef.name (the Ingress to copy)");
    cd_object_free(c);
}

static void test_router_table(void **state)
{
    cd_err err = {{0}};
    assert_ptr_equal(cdk_router_find("nginx", &err), &cdk_router_nginx);
    assert_non_null(strstr(cdk_router_names(), "nginx"));
    /* every ingress/mesh router refuses what it cannot do before the
     * Services and the primary are written */
    static const char *const all[] = {"nginx", "contour", "traefik", "skipper", "apisix", "linkerd",
                                      "osm", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "kuma"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const cdk_mesh_router *r = cdk_router_find(all[i], &err);
        assert_non_null(r);
        assert_non_null(r->precheck);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_rejects),     cmocka_unit_test(test_canary_ingress),
        cmocka_unit_test(test_backend_missing),    cmocka_unit_test(test_update_keeps_weights),
        cmocka_unit_test(test_weights_step),       cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_ab),                 cmocka_unit_test(test_ab_regex),
        cmocka_unit_test(test_refusals),           cmocka_unit_test(test_router_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
