/* fuzz_kube_objects.c - libFuzzer target for what the operator does with
 * objects it reads from a cluster: any JSON (a target Deployment or
 * DaemonSet, a Service, a VirtualNode or VirtualRouter as the server
 * returned it) goes through the primary builder and promotion, the hash,
 * readiness, config tracking, port discovery and the Service and App Mesh
 * reconcilers. None may crash, hang or leak on any input. */
#include "kube/mesh/builders.h"
#include "kube/workload/builders.h"
#include "model/object.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char canary_yaml[] =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\n"
    "metadata: {name: podinfo, namespace: test, annotations: {appmesh.flagger.app/accesslog: enabled}}\n"
    "spec:\n  provider: appmesh:v1beta2\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service:\n    port: 80\n    targetPort: 9898\n    portDiscovery: true\n    timeout: 30s\n"
    "    hosts: [a.example.com]\n    retries: {attempts: 3, perTryTimeout: 5s}\n"
    "    backends: [b1, \"arn:aws:x\"]\n    match: [{uri: {prefix: /api}}]\n"
    "    unmanagedMetadata: {labels: [keep], annotations: [keep]}\n"
    "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 3\n"
    "    match: [{headers: {x-user: {exact: test}}}]\n";

static cd_object *canary(void)
{
    static cd_object *c;
    if (!c) {
        cd_object_list l = {0};
        cd_diags d;
        cd_diags_init(&d);
        cd_manifest_load_buffer("fuzz.yaml", canary_yaml, strlen(canary_yaml), false, "test", &l, &d);
        c = l.n ? cd_object_retain(l.items[0]) : NULL;
        cd_object_list_free(&l);
        cd_diags_free(&d);
    }
    return c;
}

static void workload(const json_t *o, cdk_kind kind, const cd_canary_spec *spec)
{
    static const char *labels[] = {"app", "name", "app.kubernetes.io/name"};
    static const char *prefixes[] = {"*"};
    cd_strlist sl = {labels, 3}, pl = {prefixes, 1};
    cdk_config_refs refs = {0};
    cdk_scan_config_refs(json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "spec"),
                         &refs);
    cdk_primary_in in = {kind, o, &sl, &pl, &refs, NULL, "id", false};
    cd_err err = {{0}};
    json_t *p = cdk_primary_build(&in, &err);
    if (p) {
        cdk_primary_promote(p, &in, &err);
        json_decref(p);
    }
    char hash[CD_HASH_MAX], msg[300];
    cdk_target_hash(o, kind, hash);
    cdk_deployment_ready(o, 60, 50, 1000000, msg, sizeof msg);
    cdk_daemonset_ready(o, 60, 50, 1000, 1000000, msg, sizeof msg);
    char sum[17];
    cdk_config_checksum(json_object_get(o, "data"), sum);
    cdk_config_trackable(o, CDK_SECRET);
    json_t *copy = cdk_primary_config(o, CDK_CONFIGMAP, &pl, NULL);
    json_decref(copy);
    cdk_port *ports;
    size_t n = cdk_discover_ports(o, &spec->service, &ports);
    free(ports);
    (void)n;
    cdk_config_refs_free(&refs);
    json_t *hpa = cdk_primary_hpa(o, "x-primary", &spec->autoscaler_ref, NULL);
    json_t *live = json_deep_copy(o);
    cdk_hpa_update(live, hpa);
    json_decref(live);
    json_decref(hpa);
    cdk_scale_up_replicas(o, o, o, true);
}

static void routing(const json_t *o, const cd_object *c)
{
    cdk_svc_in in = {&c->spec.canary, "test", "podinfo", "app", "podinfo-primary", NULL, NULL, 0, NULL, NULL};
    json_t *upd = cdk_service_update(o, &in, "podinfo");
    json_decref(upd);
    cdk_mesh_in mi = {&c->spec.canary, &c->meta, "app", "podinfo", NULL};
    json_t *vn = cdk_appmesh_virtual_node(&mi, "podinfo-primary", "podinfo-primary", "h.");
    json_t *vr = cdk_appmesh_virtual_router(&mi, "podinfo", 0);
    upd = cdk_appmesh_node_update(o, vn);
    json_decref(upd);
    upd = cdk_appmesh_router_update(o, vr);
    json_decref(upd);
    int p, w;
    cd_err err = {{0}};
    cdk_appmesh_get_weights(o, "podinfo", &p, &w, &err);
    json_t *live = json_deep_copy(o);
    cdk_appmesh_set_weights(live, "podinfo", 60, 40);
    json_decref(live);
    json_decref(vn);
    json_decref(vr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    json_t *o = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!o)
        return 0;
    const cd_object *c = canary();
    if (c) {
        workload(o, CDK_DEPLOYMENT, &c->spec.canary);
        workload(o, CDK_DAEMONSET, &c->spec.canary);
        routing(o, c);
    }
    json_decref(o);
    return 0;
}
