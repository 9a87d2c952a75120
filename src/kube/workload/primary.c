/* primary.c - the <target>-primary workload as pure functions: selector
 * label, label and annotation filters, the primary pod spec, the object
 * created at initialization, what promotion copies, the target hash, the
 * replicas of a scale-up and port discovery (reference §7.1, §2.3).
 * No I/O, no clock, no randomness (the flagger-id comes from the caller). */
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include "model/object.h"
#include "util/errfmt.h"
#include "util/grow.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_word(cdk_kind k) { return k == CDK_DAEMONSET ? "daemonset" : "deployment"; }

bool cdk_selector_label(const json_t *obj, cdk_kind kind, const cd_strlist *labels,
                        const char **label, const char **value, cd_err *err)
{
    json_t *ml = kj_at(obj, "spec.selector.matchLabels");
    for (size_t i = 0; labels && i < labels->n; i++) {
        json_t *v = json_object_get(ml, labels->items[i]);
        if (json_is_string(v)) {
            *label = labels->items[i];
            *value = json_string_value(v);
            return true;
        }
    }
    char list[512] = "";
    size_t off = 0;
    for (size_t i = 0; labels && i < labels->n && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? " " : "",
                                labels->items[i]);
    cd_errfmt(err, "%s %s.%s spec.selector.matchLabels must contain one of [%s]", kind_word(kind),
              kj_str(obj, "metadata.name") ?: "", kj_str(obj, "metadata.namespace") ?: "", list);
    return false;
}

json_t *cdk_filter_by_prefix(const json_t *map, const cd_strlist *prefixes)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) {
        if (strstr(k, "toolkit.fluxcd.io"))
            continue;   /* Flux's own keys never reach a primary (Flagger's too) */
        for (size_t i = 0; prefixes && i < prefixes->n; i++) {
            const char *p = prefixes->items[i];
            if (!strcmp(p, "*") || kj_prefix(k, p)) {
                json_object_set(out, k, v);
                break;
            }
        }
    }
    return out;
}

json_t *cdk_without_toolkit(const json_t *map)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) {
        if (!strstr(k, "toolkit.fluxcd.io"))
            json_object_set(out, k, v);
    }
    return out;
}

json_t *cdk_with_label(const json_t *map, const char *label, const char *value)
{
    json_t *out = cdk_without_toolkit(map);
    json_object_set_new(out, label, json_string(value));
    return out;
}

json_t *cdk_pod_annotations(const json_t *annotations, const char *id)
{
    json_t *out = cdk_without_toolkit(annotations);
    json_object_set_new(out, CDK_FLAGGER_ID, json_string(id));
    return out;
}

/* ---- pod spec ----------------------------------------------------------------- */

static bool is_selector_key(const cd_strlist *labels, const char *key)
{
    for (size_t i = 0; labels && i < labels->n; i++)
        if (!strcmp(labels->items[i], key))
            return true;
    return false;
}

/* A label selector naming the target under a selector-label key now names
 * the primary. */
static void point_selector_at_primary(json_t *sel, const char *target, const cd_strlist *labels)
{
    if (!json_is_object(sel))
        return;
    char primary[512];
    snprintf(primary, sizeof primary, "%s-primary", target);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e) {
        if (!is_selector_key(labels, json_string_value(json_object_get(e, "key")) ?: ""))
            continue;
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(e, "values"), j, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), target)) {
                json_array_set_new(json_object_get(e, "values"), j, json_string(primary));
                break;
            }
        }
    }
    json_t *ml = json_object_get(sel, "matchLabels");
    const char *k;
    json_t *v;
    json_object_foreach(ml, k, v) {
        if (is_selector_key(labels, k) && json_is_string(v) && !strcmp(json_string_value(v), target))
            json_object_set_new(ml, k, json_string(primary));
    }
}

static void rewrite_affinity(json_t *spec, const char *target, const cd_strlist *labels)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(spec, "topologySpreadConstraints"), i, t)
        point_selector_at_primary(json_object_get(t, "labelSelector"), target, labels);
    json_t *anti = kj_at(spec, "affinity.podAntiAffinity");
    json_array_foreach(json_object_get(anti, "requiredDuringSchedulingIgnoredDuringExecution"), i, t)
        point_selector_at_primary(json_object_get(t, "labelSelector"), target, labels);
    json_array_foreach(json_object_get(anti, "preferredDuringSchedulingIgnoredDuringExecution"), i, t)
        point_selector_at_primary(kj_at(t, "podAffinityTerm.labelSelector"), target, labels);
}

json_t *cdk_primary_pod_spec(const cdk_primary_in *in)
{
    json_t *src = kj_at(in->target, "spec.template.spec");
    json_t *spec = json_is_object(src) ? json_deep_copy(src) : json_object();
    if (in->tracked)
        cdk_rename_config_refs(spec, in->tracked);
    rewrite_affinity(spec, kj_str(in->target, "metadata.name") ?: "", in->selector_labels);
    if (in->kind == CDK_DAEMONSET) {
        json_t *ns = json_object_get(spec, "nodeSelector");
        json_object_del(ns, CDK_SCALE_TO_ZERO_KEY);
        if (json_is_object(ns) && json_object_size(ns) == 0)
            json_object_del(spec, "nodeSelector");
    }
    return spec;
}

/* ---- the primary object --------------------------------------------------------- */

static void set_nonempty(json_t *o, const char *key, json_t *map)
{
    if (json_object_size(map) > 0)
        json_object_set_new(o, key, map);
    else {
        json_decref(map);
        json_object_del(o, key);
    }
}

static const char *const deployment_fields[] = {"progressDeadlineSeconds", "minReadySeconds",
                                                "revisionHistoryLimit", "strategy", NULL};
static const char *const daemonset_fields[] = {"minReadySeconds", "revisionHistoryLimit",
                                               "updateStrategy", NULL};

static void copy_rollout_fields(json_t *dst_spec, const json_t *src_spec, cdk_kind kind)
{
    const char *const *f = kind == CDK_DAEMONSET ? daemonset_fields : deployment_fields;
    for (; *f; f++)
        kj_set_copy(dst_spec, *f, json_object_get(src_spec, *f));
}

static json_t *primary_template(const cdk_primary_in *in, const char *label, const char *pvalue)
{
    json_t *tpl = json_object();
    json_t *md = kj_obj(tpl, "metadata");
    json_object_set_new(md, "labels",
                        cdk_with_label(kj_at(in->target, "spec.template.metadata.labels"), label,
                                       pvalue));
    json_object_set_new(md, "annotations",
                        cdk_pod_annotations(kj_at(in->target, "spec.template.metadata.annotations"),
                                            in->flagger_id ? in->flagger_id : ""));
    json_object_set_new(tpl, "spec", cdk_primary_pod_spec(in));
    return tpl;
}

json_t *cdk_primary_build(const cdk_primary_in *in, cd_err *err)
{
    const char *label, *value;
    if (!cdk_selector_label(in->target, in->kind, in->selector_labels, &label, &value, err))
        return NULL;
    char name[512], pvalue[512];
    snprintf(name, sizeof name, "%s-primary", kj_str(in->target, "metadata.name") ?: "");
    snprintf(pvalue, sizeof pvalue, "%s-primary", value);

    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("apps/v1"));
    json_object_set_new(o, "kind", json_string(in->kind == CDK_DAEMONSET ? "DaemonSet" : "Deployment"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    kj_set_str(md, "namespace", kj_str(in->target, "metadata.namespace"));
    json_t *filtered = cdk_filter_by_prefix(kj_at(in->target, "metadata.labels"), in->label_prefixes);
    json_object_set_new(md, "labels", cdk_with_label(filtered, label, pvalue));
    json_decref(filtered);
    set_nonempty(md, "annotations", cdk_without_toolkit(kj_at(in->target, "metadata.annotations")));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));

    json_t *spec = kj_obj(o, "spec");
    json_t *tspec = kj_at(in->target, "spec");
    copy_rollout_fields(spec, tspec, in->kind);
    if (in->kind == CDK_DEPLOYMENT) {
        int64_t r = kj_int(tspec, "replicas", 0);
        json_object_set_new(spec, "replicas", json_integer(r > 0 ? r : 1));
    }
    json_object_set_new(spec, "selector", json_pack("{s:{s:s}}", "matchLabels", label, pvalue));
    json_object_set_new(spec, "template", primary_template(in, label, pvalue));
    return o;
}

bool cdk_primary_promote(json_t *primary, const cdk_primary_in *in, cd_err *err)
{
    const char *label, *value;
    if (!cdk_selector_label(in->target, in->kind, in->selector_labels, &label, &value, err))
        return false;
    char pvalue[512];
    snprintf(pvalue, sizeof pvalue, "%s-primary", value);
    json_t *spec = kj_obj(primary, "spec");
    json_t *tspec = kj_at(in->target, "spec");
    copy_rollout_fields(spec, tspec, in->kind);
    if (in->kind == CDK_DEPLOYMENT && !in->has_autoscaler && json_object_get(tspec, "replicas"))
        kj_set_copy(spec, "replicas", json_object_get(tspec, "replicas"));

    json_t *tpl = kj_obj(spec, "template");
    json_t *tmd = kj_obj(tpl, "metadata");
    json_object_set_new(tmd, "labels",
                        cdk_with_label(kj_at(in->target, "spec.template.metadata.labels"), label,
                                       pvalue));
    json_object_set_new(tmd, "annotations",
                        cdk_pod_annotations(kj_at(in->target, "spec.template.metadata.annotations"),
                                            in->flagger_id ? in->flagger_id : ""));
    json_object_set_new(tpl, "spec", cdk_primary_pod_spec(in));

    json_t *md = kj_obj(primary, "metadata");
    set_nonempty(md, "annotations",
                 cdk_filter_by_prefix(kj_at(in->target, "metadata.annotations"), in->label_prefixes));
    json_t *filtered = cdk_filter_by_prefix(kj_at(in->target, "metadata.labels"), in->label_prefixes);
    json_object_set_new(md, "labels", cdk_with_label(filtered, label, pvalue));
    json_decref(filtered);
    return true;
}

/* ---- hash ----------------------------------------------------------------------- */

void cdk_target_hash(const json_t *target, cdk_kind kind, char out[CD_HASH_MAX])
{
    json_t *tpl = kj_copy(kj_at(target, "spec.template"));
    if (!tpl)
        tpl = json_object();
    if (kind == CDK_DAEMONSET) {
        json_t *ns = kj_obj(kj_obj(tpl, "spec"), "nodeSelector");
        json_object_del(ns, CDK_SCALE_TO_ZERO_KEY);
    }
    char h[16];
    cd_json_hash(tpl, h);
    json_decref(tpl);
    snprintf(out, CD_HASH_MAX, "%s", h);
}

/* ---- replicas ---------------------------------------------------------------------- */

int cdk_scale_up_replicas(const json_t *target, const json_t *primary, const json_t *hpa,
                          bool has_autoscaler)
{
    int64_t r = kj_int(target, "spec.replicas", 0);
    if (r > 0)
        return (int)r;
    if (!has_autoscaler) {
        r = kj_int(primary, "spec.replicas", 0);
        if (r > 0)
            return (int)r;
    }
    r = kj_int(hpa, "spec.minReplicas", 0);
    if (r > 1)
        return (int)r;
    return 1;
}

/* ---- port discovery -------------------------------------------------------------- */

static int port_cmp(const void *a, const void *b)
{
    return strcmp(((const cdk_port *)a)->name, ((const cdk_port *)b)->name);
}

static bool is_main_port(const json_t *p, const cd_service *svc)
{
    int64_t cp = kj_int(p, "containerPort", 0);
    if (!svc->target_port.set)
        return cp == svc->port;
    if (svc->target_port.is_string)
        return svc->target_port.str && !strcmp(kj_str(p, "name") ?: "", svc->target_port.str);
    return cp == svc->target_port.num;
}

size_t cdk_discover_ports(const json_t *target, const cd_service *svc, cdk_port **out)
{
    *out = NULL;
    size_t n = 0, cap = 0;
    cdk_port *ports = NULL;
    size_t ci;
    json_t *c;
    json_array_foreach(kj_at(target, "spec.template.spec.containers"), ci, c) {
        const char *cname = kj_str(c, "name") ?: "";
        if (!strcmp(cname, "istio-proxy") || !strcmp(cname, "envoy"))
            continue;
        size_t pi;
        json_t *p;
        json_array_foreach(json_object_get(c, "ports"), pi, p) {
            if (is_main_port(p, svc))
                continue;
            char name[64];
            const char *pn = kj_str(p, "name");
            if (pn && *pn)
                snprintf(name, sizeof name, "%s", pn);
            else
                snprintf(name, sizeof name, "tcp-%s-%zu", cname, pi);
            size_t k = 0;
            while (k < n && strcmp(ports[k].name, name))
                k++;
            if (k == n) {
                CD_GROW(ports, cap, n + 1, 4);
                n++;
            }
            snprintf(ports[k].name, sizeof ports[k].name, "%s", name);
            ports[k].port = (int32_t)kj_int(p, "containerPort", 0);
        }
    }
    if (n)
        qsort(ports, n, sizeof *ports, port_cmp);
    *out = ports;
    return n;
}
