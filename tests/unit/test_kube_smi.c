/* test_kube_smi.c - the SMI TrafficSplit builders (src/kube/mesh/
 * smi_objects.c, Flagger's SmiRouter and its v1alpha2/v1alpha3 twins) for
 * providers linkerd, smi:v1alpha1..v1alpha3 and osm: the TrafficSplit at
 * each weight, weights as quantities (v1alpha1) or numbers, reading them
 * back, bringing a live one in line, and the refusals. Every TrafficSplit
 * built is checked against the real CRDs (shared/conformance/crds/smi:
 * linkerd-smi's for v1alpha1 and v1alpha2, smi-sdk-go's for v1alpha3). */
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
    snprintf(path, sizeof path, "%s/conformance/crds/smi/%s", shared ? shared : "../shared", file);
    size_t len;
    char *text = cd_read_file(path, &len);
    assert_non_null(text);
    cd_diags d;
    cd_diags_init(&d);
    assert_true(cd_schema_load_text(path, text, len, &d) > 0);
    cd_diags_free(&d);
    free(text);
}

/* The first schema registered for the version, served or not. */
static const cd_crd_version *crd(const char *version)
{
    static bool done;
    if (!done) {
        load("split.smi-spec.io_trafficsplits.yaml");            /* v1alpha1, v1alpha2 */
        load("split.smi-spec.io_trafficsplits.smi-sdk-go.yaml");  /* v1alpha3 (not served) */
        done = true;
    }
    const cd_crd_version *v;
    for (size_t i = 0; (v = cd_schema_at(i)); i++)
        if (!strcmp(v->group, CDK_SMI_GROUP) && !strcmp(v->version, version) &&
            !strcmp(v->kind, "TrafficSplit"))
            return v;
    fail_msg("no TrafficSplit %s", version);
    return NULL;
}

/* o valid against the TrafficSplit schema of version: apiVersion and kind,
 * which linkerd-smi's schema does not declare but every API server accepts
 * at the root of any object, are set aside first. */
static void valid(const char *version, const json_t *o)
{
    json_t *c = json_deep_copy(o);
    assert_string_equal(S(c, "kind"), "TrafficSplit");
    json_object_del(c, "apiVersion");
    json_object_del(c, "kind");
    assert_schema_valid(crd(version), c);
    json_decref(c);
}

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  provider: linkerd\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"

static const char *const CANARY =
    HEAD "  service: {port: 9898}\n  analysis: {interval: 30s, threshold: 5, maxWeight: 50, stepWeight: 5}\n";

static void test_versions(void **state)
{
    cd_object *c = canary(CANARY);
    static const char *const versions[] = {"v1alpha1", "v1alpha2", "v1alpha3"};
    cd_err err = {{0}};
    for (size_t v = 0; v < 3; v++) {
        cdk_smi_in in = {&c->spec.canary, "test", "podinfo", "linkerd", versions[v], NULL};
        assert_true(cdk_smi_check(&in, &err));
        for (int w = 0; w <= 100; w += 10) {
            json_t *ts = cdk_smi_object(&in, cdk_smi_spec(&in, 100 - w, w));
            valid(versions[v], ts);
            char av[64];
            snprintf(av, sizeof av, "split.smi-spec.io/%s", versions[v]);
            assert_string_equal(S(ts, "apiVersion"), av);
            assert_string_equal(S(ts, "spec.service"), "podinfo");
            json_t *b = kj_at(ts, "spec.backends");
            assert_string_equal(S(json_array_get(b, 0), "service"), "podinfo-canary");
            assert_string_equal(S(json_array_get(b, 1), "service"), "podinfo-primary");
            json_t *cw = json_object_get(json_array_get(b, 0), "weight");
            if (v == 0) {   /* quantities, as Flagger's resource.Quantity marshals */
                char want[8];
                snprintf(want, sizeof want, "%d", w);
                assert_string_equal(json_string_value(cw), want);
            } else {
                assert_int_equal(json_integer_value(cw), w);
            }
            int p, cn;
            assert_true(cdk_smi_get_weights(ts, "podinfo", &p, &cn, &err));
            assert_int_equal(p, 100 - w);
            assert_int_equal(cn, w);
            json_decref(ts);
        }
    }
    cd_object_free(c);
}

static void test_hosts_and_owner(void **state)
{
    cd_object *c = canary(HEAD "  service: {port: 9898, hosts: [podinfo.test.svc.cluster.local]}\n"
                               "  analysis: {interval: 30s, threshold: 5, iterations: 5}\n");
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"podinfo\","
                        "\"uid\":\"c1\",\"controller\":true,\"blockOwnerDeletion\":true}");
    cdk_smi_in in = {&c->spec.canary, "test", "podinfo", "osm", "v1alpha2", owner};
    json_t *ts = cdk_smi_object(&in, cdk_smi_spec(&in, 0, 100));
    valid("v1alpha2", ts);
    assert_string_equal(S(ts, "spec.service"), "podinfo.test.svc.cluster.local");
    assert_string_equal(S(json_array_get(kj_at(ts, "metadata.ownerReferences"), 0), "uid"), "c1");
    json_decref(ts);
    json_decref(owner);
    cd_object_free(c);
}

static void test_read_and_update(void **state)
{
    cd_object *c = canary(CANARY);
    cdk_smi_in in = {&c->spec.canary, "test", "podinfo", "linkerd", "v1alpha1", NULL};
    cd_err err = {{0}};
    /* quantities in other spellings; a split naming neither is an error */
    json_t *ts = obj("{\"metadata\":{\"namespace\":\"test\"},\"spec\":{\"backends\":["
                     "{\"service\":\"podinfo-canary\",\"weight\":\"30000m\"},"
                     "{\"service\":\"podinfo-primary\",\"weight\":70}]}}");
    int p, w;
    assert_true(cdk_smi_get_weights(ts, "podinfo", &p, &w, &err));
    assert_int_equal(p, 70);
    assert_int_equal(w, 30);
    json_decref(ts);
    ts = obj("{\"metadata\":{\"namespace\":\"test\"},\"spec\":{\"backends\":[{\"service\":\"x\",\"weight\":1},"
             "{\"service\":\"podinfo-primary\",\"weight\":\"lots\"}, 5]}}");
    assert_false(cdk_smi_get_weights(ts, "podinfo", &p, &w, &err));
    assert_string_equal(err.msg, "TrafficSplit podinfo.test does not contain routes for podinfo-primary "
                                 "and podinfo-canary");
    json_decref(ts);
    /* brought in line: weights kept, a new service name followed */
    json_t *live = cdk_smi_object(&in, cdk_smi_spec(&in, 60, 40));
    json_t *want = cdk_smi_object(&in, cdk_smi_spec(&in, 100, 0));
    assert_null(cdk_smi_update(live, want));
    json_decref(want);
    json_object_set_new(kj_at(live, "spec"), "service", json_string("old"));
    want = cdk_smi_object(&in, cdk_smi_spec(&in, 100, 0));
    json_t *upd = cdk_smi_update(live, want);
    assert_non_null(upd);
    assert_string_equal(S(upd, "spec.service"), "podinfo");
    json_decref(upd);
    json_decref(want);
    json_decref(live);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    static const char *const cases[][2] = {
        {"    maxWeight: 50\n    stepWeight: 10\n    mirror: true\n",
         "provider linkerd cannot mirror traffic (analysis.mirror)"},
        {"    maxWeight: 50\n    stepWeight: 10\n    sessionAffinity: {cookieName: c}\n",
         "provider linkerd cannot pin sessions to the canary (analysis.sessionAffinity)"},
        {"    iterations: 5\n    match:\n    - headers: {x-canary: {exact: insider}}\n",
         "provider linkerd cannot route requests by header, cookie or path (analysis.match"},
    };
    for (size_t i = 0; i < 3; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, HEAD "  service: {port: 80}\n  analysis:\n    interval: 1m\n"
                                         "    threshold: 5\n%s",
                 cases[i][0]);
        cd_object *c = canary(yaml);
        cdk_smi_in in = {&c->spec.canary, "test", "podinfo", "linkerd", "v1alpha1", NULL};
        cd_err err = {{0}};
        assert_false(cdk_smi_check(&in, &err));
        if (!strstr(err.msg, cases[i][1]))
            fail_msg("\"%s\" does not contain \"%s\"", err.msg, cases[i][1]);
        cd_object_free(c);
    }
    cd_err err = {{0}};
    static const char *const names[] = {"linkerd", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "osm"};
    for (size_t i = 0; i < 5; i++)
        assert_non_null(cdk_router_find(names[i], &err));
    assert_ptr_equal(cdk_router_find("smi:v1alpha2:linkerd", &err), &cdk_router_smi_v1alpha2);
    assert_ptr_equal(cdk_router_find("smi:v1alpha1:istio", &err), &cdk_router_smi_v1alpha1);
    assert_null(cdk_router_find("smi:v1alpha9", &err));
    assert_null(cdk_router_find("smi:v1alpha1x", &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),        cmocka_unit_test(test_hosts_and_owner),
        cmocka_unit_test(test_read_and_update), cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
