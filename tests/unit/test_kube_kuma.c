/* test_kube_kuma.c - provider kuma's pure builders (src/kube/mesh/
 * kuma_objects.c, Flagger's KumaRouter): the cluster-scoped TrafficRoute
 * at each weight, its mesh from the canary's kuma.io/mesh annotation,
 * reading it back, bringing a live one in line, and the refusals. Every
 * TrafficRoute built is checked against Kuma's real CRD
 * (shared/conformance/crds/kuma; its spec is left open upstream, so the
 * envelope is what the schema checks: mesh, metadata, no stray field). */
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
        snprintf(path, sizeof path, "%s/conformance/crds/kuma/kuma.io_trafficroutes.yaml",
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
    const cd_crd_version *v = cd_schema_find(CDK_KUMA_GROUP, "v1alpha1", "TrafficRoute");
    assert_non_null(v);
    return v;
}

#define HEAD                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n  namespace: test\n"

static const char *const CANARY =
    HEAD "  annotations: {kuma.io/mesh: mesh-a}\nspec:\n  provider: kuma\n"
         "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
         "  service: {port: 9898, apex: {labels: {team: a}}}\n"
         "  analysis: {interval: 30s, threshold: 5, maxWeight: 50, stepWeight: 10}\n";

static bool eq(const json_t *a, const char *b)
{
    json_t *j = obj(b);
    bool same = json_equal((json_t *)a, j);
    json_decref(j);
    return same;
}

static void test_route(void **state)
{
    cd_object *c = canary(CANARY);
    cd_err err = {{0}};
    assert_true(cdk_kuma_check(&c->spec.canary, &err));
    cdk_kuma_in in = {&c->spec.canary, &c->meta, "podinfo"};
    for (int w = 0; w <= 100; w += 10) {
        json_t *tr = cdk_kuma_object(&in, cdk_kuma_spec(&in, 100 - w, w));
        assert_schema_valid(crd(), tr);
        assert_string_equal(S(tr, "mesh"), "mesh-a");
        assert_null(kj_at(tr, "metadata.namespace"));   /* cluster-scoped */
        assert_null(kj_at(tr, "metadata.ownerReferences"));
        assert_string_equal(S(tr, "metadata.labels.team"), "a");
        int p, cw;
        assert_true(cdk_kuma_get_weights(tr, &in, &p, &cw, &err));
        assert_int_equal(p, 100 - w);
        assert_int_equal(cw, w);
        if (w == 30)
            assert_true(eq(json_object_get(tr, "spec"),
                           "{\"sources\":[{\"match\":{\"kuma.io/service\":\"*\"}}],\"destinations\":"
                           "[{\"match\":{\"kuma.io/service\":\"podinfo_test_svc_9898\"}}],\"conf\":{\"split\":"
                           "[{\"weight\":70,\"destination\":{\"kuma.io/service\":\"podinfo-primary_test_svc_9898\"}},"
                           "{\"weight\":30,\"destination\":{\"kuma.io/service\":\"podinfo-canary_test_svc_9898\"}}]}}"));
        json_decref(tr);
    }
    cd_object_free(c);
}

static void test_default_mesh_and_update(void **state)
{
    cd_object *c = canary(HEAD "spec:\n  provider: kuma\n"
                               "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
                               "  service: {port: 80}\n"
                               "  analysis: {interval: 30s, threshold: 5, maxWeight: 50, stepWeight: 10}\n");
    cdk_kuma_in in = {&c->spec.canary, &c->meta, "podinfo"};
    json_t *live = cdk_kuma_object(&in, cdk_kuma_spec(&in, 60, 40));
    assert_string_equal(S(live, "mesh"), "default");
    json_t *want = cdk_kuma_object(&in, cdk_kuma_spec(&in, 100, 0));
    assert_null(cdk_kuma_update(live, want));
    json_decref(want);
    cd_object_free(c);
    /* the port changed: the destinations follow, the weights stay */
    c = canary(HEAD "spec:\n  provider: kuma\n"
                    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
                    "  service: {port: 8080}\n"
                    "  analysis: {interval: 30s, threshold: 5, maxWeight: 50, stepWeight: 10}\n");
    in = (cdk_kuma_in){&c->spec.canary, &c->meta, "podinfo"};
    want = cdk_kuma_object(&in, cdk_kuma_spec(&in, 100, 0));
    json_t *upd = cdk_kuma_update(live, want);
    assert_non_null(upd);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(kj_at(upd, "spec.destinations"), 0), "match"),
                            "kuma.io/service")),
                        "podinfo_test_svc_8080");
    /* the destinations changed name, so the old weights no longer apply */
    int p, w;
    cd_err err = {{0}};
    assert_true(cdk_kuma_get_weights(upd, &in, &p, &w, &err));
    assert_int_equal(p, 100);
    json_decref(upd);
    json_decref(want);
    json_decref(live);
    json_t *junk = obj("{\"spec\":{\"conf\":{\"split\":[1,{\"destination\":{\"kuma.io/service\":7}}]}}}");
    assert_false(cdk_kuma_get_weights(junk, &in, &p, &w, &err));
    assert_string_equal(err.msg, "TrafficRoute podinfo does not contain routes for podinfo-primary and "
                                 "podinfo-canary");
    json_decref(junk);
    cd_object_free(c);
}

static void test_refusals(void **state)
{
    cd_object *c = canary(HEAD "spec:\n  provider: kuma\n"
                               "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
                               "  service: {port: 80}\n  analysis:\n    interval: 1m\n    threshold: 5\n"
                               "    iterations: 3\n    match:\n    - headers: {x-canary: {exact: insider}}\n");
    cd_err err = {{0}};
    assert_false(cdk_kuma_check(&c->spec.canary, &err));
    assert_non_null(strstr(err.msg, "provider kuma cannot route requests by header, cookie or path"));
    cd_object_free(c);
    c = canary(HEAD "spec:\n  provider: kuma\n"
                    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
                    "  service: {port: 80}\n  analysis: {interval: 1m, threshold: 5, maxWeight: 50, "
                    "stepWeight: 10, mirror: true}\n");
    assert_false(cdk_kuma_check(&c->spec.canary, &err));
    assert_non_null(strstr(err.msg, "provider kuma cannot mirror traffic (analysis.mirror)"));
    cd_object_free(c);
    assert_ptr_equal(cdk_router_find("kuma", &err), &cdk_router_kuma);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_default_mesh_and_update),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
