/* test_providers_externalmetrics.c - the `externalmetrics` provider (Flagger
 * 1.43) against a local server answering as an External Metrics API server
 * does (ExternalMetricValueList, Kubernetes quantities, Status errors), and
 * through the cluster callback canaryd kube gives it: request path and
 * label selector, value picking, no data, error and garbage answers,
 * timeouts, the online check, query and constructor errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include "testsrv.h"
#include "providers/provider.h"

static testsrv srv;

static int setup(void **state) { return testsrv_start(&srv, false) > 0 ? 0 : -1; }
static int teardown(void **state) { testsrv_stop(&srv); return 0; }
static int reset(void **state) { testsrv_reset(&srv); return 0; }

#define LIST(items) \
    "{\"kind\":\"ExternalMetricValueList\",\"apiVersion\":\"external.metrics.k8s.io/v1beta1\"," \
    "\"metadata\":{},\"items\":[" items "]}"
#define ITEM(v) \
    "{\"metricName\":\"s0-rps\",\"metricLabels\":null,\"timestamp\":\"2026-12-07T22:00:00Z\"," \
    "\"value\":\"" v "\"}"
#define NOT_FOUND \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\"," \
    "\"message\":\"the server could not find the requested resource\",\"reason\":\"NotFound\"," \
    "\"details\":{},\"code\":404}"
#define API "/apis/external.metrics.k8s.io/v1beta1/namespaces/"

static cd_provider_config config(const char *address, cd_secret *secret)
{
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "externalmetrics";
    c.address = address;
    c.secret = secret;
    c.interval = "1m";
    return c;
}

static cd_metric_rc run(const cd_provider_config *c, const char *q, double *v, cd_err *err)
{
    cd_provider *p = cd_provider_open(c, err);
    if (!p)
        fail_msg("open failed: %s", err->msg);
    cd_metric_rc rc = cd_provider_query(p, q, v, err);
    cd_provider_close(p);
    return rc;
}

static void test_query_against_server(void **state)
{
    cd_secret s;
    cd_secret_init(&s, "em");
    cd_secret_put(&s, "token", "tok-1", 5);
    cd_provider_config c = config(testsrv_url(&srv, ""), &s);
    double v = 0;
    cd_err err = {""};
    testsrv_push(&srv, 200, LIST(ITEM("2500m") "," ITEM("7")), 0, NULL, NULL);
    assert_int_equal(run(&c, "podinfo/datadogmetric@podinfo:rps?labelSelector=app%3Dpodinfo%2Ctier+in+%28web%29",
                         &v, &err), CD_METRIC_OK);
    assert_true(v == 2.5);   /* the first item */
    assert_string_equal(srv.req[0].method, "GET");
    assert_string_equal(srv.req[0].uri, API "podinfo/datadogmetric@podinfo:rps"
                                        "?labelSelector=app%3Dpodinfo%2Ctier+in+%28web%29");
    assert_string_equal(ts_header(&srv.req[0], "Authorization"), "Bearer tok-1");

    /* the namespace defaults to "default"; template whitespace is trimmed */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, LIST(ITEM("1Ki")), 0, NULL, NULL);
    assert_int_equal(run(&c, "\n  queue-depth\n", &v, &err), CD_METRIC_OK);
    assert_true(v == 1024);
    assert_string_equal(srv.req[0].uri, API "default/queue-depth");
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, LIST(ITEM("3")), 0, NULL, NULL);
    assert_int_equal(run(&c, "/queue-depth", &v, &err), CD_METRIC_OK);
    assert_string_equal(srv.req[0].uri, API "default/queue-depth");
    cd_secret_free(&s);
}

static void test_no_data_errors_garbage(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, "/"), NULL);
    double v = 0;
    cd_err err = {""};
    testsrv_push(&srv, 200, LIST(""), 0, NULL, NULL);
    assert_int_equal(run(&c, "ns/m", &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "no external metrics found: no values found");
    assert_null(ts_header(&srv.req[0], "Authorization"));   /* no secret, no token */
    assert_string_equal(srv.req[0].uri, API "ns/m");         /* trailing '/' of the address */

    testsrv_reset(&srv);
    testsrv_push(&srv, 404, NOT_FOUND, 0, NULL, NULL);
    assert_int_equal(run(&c, "ns/m", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error querying external metrics API: error response (HTTP 404): "));
    assert_non_null(strstr(err.msg, "could not find the requested resource"));

    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "<html>gateway</html>", 0, NULL, NULL);
    assert_int_equal(run(&c, "ns/m", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error unmarshaling result"));
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, LIST(ITEM("fast")), 0, NULL, NULL);
    assert_int_equal(run(&c, "ns/m", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "items[0].value is not a quantity"));
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"items\":{}}", 0, NULL, NULL);
    assert_int_equal(run(&c, "ns/m", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "not an ExternalMetricValueList"));

    /* a server slower than the timeout */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, LIST(ITEM("1")), 3000, NULL, NULL);
    c.timeout_ms = 300;
    assert_int_equal(run(&c, "ns/m", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error querying external metrics API: request failed"));
}

static void test_query_errors(void **state)
{
    cd_provider_config c = config("http://127.0.0.1:1", NULL);
    static const struct { const char *q, *msg; } bad[] = {
        {"a/b/c", "too many slashes"},
        {"ns/", "metric name cannot be empty"},
        {"", "metric name cannot be empty"},
        {"Bad_NS/m", "namespace \"Bad_NS\" is not a DNS label"},
        {"ns/m?labelSelector=app%3D%3Cx%3E", "error parsing label selector from string app=<x>"},
        {"ns/m?labelSelector=%zz", "malformed query string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        cd_err err = {""};
        assert_int_equal(run(&c, bad[i].q, &v, &err), CD_METRIC_ERROR);
        if (!strstr(err.msg, bad[i].msg) || !strstr(err.msg, "error parsing metric query"))
            fail_msg("%s: \"%s\"", bad[i].q, err.msg);
    }
    assert_int_equal(testsrv_count(&srv), 0);   /* nothing was sent */
}

static void test_online(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""), NULL);
    cd_err err = {""};
    testsrv_push(&srv, 200, LIST(""), 0, NULL, NULL);
    cd_provider *p = cd_provider_open(&c, &err);
    assert_non_null(p);
    assert_true(cd_provider_is_online(p, &err));
    assert_string_equal(srv.req[0].uri, API "kube-system/dummy-metric");
    testsrv_reset(&srv);
    testsrv_push(&srv, 503, "{\"kind\":\"Status\",\"message\":\"service unavailable\",\"code\":503}",
                 0, NULL, NULL);
    assert_false(cd_provider_is_online(p, &err));
    assert_non_null(strstr(err.msg, "external metrics service unavailable: error response (HTTP 503)"));
    cd_provider_close(p);
}

/* ---- through the API server canaryd kube runs against ---- */

typedef struct fake_cluster {
    char path[512];
    const char *answer;     /* NULL: fail */
} fake_cluster;

static bool fake_get(void *ctx, const char *method, const char *path, const json_t *body,
                     json_t **out, bool *not_found, cd_err *err)
{
    fake_cluster *f = ctx;
    assert_string_equal(method, "GET");
    assert_null(body);
    snprintf(f->path, sizeof f->path, "%s", path);
    if (!f->answer) {
        snprintf(err->msg, sizeof err->msg, "GET %s: the server is currently unable to handle the "
                 "request (503)", path);
        return false;
    }
    *out = json_loads(f->answer, 0, NULL);
    return *out != NULL;
}

static void test_cluster(void **state)
{
    fake_cluster f = {"", LIST(ITEM("12k"))};
    cd_provider_cluster cl = {&f, fake_get};
    cd_provider_config c = config(NULL, NULL);
    c.cluster = &cl;
    double v = 0;
    cd_err err = {""};
    assert_int_equal(run(&c, "keda/s0-rps?labelSelector=scaledobject.keda.sh%2Fname%3Dpodinfo", &v,
                         &err), CD_METRIC_OK);
    assert_true(v == 12000);
    assert_string_equal(f.path, API "keda/s0-rps?labelSelector=scaledobject.keda.sh%2Fname%3Dpodinfo");
    f.answer = LIST("");
    assert_int_equal(run(&c, "keda/s0-rps", &v, &err), CD_METRIC_NO_DATA);
    f.answer = NULL;
    assert_int_equal(run(&c, "keda/s0-rps", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error querying external metrics API: GET " API "keda/s0-rps"));
    cd_provider *p = cd_provider_open(&c, &err);
    assert_false(cd_provider_is_online(p, &err));
    assert_non_null(strstr(err.msg, "external metrics service unavailable"));
    cd_provider_close(p);

    /* neither an address nor a cluster (canaryd local) */
    c.cluster = NULL;
    assert_null(cd_provider_open(&c, &err));
    assert_non_null(strstr(err.msg, "no address and no Kubernetes API server"));
    c.address = "not a url";
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "externalmetrics address \"not a url\" is not a valid URL");
}

static void test_quantities(void **state)
{
    static const struct { const char *s; double want; } good[] = {
        {"1", 1}, {"0", 0}, {"250m", 0.25}, {"1.5k", 1500}, {"1Ki", 1024}, {"2Mi", 2097152},
        {"2e3", 2000}, {"1E3", 1000}, {"1E", 1e18}, {"-5u", -5e-6}, {"+12n", 12e-9},
        {".5", 0.5}, {"5.", 5}, {"3G", 3e9}, {"1e-3", 0.001},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -1;
        if (!cd_parse_quantity(good[i].s, &v) || fabs(v - good[i].want) > 1e-12 * fabs(good[i].want))
            fail_msg("%s: %g (want %g)", good[i].s, v, good[i].want);
    }
    const char *bad[] = {"", "m", "1.2.3", "1Kb", "1 k", "e3", "1e", "0x10", "1e999", "NaN", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        if (cd_parse_quantity(bad[i], &v))
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* the parser refuses garbage without crashing */
    const char *junk[] = {"", "{", "null", "\"x\"", "<html>", "[[[[", "{\"items\":[{}]}",
                          "{\"items\":[{\"value\":true}]}"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        double v;
        cd_err err = {""};
        assert_int_equal(cd_externalmetrics_parse(junk[i], strlen(junk[i]), &v, &err),
                         CD_METRIC_ERROR);
        assert_true(strlen(err.msg) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_query_against_server, reset),
        cmocka_unit_test_setup(test_no_data_errors_garbage, reset),
        cmocka_unit_test_setup(test_query_errors, reset),
        cmocka_unit_test_setup(test_online, reset),
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_quantities),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
