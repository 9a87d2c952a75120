/* service.c - plain Service targets (targetRef v1 Service, not Knative;
 * Flagger's ServiceController, docs/knative.md#plain-service-targets):
 * the target is a Service whose spec is released, e.g. one pointing at
 * another cluster's backends. There are no pods: canaryd keeps two copies,
 * <svc>-canary (the target's spec, brought in line every tick) and
 * <svc>-primary (created once, the target's spec copied at each
 * promotion); the canary's router splits requests between them. Both
 * are always ready; the hash is of the target's spec. Creates and
 * updates only those two Services; never writes the target. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

static cdk_ctx *ctx_of(void *p) { return p; }

/* The cluster-assigned fields a copy keeps from the live object. */
static void keep_assigned(json_t *spec, const json_t *live_spec)
{
    static const char *const keep[] = {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        kj_set_copy(spec, keep[i], json_object_get(live_spec, keep[i]));
}

json_t *cdk_service_copy(const json_t *src, const char *name, const char *traffic_distribution,
                         const json_t *owner_ref)
{
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("v1"));
    json_object_set_new(o, "kind", json_string("Service"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    kj_set_str(md, "namespace", kj_str(src, "metadata.namespace"));
    kj_set_copy(md, "labels", kj_at(src, "metadata.labels"));
    json_t *ann = kj_copy(kj_at(src, "metadata.annotations"));
    json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
    if (json_object_size(ann))
        json_object_set_new(md, "annotations", ann);
    else
        json_decref(ann);
    if (owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", owner_ref));
    json_t *spec = kj_copy(kj_at(src, "spec"));
    if (!spec)
        spec = json_object();
    /* a new copy gets its own address; a headless one stays headless */
    const char *ip = kj_str(spec, "clusterIP");
    if (!ip || strcmp(ip, "None")) {
        json_object_del(spec, "clusterIP");
        json_object_del(spec, "clusterIPs");
    }
    json_object_del(spec, "healthCheckNodePort");
    json_t *ports = json_object_get(spec, "ports");
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
        json_object_del(p, "nodePort");   /* unique per Service */
    if (traffic_distribution && *traffic_distribution)
        json_object_set_new(spec, "trafficDistribution", json_string(traffic_distribution));
    json_object_set_new(o, "spec", spec);
    return o;
}

typedef struct copy_ud { const json_t *want; bool create_only; } copy_ud;

static int copy_mutate(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    copy_ud *u = ud;
    if (u->create_only)
        return 0;
    json_t *spec = kj_copy(kj_at(u->want, "spec"));
    keep_assigned(spec, kj_at(live, "spec"));
    json_t *lmd = kj_obj(live, "metadata");
    const json_t *wmd = kj_at(u->want, "metadata");
    bool changed = !kj_equal(spec, kj_at(live, "spec")) ||
                   !kj_equal(json_object_get(wmd, "labels"), json_object_get(lmd, "labels")) ||
                   !kj_equal(json_object_get(wmd, "annotations"), json_object_get(lmd, "annotations"));
    if (changed) {
        /* ports keep the node ports the cluster assigned them */
        const json_t *lports = kj_at(live, "spec.ports");
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(spec, "ports"), i, p) {
            const json_t *lp = json_array_get(lports, i);
            if (lp && json_object_get(lp, "nodePort") && !json_object_get(p, "nodePort"))
                json_object_set(p, "nodePort", json_object_get(lp, "nodePort"));
        }
        json_object_set_new(live, "spec", spec);
        kj_set_copy(lmd, "labels", json_object_get(wmd, "labels"));
        kj_set_copy(lmd, "annotations", json_object_get(wmd, "annotations"));
        kj_set_copy(lmd, "ownerReferences", json_object_get(wmd, "ownerReferences"));
        return 1;
    }
    json_decref(spec);
    return 0;
}

static cd_rc apply_copy(cdk_ctx *x, const json_t *svc, const char *suffix, bool create_only,
                        const json_t *labels, const json_t *annotations, cd_err *err)
{
    char name[300];
    snprintf(name, sizeof name, "%s-%s", x->target, suffix);
    json_t *want = cdk_service_copy(svc, name, x->spec->service.traffic_distribution, x->owner_ref);
    json_t *md = json_object_get(want, "metadata");
    if (labels || annotations) {
        kj_set_copy(md, "labels", labels);
        kj_set_copy(md, "annotations", annotations);
    }
    if (!json_object_size(json_object_get(md, "labels")))
        json_object_del(md, "labels");
    if (!json_object_size(json_object_get(md, "annotations")))
        json_object_del(md, "annotations");
    copy_ud ud = {want, create_only};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &CD_KUBE_SERVICES, want, copy_mutate, &ud, &created, &ke);
    if (ok && created)
        cd_logf(CD_LOG_INFO, x->key, "Service %s.%s created", name, x->ns);
    if (!ok)
        cdk_err_from_kube(err, &ke, "reconciling service %s.%s failed", name, x->ns);
    json_decref(want);
    return ok ? CD_OK : CD_ERROR;
}

static cd_rc initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    cd_rc rc = apply_copy(x, svc, "canary", false, NULL, NULL, err);
    return rc == CD_OK ? apply_copy(x, svc, "primary", true, NULL, NULL, err) : rc;
}

static cd_rc always_ready(void *ctx, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

static cd_rc target_hash(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX], cd_err *err)
{
    const json_t *svc = cdk_target(ctx_of(ctx), err);
    if (!svc)
        return CD_ERROR;
    char h[16];
    cd_json_hash(kj_at(svc, "spec"), h);
    snprintf(hash, CD_HASH_MAX, "%s", h);
    return CD_OK;
}

/* The primary gets the target's spec, and its labels and annotations
 * filtered by -include-label-prefix (Flagger's Promote). */
static cd_rc promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    json_t *labels = cdk_filter_by_prefix(kj_at(svc, "metadata.labels"), &x->set->label_prefixes);
    json_t *ann = cdk_filter_by_prefix(kj_at(svc, "metadata.annotations"), &x->set->label_prefixes);
    json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
    cd_rc rc = apply_copy(x, svc, "primary", false, labels, ann, err);
    json_decref(labels);
    json_decref(ann);
    return rc;
}

static cd_rc no_op(void *ctx, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

void cdk_service_workload_port(cd_workload_port *p, cdk_ctx *x)
{
    memset(p, 0, sizeof *p);
    p->ctx = x;
    p->initialize = initialize;
    p->is_primary_ready = always_ready;
    p->is_canary_ready = always_ready;
    p->target_hash = target_hash;
    p->promote = promote;
    p->scale_to_zero = no_op;
    p->scale_from_zero = no_op;
}

/* ---- what the operator's other paths need (finalize.c) -------------------------- */

static cd_rc ops_ready(cdk_ctx *x, const cd_canary_ref *c, const json_t *obj, int threshold_pct,
                       char *msg, size_t msglen)
{
    return CD_OK;
}

static cd_rc ops_no_op(cdk_ctx *x, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

const cdk_workload_ops cdk_service_ops = {
    .kind = "Service",
    .k = CDK_SERVICE,
    .resource = &CD_KUBE_SERVICES,
    .word = "service",
    .autoscalers = false,
    .ready = ops_ready,
    .scale_to_zero = ops_no_op,
    .scale_from_zero = ops_no_op,
    .restore = ops_no_op,
};
