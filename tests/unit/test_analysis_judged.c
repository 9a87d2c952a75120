/* test_analysis_judged.c - the statistical judge's builtin queries: every
 * observer's requests, failed requests and request-duration series, for
 * the canary and for the primary, rendered and whitespace-collapsed,
 * compared character for character with the table of docs/metrics.md
 * ("The builtin queries, side by side", read from $CANARYD_SRC) and with
 * fully rendered queries; the observers that cannot tell the primary
 * apart are refused with their reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/judged.h"
#include "util/fsutil.h"
#include "util/buf.h"

static char *read_docs(void)
{
    const char *src = getenv("CANARYD_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/metrics.md", src ? src : ".");
    char *s = cd_read_file(path, NULL);
    if (!s)
        fail_msg("cannot read %s (set CANARYD_SRC)", path);
    return s;
}

/* The three backticked cells of the docs row "| observer | side | ...". */
static bool docs_row(const char *md, const char *observer, const char *side, char *cells[3])
{
    const char *sec = strstr(md, "### The builtin queries, side by side");
    if (!sec)
        return false;
    char key[96];
    snprintf(key, sizeof key, "\n| %s | %s | ", observer, side);
    const char *p = strstr(sec, key);
    if (!p)
        return false;
    p += strlen(key);
    const char *eol = strchr(p, '\n');
    for (int i = 0; i < 3; i++) {
        const char *a = memchr(p, '`', (size_t)(eol - p));
        const char *b = a ? memchr(a + 1, '`', (size_t)(eol - a - 1)) : NULL;
        if (!b)
            return false;
        cells[i] = strndup(a + 1, (size_t)(b - a - 1));
        p = b + 1;
    }
    return true;
}

static char *trimmed_collapsed(char *q)
{
    char *c = cd_collapse_whitespace(q);
    free(q);
    size_t start = strspn(c, " ");
    size_t n = strlen(c + start);
    while (n && c[start + n - 1] == ' ')
        n--;
    char *t = strndup(c + start, n);
    free(c);
    return t;
}

static cd_template_model model(const char *interval)
{
    cd_template_model m = {"podinfo", "test", "podinfo", "podinfo-svc", "podinfo-ing",
                           "podinfo-route", interval, NULL, NULL};
    return m;
}

static char *judged(const cd_observer *o, cd_judged_kind k, bool primary,
                    const cd_template_model *m)
{
    cd_err err = {""};
    char *q = cd_judged_builtin_query(o, k, primary, m, &err);
    if (!q)
        fail_msg("%s %d %d: %s", o->name, k, primary, err.msg);
    return trimmed_collapsed(q);
}

static void test_every_observer_matches_the_docs(void **state)
{
    char *md = read_docs();
    size_t supported = 0, refused = 0;
    for (size_t i = 0; cd_observer_at(i); i++) {
        const cd_observer *o = cd_observer_at(i);
        const char *rq, *fl, *mk, *pm, *why;
        cd_judged_templates(o, &rq, &fl, &mk, &pm, &why);
        if (why) {
            refused++;
            char item[64];
            snprintf(item, sizeof item, "- `%s`: ", o->name);
            if (!strstr(md, item))
                fail_msg("docs/metrics.md does not say why %s is refused", o->name);
            continue;
        }
        supported++;
        for (int side = 0; side < 2; side++) {
            char *cells[3];
            if (!docs_row(md, o->name, side ? "primary" : "canary", cells))
                fail_msg("docs/metrics.md has no %s row for %s", side ? "primary" : "canary",
                         o->name);
            cd_judged_kind kinds[3] = {CD_JUDGED_REQUESTS, CD_JUDGED_FAILURES, CD_JUDGED_DURATION};
            for (int k = 0; k < 3; k++) {
                cd_template_model m = model(k == 2 ? "15s" : "1m");
                cd_err err = {""};
                /* the docs' template, rendered as the observer renders (Skipper's encoding) */
                char *want = cd_observer_render(o, cells[k], &m, &err);
                if (!want)
                    fail_msg("docs template of %s does not render: %s", o->name, err.msg);
                want = trimmed_collapsed(want);
                char *got = judged(o, kinds[k], side == 1, &m);
                if (strcmp(want, got))
                    fail_msg("%s %s query %d differs from docs/metrics.md:\n docs: %s\n code: %s",
                             o->name, side ? "primary" : "canary", k, want, got);
                /* the canary's series is Flagger's request-duration query */
                if (k == 2 && side == 0) {
                    char *b = cd_builtin_query(o, "request-duration", &m, &err);
                    b = trimmed_collapsed(b);
                    assert_string_equal(b, got);
                    free(b);
                }
                free(want);
                free(got);
                free(cells[k]);
            }
        }
    }
    assert_int_equal(supported, 12);
    assert_int_equal(refused, 2);
    free(md);
}

/* Fully rendered, as they go out for podinfo in namespace test. */
static void test_rendered_queries(void **state)
{
    cd_template_model m = model("1m");
    char *q = judged(cd_observer_for("appmesh"), CD_JUDGED_REQUESTS, true, &m);
    assert_string_equal(q, "sum( increase( envoy_cluster_upstream_rq{ kubernetes_namespace=\"test\", "
                           "kubernetes_pod_name=~\"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" "
                           "}[1m] ) )");
    free(q);
    q = judged(cd_observer_for("canaryd"), CD_JUDGED_FAILURES, false, &m);
    assert_string_equal(q, "sum( increase( envoy_cluster_upstream_rq{ kubernetes_namespace=\"test\", "
                           "kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\", "
                           "envoy_response_code=~\"5.*\" }[1m] ) )");
    free(q);
    q = judged(cd_observer_for("linkerd"), CD_JUDGED_FAILURES, true, &m);
    assert_string_equal(q, "sum( increase( response_total{ namespace=\"test\", "
                           "deployment=~\"podinfo-primary\", classification=\"failure\", "
                           "direction=\"inbound\" }[1m] ) )");
    free(q);
    q = judged(cd_observer_for("nginx"), CD_JUDGED_REQUESTS, true, &m);
    assert_string_equal(q, "sum( increase( nginx_ingress_controller_requests{ namespace=\"test\", "
                           "ingress=\"podinfo-ing\", canary=\"\" }[1m] ) )");
    free(q);
    m.interval = "15s";
    q = judged(cd_observer_for("contour"), CD_JUDGED_DURATION, true, &m);
    assert_string_equal(q, "histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
                           "envoy_cluster_name=~\"test_podinfo-svc-primary_[0-9a-zA-Z-]+\", }[15s] ) ) "
                           "by (le) )");
    free(q);
    /* a StatefulSet: the pods on the update revision against the others */
    m.revision = "podinfo-7d4b9c";
    q = judged(cd_observer_for("statefulset"), CD_JUDGED_DURATION, true, &m);
    assert_string_equal(q, "histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ "
                           "kubernetes_namespace=\"test\", kubernetes_pod_name=~\"podinfo-[0-9]+\", "
                           "controller_revision_hash!=\"podinfo-7d4b9c\" }[15s] ) ) by (le) )");
    free(q);
    m.interval = "1m";
    q = judged(cd_observer_for("statefulset"), CD_JUDGED_FAILURES, false, &m);
    assert_string_equal(q, "sum( increase( http_request_duration_seconds_count{ "
                           "kubernetes_namespace=\"test\", kubernetes_pod_name=~\"podinfo-[0-9]+\", "
                           "controller_revision_hash=\"podinfo-7d4b9c\", status=~\"5.*\" }[1m] ) )");
    free(q);
    q = judged(cd_observer_for("statefulset"), CD_JUDGED_REQUESTS, true, &m);
    assert_string_equal(q, "sum( increase( http_request_duration_seconds_count{ "
                           "kubernetes_namespace=\"test\", kubernetes_pod_name=~\"podinfo-[0-9]+\", "
                           "controller_revision_hash!=\"podinfo-7d4b9c\" }[1m] ) )");
    free(q);
    /* Skipper: the route of the primary's backend, names encoded */
    cd_template_model sk = {"my-canary", "default-ns", "my-target", "my-svc", "my.ingress",
                            "r", "1m", NULL, NULL};
    q = judged(cd_observer_for("skipper"), CD_JUDGED_REQUESTS, true, &sk);
    assert_string_equal(q, "sum( increase( skipper_response_duration_seconds_bucket{ route=~\""
                           "kube(ew)?_default_ns__my_ingress_canary__.*__my_svc_primary(_[0-9]+)?\", "
                           "le=\"+Inf\" }[1m] ) )");
    free(q);
}

static void test_refused_and_helpers(void **state)
{
    cd_template_model m = model("1m");
    cd_err err = {""};
    assert_null(cd_judged_builtin_query(cd_observer_for("apisix"), CD_JUDGED_REQUESTS, false, &m,
                                        &err));
    assert_non_null(strstr(err.msg, "cannot compare the canary with the primary on apisix's"));
    assert_null(cd_judged_builtin_query(cd_observer_for("knative"), CD_JUDGED_DURATION, true, &m,
                                        &err));
    assert_non_null(strstr(err.msg, "knative"));
    bool primary = false;
    assert_true(cd_judged_side("primary", &primary, &err) && primary);
    assert_true(cd_judged_side("canary", &primary, &err) && !primary);
    assert_false(cd_judged_side("both", &primary, &err));
    assert_string_equal(err.msg, "unknown side \"both\" (canary or primary)");
    assert_false(cd_judged_side(NULL, &primary, &err));
    char *t = cd_primary_target("podinfo");
    assert_string_equal(t, "podinfo-primary");
    free(t);
    /* a render error (an unknown variable) is reported, not half-rendered */
    assert_null(cd_observer_render(cd_observer_for("istio"), "x{{ variables.nope }}", &m, &err));
    assert_true(strlen(err.msg) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_observer_matches_the_docs),
        cmocka_unit_test(test_rendered_queries),
        cmocka_unit_test(test_refused_and_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
