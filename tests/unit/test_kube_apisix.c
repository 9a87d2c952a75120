/* test_kube_apisix.c - provider apisix's pure builders (src/kube/mesh/
 * apisix_objects.c, Flagger's ApisixRouter): the canary ApisixRoute copied
 * from the user's, its weights, how a live one is brought in line and
 * read, and the refusals. Every route built is checked against the real
 * apisix.apache.org CRD (shared/conformance/crds/apisix) with canaryd's
 * validator, unknown fields counting as errors. */
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
#include "util/fsutil.h"
#include "kubefix.h"

static const cd_crd_version *crd(void)
{
    static bool done;
    if (!done) {
        const char *shared = getenv("CANARYD_SHARED");
        char path[1024];
        snprintf(path, sizeof path, "%s/conformance/crds/apisix/apisix.apache.org_apisixroutes.yaml",
                 shared ? shared : "../shared");
        size_t len;
        char *text = cd_read_file(path, &len);
        assert_non_null(text);
        cd_diags d;
        cd_diags_init(&d);
        assert_int_equal(cd_schema_load_text(path, text, len, &d), 1);
        cd_diags_free(&d);
        free(text);
        done = true;
    }
    const cd_crd_version *v = cd_schema_find(CDK_APISIX_GROUP, "v2", "ApisixRoute");
    assert_non_null(v);
    return v;
}

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  provider: apisix\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"

static const char *const CANARY =
    HEAD "  routeRef: {apiVersion: apisix.apache.org/v2, kind: ApisixRoute, name: podinfo}\n"
         "  service: {port: 80, targetPort: 9898}\n"
         "  analysis: {interval: 10s, threshold: 10, maxWeight: 50, stepWeight: 10}\n";

static const char *const USER_ROUTE =
    "{\"apiVersion\":\"apisix.apache.org/v2\",\"kind\":\"ApisixRoute\",\"metadata\":{\"name\":\"podinfo\","
    "\"namespace\":\"test\",\"uid\":\"u\",\"labels\":{\"app\":\"podinfo\"}},\"spec\":{\"ingressClassName\":"
    "\"apisix\",\"http\":[{\"name\":\"other\",\"match\":{\"paths\":[\"/x\"]},\"backends\":[{\"serviceName\":"
    "\"x\",\"servicePort\":80}]},{\"name\":\"method\",\"match\":{\"hosts\":[\"app.example.com\"],\"paths\":"
    "[\"/*\"],\"methods\":[\"GET\"]},\"plugins\":[{\"name\":\"prometheus\",\"enable\":true}],\"backends\":"
    "[{\"serviceName\":\"podinfo\",\"servicePort\":80,\"resolveGranularity\":\"service\"}]}]}}";

static cdk_apisix_in in_for(const cd_object *c)
{
    cdk_apisix_in in = {&c->spec.canary, "test", "podinfo", NULL};
    return in;
}

static json_t *build(const cd_object *c, const char *user_text)
{
    cdk_apisix_in in = in_for(c);
    char name[300];
    cd_err err = {{0}};
    assert_true(cdk_apisix_check(&c->spec.canary, &err));
    assert_true(cdk_apisix_canary_name(&in, name, sizeof name, &err));
    assert_string_equal(name, "podinfo-podinfo-canary");
    json_t *user = obj(user_text);
    json_t *r = cdk_apisix_canary_route(&in, user, name, &err);
    json_decref(user);
    return r;
}

static void test_canary_route(void **state)
{
    cd_object *c = canary(CANARY);
    json_t *r = build(c, USER_ROUTE);
    assert_non_null(r);
    assert_schema_valid(crd(), r);
    assert_string_equal(S(r, "metadata.name"), "podinfo-podinfo-canary");
    assert_null(kj_at(r, "metadata.uid"));
    assert_string_equal(S(r, "metadata.labels.app"), "podinfo");
    assert_string_equal(S(r, "spec.ingressClassName"), "apisix");
    json_t *http = kj_at(r, "spec.http");
    assert_int_equal(json_array_size(http), 1);   /* only the route to podinfo */
    json_t *h = json_array_get(http, 0);
    assert_string_equal(S(h, "name"), "method");
    assert_int_equal(kj_int(h, "priority", 0), 10000);
    json_t *want = obj("[{\"serviceName\":\"podinfo-primary\",\"servicePort\":80,\"resolveGranularity\":"
                       "\"service\",\"weight\":100},{\"serviceName\":\"podinfo-canary\",\"servicePort\":80,"
                       "\"weight\":0,\"resolveGranularity\":\"service\"}]");
    assert_true(json_equal(json_object_get(h, "backends"), want));
    json_decref(want);
    assert_non_null(json_object_get(h, "plugins"));
    cd_err err = {{0}};
    int p, w;
    assert_true(cdk_apisix_get_weights(r, "podinfo", &p, &w, &err));
    assert_int_equal(p, 100);
    assert_int_equal(w, 0);
    json_decref(r);
    /* errors: no route to podinfo; two backends */
    cdk_apisix_in in = in_for(c);
    json_t *u = obj("{\"metadata\":{\"name\":\"podinfo\"},\"spec\":{\"http\":[{\"name\":\"a\",\"backends\":"
                    "[{\"serviceName\":\"x\",\"servicePort\":80}]}]}}");
    assert_null(cdk_apisix_canary_route(&in, u, "n", &err));
    assert_string_equal(err.msg, "Can not find podinfo backend on apisix route podinfo.test");
    json_decref(u);
    u = obj("{\"metadata\":{\"name\":\"podinfo\"},\"spec\":{\"http\":[{\"name\":\"a\",\"backends\":"
            "[{\"serviceName\":\"podinfo\",\"servicePort\":80},{\"serviceName\":\"y\",\"servicePort\":80}]}]}}");
    assert_null(cdk_apisix_canary_route(&in, u, "n", &err));
    assert_string_equal(err.msg, "APISIX route podinfo.test's http route a: only one http backend is "
                                 "supported");
    json_decref(u);
    cd_object_free(c);
}

static void test_weights_and_update(void **state)
{
    cd_object *c = canary(CANARY);
    json_t *r = build(c, USER_ROUTE);
    cd_err err = {{0}};
    for (int w = 10; w <= 50; w += 10) {
        assert_true(cdk_apisix_set_weights(r, "podinfo", 100 - w, w));
        int p, cw;
        assert_true(cdk_apisix_get_weights(r, "podinfo", &p, &cw, &err));
        assert_int_equal(p, 100 - w);
        assert_int_equal(cw, w);
        assert_schema_valid(crd(), r);
    }
    /* the same copy: nothing to change; a changed user route: followed, weights kept */
    json_t *want = build(c, USER_ROUTE);
    assert_null(cdk_apisix_update(r, want, "podinfo"));
    json_object_set_new(json_array_get(kj_at(want, "spec.http"), 0), "name", json_string("renamed"));
    json_t *upd = cdk_apisix_update(r, want, "podinfo");
    assert_non_null(upd);
    assert_string_equal(S(json_array_get(kj_at(upd, "spec.http"), 0), "name"), "renamed");
    int p, cw;
    assert_true(cdk_apisix_get_weights(upd, "podinfo", &p, &cw, &err));
    assert_int_equal(cw, 50);
    json_decref(upd);
    json_decref(want);
    json_t *junk = obj("{\"spec\":{\"http\":[3,{\"backends\":[null,{\"serviceName\":\"podinfo-primary\"}]}]}}");
    assert_false(cdk_apisix_get_weights(junk, "podinfo", &p, &cw, &err));
    assert_false(cdk_apisix_set_weights(junk, "other", 1, 2));
    json_decref(junk);
    json_decref(r);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    static const char *const cases[][2] = {
        {"  routeRef: {apiVersion: apisix.apache.org/v2, kind: ApisixRoute, name: podinfo}\n  service: {port: 80}\n  analysis: {interval: 1m, threshold: 5, "
         "maxWeight: 50, stepWeight: 10, mirror: true}\n",
         "provider apisix cannot mirror traffic (analysis.mirror)"},
        {"  routeRef: {apiVersion: apisix.apache.org/v2, kind: ApisixRoute, name: podinfo}\n  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n"
         "    iterations: 3\n    match:\n    - headers: {x-canary: {exact: insider}}\n",
         "provider apisix cannot route requests by header, cookie or path (analysis.match"},
        {"  service: {port: 80}\n  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}\n",
         "provider apisix needs spec.routeRef.name (the ApisixRoute to copy)"},
    };
    for (size_t i = 0; i < 3; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, HEAD "%s", cases[i][0]);
        cd_object *c = canary(yaml);
        cd_err err = {{0}};
        assert_false(cdk_apisix_check(&c->spec.canary, &err));
        if (!strstr(err.msg, cases[i][1]))
            fail_msg("\"%s\" does not contain \"%s\"", err.msg, cases[i][1]);
        cd_object_free(c);
    }
    cd_err err = {{0}};
    assert_ptr_equal(cdk_router_find("apisix", &err), &cdk_router_apisix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canary_route),
        cmocka_unit_test(test_weights_and_update),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
