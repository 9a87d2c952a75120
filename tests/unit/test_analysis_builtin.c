/* test_analysis_builtin.c - Flagger's builtin queries: every observer's
 * request-success-rate and request-duration, rendered and whitespace-
 * collapsed, compared character for character with the templates of
 * reference §3.3 (read from $CANARYD_SHARED) and with fully rendered
 * queries from Flagger's own observer tests; observer selection (§3.2);
 * duration units. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/observers.h"
#include "util/buf.h"
#include "util/fsutil.h"

static char *read_reference(void)
{
    /* the project's copy of the reference (the tests run in the checkout) */
    const char *src = getenv("CANARYD_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/flagger-behaviour.md", src ? src : ".");
    char *s = cd_read_file(path, NULL);
    if (!s)
        fail_msg("cannot read %s (set CANARYD_SRC)", path);
    return s;
}

/* The n-th `...` span of a markdown table cell, malloc'd. */
static char *backticked(const char *cell, size_t cell_len, int nth)
{
    const char *p = cell, *end = cell + cell_len;
    for (int k = 0; p < end; k++) {
        const char *a = memchr(p, '`', (size_t)(end - p));
        if (!a)
            return NULL;
        const char *b = memchr(a + 1, '`', (size_t)(end - a - 1));
        if (!b)
            return NULL;
        if (k == nth)
            return strndup(a + 1, (size_t)(b - a - 1));
        p = b + 1;
    }
    return NULL;
}

/* The reference row of an observer: its two cells. */
static bool reference_row(const char *md, const char *label, const char **sr, size_t *srn,
                          const char **du, size_t *dun)
{
    const char *sec = strstr(md, "### 3.3");
    if (!sec)
        return false;
    char key[64];
    snprintf(key, sizeof key, "\n| %s | ", label);
    const char *row = strstr(sec, key);
    if (!row)
        return false;
    row += strlen(key);
    const char *eol = strchr(row, '\n');
    /* cells are separated by " | " outside backticks */
    const char *cells[3];
    size_t lens[3];
    int nc = 0;
    const char *start = row;
    bool tick = false;
    for (const char *p = row; p < eol && nc < 3; p++) {
        if (*p == '`')
            tick = !tick;
        if (!tick && !strncmp(p, " | ", 3)) {
            cells[nc] = start;
            lens[nc++] = (size_t)(p - start);
            start = p + 3;
            p += 2;
        }
    }
    if (nc < 2) {
        cells[nc] = start;
        lens[nc++] = (size_t)(eol - start);
    }
    if (nc < 2)
        return false;
    *sr = cells[0];
    *srn = lens[0];
    *du = cells[1];
    *dun = lens[1];
    return true;
}

static cd_template_model podinfo_model(void)
{
    cd_template_model m = {"podinfo", "default", "podinfo", "podinfo", "podinfo", "podinfo",
                           "1m", NULL, NULL};
    return m;
}

static char *render_collapsed(const cd_observer *o, const char *metric, const cd_template_model *m)
{
    cd_err err = {""};
    char *q = cd_builtin_query(o, metric, m, &err);
    if (!q)
        fail_msg("%s %s: %s", o->name, metric, err.msg);
    char *c = cd_collapse_whitespace(q);
    free(q);
    return c;
}

/* The reference's template rendered by the same renderer: what Flagger
 * sends for the model (the reference text is already collapsed). */
static char *reference_rendered(const char *tmpl, const cd_template_model *m)
{
    cd_err err = {""};
    char *q = cd_template_render(tmpl, m, &err);
    if (!q)
        fail_msg("reference template does not render: %s", err.msg);
    char *c = cd_collapse_whitespace(q);
    free(q);
    return c;
}

static void compare_with_reference(const char *md, const char *label, const char *observer,
                                   const cd_template_model *m)
{
    const char *sr = NULL, *du = NULL;
    size_t srn = 0, dun = 0;
    if (!reference_row(md, label, &sr, &srn, &du, &dun))
        fail_msg("no reference row for %s", label);
    const cd_observer *o = cd_observer_for(observer);
    assert_string_equal(o->name, !strcmp(observer, "kubernetes") ? "http" : observer);
    const char *metrics[2] = {"request-success-rate", "request-duration"};
    const char *cells[2] = {sr, du};
    size_t lens[2] = {srn, dun};
    for (int i = 0; i < 2; i++) {
        char *t0 = backticked(cells[i], lens[i], 0);
        char *t1 = backticked(cells[i], lens[i], 1);
        assert_non_null(t0);
        if (!strcmp(observer, "skipper")) {
            /* "prefix `...` then `sum(...)`"; the duration cell says "same prefix" */
            free(t0);
            free(t1);
            t0 = backticked(cells[0], lens[0], 0);
            t1 = NULL;
            for (int k = 0; !t1; k++) {
                char *x = backticked(cells[i], lens[i], k);
                assert_non_null(x);
                if (!strncmp(x, "sum(", 4))
                    t1 = x;
                else
                    free(x);
            }
        }
        /* Flagger's templates start with a newline; Skipper's with its prefix */
        char *tmpl = malloc(strlen(t0) + (t1 ? strlen(t1) : 0) + 3);
        if (!strcmp(observer, "skipper"))
            sprintf(tmpl, "%s\n%s", t0, t1 ? t1 : "");
        else
            sprintf(tmpl, "\n%s", t0);
        cd_template_model em = *m;
        if (!strcmp(observer, "skipper")) {
            /* the reference template is rendered on the encoded model */
            em.namespace_ = "default_ns";
            em.ingress = "my_ingress";
            em.service = "my_svc";
            em.target = "my_target";
            em.name = "my_canary";
        }
        char *want = reference_rendered(tmpl, &em);
        char *got = render_collapsed(o, metrics[i], m);
        if (strcmp(want, got))
            fail_msg("%s %s differs from the reference:\n want: %s\n  got: %s", observer,
                     metrics[i], want, got);
        assert_int_equal(got[0], ' ');   /* the wire query begins with one space */
        free(want);
        free(got);
        free(tmpl);
        free(t0);
        free(t1);
    }
}

static void test_every_observer_matches_the_reference(void **state)
{
    char *md = read_reference();
    cd_template_model m = podinfo_model();
    m.interval = "2m";
    m.service = "podinfo-svc";
    m.ingress = "podinfo-ing";
    m.route = "podinfo-route";
    compare_with_reference(md, "appmesh", "appmesh", &m);
    compare_with_reference(md, "istio", "istio", &m);
    compare_with_reference(md, "linkerd", "linkerd", &m);
    compare_with_reference(md, "http (kubernetes, gatewayapi:*)", "kubernetes", &m);
    compare_with_reference(md, "nginx", "nginx", &m);
    compare_with_reference(md, "contour", "contour", &m);
    compare_with_reference(md, "gloo", "gloo", &m);
    compare_with_reference(md, "traefik", "traefik", &m);
    compare_with_reference(md, "kuma", "kuma", &m);
    compare_with_reference(md, "osm", "osm", &m);
    compare_with_reference(md, "apisix", "apisix", &m);
    compare_with_reference(md, "knative", "knative", &m);
    cd_template_model sk = podinfo_model();
    sk.namespace_ = "default-ns";
    sk.ingress = "my.ingress";
    sk.service = "my-svc";
    sk.target = "my-target";
    sk.name = "my-canary";
    compare_with_reference(md, "skipper", "skipper", &sk);
    /* canaryd's own, for StatefulSet targets: not in Flagger's reference */
    cd_template_model st = podinfo_model();
    st.revision = "podinfo-5f6d7c";
    char *q = render_collapsed(cd_observer_for("statefulset"), "request-success-rate", &st);
    assert_string_equal(
        q, " sum( rate( http_request_duration_seconds_count{ kubernetes_namespace=\"default\", "
           "kubernetes_pod_name=~\"podinfo-[0-9]+\", controller_revision_hash=\"podinfo-5f6d7c\", "
           "status!~\"5.*\" }[1m] ) ) / sum( rate( http_request_duration_seconds_count{ "
           "kubernetes_namespace=\"default\", kubernetes_pod_name=~\"podinfo-[0-9]+\", "
           "controller_revision_hash=\"podinfo-5f6d7c\" }[1m] ) ) * 100");
    free(q);
    q = render_collapsed(cd_observer_for("statefulset"), "request-duration", &st);
    assert_non_null(strstr(q, "http_request_duration_seconds_bucket{ kubernetes_namespace=\"default\", "
                              "kubernetes_pod_name=~\"podinfo-[0-9]+\", "
                              "controller_revision_hash=\"podinfo-5f6d7c\" }[1m]"));
    free(q);
    assert_true(cd_observer_duration_ms(cd_observer_for("statefulset"), 0.25) == 250);
    /* every observer in the table was compared */
    size_t n = 0;
    while (cd_observer_at(n))
        n++;
    assert_int_equal(n, 14);
    free(md);
}

/* Fully rendered queries, as Flagger's observer tests assert them. */
static void test_rendered_queries_from_flaggers_tests(void **state)
{
    cd_template_model m = podinfo_model();
    char *q = render_collapsed(cd_observer_for("appmesh"), "request-success-rate", &m);
    assert_string_equal(
        q, " sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace=\"default\", "
           "kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\", "
           "envoy_response_code!~\"5.*\" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ "
           "kubernetes_namespace=\"default\", kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" "
           "}[1m] ) ) * 100");
    free(q);
    q = render_collapsed(cd_observer_for("appmesh"), "request-duration", &m);
    assert_string_equal(
        q, " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
           "kubernetes_namespace=\"default\", kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" "
           "}[1m] ) ) by (le) )");
    free(q);
    q = render_collapsed(cd_observer_for("istio"), "request-success-rate", &m);
    assert_string_equal(
        q, " sum( rate( istio_requests_total{ reporter=\"destination\", "
           "destination_workload_namespace=\"default\", destination_workload=~\"podinfo\", "
           "response_code!~\"5.*\" }[1m] ) ) / sum( rate( istio_requests_total{ "
           "reporter=\"destination\", destination_workload_namespace=\"default\", "
           "destination_workload=~\"podinfo\" }[1m] ) ) * 100");
    free(q);
    cd_template_model sk = {"podinfo", "skipper", "backend", "backend", "skipper-ingress",
                            "backend", "1m", NULL, NULL};
    q = render_collapsed(cd_observer_for("skipper"), "request-success-rate", &sk);
    assert_string_equal(
        q, " sum(rate(skipper_response_duration_seconds_bucket{route=~\"kube(ew)?_skipper__skipper_"
           "ingress_canary__.*__backend_canary(_[0-9]+)?\",code!~\"5..\",le=\"+Inf\"}[1m])) / "
           "sum(rate(skipper_response_duration_seconds_bucket{route=~\"kube(ew)?_skipper__skipper_"
           "ingress_canary__.*__backend_canary(_[0-9]+)?\",le=\"+Inf\"}[1m])) * 100");
    free(q);
}

static void test_observer_selection(void **state)
{
    char p[64];
    cd_object_ref deploy = {"apps/v1", "Deployment", "podinfo", NULL};
    cd_object_ref svc = {"v1", "Service", "podinfo", NULL};
    cd_object_ref kn = {"serving.knative.dev/v1", "Service", "podinfo", NULL};

    cd_metrics_provider_name("istio", NULL, &deploy, p, sizeof p);
    assert_string_equal(p, "istio");
    cd_metrics_provider_name("istio", "appmesh:v1beta2", &deploy, p, sizeof p);
    assert_string_equal(p, "appmesh:v1beta2");
    assert_string_equal(cd_observer_for(p)->name, "appmesh");
    cd_metrics_provider_name("linkerd", "nginx", &deploy, p, sizeof p);
    assert_string_equal(p, "linkerd");
    cd_metrics_provider_name("smi:crossover", NULL, &deploy, p, sizeof p);
    assert_string_equal(p, "crossover");
    assert_string_equal(cd_observer_for(p)->name, "istio");
    cd_metrics_provider_name("istio", "kubernetes", &svc, p, sizeof p);
    assert_string_equal(p, "kubernetes:service");
    assert_string_equal(cd_observer_for(p)->name, "istio");   /* Flagger's fallback */
    cd_metrics_provider_name("istio", "knative", &kn, p, sizeof p);
    assert_string_equal(p, "knative");
    assert_string_equal(cd_observer_for(p)->name, "knative");

    /* a StatefulSet target: its updated pods, whatever the providers say */
    cd_object_ref sts = {"apps/v1", "StatefulSet", "db", NULL};
    cd_metrics_provider_name("istio", "kubernetes", &sts, p, sizeof p);
    assert_string_equal(p, "statefulset");
    assert_string_equal(cd_observer_for(p)->name, "statefulset");
    cd_metrics_provider_name("linkerd", NULL, &sts, p, sizeof p);
    assert_string_equal(p, "statefulset");

    assert_string_equal(cd_observer_for("gatewayapi:v1")->name, "http");
    assert_string_equal(cd_observer_for("gatewayapi:v1beta1")->name, "http");
    assert_string_equal(cd_observer_for("kubernetes")->name, "http");
    assert_string_equal(cd_observer_for("gloo:v1")->name, "gloo");
    assert_string_equal(cd_observer_for("smi:v1alpha3")->name, "istio");
    assert_string_equal(cd_observer_for("contour")->name, "contour");
    assert_string_equal(cd_observer_for("")->name, "istio");
    assert_string_equal(cd_observer_for(NULL)->name, "istio");
    for (size_t i = 0; cd_observer_at(i); i++)
        if (strcmp(cd_observer_at(i)->name, "http"))
            assert_ptr_equal(cd_observer_for(cd_observer_at(i)->name), cd_observer_at(i));
}

static void test_duration_units(void **state)
{
    /* the app-level observer reads seconds and multiplies by 1000 */
    assert_true(cd_observer_duration_ms(cd_observer_for("kubernetes"), 0.2507) == 250);
    assert_true(cd_observer_duration_ms(cd_observer_for("appmesh"), 99.9) == 99);
    assert_true(cd_observer_duration_ms(cd_observer_for("istio"), 100) == 100);
    assert_true(isnan(cd_observer_duration_ms(cd_observer_for("istio"), NAN)));
    cd_err err = {""};
    cd_template_model m = podinfo_model();
    assert_null(cd_builtin_query(cd_observer_for("istio"), "request-count", &m, &err));
    assert_string_equal(err.msg, "\"request-count\" is not a builtin metric");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_observer_matches_the_reference),
        cmocka_unit_test(test_rendered_queries_from_flaggers_tests),
        cmocka_unit_test(test_observer_selection),
        cmocka_unit_test(test_duration_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
