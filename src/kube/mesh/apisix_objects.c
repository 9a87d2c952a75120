/* apisix_objects.c - the canary ApisixRoute of provider `apisix`
 * (ingress.h; Flagger's ApisixRouter): a copy of the user's ApisixRoute
 * keeping only the http route to the apex Service, at top priority, with
 * weighted <svc>-primary and <svc>-canary backends; how a live one is
 * brought in line and which weights it carries; what a Canary asks for
 * that it cannot express. Pure functions on jansson values: must not do
 * I/O, and must accept any live JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <string.h>

#define MAX_PRIORITY 10000

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider apisix cannot %s: Flagger's APISIX canary route only splits requests "
                   "by backend weight",
              what);
    return false;
}

bool cdk_apisix_check(const cd_canary_spec *spec, cd_err *err)
{
    const cd_analysis *an = &spec->analysis;
    if (an->mirror)
        return refuse(err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(err, "pin sessions to the canary (analysis.sessionAffinity)");
    if (an->n_match)
        return refuse(err, "route requests by header, cookie or path (analysis.match; use "
                           "iterations without match for blue/green)");
    if (!spec->has_route_ref || !spec->route_ref.name || !*spec->route_ref.name) {
        cd_errfmt(err, "provider apisix needs spec.routeRef.name (the ApisixRoute to copy)");
        return false;
    }
    return true;
}

bool cdk_apisix_canary_name(const cdk_apisix_in *in, char *out, size_t n, cd_err *err)
{
    int len = snprintf(out, n, "%s-%s-canary", in->spec->route_ref.name, in->svc);
    if (len < 0 || (size_t)len >= n || len > 253) {
        cd_errfmt(err, "spec.routeRef.name %.64s...: <route>-<service>-canary is too long for a name",
                  in->spec->route_ref.name);
        return false;
    }
    return true;
}

/* The first http route with a backend named name, or NULL. */
static json_t *http_route_to(const json_t *route, const char *name)
{
    size_t i, j;
    json_t *h, *b;
    json_array_foreach(kj_at(route, "spec.http"), i, h) {
        json_array_foreach(json_object_get(h, "backends"), j, b) {
            const char *s = kj_str(b, "serviceName");
            if (s && !strcmp(s, name))
                return h;
        }
    }
    return NULL;
}

json_t *cdk_apisix_canary_route(const cdk_apisix_in *in, const json_t *route, const char *name,
                                cd_err *err)
{
    const char *rname = kj_str(route, "metadata.name") ? kj_str(route, "metadata.name") : "";
    json_t *h = http_route_to(route, in->svc);
    if (!h) {
        cd_errfmt(err, "Can not find %s backend on apisix route %s.%s", in->svc, rname, in->ns);
        return NULL;
    }
    if (json_array_size(json_object_get(h, "backends")) != 1) {
        cd_errfmt(err, "APISIX route %s.%s's http route %s: only one http backend is supported",
                  rname, in->ns, kj_str(h, "name") ? kj_str(h, "name") : "");
        return NULL;
    }
    json_t *target = json_deep_copy(h);
    json_object_set_new(target, "priority", json_integer(MAX_PRIORITY));
    json_t *primary = json_array_get(json_object_get(target, "backends"), 0);
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", in->svc);
    snprintf(cname, sizeof cname, "%s-canary", in->svc);
    json_object_set_new(primary, "serviceName", json_string(pname));
    json_object_set_new(primary, "weight", json_integer(100));
    json_t *canary = json_pack("{s:s, s:O?, s:i}", "serviceName", cname, "servicePort",
                               json_object_get(primary, "servicePort"), "weight", 0);
    static const char *const copied[] = {"resolveGranularity", "subset"};
    for (size_t i = 0; i < 2; i++)
        if (json_is_string(json_object_get(primary, copied[i])))
            json_object_set(canary, copied[i], json_object_get(primary, copied[i]));
    json_array_append_new(json_object_get(target, "backends"), canary);
    json_t *spec = json_deep_copy(json_object_get(route, "spec"));
    json_object_set_new(spec, "http", json_pack("[o]", target));
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", CDK_APISIX_GROUP "/v2", "kind",
                          "ApisixRoute", "metadata", "name", name, "namespace", in->ns, "spec", spec);
    json_t *md = json_object_get(o, "metadata");
    static const char *const maps[] = {"labels", "annotations"};
    for (size_t i = 0; i < 2; i++) {
        json_t *m = json_object_get(json_object_get(route, "metadata"), maps[i]);
        if (kj_is_string_map(m) && json_object_size(m))
            json_object_set_new(md, maps[i], json_deep_copy(m));
    }
    json_t *anns = json_object_get(md, "annotations");
    if (anns)
        json_object_del(anns, "kubectl.kubernetes.io/last-applied-configuration");
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    return o;
}

static json_t *without_weights(const json_t *spec)
{
    json_t *n = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    size_t i, j;
    json_t *h, *b;
    json_array_foreach(json_object_get(n, "http"), i, h) {
        json_array_foreach(json_object_get(h, "backends"), j, b)
            if (json_is_object(b))
                json_object_del(b, "weight");
    }
    return n;
}

json_t *cdk_apisix_update(const json_t *live, const json_t *desired, const char *svc)
{
    json_t *a = without_weights(json_object_get(live, "spec"));
    json_t *b = without_weights(json_object_get(desired, "spec"));
    bool same = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (same)
        return NULL;
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", kj_copy(json_object_get(desired, "spec")));
    json_object_del(out, "status");
    int p, c;   /* the weights the live route carries */
    cd_err ignored;
    if (cdk_apisix_get_weights(live, svc, &p, &c, &ignored))
        cdk_apisix_set_weights(out, svc, p, c);
    return out;
}

bool cdk_apisix_set_weights(json_t *route, const char *svc, int primary, int canary)
{
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    json_t *h = http_route_to(route, pname);
    if (!h)
        return false;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(h, "backends"), i, b) {
        const char *s = kj_str(b, "serviceName");
        if (s && !strcmp(s, pname))
            json_object_set_new(b, "weight", json_integer(primary < 0 ? 0 : primary));
        else if (s && !strcmp(s, cname))
            json_object_set_new(b, "weight", json_integer(canary < 0 ? 0 : canary));
    }
    return true;
}

bool cdk_apisix_get_weights(const json_t *route, const char *svc, int *primary, int *canary,
                            cd_err *err)
{
    *primary = *canary = 0;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    json_t *h = http_route_to(route, pname);
    bool p = false, c = false;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(h, "backends"), i, b) {
        const char *s = kj_str(b, "serviceName");
        json_int_t w = json_integer_value(json_object_get(b, "weight"));
        w = w < 0 ? 0 : w > 100 ? 100 : w;
        if (s && !strcmp(s, pname)) {
            *primary = (int)w;
            p = true;
        } else if (s && !strcmp(s, cname)) {
            *canary = (int)w;
            c = true;
        }
    }
    if (!p || !c) {
        cd_errfmt(err, "apisix route %s.%s has no http route with backends %s and %s",
                  kj_str(route, "metadata.name") ? kj_str(route, "metadata.name") : "",
                  kj_str(route, "metadata.namespace") ? kj_str(route, "metadata.namespace") : "",
                  pname, cname);
        return false;
    }
    return true;
}
