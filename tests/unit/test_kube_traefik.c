/* test_kube_traefik.c - provider traefik's pure builders (src/kube/mesh/
 * traefik_objects.c, Flagger's TraefikRouter): the weighted TraefikService
 * at each weight, how a live one is brought in line and read, and the
 * refusals. Every TraefikService built is checked against the real
 * traefik.io CRD (shared/conformance/crds/traefik) with canaryd's
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
        snprintf(path, sizeof path, "%s/conformance/crds/traefik/traefik.io_traefikservices.yaml",
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
    const cd_crd_version *v = cd_schema_find(CDK_TRAEFIK_GROUP, "v1alpha1", "TraefikService");
    assert_non_null(v);
    return v;
}

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  provider: traefik\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"

static const char *const TUTORIAL =
    HEAD "  service:\n    port: 80\n    targetPort: 9898\n    apex:\n      labels: {team: a}\n"
         "  analysis: {interval: 10s, threshold: 10, maxWeight: 50, stepWeight: 5}\n";

static bool eq(const json_t *a, const char *b)
{
    json_t *j = obj(b);
    bool same = json_equal((json_t *)a, j);
    json_decref(j);
    return same;
}

static void test_initial(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cd_err err = {{0}};
    assert_true(cdk_traefik_check(&c->spec.canary, &err));
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"podinfo\","
                        "\"uid\":\"c1\",\"controller\":true,\"blockOwnerDeletion\":true}");
    cdk_traefik_in in = {&c->spec.canary, "test", "podinfo", owner};
    json_t *ts = cdk_traefik_object(&in, cdk_traefik_spec(&in, 100, 0));
    assert_schema_valid(crd(), ts);
    assert_string_equal(S(ts, "apiVersion"), "traefik.io/v1alpha1");
    assert_string_equal(S(ts, "metadata.name"), "podinfo");
    assert_string_equal(S(ts, "metadata.labels.team"), "a");
    assert_string_equal(S(json_array_get(kj_at(ts, "metadata.ownerReferences"), 0), "uid"), "c1");
    /* Flagger's shape: the canary service appears once its weight is above 0 */
    assert_true(eq(json_object_get(ts, "spec"), "{\"weighted\":{\"services\":[{\"name\":\"podinfo-primary\","
                                                "\"namespace\":\"test\",\"port\":80,\"weight\":100}]}}"));
    int p, w;
    assert_true(cdk_traefik_get_weights(ts, "podinfo", &p, &w, &err));
    assert_int_equal(p, 100);
    assert_int_equal(w, 0);
    json_decref(ts);
    json_decref(owner);
    cd_object_free(c);
}

static void test_weights(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cdk_traefik_in in = {&c->spec.canary, "test", "podinfo", NULL};
    cd_err err = {{0}};
    for (int w = 5; w <= 100; w += 5) {
        json_t *ts = cdk_traefik_object(&in, cdk_traefik_spec(&in, 100 - w, w));
        assert_schema_valid(crd(), ts);
        json_t *svcs = kj_at(ts, "spec.weighted.services");
        assert_int_equal(json_array_size(svcs), 2);
        assert_string_equal(S(json_array_get(svcs, 1), "name"), "podinfo-canary");
        /* a weight of 0 is written, not left to Traefik's default of 1 */
        assert_int_equal(kj_int(json_array_get(svcs, 0), "weight", -1), 100 - w);
        int p, cw;
        assert_true(cdk_traefik_get_weights(ts, "podinfo", &p, &cw, &err));
        assert_int_equal(p, 100 - w);
        assert_int_equal(cw, w);
        json_decref(ts);
    }
    json_t *junk = obj("{\"metadata\":{\"namespace\":\"test\"},\"spec\":{\"weighted\":{\"services\":"
                       "[7,{\"name\":\"podinfo-canary\",\"weight\":50}]}}}");
    int p, cw;
    assert_false(cdk_traefik_get_weights(junk, "podinfo", &p, &cw, &err));
    assert_string_equal(err.msg, "TraefikService podinfo.test services not found (no weighted service "
                                 "podinfo-primary)");
    json_decref(junk);
    cd_object_free(c);
}

static void test_update(void **state)
{
    cd_object *c = canary(TUTORIAL);
    cdk_traefik_in in = {&c->spec.canary, "test", "podinfo", NULL};
    json_t *live = cdk_traefik_object(&in, cdk_traefik_spec(&in, 60, 40));
    json_object_set_new(json_object_get(live, "metadata"), "resourceVersion", json_string("4"));
    json_t *want = cdk_traefik_object(&in, cdk_traefik_spec(&in, 60, 40));
    assert_null(cdk_traefik_update(live, want));
    json_decref(want);
    cd_object_free(c);
    /* the service port changed: spec follows with the weights it carried */
    c = canary(HEAD "  service: {port: 8080}\n  analysis: {interval: 10s, threshold: 10, maxWeight: 50, "
                    "stepWeight: 5}\n");
    in.spec = &c->spec.canary;
    want = cdk_traefik_object(&in, cdk_traefik_spec(&in, 60, 40));
    json_t *upd = cdk_traefik_update(live, want);
    assert_non_null(upd);
    assert_int_equal(kj_int(json_array_get(kj_at(upd, "spec.weighted.services"), 1), "port", 0), 8080);
    assert_null(kj_at(upd, "metadata.labels"));   /* service.apex labels gone */
    assert_string_equal(S(upd, "metadata.resourceVersion"), "4");
    assert_schema_valid(crd(), upd);
    json_decref(upd);
    json_decref(want);
    json_decref(live);
    cd_object_free(c);
}

static void refused(const char *analysis, const char *want)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n%s",
             analysis);
    cd_object *c = canary(yaml);
    cd_err err = {{0}};
    assert_false(cdk_traefik_check(&c->spec.canary, &err));
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    refused("    maxWeight: 50\n    stepWeight: 10\n    mirror: true\n",
            "provider traefik cannot mirror traffic (analysis.mirror)");
    refused("    maxWeight: 50\n    stepWeight: 10\n    sessionAffinity: {cookieName: c}\n",
            "provider traefik cannot pin sessions to the canary (analysis.sessionAffinity)");
    refused("    iterations: 5\n    match:\n    - headers: {x-canary: {exact: insider}}\n",
            "provider traefik cannot route requests by header, cookie or path (analysis.match");
}

static void test_router_table(void **state)
{
    cd_err err = {{0}};
    assert_ptr_equal(cdk_router_find("traefik", &err), &cdk_router_traefik);
    assert_non_null(strstr(cdk_router_names(), "traefik"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial), cmocka_unit_test(test_weights),
        cmocka_unit_test(test_update),  cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_router_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
