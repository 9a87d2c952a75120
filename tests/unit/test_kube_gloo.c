/* test_kube_gloo.c - provider gloo's pure builders (src/kube/mesh/
 * gloo_objects.c, Flagger's GlooRouter): the Upstreams of the primary and
 * the canary (with and without spec.upstreamRef's settings), the
 * RouteTable at each weight, its A/B routes, how live ones are brought in
 * line and read, and the refusals. Every object built is checked against
 * the real Gloo Edge CRDs (shared/conformance/crds/gloo: gateway.solo.io
 * RouteTable, gloo.solo.io Upstream) with canaryd's validator, unknown
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

static void load(const char *file)
{
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/conformance/crds/gloo/%s", shared ? shared : "../shared", file);
    size_t len;
    char *text = cd_read_file(path, &len);
    assert_non_null(text);
    cd_diags d;
    cd_diags_init(&d);
    assert_int_equal(cd_schema_load_text(path, text, len, &d), 1);
    cd_diags_free(&d);
    free(text);
}

static const cd_crd_version *crd(const char *kind)
{
    static bool done;
    if (!done) {
        load("gateway.solo.io_routetables.yaml");
        load("gloo.solo.io_upstreams.yaml");
        done = true;
    }
    const cd_crd_version *v = !strcmp(kind, "RouteTable")
                                  ? cd_schema_find(CDK_GLOO_GATEWAY_GROUP, "v1", "RouteTable")
                                  : cd_schema_find(CDK_GLOO_GROUP, "v1", "Upstream");
    assert_non_null(v);
    return v;
}

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  provider: gloo\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"

/* Flagger's Gloo tutorial */
static const char *const TUTORIAL =
    HEAD "  service:\n    port: 9898\n    targetPort: 9898\n    apex:\n      labels: {team: a}\n"
         "  analysis: {interval: 10s, threshold: 5, maxWeight: 50, stepWeight: 5}\n";

static const char *const AB =
    HEAD "  service: {port: 9898}\n"
         "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 10\n    match:\n"
         "    - headers:\n        x-canary: {exact: insider}\n        user-agent: {prefix: \"Mozilla/5\"}\n"
         "    - headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}\n"
         "      withoutHeaders: {x-bot: {suffix: \".test\"}}\n"
         "    - queryParams: {beta: {exact: \"1\"}}\n      method: {exact: POST}\n";

/* Gloo's CRDs declare only spec and status at the root; the API server
 * always takes apiVersion, kind and metadata, so the body is checked
 * without them (and the envelope by the assertions of each test). */
static void assert_gloo_valid(const char *kind, const json_t *o)
{
    json_t *body = json_deep_copy(o);
    json_object_del(body, "apiVersion");
    json_object_del(body, "kind");
    json_object_del(body, "metadata");
    assert_schema_valid(crd(kind), body);
    json_decref(body);
}

static bool eq(const json_t *a, const char *b)
{
    json_t *j = obj(b);
    bool same = json_equal((json_t *)a, j);
    json_decref(j);
    return same;
}

static json_t *owner_ref(void)
{
    return obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"podinfo\","
               "\"uid\":\"c1\",\"controller\":true,\"blockOwnerDeletion\":true}");
}

static json_t *dests(const json_t *rt, size_t route)
{
    return kj_at(json_array_get(kj_at(rt, "spec.routes"), route), "routeAction.multi.destinations");
}

static void test_routetable_initial(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cd_err err = {{0}};
    assert_true(cdk_gloo_check(&c->spec.canary, &err));
    json_t *owner = owner_ref();
    cdk_gloo_in in = {&c->spec.canary, "test", "podinfo", owner};
    json_t *rt = cdk_gloo_object(&in, cdk_gloo_spec(&in, 100, 0));
    assert_gloo_valid("RouteTable", rt);
    assert_string_equal(S(rt, "apiVersion"), "gateway.solo.io/v1");
    assert_string_equal(S(rt, "kind"), "RouteTable");
    assert_string_equal(S(rt, "metadata.name"), "podinfo");
    assert_string_equal(S(rt, "metadata.labels.team"), "a");
    assert_string_equal(S(json_array_get(kj_at(rt, "metadata.ownerReferences"), 0), "uid"), "c1");
    /* Flagger's shape: one route inheriting the parent's paths, two weighted upstreams */
    assert_true(eq(json_object_get(rt, "spec"),
                   "{\"routes\":[{\"inheritablePathMatchers\":true,\"routeAction\":{\"multi\":{"
                   "\"destinations\":[{\"destination\":{\"upstream\":{\"name\":"
                   "\"test-podinfo-primaryupstream-9898\",\"namespace\":\"test\"}},\"weight\":100},"
                   "{\"destination\":{\"upstream\":{\"name\":\"test-podinfo-canaryupstream-9898\","
                   "\"namespace\":\"test\"}},\"weight\":0}]}}}]}"));
    int p, w;
    assert_true(cdk_gloo_get_weights(rt, &in, &p, &w, &err));
    assert_int_equal(p, 100);
    assert_int_equal(w, 0);
    json_decref(rt);
    json_decref(owner);
    cd_object_free(c);
}

static void test_routetable_weights(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cdk_gloo_in in = {&c->spec.canary, "test", "podinfo", NULL};
    cd_err err = {{0}};
    for (int w = 5; w <= 100; w += 5) {
        json_t *rt = cdk_gloo_object(&in, cdk_gloo_spec(&in, 100 - w, w));
        assert_gloo_valid("RouteTable", rt);
        assert_int_equal(kj_int(json_array_get(dests(rt, 0), 0), "weight", -1), 100 - w);
        assert_int_equal(kj_int(json_array_get(dests(rt, 0), 1), "weight", -1), w);
        int p, cw;
        assert_true(cdk_gloo_get_weights(rt, &in, &p, &cw, &err));
        assert_int_equal(p, 100 - w);
        assert_int_equal(cw, w);
        json_decref(rt);
    }
    json_t *junk = obj("{\"spec\":{\"routes\":[{\"routeAction\":{\"multi\":{\"destinations\":[7,"
                       "{\"destination\":{\"upstream\":{\"name\":\"test-podinfo-canaryupstream-9898\"}},"
                       "\"weight\":50}]}}}]}}");
    int p, cw;
    assert_false(cdk_gloo_get_weights(junk, &in, &p, &cw, &err));
    assert_string_equal(err.msg, "RouteTable podinfo.test destinations not found (the first route must "
                                 "send to test-podinfo-primaryupstream-9898 and "
                                 "test-podinfo-canaryupstream-9898)");
    json_decref(junk);
    json_t *empty = obj("{\"spec\":[]}");
    assert_false(cdk_gloo_get_weights(empty, &in, &p, &cw, &err));
    json_decref(empty);
    cd_object_free(c);
}

static void test_routetable_ab(void **state)
{
    cd_object *c = canary(AB);
    cd_err err = {{0}};
    assert_true(cdk_gloo_check(&c->spec.canary, &err));
    cdk_gloo_in in = {&c->spec.canary, "test", "podinfo", NULL};
    json_t *rt = cdk_gloo_object(&in, cdk_gloo_spec(&in, 0, 100));
    assert_gloo_valid("RouteTable", rt);
    json_t *routes = kj_at(rt, "spec.routes");
    assert_int_equal(json_array_size(routes), 4);
    /* each match entry its own matcher (Gloo ORs routes), at the weights given */
    json_t *m0 = json_array_get(json_object_get(json_array_get(routes, 0), "matchers"), 0);
    json_t *h0 = json_object_get(m0, "headers");
    assert_int_equal(json_array_size(h0), 2);
    json_t *ua = NULL, *xc = NULL;
    for (size_t i = 0; i < 2; i++) {
        json_t *h = json_array_get(h0, i);
        if (!strcmp(S(h, "name"), "user-agent"))
            ua = h;
        else
            xc = h;
    }
    assert_true(eq(xc, "{\"name\":\"x-canary\",\"value\":\"insider\"}"));
    assert_true(eq(ua, "{\"name\":\"user-agent\",\"value\":\"Mozilla/5.*\",\"regex\":true}"));
    json_t *m1 = json_array_get(json_object_get(json_array_get(routes, 1), "matchers"), 0);
    assert_true(eq(m1, "{\"headers\":[{\"name\":\"cookie\",\"value\":\"^(.*?;)?(canary=always)(;.*)?$\","
                       "\"regex\":true},{\"name\":\"x-bot\",\"value\":\".*\\\\.test\",\"regex\":true,"
                       "\"invertMatch\":true}]}"));
    json_t *m2 = json_array_get(json_object_get(json_array_get(routes, 2), "matchers"), 0);
    assert_true(eq(m2, "{\"queryParameters\":[{\"name\":\"beta\",\"value\":\"1\"}],\"methods\":[\"POST\"]}"));
    for (size_t r = 0; r < 3; r++)
        assert_int_equal(kj_int(json_array_get(dests(rt, r), 1), "weight", -1), 100);
    /* every other request: the primary alone, whatever the step */
    json_t *last = json_array_get(routes, 3);
    assert_null(json_object_get(last, "matchers"));
    assert_int_equal(kj_int(json_array_get(dests(rt, 3), 0), "weight", -1), 100);
    assert_int_equal(kj_int(json_array_get(dests(rt, 3), 1), "weight", -1), 0);
    int p, w;
    assert_true(cdk_gloo_get_weights(rt, &in, &p, &w, &err));
    assert_int_equal(p, 0);
    assert_int_equal(w, 100);
    json_decref(rt);
    cd_object_free(c);
}

static void test_routetable_update(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cdk_gloo_in in = {&c->spec.canary, "test", "podinfo", NULL};
    json_t *live = cdk_gloo_object(&in, cdk_gloo_spec(&in, 60, 40));
    json_object_set_new(json_object_get(live, "metadata"), "resourceVersion", json_string("4"));
    json_object_set_new(live, "status", obj("{\"statuses\":{}}"));
    /* only the weights differ: nothing to write */
    json_t *want = cdk_gloo_object(&in, cdk_gloo_spec(&in, 100, 0));
    assert_null(cdk_gloo_update(live, want));
    json_decref(want);
    cd_object_free(c);
    /* the service port changed: the routes follow, metadata replaced */
    c = canary(HEAD "  service: {port: 8080}\n  analysis: {interval: 10s, threshold: 10, maxWeight: 50, "
                    "stepWeight: 5}\n");
    in.spec = &c->spec.canary;
    want = cdk_gloo_object(&in, cdk_gloo_spec(&in, 60, 40));
    json_t *upd = cdk_gloo_update(live, want);
    assert_non_null(upd);
    assert_string_equal(S(json_array_get(dests(upd, 0), 1), "destination.upstream.name"),
                        "test-podinfo-canaryupstream-8080");
    assert_null(kj_at(upd, "metadata.labels"));
    assert_null(json_object_get(upd, "status"));
    assert_string_equal(S(upd, "metadata.resourceVersion"), "4");
    assert_gloo_valid("RouteTable", upd);
    json_decref(upd);
    json_decref(want);
    json_decref(live);
    cd_object_free(c);
}

static void test_upstreams(void **state)
{
    cd_object *c = canary(TUTORIAL);
    json_t *owner = owner_ref();
    cdk_gloo_in in = {&c->spec.canary, "test", "podinfo", owner};
    json_t *sel = obj("{\"app\":\"podinfo-primary\"}");
    json_t *us = cdk_gloo_upstream(&in, false, sel, NULL);
    assert_gloo_valid("Upstream", us);
    assert_string_equal(S(us, "apiVersion"), "gloo.solo.io/v1");
    assert_string_equal(S(us, "metadata.name"), "test-podinfo-primaryupstream-9898");
    assert_string_equal(S(json_array_get(kj_at(us, "metadata.ownerReferences"), 0), "kind"), "Canary");
    assert_true(eq(json_object_get(us, "spec"),
                   "{\"kube\":{\"serviceName\":\"podinfo-primary\",\"serviceNamespace\":\"test\","
                   "\"servicePort\":9898,\"selector\":{\"app\":\"podinfo-primary\"}}}"));
    /* the same Upstream live, with what Gloo adds: nothing to write */
    json_t *live = json_deep_copy(us);
    json_object_set_new(json_object_get(live, "metadata"), "resourceVersion", json_string("9"));
    json_object_set_new(json_object_get(live, "spec"), "discoveryMetadata", obj("{\"labels\":{\"a\":\"b\"}}"));
    assert_null(cdk_gloo_upstream_update(live, us));

    /* spec.upstreamRef: its settings copied, its other fields not */
    json_t *config = obj("{\"metadata\":{\"name\":\"cfg\"},\"spec\":{\"loadBalancerConfig\":{\"roundRobin\":"
                         "{}},\"sslConfig\":{\"sni\":\"podinfo.example.com\"},\"useHttp2\":true,"
                         "\"connectionConfig\":{\"maxRequestsPerConnection\":100},"
                         "\"healthChecks\":[{\"timeout\":\"1s\"}],\"kube\":{\"serviceName\":\"x\"}}}");
    json_t *csel = obj("{\"app\":\"podinfo\"}");
    json_t *cus = cdk_gloo_upstream(&in, true, csel, config);
    json_decref(csel);
    assert_gloo_valid("Upstream", cus);
    assert_string_equal(S(cus, "metadata.name"), "test-podinfo-canaryupstream-9898");
    assert_string_equal(S(cus, "spec.kube.serviceName"), "podinfo-canary");
    assert_string_equal(S(cus, "spec.sslConfig.sni"), "podinfo.example.com");
    assert_true(json_is_true(kj_at(cus, "spec.useHttp2")));
    assert_non_null(kj_at(cus, "spec.loadBalancerConfig.roundRobin"));
    assert_null(kj_at(cus, "spec.healthChecks"));
    /* the live primary Upstream brought in line with the config: copied
     * fields set, Gloo's own kept */
    json_t *want = cdk_gloo_upstream(&in, false, sel, config);
    json_t *upd = cdk_gloo_upstream_update(live, want);
    assert_non_null(upd);
    assert_string_equal(S(upd, "spec.sslConfig.sni"), "podinfo.example.com");
    assert_string_equal(S(upd, "spec.discoveryMetadata.labels.a"), "b");
    assert_string_equal(S(upd, "metadata.resourceVersion"), "9");
    assert_gloo_valid("Upstream", upd);
    /* and back without it: the copied fields removed */
    json_t *back = cdk_gloo_upstream_update(upd, us);
    assert_non_null(back);
    assert_null(kj_at(back, "spec.sslConfig"));
    assert_null(kj_at(back, "spec.loadBalancerConfig"));
    json_decref(back);
    json_decref(upd);
    json_decref(want);
    json_decref(cus);
    json_decref(config);
    json_decref(live);
    json_decref(us);
    json_decref(sel);
    json_decref(owner);
    cd_object_free(c);
}

static void refused(const char *analysis, const char *want)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n%s",
             analysis);
    cd_object *c = canary(yaml);
    cd_err err = {{0}};
    assert_false(cdk_gloo_check(&c->spec.canary, &err));
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    refused("    maxWeight: 50\n    stepWeight: 10\n    mirror: true\n",
            "provider gloo cannot mirror traffic (analysis.mirror)");
    refused("    maxWeight: 50\n    stepWeight: 10\n    sessionAffinity: {cookieName: c}\n",
            "provider gloo cannot pin sessions to the canary (analysis.sessionAffinity)");
    refused("    iterations: 5\n    match:\n    - uri: {prefix: /api}\n",
            "provider gloo cannot match requests by uri (analysis.match[0])");
    refused("    iterations: 5\n    match:\n    - headers: {a: {exact: b}}\n    - method: {regex: \"P.*\"}\n",
            "provider gloo cannot match a method other than exactly (analysis.match[1].method)");
    refused("    iterations: 5\n    match:\n    - queryParams: {a: {prefix: b}}\n",
            "provider gloo cannot match a query parameter by prefix or suffix");
}

/* the schema check is not vacuous: a field the CRD lacks, or a weight of
 * the wrong type, is caught */
static void test_validator_rejects(void **state)
{
    json_t *bad = obj("{\"spec\":{\"routes\":[{\"action\":{},\"routeAction\":{\"multi\":{"
                      "\"destinations\":[{\"weight\":\"x\"}]}}}]}}");
    cd_stream *s = cd_stream_from_json("generated", bad);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd("RouteTable")->schema, s->docs[0].root, NULL, "", &d);
    assert_true(d.n >= 2);
    cd_diags_free(&d);
    cd_stream_free(s);
    json_decref(bad);
}

static void test_router_table(void **state)
{
    cd_err err = {{0}};
    assert_ptr_equal(cdk_router_find("gloo", &err), &cdk_router_gloo);
    assert_non_null(strstr(cdk_router_names(), "gloo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routetable_initial), cmocka_unit_test(test_routetable_weights),
        cmocka_unit_test(test_routetable_ab),      cmocka_unit_test(test_routetable_update),
        cmocka_unit_test(test_upstreams),          cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_validator_rejects), cmocka_unit_test(test_router_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
