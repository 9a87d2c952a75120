/* service_objects.c - the Services <svc>, <svc>-primary and <svc>-canary
 * as pure functions (reference §7.1): ports (main port, appProtocol,
 * discovered ports), selector, headless, trafficDistribution, metadata
 * with the two Flux annotations, and how a live Service is brought in line
 * (ports and selector always; labels and annotations only on Services the
 * canary owns, unmanagedMetadata keys left alone; the two Flux annotations
 * added to every Service changed, a user's own included). No I/O. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include <stdlib.h>
#include <string.h>

static json_t *metadata_labels(const cdk_svc_in *in)
{
    json_t *l = in->md ? kj_strmap(&in->md->labels) : json_object();
    json_object_set_new(l, in->label, json_string(in->name));
    return l;
}

/* Flux's reconcile and Helm's drift detection turned off, so that neither
 * puts back the selector and ports canaryd wrote. */
static void set_toolkit_annotations(json_t *a)
{
    json_object_set_new(a, "kustomize.toolkit.fluxcd.io/reconcile", json_string("disabled"));
    json_object_set_new(a, "helm.toolkit.fluxcd.io/driftDetection", json_string("disabled"));
}

json_t *cdk_router_annotations(const cd_metadata *md)
{
    json_t *raw = md ? kj_strmap(&md->annotations) : json_object();
    json_t *a = cdk_without_toolkit(raw);
    json_decref(raw);
    set_toolkit_annotations(a);
    return a;
}

static json_t *main_port(const cd_service *s)
{
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(s->port_name && *s->port_name ? s->port_name : "http"));
    json_object_set_new(p, "protocol", json_string("TCP"));
    json_object_set_new(p, "port", json_integer(s->port));
    if (s->target_port.set && s->target_port.is_string && s->target_port.str)
        json_object_set_new(p, "targetPort", json_string(s->target_port.str));
    else if (s->target_port.set && !s->target_port.is_string && s->target_port.num != 0)
        json_object_set_new(p, "targetPort", json_integer(s->target_port.num));
    else
        json_object_set_new(p, "targetPort", json_integer(s->port));
    if (s->app_protocol && *s->app_protocol)
        json_object_set_new(p, "appProtocol", json_string(s->app_protocol));
    return p;
}

static json_t *service_ports(const cdk_svc_in *in)
{
    json_t *ports = json_array();
    json_array_append_new(ports, main_port(&in->spec->service));
    for (size_t i = 0; i < in->nports; i++)
        json_array_append_new(ports, json_pack("{s:s, s:s, s:i, s:i}", "name", in->ports[i].name,
                                               "protocol", "TCP", "port", (int)in->ports[i].port,
                                               "targetPort", (int)in->ports[i].port));
    return ports;
}

/* {label: value}, plus the pods' controller-revision-hash for the
 * Services of a StatefulSet target under a mesh. */
static json_t *service_selector(const cdk_svc_in *in)
{
    json_t *sel = json_pack("{s:s}", in->label, in->selector_value);
    if (in->revision && *in->revision)
        json_object_set_new(sel, "controller-revision-hash", json_string(in->revision));
    return sel;
}

json_t *cdk_service_build(const cdk_svc_in *in)
{
    const cd_service *s = &in->spec->service;
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("v1"));
    json_object_set_new(o, "kind", json_string("Service"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(in->name));
    json_object_set_new(md, "namespace", json_string(in->ns));
    json_object_set_new(md, "labels", metadata_labels(in));
    json_object_set_new(md, "annotations", cdk_router_annotations(in->md));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    json_t *spec = kj_obj(o, "spec");
    json_object_set_new(spec, "type", json_string("ClusterIP"));
    if (s->headless)
        json_object_set_new(spec, "clusterIP", json_string("None"));
    json_object_set_new(spec, "selector", service_selector(in));
    json_object_set_new(spec, "ports", service_ports(in));
    if (s->traffic_distribution && *s->traffic_distribution)
        json_object_set_new(spec, "trafficDistribution", json_string(s->traffic_distribution));
    return o;
}

/* ---- update ---------------------------------------------------------------- */

/* One port as compared: what the canary decides, with the API's defaults. */
static json_t *port_key(const json_t *p)
{
    json_t *k = json_object();
    kj_set_copy(k, "name", json_object_get(p, "name"));
    json_object_set_new(k, "protocol", json_string(kj_str(p, "protocol") ?: "TCP"));
    json_object_set_new(k, "port", json_integer(kj_int(p, "port", 0)));
    json_t *tp = json_object_get(p, "targetPort");
    if (tp)
        json_object_set(k, "targetPort", tp);
    else
        json_object_set_new(k, "targetPort", json_integer(kj_int(p, "port", 0)));
    kj_set_copy(k, "appProtocol", json_object_get(p, "appProtocol"));
    if (kj_int(p, "nodePort", 0) > 0)
        json_object_set_new(k, "nodePort", json_integer(kj_int(p, "nodePort", 0)));
    return k;
}

static int by_port(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int64_t px = kj_int(x, "port", 0), py = kj_int(y, "port", 0);
    if (px != py)
        return px < py ? -1 : 1;
    return strcmp(kj_str(x, "name") ?: "", kj_str(y, "name") ?: "");
}

static json_t *sorted_port_keys(const json_t *ports)
{
    size_t n = json_array_size(ports);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        abort();
    for (size_t i = 0; i < n; i++)
        items[i] = port_key(json_array_get(ports, i));
    qsort(items, n, sizeof *items, by_port);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, items[i]);
    free(items);
    return out;
}

static bool ports_equal(const json_t *a, const json_t *b)
{
    json_t *x = sorted_port_keys(a), *y = sorted_port_keys(b);
    bool eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

/* nodePorts the cluster gave the live ports are kept (by port name). */
static void keep_node_ports(json_t *want, const json_t *live_ports)
{
    size_t i;
    json_t *lp;
    json_array_foreach(live_ports, i, lp) {
        int64_t np = kj_int(lp, "nodePort", 0);
        if (np <= 0)
            continue;
        size_t j;
        json_t *wp;
        json_array_foreach(want, j, wp) {
            if (!strcmp(kj_str(wp, "name") ?: "", kj_str(lp, "name") ?: "")) {
                json_object_set_new(wp, "nodePort", json_integer(np));
                break;
            }
        }
    }
}

static bool owned_by(const json_t *obj, const char *canary_name)
{
    const json_t *ref = cd_kobj_controller_ref(obj);
    return ref && !strcmp(kj_str(ref, "kind") ?: "", "Canary") &&
           !strcmp(kj_str(ref, "name") ?: "", canary_name ? canary_name : "");
}

/* want's unmanaged keys take the live values (or go when live has none). */
static void keep_unmanaged(json_t *want, const json_t *live, const cd_strlist *keys)
{
    for (size_t i = 0; keys && i < keys->n; i++) {
        json_t *v = json_object_get(live, keys->items[i]);
        if (v)
            json_object_set(want, keys->items[i], v);
        else
            json_object_del(want, keys->items[i]);
    }
}

static bool reconcile_map(json_t *md, const char *key, json_t *want, const cd_strlist *unmanaged)
{
    json_t *live = json_object_get(md, key);
    keep_unmanaged(want, live, unmanaged);
    bool changed = !kj_equal(json_object_size(want) ? want : NULL,
                             json_object_size(live) ? live : NULL);
    if (changed)
        json_object_set(md, key, want);
    json_decref(want);
    return changed;
}

json_t *cdk_service_update(const json_t *live, const cdk_svc_in *in, const char *canary_name)
{
    const cd_service *s = &in->spec->service;
    json_t *out = json_deep_copy(live);
    json_t *spec = kj_obj(out, "spec");
    bool changed = false;

    json_t *want_ports = service_ports(in);
    keep_node_ports(want_ports, json_object_get(spec, "ports"));
    json_t *want_sel = service_selector(in);
    if (!ports_equal(want_ports, json_object_get(spec, "ports")) ||
        !kj_equal(want_sel, json_object_get(spec, "selector"))) {
        json_object_set(spec, "ports", want_ports);
        json_object_set(spec, "selector", want_sel);
        changed = true;
    }
    json_decref(want_ports);
    json_decref(want_sel);
    const char *td = s->traffic_distribution && *s->traffic_distribution ? s->traffic_distribution
                                                                          : NULL;
    if (td && strcmp(kj_str(spec, "trafficDistribution") ?: "", td)) {
        json_object_set_new(spec, "trafficDistribution", json_string(td));
        changed = true;
    }
    if (owned_by(live, canary_name)) {
        json_t *md = kj_obj(out, "metadata");
        changed |= reconcile_map(md, "labels", metadata_labels(in), &s->unmanaged.labels);
        changed |= reconcile_map(md, "annotations", cdk_router_annotations(in->md),
                                 &s->unmanaged.annotations);
    }
    if (!changed) {
        json_decref(out);
        return NULL;
    }
    set_toolkit_annotations(kj_obj(kj_obj(out, "metadata"), "annotations"));
    return out;
}
