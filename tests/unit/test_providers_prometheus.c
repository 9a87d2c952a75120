/* test_providers_prometheus.c - the Prometheus provider against a local
 * HTTP(S) server answering in Prometheus' API format: the request (path,
 * escaping, headers, auth), value picking, no data, range vectors, error
 * bodies, garbage, a server that is down or slow, TLS verification and
 * the online check; range queries (the statistical judge's per-step
 * values): their request, one series' values, NaN steps, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include "testsrv.h"
#include "providers/provider.h"

static testsrv srv;

static int setup(void **state)
{
    return testsrv_start(&srv, false) > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    testsrv_stop(&srv);
    return 0;
}

static int reset(void **state)
{
    testsrv_reset(&srv);
    return 0;
}

static cd_provider_config config(const char *address)
{
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "prometheus";
    c.address = address;
    c.interval = "1m";
    return c;
}

#define VECTOR(v) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000000.1,\"" v "\"]}]}}"

static cd_metric_rc run(const cd_provider_config *c, const char *query, double *v, cd_err *err)
{
    cd_provider *p = cd_provider_open(c, err);
    if (!p)
        fail_msg("open failed: %s", err->msg);
    cd_metric_rc rc = cd_provider_query(p, query, v, err);
    cd_provider_close(p);
    return rc;
}

static void test_request_shape_and_value(void **state)
{
    testsrv_push(&srv, 200, VECTOR("99.5"), 0, "Content-Type: application/json", NULL);
    cd_provider_config c = config(testsrv_url(&srv, ""));
    cd_header_values h[2];
    const char *v1[] = {"tenant-a", "tenant-b"};
    const char *v2[] = {"yes"};
    h[0].name = "X-Scope-OrgID";
    h[0].values.items = v1;
    h[0].values.n = 2;
    h[1].name = "X-Debug";
    h[1].values.items = v2;
    h[1].values.n = 1;
    c.headers = h;
    c.n_headers = 2;
    double v = 0;
    cd_err err = {""};
    assert_int_equal(run(&c, "\n  sum(rate(x{a=\"b\"}[1m]))\n\t/ 2", &v, &err), CD_METRIC_OK);
    assert_true(v == 99.5);
    assert_int_equal(testsrv_count(&srv), 1);
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->method, "GET");
    /* Go's url.QueryEscape: spaces as '+', whitespace runs collapsed */
    assert_string_equal(r->uri, "/api/v1/query?query=+sum%28rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29%29+%2F+2");
    char *q = ts_query_param(r, "query");
    assert_string_equal(q, " sum(rate(x{a=\"b\"}[1m])) / 2");
    free(q);
    assert_string_equal(ts_header(r, "X-Debug"), "yes");
    /* both values of a repeated header are sent */
    size_t n = 0;
    for (size_t i = 0; i < r->nh; i++)
        if (!strcasecmp(r->hname[i], "X-Scope-OrgID"))
            n++;
    assert_int_equal(n, 2);
    assert_null(ts_header(r, "Authorization"));
}

static void test_address_with_path(void **state)
{
    testsrv_push(&srv, 200, VECTOR("1"), 0, NULL, NULL);
    cd_provider_config c = config(testsrv_url(&srv, "/prometheus/"));
    double v;
    cd_err err = {""};
    assert_int_equal(run(&c, "up", &v, &err), CD_METRIC_OK);
    assert_int_equal(strncmp(srv.req[0].uri, "/prometheus/api/v1/query?query=up", 33), 0);
}

static void test_last_sample_wins(void **state)
{
    testsrv_push(&srv, 200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                 "{\"metric\":{\"a\":\"1\"},\"value\":[1,\"10\"]},"
                 "{\"metric\":{\"a\":\"2\"},\"value\":[1,\"20\"]}]}}",
                 0, NULL, NULL);
    cd_provider_config c = config(testsrv_url(&srv, ""));
    double v;
    cd_err err = {""};
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_OK);
    assert_true(v == 20);
}

static void test_no_data(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""));
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
                 0, NULL, NULL);
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "no values found");
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, VECTOR("NaN"), 0, NULL, NULL);
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_NO_DATA);
}

static void test_matrix_is_an_error(void **state)
{
    testsrv_push(&srv, 200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{},\"values\":[[1,\"1\"],[2,\"2\"]]}]}}",
                 0, NULL, NULL);
    cd_provider_config c = config(testsrv_url(&srv, ""));
    double v;
    cd_err err = {""};
    assert_int_equal(run(&c, "x[5m]", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "range vector"));
}

static void test_error_bodies_are_surfaced(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""));
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 400,
                 "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error: "
                 "unexpected end of input\"}",
                 0, NULL, NULL);
    assert_int_equal(run(&c, "sum(", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "HTTP 400"));
    assert_non_null(strstr(err.msg, "parse error: unexpected end of input"));
    testsrv_reset(&srv);
    testsrv_push(&srv, 503, "<html>\n<b>Service Unavailable</b>\n</html>", 0, NULL, NULL);
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error response (HTTP 503): <html> <b>Service Unavailable</b> </html>");
}

static void test_garbage_answers(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""));
    const char *bodies[] = {
        "not json at all",
        "[1,2,3]",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"abc\"]}]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":\"x\"}]}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"x\"]}}",
        "",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        testsrv_reset(&srv);
        testsrv_push(&srv, 200, bodies[i], 0, NULL, NULL);
        double v;
        cd_err err = {""};
        cd_metric_rc rc = run(&c, "x", &v, &err);
        if (rc != CD_METRIC_ERROR)
            fail_msg("body %zu: rc %d, want an error", i, rc);
        assert_true(strlen(err.msg) > 10);
    }
    /* a scalar result is read (Flagger fails to decode it) */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"42\"]}}",
                 0, NULL, NULL);
    double v;
    cd_err err = {""};
    assert_int_equal(run(&c, "scalar(x)", &v, &err), CD_METRIC_OK);
    assert_true(v == 42);
}

static void test_auth_from_secret(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""));
    cd_secret s;
    cd_secret_init(&s, "prom");
    cd_secret_put(&s, "token", "t0k3n", 5);
    c.secret = &s;
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200, VECTOR("1"), 0, NULL, NULL);
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_OK);
    assert_string_equal(ts_header(&srv.req[0], "Authorization"), "Bearer t0k3n");
    cd_secret_free(&s);

    testsrv_reset(&srv);
    cd_secret_init(&s, "prom");
    cd_secret_put(&s, "username", "admin", 5);
    cd_secret_put(&s, "password", "s3:cret", 7);
    testsrv_push(&srv, 200, VECTOR("1"), 0, NULL, NULL);
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_OK);
    assert_string_equal(ts_header(&srv.req[0], "Authorization"), "Basic YWRtaW46czM6Y3JldA==");
    cd_secret_free(&s);

    /* a secret without a token needs both username and password */
    cd_secret_init(&s, "prom");
    cd_secret_put(&s, "username", "admin", 5);
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "prometheus credentials does not contain a password");
    cd_secret_free(&s);
    cd_secret_init(&s, "prom");
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "prometheus credentials does not contain a username");
    cd_secret_free(&s);

    /* header injection through a template header is refused */
    cd_header_values h = {"X-Evil", {NULL, 1}};
    const char *bad[] = {"a\r\nX-Other: b"};
    h.values.items = bad;
    c.secret = NULL;
    c.headers = &h;
    c.n_headers = 1;
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "line break"));
}

static void test_invalid_address(void **state)
{
    cd_err err = {""};
    cd_provider_config c = config("");
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "prometheus address \"\" is not a valid URL");
    c = config("prometheus:9090");
    assert_null(cd_provider_open(&c, &err));
    c = config("file:///etc/passwd");
    assert_null(cd_provider_open(&c, &err));
    c = config("http://");
    assert_null(cd_provider_open(&c, &err));
}

static void test_down_and_slow(void **state)
{
    double v;
    cd_err err = {""};
    /* nothing listens on the port of a stopped server */
    testsrv dead;
    assert_true(testsrv_start(&dead, false) > 0);
    char url[128];
    snprintf(url, sizeof url, "%s", testsrv_url(&dead, ""));
    testsrv_stop(&dead);
    cd_provider_config c = config(url);
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "request failed"));

    /* a server slower than the timeout */
    testsrv_push(&srv, 200, VECTOR("1"), 1500, NULL, NULL);
    c = config(testsrv_url(&srv, ""));
    c.timeout_ms = 200;
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "timed out after 200 ms"));
}

static void test_huge_response_is_refused(void **state)
{
    size_t n = CD_HTTP_MAX_RESPONSE + 100;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    testsrv_push(&srv, 200, big, 0, NULL, NULL);
    cd_provider_config c = config(testsrv_url(&srv, ""));
    double v;
    cd_err err = {""};
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "larger than"));
    testsrv_reset(&srv);
    free(big);
}

static void test_tls(void **state)
{
    testsrv tls;
    assert_true(testsrv_start(&tls, true) > 0);
    testsrv_push(&tls, 200, VECTOR("7"), 0, NULL, NULL);
    cd_provider_config c = config(testsrv_url(&tls, ""));
    double v;
    cd_err err = {""};
    /* a self-signed certificate is refused by default */
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "request failed"));
    /* insecureSkipVerify accepts it */
    c.insecure_skip_verify = true;
    cd_metric_rc rc = run(&c, "x", &v, &err);
    if (rc != CD_METRIC_OK)
        fail_msg("insecure: %s", err.msg);
    assert_true(v == 7);
    /* so does trusting its CA */
    c.insecure_skip_verify = false;
    c.ca_file = tls.ca_path;
    assert_int_equal(run(&c, "x", &v, &err), CD_METRIC_OK);
    testsrv_stop(&tls);
}

static void test_online(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""));
    cd_err err = {""};
    cd_provider *p = cd_provider_open(&c, &err);
    testsrv_push(&srv, 200, VECTOR("1"), 0, NULL, NULL);
    assert_true(cd_provider_is_online(p, &err));
    char *q = ts_query_param(&srv.req[0], "query");
    assert_string_equal(q, "vector(1)");
    free(q);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, VECTOR("0"), 0, NULL, NULL);
    assert_false(cd_provider_is_online(p, &err));
    assert_string_equal(err.msg, "value is not 1 for query: vector(1)");
    testsrv_reset(&srv);
    testsrv_push(&srv, 500, "down", 0, NULL, NULL);
    assert_false(cd_provider_is_online(p, &err));
    assert_string_equal(err.msg, "running query failed: error response (HTTP 500): down");
    cd_provider_close(p);
}

#define MATRIX(values) "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[" \
    "{\"metric\":{\"a\":\"1\"},\"values\":[" values "]}]}}"

static cd_metric_rc run_range(const cd_provider_config *c, const char *query, int64_t start,
                              int64_t end, int64_t step, double **v, size_t *n, cd_err *err)
{
    cd_provider *p = cd_provider_open(c, err);
    if (!p)
        fail_msg("open failed: %s", err->msg);
    cd_metric_rc rc = cd_provider_query_range(p, query, start, end, step, v, n, err);
    cd_provider_close(p);
    return rc;
}

static void test_range_request_and_values(void **state)
{
    testsrv_push(&srv, 200,
                 MATRIX("[1700000000,\"12.5\"],[1700000005,\"NaN\"],[1700000010,\"13\"],"
                        "[1700000015,\"+Inf\"]"),
                 0, NULL, NULL);
    cd_provider_config c = config(testsrv_url(&srv, "/prom"));
    cd_secret s;
    cd_secret_init(&s, "prom");
    cd_secret_put(&s, "username", "u", 1);
    cd_secret_put(&s, "password", "p", 1);
    c.secret = &s;
    double *v = NULL;
    size_t n = 0;
    cd_err err = {""};
    cd_metric_rc rc = run_range(&c, " histogram_quantile(0.99,\n  x[5s])", 1699999950500,
                                1700000010500, 5000, &v, &n, &err);
    cd_secret_free(&s);
    if (rc != CD_METRIC_OK)
        fail_msg("range: %s", err.msg);
    /* NaN steps (no requests in the step) are dropped; the rest in order */
    assert_int_equal(n, 3);
    assert_true(v[0] == 12.5 && v[1] == 13 && isinf(v[2]));
    free(v);
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->uri, "/prom/api/v1/query_range?query=+histogram_quantile%280.99%2C+x%5B5s%5D%29"
                                "&start=1699999950.500&end=1700000010.500&step=5");
    assert_string_equal(ts_header(r, "Authorization"), "Basic dTpw");
}

static void test_range_no_data_and_errors(void **state)
{
    cd_provider_config c = config(testsrv_url(&srv, ""));
    struct { int status; const char *body; cd_metric_rc rc; const char *text; } cases[] = {
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
         CD_METRIC_NO_DATA, "no values found"},
        {200, MATRIX("[1,\"NaN\"],[2,\"NaN\"]"), CD_METRIC_NO_DATA, "no values found"},
        {200, MATRIX(""), CD_METRIC_NO_DATA, "no values found"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{\"pod\":\"a\"},\"values\":[[1,\"1\"]]},"
              "{\"metric\":{\"pod\":\"b\"},\"values\":[[1,\"2\"]]}]}}",
         CD_METRIC_ERROR, "the query returned 2 series; the statistical judge needs one"},
        {200, VECTOR("1"), CD_METRIC_ERROR, "must return a matrix, not vector"},
        {200, MATRIX("[1,\"abc\"]"), CD_METRIC_ERROR, "invalid syntax"},
        {200, MATRIX("[1]"), CD_METRIC_ERROR, "not a [timestamp, \"value\"] pair"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{}}]}}",
         CD_METRIC_ERROR, "no list of values"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":7}}",
         CD_METRIC_ERROR, "data.result is not a list"},
        {200, "garbage", CD_METRIC_ERROR, "error unmarshaling result"},
        {422, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"exceeded maximum "
              "resolution of 11,000 points per timeseries\"}",
         CD_METRIC_ERROR, "HTTP 422"},
        {200, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out\"}",
         CD_METRIC_ERROR, "error response: timeout: query timed out"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        testsrv_reset(&srv);
        testsrv_push(&srv, cases[i].status, cases[i].body, 0, NULL, NULL);
        double *v = (double *)1;
        size_t n = 99;
        cd_err err = {""};
        cd_metric_rc rc = run_range(&c, "x", 0, 60000, 5000, &v, &n, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].text))
            fail_msg("case %zu: rc %d, \"%s\"", i, rc, err.msg);
        assert_null(v);
        assert_int_equal(n, 0);
    }
    /* nonsense ranges never reach the server */
    testsrv_reset(&srv);
    double *v;
    size_t n;
    cd_err err = {""};
    assert_int_equal(run_range(&c, "x", 0, 60000, 0, &v, &n, &err), CD_METRIC_ERROR);
    assert_int_equal(run_range(&c, "x", 60000, 0, 5000, &v, &n, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "invalid range"));
    assert_int_equal(testsrv_count(&srv), 0);
    /* a server that is too slow */
    testsrv_push(&srv, 200, MATRIX("[1,\"1\"]"), 1500, NULL, NULL);
    c.timeout_ms = 200;
    assert_int_equal(run_range(&c, "x", 0, 60000, 5000, &v, &n, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "timed out after 200 ms"));
}

static void test_range_only_on_prometheus(void **state)
{
    cd_provider_config c = config("http://127.0.0.1:1");
    c.type = "graphite";
    cd_err err = {""};
    cd_provider *p = cd_provider_open(&c, &err);
    assert_non_null(p);
    assert_false(cd_provider_has_range(p));
    double *v;
    size_t n;
    assert_int_equal(cd_provider_query_range(p, "x", 0, 60000, 5000, &v, &n, &err),
                     CD_METRIC_ERROR);
    assert_string_equal(err.msg, "the graphite provider has no range queries (per-step values "
                                 "come from Prometheus only)");
    cd_provider_close(p);
    c.type = "prometheus";
    p = cd_provider_open(&c, &err);
    assert_true(cd_provider_has_range(p));
    cd_provider_close(p);
}

static void test_unknown_types(void **state)
{
    cd_provider_config c = config("http://127.0.0.1:1");
    cd_err err = {""};
    /* every type of Flagger 1.44's enum is implemented */
    static const char *const flagger[] = {"prometheus", "influxdb", "datadog", "externalmetrics",
                                          "stackdriver", "cloudwatch", "newrelic", "graphite",
                                          "dynatrace", "keptn", "splunk"};
    for (size_t i = 0; i < sizeof flagger / sizeof flagger[0]; i++) {
        assert_non_null(cd_provider_type_find(flagger[i]));
        assert_false(cd_provider_type_known_missing(flagger[i]));
    }
    c.type = "bogus";
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "unknown metric provider type \"bogus\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_request_shape_and_value, reset),
        cmocka_unit_test_setup(test_address_with_path, reset),
        cmocka_unit_test_setup(test_last_sample_wins, reset),
        cmocka_unit_test_setup(test_no_data, reset),
        cmocka_unit_test_setup(test_matrix_is_an_error, reset),
        cmocka_unit_test_setup(test_error_bodies_are_surfaced, reset),
        cmocka_unit_test_setup(test_garbage_answers, reset),
        cmocka_unit_test_setup(test_auth_from_secret, reset),
        cmocka_unit_test_setup(test_invalid_address, reset),
        cmocka_unit_test_setup(test_down_and_slow, reset),
        cmocka_unit_test_setup(test_huge_response_is_refused, reset),
        cmocka_unit_test_setup(test_tls, reset),
        cmocka_unit_test_setup(test_online, reset),
        cmocka_unit_test_setup(test_unknown_types, reset),
        cmocka_unit_test_setup(test_range_request_and_values, reset),
        cmocka_unit_test_setup(test_range_no_data_and_errors, reset),
        cmocka_unit_test_setup(test_range_only_on_prometheus, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
