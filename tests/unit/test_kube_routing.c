/* test_kube_routing.c - the routing objects as pure functions
 * (src/kube/mesh/builders.h) against Flagger's behaviours (reference
 * §8.2): the Kubernetes Services (26) and the App Mesh v1beta2 objects
 * (24), each App Mesh object also validated against the real
 * appmesh.k8s.aws CRDs (shared/conformance/crds/appmesh) with canaryd's
 * structural-schema validator, unknown fields counting as errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "model/object.h"
#include "model/schema.h"
#include "util/fsutil.h"
#include "kubefix.h"

/* ---- App Mesh CRDs --------------------------------------------------------------- */

static void load_appmesh_crds(void)
{
    static bool done;
    if (done)
        return;
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    static const char *const files[] = {"virtualnodes", "virtualrouters", "virtualservices"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/conformance/crds/appmesh/appmesh.k8s.aws_%s.yaml",
                 shared ? shared : "../shared", files[i]);
        size_t len;
        char *text = cd_read_file(path, &len);
        if (!text)
            fail_msg("cannot read %s (CANARYD_SHARED)", path);
        cd_diags d;
        cd_diags_init(&d);
        assert_true(cd_schema_load_text(path, text, len, &d) > 0);
        cd_diags_free(&d);
        free(text);
    }
    done = true;
}

/* Valid against its CRD, and nothing the API server would prune. */
static void assert_valid(const json_t *o)
{
    load_appmesh_crds();
    assert_schema_valid(cd_schema_find("appmesh.k8s.aws", "v1beta2", S(o, "kind")), o);
}

/* The validator is not vacuous: a wrong enum and an unknown field fail. */
static void test_validator_rejects(void **state)
{
    load_appmesh_crds();
    const cd_crd_version *crd = cd_schema_find("appmesh.k8s.aws", "v1beta2", "VirtualNode");
    assert_non_null(crd);
    json_t *bad = obj("{\"apiVersion\":\"appmesh.k8s.aws/v1beta2\",\"kind\":\"VirtualNode\","
                      "\"metadata\":{\"name\":\"x\"},\"spec\":{\"listeners\":[{\"portMapping\":"
                      "{\"port\":80,\"protocol\":\"bogus\"}}],\"nope\":1}}");
    cd_stream *s = cd_stream_from_json("bad", bad);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd->schema, s->docs[0].root, NULL, "", &d);
    assert_true(d.errors >= 1);
    assert_true(d.warnings >= 1);
    cd_diags_free(&d);
    cd_stream_free(s);
    json_decref(bad);
}

/* ---- Services (§8.2 26) ------------------------------------------------------------ */

#define CANARY_HEAD                                                                                \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"  \
    "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
#define ANALYSIS "  analysis: {interval: 1m, threshold: 5, stepWeight: 10, maxWeight: 50}\n"

static void svc_in(cdk_svc_in *in, const cd_object *c, const char *name, const char *value,
                   const cd_metadata *md, const json_t *owner)
{
    memset(in, 0, sizeof *in);
    in->spec = &c->spec.canary;
    in->ns = "test";
    in->name = name;
    in->label = "app";
    in->selector_value = value;
    in->md = md;
    in->owner_ref = owner;
}

static void test_service_build(void **state)
{
    cd_object *c = canary(CANARY_HEAD
                          "  service:\n    port: 80\n    targetPort: 9898\n    portName: http-web\n"
                          "    appProtocol: http\n    headless: true\n"
                          "    trafficDistribution: PreferClose\n"
                          "    canary:\n      labels: {tier: canary}\n"
                          "      annotations: {a: b, kustomize.toolkit.fluxcd.io/x: y}\n" ANALYSIS);
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true}");
    cdk_port ports[1] = {{"http-metrics", 8080}};
    cdk_svc_in in;
    svc_in(&in, c, "podinfo-canary", "podinfo", &c->spec.canary.service.canary, owner);
    in.ports = ports;
    in.nports = 1;
    json_t *s = cdk_service_build(&in);
    assert_string_equal(S(s, "metadata.name"), "podinfo-canary");
    assert_string_equal(S(s, "spec.type"), "ClusterIP");
    assert_string_equal(S(s, "spec.clusterIP"), "None");
    assert_string_equal(S(s, "spec.trafficDistribution"), "PreferClose");
    assert_string_equal(S(s, "spec.selector.app"), "podinfo");
    json_t *p0 = json_array_get(kj_at(s, "spec.ports"), 0);
    assert_string_equal(S(p0, "name"), "http-web");
    assert_int_equal(kj_int(p0, "port", 0), 80);
    assert_int_equal(kj_int(p0, "targetPort", 0), 9898);
    assert_string_equal(S(p0, "protocol"), "TCP");
    assert_string_equal(S(p0, "appProtocol"), "http");
    json_t *p1 = json_array_get(kj_at(s, "spec.ports"), 1);
    assert_string_equal(S(p1, "name"), "http-metrics");
    assert_int_equal(kj_int(p1, "targetPort", 0), 8080);
    json_t *labels = kj_at(s, "metadata.labels");
    assert_string_equal(json_string_value(json_object_get(labels, "app")), "podinfo-canary");
    assert_string_equal(json_string_value(json_object_get(labels, "tier")), "canary");
    json_t *ann = kj_at(s, "metadata.annotations");
    assert_int_equal(json_object_size(ann), 3);   /* a + the two Flux annotations */
    assert_string_equal(json_string_value(json_object_get(ann, "kustomize.toolkit.fluxcd.io/reconcile")),
                        "disabled");
    assert_string_equal(json_string_value(json_object_get(ann, "helm.toolkit.fluxcd.io/driftDetection")),
                        "disabled");
    assert_string_equal(S(json_array_get(kj_at(s, "metadata.ownerReferences"), 0), "kind"), "Canary");
    json_decref(s);
    cd_object_free(c);

    /* defaults: port name http, targetPort = port, two default annotations */
    c = canary(CANARY_HEAD "  service: {port: 9898}\n" ANALYSIS);
    svc_in(&in, c, "podinfo", "podinfo-primary", NULL, NULL);
    s = cdk_service_build(&in);
    p0 = json_array_get(kj_at(s, "spec.ports"), 0);
    assert_string_equal(S(p0, "name"), "http");
    assert_int_equal(kj_int(p0, "targetPort", 0), 9898);
    assert_false(kj_has(s, "spec.clusterIP"));
    assert_false(kj_has(p0, "appProtocol"));
    assert_int_equal(json_object_size(kj_at(s, "metadata.annotations")), 2);
    json_decref(s);
    cd_object_free(c);
    json_decref(owner);
}

static void test_service_update(void **state)
{
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true}");
    cd_object *c = canary(CANARY_HEAD "  service:\n    port: 9898\n"
                                      "    unmanagedMetadata:\n      labels: [keep-l]\n"
                                      "      annotations: [keep-a]\n" ANALYSIS);
    cdk_svc_in in;
    svc_in(&in, c, "podinfo", "podinfo-primary", NULL, owner);
    json_t *want = cdk_service_build(&in);
    /* as the API server stores it */
    json_t *live = json_deep_copy(want);
    json_object_set_new(kj_at(live, "spec"), "clusterIP", json_string("10.0.0.1"));
    json_object_set_new(kj_at(live, "metadata"), "resourceVersion", json_string("7"));
    assert_null(cdk_service_update(live, &in, "podinfo"));   /* nothing to change */

    /* port rename: update, then undo */
    cd_object *renamed = canary(CANARY_HEAD "  service: {port: 9898, portName: grpc}\n" ANALYSIS);
    cdk_svc_in in2;
    svc_in(&in2, renamed, "podinfo", "podinfo-primary", NULL, owner);
    json_t *upd = cdk_service_update(live, &in2, "podinfo");
    assert_non_null(upd);
    assert_string_equal(S(json_array_get(kj_at(upd, "spec.ports"), 0), "name"), "grpc");
    assert_string_equal(S(upd, "spec.clusterIP"), "10.0.0.1");
    json_t *undo = cdk_service_update(upd, &in, "podinfo");
    assert_non_null(undo);
    assert_string_equal(S(json_array_get(kj_at(undo, "spec.ports"), 0), "name"), "http");
    json_decref(undo);
    json_decref(upd);
    cd_object_free(renamed);

    /* selector change; the cluster's nodePort is kept */
    json_object_set_new(json_array_get(kj_at(live, "spec.ports"), 0), "nodePort", json_integer(30080));
    json_object_set_new(kj_at(live, "spec.selector"), "app", json_string("podinfo"));
    upd = cdk_service_update(live, &in, "podinfo");
    assert_non_null(upd);
    assert_string_equal(S(upd, "spec.selector.app"), "podinfo-primary");
    assert_int_equal(kj_int(json_array_get(kj_at(upd, "spec.ports"), 0), "nodePort", 0), 30080);
    json_decref(upd);
    json_object_set_new(kj_at(live, "spec.selector"), "app", json_string("podinfo-primary"));

    /* owned: foreign metadata removed, unmanaged keys kept as they are */
    json_t *md = kj_at(live, "metadata");
    json_object_set_new(kj_obj(md, "labels"), "stray", json_string("x"));
    json_object_set_new(kj_obj(md, "labels"), "keep-l", json_string("mine"));
    json_object_set_new(kj_obj(md, "annotations"), "keep-a", json_string("mine"));
    upd = cdk_service_update(live, &in, "podinfo");
    assert_non_null(upd);
    assert_null(S(upd, "metadata.labels.stray"));
    assert_string_equal(json_string_value(json_object_get(kj_at(upd, "metadata.labels"), "keep-l")), "mine");
    assert_string_equal(json_string_value(json_object_get(kj_at(upd, "metadata.annotations"), "keep-a")),
                        "mine");
    assert_string_equal(json_string_value(json_object_get(kj_at(upd, "metadata.labels"), "app")), "podinfo");
    assert_null(cdk_service_update(upd, &in, "podinfo"));   /* converged */
    json_decref(upd);

    /* not ours (no Canary controller): nothing to change, nothing written */
    json_object_del(md, "ownerReferences");
    assert_null(cdk_service_update(live, &in, "podinfo"));
    /* a user's Service whose selector canaryd rewrites: labels and annotations
     * kept, plus the two Flux annotations (Flagger's filterMetadata) */
    json_object_set_new(kj_at(live, "spec.selector"), "app", json_string("podinfo"));
    json_object_del(kj_at(md, "annotations"), "kustomize.toolkit.fluxcd.io/reconcile");
    json_object_del(kj_at(md, "annotations"), "helm.toolkit.fluxcd.io/driftDetection");
    upd = cdk_service_update(live, &in, "podinfo");
    assert_non_null(upd);
    assert_string_equal(S(upd, "spec.selector.app"), "podinfo-primary");
    json_t *ua = kj_at(upd, "metadata.annotations");
    assert_string_equal(json_string_value(json_object_get(ua, "kustomize.toolkit.fluxcd.io/reconcile")),
                        "disabled");
    assert_string_equal(json_string_value(json_object_get(ua, "helm.toolkit.fluxcd.io/driftDetection")),
                        "disabled");
    assert_string_equal(json_string_value(json_object_get(ua, "keep-a")), "mine");
    assert_int_equal(json_object_size(ua), 3);
    assert_string_equal(json_string_value(json_object_get(kj_at(upd, "metadata.labels"), "stray")), "x");
    assert_null(cdk_service_update(upd, &in, "podinfo"));   /* converged */
    json_decref(upd);
    /* a user's Service without annotations at all gets the two */
    json_t *bare = json_deep_copy(live);
    json_object_del(kj_at(bare, "metadata"), "annotations");
    upd = cdk_service_update(bare, &in, "podinfo");
    assert_non_null(upd);
    assert_int_equal(json_object_size(kj_at(upd, "metadata.annotations")), 2);
    json_decref(upd);
    json_decref(bare);
    json_object_set_new(kj_at(live, "spec.selector"), "app", json_string("podinfo-primary"));
    /* owned by another canary: untouched too */
    json_t *other = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"x\","
                        "\"uid\":\"u2\",\"controller\":true}");
    json_object_set_new(md, "ownerReferences", json_pack("[O]", other));
    assert_null(cdk_service_update(live, &in, "podinfo"));
    json_decref(other);
    json_decref(live);
    json_decref(want);
    cd_object_free(c);
    json_decref(owner);
}

/* ---- App Mesh (§8.2 24) ---------------------------------------------------------------- */

#define MESH_CANARY                                                                                \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\n"                                              \
    "metadata:\n  name: podinfo\n  namespace: test\n"                                              \
    "  annotations: {appmesh.flagger.app/accesslog: enabled}\n"                                   \
    "spec:\n  provider: appmesh:v1beta2\n"                                                        \
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"                        \
    "  service:\n    port: 80\n    targetPort: 9898\n    timeout: 30s\n"                           \
    "    hosts: [app.example.com, www.example.com]\n"                                             \
    "    retries: {attempts: 3, perTryTimeout: 5s, retryOn: \"gateway-error,client-error\"}\n"     \
    "    backends: [backend1, backend2, \"arn:aws:appmesh:eu-west-1:1:mesh/m/virtualService/b3\"]\n" \
    "    apex: {labels: {team: web}, annotations: {note: apex}}\n"

static void mesh_in(cdk_mesh_in *in, const cd_object *c, const json_t *owner)
{
    in->spec = &c->spec.canary;
    in->meta = &c->meta;
    in->label = "app";
    in->value = "podinfo";
    in->owner_ref = owner;
}

static void test_appmesh_nodes(void **state)
{
    cd_object *c = canary(MESH_CANARY ANALYSIS);
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true,\"blockOwnerDeletion\":true}");
    cdk_mesh_in in;
    mesh_in(&in, c, owner);
    json_t *vn = cdk_appmesh_virtual_node(&in, "podinfo-primary", "podinfo-primary",
                                          "podinfo-primary.test.svc.cluster.local.");
    assert_valid(vn);
    assert_string_equal(S(vn, "apiVersion"), "appmesh.k8s.aws/v1beta2");
    assert_string_equal(S(vn, "spec.serviceDiscovery.dns.hostname"),
                        "podinfo-primary.test.svc.cluster.local.");
    assert_string_equal(S(vn, "spec.podSelector.matchLabels.app"), "podinfo-primary");
    assert_string_equal(S(vn, "spec.logging.accessLog.file.path"), "/dev/stdout");
    json_t *l0 = json_array_get(kj_at(vn, "spec.listeners"), 0);
    assert_int_equal(kj_int(l0, "portMapping.port", 0), 9898);
    assert_string_equal(S(l0, "portMapping.protocol"), "http");
    assert_int_equal(kj_int(l0, "timeout.http.perRequest.value", 0), 30000);
    assert_string_equal(S(l0, "timeout.http.perRequest.unit"), "ms");
    json_t *b = kj_at(vn, "spec.backends");
    assert_int_equal(json_array_size(b), 3);
    assert_string_equal(S(json_array_get(b, 0), "virtualService.virtualServiceRef.name"), "backend1");
    assert_string_equal(S(json_array_get(b, 2), "virtualService.virtualServiceARN"),
                        "arn:aws:appmesh:eu-west-1:1:mesh/m/virtualService/b3");
    assert_string_equal(json_string_value(json_object_get(kj_at(vn, "metadata.labels"), "team")), "web");
    assert_string_equal(json_string_value(json_object_get(kj_at(vn, "metadata.annotations"), "note")),
                        "apex");
    assert_string_equal(S(json_array_get(kj_at(vn, "metadata.ownerReferences"), 0), "uid"), "u1");

    /* the App Mesh controller's fields are kept, equal specs need no update */
    json_t *live = json_deep_copy(vn);
    json_object_set_new(kj_at(live, "spec"), "awsName", json_string("podinfo-primary_test"));
    json_object_set_new(kj_at(live, "spec"), "meshRef", json_pack("{s:s,s:s}", "name", "global", "uid", "m1"));
    assert_null(cdk_appmesh_node_update(live, vn));
    /* fewer backends in the canary: update, keeping awsName and meshRef */
    cd_object *c2 = canary(MESH_CANARY ANALYSIS);
    cd_strlist *bl = (cd_strlist *)&c2->spec.canary.service.backends;
    bl->n = 1;
    cdk_mesh_in in2;
    mesh_in(&in2, c2, owner);
    json_t *vn2 = cdk_appmesh_virtual_node(&in2, "podinfo-primary", "podinfo-primary",
                                           "podinfo-primary.test.svc.cluster.local.");
    json_t *upd = cdk_appmesh_node_update(live, vn2);
    assert_non_null(upd);
    assert_int_equal(json_array_size(kj_at(upd, "spec.backends")), 1);
    assert_string_equal(S(upd, "spec.awsName"), "podinfo-primary_test");
    assert_string_equal(S(upd, "spec.meshRef.name"), "global");
    json_t *upd3 = cdk_appmesh_node_update(upd, vn);   /* back to three backends */
    assert_int_equal(json_array_size(kj_at(upd3, "spec.backends")), 3);
    json_decref(upd3);
    json_decref(upd);
    json_decref(vn2);
    cd_object_free(c2);
    json_decref(live);
    json_decref(vn);

    /* grpc port name, no timeout, no access log */
    cd_object *g = canary(CANARY_HEAD "  service: {port: 9000, portName: grpc-api}\n" ANALYSIS);
    mesh_in(&in2, g, NULL);
    json_t *gn = cdk_appmesh_virtual_node(&in2, "podinfo-canary", "podinfo",
                                          "podinfo-canary.test.svc.cluster.local.");
    assert_valid(gn);
    json_t *g0 = json_array_get(kj_at(gn, "spec.listeners"), 0);
    assert_string_equal(S(g0, "portMapping.protocol"), "grpc");
    assert_int_equal(kj_int(g0, "portMapping.port", 0), 9000);
    assert_false(kj_has(g0, "timeout"));
    assert_false(kj_has(gn, "spec.logging"));
    assert_false(kj_has(gn, "spec.backends"));
    json_decref(gn);
    cd_object_free(g);
    cd_object_free(c);
    json_decref(owner);
}

static void test_appmesh_routers(void **state)
{
    cd_object *c = canary(MESH_CANARY "    match: [{uri: {prefix: /podinfo}}]\n" ANALYSIS);
    cdk_mesh_in in;
    mesh_in(&in, c, NULL);
    json_t *apex = cdk_appmesh_virtual_router(&in, "podinfo", 0);
    assert_valid(apex);
    json_t *r0 = json_array_get(kj_at(apex, "spec.routes"), 0);
    assert_int_equal(json_array_size(kj_at(apex, "spec.routes")), 1);
    assert_string_equal(S(r0, "name"), "podinfo");
    assert_string_equal(S(r0, "httpRoute.match.prefix"), "/podinfo");
    assert_int_equal(kj_int(r0, "httpRoute.timeout.perRequest.value", 0), 30000);
    assert_int_equal(kj_int(r0, "httpRoute.retryPolicy.maxRetries", 0), 3);
    assert_int_equal(kj_int(r0, "httpRoute.retryPolicy.perRetryTimeout.value", 0), 5000);
    json_t *ev = kj_at(r0, "httpRoute.retryPolicy.httpRetryEvents");
    assert_int_equal(json_array_size(ev), 2);
    assert_string_equal(json_string_value(json_array_get(ev, 1)), "client-error");
    json_t *wt = kj_at(r0, "httpRoute.action.weightedTargets");
    assert_int_equal(json_array_size(wt), 2);
    int p, w;
    cd_err err = {{0}};
    assert_true(cdk_appmesh_get_weights(apex, "podinfo", &p, &w, &err));
    assert_int_equal(p, 100);
    assert_int_equal(w, 0);
    assert_int_equal(kj_int(apex, "spec.listeners.0", -1), -1);
    assert_int_equal(kj_int(json_array_get(kj_at(apex, "spec.listeners"), 0), "portMapping.port", 0), 9898);

    json_t *cr = cdk_appmesh_virtual_router(&in, "podinfo-canary", 100);
    assert_valid(cr);
    assert_string_equal(S(json_array_get(kj_at(cr, "spec.routes"), 0), "name"), "podinfo-canary");
    assert_true(cdk_appmesh_get_weights(cr, "podinfo", &p, &w, &err));
    assert_int_equal(w, 100);
    assert_int_equal(p, 0);

    /* Set/Get 60/40 */
    json_t *live = json_deep_copy(apex);
    assert_true(cdk_appmesh_set_weights(live, "podinfo", 60, 40));
    assert_valid(live);
    assert_true(cdk_appmesh_get_weights(live, "podinfo", &p, &w, &err));
    assert_int_equal(p, 60);
    assert_int_equal(w, 40);
    /* same spec apart from the weights: no update */
    assert_null(cdk_appmesh_router_update(live, apex));
    /* URI prefix back to "/": update keeps the live weights */
    cd_object *c2 = canary(MESH_CANARY ANALYSIS);
    cdk_mesh_in in2;
    mesh_in(&in2, c2, NULL);
    json_t *apex2 = cdk_appmesh_virtual_router(&in2, "podinfo", 0);
    json_t *upd = cdk_appmesh_router_update(live, apex2);
    assert_non_null(upd);
    assert_string_equal(S(json_array_get(kj_at(upd, "spec.routes"), 0), "httpRoute.match.prefix"), "/");
    assert_true(cdk_appmesh_get_weights(upd, "podinfo", &p, &w, &err));
    assert_int_equal(p, 60);
    assert_int_equal(w, 40);
    json_decref(upd);
    json_decref(apex2);
    cd_object_free(c2);

    /* both weights 0, or not two targets: errors */
    assert_true(cdk_appmesh_set_weights(live, "podinfo", 0, 0));
    assert_false(cdk_appmesh_get_weights(live, "podinfo", &p, &w, &err));
    assert_string_equal(err.msg, "VirtualRouter podinfo does not contain routes for podinfo-primary and "
                                 "podinfo-canary");
    json_t *empty = obj("{\"spec\":{\"routes\":[]}}");
    assert_false(cdk_appmesh_get_weights(empty, "podinfo", &p, &w, &err));
    assert_string_equal(err.msg, "VirtualRouter routes podinfo not found");
    assert_false(cdk_appmesh_set_weights(empty, "podinfo", 100, 0));
    json_decref(empty);
    json_decref(live);
    json_decref(apex);
    json_decref(cr);
    cd_object_free(c);
}

static void test_appmesh_ab(void **state)
{
    cd_object *c = canary(MESH_CANARY
                          "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 10\n"
                          "    match:\n    - headers:\n        x-user-type: {exact: test}\n");
    cdk_mesh_in in;
    mesh_in(&in, c, NULL);
    json_t *apex = cdk_appmesh_virtual_router(&in, "podinfo", 0);
    assert_valid(apex);
    json_t *routes = kj_at(apex, "spec.routes");
    assert_int_equal(json_array_size(routes), 2);
    json_t *a = json_array_get(routes, 0), *b = json_array_get(routes, 1);
    assert_string_equal(S(a, "name"), "podinfo-a");
    assert_int_equal(kj_int(a, "priority", 0), 10);
    json_t *h = json_array_get(kj_at(a, "httpRoute.match.headers"), 0);
    assert_string_equal(S(h, "name"), "x-user-type");
    assert_string_equal(S(h, "match.exact"), "test");
    assert_int_equal(json_object_size(json_object_get(h, "match")), 1);
    assert_string_equal(S(b, "name"), "podinfo-b");
    assert_int_equal(kj_int(b, "priority", 0), 20);
    json_t *bt = kj_at(b, "httpRoute.action.weightedTargets");
    assert_int_equal(json_array_size(bt), 1);
    assert_string_equal(S(json_array_get(bt, 0), "virtualNodeRef.name"), "podinfo-primary");
    assert_int_equal(kj_int(json_array_get(bt, 0), "weight", 0), 100);
    /* the A/B router's weights are the header route's */
    assert_true(cdk_appmesh_set_weights(apex, "podinfo", 0, 100));
    int p, w;
    cd_err err = {{0}};
    assert_true(cdk_appmesh_get_weights(apex, "podinfo", &p, &w, &err));
    assert_int_equal(w, 100);
    /* the canary router has no header routes */
    json_t *cr = cdk_appmesh_virtual_router(&in, "podinfo-canary", 100);
    assert_int_equal(json_array_size(kj_at(cr, "spec.routes")), 1);
    json_decref(cr);
    json_decref(apex);
    cd_object_free(c);
}

static void test_appmesh_services(void **state)
{
    cd_object *c = canary(MESH_CANARY ANALYSIS);
    cdk_mesh_in in;
    mesh_in(&in, c, NULL);
    json_t *vs = cdk_appmesh_virtual_service(&in, "podinfo", true);
    assert_valid(vs);
    assert_string_equal(S(vs, "spec.provider.virtualRouter.virtualRouterRef.name"), "podinfo");
    json_t *a = kj_at(vs, "metadata.annotations");
    assert_string_equal(json_string_value(json_object_get(a, "gateway.appmesh.k8s.aws/expose")), "true");
    assert_string_equal(json_string_value(json_object_get(a, "gateway.appmesh.k8s.aws/domain")),
                        "app.example.com,www.example.com,");
    assert_string_equal(json_string_value(json_object_get(a, "gateway.appmesh.k8s.aws/timeout")), "30s");
    assert_string_equal(json_string_value(json_object_get(a, "gateway.appmesh.k8s.aws/retries")), "3");
    json_t *cvs = cdk_appmesh_virtual_service(&in, "podinfo-canary", false);
    assert_valid(cvs);
    assert_string_equal(S(cvs, "spec.provider.virtualRouter.virtualRouterRef.name"), "podinfo-canary");
    assert_false(kj_has(cvs, "metadata.annotations"));
    json_decref(vs);
    json_decref(cvs);
    cd_object_free(c);
    /* without hosts: no gateway annotations */
    c = canary(CANARY_HEAD "  service: {port: 80}\n" ANALYSIS);
    mesh_in(&in, c, NULL);
    vs = cdk_appmesh_virtual_service(&in, "podinfo", true);
    assert_false(kj_has(vs, "metadata.annotations"));
    json_decref(vs);
    cd_object_free(c);
}

/* cdk_router_names() is the table's providers: each one named resolves to
 * the router of that provider, and an unknown one's error lists them. */
static void test_router_names_are_the_table(void **state)
{
    (void)state;
    char names[512];
    snprintf(names, sizeof names, "%s", cdk_router_names());
    int n = 0;
    for (char *save = NULL, *p = strtok_r(names, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) {
        cd_err err = {{0}};
        const cdk_mesh_router *r = cdk_router_find(p, &err);
        assert_non_null(r);
        assert_string_equal(r->provider, p);
        n++;
    }
    assert_true(n >= 16);
    cd_err err = {{0}};
    assert_null(cdk_router_find("no-such-mesh", &err));
    assert_non_null(strstr(err.msg, cdk_router_names()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects),
        cmocka_unit_test(test_service_build),  cmocka_unit_test(test_service_update),
        cmocka_unit_test(test_appmesh_nodes),  cmocka_unit_test(test_appmesh_routers),
        cmocka_unit_test(test_appmesh_ab),     cmocka_unit_test(test_appmesh_services),
        cmocka_unit_test(test_router_names_are_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
