/* test_analysis_judge_port.c - the metrics port's reads for the statistical
 * judge, against a local server answering as Prometheus: the requests and
 * failed requests of each side (instant queries, {{ target }} = T or
 * T-primary), the per-step values of each side (range queries: start, end,
 * step, {{ interval }} = the step, NaN steps dropped, durations in ms), what
 * cannot be judged from Prometheus (clear errors), a Prometheus answering
 * errors, and the judge itself on top of the port: a bad canary is rolled
 * back, a good one passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include "testsrv.h"
#include "analysis/judged.h"
#include "analysis/metrics_port.h"
#include "judge/judge.h"
#include "model/object.h"

static testsrv prom;
static char manifest[8192];

static const char *yaml =
    "apiVersion: flagger.app/v1beta1\n"
    "kind: Canary\n"
    "metadata: {name: podinfo, namespace: test}\n"
    "spec:\n"
    "  provider: appmesh:v1beta2\n"
    "  metricsServer: \"%s\"\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service: {port: 9898}\n"
    "  analysis:\n"
    "    interval: 30s\n"
    "    threshold: 5\n"
    "    stepWeight: 10\n"
    "    metrics:\n"
    "    - name: request-success-rate\n"
    "      judge: {}\n"
    "    - name: request-duration\n"
    "      judge: {step: 5s}\n"
    "    - name: p95\n"
    "      templateRef: {name: p95}\n"
    "      templateVariables: {q: \"0.95\"}\n"
    "      judge: {test: latency}\n"
    "    - name: inline\n"
    "      query: 'max(lat{pod=~\"{{ target }}-.*\", ns=\"{{ namespace }}\"}[{{ interval }}])'\n"
    "      judge: {test: latency, step: 10s}\n"
    "    - name: error-ratio\n"
    "      templateRef: {name: p95}\n"
    "      judge: {test: errors}\n"
    "    - name: dd\n"
    "      templateRef: {name: dd}\n"
    "      judge: {test: latency}\n"
    "---\n"
    "apiVersion: flagger.app/v1beta1\n"
    "kind: MetricTemplate\n"
    "metadata: {name: p95, namespace: test}\n"
    "spec:\n"
    "  provider: {type: prometheus, address: \"%s\", headers: {X-Scope-OrgID: [t1]}}\n"
    "  query: 'histogram_quantile({{ variables.q }}, sum(rate(b{app=\"{{ target }}\"}[{{ interval }}])) by (le))'\n"
    "---\n"
    "apiVersion: flagger.app/v1beta1\n"
    "kind: MetricTemplate\n"
    "metadata: {name: dd, namespace: test}\n"
    "spec:\n"
    "  provider: {type: datadog, address: \"http://127.0.0.1:1\"}\n"
    "  query: avg:x{*}\n";

static struct {
    cd_object_list objs;
    cd_object *canary;
    cd_store store;
    cd_metrics_config cfg;
    cd_metrics_port port;
    cd_canary_status status;
    cd_canary_ref ref;
} fx;

/* What the fake Prometheus answers: counts per side, or failures. */
static struct {
    const char *canary_total, *canary_failed, *primary_total, *primary_failed;
    int status;
} answers;

#define EMPTY_VEC "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}"
#define MATRIX(vals) "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[" vals "]}]}}"

static const char *vec(const char *v)
{
    static char bufs[4][256];
    static int k;
    if (!v)
        return EMPTY_VEC;
    char *b = bufs[k++ % 4];
    snprintf(b, 256, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                     "[{\"metric\":{},\"value\":[1,\"%s\"]}]}}", v);
    return b;
}

static ts_response answer(testsrv *s, const ts_request *r)
{
    ts_response resp = {answers.status ? answers.status : 200, NULL, {NULL}, 0};
    char *q = ts_query_param(r, "query");
    bool primary = q && strstr(q, "-primary");
    bool failures = q && strstr(q, "=~\"5.*\"");
    if (!q) {
        resp.body = "{\"status\":\"error\",\"error\":\"no query\"}";
    } else if (answers.status) {
        resp.body = "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"boom\"}";
    } else if (!strncmp(r->uri, "/api/v1/query_range?", 20)) {
        resp.body = primary ? MATRIX("[1,\"0.10\"],[6,\"0.11\"],[11,\"NaN\"],[16,\"0.12\"]")
                            : MATRIX("[1,\"0.25\"],[6,\"NaN\"],[11,\"0.30\"]");
    } else if (!strncmp(r->uri, "/api/v1/query?", 14)) {
        resp.body = vec(primary ? (failures ? answers.primary_failed : answers.primary_total)
                                : (failures ? answers.canary_failed : answers.canary_total));
    } else {
        resp.status = 404;
        resp.body = "not found";
    }
    free(q);
    return resp;
}

static int setup(void **state)
{
    if (testsrv_start(&prom, false) < 0)
        return -1;
    prom.handler = answer;
    const char *url = testsrv_url(&prom, "");
    snprintf(manifest, sizeof manifest, yaml, url, url);
    cd_diags d;
    cd_diags_init(&d);
    memset(&fx, 0, sizeof fx);
    cd_manifest_load_buffer("t.yaml", manifest, strlen(manifest), false, "test", &fx.objs, &d);
    if (cd_diags_errors(&d)) {
        cd_diags_print(&d, stderr);
        return -1;
    }
    cd_diags_free(&d);
    for (size_t i = 0; i < fx.objs.n; i++)
        if (fx.objs.items[i]->kind == CD_KIND_CANARY)
            fx.canary = fx.objs.items[i];
    fx.store = cd_object_store(&fx.objs);
    fx.cfg.store = &fx.store;
    fx.port = cd_metrics_port_make(&fx.cfg);
    cd_status_init(&fx.status);
    fx.ref.meta = &fx.canary->meta;
    fx.ref.spec = &fx.canary->spec.canary;
    fx.ref.status = &fx.status;
    fx.ref.provider = "appmesh:v1beta2";
    return 0;
}

static int teardown(void **state)
{
    cd_metrics_port_release(&fx.port);
    cd_object_list_free(&fx.objs);
    cd_status_free(&fx.status);
    testsrv_stop(&prom);
    return 0;
}

static int reset(void **state)
{
    testsrv_reset(&prom);
    prom.handler = answer;
    answers.canary_total = "900.4";
    answers.canary_failed = "45.2";
    answers.primary_total = "2999.6";
    answers.primary_failed = "3";
    answers.status = 0;
    cd_status_free(&fx.status);
    cd_status_init(&fx.status);
    return 0;
}

static const cd_metric *metric(const char *name)
{
    const cd_analysis *a = &fx.canary->spec.canary.analysis;
    for (size_t i = 0; i < a->n_metrics; i++)
        if (!strcmp(a->metrics[i].name, name))
            return &a->metrics[i];
    fail_msg("no metric %s", name);
    return NULL;
}

static cd_metric_rc counts(const char *name, const char *which, uint64_t *t, uint64_t *f,
                           cd_err *err)
{
    return fx.port.counts(fx.port.ctx, &fx.ref, metric(name), which, t, f, err);
}

static cd_metric_rc samples(const char *name, const char *which, double **v, size_t *n,
                            cd_err *err)
{
    return fx.port.samples(fx.port.ctx, &fx.ref, metric(name), which, v, n, err);
}

static char *sent(size_t i)
{
    assert_true(testsrv_count(&prom) > i);
    return ts_query_param(&prom.req[i], "query");
}

static void test_counts_of_each_side(void **state)
{
    uint64_t t = 0, f = 0;
    cd_err err = {""};
    assert_int_equal(counts("request-success-rate", "canary", &t, &f, &err), CD_METRIC_OK);
    assert_true(t == 900 && f == 45);   /* increase() rounded to whole requests */
    assert_int_equal(testsrv_count(&prom), 2);
    char *q = sent(0);
    assert_string_equal(q, "sum( increase( envoy_cluster_upstream_rq{ kubernetes_namespace=\"test\", "
                           "kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[30s] ) )");
    free(q);
    q = sent(1);
    assert_string_equal(q, "sum( increase( envoy_cluster_upstream_rq{ kubernetes_namespace=\"test\", "
                           "kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\", "
                           "envoy_response_code=~\"5.*\" }[30s] ) )");
    free(q);
    assert_int_equal(strncmp(prom.req[0].uri, "/api/v1/query?query=", 20), 0);
    assert_int_equal(counts("request-success-rate", "primary", &t, &f, &err), CD_METRIC_OK);
    assert_true(t == 3000 && f == 3);
    q = sent(2);
    assert_non_null(strstr(q, "kubernetes_pod_name=~\"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\""));
    free(q);
}

static void test_counts_without_series(void **state)
{
    uint64_t t = 7, f = 7;
    cd_err err = {""};
    answers.canary_failed = NULL;   /* no 5xx series: no failures */
    assert_int_equal(counts("request-success-rate", "canary", &t, &f, &err), CD_METRIC_OK);
    assert_true(t == 900 && f == 0);
    answers.canary_total = NULL;    /* no series at all: no requests */
    assert_int_equal(counts("request-success-rate", "canary", &t, &f, &err), CD_METRIC_NO_DATA);
    assert_true(t == 0 && f == 0);
    assert_non_null(strstr(err.msg, "no requests to the canary"));
    answers.canary_total = "0";
    assert_int_equal(counts("request-success-rate", "canary", &t, &f, &err), CD_METRIC_NO_DATA);
}

static void test_counts_errors(void **state)
{
    uint64_t t = 7, f = 7;
    cd_err err = {""};
    answers.status = 500;
    assert_int_equal(counts("request-success-rate", "canary", &t, &f, &err), CD_METRIC_ERROR);
    assert_true(t == 0 && f == 0);
    assert_non_null(strstr(err.msg, "running the canary's requests query failed: error response (HTTP 500)"));
    answers.status = 0;
    answers.primary_total = "1e20";
    assert_int_equal(counts("request-success-rate", "primary", &t, &f, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "the primary's requests query returned 1e+20, not a count");
    answers.primary_total = "-3";   /* never negative: none */
    assert_int_equal(counts("request-success-rate", "primary", &t, &f, &err), CD_METRIC_NO_DATA);
    assert_int_equal(counts("request-success-rate", "both", &t, &f, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "unknown side \"both\" (canary or primary)");
    /* a latency metric has samples, not counts */
    assert_int_equal(counts("request-duration", "canary", &t, &f, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "judged by the latency test"));
    /* Prometheus down */
    testsrv dead;
    assert_true(testsrv_start(&dead, false) > 0);
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.metrics_server = strdup(testsrv_url(&dead, ""));
    testsrv_stop(&dead);
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    assert_int_equal(fx.port.counts(fx.port.ctx, &ref, metric("request-success-rate"), "primary",
                                    &t, &f, &err),
                     CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "running the primary's requests query failed: request failed"));
    free((char *)spec.metrics_server);
}

/* No Prometheus client for the metrics server: counts and samples fail
 * with Flagger's event text, and hand out nothing. */
static void test_no_client(void **state)
{
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.metrics_server = "not a url";
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    uint64_t t = 7, f = 7;
    cd_err err = {""};
    assert_int_equal(fx.port.counts(fx.port.ctx, &ref, metric("request-success-rate"), "canary",
                                    &t, &f, &err),
                     CD_METRIC_ERROR);
    assert_true(t == 0 && f == 0);
    assert_non_null(strstr(err.msg, "Error building Prometheus client for not a url"));
    double *v = (double *)&t;
    size_t n = 7;
    err.msg[0] = '\0';
    assert_int_equal(fx.port.samples(fx.port.ctx, &ref, metric("request-duration"), "primary", &v,
                                     &n, &err),
                     CD_METRIC_ERROR);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "Error building Prometheus client for not a url"));
}

/* start, end and step of a range request, in seconds */
static void range_params(const ts_request *r, double *start, double *end, double *step)
{
    char *s = ts_query_param(r, "start"), *e = ts_query_param(r, "end"),
         *st = ts_query_param(r, "step");
    assert_non_null(s);
    assert_non_null(e);
    assert_non_null(st);
    *start = atof(s);
    *end = atof(e);
    *step = atof(st);
    free(s);
    free(e);
    free(st);
}

static void test_samples_of_each_side(void **state)
{
    double *v = NULL;
    size_t n = 0;
    cd_err err = {""};
    assert_int_equal(samples("request-duration", "canary", &v, &n, &err), CD_METRIC_OK);
    assert_int_equal(n, 2);   /* the NaN step is dropped; App Mesh's are ms already */
    assert_true(v[0] == 0.25 && v[1] == 0.30);
    const ts_request *r = &prom.req[0];
    assert_int_equal(strncmp(r->uri, "/api/v1/query_range?query=", 26), 0);
    double start, end, step;
    range_params(r, &start, &end, &step);
    assert_true(step == 5);
    assert_true(fabs((end - start) - 25) < 1e-6);   /* window 30s: 6 steps, the first at +5s */
    char *q = sent(0);
    assert_string_equal(q, " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
                           "kubernetes_namespace=\"test\", kubernetes_pod_name=~\"podinfo-[0-9a-zA-Z]+"
                           "(-[0-9a-zA-Z]+)\" }[5s] ) ) by (le) )");
    free(q);
    /* the port keeps the values until its next call */
    assert_int_equal(samples("request-duration", "primary", &v, &n, &err), CD_METRIC_OK);
    assert_int_equal(n, 3);
    assert_true(v[0] == 0.10 && v[2] == 0.12);
    q = sent(1);
    assert_non_null(strstr(q, "kubernetes_pod_name=~\"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\" }[5s]"));
    free(q);
    /* app-level metrics are in seconds: the values become milliseconds */
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.provider = "kubernetes";
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    assert_int_equal(fx.port.samples(fx.port.ctx, &ref, metric("request-duration"), "canary", &v,
                                     &n, &err),
                     CD_METRIC_OK);
    assert_true(n == 2 && v[0] == 250 && v[1] == 300);
    q = sent(2);
    assert_non_null(strstr(q, "http_request_duration_seconds_bucket"));
    free(q);
    /* an errors metric has counts, not samples */
    assert_int_equal(samples("request-success-rate", "canary", &v, &n, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "judged by the errors test"));
    assert_null(v);
}

static void test_samples_of_templates_and_queries(void **state)
{
    double *v = NULL;
    size_t n = 0;
    cd_err err = {""};
    assert_int_equal(samples("p95", "primary", &v, &n, &err), CD_METRIC_OK);
    assert_int_equal(n, 3);
    char *q = sent(0);
    /* {{ target }} is the primary's workload; the default step, 15s, is {{ interval }} */
    assert_string_equal(q, "histogram_quantile(0.95, sum(rate(b{app=\"podinfo-primary\"}[15s])) by (le))");
    free(q);
    assert_string_equal(ts_header(&prom.req[0], "X-Scope-OrgID"), "t1");
    double start, end, step;
    range_params(&prom.req[0], &start, &end, &step);
    assert_true(step == 15 && fabs((end - start) - 15) < 1e-6);
    assert_int_equal(samples("inline", "canary", &v, &n, &err), CD_METRIC_OK);
    q = sent(1);
    assert_string_equal(q, "max(lat{pod=~\"podinfo-.*\", ns=\"test\"}[10s])");
    free(q);
    range_params(&prom.req[1], &start, &end, &step);
    assert_true(step == 10 && fabs((end - start) - 20) < 1e-6);
}

static void test_what_cannot_be_judged(void **state)
{
    double *v = NULL;
    size_t n = 0;
    uint64_t t, f;
    cd_err err = {""};
    assert_int_equal(counts("error-ratio", "canary", &t, &f, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error-ratio: the errors test needs request and failure counts, "
                                 "which canaryd reads only for the builtin request-success-rate "
                                 "(docs/judge.md); judge this metric with test: latency (its "
                                 "per-step values), or judge request-success-rate");
    assert_int_equal(samples("dd", "canary", &v, &n, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "metric template dd.test uses the datadog provider: the "
                                 "statistical judge reads per-step values from Prometheus only");
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.provider = "apisix";
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    assert_int_equal(fx.port.counts(fx.port.ctx, &ref, metric("request-success-rate"), "canary",
                                    &t, &f, &err),
                     CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "rendering the canary's query failed: the statistical judge "
                                    "cannot compare the canary with the primary on apisix's"));
    assert_int_equal(testsrv_count(&prom), 0);   /* nothing was sent */
    /* describe: the same, without running anything */
    cd_judged_description d;
    assert_false(cd_metrics_describe_judged(&fx.cfg, &ref, metric("request-success-rate"),
                                            "primary", &d, &err));
    assert_true(cd_metrics_describe_judged(&fx.cfg, &fx.ref, metric("request-success-rate"),
                                           "primary", &d, &err));
    assert_false(d.latency);
    assert_int_equal(d.window_ms, 30000);
    assert_non_null(strstr(d.queries[1], "podinfo-primary-"));
    cd_judged_description_free(&d);
    assert_int_equal(testsrv_count(&prom), 0);
}

/* The judge reading through the port: one window of a bad canary (5 %
 * errors against 0.1 %) rolls back; a good one (same rates) passes. */
static void test_judge_on_the_port(void **state)
{
    cd_judge_verdict v;
    cd_err err = {""};
    cd_metric_rc rc = cd_judge_metric(NULL, &fx.port, &fx.ref, metric("request-success-rate"),
                                      1700000000000, &v, &err);
    if (rc != CD_METRIC_OK)
        fail_msg("judge: %s", err.msg);
    assert_true(v.rollback && !v.pass);
    assert_non_null(strstr(v.reason, "worse than the primary: canary 5.00% (45/900) vs primary "
                                     "0.10% (3/3000) errors"));
    const cd_judge_state *st = cd_status_judge_find(&fx.status, "request-success-rate");
    assert_true(st->canary.samples == 900 && st->primary.bad == 3);

    reset(state);
    answers.canary_failed = "1";
    rc = cd_judge_metric(NULL, &fx.port, &fx.ref, metric("request-success-rate"), 1700000000000,
                         &v, &err);
    assert_int_equal(rc, CD_METRIC_OK);
    assert_true(v.pass && !v.hold && !v.rollback);
    assert_non_null(strstr(v.reason, "no evidence of harm"));

    /* latency: canary 250-300 ms against 100-120 ms, two windows */
    reset(state);
    rc = cd_judge_metric(NULL, &fx.port, &fx.ref, metric("request-duration"), 1700000000000, &v,
                         &err);
    assert_int_equal(rc, CD_METRIC_OK);
    st = cd_status_judge_find(&fx.status, "request-duration");
    assert_true(st->canary.samples == 2 && st->primary.samples == 3);
    assert_true(st->estimate > 100);   /* percent: the canary is ~2.5x slower */

    /* a failing read is an error for the engine (a failed check), not a verdict */
    reset(state);
    answers.status = 503;
    rc = cd_judge_metric(NULL, &fx.port, &fx.ref, metric("request-success-rate"), 1700000000000,
                         &v, &err);
    assert_int_equal(rc, CD_METRIC_ERROR);
    assert_null(cd_status_judge_find(&fx.status, "request-success-rate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_counts_of_each_side, reset),
        cmocka_unit_test_setup(test_counts_without_series, reset),
        cmocka_unit_test_setup(test_counts_errors, reset),
        cmocka_unit_test_setup(test_no_client, reset),
        cmocka_unit_test_setup(test_samples_of_each_side, reset),
        cmocka_unit_test_setup(test_samples_of_templates_and_queries, reset),
        cmocka_unit_test_setup(test_what_cannot_be_judged, reset),
        cmocka_unit_test_setup(test_judge_on_the_port, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
