/* scaledobject.c - the primary's KEDA ScaledObject (keda.sh/v1alpha1) as
 * pure functions (builders.h, Flagger's ScaledObjectReconciler): built
 * from the canary's ScaledObject, with the triggers' queries pointed at
 * the primary, and what an update copies. No I/O. */
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include "util/buf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cdk_primary_scaler_query(const char *query, const char *target)
{
    cd_buf b = CD_BUF_INIT;
    size_t tn = strlen(target);
    char canary[512], primary[512];
    snprintf(canary, sizeof canary, "%s-canary", target);
    snprintf(primary, sizeof primary, "%s-primary", target);
    size_t cn = strlen(canary);
    /* left to right, the longer name first: what Flagger's three
     * ReplaceAll passes (through a placeholder) amount to */
    for (const char *p = query; *p;) {
        if (tn && !strncmp(p, canary, cn)) {
            cd_buf_puts(&b, primary);
            p += cn;
        } else if (tn && !strncmp(p, target, tn)) {
            cd_buf_puts(&b, primary);
            p += tn;
        } else {
            cd_buf_putc(&b, *p++);
        }
    }
    return cd_buf_steal(&b);
}

/* metadata.query of every trigger: primaryScalerQueries by trigger name,
 * else the query renamed for the primary. */
static void primary_queries(json_t *triggers, const char *target, const cd_autoscaler_ref *ref)
{
    bool named = ref && ref->primary_scaler_queries.n > 0;
    size_t i;
    json_t *t;
    json_array_foreach(triggers, i, t) {
        json_t *md = json_object_get(t, "metadata");
        if (!json_is_object(md))
            continue;
        if (named) {
            const char *name = kj_str(t, "name");
            const char *q = name ? cd_strmap_get(&ref->primary_scaler_queries, name) : NULL;
            if (q)
                json_object_set_new(md, "query", json_string(q));
            continue;
        }
        const char *q = json_string_value(json_object_get(md, "query"));
        if (q) {
            char *r = cdk_primary_scaler_query(q, target);
            json_object_set_new(md, "query", json_string(r));
            free(r);
        }
    }
}

static json_t *meta_copy(const json_t *map, bool annotations)
{
    json_t *m = cdk_without_toolkit(map);
    if (annotations) {   /* never a paused primary, never kubectl's record */
        json_object_del(m, CDK_KEDA_PAUSED_REPLICAS);
        json_object_del(m, "autoscaling.keda.sh/paused");
        json_object_del(m, "kubectl.kubernetes.io/last-applied-configuration");
    }
    return m;
}

json_t *cdk_primary_scaled_object(const json_t *so, const char *target, const cd_autoscaler_ref *ref,
                                  const json_t *owner_ref)
{
    char name[512], pname[512];
    snprintf(name, sizeof name, "%s-primary", kj_str(so, "metadata.name") ?: "");
    snprintf(pname, sizeof pname, "%s-primary", target);
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("keda.sh/v1alpha1"));
    json_object_set_new(o, "kind", json_string("ScaledObject"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    kj_set_str(md, "namespace", kj_str(so, "metadata.namespace"));
    static const char *const maps[] = {"labels", "annotations"};
    for (size_t i = 0; i < 2; i++) {
        json_t *m = meta_copy(kj_at(so, i ? "metadata.annotations" : "metadata.labels"), i == 1);
        if (json_object_size(m))
            json_object_set_new(md, maps[i], m);
        else
            json_decref(m);
    }
    if (owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", owner_ref));

    json_t *spec = kj_obj(o, "spec");
    const json_t *src = kj_at(so, "spec");
    json_t *str = kj_obj(spec, "scaleTargetRef");
    json_object_set_new(str, "name", json_string(pname));
    kj_set_copy(str, "kind", kj_at(src, "scaleTargetRef.kind"));
    kj_set_copy(str, "apiVersion", kj_at(src, "scaleTargetRef.apiVersion"));
    kj_set_copy(str, "envSourceContainerName", kj_at(src, "scaleTargetRef.envSourceContainerName"));
    static const char *const fields[] = {"pollingInterval", "cooldownPeriod", "idleReplicaCount",
                                         "minReplicaCount", "maxReplicaCount", "advanced",
                                         "fallback", "triggers"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        kj_set_copy(spec, fields[i], json_object_get(src, fields[i]));
    json_t *hpa_name = kj_at(spec, "advanced.horizontalPodAutoscalerConfig.name");
    if (json_string_length(hpa_name)) {
        char n[512];
        snprintf(n, sizeof n, "%s-primary", json_string_value(hpa_name));
        json_string_set(hpa_name, n);
    }
    primary_queries(json_object_get(spec, "triggers"), target, ref);
    if (ref && ref->has_min_replicas)
        json_object_set_new(spec, "minReplicaCount", json_integer(ref->min_replicas));
    if (ref && ref->has_max_replicas)
        json_object_set_new(spec, "maxReplicaCount", json_integer(ref->max_replicas));
    return o;
}

bool cdk_scaled_object_update(json_t *live, const json_t *desired)
{
    const json_t *ds = kj_at(desired, "spec");
    if (kj_equal(json_object_get(live, "spec"), ds))
        return false;
    json_object_set_new(live, "spec", json_deep_copy(ds));
    return true;
}
