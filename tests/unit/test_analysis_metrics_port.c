/* test_analysis_metrics_port.c - the metrics port end to end against a
 * local server answering as Prometheus: builtin, inline and MetricTemplate
 * metrics of a decoded Canary, secrets from the local source, the
 * availability check, and a Prometheus that is down, slow or answering
 * garbage producing failed checks with Flagger's event texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include "testsrv.h"
#include "analysis/metrics_port.h"
#include "analysis/observers.h"
#include "model/object.h"
#include "util/buf.h"

static testsrv prom;
static char secrets_dir[64];
static char manifest[8192];

static const char *canary_yaml =
    "apiVersion: flagger.app/v1beta1\n"
    "kind: Canary\n"
    "metadata: {name: podinfo, namespace: test}\n"
    "spec:\n"
    "  provider: appmesh:v1beta2\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service: {port: 9898}\n"
    "  analysis:\n"
    "    interval: 1m\n"
    "    threshold: 5\n"
    "    stepWeight: 10\n"
    "    maxWeight: 50\n"
    "    metrics:\n"
    "    - name: request-success-rate\n"
    "      thresholdRange: {min: 99}\n"
    "      interval: 1m\n"
    "    - name: request-duration\n"
    "      thresholdRange: {max: 500}\n"
    "      interval: 30s\n"
    "    - name: errors\n"
    "      query: sum(rate(errors{ns=\"{{ namespace }}\"}[{{ interval }}]))\n"
    "      thresholdRange: {max: 1}\n"
    "    - name: latency\n"
    "      templateRef: {name: latency}\n"
    "      templateVariables: {direction: inbound}\n"
    "      thresholdRange: {max: 100}\n"
    "    - name: broken\n"
    "      templateRef: {name: broken}\n"
    "      thresholdRange: {max: 100}\n"
    "    - name: missing\n"
    "      templateRef: {name: missing, namespace: other}\n"
    "      thresholdRange: {max: 100}\n"
    "    - name: nosecret\n"
    "      templateRef: {name: nosecret}\n"
    "      thresholdRange: {max: 100}\n"
    "---\n"
    "apiVersion: flagger.app/v1beta1\n"
    "kind: MetricTemplate\n"
    "metadata: {name: latency, namespace: test}\n"
    "spec:\n"
    "  provider: {type: prometheus, address: \"%s\", secretRef: {name: prom-auth}}\n"
    "  query: |\n"
    "    histogram_quantile(0.99, sum(rate(\n"
    "      response_latency_ms_bucket{namespace=\"{{ namespace }}\", deployment=~\"{{ target }}\",\n"
    "        direction=\"{{ variables.direction }}\"}[{{ interval }}])) by (le))\n"
    "---\n"
    "apiVersion: flagger.app/v1beta1\n"
    "kind: MetricTemplate\n"
    "metadata: {name: broken, namespace: test}\n"
    "spec:\n"
    "  provider: {type: prometheus, address: \"%s\"}\n"
    "  query: 'x{d=\"{{ variables.nope }}\"}'\n"
    "---\n"
    "apiVersion: flagger.app/v1beta1\n"
    "kind: MetricTemplate\n"
    "metadata: {name: nosecret, namespace: test}\n"
    "spec:\n"
    "  provider: {type: prometheus, address: \"%s\", secretRef: {name: absent}}\n"
    "  query: up\n";

typedef struct fixture {
    cd_object_list objs;
    cd_object *canary;
    cd_store store;
    cd_local_secrets local;
    cd_secret_source secrets;
    cd_metrics_config cfg;
    cd_metrics_port port;
    cd_canary_status status;
    cd_canary_ref ref;
} fixture;

static fixture fx;

static ts_response answer(testsrv *s, const ts_request *r)
{
    char *q = ts_query_param(r, "query");
    ts_response resp = {200, NULL, {NULL}, 0};
    if (!q)
        resp.body = "{\"status\":\"error\",\"error\":\"no query\"}";
    else if (strstr(q, "vector(1)"))
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"1\"]}]}}";
    else if (strstr(q, "envoy_cluster_upstream_rq_time_bucket"))
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"212.9\"]}]}}";
    else if (strstr(q, "envoy_cluster_upstream_rq"))
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"99.5\"]}]}}";
    else if (strstr(q, "http_request_duration_seconds_bucket"))
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"0.2507\"]}]}}";
    else if (strstr(q, "errors{"))
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"0.25\"]}]}}";
    else if (strstr(q, "response_latency_ms_bucket"))
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"42\"]}]}}";
    else
        resp.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
    free(q);
    return resp;
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup(void **state)
{
    if (testsrv_start(&prom, false) < 0)
        return -1;
    prom.handler = answer;
    snprintf(secrets_dir, sizeof secrets_dir, "/tmp/canaryd-secrets.XXXXXX");
    if (!mkdtemp(secrets_dir))
        return -1;
    char p[256];
    snprintf(p, sizeof p, "%s/test", secrets_dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/test/prom-auth", secrets_dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/test/prom-auth/token", secrets_dir);
    write_file(p, "s3cr3t\n");   /* the trailing newline is dropped */

    const char *url = testsrv_url(&prom, "");
    snprintf(manifest, sizeof manifest, canary_yaml, url, url, url);
    cd_diags d;
    cd_diags_init(&d);
    memset(&fx, 0, sizeof fx);
    cd_manifest_load_buffer("test.yaml", manifest, strlen(manifest), false, "test", &fx.objs, &d);
    if (cd_diags_errors(&d)) {
        cd_diags_print(&d, stderr);
        return -1;
    }
    cd_diags_free(&d);
    for (size_t i = 0; i < fx.objs.n; i++)
        if (fx.objs.items[i]->kind == CD_KIND_CANARY)
            fx.canary = fx.objs.items[i];
    fx.store = cd_object_store(&fx.objs);
    fx.local.dir = secrets_dir;
    fx.secrets = cd_local_secret_source(&fx.local);
    fx.cfg.metrics_server = url;
    fx.cfg.mesh_provider = "istio";
    fx.cfg.store = &fx.store;
    fx.cfg.secrets = &fx.secrets;
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
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", secrets_dir);
    if (system(cmd) != 0)
        return -1;
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
    fx.cfg.prometheus_timeout_ms = 0;
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

static cd_metric_rc query(const char *name, double *v, cd_err *err)
{
    return fx.port.query(fx.port.ctx, &fx.ref, metric(name), v, err);
}

static void test_builtin_appmesh(void **state)
{
    double v;
    cd_err err = {""};
    assert_int_equal(query("request-success-rate", &v, &err), CD_METRIC_OK);
    assert_true(v == 99.5);
    /* the query on the wire is Flagger's App Mesh query for this canary */
    char *sent = ts_query_param(&prom.req[0], "query");
    cd_template_model m = {"podinfo", "test", "podinfo", "podinfo", "podinfo", "podinfo", "1m", NULL, NULL};
    cd_err e = {""};
    char *q = cd_builtin_query(cd_observer_for("appmesh"), "request-success-rate", &m, &e);
    char *want = cd_collapse_whitespace(q);
    assert_string_equal(sent, want);
    free(sent);
    free(q);
    free(want);
    /* request-duration in milliseconds, truncated; its own interval */
    assert_int_equal(query("request-duration", &v, &err), CD_METRIC_OK);
    assert_true(v == 212);
    sent = ts_query_param(&prom.req[1], "query");
    assert_non_null(strstr(sent, "}[30s]"));
    free(sent);
}

static void test_builtin_app_level_seconds(void **state)
{
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.provider = "kubernetes";
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    double v;
    cd_err err = {""};
    assert_int_equal(fx.port.query(fx.port.ctx, &ref, metric("request-duration"), &v, &err),
                     CD_METRIC_OK);
    assert_true(v == 250);   /* 0.2507 s -> 250 ms */
}

static void test_metrics_server_override(void **state)
{
    testsrv other;
    assert_true(testsrv_start(&other, false) > 0);
    other.handler = answer;
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.metrics_server = testsrv_url(&other, "");
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    double v;
    cd_err err = {""};
    assert_int_equal(fx.port.query(fx.port.ctx, &ref, metric("request-success-rate"), &v, &err),
                     CD_METRIC_OK);
    assert_int_equal(testsrv_count(&other), 1);
    assert_int_equal(testsrv_count(&prom), 0);
    testsrv_stop(&other);
}

static void test_inline_query_is_rendered(void **state)
{
    double v;
    cd_err err = {""};
    assert_int_equal(query("errors", &v, &err), CD_METRIC_OK);
    assert_true(v == 0.25);
    char *sent = ts_query_param(&prom.req[0], "query");
    assert_string_equal(sent, "sum(rate(errors{ns=\"test\"}[1m]))");
    free(sent);
}

static void test_template_with_secret_and_variables(void **state)
{
    double v;
    cd_err err = {""};
    assert_int_equal(query("latency", &v, &err), CD_METRIC_OK);
    assert_true(v == 42);
    char *sent = ts_query_param(&prom.req[0], "query");
    assert_string_equal(sent, "histogram_quantile(0.99, sum(rate( response_latency_ms_bucket{"
                              "namespace=\"test\", deployment=~\"podinfo\", direction=\"inbound\"}"
                              "[1m])) by (le)) ");
    free(sent);
    assert_string_equal(ts_header(&prom.req[0], "Authorization"), "Bearer s3cr3t");
}

static void test_template_errors(void **state)
{
    double v;
    cd_err err = {""};
    assert_int_equal(query("missing", &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "Metric template missing.other error: metrictemplate.flagger.app "
                                 "\"missing\" not found");
    assert_int_equal(query("broken", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "Metric template broken.test query render error: template: "));
    assert_non_null(strstr(err.msg, "map has no entry for key \"nope\""));
    assert_int_equal(query("nosecret", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "Metric template nosecret.test secret absent error: "
                                    "secrets \"absent\" not found"));
    assert_int_equal(testsrv_count(&prom), 0);   /* nothing was queried */
    /* a metric without builtin name, query or template */
    cd_metric m = *metric("errors");
    m.query = NULL;
    assert_int_equal(fx.port.query(fx.port.ctx, &fx.ref, &m, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "Metric query failed for no usable metrics template and query "
                                 "were configured");
}

static ts_response empty(testsrv *s, const ts_request *r)
{
    ts_response x = {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
                     {NULL}, 0};
    return x;
}

static ts_response garbage(testsrv *s, const ts_request *r)
{
    ts_response x = {200, "\x01\x02 garbage {[", {NULL}, 0};
    return x;
}

static ts_response slow(testsrv *s, const ts_request *r)
{
    ts_response x = {200, "{}", {NULL}, 1500};
    return x;
}

static void test_no_data_event(void **state)
{
    prom.handler = empty;
    double v;
    cd_err err = {""};
    assert_int_equal(query("request-success-rate", &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "Halt advancement no values found for appmesh:v1beta2 metric "
                                 "request-success-rate probably podinfo.test is not receiving "
                                 "traffic: running query failed: no values found");
    assert_int_equal(query("request-duration", &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "Halt advancement no values found for appmesh:v1beta2 metric "
                                 "request-duration probably podinfo.test is not receiving traffic");
    assert_int_equal(query("errors", &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "Halt advancement no values found for metric: errors");
    assert_int_equal(query("latency", &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "Halt advancement no values found for custom metric: latency: "
                                 "no values found");
}

static void test_prometheus_down_slow_garbage(void **state)
{
    double v;
    cd_err err = {""};
    prom.handler = garbage;
    assert_int_equal(query("request-success-rate", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "Prometheus query failed: running query failed: error "
                                    "unmarshaling result"));
    assert_int_equal(query("latency", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "Metric query failed for latency: error unmarshaling result"));

    prom.handler = slow;
    fx.cfg.prometheus_timeout_ms = 200;
    assert_int_equal(query("request-success-rate", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "timed out after 200 ms"));

    cd_canary_spec spec = fx.canary->spec.canary;
    spec.metrics_server = "http://127.0.0.1:1";
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    assert_int_equal(fx.port.query(fx.port.ctx, &ref, metric("request-success-rate"), &v, &err),
                     CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "Prometheus query failed: running query failed: request "
                                    "failed: request to http://127.0.0.1:1/api/v1/query failed"));
    spec.metrics_server = "not a url";
    assert_int_equal(fx.port.query(fx.port.ctx, &ref, metric("request-success-rate"), &v, &err),
                     CD_METRIC_ERROR);
    assert_string_equal(err.msg, "Error building Prometheus client for not a url prometheus "
                                 "address \"not a url\" is not a valid URL");
}

static void test_check_providers(void **state)
{
    cd_err err = {""};
    /* the canary references missing templates: the check names the first */
    assert_int_equal(fx.port.check_providers(fx.port.ctx, &fx.ref, &err), CD_ERROR);
    assert_string_equal(err.msg, "metric template missing.other error: metrictemplate.flagger.app "
                                 "\"missing\" not found");
    /* only the healthy metrics */
    cd_canary_spec spec = fx.canary->spec.canary;
    spec.analysis.n_metrics = 4;   /* success rate, duration, errors, latency */
    cd_canary_ref ref = fx.ref;
    ref.spec = &spec;
    testsrv_reset(&prom);
    prom.handler = answer;
    assert_int_equal(fx.port.check_providers(fx.port.ctx, &ref, &err), CD_OK);
    assert_true(testsrv_count(&prom) >= 2);
    char *q = ts_query_param(&prom.req[0], "query");
    assert_string_equal(q, "vector(1)");
    free(q);
    /* a Prometheus that answers 0 for vector(1) is not available */
    prom.handler = empty;
    assert_int_equal(fx.port.check_providers(fx.port.ctx, &ref, &err), CD_ERROR);
    assert_non_null(strstr(err.msg, "prometheus not available: running query failed: no values found"));
    /* a template whose provider is down */
    spec.analysis.metrics = (cd_metric *)metric("latency");
    spec.analysis.n_metrics = 1;
    prom.handler = garbage;
    assert_int_equal(fx.port.check_providers(fx.port.ctx, &ref, &err), CD_ERROR);
    assert_non_null(strstr(err.msg, "prometheus in metric template latency.test not available"));
}

static void test_describe(void **state)
{
    char provider[32], address[512];
    char *q = NULL;
    cd_err err = {""};
    assert_true(cd_metrics_describe(&fx.cfg, &fx.ref, metric("latency"), provider, address, &q, &err));
    assert_string_equal(provider, "prometheus");
    assert_non_null(strstr(q, "direction=\"inbound\""));
    free(q);
    assert_true(cd_metrics_describe(&fx.cfg, &fx.ref, metric("request-success-rate"), provider,
                                    address, &q, &err));
    assert_non_null(strstr(q, "envoy_cluster_upstream_rq"));
    free(q);
    assert_false(cd_metrics_describe(&fx.cfg, &fx.ref, metric("missing"), provider, address, &q, &err));
    assert_int_equal(testsrv_count(&prom), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_builtin_appmesh, reset),
        cmocka_unit_test_setup(test_builtin_app_level_seconds, reset),
        cmocka_unit_test_setup(test_metrics_server_override, reset),
        cmocka_unit_test_setup(test_inline_query_is_rendered, reset),
        cmocka_unit_test_setup(test_template_with_secret_and_variables, reset),
        cmocka_unit_test_setup(test_template_errors, reset),
        cmocka_unit_test_setup(test_no_data_event, reset),
        cmocka_unit_test_setup(test_prometheus_down_slow_garbage, reset),
        cmocka_unit_test_setup(test_check_providers, reset),
        cmocka_unit_test_setup(test_describe, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
