/* gloo_objects.c - the RouteTable and Upstreams of provider `gloo`
 * (ingress.h; Flagger's GlooRouter, Gloo Edge): the Upstream of each of
 * <svc>-primary and <svc>-canary, the RouteTable <svc> whose routes send
 * weighted to them, how live ones are brought in line and which weights a
 * RouteTable carries, and what a Canary asks for that it cannot express.
 * Pure functions on jansson values: must not do I/O, and must accept any
 * live JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <string.h>

static bool has(const char *s) { return s && *s; }

/* The Upstream fields copied from spec.upstreamRef (Flagger's list, in
 * the CRD's spelling). */
static const char *const COPIED[] = {
    "sslConfig",   "circuitBreakers",         "connectionConfig",           "loadBalancerConfig",
    "useHttp2",    "initialStreamWindowSize", "initialConnectionWindowSize", "httpProxyHostname",
};
#define N_COPIED (sizeof COPIED / sizeof COPIED[0])

/* ---- what Gloo can do ---------------------------------------------------------------- */

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider gloo cannot %s: Flagger's RouteTable splits requests by weight and "
                   "matches A/B requests by header, query parameter or method",
              what);
    return false;
}

static bool check_match(const cd_http_match *m, size_t i, cd_err *err)
{
    char what[200];
    const char *other = cd_string_match_set(&m->uri)         ? "uri"
                        : cd_string_match_set(&m->scheme)    ? "scheme"
                        : cd_string_match_set(&m->authority) ? "authority"
                        : m->has_port                        ? "port"
                        : m->source_labels.n                 ? "sourceLabels"
                        : has(m->source_namespace)           ? "sourceNamespace"
                                                             : NULL;
    if (other) {
        snprintf(what, sizeof what, "match requests by %s (analysis.match[%zu])", other, i);
        return refuse(err, what);
    }
    if (cd_string_match_set(&m->method) && !m->method.exact) {
        snprintf(what, sizeof what, "match a method other than exactly (analysis.match[%zu].method)",
                 i);
        return refuse(err, what);
    }
    for (size_t j = 0; j < m->query_params.n; j++) {
        const cd_string_match *q = &m->query_params.items[j].match;
        if (q->prefix || q->suffix) {
            snprintf(what, sizeof what, "match a query parameter by prefix or suffix "
                                        "(analysis.match[%zu].queryParams; exact or regex)", i);
            return refuse(err, what);
        }
    }
    if (!m->headers.n && !m->without_headers.n && !m->query_params.n && !m->method.exact) {
        snprintf(what, sizeof what, "run an A/B test with a match entry matching nothing "
                                    "(analysis.match[%zu])", i);
        return refuse(err, what);
    }
    return true;
}

bool cdk_gloo_check(const cd_canary_spec *spec, cd_err *err)
{
    const cd_analysis *an = &spec->analysis;
    if (an->mirror)
        return refuse(err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(err, "pin sessions to the canary (analysis.sessionAffinity)");
    for (size_t i = 0; i < an->n_match; i++)
        if (!check_match(&an->match[i], i, err))
            return false;
    return true;
}

/* ---- Upstreams ---------------------------------------------------------------------- */

void cdk_gloo_upstream_name(const cdk_gloo_in *in, bool canary, char *out, size_t n)
{
    snprintf(out, n, "%s-%s-%supstream-%d", in->ns, in->svc, canary ? "canary" : "primary",
             (int)in->spec->service.port);
}

json_t *cdk_gloo_upstream(const cdk_gloo_in *in, bool canary, const json_t *selector,
                          const json_t *config)
{
    char name[400], svc[300];
    cdk_gloo_upstream_name(in, canary, name, sizeof name);
    snprintf(svc, sizeof svc, "%s-%s", in->svc, canary ? "canary" : "primary");
    json_t *kube = json_pack("{s:s, s:s, s:i}", "serviceName", svc, "serviceNamespace", in->ns,
                             "servicePort", (int)in->spec->service.port);
    if (json_is_object(selector) && json_object_size(selector))
        json_object_set_new(kube, "selector", json_deep_copy(selector));
    json_t *spec = json_object();
    const json_t *cs = json_object_get(config, "spec");
    for (size_t i = 0; i < N_COPIED; i++) {
        json_t *v = json_object_get(cs, COPIED[i]);
        if (v && !json_is_null(v))
            json_object_set_new(spec, COPIED[i], json_deep_copy(v));
    }
    json_object_set_new(spec, "kube", kube);
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", CDK_GLOO_GROUP "/v1",
                          "kind", "Upstream", "metadata", "name", name, "namespace", in->ns,
                          "spec", spec);
    if (in->owner_ref)
        json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
                            json_pack("[O]", in->owner_ref));
    return o;
}

json_t *cdk_gloo_upstream_update(const json_t *live, const json_t *desired)
{
    const json_t *ls = json_object_get(live, "spec"), *ds = json_object_get(desired, "spec");
    bool same = kj_equal(json_object_get(ls, "kube"), json_object_get(ds, "kube"));
    for (size_t i = 0; same && i < N_COPIED; i++)
        same = kj_equal(json_object_get(ls, COPIED[i]), json_object_get(ds, COPIED[i]));
    if (same)
        return NULL;
    json_t *out = json_deep_copy(live);
    json_t *spec = kj_obj(out, "spec");
    kj_set_copy(spec, "kube", json_object_get(ds, "kube"));
    for (size_t i = 0; i < N_COPIED; i++)
        kj_set_copy(spec, COPIED[i], json_object_get(ds, COPIED[i]));
    json_object_del(out, "status");
    return out;
}

/* ---- the RouteTable -------------------------------------------------------------------- */

/* RE2 with the metacharacters of s escaped. */
static void regex_quote(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if (strchr("\\.+*?()|[]{}^$", *s))
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

/* A Gloo header (or query parameter) matcher: exact as the value, regex
 * with regex: true, prefix and suffix as quoted regexes, no match at all
 * as "present" (no value). */
static json_t *value_matcher(const cd_named_match *h, bool invert)
{
    const cd_string_match *m = &h->match;
    json_t *o = json_pack("{s:s}", "name", h->name);
    char q[600], re[620];
    if (m->exact) {
        json_object_set_new(o, "value", json_string(m->exact));
    } else if (m->regex) {
        json_object_set_new(o, "value", json_string(m->regex));
        json_object_set_new(o, "regex", json_true());
    } else if (m->prefix || m->suffix) {
        regex_quote(m->prefix ? m->prefix : m->suffix, q, sizeof q);
        snprintf(re, sizeof re, m->prefix ? "%s.*" : ".*%s", q);
        json_object_set_new(o, "value", json_string(re));
        json_object_set_new(o, "regex", json_true());
    }
    if (invert)
        json_object_set_new(o, "invertMatch", json_true());
    return o;
}

static json_t *matcher(const cd_http_match *m)
{
    json_t *o = json_object();
    json_t *headers = json_array();
    for (size_t j = 0; j < m->headers.n; j++)
        if (has(m->headers.items[j].name))
            json_array_append_new(headers, value_matcher(&m->headers.items[j], false));
    for (size_t j = 0; j < m->without_headers.n; j++)
        if (has(m->without_headers.items[j].name))
            json_array_append_new(headers, value_matcher(&m->without_headers.items[j], true));
    if (json_array_size(headers))
        json_object_set_new(o, "headers", headers);
    else
        json_decref(headers);
    json_t *qp = json_array();
    for (size_t j = 0; j < m->query_params.n; j++)
        if (has(m->query_params.items[j].name))
            json_array_append_new(qp, value_matcher(&m->query_params.items[j], false));
    if (json_array_size(qp))
        json_object_set_new(o, "queryParameters", qp);
    else
        json_decref(qp);
    if (m->method.exact)
        json_object_set_new(o, "methods", json_pack("[s]", m->method.exact));
    return o;
}

static json_t *destination(const cdk_gloo_in *in, bool canary, int weight)
{
    char name[400];
    cdk_gloo_upstream_name(in, canary, name, sizeof name);
    return json_pack("{s:{s:{s:s, s:s}}, s:i}", "destination", "upstream", "name", name,
                     "namespace", in->ns, "weight", weight < 0 ? 0 : weight);
}

static json_t *route(const cdk_gloo_in *in, json_t *matchers, int primary, int canary)
{
    json_t *r = json_pack("{s:b}", "inheritablePathMatchers", 1);
    if (matchers)
        json_object_set_new(r, "matchers", matchers);
    json_object_set_new(r, "routeAction",
                        json_pack("{s:{s:[o, o]}}", "multi", "destinations",
                                  destination(in, false, primary), destination(in, true, canary)));
    return r;
}

json_t *cdk_gloo_spec(const cdk_gloo_in *in, int primary, int canary)
{
    const cd_analysis *an = &in->spec->analysis;
    json_t *routes = json_array();
    for (size_t i = 0; i < an->n_match; i++)
        json_array_append_new(routes, route(in, json_pack("[o]", matcher(&an->match[i])), primary,
                                            canary));
    bool ab = an->n_match > 0;
    json_array_append_new(routes, route(in, NULL, ab ? 100 : primary, ab ? 0 : canary));
    return json_pack("{s:o}", "routes", routes);
}

json_t *cdk_gloo_object(const cdk_gloo_in *in, json_t *spec)
{
    const cd_service *s = &in->spec->service;
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion",
                          CDK_GLOO_GATEWAY_GROUP "/v1", "kind", "RouteTable", "metadata", "name",
                          in->svc, "namespace", in->ns, "spec", spec);
    json_t *md = json_object_get(o, "metadata");
    json_t *labels = s->has_apex ? kj_strmap(&s->apex.labels) : json_object();
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else
        json_decref(labels);
    json_object_set_new(md, "annotations", cdk_router_annotations(s->has_apex ? &s->apex : NULL));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    return o;
}

/* ---- live RouteTables -------------------------------------------------------------------- */

static json_t *without_weights(const json_t *spec)
{
    json_t *n = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    size_t i, j;
    json_t *r, *d;
    json_array_foreach(json_object_get(n, "routes"), i, r)
        json_array_foreach(kj_at(r, "routeAction.multi.destinations"), j, d)
            if (json_is_object(d))
                json_object_del(d, "weight");
    return n;
}

static bool same_map(const json_t *a, const json_t *b)
{
    if (!json_is_object(a) || !json_object_size(a))
        a = NULL;
    if (!json_is_object(b) || !json_object_size(b))
        b = NULL;
    return kj_equal(a, b);
}

static void set_map(json_t *md, const char *key, json_t *want)
{
    if (json_is_object(want) && json_object_size(want))
        json_object_set(md, key, want);
    else
        json_object_del(md, key);
}

json_t *cdk_gloo_update(const json_t *live, const json_t *desired)
{
    json_t *a = without_weights(json_object_get(live, "spec"));
    json_t *b = without_weights(json_object_get(desired, "spec"));
    bool spec_ok = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    json_t *want_labels = kj_at(desired, "metadata.labels");
    json_t *want_anns = kj_at(desired, "metadata.annotations");
    if (spec_ok && same_map(want_labels, kj_at(live, "metadata.labels")) &&
        same_map(want_anns, kj_at(live, "metadata.annotations")))
        return NULL;
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", kj_copy(json_object_get(desired, "spec")));
    json_object_del(out, "status");
    json_t *md = kj_obj(out, "metadata");
    set_map(md, "labels", want_labels);
    set_map(md, "annotations", want_anns);
    return out;
}

bool cdk_gloo_get_weights(const json_t *rt, const cdk_gloo_in *in, int *primary, int *canary,
                          cd_err *err)
{
    *primary = *canary = 0;
    char pname[400], cname[400];
    cdk_gloo_upstream_name(in, false, pname, sizeof pname);
    cdk_gloo_upstream_name(in, true, cname, sizeof cname);
    json_t *first = json_array_get(kj_at(rt, "spec.routes"), 0);
    bool p = false, c = false;
    size_t i;
    json_t *d;
    json_array_foreach(kj_at(first, "routeAction.multi.destinations"), i, d) {
        const char *n = kj_str(d, "destination.upstream.name");
        json_int_t w = json_integer_value(json_object_get(d, "weight"));
        w = w < 0 ? 0 : w > 100 ? 100 : w;
        if (n && !strcmp(n, pname)) {
            *primary = (int)w;
            p = true;
        } else if (n && !strcmp(n, cname)) {
            *canary = (int)w;
            c = true;
        }
    }
    if (!p || !c) {
        cd_errfmt(err, "RouteTable %s.%s destinations not found (the first route must send to %s "
                       "and %s)",
                  in->svc, in->ns, pname, cname);
        return false;
    }
    return true;
}
