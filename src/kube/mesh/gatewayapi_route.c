/* gatewayapi_route.c - the Gateway API HTTPRoute of a canary as pure
 * functions (reference §7.4, Flagger's GatewayAPIRouter): the spec for a
 * routing state (weights, B/G mirroring, session-affinity cookie rules,
 * A/B header rules) and the object around it. How a live route is read
 * and brought in line is gatewayapi_live.c. The HTTPRoute CRD of the
 * standard channel is the contract: every route built here validates
 * against it, CEL rules included (tests/unit/test_kube_gatewayapi.c,
 * tests/integration/test_kube_gatewayapi_*.py). Must not do I/O; the only
 * impure call is the cookie's random letters, which callers may replace. */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "util/duration.h"
#include "util/errfmt.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SET_COOKIE "Set-Cookie"
#define COOKIE "Cookie"
#define REGEX "RegularExpression"

/* ---- small helpers ----------------------------------------------------------- */

static bool has(const char *s) { return s && *s; }

static void set_nonempty(json_t *o, const char *key, json_t *v)
{
    if (v && ((json_is_array(v) && json_array_size(v) == 0) ||
              (json_is_object(v) && json_object_size(v) == 0))) {
        json_decref(v);
        return;
    }
    if (v)
        json_object_set_new(o, key, v);
}

static void names(const cd_canary_spec *spec, char primary[300], char canary[300])
{
    const char *svc = cd_canary_service_name(spec);
    snprintf(primary, 300, "%s-primary", svc);
    snprintf(canary, 300, "%s-canary", svc);
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

/* ---- durations --------------------------------------------------------------- */

/* ^([0-9]{1,5}(h|m|s|ms)){1,4}$ */
static bool is_gateway_duration(const char *s)
{
    int parts = 0;
    while (*s) {
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
        if (digits < 1 || digits > 5)
            return false;
        if (s[0] == 'm' && s[1] == 's')
            s += 2;
        else if (*s == 'h' || *s == 'm' || *s == 's')
            s++;
        else
            return false;
        if (++parts > 4)
            return false;
    }
    return parts > 0;
}

bool cdk_gateway_duration(const char *s, char *out, size_t outlen, int64_t *ms_out)
{
    int64_t ms;
    if (!s || !cd_duration_parse_ms(s, &ms) || ms < 0)
        return false;
    int64_t h = ms / 3600000, m = ms / 60000 % 60, sec = ms / 1000 % 60, rest = ms % 1000;
    if (h > 99999)
        return false;
    if (ms_out)
        *ms_out = ms;
    if (is_gateway_duration(s)) {
        snprintf(out, outlen, "%s", s);
        return true;
    }
    size_t off = 0;
    out[0] = '\0';
    if (h)
        off += (size_t)snprintf(out + off, outlen - off, "%lldh", (long long)h);
    if (m && off < outlen)
        off += (size_t)snprintf(out + off, outlen - off, "%lldm", (long long)m);
    if (sec && off < outlen)
        off += (size_t)snprintf(out + off, outlen - off, "%llds", (long long)sec);
    if (rest && off < outlen)
        off += (size_t)snprintf(out + off, outlen - off, "%lldms", (long long)rest);
    if (!off)
        snprintf(out, outlen, "0s");
    return true;
}

/* {request, backendRequest} of service.timeout / backendTimeout, NULL when
 * neither is set; false with err when one is no duration or the backend
 * timeout is longer than the request timeout (the CRD's CEL rule). */
static bool timeouts(const cd_service *s, json_t **out, cd_err *err)
{
    *out = NULL;
    char req[64] = "", back[64] = "";
    int64_t req_ms = 0, back_ms = 0;
    if (has(s->timeout) && !cdk_gateway_duration(s->timeout, req, sizeof req, &req_ms)) {
        cd_errfmt(err, "service.timeout \"%s\" is not a duration Gateway API accepts", s->timeout);
        return false;
    }
    if (has(s->backend_timeout) &&
        !cdk_gateway_duration(s->backend_timeout, back, sizeof back, &back_ms)) {
        cd_errfmt(err, "service.backendTimeout \"%s\" is not a duration Gateway API accepts",
                  s->backend_timeout);
        return false;
    }
    if (req[0] && back[0] && req_ms != 0 && back_ms > req_ms) {
        cd_errfmt(err, "service.backendTimeout %s cannot be longer than service.timeout %s",
                  s->backend_timeout, s->timeout);
        return false;
    }
    if (!req[0] && !back[0])
        return true;
    json_t *t = json_object();
    if (req[0])
        json_object_set_new(t, "request", json_string(req));
    if (back[0])
        json_object_set_new(t, "backendRequest", json_string(back));
    *out = t;
    return true;
}

/* ---- matches ------------------------------------------------------------------- */

static json_t *default_path(void)
{
    return json_pack("{s:s, s:s}", "type", "PathPrefix", "value", "/");
}

/* headers or queryParams: exact and regex only. */
static bool named_matches(const cd_named_matches *hs, const char *what, json_t **out, cd_err *err)
{
    *out = NULL;
    if (!hs->n)
        return true;
    json_t *a = json_array();
    for (size_t i = 0; i < hs->n; i++) {
        const cd_string_match *m = &hs->items[i].match;
        const char *type, *value;
        if (has(m->exact)) {
            type = "Exact";
            value = m->exact;
        } else if (has(m->regex)) {
            type = REGEX;
            value = m->regex;
        } else {
            cd_errfmt(err, "Gateway API doesn't support the specified %s matching selector for "
                           "\"%s\" (only exact and regex)",
                      what, hs->items[i].name ? hs->items[i].name : "");
            json_decref(a);
            return false;
        }
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", hs->items[i].name ?: "",
                                           "type", type, "value", value));
    }
    *out = a;
    return true;
}

/* One HTTPMatchRequest as an HTTPRouteMatch; *out NULL when it maps to
 * nothing (Flagger drops such matches). */
static bool route_match(const cd_http_match *m, json_t **out, cd_err *err)
{
    *out = NULL;
    json_t *o = json_object();
    const cd_string_match *u = &m->uri;
    if (cd_string_match_set(u)) {
        const char *type = has(u->regex) ? REGEX : has(u->exact) ? "Exact" : has(u->prefix) ? "PathPrefix" : NULL;
        const char *value = has(u->regex) ? u->regex : has(u->exact) ? u->exact : u->prefix;
        if (!type) {
            cd_errfmt(err, "Gateway API doesn't support the specified path matching selector "
                           "(uri: only exact, prefix and regex)");
            json_decref(o);
            return false;
        }
        json_object_set_new(o, "path", json_pack("{s:s, s:s}", "type", type, "value", value));
    }
    if (cd_string_match_set(&m->method)) {
        if (!has(m->method.exact)) {
            cd_errfmt(err, "Gateway API doesn't support the specified method matching selector "
                           "(only exact)");
            json_decref(o);
            return false;
        }
        json_object_set_new(o, "method", json_string(m->method.exact));
    }
    json_t *h, *q;
    if (!named_matches(&m->headers, "header", &h, err) ||
        !named_matches(&m->query_params, "query", &q, err)) {
        json_decref(o);
        return false;
    }
    set_nonempty(o, "headers", h);
    set_nonempty(o, "queryParams", q);
    if (!json_object_size(o)) {
        json_decref(o);
        return true;
    }
    if (!json_object_get(o, "path"))
        json_object_set_new(o, "path", default_path());
    *out = o;
    return true;
}

/* The matches of service.match or analysis.match; with_default: the
 * Gateway API default (path prefix "/") when none maps to anything. */
static bool route_matches(const cd_http_match *ms, size_t n, bool with_default, json_t **out,
                          cd_err *err)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *m;
        if (!route_match(&ms[i], &m, err)) {
            json_decref(a);
            return false;
        }
        if (m)
            json_array_append_new(a, m);
    }
    if (with_default && !json_array_size(a))
        json_array_append_new(a, json_pack("{s:o}", "path", default_path()));
    *out = a;
    return true;
}

/* A/B: every analysis match times every service match, the analysis
 * headers and query parameters replacing the service match's. */
static json_t *merge_ab(const json_t *analysis, const json_t *service)
{
    if (!json_array_size(analysis))
        return json_deep_copy(service);
    json_t *out = json_array();
    size_t i, j;
    json_t *a, *s;
    json_array_foreach(analysis, i, a) {
        json_array_foreach(service, j, s) {
            json_t *m = json_deep_copy(s);
            json_t *h = json_object_get(a, "headers"), *q = json_object_get(a, "queryParams");
            if (json_array_size(h))
                json_object_set_new(m, "headers", json_deep_copy(h));
            if (json_array_size(q))
                json_object_set_new(m, "queryParams", json_deep_copy(q));
            json_array_append_new(out, m);
        }
    }
    return out;
}

/* Every service match with one more header: Cookie matching regex. */
static json_t *with_cookie(const json_t *service, const char *regex)
{
    json_t *out = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(service, i, s) {
        json_t *m = json_deep_copy(s);
        json_t *old = json_object_get(m, "headers");
        json_t *hs = json_array();
        size_t j;
        json_t *h;
        json_array_foreach(old, j, h) {
            const char *n = kj_str(h, "name");
            if (!n || strcasecmp(n, COOKIE))
                json_array_append(hs, h);
        }
        json_array_append_new(hs, json_pack("{s:s, s:s, s:s}", "name", COOKIE, "type", REGEX,
                                            "value", regex));
        json_object_set_new(m, "headers", hs);
        json_array_append_new(out, m);
    }
    return out;
}

/* ---- filters ------------------------------------------------------------------- */

static int cmp_kv(const void *a, const void *b)
{
    const cd_kv *x = a, *y = b;
    int c = strcmp(x->key ?: "", y->key ?: "");
    return c ? c : strcmp(x->value ?: "", y->value ?: "");
}

/* [{name, value}] sorted by name then value, as Flagger writes them. */
static json_t *header_pairs(const cd_strmap *m)
{
    json_t *a = json_array();
    if (!m->n)
        return a;
    cd_kv *kv = malloc(m->n * sizeof *kv);
    if (!kv)
        abort();   /* as everywhere else: never a route without its headers */
    memcpy(kv, m->items, m->n * sizeof *kv);
    qsort(kv, m->n, sizeof *kv, cmp_kv);
    for (size_t i = 0; i < m->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", kv[i].key ?: "", "value",
                                           kv[i].value ?: ""));
    free(kv);
    return a;
}

static json_t *header_modifier(const cd_header_ops *ops)
{
    json_t *f = json_object();
    set_nonempty(f, "set", header_pairs(&ops->set));
    set_nonempty(f, "add", header_pairs(&ops->add));
    json_t *rm = json_array();
    for (size_t i = 0; i < ops->remove.n; i++)
        json_array_append_new(rm, json_string(ops->remove.items[i]));
    set_nonempty(f, "remove", rm);
    if (!json_object_size(f)) {
        json_decref(f);
        return NULL;
    }
    return f;
}

static json_t *filter(const char *type, const char *key, json_t *body)
{
    return json_pack("{s:s, s:o}", "type", type, key, body);
}

static json_t *url_rewrite(const cd_rewrite *r)
{
    json_t *u = json_object();
    if (has(r->authority))
        json_object_set_new(u, "hostname", json_string(r->authority));
    if (has(r->uri)) {
        bool prefix = r->type && !strcmp(r->type, "ReplacePrefixMatch");
        json_object_set_new(u, "path",
                            json_pack("{s:s, s:s}", "type",
                                      prefix ? "ReplacePrefixMatch" : "ReplaceFullPath",
                                      prefix ? "replacePrefixMatch" : "replaceFullPath", r->uri));
    }
    return u;
}

static json_t *backend_object_ref(const cd_backend_ref *b)
{
    json_t *r = json_object();
    json_object_set_new(r, "group", json_string(b->group ? b->group : ""));
    json_object_set_new(r, "kind", json_string(b->kind ? b->kind : "Service"));
    json_object_set_new(r, "name", json_string(b->name ? b->name : ""));
    kj_set_str(r, "namespace", b->namespace_);
    if (b->has_port)
        json_object_set_new(r, "port", json_integer(b->port));
    return r;
}

static void append_strings(json_t *a, const cd_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
}

/* Istio's corsPolicy as Gateway API's CORS filter: allowOrigin and the
 * exact allowOrigins become allowOrigins, maxAge (a Go duration) seconds. */
static json_t *cors_filter(const cd_cors *c)
{
    json_t *f = json_object();
    json_t *origins = json_array();
    append_strings(origins, &c->allow_origin);
    for (size_t i = 0; i < c->n_allow_origins; i++)
        if (has(c->allow_origins[i].exact))
            json_array_append_new(origins, json_string(c->allow_origins[i].exact));
    set_nonempty(f, "allowOrigins", origins);
    json_t *methods = json_array(), *hdrs = json_array(), *expose = json_array();
    append_strings(methods, &c->allow_methods);
    append_strings(hdrs, &c->allow_headers);
    append_strings(expose, &c->expose_headers);
    set_nonempty(f, "allowMethods", methods);
    set_nonempty(f, "allowHeaders", hdrs);
    set_nonempty(f, "exposeHeaders", expose);
    int64_t ms;
    if (has(c->max_age) && cd_duration_parse_ms(c->max_age, &ms) && ms >= 1000 &&
        ms / 1000 <= 2147483647)
        json_object_set_new(f, "maxAge", json_integer(ms / 1000));
    if (c->has_allow_credentials)
        json_object_set_new(f, "allowCredentials", json_boolean(c->allow_credentials));
    return f;
}

/* Flagger's makeFilters: request and response header modifiers, URL
 * rewrite, one RequestMirror per service.mirror, CORS (v1 only). */
static json_t *rule_filters(const cdk_route_in *in)
{
    const cd_service *s = &in->spec->service;
    json_t *a = json_array();
    json_t *m;
    if (s->headers.has_request && (m = header_modifier(&s->headers.request)))
        json_array_append_new(a, filter("RequestHeaderModifier", "requestHeaderModifier", m));
    if (s->headers.has_response && (m = header_modifier(&s->headers.response)))
        json_array_append_new(a, filter("ResponseHeaderModifier", "responseHeaderModifier", m));
    if (s->has_rewrite)
        json_array_append_new(a, filter("URLRewrite", "urlRewrite", url_rewrite(&s->rewrite)));
    for (size_t i = 0; i < s->n_mirror; i++)
        json_array_append_new(a, filter("RequestMirror", "requestMirror",
                                        json_pack("{s:o}", "backendRef",
                                                  backend_object_ref(&s->mirror[i]))));
    if (!in->v1beta1 && s->cors.set)
        json_array_append_new(a, filter("CORS", "cors", cors_filter(&s->cors)));
    return a;
}

/* Adds header {name: value} to the `add` list of the rule's (or backend's)
 * filter of type `type`, creating the filter when missing. False when the
 * list has that header already (the CRD keys `add` by name). */
static bool add_response_header(json_t *filters, const char *name, const char *value)
{
    size_t i;
    json_t *f, *mod = NULL;
    json_array_foreach(filters, i, f) {
        const char *t = kj_str(f, "type");
        if (t && !strcmp(t, "ResponseHeaderModifier"))
            mod = kj_obj(f, "responseHeaderModifier");
    }
    if (!mod) {
        mod = json_object();
        json_array_append_new(filters, filter("ResponseHeaderModifier", "responseHeaderModifier", mod));
    }
    json_t *add = kj_arr(mod, "add");
    json_t *h;
    json_array_foreach(add, i, h) {
        const char *n = kj_str(h, "name");
        if (n && !strcasecmp(n, name))
            return false;
    }
    json_array_append_new(add, json_pack("{s:s, s:s}", "name", name, "value", value));
    return true;
}

/* ---- rules ----------------------------------------------------------------------- */

static json_t *backend(const char *name, int port, int weight)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i}", "group", "", "kind", "Service", "name", name,
                     "port", port, "weight", weight);
}

typedef struct parts {
    json_t *matches;    /* service matches (with the default) */
    json_t *filters;    /* rule filters */
    json_t *timeouts;   /* NULL when none */
} parts;

static void parts_free(parts *p)
{
    json_decref(p->matches);
    json_decref(p->filters);
    json_decref(p->timeouts);
}

static json_t *rule(const parts *p, const json_t *matches, json_t *backends)
{
    json_t *r = json_object();
    json_object_set_new(r, "matches", json_deep_copy(matches));
    if (json_array_size(p->filters))
        json_object_set_new(r, "filters", json_deep_copy(p->filters));
    json_object_set_new(r, "backendRefs", backends);
    if (p->timeouts)
        json_object_set_new(r, "timeouts", json_deep_copy(p->timeouts));
    return r;
}

/* ---- session affinity ------------------------------------------------------------ */

void cdk_cookie_regex(const char *cookie, char *out, size_t outlen)
{
    size_t o = 0;
    bool value = false;
    o += (size_t)snprintf(out, outlen, ".*");
    for (const char *p = cookie; *p && o + 4 < outlen; p++) {
        if (*p == '=' && !value) {
            value = true;
            o += (size_t)snprintf(out + o, outlen - o, ".*");
            continue;
        }
        if (strchr("\\.^$|?*+()[]{}", *p))
            out[o++] = '\\';
        out[o++] = *p;
    }
    snprintf(out + o, outlen - o, ".*");
}

/* "<cookie>; Max-Age=<age>[; Domain=d][; HttpOnly][; Partitioned][; Path=p]
 * [; SameSite=s][; Secure]" */
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

static bool ensure_cookie(const cdk_route_in *in, char *slot, const char *name, cd_err *err)
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

static json_t *sticky_rule(const parts *p, const json_t *weighted, const char *cookie,
                           json_t *backends)
{
    char re[2 * CD_COOKIE_MAX + 16];
    cdk_cookie_regex(cookie, re, sizeof re);
    json_t *matches = with_cookie(p->matches, re);
    json_t *r = json_deep_copy(weighted);
    json_object_set_new(r, "matches", matches);
    if (backends)
        json_object_set_new(r, "backendRefs", backends);
    return r;
}

/* Set-Cookie on the responses of backend `name` of the weighted rule
 * (backend filters start empty: nothing to collide with). */
static void backend_cookie(json_t *weighted, const char *name, const cd_session_affinity *sa,
                           const char *cookie, int64_t max_age)
{
    char v[1024];
    set_cookie_value(sa, cookie, max_age, v, sizeof v);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(weighted, "backendRefs"), i, b) {
        const char *n = kj_str(b, "name");
        if (n && !strcmp(n, name))
            add_response_header(kj_arr(b, "filters"), SET_COOKIE, v);
    }
}

/* Flagger's getSessionAffinityRouteRules, on a copy of the status so that
 * a failure leaves *st as it was. */
static json_t *affinity_rules(const cdk_route_in *in, const parts *p, json_t *weighted, int canary,
                              cd_canary_status *st, cd_err *err)
{
    const cd_session_affinity *sa = &in->spec->analysis.session_affinity;
    char pname[300], cname[300];
    names(in->spec, pname, cname);
    int port = in->spec->service.port;
    json_t *rules = json_array();
    if (canary != 0) {
        if (!ensure_cookie(in, st->session_affinity_cookie, sa->cookie_name ?: "", err) ||
            (has(sa->primary_cookie_name) &&
             !ensure_cookie(in, st->primary_session_affinity_cookie, sa->primary_cookie_name, err))) {
            json_decref(rules);
            return NULL;
        }
        backend_cookie(weighted, cname, sa, st->session_affinity_cookie, sa->max_age);
        json_array_append_new(rules, sticky_rule(p, weighted, st->session_affinity_cookie,
                                                 json_pack("[o,o]", backend(pname, port, 0),
                                                           backend(cname, port, 100))));
        if (has(sa->primary_cookie_name)) {
            int64_t interval_s = in->spec->analysis.interval_ms / 1000;
            backend_cookie(weighted, pname, sa, st->primary_session_affinity_cookie,
                           interval_s > 0 ? interval_s : 60);
            json_array_append_new(rules,
                                  sticky_rule(p, weighted, st->primary_session_affinity_cookie,
                                              json_pack("[o,o]", backend(pname, port, 100),
                                                        backend(cname, port, 0))));
        }
        json_array_append(rules, weighted);
        return rules;
    }
    if (st->session_affinity_cookie[0])
        snprintf(st->previous_session_affinity_cookie, CD_COOKIE_MAX, "%s",
                 st->session_affinity_cookie);
    st->session_affinity_cookie[0] = '\0';
    st->primary_session_affinity_cookie[0] = '\0';
    if (st->previous_session_affinity_cookie[0]) {
        json_t *r = sticky_rule(p, weighted, st->previous_session_affinity_cookie, NULL);
        char v[1024];
        set_cookie_value(sa, st->previous_session_affinity_cookie, -1, v, sizeof v);
        if (!add_response_header(kj_arr(r, "filters"), SET_COOKIE, v)) {
            cd_errfmt(err, "service.headers.response already adds a Set-Cookie header: session "
                           "affinity cannot expire the previous cookie");
            json_decref(r);
            json_decref(rules);
            return NULL;
        }
        json_array_append_new(rules, r);
    }
    json_array_append(rules, weighted);
    return rules;
}

/* ---- the spec ---------------------------------------------------------------------- */

static json_t *parent_refs(const cd_service *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_gateway_refs; i++) {
        const cd_parent_ref *g = &s->gateway_refs[i];
        json_t *r = json_object();
        json_object_set_new(r, "group", json_string(g->group ? g->group : CDK_GATEWAY_GROUP));
        json_object_set_new(r, "kind", json_string(g->kind ? g->kind : "Gateway"));
        json_object_set_new(r, "name", json_string(g->name ? g->name : ""));
        kj_set_str(r, "namespace", g->namespace_);
        kj_set_str(r, "sectionName", g->section_name);
        if (g->has_port)
            json_object_set_new(r, "port", json_integer(g->port));
        json_array_append_new(a, r);
    }
    return a;
}

/* The CRD's CEL rule: a URLRewrite with ReplacePrefixMatch needs exactly
 * one match, a path prefix, in its rule. */
static bool rewrite_fits(const cdk_route_in *in, const json_t *rules, cd_err *err)
{
    const cd_rewrite *rw = &in->spec->service.rewrite;
    if (!in->spec->service.has_rewrite || !has(rw->uri) || !rw->type ||
        strcmp(rw->type, "ReplacePrefixMatch"))
        return true;
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        json_t *m = json_object_get(r, "matches");
        const char *t = kj_str(json_array_get(m, 0), "path.type");
        if (json_array_size(m) != 1 || !t || strcmp(t, "PathPrefix")) {
            cd_errfmt(err, "service.rewrite of type ReplacePrefixMatch needs exactly one "
                           "service.match with a uri prefix%s (Gateway API)",
                      in->spec->analysis.n_match > 1 ? " and one analysis.match" : "");
            return false;
        }
    }
    return true;
}

json_t *cdk_httproute_spec(const cdk_route_in *in, int primary, int canary, bool mirrored,
                           cd_canary_status *st, cd_err *err)
{
    const cd_canary_spec *spec = in->spec;
    const cd_service *s = &spec->service;
    const cd_analysis *an = &spec->analysis;
    if (!s->n_gateway_refs) {
        cd_errfmt(err, "GatewayRefs must be specified when using Gateway API as a provider.");
        return NULL;
    }
    bool affinity = an->session_affinity.set;
    if (affinity && an->n_match) {
        cd_errfmt(err, "analysis.sessionAffinity cannot be combined with analysis.match (A/B "
                       "testing) on Gateway API");
        return NULL;
    }
    if (affinity && !has(an->session_affinity.cookie_name)) {
        cd_errfmt(err, "analysis.sessionAffinity.cookieName is required");
        return NULL;
    }
    parts p = {0};
    json_t *ab = NULL;
    if (!route_matches(s->match, s->n_match, true, &p.matches, err) ||
        (an->n_match && !route_matches(an->match, an->n_match, false, &ab, err)) ||
        (!in->v1beta1 && !timeouts(s, &p.timeouts, err))) {
        parts_free(&p);
        json_decref(ab);
        return NULL;
    }
    p.filters = rule_filters(in);
    char pname[300], cname[300];
    names(spec, pname, cname);
    int port = s->port;

    json_t *weighted = rule(&p, p.matches, json_pack("[o,o]", backend(pname, port, primary),
                                                      backend(cname, port, canary)));
    /* Flagger mirrors only for blue/green (iterations > 0): the canary
     * strategy's mirror step then never sees a mirrored route and never
     * ends. canaryd mirrors whenever the engine asks. */
    if (mirrored) {
        cd_backend_ref m = {"", "Service", cname, NULL, true, port};
        json_array_append_new(kj_arr(weighted, "filters"),
                              filter("RequestMirror", "requestMirror",
                                     json_pack("{s:o}", "backendRef", backend_object_ref(&m))));
    }
    json_t *rules;
    cd_canary_status work;
    cd_status_init(&work);
    cd_status_copy(&work, st);
    if (affinity) {
        rules = affinity_rules(in, &p, weighted, canary, &work, err);
        json_decref(weighted);
    } else {
        rules = json_pack("[o]", weighted);
    }
    if (rules && ab) {
        json_t *first = json_array_get(rules, 0);
        json_object_set_new(first, "matches", merge_ab(ab, p.matches));
        json_array_append_new(rules, rule(&p, p.matches, json_pack("[o]", backend(pname, port, 100))));
    }
    if (rules && !rewrite_fits(in, rules, err)) {
        json_decref(rules);
        rules = NULL;
    }
    json_t *out = NULL;
    if (rules) {
        out = json_object();
        json_object_set_new(out, "parentRefs", parent_refs(s));
        json_t *hosts = json_array();
        append_strings(hosts, &s->hosts);
        set_nonempty(out, "hostnames", hosts);
        json_object_set_new(out, "rules", rules);
        snprintf(st->session_affinity_cookie, CD_COOKIE_MAX, "%s", work.session_affinity_cookie);
        snprintf(st->primary_session_affinity_cookie, CD_COOKIE_MAX, "%s",
                 work.primary_session_affinity_cookie);
        snprintf(st->previous_session_affinity_cookie, CD_COOKIE_MAX, "%s",
                 work.previous_session_affinity_cookie);
    }
    cd_status_free(&work);
    parts_free(&p);
    json_decref(ab);
    return out;
}

/* ---- the object ---------------------------------------------------------------------- */

json_t *cdk_httproute_object(const cdk_route_in *in, json_t *spec)
{
    const cd_service *s = &in->spec->service;
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion",
                        json_string(in->v1beta1 ? CDK_GATEWAY_GROUP "/v1beta1" : CDK_GATEWAY_GROUP "/v1"));
    json_object_set_new(o, "kind", json_string("HTTPRoute"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(cd_canary_service_name(in->spec)));
    json_object_set_new(md, "namespace",
                        json_string(in->meta && in->meta->namespace_ ? in->meta->namespace_ : "default"));
    set_nonempty(md, "labels", s->has_apex ? kj_strmap(&s->apex.labels) : json_object());
    json_object_set_new(md, "annotations", cdk_router_annotations(s->has_apex ? &s->apex : NULL));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    json_object_set_new(o, "spec", spec ? spec : json_object());
    return o;
}
