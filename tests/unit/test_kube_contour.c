/* test_kube_contour.c - provider contour's pure builders (src/kube/mesh/
 * contour_objects.c, Flagger's ContourRouter): the HTTPProxy at each
 * weight, its A/B routes, timeout and retry policies, the Linkerd header,
 * how a live one is brought in line and read, and the refusals. Every
 * HTTPProxy built is checked against the real projectcontour.io CRD
 * (shared/conformance/crds/contour) with canaryd's validator, unknown
 * fields counting as errors. */
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
        snprintf(path, sizeof path, "%s/conformance/crds/contour/projectcontour.io_httpproxies.yaml",
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
    const cd_crd_version *v = cd_schema_find(CDK_CONTOUR_GROUP, "v1", "HTTPProxy");
    assert_non_null(v);
    return v;
}

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  provider: contour\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"

/* Flagger's Contour tutorial */
static const char *const TUTORIAL =
    HEAD "  service:\n    port: 80\n    targetPort: 9898\n    timeout: 15s\n"
         "    retries: {attempts: 3, perTryTimeout: 5s, retryOn: \"5xx\"}\n"
         "  analysis: {interval: 30s, threshold: 5, maxWeight: 50, stepWeight: 5}\n";

static const char *const AB =
    HEAD "  service:\n    port: 9898\n    match:\n    - uri: {prefix: /api}\n"
         "    apex:\n      labels: {team: a}\n      annotations: {note: x}\n"
         "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 10\n    match:\n"
         "    - headers:\n        x-canary: {exact: insider}\n        user-agent: {prefix: \"Mozilla/5\"}\n"
         "    - headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}\n"
         "    - headers: {x-end: {suffix: \".test\"}}\n";

static cdk_contour_in in_for(const cd_object *c)
{
    cdk_contour_in in = {&c->spec.canary, "test", "podinfo", NULL, NULL};
    return in;
}

/* a equals the JSON text b */
static bool eq(const json_t *a, const char *b)
{
    json_t *j = obj(b);
    bool same = json_equal((json_t *)a, j);
    json_decref(j);
    return same;
}

static json_t *svc_of(const json_t *route, size_t i) { return json_array_get(json_object_get(route, "services"), i); }

static void test_tutorial(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cd_err err = {{0}};
    assert_true(cdk_contour_check(&c->spec.canary, &err));
    cdk_contour_in in = in_for(c);
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"podinfo\","
                        "\"uid\":\"c1\",\"controller\":true,\"blockOwnerDeletion\":true}");
    in.owner_ref = owner;
    json_t *p = cdk_contour_object(&in, cdk_contour_spec(&in, 100, 0));
    assert_schema_valid(crd(), p);
    assert_string_equal(S(p, "apiVersion"), "projectcontour.io/v1");
    assert_string_equal(S(p, "metadata.name"), "podinfo");
    assert_null(kj_at(p, "spec.virtualhost"));   /* included by the user's root proxy */
    assert_null(kj_at(p, "spec.ingressClassName"));
    assert_string_equal(S(json_array_get(kj_at(p, "metadata.ownerReferences"), 0), "uid"), "c1");
    assert_string_equal(json_string_value(json_object_get(kj_at(p, "metadata.annotations"),
                                                           "kustomize.toolkit.fluxcd.io/reconcile")),
                        "disabled");
    json_t *routes = kj_at(p, "spec.routes");
    assert_int_equal(json_array_size(routes), 1);
    json_t *r = json_array_get(routes, 0);
    assert_true(eq(json_object_get(r, "conditions"), ("[{\"prefix\":\"/\"}]")));
    assert_true(eq(json_object_get(r, "timeoutPolicy"), ("{\"response\":\"15s\",\"idle\":\"5m\"}")));
    assert_true(eq(json_object_get(r, "retryPolicy"), ("{\"count\":3,\"perTryTimeout\":\"5s\",\"retryOn\":[\"5xx\"]}")));
    json_t *want0 = obj("{\"name\":\"podinfo-primary\",\"port\":80,\"weight\":100,\"requestHeadersPolicy\":"
                        "{\"set\":[{\"name\":\"l5d-dst-override\",\"value\":"
                        "\"podinfo-primary.test.svc.cluster.local:80\"}]}}");
    assert_true(json_equal(svc_of(r, 0), want0));
    assert_string_equal(S(svc_of(r, 1), "name"), "podinfo-canary");
    assert_int_equal(kj_int(svc_of(r, 1), "weight", -1), 0);
    assert_string_equal(S(json_array_get(kj_at(svc_of(r, 1), "requestHeadersPolicy.set"), 0), "value"),
                        "podinfo-canary.test.svc.cluster.local:80");
    json_decref(want0);
    json_decref(p);
    json_decref(owner);
    cd_object_free(c);
}

static void test_weights(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cdk_contour_in in = in_for(c);
    in.ingress_class = "contour-external";
    cd_err err = {{0}};
    for (int w = 0; w <= 50; w += 5) {
        json_t *p = cdk_contour_object(&in, cdk_contour_spec(&in, 100 - w, w));
        assert_schema_valid(crd(), p);
        assert_string_equal(S(p, "spec.ingressClassName"), "contour-external");
        int pw, cw;
        assert_true(cdk_contour_get_weights(p, "podinfo", &pw, &cw, &err));
        assert_int_equal(pw, 100 - w);
        assert_int_equal(cw, w);
        json_decref(p);
    }
    /* junk: an error, no crash */
    json_t *junk = obj("{\"metadata\":{\"namespace\":\"test\"},\"spec\":{\"routes\":[{\"services\":[1,"
                       "{\"name\":\"podinfo-primary\",\"weight\":\"x\"}]}]}}");
    int pw, cw;
    assert_false(cdk_contour_get_weights(junk, "podinfo", &pw, &cw, &err));
    assert_string_equal(err.msg, "HTTPProxy podinfo.test services not found (the first route must "
                                 "name podinfo-primary and podinfo-canary)");
    json_decref(junk);
    cd_object_free(c);
}

static void test_ab(void **state)
{
    cd_object *c = canary(AB);
    cd_err err = {{0}};
    assert_true(cdk_contour_check(&c->spec.canary, &err));
    cdk_contour_in in = in_for(c);
    json_t *p = cdk_contour_object(&in, cdk_contour_spec(&in, 0, 100));
    assert_schema_valid(crd(), p);
    assert_string_equal(S(p, "metadata.labels.team"), "a");
    assert_string_equal(S(p, "metadata.annotations.note"), "x");
    json_t *routes = kj_at(p, "spec.routes");
    assert_int_equal(json_array_size(routes), 4);   /* one per match, then the default */
    json_t *c0 = json_object_get(json_array_get(routes, 0), "conditions");
    json_t *want0 = obj("[{\"prefix\":\"/api\"},{\"header\":{\"name\":\"x-canary\",\"exact\":\"insider\"}},"
                        "{\"header\":{\"name\":\"user-agent\",\"regex\":\"Mozilla/5.*\"}}]");
    assert_true(json_equal(c0, want0));
    json_decref(want0);
    json_t *want1 = obj("[{\"prefix\":\"/api\"},{\"header\":{\"name\":\"cookie\",\"regex\":"
                        "\"^(.*?;)?(canary=always)(;.*)?$\"}}]");
    assert_true(json_equal(json_object_get(json_array_get(routes, 1), "conditions"), want1));
    json_decref(want1);
    json_t *want2 = obj("[{\"prefix\":\"/api\"},{\"header\":{\"name\":\"x-end\",\"regex\":\".*\\\\.test\"}}]");
    assert_true(json_equal(json_object_get(json_array_get(routes, 2), "conditions"), want2));
    json_decref(want2);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(kj_int(svc_of(json_array_get(routes, i), 1), "weight", -1), 100);
    json_t *last = json_array_get(routes, 3);
    assert_true(eq(json_object_get(last, "conditions"), ("[{\"prefix\":\"/api\"}]")));
    assert_int_equal(kj_int(svc_of(last, 0), "weight", -1), 100);
    assert_int_equal(kj_int(svc_of(last, 1), "weight", -1), 0);
    int pw, cw;
    assert_true(cdk_contour_get_weights(p, "podinfo", &pw, &cw, &err));
    assert_int_equal(pw, 0);
    assert_int_equal(cw, 100);
    json_decref(p);
    cd_object_free(c);
}

static void test_update(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cdk_contour_in in = in_for(c);
    json_t *live = cdk_contour_object(&in, cdk_contour_spec(&in, 70, 30));
    json_object_set_new(json_object_get(live, "metadata"), "resourceVersion", json_string("5"));
    json_object_set_new(json_object_get(live, "metadata"), "annotations",
                        json_pack("{s:s, s:s}", "kustomize.toolkit.fluxcd.io/reconcile", "disabled",
                                  "helm.toolkit.fluxcd.io/driftDetection", "disabled"));
    json_object_set_new(live, "status", json_pack("{s:s}", "currentStatus", "valid"));
    /* the same canary at 100/0: nothing to change (weights are not compared) */
    json_t *want = cdk_contour_object(&in, cdk_contour_spec(&in, 100, 0));
    assert_null(cdk_contour_update(live, want));
    json_decref(want);
    cd_object_free(c);
    /* the canary's timeout changed: spec follows, resourceVersion kept */
    c = canary(HEAD "  service:\n    port: 80\n    timeout: 30s\n"
                    "    retries: {attempts: 3, perTryTimeout: 5s, retryOn: \"5xx\"}\n"
                    "  analysis: {interval: 30s, threshold: 5, maxWeight: 50, stepWeight: 5}\n");
    in = in_for(c);
    want = cdk_contour_object(&in, cdk_contour_spec(&in, 70, 30));
    json_t *upd = cdk_contour_update(live, want);
    assert_non_null(upd);
    assert_string_equal(S(json_array_get(kj_at(upd, "spec.routes"), 0), "timeoutPolicy.response"), "30s");
    assert_string_equal(S(upd, "metadata.resourceVersion"), "5");
    assert_null(json_object_get(upd, "status"));
    int pw, cw;
    cd_err err = {{0}};
    assert_true(cdk_contour_get_weights(upd, "podinfo", &pw, &cw, &err));
    assert_int_equal(cw, 30);
    assert_schema_valid(crd(), upd);
    json_decref(upd);
    json_decref(want);
    json_decref(live);
    cd_object_free(c);
}

static void refused(const char *rest, const char *want)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "%s", rest);
    cd_object *c = canary(yaml);
    cd_err err = {{0}};
    assert_false(cdk_contour_check(&c->spec.canary, &err));
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    refused("  service: {port: 80}\n  analysis: {interval: 1m, threshold: 5, maxWeight: 50, "
            "stepWeight: 10, mirror: true}\n",
            "provider contour cannot mirror traffic (analysis.mirror)");
    refused("  service: {port: 80}\n  analysis: {interval: 1m, threshold: 5, maxWeight: 50, "
            "stepWeight: 10, sessionAffinity: {cookieName: c}}\n",
            "provider contour cannot pin sessions to the canary (analysis.sessionAffinity)");
    refused("  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 3\n"
            "    match:\n    - queryParams: {a: {exact: b}}\n",
            "provider contour cannot match requests by queryParams (analysis.match[0]; headers only)");
    refused("  service: {port: 80, retries: {attempts: 2, retryOn: \"5xx,server-error\"}}\n"
            "  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}\n",
            "service.retries.retryOn: \"server-error\" is not a Contour retry condition");
    refused("  service: {port: 80, retries: {attempts: 2, perTryTimeout: \"-1s\"}}\n"
            "  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}\n",
            "service.retries.perTryTimeout \"-1s\" is not a duration Contour accepts");
}

/* The CRD's duration pattern is RE2 with \d: canaryd's validator must
 * apply it (15s, 1.5m, 1h30m pass; "soon", "15 s", "-1s" do not). */
static size_t timeout_errors(const char *response)
{
    json_t *p = obj("{\"apiVersion\":\"projectcontour.io/v1\",\"kind\":\"HTTPProxy\",\"metadata\":"
                    "{\"name\":\"x\"},\"spec\":{\"routes\":[{\"timeoutPolicy\":{}}]}}");
    json_object_set_new(kj_at(json_array_get(kj_at(p, "spec.routes"), 0), "timeoutPolicy"), "response",
                        json_string(response));
    cd_stream *s = cd_stream_from_json("p", p);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd()->schema, s->docs[0].root, NULL, "", &d);
    size_t n = d.n;
    cd_diags_free(&d);
    cd_stream_free(s);
    json_decref(p);
    return n;
}

static void test_crd_patterns(void **state)
{
    assert_int_equal(timeout_errors("15s"), 0);
    assert_int_equal(timeout_errors("1.5m"), 0);
    assert_int_equal(timeout_errors("1h30m"), 0);
    assert_int_equal(timeout_errors("infinity"), 0);
    assert_int_equal(timeout_errors("soon"), 1);
    assert_int_equal(timeout_errors("15 s"), 1);
    assert_int_equal(timeout_errors("-1s"), 1);
}

static void test_router_table(void **state)
{
    cd_err err = {{0}};
    assert_ptr_equal(cdk_router_find("contour", &err), &cdk_router_contour);
    assert_non_null(strstr(cdk_router_names(), "contour"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tutorial), cmocka_unit_test(test_weights),
        cmocka_unit_test(test_ab),       cmocka_unit_test(test_update),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_crd_patterns),
        cmocka_unit_test(test_router_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
