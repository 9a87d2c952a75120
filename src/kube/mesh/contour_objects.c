/* contour_objects.c - the HTTPProxy of provider `contour` (ingress.h;
 * Flagger's ContourRouter): its spec at a pair of weights, the object
 * around it, how a live one is brought in line and which weights it
 * carries, and what a Canary asks for that it cannot express. Pure
 * functions on jansson values: must not do I/O, and must accept any live
 * JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define L5D_HEADER "l5d-dst-override"

static bool has(const char *s) { return s && *s; }

/* ---- what Contour can do ------------------------------------------------------------ */

/* Contour's duration pattern: one or more <number><unit> (number: digits
 * with an optional fraction; unit h, m, s, ms, us, µs, ns), or
 * "infinity"/"infinite". */
static bool contour_duration(const char *s)
{
    if (!has(s))
        return false;
    if (!strcmp(s, "infinity") || !strcmp(s, "infinite"))
        return true;
    static const char *const units[] = {"ms", "us", "\xc2\xb5s", "ns", "h", "m", "s"};
    while (*s) {
        while (*s >= '0' && *s <= '9')
            s++;
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9')
                s++;
        }
        size_t k, n = sizeof units / sizeof units[0];
        for (k = 0; k < n; k++)
            if (!strncmp(s, units[k], strlen(units[k])))
                break;
        if (k == n)
            return false;
        s += strlen(units[k]);
    }
    return true;
}

static const char *const RETRY_ON[] = {
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure",
    "envoy-ratelimited", "retriable-4xx", "refused-stream", "retriable-status-codes",
    "retriable-headers", "http3-post-connect-failure", "cancelled", "deadline-exceeded",
    "internal", "resource-exhausted", "unavailable",
};

static bool known_retry_on(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof RETRY_ON / sizeof RETRY_ON[0]; i++)
        if (strlen(RETRY_ON[i]) == n && !strncmp(RETRY_ON[i], s, n))
            return true;
    return false;
}

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider contour cannot %s: Flagger's HTTPProxy splits requests by weight "
                   "and matches A/B requests by header",
              what);
    return false;
}

static bool check_service(const cd_service *s, cd_err *err)
{
    if (has(s->timeout) && !contour_duration(s->timeout)) {
        cd_errfmt(err, "service.timeout \"%.64s\" is not a duration Contour accepts (e.g. 15s, 1m30s)",
                  s->timeout);
        return false;
    }
    if (!s->retries.set)
        return true;
    if (has(s->retries.per_try_timeout) && !contour_duration(s->retries.per_try_timeout)) {
        cd_errfmt(err, "service.retries.perTryTimeout \"%.64s\" is not a duration Contour accepts",
                  s->retries.per_try_timeout);
        return false;
    }
    const char *p = s->retries.retry_on;
    while (has(p)) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!known_retry_on(p, n)) {
            cd_errfmt(err, "service.retries.retryOn: \"%.*s\" is not a Contour retry condition (5xx, "
                           "gateway-error, reset, connect-failure, retriable-4xx, ...)",
                      (int)(n > 64 ? 64 : n), p);
            return false;
        }
        p = comma ? comma + 1 : NULL;
    }
    return true;
}

bool cdk_contour_check(const cd_canary_spec *spec, cd_err *err)
{
    const cd_analysis *an = &spec->analysis;
    if (an->mirror)
        return refuse(err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(err, "pin sessions to the canary (analysis.sessionAffinity)");
    char what[160];
    for (size_t i = 0; i < an->n_match; i++) {
        const cd_http_match *m = &an->match[i];
        const char *other = cd_string_match_set(&m->uri)         ? "uri"
                            : cd_string_match_set(&m->method)    ? "method"
                            : cd_string_match_set(&m->scheme)    ? "scheme"
                            : cd_string_match_set(&m->authority) ? "authority"
                            : m->query_params.n                  ? "queryParams"
                            : m->without_headers.n               ? "withoutHeaders"
                            : m->has_port                        ? "port"
                            : m->source_labels.n                 ? "sourceLabels"
                            : has(m->source_namespace)           ? "sourceNamespace"
                                                                 : NULL;
        if (other) {
            snprintf(what, sizeof what, "match requests by %s (analysis.match[%zu]; headers only)",
                     other, i);
            return refuse(err, what);
        }
        if (!m->headers.n) {
            snprintf(what, sizeof what, "run an A/B test with a match entry without headers "
                                        "(analysis.match[%zu])", i);
            return refuse(err, what);
        }
    }
    return check_service(&spec->service, err);
}

/* ---- the spec ------------------------------------------------------------------------ */

static const char *route_prefix(const cd_service *s)
{
    if (s->n_match && has(s->match[0].uri.prefix))
        return s->match[0].uri.prefix;
    return "/";
}

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

static json_t *header_condition(const cd_named_match *h)
{
    const cd_string_match *m = &h->match;
    json_t *c = json_pack("{s:s}", "name", h->name);
    char q[600], re[620];
    if (m->exact) {
        json_object_set_new(c, "exact", json_string(m->exact));
    } else if (m->regex) {
        json_object_set_new(c, "regex", json_string(m->regex));
    } else if (m->prefix) {
        regex_quote(m->prefix, q, sizeof q);
        snprintf(re, sizeof re, "%s.*", q);
        json_object_set_new(c, "regex", json_string(re));
    } else if (m->suffix) {
        regex_quote(m->suffix, q, sizeof q);
        snprintf(re, sizeof re, ".*%s", q);
        json_object_set_new(c, "regex", json_string(re));
    } else {
        json_object_set_new(c, "present", json_true());
    }
    return json_pack("{s:o}", "header", c);
}

static json_t *service(const cdk_contour_in *in, const char *suffix, int weight)
{
    char name[300], value[600];
    snprintf(name, sizeof name, "%s-%s", in->svc, suffix);
    snprintf(value, sizeof value, "%s.%s.svc.cluster.local:%d", name, in->ns,
             (int)in->spec->service.port);
    return json_pack("{s:s, s:i, s:i, s:{s:[{s:s, s:s}]}}", "name", name, "port",
                     (int)in->spec->service.port, "weight", weight, "requestHeadersPolicy", "set",
                     "name", L5D_HEADER, "value", value);
}

static json_t *retry_on(const char *s)
{
    json_t *a = json_array();
    while (has(s)) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, n));
        s = comma ? comma + 1 : NULL;
    }
    return a;
}

static json_t *route(const cdk_contour_in *in, json_t *conditions, int primary, int canary)
{
    const cd_service *s = &in->spec->service;
    json_t *r = json_pack("{s:o}", "conditions", conditions);
    if (has(s->timeout))
        json_object_set_new(r, "timeoutPolicy",
                            json_pack("{s:s, s:s}", "response", s->timeout, "idle", "5m"));
    if (s->retries.set) {
        json_t *rp = json_pack("{s:I}", "count",
                               (json_int_t)(s->retries.has_attempts ? s->retries.attempts : 1));
        if (has(s->retries.per_try_timeout))
            json_object_set_new(rp, "perTryTimeout", json_string(s->retries.per_try_timeout));
        if (has(s->retries.retry_on))
            json_object_set_new(rp, "retryOn", retry_on(s->retries.retry_on));
        json_object_set_new(r, "retryPolicy", rp);
    }
    json_object_set_new(r, "services", json_pack("[o, o]", service(in, "primary", primary),
                                                 service(in, "canary", canary)));
    return r;
}

json_t *cdk_contour_spec(const cdk_contour_in *in, int primary, int canary)
{
    const cd_analysis *an = &in->spec->analysis;
    const char *prefix = route_prefix(&in->spec->service);
    json_t *routes = json_array();
    for (size_t i = 0; i < an->n_match; i++) {
        json_t *conds = json_pack("[{s:s}]", "prefix", prefix);
        for (size_t j = 0; j < an->match[i].headers.n; j++)
            if (has(an->match[i].headers.items[j].name))
                json_array_append_new(conds, header_condition(&an->match[i].headers.items[j]));
        json_array_append_new(routes, route(in, conds, primary, canary));
    }
    bool ab = an->n_match > 0;
    json_array_append_new(routes, route(in, json_pack("[{s:s}]", "prefix", prefix),
                                        ab ? 100 : primary, ab ? 0 : canary));
    json_t *spec = json_pack("{s:o}", "routes", routes);
    if (has(in->ingress_class))
        json_object_set_new(spec, "ingressClassName", json_string(in->ingress_class));
    return spec;
}

json_t *cdk_contour_object(const cdk_contour_in *in, json_t *spec)
{
    const cd_service *s = &in->spec->service;
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", CDK_CONTOUR_GROUP "/v1",
                          "kind", "HTTPProxy", "metadata", "name", in->svc, "namespace", in->ns,
                          "spec", spec);
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

/* ---- live objects ------------------------------------------------------------------------ */

/* spec without service weights and with the retry count's default, for
 * comparisons. */
static json_t *comparable(const json_t *spec)
{
    json_t *n = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    size_t i, j;
    json_t *r, *s;
    json_array_foreach(json_object_get(n, "routes"), i, r) {
        json_t *rp = json_object_get(r, "retryPolicy");
        if (json_is_object(rp) && !json_object_get(rp, "count"))
            json_object_set_new(rp, "count", json_integer(1));
        json_array_foreach(json_object_get(r, "services"), j, s)
            if (json_is_object(s))
                json_object_del(s, "weight");
    }
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

json_t *cdk_contour_update(const json_t *live, const json_t *desired)
{
    json_t *a = comparable(json_object_get(live, "spec"));
    json_t *b = comparable(json_object_get(desired, "spec"));
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
    if (json_is_object(want_labels) && json_object_size(want_labels))
        json_object_set(md, "labels", want_labels);
    else
        json_object_del(md, "labels");
    if (json_is_object(want_anns) && json_object_size(want_anns))
        json_object_set(md, "annotations", want_anns);
    else
        json_object_del(md, "annotations");
    return out;
}

bool cdk_contour_get_weights(const json_t *proxy, const char *svc, int *primary, int *canary,
                             cd_err *err)
{
    *primary = *canary = 0;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    json_t *services = json_object_get(json_array_get(kj_at(proxy, "spec.routes"), 0), "services");
    bool p = false, c = false;
    size_t i;
    json_t *s;
    json_array_foreach(services, i, s) {
        const char *n = kj_str(s, "name");
        json_int_t w = json_integer_value(json_object_get(s, "weight"));
        if (w < 0 || w > 100)
            w = w < 0 ? 0 : 100;
        if (n && !strcmp(n, pname)) {
            *primary = (int)w;
            p = true;
        } else if (n && !strcmp(n, cname)) {
            *canary = (int)w;
            c = true;
        }
    }
    if (!p || !c) {
        cd_errfmt(err, "HTTPProxy %s.%s services not found (the first route must name %s and %s)",
                  svc, kj_str(proxy, "metadata.namespace") ? kj_str(proxy, "metadata.namespace") : "",
                  pname, cname);
        return false;
    }
    return true;
}
