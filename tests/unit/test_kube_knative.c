/* test_kube_knative.c - the pure builders behind Knative Service targets
 * (src/kube/workload/knative_objects.c, Flagger's KnativeRouter) and KEDA
 * ScaledObjects (src/kube/workload/scaledobject.c, Flagger's
 * ScaledObjectReconciler): the spec.traffic split, the split read back
 * (also right after a promotion), a revision's readiness from the
 * Service's status, the primary ScaledObject with its queries and
 * replicas, and the copies of a plain Service target. Every Knative Service and ScaledObject built is checked
 * against the real CRDs (shared/conformance/crds/knative, keda) with
 * canaryd's validator, unknown fields counting as errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include "model/object.h"
#include "model/schema.h"
#include "util/fsutil.h"
#include "kubefix.h"

static const cd_crd_version *load_crd(const char *rel, const char *group, const char *version,
                                       const char *kind)
{
    const cd_crd_version *v = cd_schema_find(group, version, kind);
    if (v)
        return v;
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/conformance/crds/%s", shared ? shared : "../shared", rel);
    size_t len;
    char *text = cd_read_file(path, &len);
    assert_non_null(text);
    cd_diags d;
    cd_diags_init(&d);
    assert_int_equal(cd_schema_load_text(path, text, len, &d), 1);
    cd_diags_free(&d);
    free(text);
    v = cd_schema_find(group, version, kind);
    assert_non_null(v);
    return v;
}

static const cd_crd_version *knative_crd(void)
{
    return load_crd("knative/serving.knative.dev_services.yaml", "serving.knative.dev", "v1",
                    "Service");
}

static const cd_crd_version *keda_crd(void)
{
    return load_crd("keda/keda.sh_scaledobjects.yaml", "keda.sh", "v1alpha1", "ScaledObject");
}

static const char *const KSVC =
    "{\"apiVersion\": \"serving.knative.dev/v1\", \"kind\": \"Service\","
    " \"metadata\": {\"name\": \"podinfo\", \"namespace\": \"test\","
    "   \"annotations\": {\"flagger.app/primary-revision\": \"podinfo-00001\"}},"
    " \"spec\": {\"template\": {\"spec\": {\"containers\": [{\"image\": \"podinfo:6.0.1\"}]}}},"
    " \"status\": {\"latestCreatedRevisionName\": \"podinfo-00002\","
    "   \"latestReadyRevisionName\": \"podinfo-00002\","
    "   \"traffic\": [{\"latestRevision\": true, \"revisionName\": \"podinfo-00002\", \"percent\": 0},"
    "                {\"latestRevision\": false, \"revisionName\": \"podinfo-00001\", \"percent\": 100}]}}";

/* The split as Flagger writes it: latest first, then the pinned revision;
 * a Service carrying it is valid against Knative's CRD. */
static void test_traffic(void **state)
{
    json_t *tr = cdk_knative_traffic("podinfo-00001", 70, 30);
    json_t *want = obj("[{\"latestRevision\": true, \"percent\": 30},"
                       " {\"revisionName\": \"podinfo-00001\", \"percent\": 70}]");
    assert_true(json_equal(tr, want));
    json_t *svc = obj(KSVC);
    json_object_set_new(json_object_get(svc, "spec"), "traffic", tr);
    assert_schema_valid(knative_crd(), svc);
    int p = -1, c = -1;
    char msg[128];
    assert_true(cdk_knative_routes(svc, "podinfo-00001", &p, &c, msg, sizeof msg));
    assert_int_equal(p, 70);
    assert_int_equal(c, 30);
    json_decref(want);
    json_decref(svc);
}

/* After a promotion the annotation names the latest revision: while the
 * split still pins the previous one, that one is the primary's share;
 * once split again, the entry not following the latest is. */
static void test_routes_after_promotion(void **state)
{
    json_t *svc = obj(KSVC);
    json_t *spec = json_object_get(svc, "spec");
    json_object_set_new(spec, "traffic", cdk_knative_traffic("podinfo-00001", 50, 50));
    int p = -1, c = -1;
    char msg[128];
    assert_true(cdk_knative_routes(svc, "podinfo-00002", &p, &c, msg, sizeof msg));
    assert_int_equal(p, 50);
    assert_int_equal(c, 50);
    json_object_set_new(spec, "traffic", cdk_knative_traffic("podinfo-00002", 100, 0));
    assert_true(cdk_knative_routes(svc, "podinfo-00002", &p, &c, msg, sizeof msg));
    assert_int_equal(p, 100);
    assert_int_equal(c, 0);
    json_decref(svc);
}

/* Flagger's "traffic spec invalid" and "percent does not exist" cases. */
static void test_routes_invalid(void **state)
{
    json_t *svc = obj(KSVC);
    json_t *spec = json_object_get(svc, "spec");
    int p = -1, c = -1;
    char msg[128];
    assert_false(cdk_knative_routes(svc, "podinfo-00001", &p, &c, msg, sizeof msg));  /* none */
    assert_non_null(strstr(msg, "traffic spec invalid"));
    json_object_set_new(spec, "traffic", obj("[{\"latestRevision\": true, \"percent\": 100}]"));
    assert_false(cdk_knative_routes(svc, "podinfo-00001", &p, &c, msg, sizeof msg));
    assert_non_null(strstr(msg, "no primary revision entry"));
    json_object_set_new(spec, "traffic", obj("[{\"latestRevision\": true},"
                                             " {\"revisionName\": \"podinfo-00001\", \"percent\": 100}]"));
    assert_false(cdk_knative_routes(svc, "podinfo-00001", &p, &c, msg, sizeof msg));
    assert_string_equal(msg, "canary revision traffic percent does not exist");
    json_object_set_new(spec, "traffic", obj("[{\"revisionName\": \"a\", \"percent\": 50},"
                                             " {\"revisionName\": \"b\", \"percent\": 50}]"));
    assert_false(cdk_knative_routes(svc, "a", &p, &c, msg, sizeof msg));
    assert_non_null(strstr(msg, "no latestRevision entry"));
    json_decref(svc);
}

static void test_revision_ready(void **state)
{
    json_t *svc = obj(KSVC);
    char msg[256];
    assert_int_equal(cdk_knative_revision_ready(svc, "podinfo-00002", msg, sizeof msg), CD_OK);
    /* an older revision the route still serves */
    assert_int_equal(cdk_knative_revision_ready(svc, "podinfo-00001", msg, sizeof msg), CD_OK);
    assert_int_equal(cdk_knative_revision_ready(svc, NULL, msg, sizeof msg), CD_RETRY);
    /* a new revision Knative has not made ready yet */
    json_t *st = json_object_get(svc, "status");
    json_object_set_new(st, "latestCreatedRevisionName", json_string("podinfo-00003"));
    assert_int_equal(cdk_knative_revision_ready(svc, "podinfo-00003", msg, sizeof msg), CD_RETRY);
    assert_string_equal(msg, "revision podinfo-00003 is not ready");
    json_object_set_new(st, "conditions",
                        obj("[{\"type\": \"ConfigurationsReady\", \"status\": \"False\","
                            " \"reason\": \"RevisionFailed\", \"message\": \"image pull failed\"}]"));
    assert_int_equal(cdk_knative_revision_ready(svc, "podinfo-00003", msg, sizeof msg), CD_RETRY);
    assert_string_equal(msg, "revision podinfo-00003 is not ready: image pull failed");
    assert_int_equal(cdk_knative_revision_ready(svc, "podinfo-00009", msg, sizeof msg), CD_RETRY);
    json_decref(svc);
}

/* Knative splits by percent only: mirror, sessionAffinity and match are
 * refused, naming the field. */
static void test_refusals(void **state)
{
    static const char *const cases[][2] = {
        {"    mirror: true\n", "analysis.mirror"},
        {"    sessionAffinity: {cookieName: c}\n", "analysis.sessionAffinity"},
        {"    match:\n    - headers:\n        x-canary: {exact: insider}\n", "analysis.match"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: p, namespace: t}\n"
                 "spec:\n  provider: knative\n  targetRef: {apiVersion: serving.knative.dev/v1, "
                 "kind: Service, name: p}\n  analysis:\n    interval: 15s\n    threshold: 5\n"
                 "    stepWeight: 10\n    maxWeight: 50\n%s",
                 cases[i][0]);
        cd_object *cd = canary(yaml);
        cd_err err = {{0}};
        assert_false(cdk_knative_check(&cd->spec.canary, &err));
        assert_non_null(strstr(err.msg, cases[i][1]));
        assert_non_null(strstr(err.msg, "provider knative cannot"));
        cd_object_free(cd);
    }
    cd_object *ok = canary("apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: p, namespace: t}\n"
                           "spec:\n  provider: knative\n  targetRef: {apiVersion: serving.knative.dev/v1, "
                           "kind: Service, name: p}\n  analysis: {interval: 15s, threshold: 5, stepWeight: 10}\n");
    cd_err err = {{0}};
    assert_true(cdk_knative_check(&ok->spec.canary, &err));
    cd_object_free(ok);
}

/* ---- KEDA ----------------------------------------------------------------------- */

static const char *const SO =
    "{\"apiVersion\": \"keda.sh/v1alpha1\", \"kind\": \"ScaledObject\","
    " \"metadata\": {\"name\": \"podinfo-so\", \"namespace\": \"test\","
    "   \"labels\": {\"app\": \"podinfo\", \"kustomize.toolkit.fluxcd.io/name\": \"apps\"},"
    "   \"annotations\": {\"autoscaling.keda.sh/paused-replicas\": \"0\", \"team\": \"a\"}},"
    " \"spec\": {\"scaleTargetRef\": {\"name\": \"podinfo\"},"
    "   \"pollingInterval\": 10, \"cooldownPeriod\": 20, \"minReplicaCount\": 1, \"maxReplicaCount\": 3,"
    "   \"advanced\": {\"horizontalPodAutoscalerConfig\": {\"name\": \"podinfo-hpa\"}},"
    "   \"triggers\": [{\"type\": \"prometheus\", \"name\": \"rps\", \"metadata\": {"
    "     \"serverAddress\": \"http://prometheus.istio-system:9090\","
    "     \"query\": \"sum(rate(http_requests_total{deployment=\\\"podinfo-canary\\\"}[1m])) + "
    "sum(rate(http_requests_total{app=\\\"podinfo\\\"}[1m]))\", \"threshold\": \"3\"}},"
    "     {\"type\": \"cpu\", \"metricType\": \"Utilization\", \"metadata\": {\"value\": \"50\"}}]}}";

static const json_t *owner(void)
{
    static json_t *o;
    if (!o)
        o = obj("{\"apiVersion\": \"flagger.app/v1beta1\", \"kind\": \"Canary\", \"name\": \"podinfo\","
                " \"uid\": \"1\", \"controller\": true, \"blockOwnerDeletion\": true}");
    return o;
}

#define CANARY_HEAD                                                                              \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n" \
    "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"              \
    "  service: {port: 9898}\n  analysis: {interval: 15s, threshold: 5, iterations: 5}\n"

/* Flagger's renaming: podinfo and podinfo-canary both become podinfo-primary. */
static void test_primary_query(void **state)
{
    char *q = cdk_primary_scaler_query("a{d=\"podinfo-canary\"} + b{d=\"podinfo\"} / podinfo-x", "podinfo");
    assert_string_equal(q, "a{d=\"podinfo-primary\"} + b{d=\"podinfo-primary\"} / podinfo-primary-x");
    free(q);
    q = cdk_primary_scaler_query("nothing here", "podinfo");
    assert_string_equal(q, "nothing here");
    free(q);
}

static void test_primary_scaled_object(void **state)
{
    cd_object *cd = canary(CANARY_HEAD "  autoscalerRef: {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, "
                                       "name: podinfo-so}\n");
    json_t *so = obj(SO);
    json_t *p = cdk_primary_scaled_object(so, "podinfo", &cd->spec.canary.autoscaler_ref, owner());
    assert_string_equal(S(p, "metadata.name"), "podinfo-so-primary");
    assert_string_equal(S(p, "spec.scaleTargetRef.name"), "podinfo-primary");
    assert_string_equal(S(p, "spec.advanced.horizontalPodAutoscalerConfig.name"), "podinfo-hpa-primary");
    assert_int_equal(kj_int(p, "spec.pollingInterval", 0), 10);
    assert_int_equal(kj_int(p, "spec.cooldownPeriod", 0), 20);
    assert_int_equal(kj_int(p, "spec.maxReplicaCount", 0), 3);
    json_t *t0 = json_array_get(kj_at(p, "spec.triggers"), 0);
    assert_string_equal(S(t0, "metadata.query"),
                        "sum(rate(http_requests_total{deployment=\"podinfo-primary\"}[1m])) + "
                        "sum(rate(http_requests_total{app=\"podinfo-primary\"}[1m]))");
    assert_string_equal(S(json_array_get(kj_at(p, "spec.triggers"), 1), "metadata.value"), "50");
    /* never paused, never Flux's labels; the canary owns it */
    assert_null(json_object_get(kj_at(p, "metadata.annotations"), CDK_KEDA_PAUSED_REPLICAS));
    assert_string_equal(S(p, "metadata.annotations.team"), "a");
    assert_null(json_object_get(kj_at(p, "metadata.labels"), "kustomize.toolkit.fluxcd.io/name"));
    assert_string_equal(S(json_array_get(kj_at(p, "metadata.ownerReferences"), 0), "kind"), "Canary");
    /* the source is untouched */
    assert_string_equal(S(so, "spec.scaleTargetRef.name"), "podinfo");
    assert_schema_valid(keda_crd(), p);

    /* an update copies the spec only when it differs */
    json_t *live = json_deep_copy(p);
    assert_false(cdk_scaled_object_update(live, p));
    json_object_set_new(json_object_get(live, "spec"), "maxReplicaCount", json_integer(9));
    assert_true(cdk_scaled_object_update(live, p));
    assert_int_equal(kj_int(live, "spec.maxReplicaCount", 0), 3);
    json_decref(live);
    json_decref(p);
    json_decref(so);
    cd_object_free(cd);
}

/* primaryScalerQueries replace the queries of the triggers they name;
 * primaryScalerReplicas the counts. */
static void test_primary_scaler_fields(void **state)
{
    cd_object *cd = canary(CANARY_HEAD
                           "  autoscalerRef:\n    apiVersion: keda.sh/v1alpha1\n    kind: ScaledObject\n"
                           "    name: podinfo-so\n    primaryScalerQueries:\n"
                           "      rps: sum(rate(http_requests_total{app=\"podinfo-primary\"}[2m]))\n"
                           "      other: up\n"
                           "    primaryScalerReplicas: {minReplicas: 2, maxReplicas: 5}\n");
    json_t *so = obj(SO);
    json_t *p = cdk_primary_scaled_object(so, "podinfo", &cd->spec.canary.autoscaler_ref, owner());
    assert_string_equal(S(json_array_get(kj_at(p, "spec.triggers"), 0), "metadata.query"),
                        "sum(rate(http_requests_total{app=\"podinfo-primary\"}[2m]))");
    assert_null(kj_at(json_array_get(kj_at(p, "spec.triggers"), 1), "metadata.query"));
    assert_int_equal(kj_int(p, "spec.minReplicaCount", 0), 2);
    assert_int_equal(kj_int(p, "spec.maxReplicaCount", 0), 5);
    assert_schema_valid(keda_crd(), p);
    json_decref(p);
    json_decref(so);
    cd_object_free(cd);
}

/* ---- plain Service targets -------------------------------------------------------- */

/* Flagger's buildService: a copy with its own address (a headless one
 * stays headless), no node ports, no kubectl record, the canary's owner. */
static void test_service_copy(void **state)
{
    json_t *src = obj("{\"apiVersion\": \"v1\", \"kind\": \"Service\","
                      " \"metadata\": {\"name\": \"podinfo\", \"namespace\": \"test\", \"uid\": \"u\","
                      "   \"resourceVersion\": \"7\", \"labels\": {\"team\": \"a\"},"
                      "   \"annotations\": {\"kubectl.kubernetes.io/last-applied-configuration\": \"{}\", \"x\": \"y\"}},"
                      " \"spec\": {\"type\": \"NodePort\", \"clusterIP\": \"10.0.0.1\", \"clusterIPs\": [\"10.0.0.1\"],"
                      "   \"selector\": {\"app\": \"podinfo\"},"
                      "   \"ports\": [{\"name\": \"http\", \"port\": 80, \"nodePort\": 30080}]},"
                      " \"status\": {\"loadBalancer\": {}}}");
    json_t *c = cdk_service_copy(src, "podinfo-canary", "PreferClose", owner());
    assert_string_equal(S(c, "metadata.name"), "podinfo-canary");
    assert_string_equal(S(c, "metadata.namespace"), "test");
    assert_null(kj_at(c, "metadata.uid"));
    assert_null(kj_at(c, "metadata.resourceVersion"));
    assert_null(kj_at(c, "status"));
    assert_string_equal(S(c, "metadata.labels.team"), "a");
    assert_string_equal(S(c, "metadata.annotations.x"), "y");
    assert_null(json_object_get(kj_at(c, "metadata.annotations"),
                                "kubectl.kubernetes.io/last-applied-configuration"));
    assert_null(kj_at(c, "spec.clusterIP"));
    assert_null(kj_at(c, "spec.clusterIPs"));
    assert_null(json_object_get(json_array_get(kj_at(c, "spec.ports"), 0), "nodePort"));
    assert_string_equal(S(c, "spec.trafficDistribution"), "PreferClose");
    assert_string_equal(S(c, "spec.selector.app"), "podinfo");
    assert_string_equal(S(json_array_get(kj_at(c, "metadata.ownerReferences"), 0), "kind"), "Canary");
    /* the source is untouched */
    assert_non_null(json_object_get(json_array_get(kj_at(src, "spec.ports"), 0), "nodePort"));
    json_decref(c);
    json_object_set_new(json_object_get(src, "spec"), "clusterIP", json_string("None"));
    c = cdk_service_copy(src, "podinfo-primary", NULL, NULL);
    assert_string_equal(S(c, "spec.clusterIP"), "None");
    assert_null(kj_at(c, "spec.trafficDistribution"));
    assert_null(kj_at(c, "metadata.ownerReferences"));
    json_decref(c);
    json_decref(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traffic),          cmocka_unit_test(test_routes_after_promotion),
        cmocka_unit_test(test_routes_invalid),   cmocka_unit_test(test_revision_ready),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_primary_query),    cmocka_unit_test(test_primary_scaled_object),
        cmocka_unit_test(test_primary_scaler_fields), cmocka_unit_test(test_service_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
