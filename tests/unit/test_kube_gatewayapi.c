/* test_kube_gatewayapi.c - the Gateway API HTTPRoute as pure functions
 * (src/kube/mesh/builders.h) against Flagger's behaviours (reference
 * §8.2 item 25, §7.4): initial weights 100/0 with timeouts, foreign
 * annotations preserved, session-affinity rules and cookie attributes,
 * weights 90/10 then 50/50, the cookie moved to previous on promotion with
 * Max-Age=-1, the B/G mirror filter present and ignored while Progressing,
 * CORS (maxAge 24h -> 86400), weights refused while a parent has not
 * accepted the route or saw an older generation; plus matches, filters, A/B
 * rules, v1beta1 and the errors. Every route built is validated against the
 * real HTTPRoute CRD (shared/conformance/crds/gateway-api, standard
 * channel) with canaryd's structural-schema validator, unknown fields
 * counting as errors, and against the CRD's CEL rules, re-stated here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "model/object.h"
#include "model/schema.h"
#include "util/fsutil.h"
#include "kubefix.h"

/* ---- the CRD: structure and CEL rules -------------------------------------------- */

static void load_crd(void)
{
    static bool done;
    if (done)
        return;
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    snprintf(path, sizeof path,
             "%s/conformance/crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml",
             shared ? shared : "../shared");
    size_t len;
    char *text = cd_read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s (CANARYD_SHARED)", path);
    cd_diags d;
    cd_diags_init(&d);
    assert_int_equal(cd_schema_load_text(path, text, len, &d), 2);   /* v1 and v1beta1 */
    cd_diags_free(&d);
    free(text);
    done = true;
}

static size_t count_type(const json_t *filters, const char *type)
{
    size_t n = 0, i;
    json_t *f;
    json_array_foreach(filters, i, f)
        if (!strcmp(S(f, "type") ?: "", type))
            n++;
    return n;
}

static const char *const filter_fields[][2] = {
    {"RequestHeaderModifier", "requestHeaderModifier"}, {"ResponseHeaderModifier", "responseHeaderModifier"},
    {"RequestMirror", "requestMirror"}, {"RequestRedirect", "requestRedirect"},
    {"URLRewrite", "urlRewrite"}, {"ExtensionRef", "extensionRef"}, {"CORS", "cors"},
};

static bool unique_names(const json_t *list)
{
    size_t i, j;
    json_t *a, *b;
    json_array_foreach(list, i, a) {
        json_array_foreach(list, j, b)
            if (j > i && !strcmp(S(a, "name") ?: "", S(b, "name") ?: ""))
                return false;
    }
    return true;
}

static void cel_backend_ref(const json_t *b, const char *where)
{
    const char *g = S(b, "group"), *k = S(b, "kind");
    if ((!g || !*g) && (!k || !strcmp(k, "Service")) && !json_object_get(b, "port"))
        fail_msg("%s: Must have port for Service reference", where);
}

/* The CEL rules (x-kubernetes-validations) of the filters of a rule or a
 * backendRef. */
static void cel_filters(const json_t *filters, const json_t *rule_matches)
{
    static const char *const unique[] = {"CORS", "RequestHeaderModifier", "ResponseHeaderModifier",
                                         "RequestRedirect", "URLRewrite"};
    for (size_t u = 0; u < 5; u++)
        if (count_type(filters, unique[u]) > 1)
            fail_msg("%s filter cannot be repeated", unique[u]);
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f) {
        for (size_t k = 0; k < sizeof filter_fields / sizeof filter_fields[0]; k++) {
            bool is = !strcmp(S(f, "type"), filter_fields[k][0]);
            bool set = json_object_get(f, filter_fields[k][1]) != NULL;
            if (is != set)
                fail_msg("filter.%s must be %s for type %s", filter_fields[k][1],
                         is ? "specified" : "nil", S(f, "type"));
        }
        for (int m = 0; m < 2; m++) {
            json_t *mod = json_object_get(f, m ? "responseHeaderModifier" : "requestHeaderModifier");
            if (!unique_names(json_object_get(mod, "add")) || !unique_names(json_object_get(mod, "set")))
                fail_msg("header modifier names must be unique (list-type map)");
        }
        json_t *mirror = json_object_get(f, "requestMirror");
        if (mirror)
            cel_backend_ref(json_object_get(mirror, "backendRef"), "requestMirror");
        const char *pt = S(f, "urlRewrite.path.type");
        if (pt && !strcmp(pt, "ReplacePrefixMatch")) {
            const char *mt = S(json_array_get(rule_matches, 0), "path.type");
            if (json_array_size(rule_matches) != 1 || !mt || strcmp(mt, "PathPrefix"))
                fail_msg("When using URLRewrite filter with path.replacePrefixMatch, exactly one "
                         "PathPrefix match must be specified");
        }
        json_t *cors = json_object_get(f, "cors");
        static const char *const star_lists[] = {"allowOrigins", "allowMethods", "allowHeaders"};
        for (size_t s = 0; s < 3; s++) {
            json_t *l = json_object_get(cors, star_lists[s]);
            size_t j;
            json_t *v;
            json_array_foreach(l, j, v)
                if (!strcmp(json_string_value(v), "*") && json_array_size(l) > 1)
                    fail_msg("%s cannot contain '*' alongside others", star_lists[s]);
        }
    }
}

static int64_t gw_ms(const char *s)
{
    int64_t total = 0;
    while (*s) {
        int64_t n = 0;
        while (*s >= '0' && *s <= '9')
            n = n * 10 + (*s++ - '0');
        if (s[0] == 'm' && s[1] == 's') {
            total += n;
            s += 2;
        } else {
            total += n * (*s == 'h' ? 3600000 : *s == 'm' ? 60000 : 1000);
            s++;
        }
    }
    return total;
}

static void cel_rules(const json_t *route)
{
    json_t *rules = kj_at(route, "spec.rules");
    size_t total = 0, i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        json_t *matches = json_object_get(r, "matches");
        total += json_array_size(matches);
        size_t j;
        json_t *m;
        json_array_foreach(matches, j, m) {
            const char *t = S(m, "path.type"), *v = S(m, "path.value");
            if (t && strcmp(t, "RegularExpression") && v &&
                (v[0] != '/' || strstr(v, "//") || strstr(v, "/./") || strstr(v, "/../") ||
                 strchr(v, '#')))
                fail_msg("path %s is not an absolute, clean path", v);
            if (!unique_names(json_object_get(m, "headers")) ||
                !unique_names(json_object_get(m, "queryParams")))
                fail_msg("header and query matches are list-type maps keyed by name");
        }
        cel_filters(json_object_get(r, "filters"), matches);
        json_t *b;
        json_array_foreach(json_object_get(r, "backendRefs"), j, b) {
            cel_backend_ref(b, "backendRef");
            cel_filters(json_object_get(b, "filters"), matches);
        }
        const char *req = S(r, "timeouts.request"), *back = S(r, "timeouts.backendRequest");
        if (req && back && gw_ms(req) != 0 && gw_ms(back) > gw_ms(req))
            fail_msg("backendRequest timeout cannot be longer than request timeout");
    }
    if (total > 128)
        fail_msg("more than 128 matches");
}

/* Valid against its CRD version (structure and CEL), nothing pruned. */
static void assert_valid(const json_t *route)
{
    load_crd();
    const char *av = S(route, "apiVersion");
    assert_non_null(av);
    assert_schema_valid(cd_schema_find(CDK_GATEWAY_GROUP, strchr(av, '/') + 1, "HTTPRoute"), route);
    cel_rules(route);
}

/* The validator is not vacuous: a bad enum, an unknown field and a bad
 * duration fail. */
static void test_validator_rejects(void **state)
{
    load_crd();
    const cd_crd_version *crd = cd_schema_find(CDK_GATEWAY_GROUP, "v1", "HTTPRoute");
    assert_non_null(crd);
    json_t *bad = obj("{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\","
                      "\"metadata\":{\"name\":\"x\"},\"spec\":{\"rules\":[{\"matches\":[{\"path\":"
                      "{\"type\":\"Glob\",\"value\":\"/\"}}],\"timeouts\":{\"request\":\"1.5s\"}}],"
                      "\"nope\":1}}");
    cd_stream *s = cd_stream_from_json("bad", bad);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd->schema, s->docs[0].root, NULL, "", &d);
    assert_true(d.errors >= 2);
    assert_true(d.warnings >= 1);
    cd_diags_free(&d);
    cd_stream_free(s);
    json_decref(bad);
}

/* ---- fixtures ------------------------------------------------------------------------- */

#define HEAD                                                                                       \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"   \
    "spec:\n  provider: gatewayapi:v1\n"                                                           \
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
#define SERVICE                                                                                    \
    "  service:\n    port: 9898\n    hosts: [app.example.com]\n"                                   \
    "    gatewayRefs: [{name: gateway, namespace: istio-ingress}]\n"
#define ANALYSIS "  analysis: {interval: 15s, threshold: 5, stepWeight: 10, maxWeight: 50}\n"

static int letters_calls;

/* "abcdefghij", then "klmnopqrst", ... */
static bool fixed_letters(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('a' + (letters_calls * 10 + (int)i) % 26);
    letters_calls++;
    return true;
}

static void route_in(cdk_route_in *in, const cd_object *c, bool v1beta1)
{
    memset(in, 0, sizeof *in);
    in->spec = &c->spec.canary;
    in->meta = &c->meta;
    in->v1beta1 = v1beta1;
    in->random_letters = fixed_letters;
}

/* The route for a routing state, validated. */
static json_t *route(const cdk_route_in *in, int primary, int canary, bool mirrored,
                     cd_canary_status *st)
{
    cd_err err = {{0}};
    json_t *spec = cdk_httproute_spec(in, primary, canary, mirrored, st, &err);
    if (!spec)
        fail_msg("no spec: %s", err.msg);
    json_t *r = cdk_httproute_object(in, spec);
    assert_valid(r);
    return r;
}

static json_t *rule_at(const json_t *r, size_t i) { return json_array_get(kj_at(r, "spec.rules"), i); }

static json_t *backend_at(const json_t *rule, size_t i)
{
    return json_array_get(json_object_get(rule, "backendRefs"), i);
}

static void assert_weights(const json_t *r, bool affinity, int primary, int canary, bool mirrored)
{
    int p = -1, c = -1;
    bool m = !mirrored;
    cd_err err = {{0}};
    if (!cdk_httproute_get_weights(r, "podinfo", affinity, &p, &c, &m, &err))
        fail_msg("get weights: %s", err.msg);
    assert_int_equal(p, primary);
    assert_int_equal(c, canary);
    assert_int_equal(m, mirrored);
}

/* ---- §8.2 25: initial weights with timeouts ------------------------------------------------ */

static void test_initial_route(void **state)
{
    cd_object *c = canary(HEAD SERVICE "    timeout: 30s\n    backendTimeout: 10s\n"
                                       "    apex:\n      labels: {team: web}\n"
                                       "      annotations: {note: apex, kustomize.toolkit.fluxcd.io/x: y}\n" ANALYSIS);
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true}");
    cdk_route_in in;
    route_in(&in, c, false);
    in.owner_ref = owner;
    cd_canary_status st;
    cd_status_init(&st);
    json_t *r = route(&in, 100, 0, false, &st);

    assert_string_equal(S(r, "apiVersion"), "gateway.networking.k8s.io/v1");
    assert_string_equal(S(r, "kind"), "HTTPRoute");
    assert_string_equal(S(r, "metadata.name"), "podinfo");
    assert_string_equal(S(r, "metadata.namespace"), "test");
    assert_string_equal(S(r, "metadata.labels.team"), "web");
    json_t *ann = kj_at(r, "metadata.annotations");
    assert_int_equal(json_object_size(ann), 3);   /* note + the two Flux opt-outs */
    assert_string_equal(S(ann, "note"), "apex");
    assert_string_equal(json_string_value(json_object_get(ann, "kustomize.toolkit.fluxcd.io/reconcile")),
                        "disabled");
    assert_string_equal(S(json_array_get(kj_at(r, "metadata.ownerReferences"), 0), "uid"), "u1");

    json_t *parent = json_array_get(kj_at(r, "spec.parentRefs"), 0);
    assert_string_equal(S(parent, "name"), "gateway");
    assert_string_equal(S(parent, "namespace"), "istio-ingress");
    assert_string_equal(S(parent, "group"), "gateway.networking.k8s.io");
    assert_string_equal(S(parent, "kind"), "Gateway");
    assert_string_equal(json_string_value(json_array_get(kj_at(r, "spec.hostnames"), 0)),
                        "app.example.com");

    assert_int_equal(json_array_size(kj_at(r, "spec.rules")), 1);
    json_t *rule = rule_at(r, 0);
    json_t *m = json_array_get(json_object_get(rule, "matches"), 0);
    assert_string_equal(S(m, "path.type"), "PathPrefix");
    assert_string_equal(S(m, "path.value"), "/");
    assert_null(json_object_get(rule, "filters"));
    assert_string_equal(S(rule, "timeouts.request"), "30s");
    assert_string_equal(S(rule, "timeouts.backendRequest"), "10s");
    json_t *b0 = backend_at(rule, 0), *b1 = backend_at(rule, 1);
    assert_string_equal(S(b0, "name"), "podinfo-primary");
    assert_int_equal(kj_int(b0, "weight", -1), 100);
    assert_int_equal(kj_int(b0, "port", 0), 9898);
    assert_string_equal(S(b0, "kind"), "Service");
    assert_string_equal(S(b0, "group"), "");
    assert_string_equal(S(b1, "name"), "podinfo-canary");
    assert_int_equal(kj_int(b1, "weight", -1), 0);
    assert_weights(r, false, 100, 0, false);

    /* a route as the API server stores it (defaults applied) needs no update */
    assert_null(cdk_httproute_update(r, r, &in, CD_PHASE_INITIALIZED));
    json_decref(r);
    json_decref(owner);
    cd_status_free(&st);
    cd_object_free(c);
}

static void test_durations(void **state)
{
    char out[64];
    int64_t ms = -1;
    static const char *const cases[][2] = {
        {"30s", "30s"}, {"90s", "90s"}, {"1h30m", "1h30m"}, {"100ms", "100ms"},
        {"1.5s", "1s500ms"}, {"2h45m10.5s", "2h45m10s500ms"}, {"0", "0s"}, {"0.5m", "30s"},
        {"99999h", "99999h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(cdk_gateway_duration(cases[i][0], out, sizeof out, &ms));
        assert_string_equal(out, cases[i][1]);
    }
    assert_true(cdk_gateway_duration("1.5s", out, sizeof out, &ms));
    assert_int_equal(ms, 1500);
    assert_false(cdk_gateway_duration("bogus", out, sizeof out, &ms));
    assert_false(cdk_gateway_duration("-1s", out, sizeof out, &ms));
    assert_false(cdk_gateway_duration("100000h", out, sizeof out, &ms));
    assert_false(cdk_gateway_duration("", out, sizeof out, &ms));

    /* a Go duration that Gateway API does not take is rewritten, and the route validates */
    cd_object *c = canary(HEAD SERVICE "    timeout: 1.5s\n" ANALYSIS);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *r = route(&in, 100, 0, false, &st);
    assert_string_equal(S(rule_at(r, 0), "timeouts.request"), "1s500ms");
    assert_false(kj_has(rule_at(r, 0), "timeouts.backendRequest"));
    json_decref(r);
    cd_object_free(c);

    /* backendTimeout longer than timeout: refused before the API server would */
    c = canary(HEAD SERVICE "    timeout: 5s\n    backendTimeout: 10s\n" ANALYSIS);
    route_in(&in, c, false);
    cd_err err = {{0}};
    assert_null(cdk_httproute_spec(&in, 100, 0, false, &st, &err));
    assert_non_null(strstr(err.msg, "backendTimeout 10s cannot be longer than service.timeout 5s"));
    cd_object_free(c);
    c = canary(HEAD SERVICE "    timeout: soon\n" ANALYSIS);
    route_in(&in, c, false);
    assert_null(cdk_httproute_spec(&in, 100, 0, false, &st, &err));
    assert_non_null(strstr(err.msg, "service.timeout \"soon\""));
    cd_object_free(c);
    cd_status_free(&st);
}

/* ---- matches, filters, CORS ---------------------------------------------------------------- */

static void test_matches(void **state)
{
    cd_object *c = canary(HEAD SERVICE
                          "    match:\n"
                          "    - uri: {exact: /api/v1}\n      method: {exact: POST}\n"
                          "      headers: {x-b: {regex: \"^b.*\"}, x-a: {exact: \"1\"}}\n"
                          "      queryParams: {q: {exact: v}}\n"
                          "    - uri: {regex: \"/r[0-9]+\"}\n"
                          "    - uri: {prefix: /p}\n"
                          "    - headers: {x-only: {exact: yes}}\n" ANALYSIS);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *r = route(&in, 100, 0, false, &st);
    json_t *ms = json_object_get(rule_at(r, 0), "matches");
    assert_int_equal(json_array_size(ms), 4);
    json_t *m0 = json_array_get(ms, 0);
    assert_string_equal(S(m0, "path.type"), "Exact");
    assert_string_equal(S(m0, "path.value"), "/api/v1");
    assert_string_equal(S(m0, "method"), "POST");
    json_t *h = json_object_get(m0, "headers");
    assert_int_equal(json_array_size(h), 2);
    assert_string_equal(S(json_array_get(h, 0), "name"), "x-b");   /* the order written */
    assert_string_equal(S(json_array_get(h, 0), "type"), "RegularExpression");
    assert_string_equal(S(json_array_get(h, 1), "type"), "Exact");
    assert_string_equal(S(json_array_get(json_object_get(m0, "queryParams"), 0), "value"), "v");
    assert_string_equal(S(json_array_get(ms, 1), "path.type"), "RegularExpression");
    assert_string_equal(S(json_array_get(ms, 2), "path.type"), "PathPrefix");
    assert_string_equal(S(json_array_get(ms, 2), "path.value"), "/p");
    /* a header-only match gets the default path explicitly */
    assert_string_equal(S(json_array_get(ms, 3), "path.value"), "/");
    json_decref(r);
    cd_object_free(c);

    static const char *const bad[][2] = {
        {"    match: [{uri: {suffix: .png}}]\n", "path matching selector"},
        {"    match: [{method: {prefix: P}}]\n", "method matching selector"},
        {"    match: [{headers: {x: {prefix: a}}}]\n", "header matching selector for \"x\""},
        {"    match: [{queryParams: {q: {suffix: a}}}]\n", "query matching selector for \"q\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, HEAD SERVICE "%s" ANALYSIS, bad[i][0]);
        c = canary(yaml);
        route_in(&in, c, false);
        cd_err err = {{0}};
        assert_null(cdk_httproute_spec(&in, 100, 0, false, &st, &err));
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("case %zu: %s", i, err.msg);
        assert_non_null(strstr(err.msg, "Gateway API doesn't support"));
        cd_object_free(c);
    }
    cd_status_free(&st);
}

static void test_filters(void **state)
{
    cd_object *c = canary(HEAD SERVICE
                          "    match: [{uri: {prefix: /api}}]\n"
                          "    rewrite: {uri: /, authority: backend.example.com, type: ReplacePrefixMatch}\n"
                          "    headers:\n"
                          "      request:\n        set: {x-z: \"1\", x-a: \"2\"}\n"
                          "        add: {x-d: d, x-c: c}\n        remove: [x-rm]\n"
                          "      response:\n        set: {x-resp: r}\n"
                          "    mirror:\n"
                          "    - backendRef: {name: shadow, port: 8080}\n"
                          "    - backendRef: {name: audit, namespace: audit, port: 80}\n"
                          "    corsPolicy:\n"
                          "      allowOrigin: [\"https://a.example.com\"]\n"
                          "      allowOrigins: [{exact: \"https://b.example.com\"}, {prefix: \"https://c\"}]\n"
                          "      allowMethods: [GET, POST]\n      allowHeaders: [x-h]\n"
                          "      exposeHeaders: [x-e]\n      maxAge: 24h\n      allowCredentials: true\n"
                          ANALYSIS);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *r = route(&in, 100, 0, false, &st);
    json_t *fs = json_object_get(rule_at(r, 0), "filters");
    assert_int_equal(json_array_size(fs), 6);
    /* Flagger's order: request, response, rewrite, mirrors, CORS */
    json_t *f = json_array_get(fs, 0);
    assert_string_equal(S(f, "type"), "RequestHeaderModifier");
    json_t *set = kj_at(f, "requestHeaderModifier.set");
    assert_string_equal(S(json_array_get(set, 0), "name"), "x-a");   /* sorted */
    assert_string_equal(S(json_array_get(set, 1), "name"), "x-z");
    assert_string_equal(S(json_array_get(kj_at(f, "requestHeaderModifier.add"), 0), "name"), "x-c");
    assert_string_equal(json_string_value(json_array_get(kj_at(f, "requestHeaderModifier.remove"), 0)),
                        "x-rm");
    f = json_array_get(fs, 1);
    assert_string_equal(S(f, "type"), "ResponseHeaderModifier");
    assert_string_equal(S(json_array_get(kj_at(f, "responseHeaderModifier.set"), 0), "value"), "r");
    assert_false(kj_has(f, "responseHeaderModifier.add"));
    f = json_array_get(fs, 2);
    assert_string_equal(S(f, "type"), "URLRewrite");
    assert_string_equal(S(f, "urlRewrite.hostname"), "backend.example.com");
    assert_string_equal(S(f, "urlRewrite.path.type"), "ReplacePrefixMatch");
    assert_string_equal(S(f, "urlRewrite.path.replacePrefixMatch"), "/");
    f = json_array_get(fs, 3);
    assert_string_equal(S(f, "type"), "RequestMirror");
    assert_string_equal(S(f, "requestMirror.backendRef.name"), "shadow");
    assert_string_equal(S(f, "requestMirror.backendRef.kind"), "Service");
    assert_int_equal(kj_int(f, "requestMirror.backendRef.port", 0), 8080);
    f = json_array_get(fs, 4);
    assert_string_equal(S(f, "requestMirror.backendRef.namespace"), "audit");
    f = json_array_get(fs, 5);
    assert_string_equal(S(f, "type"), "CORS");
    json_t *origins = kj_at(f, "cors.allowOrigins");
    assert_int_equal(json_array_size(origins), 2);   /* the prefix origin cannot be expressed */
    assert_string_equal(json_string_value(json_array_get(origins, 1)), "https://b.example.com");
    assert_int_equal(kj_int(f, "cors.maxAge", 0), 86400);
    assert_true(json_is_true(kj_at(f, "cors.allowCredentials")));
    assert_string_equal(json_string_value(json_array_get(kj_at(f, "cors.allowMethods"), 1)), "POST");
    /* service mirrors are not the B/G mirror */
    assert_weights(r, false, 100, 0, false);
    json_decref(r);

    /* v1beta1: same route, no CORS filter, no timeouts */
    route_in(&in, c, true);
    r = route(&in, 100, 0, false, &st);
    assert_string_equal(S(r, "apiVersion"), "gateway.networking.k8s.io/v1beta1");
    assert_int_equal(json_array_size(json_object_get(rule_at(r, 0), "filters")), 5);
    assert_int_equal(count_type(json_object_get(rule_at(r, 0), "filters"), "CORS"), 0);
    json_decref(r);
    cd_object_free(c);

    c = canary(HEAD SERVICE "    timeout: 30s\n" ANALYSIS);
    route_in(&in, c, true);
    r = route(&in, 100, 0, false, &st);
    assert_false(kj_has(rule_at(r, 0), "timeouts"));
    json_decref(r);
    cd_object_free(c);

    /* ReplacePrefixMatch with two path matches breaks the CRD's CEL rule: refused */
    c = canary(HEAD SERVICE "    match: [{uri: {prefix: /a}}, {uri: {prefix: /b}}]\n"
                            "    rewrite: {uri: /, type: ReplacePrefixMatch}\n" ANALYSIS);
    route_in(&in, c, false);
    cd_err err = {{0}};
    assert_null(cdk_httproute_spec(&in, 100, 0, false, &st, &err));
    assert_non_null(strstr(err.msg, "ReplacePrefixMatch needs exactly one service.match"));
    cd_object_free(c);
    /* full-path rewrite (the default type) has no such rule */
    c = canary(HEAD SERVICE "    match: [{uri: {prefix: /a}}, {uri: {prefix: /b}}]\n"
                            "    rewrite: {uri: /index.html}\n" ANALYSIS);
    route_in(&in, c, false);
    r = route(&in, 100, 0, false, &st);
    assert_string_equal(S(json_array_get(json_object_get(rule_at(r, 0), "filters"), 0),
                          "urlRewrite.path.replaceFullPath"), "/index.html");
    json_decref(r);
    cd_object_free(c);
    cd_status_free(&st);
}

/* ---- A/B -------------------------------------------------------------------------------------- */

static void test_ab(void **state)
{
    cd_object *c = canary(HEAD SERVICE "    timeout: 15s\n"
                          "    match: [{uri: {prefix: /api}}, {uri: {prefix: /web}}]\n"
                          "  analysis:\n    interval: 15s\n    threshold: 10\n    iterations: 10\n"
                          "    match:\n    - headers: {x-canary: {exact: insider}}\n"
                          "    - headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}\n");
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *r = route(&in, 100, 0, false, &st);
    assert_int_equal(json_array_size(kj_at(r, "spec.rules")), 2);
    json_t *ms = json_object_get(rule_at(r, 0), "matches");
    assert_int_equal(json_array_size(ms), 4);   /* 2 analysis x 2 service matches */
    assert_string_equal(S(json_array_get(ms, 0), "path.value"), "/api");
    assert_string_equal(S(json_array_get(json_object_get(json_array_get(ms, 0), "headers"), 0), "name"),
                        "x-canary");
    assert_string_equal(S(json_array_get(ms, 1), "path.value"), "/web");
    assert_string_equal(S(json_array_get(json_object_get(json_array_get(ms, 3), "headers"), 0), "type"),
                        "RegularExpression");
    json_t *rest = rule_at(r, 1);
    assert_int_equal(json_array_size(json_object_get(rest, "matches")), 2);
    assert_int_equal(json_array_size(json_object_get(rest, "backendRefs")), 1);
    assert_string_equal(S(backend_at(rest, 0), "name"), "podinfo-primary");
    assert_int_equal(kj_int(backend_at(rest, 0), "weight", 0), 100);
    assert_string_equal(S(rest, "timeouts.request"), "15s");
    assert_weights(r, false, 100, 0, false);
    json_decref(r);
    /* the A/B iteration: everything matching the headers goes to the canary */
    r = route(&in, 0, 100, false, &st);
    assert_int_equal(kj_int(backend_at(rule_at(r, 0), 1), "weight", -1), 100);
    assert_weights(r, false, 0, 100, false);
    json_decref(r);
    cd_status_free(&st);
    cd_object_free(c);
}

/* ---- §8.2 25: session affinity ---------------------------------------------------------------- */

#define AFFINITY                                                                                   \
    "  analysis:\n    interval: 15s\n    threshold: 5\n    stepWeight: 10\n    maxWeight: 50\n"    \
    "    sessionAffinity:\n      cookieName: flagger-cookie\n"                                     \
    "      primaryCookieName: primary-cookie\n      domain: example.com\n      httpOnly: true\n"   \
    "      maxAge: 300\n      partitioned: true\n      path: /\n      sameSite: Strict\n"          \
    "      secure: true\n"
#define ATTRS "; Domain=example.com; HttpOnly; Partitioned; Path=/; SameSite=Strict; Secure"

static const char *set_cookie_of(const json_t *filters)
{
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f) {
        size_t j;
        json_t *h;
        json_array_foreach(kj_at(f, "responseHeaderModifier.add"), j, h)
            if (!strcmp(S(h, "name"), "Set-Cookie"))
                return S(h, "value");
    }
    return NULL;
}

static const char *cookie_match_of(const json_t *rule)
{
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(json_array_get(json_object_get(rule, "matches"), 0), "headers"), i, h)
        if (!strcmp(S(h, "name"), "Cookie") && !strcmp(S(h, "type"), "RegularExpression"))
            return S(h, "value");
    return NULL;
}

static void test_session_affinity(void **state)
{
    letters_calls = 0;
    cd_object *c = canary(HEAD SERVICE "    timeout: 30s\n" AFFINITY);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);

    /* 100/0 before the first step: no cookie yet, just the weighted rule */
    json_t *r = route(&in, 100, 0, false, &st);
    assert_int_equal(json_array_size(kj_at(r, "spec.rules")), 1);
    assert_string_equal(st.session_affinity_cookie, "");
    json_decref(r);

    /* 90/10: sticky canary rule, sticky primary rule, weighted rule with cookies */
    r = route(&in, 90, 10, false, &st);
    assert_string_equal(st.session_affinity_cookie, "flagger-cookie=abcdefghij");
    assert_string_equal(st.primary_session_affinity_cookie, "primary-cookie=klmnopqrst");
    assert_int_equal(json_array_size(kj_at(r, "spec.rules")), 3);
    json_t *sticky = rule_at(r, 0), *pin = rule_at(r, 1), *weighted = rule_at(r, 2);
    assert_string_equal(cookie_match_of(sticky), ".*flagger-cookie.*abcdefghij.*");
    assert_string_equal(S(json_array_get(json_object_get(sticky, "matches"), 0), "path.value"), "/");
    assert_int_equal(kj_int(backend_at(sticky, 0), "weight", -1), 0);
    assert_int_equal(kj_int(backend_at(sticky, 1), "weight", -1), 100);
    assert_null(json_object_get(backend_at(sticky, 1), "filters"));
    assert_string_equal(S(sticky, "timeouts.request"), "30s");
    assert_string_equal(cookie_match_of(pin), ".*primary-cookie.*klmnopqrst.*");
    assert_int_equal(kj_int(backend_at(pin, 0), "weight", -1), 100);
    assert_int_equal(kj_int(backend_at(pin, 1), "weight", -1), 0);
    assert_null(cookie_match_of(weighted));
    assert_string_equal(set_cookie_of(json_object_get(backend_at(weighted, 1), "filters")),
                        "flagger-cookie=abcdefghij; Max-Age=300" ATTRS);
    /* the primary's cookie lasts one analysis interval */
    assert_string_equal(set_cookie_of(json_object_get(backend_at(weighted, 0), "filters")),
                        "primary-cookie=klmnopqrst; Max-Age=15" ATTRS);
    assert_weights(r, true, 90, 10, false);

    /* bringing it in line ignores the sticky rules and backend filters */
    cd_canary_status empty;
    cd_status_init(&empty);
    json_t *first = cdk_httproute_object(&in, cdk_httproute_spec(&in, 100, 0, false, &empty, &(cd_err){{0}}));
    assert_null(cdk_httproute_update(r, first, &in, CD_PHASE_PROGRESSING));
    json_decref(first);
    cd_status_free(&empty);
    json_decref(r);

    /* 50/50: the same cookies */
    r = route(&in, 50, 50, false, &st);
    assert_string_equal(st.session_affinity_cookie, "flagger-cookie=abcdefghij");
    assert_string_equal(cookie_match_of(rule_at(r, 0)), ".*flagger-cookie.*abcdefghij.*");
    assert_weights(r, true, 50, 50, false);
    json_decref(r);

    /* promotion, 100/0: the cookie becomes the previous one, expired by a rule */
    r = route(&in, 100, 0, false, &st);
    assert_string_equal(st.session_affinity_cookie, "");
    assert_string_equal(st.primary_session_affinity_cookie, "");
    assert_string_equal(st.previous_session_affinity_cookie, "flagger-cookie=abcdefghij");
    assert_int_equal(json_array_size(kj_at(r, "spec.rules")), 2);
    sticky = rule_at(r, 0);
    assert_string_equal(cookie_match_of(sticky), ".*flagger-cookie.*abcdefghij.*");
    assert_string_equal(set_cookie_of(json_object_get(sticky, "filters")),
                        "flagger-cookie=abcdefghij; Max-Age=-1" ATTRS);
    assert_int_equal(kj_int(backend_at(sticky, 0), "weight", -1), 100);
    assert_int_equal(kj_int(backend_at(sticky, 1), "weight", -1), 0);
    assert_weights(r, true, 100, 0, false);
    json_decref(r);

    /* the next release gets a new cookie; the previous one is still expired */
    r = route(&in, 90, 10, false, &st);
    assert_string_equal(st.session_affinity_cookie, "flagger-cookie=uvwxyzabcd");
    assert_string_equal(st.previous_session_affinity_cookie, "flagger-cookie=abcdefghij");
    json_decref(r);
    cd_status_free(&st);
    cd_object_free(c);
}

static void test_session_affinity_errors(void **state)
{
    /* a response Set-Cookie of the user's own and the expiring cookie cannot share the filter */
    cd_object *c = canary(HEAD SERVICE "    headers:\n      response:\n        add: {Set-Cookie: x=1}\n"
                          AFFINITY);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    snprintf(st.session_affinity_cookie, CD_COOKIE_MAX, "flagger-cookie=abc");
    cd_err err = {{0}};
    assert_null(cdk_httproute_spec(&in, 100, 0, false, &st, &err));
    assert_non_null(strstr(err.msg, "already adds a Set-Cookie header"));
    assert_string_equal(st.session_affinity_cookie, "flagger-cookie=abc");   /* unchanged */
    assert_string_equal(st.previous_session_affinity_cookie, "");
    cd_object_free(c);

    /* a user response header filter and the expiring cookie share one filter */
    c = canary(HEAD SERVICE "    headers:\n      response:\n        add: {x-a: b}\n" AFFINITY);
    route_in(&in, c, false);
    json_t *r = route(&in, 100, 0, false, &st);
    json_t *fs = json_object_get(rule_at(r, 0), "filters");
    assert_int_equal(count_type(fs, "ResponseHeaderModifier"), 1);
    assert_int_equal(json_array_size(kj_at(json_array_get(fs, 0), "responseHeaderModifier.add")), 2);
    json_decref(r);
    cd_object_free(c);

    /* session affinity with A/B header routing is refused */
    c = canary(HEAD SERVICE "  analysis:\n    interval: 15s\n    threshold: 5\n    iterations: 5\n"
                            "    match: [{headers: {x-canary: {exact: insider}}}]\n"
                            "    sessionAffinity: {cookieName: c}\n");
    route_in(&in, c, false);
    assert_null(cdk_httproute_spec(&in, 0, 100, false, &st, &err));
    assert_non_null(strstr(err.msg, "sessionAffinity cannot be combined with analysis.match"));
    cd_object_free(c);

    /* a cookie name with regex metacharacters is matched literally */
    c = canary(HEAD SERVICE "  analysis:\n    interval: 15s\n    threshold: 5\n    stepWeight: 10\n"
                            "    sessionAffinity: {cookieName: a.b+c}\n");
    route_in(&in, c, false);
    cd_canary_status st2;
    cd_status_init(&st2);
    r = route(&in, 90, 10, false, &st2);
    const char *re = cookie_match_of(rule_at(r, 0));
    assert_true(!strncmp(re, ".*a\\.b\\+c.*", 11));
    assert_int_equal(strlen(re), 11 + 10 + 2);   /* the 10 letters, ".*" */
    json_decref(r);
    cd_status_free(&st2);
    cd_object_free(c);
    cd_status_free(&st);
}

/* ---- §8.2 25: blue/green mirroring ---------------------------------------------------------- */

static void test_bg_mirror(void **state)
{
    cd_object *c = canary(HEAD SERVICE "  analysis:\n    interval: 10s\n    threshold: 5\n"
                                       "    iterations: 5\n    mirror: true\n");
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *mirrored = route(&in, 100, 0, true, &st);
    json_t *fs = json_object_get(rule_at(mirrored, 0), "filters");
    assert_int_equal(count_type(fs, "RequestMirror"), 1);
    json_t *f = json_array_get(fs, 0);
    assert_string_equal(S(f, "requestMirror.backendRef.name"), "podinfo-canary");
    assert_int_equal(kj_int(f, "requestMirror.backendRef.port", 0), 9898);
    assert_weights(mirrored, false, 100, 0, true);

    /* the mirror filter is left alone while the analysis runs, removed after */
    json_t *plain = route(&in, 100, 0, false, &st);
    assert_null(cdk_httproute_update(mirrored, plain, &in, CD_PHASE_PROGRESSING));
    assert_null(cdk_httproute_update(mirrored, plain, &in, CD_PHASE_WAITING_PROMOTION));
    json_t *upd = cdk_httproute_update(mirrored, plain, &in, CD_PHASE_SUCCEEDED);
    assert_non_null(upd);
    assert_weights(upd, false, 100, 0, false);
    json_decref(upd);
    json_decref(plain);

    /* the canary strategy's mirror step mirrors too (Flagger's router does not,
     * and its analysis then never leaves the mirror step) */
    json_decref(mirrored);
    cd_object_free(c);
    c = canary(HEAD SERVICE "  analysis:\n    interval: 10s\n    threshold: 5\n    stepWeight: 10\n"
                            "    mirror: true\n");
    route_in(&in, c, false);
    mirrored = route(&in, 100, 0, true, &st);
    assert_int_equal(count_type(json_object_get(rule_at(mirrored, 0), "filters"), "RequestMirror"), 1);
    assert_weights(mirrored, false, 100, 0, true);
    json_decref(mirrored);
    mirrored = route(&in, 90, 10, false, &st);
    assert_null(json_object_get(rule_at(mirrored, 0), "filters"));
    assert_weights(mirrored, false, 90, 10, false);
    json_decref(mirrored);
    cd_status_free(&st);
    cd_object_free(c);
}

/* ---- §8.2 25: bringing a live route in line --------------------------------------------------- */

static void test_update(void **state)
{
    cd_object *c = canary(HEAD SERVICE "    apex:\n      labels: {team: web}\n"
                                       "      annotations: {note: apex}\n" ANALYSIS);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *want = route(&in, 100, 0, false, &st);

    /* stored by the API server: defaults implicit, metadata of its own, weights moved,
     * an annotation AWS's Gateway API controller added, a label someone added */
    json_t *live = json_deep_copy(want);
    json_t *rule = rule_at(live, 0);
    json_object_del(json_array_get(json_object_get(rule, "matches"), 0), "path");
    json_object_del(backend_at(rule, 0), "group");
    json_object_del(backend_at(rule, 1), "kind");
    json_object_set_new(backend_at(rule, 0), "weight", json_integer(60));
    json_object_set_new(backend_at(rule, 1), "weight", json_integer(40));
    json_object_del(json_array_get(kj_at(live, "spec.parentRefs"), 0), "group");
    json_t *md = json_object_get(live, "metadata");
    json_object_set_new(md, "resourceVersion", json_string("42"));
    json_object_set_new(md, "generation", json_integer(3));
    json_object_set_new(json_object_get(md, "annotations"),
                        "application-networking.k8s.aws/lattice-assigned-domain-name",
                        json_string("podinfo-test.lattice.aws"));
    assert_null(cdk_httproute_update(live, want, &in, CD_PHASE_PROGRESSING));

    /* a foreign label goes (labels are the apex's), the foreign annotation stays */
    json_object_set_new(json_object_get(md, "labels"), "other", json_string("x"));
    json_t *upd = cdk_httproute_update(live, want, &in, CD_PHASE_PROGRESSING);
    assert_non_null(upd);
    assert_null(kj_at(upd, "metadata.labels.other"));
    assert_string_equal(S(upd, "metadata.labels.team"), "web");
    assert_string_equal(json_string_value(json_object_get(kj_at(upd, "metadata.annotations"),
                                                          "application-networking.k8s.aws/lattice-assigned-domain-name")),
                        "podinfo-test.lattice.aws");
    assert_string_equal(S(upd, "metadata.resourceVersion"), "42");   /* kept for the update */
    json_decref(upd);
    json_object_del(json_object_get(md, "labels"), "other");

    /* a new apex annotation and a new host: updated, foreign annotation kept */
    cd_object *c2 = canary(HEAD "  service:\n    port: 9898\n    hosts: [www.example.com]\n"
                                "    gatewayRefs: [{name: gateway, namespace: istio-ingress}]\n"
                                "    apex:\n      labels: {team: web}\n"
                                "      annotations: {note: changed}\n" ANALYSIS);
    cdk_route_in in2;
    route_in(&in2, c2, false);
    json_t *want2 = route(&in2, 60, 40, false, &st);
    upd = cdk_httproute_update(live, want2, &in2, CD_PHASE_PROGRESSING);
    assert_non_null(upd);
    assert_valid(upd);
    assert_string_equal(json_string_value(json_array_get(kj_at(upd, "spec.hostnames"), 0)),
                        "www.example.com");
    json_t *ann = kj_at(upd, "metadata.annotations");
    assert_string_equal(S(ann, "note"), "changed");
    assert_non_null(json_object_get(ann, "application-networking.k8s.aws/lattice-assigned-domain-name"));
    assert_weights(upd, false, 60, 40, false);
    json_decref(upd);
    json_decref(want2);
    cd_object_free(c2);

    /* normal form: a stripped route and the full one compare equal */
    json_t *a = cdk_httproute_normalize(json_object_get(live, "spec"));
    json_t *b = cdk_httproute_normalize(json_object_get(want, "spec"));
    json_t *brule = json_array_get(json_object_get(b, "rules"), 0);
    json_object_set_new(backend_at(brule, 0), "weight", json_integer(60));
    json_object_set_new(backend_at(brule, 1), "weight", json_integer(40));
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    json_decref(live);
    json_decref(want);
    cd_status_free(&st);
    cd_object_free(c);
}

/* ---- §8.2 25: parents must accept the route's generation ------------------------------------- */

static json_t *with_parent_status(const json_t *route, int64_t gen, const char *status,
                                  int64_t observed, const char *parent_name)
{
    json_t *r = json_deep_copy(route);
    json_object_set_new(json_object_get(r, "metadata"), "generation", json_integer(gen));
    char js[1024];
    snprintf(js, sizeof js,
             "{\"parents\":[{\"parentRef\":{\"group\":\"gateway.networking.k8s.io\",\"kind\":"
             "\"Gateway\",\"name\":\"%s\",\"namespace\":\"istio-ingress\"},\"controllerName\":"
             "\"example.com/gateway\",\"conditions\":[{\"type\":\"ResolvedRefs\",\"status\":\"True\","
             "\"reason\":\"ResolvedRefs\",\"message\":\"\",\"observedGeneration\":%lld,"
             "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},{\"type\":\"Accepted\",\"status\":"
             "\"%s\",\"reason\":\"%s\",\"message\":\"m\",\"observedGeneration\":%lld,"
             "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}]}",
             parent_name, (long long)observed, status,
             !strcmp(status, "True") ? "Accepted" : "NotAllowedByListeners", (long long)observed);
    json_object_set_new(r, "status", obj(js));
    return r;
}

static void test_parents_ready(void **state)
{
    cd_object *c = canary(HEAD SERVICE ANALYSIS);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    json_t *r = route(&in, 100, 0, false, &st);
    cd_err err = {{0}};

    /* no status yet: nothing to wait for (as Flagger) */
    json_object_set_new(json_object_get(r, "metadata"), "generation", json_integer(1));
    assert_true(cdk_httproute_parents_ready(r, &err));

    json_t *refused = with_parent_status(r, 1, "False", 1, "gateway");
    assert_false(cdk_httproute_parents_ready(refused, &err));
    assert_non_null(strstr(err.msg, "HTTPRoute podinfo.test parent gateway is not ready (status: "
                                    "False, observed generation: 1, current generation: 1)"));
    assert_non_null(strstr(err.msg, "NotAllowedByListeners"));

    json_t *stale = with_parent_status(r, 2, "True", 1, "gateway");
    assert_false(cdk_httproute_parents_ready(stale, &err));
    assert_non_null(strstr(err.msg, "observed generation: 1, current generation: 2"));

    /* the status of another parent (not in spec.parentRefs) does not count */
    json_t *other = with_parent_status(r, 2, "False", 1, "someone-else");
    assert_true(cdk_httproute_parents_ready(other, &err));

    /* the parentRef in spec has group and kind implicit: still the same parent */
    json_t *implicit = with_parent_status(r, 1, "False", 1, "gateway");
    json_t *pr = json_array_get(kj_at(implicit, "spec.parentRefs"), 0);
    json_object_del(pr, "group");
    json_object_del(pr, "kind");
    assert_false(cdk_httproute_parents_ready(implicit, &err));

    /* accepted for the current generation: weights can be read and set, 90/10 */
    json_t *ok = with_parent_status(r, 2, "True", 2, "gateway");
    assert_true(cdk_httproute_parents_ready(ok, &err));
    json_t *next = route(&in, 90, 10, false, &st);
    json_object_set(ok, "spec", json_object_get(next, "spec"));
    assert_weights(ok, false, 90, 10, false);

    json_decref(next);
    json_decref(ok);
    json_decref(implicit);
    json_decref(other);
    json_decref(stale);
    json_decref(refused);
    json_decref(r);
    cd_status_free(&st);
    cd_object_free(c);
}

static void test_get_weights_errors(void **state)
{
    int p, w;
    bool m;
    cd_err err = {{0}};
    json_t *none = obj("{\"metadata\":{\"name\":\"podinfo\",\"namespace\":\"test\"},\"spec\":{}}");
    assert_false(cdk_httproute_get_weights(none, "podinfo", false, &p, &w, &m, &err));
    assert_non_null(strstr(err.msg, "HTTPRoute podinfo.test has no rule routing to podinfo-primary "
                                    "and podinfo-canary"));
    json_t *other = obj("{\"metadata\":{\"namespace\":\"test\"},\"spec\":{\"rules\":[{\"backendRefs\":"
                        "[{\"name\":\"a\",\"weight\":1},{\"name\":\"b\",\"weight\":2}]}]}}");
    assert_false(cdk_httproute_get_weights(other, "podinfo", false, &p, &w, &m, &err));
    /* weight unset: Gateway API's default 1 */
    json_t *implicit = obj("{\"spec\":{\"rules\":[{\"backendRefs\":[{\"name\":\"podinfo-canary\"},"
                           "{\"name\":\"podinfo-primary\",\"weight\":3}]}]}}");
    assert_true(cdk_httproute_get_weights(implicit, "podinfo", false, &p, &w, &m, &err));
    assert_int_equal(p, 3);
    assert_int_equal(w, 1);
    json_decref(implicit);
    json_decref(other);
    json_decref(none);
}

static void test_refusals(void **state)
{
    /* no gatewayRefs (the provider comes from -mesh-provider) */
    cd_object *c = canary("apiVersion: flagger.app/v1beta1\nkind: Canary\n"
                          "metadata: {name: podinfo, namespace: test}\n"
                          "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
                          "  service: {port: 9898}\n" ANALYSIS);
    cdk_route_in in;
    route_in(&in, c, false);
    cd_canary_status st;
    cd_status_init(&st);
    cd_err err = {{0}};
    assert_null(cdk_httproute_spec(&in, 100, 0, false, &st, &err));
    assert_string_equal(err.msg, "GatewayRefs must be specified when using Gateway API as a provider.");
    cd_status_free(&st);
    cd_object_free(c);
}

/* Every route of a whole canary run (the engine's weights, A/B, B/G,
 * session affinity, all the options) is valid: no route canaryd writes can
 * be refused by the API server for its shape. */
static void test_all_routes_valid(void **state)
{
    static const char *const variants[] = {
        SERVICE "    timeout: 1m\n    backendTimeout: 30s\n"
                "    match: [{uri: {prefix: /}, headers: {x-env: {exact: prod}}}]\n"
                "    headers: {request: {set: {x-a: b}}, response: {remove: [server]}}\n"
                "    mirror: [{backendRef: {name: shadow, port: 80}}]\n"
                "    corsPolicy: {allowOrigin: [\"*\"], allowMethods: [\"*\"], maxAge: 1m}\n" AFFINITY,
        SERVICE "    rewrite: {uri: /v2, type: ReplacePrefixMatch}\n"
                "    match: [{uri: {prefix: /v1}}]\n"
                "  analysis: {interval: 1m, threshold: 5, iterations: 3, mirror: true}\n",
        SERVICE "    rewrite: {uri: /v2, type: ReplacePrefixMatch}\n"
                "    match: [{uri: {prefix: /v1}}]\n"
                "  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 3\n"
                "    match: [{headers: {x-canary: {exact: insider}}, queryParams: {c: {regex: \"1|yes\"}}}]\n",
        "  service:\n    port: 80\n    gatewayRefs:\n"
        "    - {name: gw, namespace: infra, sectionName: http, port: 80}\n"
        "    - {name: gw2, group: gateway.networking.k8s.io, kind: Gateway}\n" ANALYSIS,
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char yaml[4096];
        snprintf(yaml, sizeof yaml, HEAD "%s", variants[v]);
        cd_object *c = canary(yaml);
        for (int beta = 0; beta < 2; beta++) {
            cdk_route_in in;
            route_in(&in, c, beta);
            cd_canary_status st;
            cd_status_init(&st);
            static const int steps[][3] = {{100, 0, 0}, {100, 0, 1}, {90, 10, 0}, {50, 50, 0},
                                           {0, 100, 0}, {0, 100, 1}, {100, 0, 0}, {70, 30, 0}};
            for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
                json_t *r = route(&in, steps[i][0], steps[i][1], steps[i][2], &st);
                json_decref(r);
            }
            cd_status_free(&st);
        }
        cd_object_free(c);
    }
}

/* The providers canaryd kube knows, and the version-less name refused. */
static void test_providers(void **state)
{
    cd_err err = {{0}};
    const cdk_mesh_router *v1 = cdk_router_find("gatewayapi:v1", &err);
    const cdk_mesh_router *beta = cdk_router_find("gatewayapi:v1beta1", &err);
    assert_non_null(v1);
    assert_non_null(beta);
    assert_ptr_not_equal(v1, beta);
    assert_false(v1->reconcile_first);   /* after the primary, as Flagger */
    assert_null(cdk_router_find("gatewayapi", &err));
    assert_non_null(strstr(err.msg, "use gatewayapi:v1 (or gatewayapi:v1beta1)"));
    assert_null(cdk_router_find("istioo", &err));
    assert_non_null(strstr(err.msg, "gatewayapi:v1, gatewayapi:v1beta1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects), cmocka_unit_test(test_initial_route),
        cmocka_unit_test(test_durations),         cmocka_unit_test(test_matches),
        cmocka_unit_test(test_filters),           cmocka_unit_test(test_ab),
        cmocka_unit_test(test_session_affinity),  cmocka_unit_test(test_session_affinity_errors),
        cmocka_unit_test(test_bg_mirror),         cmocka_unit_test(test_update),
        cmocka_unit_test(test_parents_ready),     cmocka_unit_test(test_get_weights_errors),
        cmocka_unit_test(test_refusals),          cmocka_unit_test(test_all_routes_valid),
        cmocka_unit_test(test_providers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
