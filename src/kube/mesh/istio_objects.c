/* istio_objects.c - the Istio objects of a canary as pure functions
 * (reference §7.5, Flagger's IstioRouter): the VirtualService <svc> for a
 * routing state (weights, mirror, A/B routes, session-affinity routes), the
 * DestinationRules <svc>-primary and <svc>-canary, how live objects are
 * brought in line and which weights a VirtualService carries. Writes
 * networking.istio.io/v1beta1 as Flagger does. Spec in, JSON out: must not
 * do I/O, and must accept any live JSON without crashing. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include "util/duration.h"
#include "util/errfmt.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_VERSION CDK_ISTIO_GROUP "/v1beta1"
#define COOKIE "Cookie"
#define SET_COOKIE "Set-Cookie"

static bool has(const char *s) { return s && *s; }

static void names(const cd_canary_spec *spec, char primary[300], char canary[300])
{
    const char *svc = cd_canary_service_name(spec);
    snprintf(primary, 300, "%s-primary", svc);
    snprintf(canary, 300, "%s-canary", svc);
}

static bool is_tcp(const cd_canary_spec *spec)
{
    const char *p = spec->service.app_protocol;
    return p && !strcasecmp(p, "tcp");
}

static bool openssl_letters(char *out, size_t n)
{
    unsigned char b[64];
    if (n > sizeof b || RAND_bytes(b, (int)n) != 1)
        return false;
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (size_t i = 0; i < n; i++)
        out[i] = letters[b[i] % 52];
    return true;
}

/* Adds a copy of src[key] to dst when it is set and not empty. */
static void copy_nonempty(json_t *dst, const char *key, const json_t *src, const char *from)
{
    json_t *v = json_object_get(src, from ? from : key);
    if (!v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)) ||
        (json_is_object(v) && !json_object_size(v)))
        return;
    json_object_set_new(dst, key, json_deep_copy(v));
}

/* ---- checks ------------------------------------------------------------------------ */

/* Istio's CRDs hold every duration to `duration(self) >= duration('1ms')`
 * (CEL, Go syntax): the fields named so, anywhere under v. */
static bool durations_ok(const json_t *v, const char *const *keys, char *path, size_t len,
                         cd_err *err)
{
    size_t at = strlen(path);
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            snprintf(path + at, len - at, ".%s", k);
            bool is_duration = false;
            for (size_t i = 0; keys[i]; i++)
                is_duration |= !strcmp(keys[i], k);
            int64_t ns = 0;
            if (is_duration && json_is_string(x) &&
                (!cd_duration_parse(json_string_value(x), &ns) || ns < CD_NS_PER_MS)) {
                cd_errfmt(err, "%s: \"%.60s\" is not a duration of at least 1ms (Istio refuses it)",
                          path, json_string_value(x));
                return false;
            }
            if (!durations_ok(x, keys, path, len, err))
                return false;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            snprintf(path + at, len - at, "[%zu]", i);
            if (!durations_ok(x, keys, path, len, err))
                return false;
        }
    }
    path[at] = '\0';
    return true;
}

static bool service_durations_ok(const cdk_istio_in *in, cd_err *err)
{
    static const char *const route_keys[] = {"timeout", "perTryTimeout", "maxAge", "backoff",
                                             "fixedDelay", "exponentialDelay", NULL};
    static const char *const policy_keys[] = {"baseEjectionTime", "connectTimeout", "duration",
                                              "idleTimeout", "interval", "maxConnectionDuration",
                                              "time", "warmupDurationSecs", NULL};
    const json_t *svc = kj_at(in->spec_json, "service");
    json_t *route = json_object();
    static const char *const fields[] = {"timeout", "retries", "corsPolicy"};
    for (size_t i = 0; i < 3; i++)
        copy_nonempty(route, fields[i], svc, NULL);
    char path[512] = "spec.service";
    bool ok = durations_ok(route, route_keys, path, sizeof path, err);
    json_decref(route);
    if (!ok)
        return false;
    json_t *tp = json_object();
    copy_nonempty(tp, "trafficPolicy", svc, NULL);
    ok = durations_ok(tp, policy_keys, path, sizeof path, err);
    json_decref(tp);
    return ok;
}

bool cdk_istio_check(const cdk_istio_in *in, cd_err *err)
{
    if (!service_durations_ok(in, err))
        return false;
    const cd_service *s = &in->spec->service;
    if (s->delegation && (s->hosts.n || s->gateways.n)) {
        cd_errfmt(err, "VirtualService %s.%s cannot have hosts and gateways when delegation enabled "
                       "(spec.service.delegation with spec.service.%s)",
                  cd_canary_service_name(in->spec),
                  in->meta && in->meta->namespace_ ? in->meta->namespace_ : "default",
                  s->hosts.n ? "hosts" : "gateways");
        return false;
    }
    const cd_http_match *lists[2] = {s->match, in->spec->analysis.match};
    size_t counts[2] = {s->n_match, in->spec->analysis.n_match};
    const char *where[2] = {"spec.service.match", "spec.analysis.match"};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const cd_http_match *m = &lists[l][i];
            const cd_named_matches *hs[3] = {&m->headers, &m->query_params, &m->without_headers};
            const char *hn[3] = {"headers", "queryParams", "withoutHeaders"};
            for (int k = 0; k < 3; k++)
                for (size_t j = 0; j < hs[k]->n; j++)
                    if (!has(hs[k]->items[j].name) ||
                        (!cd_string_match_set(&hs[k]->items[j].match) && k != 2)) {
                        cd_errfmt(err, "%s[%zu].%s%s%s: a match needs a name and one of exact, "
                                       "prefix, suffix or regex",
                                  where[l], i, hn[k], has(hs[k]->items[j].name) ? "." : "",
                                  has(hs[k]->items[j].name) ? hs[k]->items[j].name : "");
                        return false;
                    }
        }
    return true;
}

/* ---- routes ------------------------------------------------------------------------ */

/* Flagger's makeDestination: the port is named when an ingress gateway or
 * delegation routes to it and ports are discovered. */
static json_t *destination(const cdk_istio_in *in, const char *host, int weight)
{
    const cd_service *s = &in->spec->service;
    json_t *d = json_pack("{s:s}", "host", host);
    if (s->port_discovery &&
        ((s->gateways.n && strcmp(s->gateways.items[0], "mesh")) || s->delegation))
        json_object_set_new(d, "port", json_pack("{s:i}", "number", (int)s->port));
    return json_pack("{s:o, s:i}", "destination", d, "weight", weight);
}

static json_t *service_matches(const cdk_istio_in *in)
{
    json_t *m = kj_at(in->spec_json, "service.match");
    return json_is_array(m) ? m : NULL;
}

/* Flagger's mergeMatchConditions: each condition of `extra` on a copy of
 * each service match (headers and sourceLabels taken from `extra`). */
static json_t *merge_matches(const json_t *extra, const json_t *defaults)
{
    if (!json_array_size(defaults))
        return json_deep_copy(extra);
    json_t *out = json_array();
    size_t i, j;
    json_t *c, *d;
    json_array_foreach(extra, i, c) {
        json_array_foreach(defaults, j, d) {
            json_t *m = json_deep_copy(d);
            json_t *h = json_object_get(c, "headers"), *sl = json_object_get(c, "sourceLabels");
            if (h)
                json_object_set(m, "headers", h);
            if (sl)
                json_object_set(m, "sourceLabels", sl);
            json_array_append_new(out, m);
        }
    }
    return out;
}

/* An HTTP route with the service's match, rewrite, timeout, retries,
 * CORS and headers, and the given destinations (stolen). */
static json_t *http_route(const cdk_istio_in *in, json_t *match, json_t *dests)
{
    const json_t *svc = kj_at(in->spec_json, "service");
    json_t *r = json_object();
    if (match && json_array_size(match))
        json_object_set_new(r, "match", match);
    else
        json_decref(match);
    const json_t *rw = json_object_get(svc, "rewrite");
    if (json_is_object(rw) && (kj_str(rw, "uri") || kj_str(rw, "authority"))) {
        json_t *o = json_object();
        copy_nonempty(o, "uri", rw, NULL);
        copy_nonempty(o, "authority", rw, NULL);
        json_object_set_new(r, "rewrite", o);
    }
    copy_nonempty(r, "timeout", svc, NULL);
    copy_nonempty(r, "retries", svc, NULL);
    copy_nonempty(r, "corsPolicy", svc, NULL);
    copy_nonempty(r, "headers", svc, NULL);
    json_object_set_new(r, "route", dests);
    return r;
}

static json_t *weighted(const cdk_istio_in *in, json_t *match, int primary, int canary)
{
    char pname[300], cname[300];
    names(in->spec, pname, cname);
    return http_route(in, match,
                      json_pack("[o,o]", destination(in, pname, primary), destination(in, cname, canary)));
}

/* ---- session affinity ------------------------------------------------------------- */

static void set_cookie_value(const cd_session_affinity *sa, const char *cookie, int64_t max_age,
                             char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s; Max-Age=%lld", cookie, (long long)max_age);
    size_t o = n > 0 ? (size_t)n : 0;
#define ATTR(...)                                                                                  \
    do {                                                                                           \
        if (o < outlen)                                                                            \
            o += (size_t)snprintf(out + o, outlen - o, __VA_ARGS__);                               \
    } while (0)
    if (has(sa->domain))
        ATTR("; Domain=%s", sa->domain);
    if (sa->http_only)
        ATTR("; HttpOnly");
    if (sa->partitioned)
        ATTR("; Partitioned");
    if (has(sa->path))
        ATTR("; Path=%s", sa->path);
    if (has(sa->same_site))
        ATTR("; SameSite=%s", sa->same_site);
    if (sa->secure)
        ATTR("; Secure");
#undef ATTR
}

static bool ensure_cookie(const cdk_istio_in *in, char *slot, const char *name, cd_err *err)
{
    if (slot[0])
        return true;
    char letters[11];
    bool (*rnd)(char *, size_t) = in->random_letters ? in->random_letters : openssl_letters;
    if (!rnd(letters, 10)) {
        cd_errfmt(err, "no random bytes for the session affinity cookie");
        return false;
    }
    letters[10] = '\0';
    if (strlen(name) + 12 > CD_COOKIE_MAX) {
        cd_errfmt(err, "analysis.sessionAffinity cookie name \"%.40s...\" is too long", name);
        return false;
    }
    snprintf(slot, CD_COOKIE_MAX, "%s=%s", name, letters);
    return true;
}

static json_t *cookie_matches(const cdk_istio_in *in, const char *cookie)
{
    char re[2 * CD_COOKIE_MAX + 16];
    cdk_cookie_regex(cookie, re, sizeof re);
    json_t *c = json_pack("[{s:{s:{s:s}}}]", "headers", COOKIE, "regex", re);
    json_t *m = merge_matches(c, service_matches(in));
    json_decref(c);
    return m;
}

/* headers.response.add[Set-Cookie] = value on o (a route or destination) */
static void add_set_cookie(json_t *o, const char *value)
{
    json_t *h = kj_obj(o, "headers");
    json_t *resp = kj_obj(h, "response");
    json_object_set_new(kj_obj(resp, "add"), SET_COOKIE, json_string(value));
}

static void dest_cookie(json_t *route, const char *host, const char *value)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(route, "route"), i, d)
        if (!strcmp(kj_str(d, "destination.host") ?: "", host))
            add_set_cookie(d, value);
}

/* Flagger's getSessionAffinityRouteRules on the weighted route w (stolen). */
static json_t *affinity_routes(const cdk_istio_in *in, json_t *w, int primary, int canary,
                               cd_canary_status *st, cd_err *err)
{
    const cd_session_affinity *sa = &in->spec->analysis.session_affinity;
    char pname[300], cname[300];
    names(in->spec, pname, cname);
    json_t *routes = json_array();
    char v[1024];
    if (canary != 0) {
        if (!ensure_cookie(in, st->session_affinity_cookie, sa->cookie_name ?: "", err) ||
            (has(sa->primary_cookie_name) &&
             !ensure_cookie(in, st->primary_session_affinity_cookie, sa->primary_cookie_name, err))) {
            json_decref(routes);
            json_decref(w);
            return NULL;
        }
        set_cookie_value(sa, st->session_affinity_cookie, sa->max_age, v, sizeof v);
        dest_cookie(w, cname, v);
        json_array_append_new(routes, http_route(in, cookie_matches(in, st->session_affinity_cookie),
                                                 json_pack("[o,o]", destination(in, pname, 0),
                                                           destination(in, cname, 100))));
        if (has(sa->primary_cookie_name)) {
            int64_t interval_s = in->spec->analysis.interval_ms / 1000;
            set_cookie_value(sa, st->primary_session_affinity_cookie,
                             interval_s > 0 ? interval_s : 60, v, sizeof v);
            dest_cookie(w, pname, v);
            json_array_append_new(
                routes, http_route(in, cookie_matches(in, st->primary_session_affinity_cookie),
                                   json_pack("[o,o]", destination(in, pname, 100),
                                             destination(in, cname, 0))));
        }
        json_array_append_new(routes, w);
        return routes;
    }
    if (st->session_affinity_cookie[0])
        snprintf(st->previous_session_affinity_cookie, CD_COOKIE_MAX, "%s",
                 st->session_affinity_cookie);
    st->session_affinity_cookie[0] = '\0';
    st->primary_session_affinity_cookie[0] = '\0';
    if (st->previous_session_affinity_cookie[0]) {
        /* the previous canary's cookie expires: Max-Age=-1 */
        json_t *r = weighted(in, cookie_matches(in, st->previous_session_affinity_cookie), primary,
                             canary);
        snprintf(v, sizeof v, "%s; Max-Age=-1", st->previous_session_affinity_cookie);
        add_set_cookie(r, v);
        json_array_append_new(routes, r);
    }
    json_array_append_new(routes, w);
    return routes;
}

/* ---- the VirtualService ------------------------------------------------------------ */

static json_t *hosts(const cdk_istio_in *in)
{
    const cd_service *s = &in->spec->service;
    const char *apex = cd_canary_service_name(in->spec);
    json_t *a = json_array();
    bool found = false;
    for (size_t i = 0; i < s->hosts.n; i++) {
        json_array_append_new(a, json_string(s->hosts.items[i]));
        if (!strcmp(s->hosts.items[i], apex) || !strcmp(s->hosts.items[i], "*"))
            found = true;
    }
    if (!found)
        json_array_append_new(a, json_string(apex));
    return a;
}

static json_t *gateways(const cdk_istio_in *in)
{
    const cd_service *s = &in->spec->service;
    json_t *a = json_array();
    for (size_t i = 0; i < s->gateways.n; i++)
        json_array_append_new(a, json_string(s->gateways.items[i]));
    if (!s->gateways.n)
        json_array_append_new(a, json_string("mesh"));
    return a;
}

static json_t *tcp_routes(const cdk_istio_in *in, int primary, int canary)
{
    char pname[300], cname[300];
    names(in->spec, pname, cname);
    const cd_service *s = &in->spec->service;
    json_t *r = json_object();
    if (s->n_match) {
        json_t *m = json_array();
        for (size_t i = 0; i < s->n_match; i++)
            json_array_append_new(m, s->match[i].has_port
                                         ? json_pack("{s:i}", "port", (int)s->match[i].port)
                                         : json_object());
        json_object_set_new(r, "match", m);
    }
    json_object_set_new(r, "route", json_pack("[o,o]", destination(in, pname, primary),
                                              destination(in, cname, canary)));
    return json_pack("[o]", r);
}

json_t *cdk_istio_vs_spec(const cdk_istio_in *in, int primary, int canary, bool mirrored,
                          cd_canary_status *st, cd_err *err)
{
    if (!cdk_istio_check(in, err))
        return NULL;
    const cd_service *s = &in->spec->service;
    const cd_analysis *an = &in->spec->analysis;
    json_t *spec = json_object();
    if (!s->delegation) {
        json_object_set_new(spec, "hosts", hosts(in));
        json_object_set_new(spec, "gateways", gateways(in));
    }
    if (is_tcp(in->spec)) {
        json_object_set_new(spec, "tcp", tcp_routes(in, primary, canary));
        return spec;
    }
    char pname[300], cname[300];
    names(in->spec, pname, cname);
    json_t *routes;
    if (an->n_match) {
        /* A/B: the matched requests by weight, the others to the primary */
        json_t *ab = merge_matches(kj_at(in->spec_json, "analysis.match"), service_matches(in));
        routes = json_pack("[o,o]", weighted(in, ab, primary, canary),
                           http_route(in, json_deep_copy(service_matches(in)),
                                      json_pack("[o]", destination(in, pname, primary))));
    } else {
        json_t *w = weighted(in, json_deep_copy(service_matches(in)), primary, canary);
        if (an->session_affinity.set) {
            cd_canary_status tmp = *st;   /* *st unchanged on failure */
            routes = affinity_routes(in, w, primary, canary, &tmp, err);
            if (!routes) {
                json_decref(spec);
                return NULL;
            }
            *st = tmp;
        } else {
            routes = json_pack("[o]", w);
        }
        if (mirrored) {
            json_t *r0 = json_array_get(routes, 0);
            json_object_set_new(r0, "mirror", json_pack("{s:s}", "host", cname));
            if (an->has_mirror_weight && an->mirror_weight > 0)
                json_object_set_new(r0, "mirrorPercentage",
                                    json_pack("{s:f}", "value", (double)an->mirror_weight));
        }
    }
    json_object_set_new(spec, "http", routes);
    return spec;
}

static const char *ns_of(const cdk_istio_in *in)
{
    return in->meta && in->meta->namespace_ ? in->meta->namespace_ : "default";
}

static json_t *object(const cdk_istio_in *in, const char *kind, const char *name)
{
    json_t *o = json_pack("{s:s, s:s}", "apiVersion", API_VERSION, "kind", kind);
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    json_object_set_new(md, "namespace", json_string(ns_of(in)));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    return o;
}

json_t *cdk_istio_vs_object(const cdk_istio_in *in, json_t *spec)
{
    const cd_service *s = &in->spec->service;
    json_t *o = object(in, "VirtualService", cd_canary_service_name(in->spec));
    json_t *md = json_object_get(o, "metadata");
    if (s->has_apex && s->apex.labels.n)
        json_object_set_new(md, "labels", kj_strmap(&s->apex.labels));
    json_object_set_new(md, "annotations", cdk_router_annotations(s->has_apex ? &s->apex : NULL));
    json_object_set_new(o, "spec", spec ? spec : json_object());
    return o;
}

json_t *cdk_istio_dr_object(const cdk_istio_in *in, const char *host)
{
    json_t *o = object(in, "DestinationRule", host);
    json_t *spec = json_pack("{s:s}", "host", host);
    copy_nonempty(spec, "trafficPolicy", kj_at(in->spec_json, "service"), NULL);
    json_object_set_new(o, "spec", spec);
    return o;
}

/* ---- comparing with live objects ------------------------------------------------ */

/* A copy without empty lists, maps and nulls, at every depth. */
static json_t *pruned(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            json_t *p = pruned(x);
            if (p)
                json_object_set_new(o, k, p);
        }
        if (!json_object_size(o)) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            json_t *p = pruned(x);
            json_array_append_new(a, p ? p : json_object());
        }
        if (!json_array_size(a)) {
            json_decref(a);
            return NULL;
        }
        return a;
    }
    if (!v || json_is_null(v))
        return NULL;
    return json_deep_copy(v);
}

json_t *cdk_istio_dr_update(const json_t *live, const json_t *desired)
{
    json_t *a = pruned(json_object_get(live, "spec"));
    json_t *b = pruned(json_object_get(desired, "spec"));
    bool same = kj_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (same)
        return NULL;
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", json_deep_copy(json_object_get(desired, "spec")));
    return out;
}

static bool owned(const json_t *live, const cdk_istio_in *in)
{
    const json_t *ref = cd_kobj_controller_ref(live);
    const char *uid = in->meta ? in->meta->uid : NULL;
    if (!ref || strcmp(kj_str(ref, "kind") ?: "", "Canary"))
        return false;
    if (has(uid) && kj_str(ref, "uid"))
        return !strcmp(kj_str(ref, "uid"), uid);
    return !strcmp(kj_str(ref, "name") ?: "", in->meta && in->meta->name ? in->meta->name : "");
}

bool cdk_istio_vs_writable(const json_t *live, const cdk_istio_in *in, cd_err *err)
{
    if (owned(live, in) || cd_kobj_annotation(live, CDK_ISTIO_ORIGINAL) ||
        in->spec->revert_on_deletion)
        return true;
    const json_t *ref = cd_kobj_controller_ref(live);
    cd_errfmt(err,
              "VirtualService %s.%s is not owned by canary %s%s%s%s: canaryd does not take over a "
              "VirtualService it did not create unless spec.revertOnDeletion is true (its spec is "
              "then kept in the %s annotation and restored when the canary is deleted); delete it, "
              "or set revertOnDeletion",
              cd_canary_service_name(in->spec), ns_of(in),
              in->meta && in->meta->name ? in->meta->name : "", ref ? " (its controller is " : "",
              ref ? kj_str(ref, "kind") ?: "?" : "", ref ? ")" : "", CDK_ISTIO_ORIGINAL);
    return false;
}

bool cdk_istio_gateway_ref(const cdk_istio_in *in, size_t i, char *ns, size_t ns_len, char *name,
                           size_t name_len)
{
    const cd_strlist *g = &in->spec->service.gateways;
    if (i >= g->n || !has(g->items[i]) || !strcmp(g->items[i], "mesh"))
        return false;
    const char *s = g->items[i], *slash = strchr(s, '/'), *dot = strchr(s, '.');
    const char *n = s, *space = ns_of(in);
    size_t nl = strlen(s), sl = strlen(space);
    if (slash) {            /* ns/name */
        space = s;
        sl = (size_t)(slash - s);
        n = slash + 1;
        nl = strlen(n);
    } else if (dot) {       /* name.ns.svc.cluster.local */
        nl = (size_t)(dot - s);
        space = dot + 1;
        const char *end = strchr(space, '.');
        sl = end ? (size_t)(end - space) : strlen(space);
    }
    if (sl == 1 && space[0] == '.') {
        space = ns_of(in);
        sl = strlen(space);
    }
    if (!nl || !sl || nl >= name_len || sl >= ns_len || strchr(n, '/'))
        return false;
    memcpy(name, n, nl);
    name[nl] = '\0';
    memcpy(ns, space, sl);
    ns[sl] = '\0';
    return true;
}

static bool is_sticky(const json_t *route, const cd_session_affinity *sa)
{
    const char *cookie_names[2] = {sa->cookie_name, sa->primary_cookie_name};
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(route, "match"), i, m) {
        const char *re = kj_str(json_object_get(json_object_get(m, "headers"), COOKIE), "regex");
        for (int k = 0; re && k < 2; k++)
            if (has(cookie_names[k]) && strstr(re, cookie_names[k]))
                return true;
    }
    return false;
}

static json_t *comparable(const json_t *spec, const cdk_istio_in *in)
{
    json_t *n = pruned(spec);
    if (!n)
        n = json_object();
    const cd_session_affinity *sa = &in->spec->analysis.session_affinity;
    static const char *const kinds[] = {"http", "tcp"};
    for (int k = 0; k < 2; k++) {
        json_t *routes = json_object_get(n, kinds[k]);
        for (size_t i = json_array_size(routes); i-- > 0;) {
            json_t *r = json_array_get(routes, i);
            if (sa->set && is_sticky(r, sa)) {
                json_array_remove(routes, i);
                continue;
            }
            json_object_del(r, "mirror");
            json_object_del(r, "mirrorPercentage");
            size_t j;
            json_t *d;
            json_array_foreach(json_object_get(r, "route"), j, d) {
                json_object_del(d, "weight");
                if (sa->set)
                    json_object_del(d, "headers");
            }
        }
    }
    return n;
}

static json_t *map_or_empty(const json_t *o)
{
    return json_is_object(o) ? json_deep_copy(o) : json_object();
}

json_t *cdk_istio_vs_update(const json_t *live, const json_t *desired, const cdk_istio_in *in)
{
    const cd_service *s = &in->spec->service;
    json_t *a = comparable(json_object_get(live, "spec"), in);
    json_t *b = comparable(json_object_get(desired, "spec"), in);
    bool spec_ok = json_equal(a, b);
    json_decref(a);
    json_decref(b);

    json_t *live_labels = kj_at(live, "metadata.labels");
    json_t *live_ann = kj_at(live, "metadata.annotations");
    json_t *labels = map_or_empty(kj_at(desired, "metadata.labels"));
    for (size_t i = 0; i < s->unmanaged.labels.n; i++) {
        json_t *v = json_object_get(live_labels, s->unmanaged.labels.items[i]);
        if (v)
            json_object_set(labels, s->unmanaged.labels.items[i], v);
        else
            json_object_del(labels, s->unmanaged.labels.items[i]);
    }
    /* annotations: ours, plus those others put on the VirtualService */
    json_t *ann = map_or_empty(kj_at(desired, "metadata.annotations"));
    const char *k;
    json_t *v;
    json_object_foreach(json_is_object(live_ann) ? live_ann : NULL, k, v)
        if (!json_object_get(ann, k))
            json_object_set(ann, k, v);
    for (size_t i = 0; i < s->unmanaged.annotations.n; i++) {
        json_t *lv = json_object_get(live_ann, s->unmanaged.annotations.items[i]);
        if (lv)
            json_object_set(ann, s->unmanaged.annotations.items[i], lv);
    }
    if (!spec_ok && !owned(live, in) && !json_object_get(ann, CDK_KUBECTL_LAST_APPLIED) &&
        !json_object_get(ann, CDK_ISTIO_ORIGINAL)) {
        const json_t *ls = json_object_get(live, "spec");
        char *orig = json_is_object(ls) ? json_dumps(ls, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_object_set_new(ann, CDK_ISTIO_ORIGINAL, json_string(orig ? orig : "{}"));
        free(orig);
    }
    bool md_ok = kj_equal(json_object_size(labels) ? labels : NULL,
                          json_object_size(live_labels) ? live_labels : NULL) &&
                 kj_equal(json_object_size(ann) ? ann : NULL,
                          json_object_size(live_ann) ? live_ann : NULL);
    if (spec_ok && md_ok) {
        json_decref(labels);
        json_decref(ann);
        return NULL;
    }
    json_t *out = json_deep_copy(live);
    if (!spec_ok)
        json_object_set_new(out, "spec", json_deep_copy(json_object_get(desired, "spec")));
    json_t *md = kj_obj(out, "metadata");
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else {
        json_object_del(md, "labels");
        json_decref(labels);
    }
    json_object_set_new(md, "annotations", ann);
    return out;
}

/* ---- weights ------------------------------------------------------------------------ */

static void read_dest(const json_t *d, const char *pname, const char *cname, int *primary,
                      int *canary)
{
    const char *h = kj_str(d, "destination.host") ?: "";
    int w = (int)kj_int(d, "weight", 0);
    if (!strcmp(h, pname))
        *primary = w;
    else if (!strcmp(h, cname))
        *canary = w;
}

static bool routes_to(const json_t *route, const char *host)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(route, "route"), i, d)
        if (!strcmp(kj_str(d, "destination.host") ?: "", host))
            return true;
    return false;
}

bool cdk_istio_get_weights(const json_t *vs, const char *svc, bool tcp, bool session_affinity,
                           int *primary, int *canary, bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    const json_t *routes = kj_at(vs, tcp ? "spec.tcp" : "spec.http");
    const json_t *found = NULL;
    size_t i, j;
    json_t *r, *d;
    /* the last route sending traffic to the canary, as Flagger picks it */
    json_array_foreach(routes, i, r)
        if (routes_to(r, cname))
            found = r;
    json_array_foreach(json_object_get(found, "route"), j, d)
        read_dest(d, pname, cname, primary, canary);
    if (!tcp && found && kj_str(found, "mirror.host") && *kj_str(found, "mirror.host"))
        *mirrored = true;
    if (!tcp && session_affinity)   /* the route that sets the cookies does the weighting */
        json_array_foreach(routes, i, r)
            json_array_foreach(json_object_get(r, "route"), j, d)
                if (json_is_object(json_object_get(d, "headers")))
                    read_dest(d, pname, cname, primary, canary);
    if (*primary == 0 && *canary == 0) {
        cd_errfmt(err, "VirtualService %s.%s does not contain routes for %s and %s", svc,
                  kj_str(vs, "metadata.namespace") ?: "default", pname, cname);
        return false;
    }
    return true;
}

bool cdk_istio_original_spec(const json_t *vs, json_t **out, cd_err *err)
{
    *out = NULL;
    const char *keys[2] = {CDK_KUBECTL_LAST_APPLIED, CDK_ISTIO_ORIGINAL};
    for (int k = 0; k < 2; k++) {
        const char *text = cd_kobj_annotation(vs, keys[k]);
        if (!text)
            continue;
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        json_t *spec = k == 0 ? json_object_get(j, "spec") : j;
        if (!json_is_object(spec)) {
            cd_errfmt(err, "VirtualService %s.%s failed to unmarshal annotation %s",
                      kj_str(vs, "metadata.name") ?: "", kj_str(vs, "metadata.namespace") ?: "",
                      keys[k]);
            json_decref(j);
            return false;
        }
        *out = json_incref(spec);
        json_decref(j);
        return true;
    }
    return true;
}
