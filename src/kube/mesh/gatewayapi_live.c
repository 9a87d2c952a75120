/* gatewayapi_live.c - a Gateway API HTTPRoute as read from the cluster
 * (reference §7.4): its normal form (the CRD's defaults applied, to compare
 * what canaryd wants with what the API server stored), how it is brought
 * in line with the canary, whether its parents accepted its current
 * generation, and which weights it carries. Pure functions on jansson
 * values: must not do I/O, and must accept any JSON without crashing
 * (fuzz/fuzz_kube_gatewayapi.c). */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COOKIE "Cookie"
#define REGEX "RegularExpression"

static bool has(const char *s) { return s && *s; }

static json_t *default_path(void)
{
    return json_pack("{s:s, s:s}", "type", "PathPrefix", "value", "/");
}

/* ---- normal form and comparison ------------------------------------------------------- */

static void default_str(json_t *o, const char *key, const char *def)
{
    if (json_is_object(o) && !json_is_string(json_object_get(o, key)))
        json_object_set_new(o, key, json_string(def));
}

static void drop_empty(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if ((json_is_array(v) && !json_array_size(v)) || (json_is_object(v) && !json_object_size(v)) ||
        json_is_null(v))
        json_object_del(o, key);
}

static void normalize_header_filter(json_t *f)
{
    drop_empty(f, "set");
    drop_empty(f, "add");
    drop_empty(f, "remove");
}

static void normalize_filters(json_t *owner)
{
    json_t *fs = json_object_get(owner, "filters");
    size_t i;
    json_t *f;
    json_array_foreach(fs, i, f) {
        normalize_header_filter(json_object_get(f, "requestHeaderModifier"));
        normalize_header_filter(json_object_get(f, "responseHeaderModifier"));
        json_t *m = json_object_get(f, "requestMirror");
        json_t *b = json_object_get(m, "backendRef");
        default_str(b, "group", "");
        default_str(b, "kind", "Service");
        json_t *fr = json_object_get(m, "fraction");
        if (json_is_object(fr) && !json_object_get(fr, "denominator"))
            json_object_set_new(fr, "denominator", json_integer(100));
        json_t *rr = json_object_get(f, "requestRedirect");
        if (json_is_object(rr) && !json_object_get(rr, "statusCode"))
            json_object_set_new(rr, "statusCode", json_integer(302));
        json_t *c = json_object_get(f, "cors");
        if (json_is_object(c) && !json_object_get(c, "maxAge"))
            json_object_set_new(c, "maxAge", json_integer(5));
    }
    drop_empty(owner, "filters");
}

static void normalize_match(json_t *m)
{
    json_t *p = json_object_get(m, "path");
    if (!json_is_object(p)) {
        json_object_set_new(m, "path", default_path());
    } else {
        default_str(p, "type", "PathPrefix");
        default_str(p, "value", "/");
    }
    static const char *const lists[] = {"headers", "queryParams"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(m, lists[k]), i, h)
            default_str(h, "type", "Exact");
        drop_empty(m, lists[k]);
    }
}

json_t *cdk_httproute_normalize(const json_t *spec_in)
{
    json_t *spec = json_is_object(spec_in) ? json_deep_copy(spec_in) : json_object();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "parentRefs"), i, v) {
        default_str(v, "group", CDK_GATEWAY_GROUP);
        default_str(v, "kind", "Gateway");
    }
    drop_empty(spec, "parentRefs");
    drop_empty(spec, "hostnames");
    if (!json_is_array(json_object_get(spec, "rules")))
        json_object_set_new(spec, "rules", json_pack("[{s:[{s:o}]}]", "matches", "path", default_path()));
    json_array_foreach(json_object_get(spec, "rules"), i, v) {
        if (!json_is_object(v))
            continue;
        if (!json_is_array(json_object_get(v, "matches")))
            json_object_set_new(v, "matches", json_pack("[{s:o}]", "path", default_path()));
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(v, "matches"), j, x)
            if (json_is_object(x))
                normalize_match(x);
        normalize_filters(v);
        json_array_foreach(json_object_get(v, "backendRefs"), j, x) {
            if (!json_is_object(x))
                continue;
            default_str(x, "group", "");
            default_str(x, "kind", "Service");
            if (!json_object_get(x, "weight"))
                json_object_set_new(x, "weight", json_integer(1));
            normalize_filters(x);
        }
        drop_empty(v, "backendRefs");
        drop_empty(v, "timeouts");
    }
    return spec;
}

/* A rule whose matches test the Cookie header against a regex naming one
 * of the canary's session cookies. */
static bool is_sticky_rule(const json_t *r, const cd_session_affinity *sa)
{
    const char *cookie_names[2] = {sa->cookie_name, sa->primary_cookie_name};
    size_t i, j;
    json_t *m, *h;
    json_array_foreach(json_object_get(r, "matches"), i, m) {
        json_array_foreach(json_object_get(m, "headers"), j, h) {
            const char *n = kj_str(h, "name"), *t = kj_str(h, "type"), *val = kj_str(h, "value");
            if (!n || strcasecmp(n, COOKIE) || !t || strcmp(t, REGEX) || !val)
                continue;
            for (int k = 0; k < 2; k++) {
                if (!has(cookie_names[k]))
                    continue;
                char re[2 * CD_COOKIE_MAX + 16];
                cdk_cookie_regex(cookie_names[k], re, sizeof re);
                re[strlen(re) - 2] = '\0';   /* ".*<name>" */
                if (strstr(val, re + 2))
                    return true;
            }
        }
    }
    return false;
}

static json_t *comparable(const json_t *spec, const cdk_route_in *in, cd_phase phase)
{
    json_t *n = cdk_httproute_normalize(spec);
    const cd_analysis *an = &in->spec->analysis;
    bool affinity = an->session_affinity.set;
    bool mirroring = an->mirror && (phase == CD_PHASE_WAITING || phase == CD_PHASE_PROGRESSING ||
                                    phase == CD_PHASE_WAITING_PROMOTION);
    json_t *rules = json_object_get(n, "rules");
    for (size_t i = json_array_size(rules); i-- > 0;) {
        json_t *r = json_array_get(rules, i);
        if (affinity && is_sticky_rule(r, &an->session_affinity)) {
            json_array_remove(rules, i);
            continue;
        }
        if (mirroring)
            json_object_del(r, "filters");
        size_t j;
        json_t *b;
        json_array_foreach(json_object_get(r, "backendRefs"), j, b) {
            json_object_del(b, "weight");
            if (affinity)
                json_object_del(b, "filters");
        }
    }
    return n;
}

static json_t *or_empty(json_t *o) { return json_is_object(o) ? o : NULL; }

static bool same_map(const json_t *a, const json_t *b)
{
    a = or_empty((json_t *)a);
    b = or_empty((json_t *)b);
    if (a && !json_object_size(a))
        a = NULL;
    if (b && !json_object_size(b))
        b = NULL;
    return kj_equal(a, b);
}

json_t *cdk_httproute_update(const json_t *live, const json_t *desired, const cdk_route_in *in,
                             cd_phase phase)
{
    json_t *a = comparable(json_object_get(live, "spec"), in, phase);
    json_t *b = comparable(json_object_get(desired, "spec"), in, phase);
    bool spec_ok = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    json_t *want_labels = kj_at(desired, "metadata.labels");
    json_t *live_labels = kj_at(live, "metadata.labels");
    /* annotations: ours, plus those other controllers (AWS's Gateway API
     * controller, ...) put on the route */
    json_t *merged = kj_copy(or_empty(kj_at(desired, "metadata.annotations")));
    if (!merged)
        merged = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(or_empty(kj_at(live, "metadata.annotations")), k, v)
        if (!json_object_get(merged, k))
            json_object_set(merged, k, v);
    bool md_ok = same_map(want_labels, live_labels) &&
                 same_map(merged, kj_at(live, "metadata.annotations"));
    if (spec_ok && md_ok) {
        json_decref(merged);
        return NULL;
    }
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", kj_copy(json_object_get(desired, "spec")));
    json_t *md = kj_obj(out, "metadata");
    if (json_is_object(want_labels) && json_object_size(want_labels))
        json_object_set(md, "labels", want_labels);
    else
        json_object_del(md, "labels");
    json_object_set_new(md, "annotations", merged);
    return out;
}

/* ---- status and weights ------------------------------------------------------------- */

static const char *str_or(const json_t *o, const char *key, const char *def)
{
    const char *s = kj_str(o, key);
    return s ? s : def;
}

/* ParentReferences equal once defaults are applied (namespace: the
 * route's). */
static bool same_parent(const json_t *a, const json_t *b, const char *ns)
{
    if (strcmp(str_or(a, "group", CDK_GATEWAY_GROUP), str_or(b, "group", CDK_GATEWAY_GROUP)) ||
        strcmp(str_or(a, "kind", "Gateway"), str_or(b, "kind", "Gateway")) ||
        strcmp(str_or(a, "name", ""), str_or(b, "name", "")) ||
        strcmp(str_or(a, "namespace", ns), str_or(b, "namespace", ns)) ||
        strcmp(str_or(a, "sectionName", ""), str_or(b, "sectionName", "")))
        return false;
    return kj_int(a, "port", 0) == kj_int(b, "port", 0);
}

bool cdk_httproute_parents_ready(const json_t *route, cd_err *err)
{
    const char *name = str_or(route, "metadata.name", "");
    const char *ns = str_or(route, "metadata.namespace", "default");
    int64_t gen = kj_int(route, "metadata.generation", 0);
    size_t i, j, k;
    json_t *ref, *st, *c;
    json_array_foreach(kj_at(route, "spec.parentRefs"), i, ref) {
        json_array_foreach(kj_at(route, "status.parents"), j, st) {
            if (!same_parent(ref, json_object_get(st, "parentRef"), ns))
                continue;
            json_array_foreach(json_object_get(st, "conditions"), k, c) {
                const char *type = kj_str(c, "type");
                if (!type || strcmp(type, "Accepted"))
                    continue;
                const char *status = str_or(c, "status", "");
                int64_t observed = kj_int(c, "observedGeneration", 0);
                if (!strcmp(status, "True") && observed >= gen)
                    continue;
                bool refused = strcmp(status, "True") != 0;
                const char *reason = refused ? kj_str(c, "reason") : NULL;
                const char *msg = refused ? kj_str(c, "message") : NULL;
                cd_errfmt(err,
                          "HTTPRoute %s.%s parent %s is not ready (status: %s, observed generation: "
                          "%lld, current generation: %lld)%s%s%s%s",
                          name, ns, str_or(ref, "name", ""), status, (long long)observed,
                          (long long)gen, has(reason) ? ": " : "", has(reason) ? reason : "",
                          has(msg) ? ": " : "", has(msg) ? msg : "");
                return false;
            }
        }
    }
    return true;
}

static bool names_both(const json_t *backends, const char *pname, const char *cname)
{
    if (json_array_size(backends) != 2)
        return false;
    const char *a = str_or(json_array_get(backends, 0), "name", "");
    const char *b = str_or(json_array_get(backends, 1), "name", "");
    return (!strcmp(a, pname) && !strcmp(b, cname)) || (!strcmp(a, cname) && !strcmp(b, pname));
}

static bool backends_filtered(const json_t *backends)
{
    size_t i;
    json_t *b;
    json_array_foreach(backends, i, b)
        if (json_array_size(json_object_get(b, "filters")))
            return true;
    return false;
}

bool cdk_httproute_get_weights(const json_t *route, const char *svc, bool session_affinity,
                               int *primary, int *canary, bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    const json_t *weighted = NULL, *filtered = NULL;
    size_t i, j;
    json_t *r, *f;
    json_array_foreach(kj_at(route, "spec.rules"), i, r) {
        json_t *backends = json_object_get(r, "backendRefs");
        if (names_both(backends, pname, cname)) {
            weighted = r;
            if (session_affinity && backends_filtered(backends))
                filtered = r;
        }
        json_array_foreach(json_object_get(r, "filters"), j, f) {
            const char *t = kj_str(f, "type"), *n = kj_str(f, "requestMirror.backendRef.name");
            if (t && !strcmp(t, "RequestMirror") && n && !strcmp(n, cname))
                *mirrored = true;
        }
    }
    if (filtered)
        weighted = filtered;
    if (!weighted) {
        cd_errfmt(err, "HTTPRoute %s.%s has no rule routing to %s and %s", svc,
                  str_or(route, "metadata.namespace", "default"), pname, cname);
        return false;
    }
    json_array_foreach(json_object_get(weighted, "backendRefs"), i, r) {
        int w = (int)kj_int(r, "weight", 1);
        if (!strcmp(str_or(r, "name", ""), pname))
            *primary = w;
        else
            *canary = w;
    }
    return true;
}
