/* test_kube_istio.c - the Istio VirtualService and DestinationRules as pure
 * functions (src/kube/mesh/istio_objects.c) against Flagger's IstioRouter:
 * the initial VirtualService (hosts plus the apex name, gateways defaulting
 * to mesh, match/rewrite/timeout/retries/CORS/headers from spec.service),
 * the weights stepping and read back, the B/G mirror with mirrorPercentage,
 * A/B routes with merged matches, session-affinity routes and the cookie
 * expired on promotion, delegation, TCP, the DestinationRules with
 * trafficPolicy (Flagger 1.44's outlier-detection fields), bringing a live
 * VirtualService in line (weights and foreign annotations kept, the user's
 * spec saved), the refusal to take over a user's VirtualService and the
 * errors. Every object built is validated against Istio's real CRDs
 * (shared/conformance/crds/istio), unknown fields counting as errors, in
 * all three served versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "model/object.h"
#include "model/schema.h"
#include "util/fsutil.h"
#include "kubefix.h"

static void load_crds(void)
{
    static bool done;
    if (done)
        return;
    const char *shared = getenv("CANARYD_SHARED");
    const char *files[] = {"networking.istio.io_virtualservices.yaml",
                           "networking.istio.io_destinationrules.yaml"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/conformance/crds/istio/%s", shared ? shared : "../shared",
                 files[i]);
        size_t len;
        char *text = cd_read_file(path, &len);
        if (!text)
            fail_msg("cannot read %s (CANARYD_SHARED)", path);
        cd_diags d;
        cd_diags_init(&d);
        assert_int_equal(cd_schema_load_text(path, text, len, &d), 3);   /* v1, v1beta1, v1alpha3 */
        cd_diags_free(&d);
        free(text);
    }
    done = true;
}

/* o is valid in every served version of its kind (Istio's schemas leave
 * out apiVersion and kind, which every API server accepts anyway). */
static void assert_valid(const json_t *o)
{
    load_crds();
    const char *versions[] = {"v1beta1", "v1", "v1alpha3"};
    json_t *body = json_deep_copy(o);
    json_object_del(body, "apiVersion");
    json_object_del(body, "kind");
    for (int i = 0; i < 3; i++) {
        const cd_crd_version *crd = cd_schema_find(CDK_ISTIO_GROUP, versions[i], S(o, "kind"));
        assert_schema_valid(crd, body);
    }
    json_decref(body);
}

static void test_validator_rejects(void **state)
{
    load_crds();
    const cd_crd_version *crd = cd_schema_find(CDK_ISTIO_GROUP, "v1beta1", "VirtualService");
    assert_non_null(crd);
    json_t *bad = obj("{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":\"VirtualService\","
                      "\"metadata\":{\"name\":\"x\"},\"spec\":{\"http\":[{\"route\":[{\"destination\":"
                      "{\"host\":\"a\"},\"weight\":\"ten\"}],\"nope\":1}]}}");
    cd_stream *s = cd_stream_from_json("bad", bad);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd->schema, s->docs[0].root, NULL, "", &d);
    assert_true(d.errors >= 1);
    assert_true(d.warnings + d.errors >= 2);
    cd_diags_free(&d);
    cd_stream_free(s);
    json_decref(bad);
}

/* ---- fixtures ------------------------------------------------------------------------- */

#define HEAD                                                                                       \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\n"                                              \
    "metadata: {name: podinfo, namespace: test, uid: u1}\n"                                        \
    "spec:\n  provider: istio\n"                                                                   \
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
#define SERVICE "  service:\n    port: 9898\n"
#define ANALYSIS "  analysis: {interval: 15s, threshold: 5, stepWeight: 10, maxWeight: 50}\n"

static int letters_calls;

static bool fixed_letters(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('a' + (letters_calls * 10 + (int)i) % 26);
    letters_calls++;
    return true;
}

typedef struct fx {
    cd_object *c;
    cdk_istio_in in;
    json_t *spec_json;
} fx;

static void fx_init(fx *f, const char *yaml, const json_t *owner)
{
    memset(f, 0, sizeof *f);
    f->c = canary(yaml);
    json_t *o = cd_object_to_json(f->c);
    f->spec_json = json_incref(json_object_get(o, "spec"));
    json_decref(o);
    f->in.spec = &f->c->spec.canary;
    f->in.meta = &f->c->meta;
    f->in.spec_json = f->spec_json;
    f->in.owner_ref = owner;
    f->in.random_letters = fixed_letters;
}

static void fx_free(fx *f)
{
    json_decref(f->spec_json);
    cd_object_free(f->c);
}

static json_t *vs(const fx *f, int primary, int canary, bool mirrored, cd_canary_status *st)
{
    cd_err err = {{0}};
    json_t *spec = cdk_istio_vs_spec(&f->in, primary, canary, mirrored, st, &err);
    if (!spec)
        fail_msg("no spec: %s", err.msg);
    json_t *o = cdk_istio_vs_object(&f->in, spec);
    assert_valid(o);
    return o;
}

/* an annotation (keys hold dots, which kj_at's paths cannot) */
static const char *ann(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(kj_at(o, "metadata.annotations"), key));
}

static json_t *http_at(const json_t *v, size_t i) { return json_array_get(kj_at(v, "spec.http"), i); }

static json_t *dest_at(const json_t *route, size_t i)
{
    return json_array_get(json_object_get(route, "route"), i);
}

static void assert_weights(const json_t *v, bool affinity, int primary, int canary, bool mirrored)
{
    int p = -1, c = -1;
    bool m = !mirrored;
    cd_err err = {{0}};
    if (!cdk_istio_get_weights(v, "podinfo", false, affinity, &p, &c, &m, &err))
        fail_msg("get weights: %s", err.msg);
    assert_int_equal(p, primary);
    assert_int_equal(c, canary);
    assert_int_equal(m, mirrored);
}

/* ---- the initial VirtualService ------------------------------------------------------- */

static void test_initial(void **state)
{
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true}");
    fx f;
    fx_init(&f,
            HEAD SERVICE "    hosts: [app.example.com]\n    gateways: [public-gateway.istio-system.svc.cluster.local]\n"
                         "    match: [{uri: {prefix: /api}}]\n    rewrite: {uri: /, type: ReplacePrefixMatch}\n"
                         "    timeout: 30s\n    retries: {attempts: 3, perTryTimeout: 1s, retryOn: \"gateway-error,connect-failure\"}\n"
                         "    headers:\n      request: {add: {x-envoy-upstream-rq-timeout-ms: \"15000\"}}\n"
                         "      response: {remove: [x-powered-by]}\n"
                         "    corsPolicy: {allowOrigins: [{exact: \"https://example.com\"}], allowMethods: [GET], "
                         "maxAge: 24h, allowCredentials: false}\n"
                         "    apex:\n      labels: {team: web}\n"
                         "      annotations: {note: apex, kustomize.toolkit.fluxcd.io/x: y}\n" ANALYSIS,
            owner);
    cd_canary_status st = {0};
    json_t *v = vs(&f, 100, 0, false, &st);
    assert_string_equal(S(v, "apiVersion"), "networking.istio.io/v1beta1");
    assert_string_equal(S(v, "metadata.name"), "podinfo");
    assert_string_equal(S(v, "metadata.namespace"), "test");
    assert_string_equal(S(v, "metadata.labels.team"), "web");
    assert_string_equal(S(v, "metadata.annotations.note"), "apex");
    assert_null(ann(v, "kustomize.toolkit.fluxcd.io/x"));
    assert_string_equal(S(json_array_get(kj_at(v, "metadata.ownerReferences"), 0), "uid"), "u1");
    /* hosts: the user's plus the apex name; the user's gateways only */
    json_t *hosts = kj_at(v, "spec.hosts");
    assert_int_equal(json_array_size(hosts), 2);
    assert_string_equal(json_string_value(json_array_get(hosts, 0)), "app.example.com");
    assert_string_equal(json_string_value(json_array_get(hosts, 1)), "podinfo");
    assert_int_equal(json_array_size(kj_at(v, "spec.gateways")), 1);
    assert_int_equal(json_array_size(kj_at(v, "spec.http")), 1);
    json_t *r = http_at(v, 0);
    assert_string_equal(S(json_array_get(json_object_get(r, "match"), 0), "uri.prefix"), "/api");
    assert_string_equal(S(r, "rewrite.uri"), "/");
    assert_null(kj_at(r, "rewrite.type"));   /* Gateway API's field, not Istio's */
    assert_string_equal(S(r, "timeout"), "30s");
    assert_int_equal(kj_int(r, "retries.attempts", 0), 3);
    assert_string_equal(S(r, "retries.retryOn"), "gateway-error,connect-failure");
    assert_string_equal(S(r, "headers.request.add.x-envoy-upstream-rq-timeout-ms"), "15000");
    assert_string_equal(S(json_array_get(kj_at(r, "corsPolicy.allowOrigins"), 0), "exact"),
                        "https://example.com");
    assert_string_equal(S(r, "corsPolicy.maxAge"), "24h");
    assert_string_equal(S(dest_at(r, 0), "destination.host"), "podinfo-primary");
    assert_int_equal(kj_int(dest_at(r, 0), "weight", -1), 100);
    assert_string_equal(S(dest_at(r, 1), "destination.host"), "podinfo-canary");
    assert_int_equal(kj_int(dest_at(r, 1), "weight", -1), 0);
    assert_null(kj_at(dest_at(r, 0), "destination.port"));   /* no portDiscovery */
    assert_null(json_object_get(r, "mirror"));
    assert_weights(v, false, 100, 0, false);
    json_decref(v);
    fx_free(&f);

    /* no hosts, no gateways: the apex name and the mesh */
    fx_init(&f, HEAD SERVICE "    hosts: [\"*\"]\n" ANALYSIS, NULL);
    v = vs(&f, 100, 0, false, &st);
    assert_int_equal(json_array_size(kj_at(v, "spec.hosts")), 1);
    assert_string_equal(json_string_value(json_array_get(kj_at(v, "spec.hosts"), 0)), "*");
    assert_string_equal(json_string_value(json_array_get(kj_at(v, "spec.gateways"), 0)), "mesh");
    assert_null(kj_at(v, "metadata.ownerReferences"));
    assert_null(kj_at(v, "metadata.labels"));
    json_decref(v);
    fx_free(&f);
    json_decref(owner);
}

/* ---- weights, mirror ----------------------------------------------------------------- */

static void test_steps_and_mirror(void **state)
{
    fx f;
    fx_init(&f, HEAD SERVICE "  analysis: {interval: 15s, threshold: 5, iterations: 3, mirror: true, "
                             "mirrorWeight: 25}\n",
            NULL);
    cd_canary_status st = {0};
    static const int steps[][2] = {{90, 10}, {80, 20}, {50, 50}, {0, 100}, {100, 0}};
    for (size_t i = 0; i < 5; i++) {
        json_t *v = vs(&f, steps[i][0], steps[i][1], false, &st);
        assert_weights(v, false, steps[i][0], steps[i][1], false);
        json_decref(v);
    }
    json_t *v = vs(&f, 100, 0, true, &st);
    json_t *r = http_at(v, 0);
    assert_string_equal(S(r, "mirror.host"), "podinfo-canary");
    assert_true(json_real_value(kj_at(r, "mirrorPercentage.value")) == 25.0);
    assert_weights(v, false, 100, 0, true);
    json_decref(v);
    fx_free(&f);
}

/* ---- A/B ----------------------------------------------------------------------------- */

static void test_ab(void **state)
{
    fx f;
    fx_init(&f,
            HEAD SERVICE "    match: [{uri: {prefix: /api}}, {uri: {prefix: /v2}}]\n"
                         "  analysis:\n    interval: 15s\n    threshold: 5\n    iterations: 10\n"
                         "    match:\n      - headers: {x-canary: {exact: insider}}\n"
                         "      - headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}\n"
                         "      - sourceLabels: {app: tester}\n",
            NULL);
    cd_canary_status st = {0};
    json_t *v = vs(&f, 0, 100, false, &st);
    json_t *routes = kj_at(v, "spec.http");
    assert_int_equal(json_array_size(routes), 2);
    /* 3 analysis conditions x 2 service matches */
    json_t *m = json_object_get(http_at(v, 0), "match");
    assert_int_equal(json_array_size(m), 6);
    assert_string_equal(S(json_array_get(m, 0), "uri.prefix"), "/api");
    assert_string_equal(S(json_array_get(m, 0), "headers.x-canary.exact"), "insider");
    assert_string_equal(S(json_array_get(m, 1), "uri.prefix"), "/v2");
    assert_string_equal(S(json_array_get(m, 5), "sourceLabels.app"), "tester");
    assert_int_equal(kj_int(dest_at(http_at(v, 0), 1), "weight", -1), 100);
    /* the others: the service's matches, to the primary only */
    json_t *other = http_at(v, 1);
    assert_int_equal(json_array_size(json_object_get(other, "match")), 2);
    assert_int_equal(json_array_size(json_object_get(other, "route")), 1);
    assert_string_equal(S(dest_at(other, 0), "destination.host"), "podinfo-primary");
    assert_weights(v, false, 0, 100, false);
    json_decref(v);
    fx_free(&f);
}

/* ---- session affinity ---------------------------------------------------------------- */

static void test_session_affinity(void **state)
{
    letters_calls = 0;
    fx f;
    fx_init(&f,
            HEAD SERVICE "  analysis:\n    interval: 1m\n    threshold: 5\n    stepWeight: 10\n    maxWeight: 50\n"
                         "    sessionAffinity: {cookieName: flagger-cookie, primaryCookieName: primary-cookie, "
                         "maxAge: 3600, path: /, secure: true}\n",
            NULL);
    cd_canary_status st = {0};
    json_t *v = vs(&f, 90, 10, false, &st);
    assert_string_equal(st.session_affinity_cookie, "flagger-cookie=abcdefghij");
    assert_string_equal(st.primary_session_affinity_cookie, "primary-cookie=klmnopqrst");
    json_t *routes = kj_at(v, "spec.http");
    assert_int_equal(json_array_size(routes), 3);
    assert_string_equal(S(json_array_get(json_object_get(http_at(v, 0), "match"), 0), "headers.Cookie.regex"),
                        ".*flagger-cookie.*abcdefghij.*");
    assert_int_equal(kj_int(dest_at(http_at(v, 0), 1), "weight", -1), 100);
    assert_string_equal(S(json_array_get(json_object_get(http_at(v, 1), "match"), 0), "headers.Cookie.regex"),
                        ".*primary-cookie.*klmnopqrst.*");
    assert_int_equal(kj_int(dest_at(http_at(v, 1), 0), "weight", -1), 100);
    json_t *w = http_at(v, 2);
    assert_string_equal(S(dest_at(w, 1), "headers.response.add.Set-Cookie"),
                        "flagger-cookie=abcdefghij; Max-Age=3600; Path=/; Secure");
    assert_string_equal(S(dest_at(w, 0), "headers.response.add.Set-Cookie"),
                        "primary-cookie=klmnopqrst; Max-Age=60; Path=/; Secure");
    assert_weights(v, true, 90, 10, false);
    json_decref(v);
    /* the next step keeps the cookies */
    v = vs(&f, 80, 20, false, &st);
    assert_string_equal(st.session_affinity_cookie, "flagger-cookie=abcdefghij");
    assert_weights(v, true, 80, 20, false);
    json_decref(v);
    /* promotion: the cookie moves to previous and expires */
    v = vs(&f, 100, 0, false, &st);
    assert_string_equal(st.session_affinity_cookie, "");
    assert_string_equal(st.previous_session_affinity_cookie, "flagger-cookie=abcdefghij");
    assert_int_equal(json_array_size(kj_at(v, "spec.http")), 2);
    assert_string_equal(S(http_at(v, 0), "headers.response.add.Set-Cookie"),
                        "flagger-cookie=abcdefghij; Max-Age=-1");
    assert_weights(v, true, 100, 0, false);
    json_decref(v);
    fx_free(&f);
}

/* ---- delegation, TCP ----------------------------------------------------------------- */

static void test_delegation_tcp(void **state)
{
    fx f;
    fx_init(&f, HEAD SERVICE "    delegation: true\n    portDiscovery: true\n" ANALYSIS, NULL);
    cd_canary_status st = {0};
    json_t *v = vs(&f, 100, 0, false, &st);
    assert_null(kj_at(v, "spec.hosts"));
    assert_null(kj_at(v, "spec.gateways"));
    assert_int_equal(kj_int(dest_at(http_at(v, 0), 0), "destination.port.number", 0), 9898);
    json_decref(v);
    fx_free(&f);

    fx_init(&f, HEAD SERVICE "    delegation: true\n    hosts: [a.example.com]\n" ANALYSIS, NULL);
    cd_err err = {{0}};
    assert_null(cdk_istio_vs_spec(&f.in, 100, 0, false, &st, &err));
    assert_non_null(strstr(err.msg, "cannot have hosts and gateways when delegation enabled"));
    assert_non_null(strstr(err.msg, "spec.service.hosts"));
    fx_free(&f);

    /* an ingress gateway with port discovery: the port is named */
    fx_init(&f, HEAD SERVICE "    portDiscovery: true\n    gateways: [public]\n" ANALYSIS, NULL);
    v = vs(&f, 100, 0, false, &st);
    assert_int_equal(kj_int(dest_at(http_at(v, 0), 1), "destination.port.number", 0), 9898);
    json_decref(v);
    fx_free(&f);

    fx_init(&f, HEAD SERVICE "    appProtocol: tcp\n    match: [{port: 9898}]\n" ANALYSIS, NULL);
    v = vs(&f, 70, 30, false, &st);
    assert_null(kj_at(v, "spec.http"));
    json_t *tcp = json_array_get(kj_at(v, "spec.tcp"), 0);
    assert_int_equal(kj_int(json_array_get(json_object_get(tcp, "match"), 0), "port", 0), 9898);
    int p, c;
    bool m;
    assert_true(cdk_istio_get_weights(v, "podinfo", true, false, &p, &c, &m, &err));
    assert_int_equal(p, 70);
    assert_int_equal(c, 30);
    json_decref(v);
    fx_free(&f);
}

/* ---- the Gateways service.gateways names ---------------------------------------------- */

static void test_gateway_refs(void **state)
{
    fx f;
    fx_init(&f, HEAD SERVICE
            "    gateways: [mesh, istio-system/public, public-gateway.istio-system.svc.cluster.local, "
            "local, ./here, a/b/c, /nameless, \"\"]\n" ANALYSIS,
            NULL);
    char ns[64], name[64];
    assert_false(cdk_istio_gateway_ref(&f.in, 0, ns, sizeof ns, name, sizeof name));  /* mesh */
    assert_true(cdk_istio_gateway_ref(&f.in, 1, ns, sizeof ns, name, sizeof name));
    assert_string_equal(ns, "istio-system");
    assert_string_equal(name, "public");
    assert_true(cdk_istio_gateway_ref(&f.in, 2, ns, sizeof ns, name, sizeof name));   /* FQDN */
    assert_string_equal(ns, "istio-system");
    assert_string_equal(name, "public-gateway");
    assert_true(cdk_istio_gateway_ref(&f.in, 3, ns, sizeof ns, name, sizeof name));   /* the canary's */
    assert_string_equal(ns, "test");
    assert_string_equal(name, "local");
    assert_true(cdk_istio_gateway_ref(&f.in, 4, ns, sizeof ns, name, sizeof name));   /* ./name */
    assert_string_equal(ns, "test");
    assert_string_equal(name, "here");
    assert_false(cdk_istio_gateway_ref(&f.in, 5, ns, sizeof ns, name, sizeof name));  /* a/b/c */
    assert_false(cdk_istio_gateway_ref(&f.in, 6, ns, sizeof ns, name, sizeof name));  /* no namespace */
    assert_false(cdk_istio_gateway_ref(&f.in, 7, ns, sizeof ns, name, sizeof name));  /* empty */
    assert_false(cdk_istio_gateway_ref(&f.in, 8, ns, sizeof ns, name, sizeof name));  /* past the end */
    /* a name longer than the buffer is not cut short into another name */
    char small[4];
    assert_false(cdk_istio_gateway_ref(&f.in, 1, ns, sizeof ns, small, sizeof small));
    fx_free(&f);
}

/* ---- DestinationRules ---------------------------------------------------------------- */

static void test_destination_rules(void **state)
{
    fx f;
    fx_init(&f,
            HEAD SERVICE "    trafficPolicy:\n      tls: {mode: ISTIO_MUTUAL}\n"
                         "      outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s, "
                         "splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}\n" ANALYSIS,
            NULL);
    json_t *dr = cdk_istio_dr_object(&f.in, "podinfo-canary");
    assert_valid(dr);
    assert_string_equal(S(dr, "kind"), "DestinationRule");
    assert_string_equal(S(dr, "metadata.name"), "podinfo-canary");
    assert_string_equal(S(dr, "spec.host"), "podinfo-canary");
    assert_string_equal(S(dr, "spec.trafficPolicy.tls.mode"), "ISTIO_MUTUAL");
    assert_true(json_is_true(kj_at(dr, "spec.trafficPolicy.outlierDetection.splitExternalLocalOriginErrors")));
    assert_int_equal(kj_int(dr, "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures", 0), 2);
    /* in line: nothing to do; a changed policy is written */
    json_t *live = json_deep_copy(dr);
    json_object_set_new(kj_obj(live, "metadata"), "resourceVersion", json_string("7"));
    assert_null(cdk_istio_dr_update(live, dr));
    json_object_del(json_object_get(live, "spec"), "trafficPolicy");
    json_t *upd = cdk_istio_dr_update(live, dr);
    assert_non_null(upd);
    assert_string_equal(S(upd, "metadata.resourceVersion"), "7");
    assert_string_equal(S(upd, "spec.trafficPolicy.tls.mode"), "ISTIO_MUTUAL");
    json_decref(upd);
    json_decref(live);
    json_decref(dr);
    fx_free(&f);

    fx_init(&f, HEAD SERVICE ANALYSIS, NULL);
    dr = cdk_istio_dr_object(&f.in, "podinfo-primary");
    assert_valid(dr);
    assert_null(kj_at(dr, "spec.trafficPolicy"));
    json_decref(dr);
    fx_free(&f);
}

/* ---- live objects ------------------------------------------------------------------- */

static void test_update(void **state)
{
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true}");
    fx f;
    fx_init(&f, HEAD SERVICE "    timeout: 10s\n    unmanagedMetadata: {labels: [keep]}\n" ANALYSIS, owner);
    cd_canary_status st = {0};
    json_t *mine = vs(&f, 70, 30, false, &st);
    json_t *want = vs(&f, 100, 0, false, &st);
    /* different weights only, plus another controller's annotation and an unmanaged label */
    cd_kobj_set_annotation(mine, "other.io/x", "1");
    json_object_set_new(kj_obj(kj_obj(mine, "metadata"), "labels"), "keep", json_string("yes"));
    json_object_set_new(kj_obj(want, "metadata"), "labels", json_pack("{s:s}", "keep", "yes"));
    json_t *upd = cdk_istio_vs_update(mine, want, &f.in);
    assert_null(upd);
    /* a changed timeout: rewritten, foreign annotation kept, no original saved (ours) */
    json_object_set_new(http_at(mine, 0), "timeout", json_string("5s"));
    upd = cdk_istio_vs_update(mine, want, &f.in);
    assert_non_null(upd);
    assert_string_equal(S(http_at(upd, 0), "timeout"), "10s");
    assert_string_equal(ann(upd, "other.io/x"), "1");
    assert_null(ann(upd, CDK_ISTIO_ORIGINAL));
    assert_string_equal(S(upd, "metadata.labels.keep"), "yes");
    json_decref(upd);
    json_decref(mine);

    /* a user's VirtualService: refused without revertOnDeletion */
    json_t *users = obj("{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":\"VirtualService\","
                        "\"metadata\":{\"name\":\"podinfo\",\"namespace\":\"test\"},"
                        "\"spec\":{\"hosts\":[\"podinfo\"],\"http\":[{\"route\":[{\"destination\":"
                        "{\"host\":\"podinfo\"}}]}]}}");
    cd_err err = {{0}};
    assert_false(cdk_istio_vs_writable(users, &f.in, &err));
    assert_non_null(strstr(err.msg, "VirtualService podinfo.test is not owned by canary podinfo"));
    assert_non_null(strstr(err.msg, "revertOnDeletion"));
    json_decref(want);
    fx_free(&f);

    fx_init(&f, HEAD SERVICE "  revertOnDeletion: true\n" ANALYSIS, owner);
    assert_true(cdk_istio_vs_writable(users, &f.in, &err));
    want = vs(&f, 100, 0, false, &st);
    upd = cdk_istio_vs_update(users, want, &f.in);
    assert_non_null(upd);
    assert_valid(upd);
    const char *orig = ann(upd, CDK_ISTIO_ORIGINAL);
    assert_non_null(orig);
    json_t *spec = NULL;
    assert_true(cdk_istio_original_spec(upd, &spec, &err));
    assert_true(json_equal(spec, json_object_get(users, "spec")));
    json_decref(spec);
    /* taken over: writable from now on, the original is not overwritten */
    json_object_set_new(http_at(upd, 0), "timeout", json_string("1s"));
    json_t *again = cdk_istio_vs_update(upd, want, &f.in);
    assert_non_null(again);
    assert_string_equal(ann(again, CDK_ISTIO_ORIGINAL), orig);
    json_decref(again);
    json_decref(upd);
    json_decref(want);
    /* a broken annotation is an error, none is nothing to restore */
    cd_kobj_set_annotation(users, CDK_ISTIO_ORIGINAL, "{nope");
    assert_false(cdk_istio_original_spec(users, &spec, &err));
    assert_non_null(strstr(err.msg, "failed to unmarshal annotation"));
    cd_kobj_set_annotation(users, CDK_ISTIO_ORIGINAL, NULL);
    assert_true(cdk_istio_original_spec(users, &spec, &err));
    assert_null(spec);
    /* weights of a VirtualService with no canary route: an error */
    int p, c;
    bool m;
    assert_false(cdk_istio_get_weights(users, "podinfo", false, false, &p, &c, &m, &err));
    assert_non_null(strstr(err.msg, "does not contain routes for podinfo-primary and podinfo-canary"));
    json_decref(users);
    fx_free(&f);
    json_decref(owner);
}

/* Istio's CRDs refuse durations under 1ms (CEL): refused before writing,
 * naming the field. */
static void test_durations(void **state)
{
    static const struct {
        const char *yaml, *path;
    } cases[] = {
        {"    timeout: 0s\n", "spec.service.timeout: \"0s\""},
        {"    timeout: soon\n", "spec.service.timeout: \"soon\""},
        {"    retries: {attempts: 2, perTryTimeout: 500us}\n", "spec.service.retries.perTryTimeout"},
        {"    corsPolicy: {allowOrigins: [{exact: a}], maxAge: 0.5ms}\n", "spec.service.corsPolicy.maxAge"},
        {"    trafficPolicy: {outlierDetection: {interval: 0s}}\n",
         "spec.service.trafficPolicy.outlierDetection.interval"},
        {"    trafficPolicy: {portLevelSettings: [{port: {number: 80}, connectionPool: {tcp: {connectTimeout: x}}}]}\n",
         "spec.service.trafficPolicy.portLevelSettings[0].connectionPool.tcp.connectTimeout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, "%s%s%s%s", HEAD, SERVICE, cases[i].yaml, ANALYSIS);
        fx f;
        fx_init(&f, yaml, NULL);
        cd_err err = {{0}};
        cd_canary_status st = {0};
        assert_null(cdk_istio_vs_spec(&f.in, 100, 0, false, &st, &err));
        if (!strstr(err.msg, cases[i].path))
            fail_msg("case %zu: %s", i, err.msg);
        assert_non_null(strstr(err.msg, "is not a duration of at least 1ms"));
        fx_free(&f);
    }
    fx f;
    fx_init(&f, HEAD SERVICE "    timeout: 1m30s\n    retries: {perTryTimeout: 1ms}\n"
                             "    trafficPolicy: {outlierDetection: {interval: 1.5s}}\n" ANALYSIS, NULL);
    cd_err err = {{0}};
    assert_true(cdk_istio_check(&f.in, &err));
    fx_free(&f);
}

static void test_providers(void **state)
{
    cd_err err = {{0}};
    const cdk_mesh_router *r = cdk_router_find("istio", &err);
    assert_non_null(r);
    assert_ptr_equal(r, &cdk_router_istio);
    assert_false(r->reconcile_first);
    assert_non_null(strstr(cdk_router_names(), "istio"));
    assert_null(cdk_router_find("istioo", &err));
    assert_non_null(strstr(err.msg, "istio"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects), cmocka_unit_test(test_initial),
        cmocka_unit_test(test_steps_and_mirror),  cmocka_unit_test(test_ab),
        cmocka_unit_test(test_session_affinity),  cmocka_unit_test(test_delegation_tcp),
        cmocka_unit_test(test_destination_rules), cmocka_unit_test(test_update),
        cmocka_unit_test(test_durations),         cmocka_unit_test(test_providers),
        cmocka_unit_test(test_gateway_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
