/* hpa.c - the primary's HorizontalPodAutoscaler (autoscaling/v2) as pure
 * functions (reference §7.2): built from the target's HPA, and the fields
 * an update copies. No I/O. */
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include <stdio.h>

json_t *cdk_primary_hpa(const json_t *hpa, const char *primary_name, const cd_autoscaler_ref *ref,
                        const json_t *owner_ref)
{
    char name[512];
    snprintf(name, sizeof name, "%s-primary", kj_str(hpa, "metadata.name") ?: "");
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("autoscaling/v2"));
    json_object_set_new(o, "kind", json_string("HorizontalPodAutoscaler"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    kj_set_str(md, "namespace", kj_str(hpa, "metadata.namespace"));
    json_t *labels = cdk_without_toolkit(kj_at(hpa, "metadata.labels"));
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else
        json_decref(labels);
    if (owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", owner_ref));

    json_t *spec = kj_obj(o, "spec");
    json_t *src = kj_at(hpa, "spec");
    json_t *str = kj_obj(spec, "scaleTargetRef");
    json_object_set_new(str, "name", json_string(primary_name));
    kj_set_str(str, "kind", kj_str(src, "scaleTargetRef.kind") ?: "Deployment");
    kj_set_str(str, "apiVersion", kj_str(src, "scaleTargetRef.apiVersion") ?: "apps/v1");
    kj_set_copy(spec, "minReplicas", json_object_get(src, "minReplicas"));
    kj_set_copy(spec, "maxReplicas", json_object_get(src, "maxReplicas"));
    kj_set_copy(spec, "metrics", json_object_get(src, "metrics"));
    kj_set_copy(spec, "behavior", json_object_get(src, "behavior"));
    if (ref && ref->has_min_replicas)
        json_object_set_new(spec, "minReplicas", json_integer(ref->min_replicas));
    if (ref && ref->has_max_replicas)
        json_object_set_new(spec, "maxReplicas", json_integer(ref->max_replicas));
    return o;
}

bool cdk_hpa_update(json_t *live, const json_t *desired)
{
    json_t *ls = kj_obj(live, "spec");
    const json_t *ds = kj_at(desired, "spec");
    bool changed = false;
    /* minReplicas defaults to 1 */
    if (kj_int(ls, "minReplicas", 1) != kj_int(ds, "minReplicas", 1)) {
        kj_set_copy(ls, "minReplicas", json_object_get(ds, "minReplicas"));
        changed = true;
    }
    static const char *const fields[] = {"maxReplicas", "metrics", "behavior"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!kj_equal(json_object_get(ls, fields[i]), json_object_get(ds, fields[i]))) {
            kj_set_copy(ls, fields[i], json_object_get(ds, fields[i]));
            changed = true;
        }
    }
    return changed;
}
