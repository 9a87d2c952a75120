/* appmesh_objects.c - App Mesh v1beta2 objects of a canary as pure
 * functions (reference §7.3): VirtualNodes <svc>-primary and <svc>-canary,
 * VirtualRouters <svc> and <svc>-canary with weighted (or A/B header)
 * routes, timeouts and retry policy, VirtualServices, and the weights of a
 * router. The appmesh.k8s.aws CRD schemas are the contract: every object
 * here validates against them (tests/unit/test_kube_appmesh.c and the end
 * to end test check it). No I/O. */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "util/duration.h"
#include <stdio.h>
#include <string.h>

static const char *protocol(const cd_service *s)
{
    return s->port_name && strstr(s->port_name, "grpc") ? "grpc" : "http";
}

static int listener_port(const cd_service *s)
{
    if (s->target_port.set && !s->target_port.is_string && s->target_port.num > 0)
        return s->target_port.num;
    return s->port;
}

static json_t *port_mapping(const cd_service *s)
{
    return json_pack("{s:i, s:s}", "port", listener_port(s), "protocol", protocol(s));
}

/* {unit: ms, value} of service.timeout, NULL when unset or unparsable. */
static json_t *timeout_ms(const cd_service *s)
{
    int64_t ms;
    if (!s->timeout || !*s->timeout || !cd_duration_parse_ms(s->timeout, &ms) || ms < 0)
        return NULL;
    return json_pack("{s:s, s:I}", "unit", "ms", "value", (json_int_t)ms);
}

static json_t *route_timeout(const cd_service *s)
{
    json_t *d = timeout_ms(s);
    return d ? json_pack("{s:o}", "perRequest", d) : NULL;
}

static json_t *retry_policy(const cd_service *s)
{
    if (!s->retries.set)
        return NULL;
    int64_t per_try = 250;
    int64_t ms;
    if (s->retries.per_try_timeout && cd_duration_parse_ms(s->retries.per_try_timeout, &ms))
        per_try = ms;
    int attempts = s->retries.has_attempts && s->retries.attempts > 0 ? s->retries.attempts : 1;
    json_t *events = json_array();
    if (s->retries.retry_on && *s->retries.retry_on) {
        const char *p = s->retries.retry_on;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            json_array_append_new(events, json_stringn(p, n));
            if (!comma)
                break;
            p = comma + 1;
        }
    } else {
        json_array_append_new(events, json_string("gateway-error"));
    }
    return json_pack("{s:{s:s, s:I}, s:i, s:o}", "perRetryTimeout", "unit", "ms", "value",
                     (json_int_t)per_try, "maxRetries", attempts, "httpRetryEvents", events);
}

static json_t *apex_labels(const cd_service *s)
{
    return s->has_apex ? kj_strmap(&s->apex.labels) : json_object();
}

static json_t *object(const cdk_mesh_in *in, const char *kind, const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("appmesh.k8s.aws/v1beta2"));
    json_object_set_new(o, "kind", json_string(kind));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    json_object_set_new(md, "namespace", json_string(in->meta->namespace_ ? in->meta->namespace_ : ""));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    return o;
}

static json_t *backends(const cd_service *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->backends.n; i++) {
        const char *b = s->backends.items[i];
        if (kj_prefix(b, "arn:aws"))
            json_array_append_new(a, json_pack("{s:{s:s}}", "virtualService", "virtualServiceARN", b));
        else
            json_array_append_new(a, json_pack("{s:{s:{s:s}}}", "virtualService",
                                               "virtualServiceRef", "name", b));
    }
    return a;
}

json_t *cdk_appmesh_virtual_node(const cdk_mesh_in *in, const char *name, const char *pod_value,
                                 const char *host)
{
    const cd_service *s = &in->spec->service;
    json_t *o = object(in, "VirtualNode", name);
    json_t *md = json_object_get(o, "metadata");
    json_t *labels = apex_labels(s);
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else
        json_decref(labels);
    json_object_set_new(md, "annotations", cdk_router_annotations(s->has_apex ? &s->apex : NULL));

    json_t *spec = kj_obj(o, "spec");
    json_t *listener = json_pack("{s:o}", "portMapping", port_mapping(s));
    json_t *t = route_timeout(s);
    if (t)
        json_object_set_new(listener, "timeout", json_pack("{s:o}", "http", t));
    json_object_set_new(spec, "listeners", json_pack("[o]", listener));
    json_object_set_new(spec, "serviceDiscovery", json_pack("{s:{s:s}}", "dns", "hostname", host));
    json_object_set_new(spec, "podSelector",
                        json_pack("{s:{s:s}}", "matchLabels", in->label, pod_value));
    json_t *b = backends(s);
    if (json_array_size(b))
        json_object_set_new(spec, "backends", b);
    else
        json_decref(b);
    const char *log = cd_strmap_get(&in->meta->annotations, CDK_APPMESH_ACCESSLOG);
    if (log && !strcmp(log, "enabled"))
        json_object_set_new(spec, "logging",
                            json_pack("{s:{s:{s:s}}}", "accessLog", "file", "path", "/dev/stdout"));
    return o;
}

static json_t *weighted(const char *node, int weight)
{
    return json_pack("{s:{s:s}, s:i}", "virtualNodeRef", "name", node, "weight", weight);
}

static json_t *http_route(const cd_service *s, const char *prefix, json_t *headers, json_t *targets)
{
    json_t *match = json_pack("{s:s}", "prefix", prefix);
    if (headers)
        json_object_set_new(match, "headers", headers);
    json_t *r = json_pack("{s:o}", "match", match);
    json_t *t = route_timeout(s);
    if (t)
        json_object_set_new(r, "timeout", t);
    json_t *rp = retry_policy(s);
    if (rp)
        json_object_set_new(r, "retryPolicy", rp);
    json_object_set_new(r, "action", json_pack("{s:o}", "weightedTargets", targets));
    return r;
}

/* analysis.match headers, in the order written (Flagger's map order is random). */
static json_t *ab_headers(const cd_analysis *a)
{
    json_t *h = json_array();
    for (size_t i = 0; i < a->n_match; i++) {
        const cd_named_matches *hs = &a->match[i].headers;
        for (size_t j = 0; j < hs->n; j++) {
            const cd_string_match *m = &hs->items[j].match;
            json_t *mm = json_object();
            kj_set_str(mm, "exact", m->exact);
            kj_set_str(mm, "prefix", m->prefix);
            kj_set_str(mm, "regex", m->regex);
            kj_set_str(mm, "suffix", m->suffix);
            json_array_append_new(h, json_pack("{s:s, s:o}", "name", hs->items[j].name ?: "",
                                               "match", mm));
        }
    }
    return h;
}

static const char *route_prefix(const cd_service *s)
{
    if (s->n_match > 0 && s->match[0].uri.prefix && *s->match[0].uri.prefix)
        return s->match[0].uri.prefix;
    return "/";
}

json_t *cdk_appmesh_virtual_router(const cdk_mesh_in *in, const char *name, int canary_weight)
{
    const cd_service *s = &in->spec->service;
    const char *svc = cd_canary_service_name(in->spec);
    char cnode[512], pnode[512], rname[512];
    snprintf(cnode, sizeof cnode, "%s-canary", svc);
    snprintf(pnode, sizeof pnode, "%s-primary", svc);
    snprintf(rname, sizeof rname, "%s%s", svc, canary_weight > 0 ? "-canary" : "");
    const char *prefix = route_prefix(s);

    json_t *routes = json_array();
    if (in->spec->analysis.n_match > 0 && canary_weight == 0) {
        char a[512], b[512];
        snprintf(a, sizeof a, "%s-a", svc);
        snprintf(b, sizeof b, "%s-b", svc);
        json_t *ra = http_route(s, prefix, ab_headers(&in->spec->analysis),
                                json_pack("[o,o]", weighted(cnode, canary_weight),
                                          weighted(pnode, 100 - canary_weight)));
        json_t *rb = http_route(s, prefix, NULL, json_pack("[o]", weighted(pnode, 100)));
        json_array_append_new(routes, json_pack("{s:s, s:i, s:o}", "name", a, "priority", 10,
                                                "httpRoute", ra));
        json_array_append_new(routes, json_pack("{s:s, s:i, s:o}", "name", b, "priority", 20,
                                                "httpRoute", rb));
    } else {
        json_t *r = http_route(s, prefix, NULL,
                               json_pack("[o,o]", weighted(cnode, canary_weight),
                                         weighted(pnode, 100 - canary_weight)));
        json_array_append_new(routes, json_pack("{s:s, s:o}", "name", rname, "httpRoute", r));
    }
    json_t *o = object(in, "VirtualRouter", name);
    json_t *spec = kj_obj(o, "spec");
    json_object_set_new(spec, "listeners",
                        json_pack("[{s:o}]", "portMapping", port_mapping(s)));
    json_object_set_new(spec, "routes", routes);
    return o;
}

json_t *cdk_appmesh_virtual_service(const cdk_mesh_in *in, const char *name, bool apex)
{
    const cd_service *s = &in->spec->service;
    json_t *o = object(in, "VirtualService", name);
    json_object_set_new(kj_obj(o, "spec"), "provider",
                        json_pack("{s:{s:{s:s}}}", "virtualRouter", "virtualRouterRef", "name", name));
    if (apex && s->hosts.n > 0) {
        char domains[2048] = "";
        size_t off = 0;
        for (size_t i = 0; i < s->hosts.n && off < sizeof domains; i++)
            off += (size_t)snprintf(domains + off, sizeof domains - off, "%s,", s->hosts.items[i]);
        json_t *a = kj_obj(json_object_get(o, "metadata"), "annotations");
        json_object_set_new(a, "gateway.appmesh.k8s.aws/expose", json_string("true"));
        json_object_set_new(a, "gateway.appmesh.k8s.aws/domain", json_string(domains));
        if (s->timeout && *s->timeout)
            json_object_set_new(a, "gateway.appmesh.k8s.aws/timeout", json_string(s->timeout));
        if (s->retries.set && s->retries.has_attempts && s->retries.attempts > 0) {
            char n[16];
            snprintf(n, sizeof n, "%d", s->retries.attempts);
            json_object_set_new(a, "gateway.appmesh.k8s.aws/retries", json_string(n));
        }
    }
    return o;
}

/* ---- updates -------------------------------------------------------------- */

/* spec without the fields App Mesh's controller owns. */
static json_t *comparable_spec(const json_t *obj, bool drop_weights)
{
    json_t *s = kj_copy(json_object_get(obj, "spec"));
    if (!s)
        s = json_object();
    json_object_del(s, "awsName");
    json_object_del(s, "meshRef");
    if (drop_weights) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(s, "routes"), i, r) {
            size_t j;
            json_t *t;
            json_array_foreach(kj_at(r, "httpRoute.action.weightedTargets"), j, t)
                json_object_del(t, "weight");
        }
    }
    return s;
}

static bool same_spec(const json_t *live, const json_t *desired, bool drop_weights)
{
    json_t *a = comparable_spec(live, drop_weights), *b = comparable_spec(desired, drop_weights);
    bool eq = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return eq;
}

static bool same_map(const json_t *live, const json_t *desired, const char *key)
{
    json_t *a = kj_at(live, key), *b = kj_at(desired, key);
    if (json_is_object(a) && !json_object_size(a))
        a = NULL;
    if (json_is_object(b) && !json_object_size(b))
        b = NULL;
    return kj_equal(a, b);
}

/* live with desired's spec, keeping awsName and meshRef. */
static json_t *with_spec(const json_t *live, const json_t *desired)
{
    json_t *out = json_deep_copy(live);
    json_t *spec = kj_copy(json_object_get(desired, "spec"));
    json_t *old = json_object_get(live, "spec");
    kj_set_copy(spec, "awsName", json_object_get(old, "awsName"));
    kj_set_copy(spec, "meshRef", json_object_get(old, "meshRef"));
    json_object_set_new(out, "spec", spec);
    return out;
}

json_t *cdk_appmesh_node_update(const json_t *live, const json_t *desired)
{
    bool spec_ok = same_spec(live, desired, false);
    bool md_ok = same_map(live, desired, "metadata.labels") &&
                 same_map(live, desired, "metadata.annotations");
    if (spec_ok && md_ok)
        return NULL;
    json_t *out = with_spec(live, desired);
    json_t *md = kj_obj(out, "metadata");
    kj_set_copy(md, "labels", kj_at(desired, "metadata.labels"));
    kj_set_copy(md, "annotations", kj_at(desired, "metadata.annotations"));
    return out;
}

json_t *cdk_appmesh_router_update(const json_t *live, const json_t *desired)
{
    if (same_spec(live, desired, true))
        return NULL;
    json_t *out = with_spec(live, desired);
    json_t *keep = kj_at(live, "spec.routes");
    json_t *action = kj_at(json_array_get(keep, 0), "httpRoute.action");
    json_t *first = json_array_get(kj_at(out, "spec.routes"), 0);
    if (action && json_is_object(json_object_get(first, "httpRoute")))
        json_object_set(json_object_get(first, "httpRoute"), "action", action);
    return out;
}

/* ---- weights ---------------------------------------------------------------- */

bool cdk_appmesh_get_weights(const json_t *vr, const char *svc, int *primary, int *canary,
                             cd_err *err)
{
    *primary = *canary = 0;
    json_t *targets = kj_at(json_array_get(kj_at(vr, "spec.routes"), 0), "httpRoute.action.weightedTargets");
    if (json_array_size(targets) != 2) {
        snprintf(err->msg, sizeof err->msg, "VirtualRouter routes %s not found", svc);
        return false;
    }
    char cnode[512], pnode[512];
    snprintf(cnode, sizeof cnode, "%s-canary", svc);
    snprintf(pnode, sizeof pnode, "%s-primary", svc);
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t) {
        const char *n = kj_str(t, "virtualNodeRef.name") ?: "";
        if (!strcmp(n, cnode))
            *canary = (int)kj_int(t, "weight", 0);
        if (!strcmp(n, pnode))
            *primary = (int)kj_int(t, "weight", 0);
    }
    if (*primary == 0 && *canary == 0) {
        snprintf(err->msg, sizeof err->msg,
                 "VirtualRouter %s does not contain routes for %s-primary and %s-canary", svc, svc,
                 svc);
        return false;
    }
    return true;
}

bool cdk_appmesh_set_weights(json_t *vr, const char *svc, int primary, int canary)
{
    json_t *route = json_array_get(kj_at(vr, "spec.routes"), 0);
    json_t *http = json_object_get(route, "httpRoute");
    if (!json_is_object(http))
        return false;
    char cnode[512], pnode[512];
    snprintf(cnode, sizeof cnode, "%s-canary", svc);
    snprintf(pnode, sizeof pnode, "%s-primary", svc);
    json_object_set_new(http, "action",
                        json_pack("{s:[o,o]}", "weightedTargets", weighted(cnode, canary),
                                  weighted(pnode, primary)));
    return true;
}
