/* test_kube_skipper.c - provider skipper's pure builders (src/kube/mesh/
 * skipper_objects.c, Flagger's SkipperRouter): the canary Ingress with
 * each path split to the primary and the canary, the backend-weights and
 * predicate annotations at each weight, reading them back, and the
 * refusals. Every Ingress built is checked against the networking.k8s.io/v1
 * Ingress schema of a real API server (ingressfix.h). */
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

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  provider: skipper\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n" \
    "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo-ingress}\n"

static const char *const CANARY =
    HEAD "  service: {port: 80, targetPort: 9898}\n"
         "  analysis: {interval: 10s, threshold: 5, maxWeight: 50, stepWeight: 10}\n";

static const char *const USER_INGRESS =
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"podinfo-ingress\","
    "\"namespace\":\"test\",\"uid\":\"u\",\"labels\":{\"app\":\"podinfo\"},\"annotations\":{"
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\",\"zalando.org/skipper-predicate\":"
    "\"Header(\\\"X-Env\\\", \\\"prod\\\")\"}},\"spec\":{\"ingressClassName\":\"skipper\",\"rules\":[{\"host\":"
    "\"app.example.com\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":"
    "{\"name\":\"podinfo\",\"port\":{\"number\":80}}}},{\"path\":\"/cdn\",\"pathType\":\"Prefix\","
    "\"backend\":{\"service\":{\"name\":\"cdn\",\"port\":{\"number\":80}}}}]}}]}}";

static cdk_skipper_in in_for(const cd_object *c)
{
    cdk_skipper_in in = {&c->spec.canary, "test", "podinfo", NULL};
    return in;
}

static const char *ann(const json_t *ing, const char *key)
{
    return json_string_value(json_object_get(kj_at(ing, "metadata.annotations"), key));
}

static json_t *build(const cd_object *c)
{
    cdk_skipper_in in = in_for(c);
    char name[300];
    cd_err err = {{0}};
    assert_true(cdk_ingress_canary_name("skipper", &c->spec.canary, name, sizeof name, &err));
    json_t *user = obj(USER_INGRESS);
    json_t *ing = cdk_skipper_canary_ingress(&in, user, name, &err);
    json_decref(user);
    assert_non_null(ing);
    return ing;
}

static void test_canary_ingress(void **state)
{
    cd_object *c = canary(CANARY);
    json_t *ing = build(c);
    assert_schema_valid(ingress_schema(), ing);
    assert_string_equal(S(ing, "metadata.name"), "podinfo-ingress-canary");
    assert_null(kj_at(ing, "metadata.uid"));
    assert_string_equal(S(ing, "metadata.labels.app"), "podinfo");
    json_t *paths = kj_at(json_array_get(kj_at(ing, "spec.rules"), 0), "http.paths");
    assert_int_equal(json_array_size(paths), 3);
    assert_string_equal(S(json_array_get(paths, 0), "backend.service.name"), "podinfo-primary");
    assert_string_equal(S(json_array_get(paths, 1), "backend.service.name"), "podinfo-canary");
    assert_string_equal(S(json_array_get(paths, 1), "path"), "/");
    assert_string_equal(S(json_array_get(paths, 2), "backend.service.name"), "cdn");
    assert_string_equal(ann(ing, CDK_SKIPPER_WEIGHTS), "{\"podinfo-canary\":0,\"podinfo-primary\":100}");
    assert_string_equal(ann(ing, CDK_SKIPPER_PREDICATE), "Weight(100) && Header(\"X-Env\", \"prod\")");
    assert_null(ann(ing, "kubectl.kubernetes.io/last-applied-configuration"));
    assert_string_equal(ann(ing, "kustomize.toolkit.fluxcd.io/reconcile"), "disabled");
    cdk_skipper_in in = in_for(c);
    int p, w;
    cd_err err = {{0}};
    assert_true(cdk_skipper_get_routes(ing, &in, &p, &w, &err));
    assert_int_equal(p, 100);
    assert_int_equal(w, 0);
    /* no path to the apex Service */
    in.svc = "other";
    json_t *user = obj(USER_INGRESS);
    assert_null(cdk_skipper_canary_ingress(&in, user, "x", &err));
    assert_string_equal(err.msg, "backend other not found in ingress podinfo-ingress");
    json_decref(user);
    json_decref(ing);
    cd_object_free(c);
}

static void test_weights(void **state)
{
    cd_object *c = canary(CANARY);
    cdk_skipper_in in = in_for(c);
    json_t *ing = build(c);
    cd_err err = {{0}};
    for (int w = 10; w <= 50; w += 10) {
        cdk_skipper_set_routes(ing, &in, 100 - w, w);
        char want[80];
        snprintf(want, sizeof want, "{\"podinfo-canary\":%d,\"podinfo-primary\":%d}", w, 100 - w);
        assert_string_equal(ann(ing, CDK_SKIPPER_WEIGHTS), want);
        assert_string_equal(ann(ing, CDK_SKIPPER_PREDICATE), "Weight(100) && Header(\"X-Env\", \"prod\")");
        int p, cw;
        assert_true(cdk_skipper_get_routes(ing, &in, &p, &cw, &err));
        assert_int_equal(p, 100 - w);
        assert_int_equal(cw, w);
        assert_schema_valid(ingress_schema(), ing);
    }
    /* weight 0: the canary Ingress switched off, the user's predicate kept */
    cdk_skipper_set_routes(ing, &in, 100, 0);
    assert_string_equal(ann(ing, CDK_SKIPPER_PREDICATE), "False() && Header(\"X-Env\", \"prod\")");
    assert_string_equal(ann(ing, CDK_SKIPPER_WEIGHTS), "{\"podinfo-canary\":0,\"podinfo-primary\":100}");
    /* broken annotations: errors naming the annotation */
    json_object_set_new(kj_at(ing, "metadata.annotations"), CDK_SKIPPER_WEIGHTS, json_string("{\"a\":1}"));
    int p, cw;
    assert_false(cdk_skipper_get_routes(ing, &in, &p, &cw, &err));
    assert_non_null(strstr(err.msg, "does not give podinfo-primary and podinfo-canary a weight"));
    json_object_del(kj_at(ing, "metadata.annotations"), CDK_SKIPPER_WEIGHTS);
    assert_false(cdk_skipper_get_routes(ing, &in, &p, &cw, &err));
    assert_string_equal(err.msg, "ingress podinfo-ingress-canary.test has no annotation "
                                 "zalando.org/backend-weights");
    json_decref(ing);
    cd_object_free(c);
}

static void test_update(void **state)
{
    cd_object *c = canary(CANARY);
    cdk_skipper_in in = in_for(c);
    json_t *want = build(c);
    json_t *live = json_deep_copy(want);
    cdk_skipper_set_routes(live, &in, 70, 30);
    assert_null(cdk_skipper_update(live, want));
    json_object_set_new(json_array_get(kj_at(json_array_get(kj_at(want, "spec.rules"), 0), "http.paths"), 2),
                        "path", json_string("/static"));
    json_t *upd = cdk_skipper_update(live, want);
    assert_non_null(upd);
    assert_string_equal(ann(upd, CDK_SKIPPER_WEIGHTS), "{\"podinfo-canary\":30,\"podinfo-primary\":70}");
    assert_true(json_equal(json_object_get(upd, "spec"), json_object_get(want, "spec")));
    json_decref(upd);
    json_decref(live);
    json_decref(want);
    cd_object_free(c);
}

static void refused(const char *analysis, const char *want)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n%s",
             analysis);
    cd_object *c = canary(yaml);
    cd_err err = {{0}};
    assert_false(cdk_skipper_check(&c->spec.canary, &err));
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    refused("    maxWeight: 50\n    stepWeight: 10\n    mirror: true\n",
            "provider skipper cannot mirror traffic (analysis.mirror)");
    refused("    maxWeight: 50\n    stepWeight: 10\n    sessionAffinity: {cookieName: c}\n",
            "provider skipper cannot pin sessions to the canary (analysis.sessionAffinity)");
    refused("    iterations: 5\n    match:\n    - headers: {x-canary: {exact: insider}}\n",
            "provider skipper cannot route requests by header, cookie or path (analysis.match");
    cd_err err = {{0}};
    assert_ptr_equal(cdk_router_find("skipper", &err), &cdk_router_skipper);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canary_ingress), cmocka_unit_test(test_weights),
        cmocka_unit_test(test_update),         cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
