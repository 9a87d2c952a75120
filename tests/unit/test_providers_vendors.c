/* test_providers_vendors.c - Datadog, New Relic, Graphite, Dynatrace,
 * InfluxDB and CloudWatch providers against a local server answering in
 * each vendor's documented format: request shape (path, parameters,
 * headers, body, signature), value picking, no data, errors, online
 * checks and constructor errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include "testsrv.h"
#include "providers/provider.h"

static testsrv srv;
#define NOW_MS 1700000000000LL
static int64_t fixed_now(void) { return NOW_MS; }

static int setup(void **state) { return testsrv_start(&srv, false) > 0 ? 0 : -1; }
static int teardown(void **state) { testsrv_stop(&srv); return 0; }
static int reset(void **state) { testsrv_reset(&srv); return 0; }

static cd_provider_config config(const char *type, const char *address, cd_secret *secret)
{
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.address = address;
    c.secret = secret;
    c.interval = "1m";
    c.now_ms = fixed_now;
    return c;
}

static cd_secret secret_of(const char *k1, const char *v1, const char *k2, const char *v2)
{
    cd_secret s;
    cd_secret_init(&s, "creds");
    if (k1)
        cd_secret_put(&s, k1, v1, strlen(v1));
    if (k2)
        cd_secret_put(&s, k2, v2, strlen(v2));
    return s;
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

static bool online(const cd_provider_config *c, cd_err *err)
{
    cd_provider *p = cd_provider_open(c, err);
    if (!p)
        fail_msg("open failed: %s", err->msg);
    bool ok = cd_provider_is_online(p, err);
    cd_provider_close(p);
    return ok;
}

/* ---- Datadog ---- */

static void test_datadog(void **state)
{
    cd_secret s = secret_of("datadog_api_key", "api-1", "datadog_application_key", "app-2");
    cd_provider_config c = config("datadog", testsrv_url(&srv, ""), &s);
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200,
                 "{\"status\":\"ok\",\"series\":[{\"metric\":\"x\",\"pointlist\":[[1699999400000,"
                 "2.5],[1699999460000,9.0]]},{\"pointlist\":[[1,7]]}]}",
                 0, NULL, NULL);
    assert_int_equal(run(&c, "sum:istio.mesh.request.count{a:b}.as_count()", &v, &err), CD_METRIC_OK);
    assert_true(v == 2.5);     /* first series, first (oldest) point */
    const ts_request *r = &srv.req[0];
    /* from = now - 10 x 1m, parameters sorted as Go encodes them */
    assert_string_equal(r->uri, "/api/v1/query?from=1699999400&query=sum%3Aistio.mesh.request.count"
                                "%7Ba%3Ab%7D.as_count%28%29&to=1700000000");
    assert_string_equal(ts_header(r, "DD-API-KEY"), "api-1");
    assert_string_equal(ts_header(r, "DD-APPLICATION-KEY"), "app-2");

    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"series\":[]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "q", &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"series\":[{\"pointlist\":[[1,null]]}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "q", &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 403, "{\"errors\":[\"Forbidden\"]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "q", &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error response (HTTP 403): {\"errors\":[\"Forbidden\"]}");

    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"valid\":true}", 0, NULL, NULL);
    assert_true(online(&c, &err));
    assert_string_equal(srv.req[0].uri, "/api/v1/validate");
    assert_string_equal(ts_header(&srv.req[0], "DD-API-KEY"), "api-1");
    testsrv_reset(&srv);
    testsrv_push(&srv, 403, "{\"errors\":[\"Forbidden\"]}", 0, NULL, NULL);
    assert_false(online(&c, &err));
    cd_secret_free(&s);

    s = secret_of("datadog_api_key", "a", NULL, NULL);
    c.secret = &s;
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "datadog credentials does not contain datadog_application_key");
    cd_secret_free(&s);
    s = secret_of("datadog_api_key", "a", "datadog_application_key", "b");
    c.interval = "";
    assert_null(cd_provider_open(&c, &err));
    assert_non_null(strstr(err.msg, "error parsing metric interval"));
    cd_secret_free(&s);
}

/* ---- New Relic ---- */

static void test_newrelic(void **state)
{
    cd_secret s = secret_of("newrelic_account_id", "12345", "newrelic_query_key", "nrq");
    cd_provider_config c = config("newrelic", testsrv_url(&srv, ""), &s);
    c.interval = "5m";
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200, "{\"results\":[{\"result\":1.25}],\"metadata\":{}}", 0, NULL, NULL);
    assert_int_equal(run(&c, "SELECT filter(sum(x), WHERE status >= '500') FROM Metric", &v, &err),
                     CD_METRIC_OK);
    assert_true(v == 1.25);
    const ts_request *r = &srv.req[0];
    assert_int_equal(strncmp(r->uri, "/v1/accounts/12345/query?nrql=", 30), 0);
    char *nrql = ts_query_param(r, "nrql");
    assert_string_equal(nrql, "SELECT filter(sum(x), WHERE status >= '500') FROM Metric SINCE 300 "
                              "seconds ago");
    free(nrql);
    assert_string_equal(ts_header(r, "X-Query-Key"), "nrq");
    /* a function-named result (canaryd extension) */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"results\":[{\"average\":0.5}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "SELECT average(duration) FROM Transaction", &v, &err), CD_METRIC_OK);
    assert_true(v == 0.5);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"results\":[{\"result\":null}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "q", &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"results\":[{\"result\":1},{\"result\":2}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "q", &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{}", 0, NULL, NULL);
    assert_true(online(&c, &err));
    nrql = ts_query_param(&srv.req[0], "nrql");
    assert_string_equal(nrql, "SELECT * FROM Metric SINCE 300 seconds ago");
    free(nrql);
    cd_secret_free(&s);
    s = secret_of("newrelic_query_key", "k", NULL, NULL);
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "newrelic credentials does not contain newrelic_account_id");
    cd_secret_free(&s);
}

/* ---- Graphite ---- */

static void test_graphite(void **state)
{
    cd_provider_config c = config("graphite", testsrv_url(&srv, "/graphite"), NULL);
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200,
                 "[{\"target\":\"a\",\"datapoints\":[[1.5,1],[null,2],[3.5,3],[null,4]]},"
                 "{\"target\":\"b\",\"datapoints\":[[\"4.5\",5],[null,6]]}]",
                 0, NULL, NULL);
    assert_int_equal(run(&c, "target=summarize(\n  asPercent(a.b, c.d),\n  1m, 'avg')&from=-1h",
                         &v, &err), CD_METRIC_OK);
    assert_true(v == 4.5);   /* the last non-null point over all targets */
    const ts_request *r = &srv.req[0];
    /* parameters re-encoded, sorted, format=json added */
    assert_string_equal(r->uri, "/graphite/render?format=json&from=-1h&target=summarize%28+asPercent"
                                "%28a.b%2C+c.d%29%2C+1m%2C+%27avg%27%29");
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "[{\"target\":\"a\",\"datapoints\":[[null,1]]}]", 0, NULL, NULL);
    assert_int_equal(run(&c, "target=a", &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "[]", 0, NULL, NULL);
    assert_true(online(&c, &err));   /* no data is fine for the online check */
    assert_string_equal(srv.req[0].uri, "/graphite/render?format=json&target=test");
    testsrv_reset(&srv);
    testsrv_push(&srv, 500, "oops", 0, NULL, NULL);
    assert_false(online(&c, &err));
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "[{\"datapoints\":[[1]]}]", 0, NULL, NULL);
    assert_int_equal(run(&c, "target=a", &v, &err), CD_METRIC_ERROR);
    assert_int_equal(run(&c, "target=%zz", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "malformed"));

    cd_secret s = secret_of("username", "u", "password", "p");
    c.secret = &s;
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "[{\"datapoints\":[[2,1]]}]", 0, NULL, NULL);
    assert_int_equal(run(&c, "target=a", &v, &err), CD_METRIC_OK);
    assert_string_equal(ts_header(&srv.req[0], "Authorization"), "Basic dTpw");
    cd_secret_free(&s);
}

/* ---- Dynatrace ---- */

static void test_dynatrace(void **state)
{
    cd_secret s = secret_of("dynatrace_token", "dt0c01.abc", NULL, NULL);
    cd_provider_config c = config("dynatrace", testsrv_url(&srv, ""), &s);
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200,
                 "{\"totalCount\":1,\"result\":[{\"metricId\":\"m\",\"data\":["
                 "{\"dimensions\":[],\"timestamps\":[1],\"values\":[11.0]},"
                 "{\"dimensions\":[],\"timestamps\":[2],\"values\":[22.0,23.0]}]}]}",
                 0, NULL, NULL);
    assert_int_equal(run(&c, "builtin:service.response.time:percentile(95)", &v, &err), CD_METRIC_OK);
    assert_true(v == 22);    /* last series, first value */
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->uri, "/api/v2/metrics/query?from=1699999400000&metricSelector=builtin%3A"
                                "service.response.time%3Apercentile%2895%29&resolution=Inf&to="
                                "1700000000000");
    assert_string_equal(ts_header(r, "Authorization"), "Api-Token dt0c01.abc");
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"result\":[{\"data\":[]}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "m", &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"totalCount\":1}", 0, NULL, NULL);
    assert_true(online(&c, &err));
    assert_string_equal(srv.req[0].uri, "/api/v2/metrics?pageSize=1");
    cd_secret_free(&s);
    c.secret = NULL;
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "dynatrace credentials does not contain dynatrace_token");
    c.address = "";
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "dynatrace endpoint is not set");
}

/* ---- InfluxDB ---- */

static const char *influx_csv =
    "#group,false,false,true,true,false,false,true,true\r\n"
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string\r\n"
    "#default,_result,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement\r\n"
    ",,0,2023-11-14T21:13:20Z,2023-11-14T22:13:20Z,2023-11-14T22:00:00Z,0.75,value,\"m,1\"\r\n"
    ",,0,2023-11-14T21:13:20Z,2023-11-14T22:13:20Z,2023-11-14T22:01:00Z,0.5,value,m\r\n"
    "\r\n";

static void test_influxdb(void **state)
{
    cd_secret s = secret_of("token", "itok", "org", "my org");
    cd_provider_config c = config("influxdb", testsrv_url(&srv, ""), &s);
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200, influx_csv, 0, "Content-Type: text/csv; charset=utf-8", NULL);
    const char *flux = "from(bucket: \"default\") |> range(start: -2h) |> count()";
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_OK);
    assert_true(v == 0.75);
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->uri, "/api/v2/query?org=my+org");
    assert_string_equal(ts_header(r, "Authorization"), "Token itok");
    json_t *body = json_loads(r->body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "query")), flux);
    assert_string_equal(json_string_value(json_object_get(body, "type")), "flux");
    assert_true(json_is_array(json_object_get(json_object_get(body, "dialect"), "annotations")));
    json_decref(body);

    /* long values are numbers too (Flagger only accepts doubles) */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200,
                 "#datatype,string,long,long\n#group,false,false,false\n#default,_result,,\n"
                 ",result,table,_value\n,,0,42\n",
                 0, NULL, NULL);
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_OK);
    assert_true(v == 42);
    /* no rows: 0 without an error, as Flagger */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "\r\n", 0, NULL, NULL);
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_OK);
    assert_true(v == 0);
    /* an empty _value is no data */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "#datatype,string,long,double\n#default,_result,,\n,result,table,_value\n,,0,\n",
                 0, NULL, NULL);
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_NO_DATA);
    /* a string _value is an error */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "#datatype,string,long,string\n,result,table,_value\n,,0,abc\n", 0, NULL, NULL);
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "is a string"));
    /* an error table in the stream */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "#datatype,string,string\n#group,true,true\n#default,,\n,error,reference\n"
                            ",\"failed to execute query: bucket \"\"x\"\" not found\",\n",
                 0, NULL, NULL);
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "query error: failed to execute query: bucket \"x\" not found");
    /* an HTTP error with InfluxDB's JSON body */
    testsrv_reset(&srv);
    testsrv_push(&srv, 401, "{\"code\":\"unauthorized\",\"message\":\"unauthorized access\"}", 0, NULL, NULL);
    assert_int_equal(run(&c, flux, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error accessing influxdb query api: unauthorized access (HTTP 401)");
    assert_false(online(&c, &err));
    /* online: any table is fine, whatever the type of _value */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "#datatype,string,long,string\n,result,table,_value\n,,0,abc\n", 0, NULL, NULL);
    assert_true(online(&c, &err));
    body = json_loads(srv.req[0].body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "query")),
                        "from(bucket: \"default\") |> range(start: -2h)");
    json_decref(body);
    cd_secret_free(&s);
    s = secret_of("token", "t", NULL, NULL);
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "influxdb credentials does not contain an organisation");
    cd_secret_free(&s);
}

/* ---- CloudWatch ---- */

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void hmac(const void *key, size_t kn, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* Recomputes the AWS Signature V4 of a recorded request (a real AWS
 * endpoint would accept exactly this). */
static void check_sigv4(const ts_request *r, const char *key_id, const char *secret,
                        const char *region, const char *service)
{
    const char *auth = ts_header(r, "Authorization");
    assert_non_null(auth);
    const char *amzdate = ts_header(r, "X-Amz-Date");
    assert_non_null(amzdate);
    char date[9];
    snprintf(date, sizeof date, "%s", amzdate);
    char scope[128];
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, region, service);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=", key_id,
             scope);
    assert_int_equal(strncmp(auth, prefix, strlen(prefix)), 0);
    const char *sh = auth + strlen(prefix);
    const char *comma = strchr(sh, ',');
    char signed_headers[256];
    snprintf(signed_headers, sizeof signed_headers, "%.*s", (int)(comma - sh), sh);
    const char *sig = strstr(auth, "Signature=");
    assert_non_null(sig);
    sig += 10;

    char canon[8192] = "";
    char *path_end = strchr(r->uri, '?');
    snprintf(canon, sizeof canon, "%s\n%.*s\n%s\n", r->method,
             (int)(path_end ? path_end - r->uri : (long)strlen(r->uri)), r->uri,
             path_end ? path_end + 1 : "");
    char names[256];
    snprintf(names, sizeof names, "%s", signed_headers);
    for (char *save, *n = strtok_r(names, ";", &save); n; n = strtok_r(NULL, ";", &save)) {
        const char *v = ts_header(r, n);
        assert_non_null(v);
        snprintf(canon + strlen(canon), sizeof canon - strlen(canon), "%s:%s\n", n, v);
    }
    unsigned char h[32];
    char hx[65];
    SHA256((const unsigned char *)r->body, r->body_len, h);
    hex(h, 32, hx);
    snprintf(canon + strlen(canon), sizeof canon - strlen(canon), "\n%s\n%s", signed_headers, hx);
    SHA256((const unsigned char *)canon, strlen(canon), h);
    char creq_hash[65];
    hex(h, 32, creq_hash);
    char sts[512];
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, creq_hash);
    char k0[128];
    snprintf(k0, sizeof k0, "AWS4%s", secret);
    unsigned char k1[32], k2[32], k3[32], k4[32], s[32];
    hmac(k0, strlen(k0), date, k1);
    hmac(k1, 32, region, k2);
    hmac(k2, 32, service, k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, s);
    char want[65];
    hex(s, 32, want);
    assert_string_equal(sig, want);
}

static void test_cloudwatch(void **state)
{
    cd_secret s = secret_of("aws_access_key_id", "AKIDEXAMPLE", "aws_secret_access_key",
                            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    cd_provider_config c = config("cloudwatch", testsrv_url(&srv, "/"), &s);
    c.region = "eu-west-1";
    c.interval = "5m";
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200,
                 "{\"MetricDataResults\":[{\"Id\":\"e1\",\"Label\":\"ErrorRate\",\"StatusCode\":"
                 "\"Complete\",\"Timestamps\":[1699999800,1699999500],\"Values\":[0.02,0.01]}],"
                 "\"Messages\":[]}",
                 0, "Content-Type: application/x-amz-json-1.0", NULL);
    const char *query = "[{\"Id\":\"e1\",\"Expression\":\"m1 / m2\",\"Label\":\"ErrorRate\"},"
                        "{\"Id\":\"m1\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"MyApp\","
                        "\"MetricName\":\"Errors\"},\"Period\":300,\"Stat\":\"Sum\"},"
                        "\"ReturnData\":false}]";
    assert_int_equal(run(&c, query, &v, &err), CD_METRIC_OK);
    assert_true(v == 0.02);
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->method, "POST");
    assert_string_equal(ts_header(r, "X-Amz-Target"), "GraniteServiceVersion20100801.GetMetricData");
    assert_string_equal(ts_header(r, "Content-Type"), "application/x-amz-json-1.0");
    json_t *body = json_loads(r->body, 0, NULL);
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(body, "EndTime")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(body, "StartTime")), 1700000000 - 3000);
    assert_int_equal(json_integer_value(json_object_get(body, "MaxDatapoints")), 20);
    assert_int_equal(json_array_size(json_object_get(body, "MetricDataQueries")), 2);
    json_decref(body);
    check_sigv4(r, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1",
                "monitoring");

    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"MetricDataResults\":[{\"Id\":\"e1\",\"Values\":[]}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, query, &v, &err), CD_METRIC_NO_DATA);
    testsrv_reset(&srv);
    testsrv_push(&srv, 400,
                 "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":"
                 "\"The parameter MetricDataQueries.member.1.Id must be unique.\"}",
                 0, NULL, NULL);
    assert_int_equal(run(&c, query, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error requesting cloudwatch: ValidationException: The parameter "
                                 "MetricDataQueries.member.1.Id must be unique. (HTTP 400)");
    assert_int_equal(testsrv_count(&srv), 1);   /* a 400 is not retried */
    /* throttling is retried (3 times, as the AWS SDK) */
    testsrv_reset(&srv);
    testsrv_push(&srv, 400, "{\"__type\":\"Throttling\",\"message\":\"Rate exceeded\"}", 0, NULL, NULL);
    testsrv_push(&srv, 200, "{\"MetricDataResults\":[{\"Values\":[5]}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, query, &v, &err), CD_METRIC_OK);
    assert_true(v == 5);
    assert_int_equal(testsrv_count(&srv), 2);
    /* the query must be a JSON list */
    assert_int_equal(run(&c, "{\"Id\":\"x\"}", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error unmarshaling query"));

    /* online: 400 (empty input) means reachable and authorised; 403 does not */
    testsrv_reset(&srv);
    testsrv_push(&srv, 400, "{\"__type\":\"ValidationError\",\"message\":\"empty\"}", 0, NULL, NULL);
    assert_true(online(&c, &err));
    testsrv_reset(&srv);
    testsrv_push(&srv, 403, "{\"__type\":\"AccessDeniedException\",\"message\":\"no\"}", 0, NULL, NULL);
    assert_false(online(&c, &err));
    assert_non_null(strstr(err.msg, "unexpected status code 403"));
    cd_secret_free(&s);

    /* credentials from the environment, with a session token */
    char *env[] = {"AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=envsecret",
                   "AWS_SESSION_TOKEN=sess", NULL};
    c.secret = NULL;
    c.environ_ = env;
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"MetricDataResults\":[{\"Values\":[1]}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "[]", &v, &err), CD_METRIC_OK);
    assert_string_equal(ts_header(&srv.req[0], "X-Amz-Security-Token"), "sess");
    check_sigv4(&srv.req[0], "AKENV", "envsecret", "eu-west-1", "monitoring");
    /* a shared credentials file */
    char path[] = "/tmp/canaryd-aws.XXXXXX";
    int fd = mkstemp(path);
    const char *ini = "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = d\n"
                      "[prod]\naws_access_key_id=AKPROD\naws_secret_access_key=prodsecret\n";
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    char f1[128], f2[64] = "AWS_PROFILE=prod";
    snprintf(f1, sizeof f1, "AWS_SHARED_CREDENTIALS_FILE=%s", path);
    char *env2[] = {f1, f2, NULL};
    c.environ_ = env2;
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"MetricDataResults\":[{\"Values\":[1]}]}", 0, NULL, NULL);
    assert_int_equal(run(&c, "[]", &v, &err), CD_METRIC_OK);
    check_sigv4(&srv.req[0], "AKPROD", "prodsecret", "eu-west-1", "monitoring");
    unlink(path);
    char *none[] = {NULL};
    c.environ_ = none;
    assert_null(cd_provider_open(&c, &err));
    assert_non_null(strstr(err.msg, "no AWS credentials"));
    c.region = NULL;
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "region not specified");
}

static void test_parsers_reject_garbage(void **state)
{
    typedef cd_metric_rc (*parser)(const char *, size_t, double *, cd_err *);
    parser ps[] = {cd_prometheus_parse, cd_datadog_parse, cd_newrelic_parse, cd_graphite_parse,
                   cd_dynatrace_parse, cd_cloudwatch_parse};
    const char *junk[] = {"", "{", "null", "\"x\"", "<html>", "[[[["};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
            double v;
            cd_err err = {""};
            cd_metric_rc rc = ps[i](junk[j], strlen(junk[j]), &v, &err);
            if (rc == CD_METRIC_OK)
                fail_msg("parser %zu accepted \"%s\"", i, junk[j]);
            assert_true(strlen(err.msg) > 0);
        }
    }
    double v;
    cd_err err = {""};
    assert_int_equal(cd_influxdb_parse_csv("\"unterminated", 13, &v, &err), CD_METRIC_ERROR);
}

/* The single-value reader the JSON providers share: a number is the value,
 * null or absent is no data, another type is an error naming the field
 * (New Relic: no data, as its result may be any member). */
static void test_single_value_types(void **state)
{
    (void)state;
    static const struct {
        cd_metric_rc (*parse)(const char *, size_t, double *, cd_err *);
        const char *body;
        cd_metric_rc want;
        const char *msg;
    } cases[] = {
        {cd_datadog_parse, "{\"series\":[{\"pointlist\":[[1,2.5]]}]}", CD_METRIC_OK, ""},
        {cd_datadog_parse, "{\"series\":[{\"pointlist\":[[1,\"2.5\"]]}]}", CD_METRIC_ERROR,
         "invalid response: point value is not a number: '{\"series\""},
        {cd_datadog_parse, "{\"series\":[]}", CD_METRIC_NO_DATA,
         "invalid response: {\"series\":[]}: no values found"},
        {cd_dynatrace_parse, "{\"result\":[{\"data\":[{\"values\":[true]}]}]}", CD_METRIC_ERROR,
         "invalid response: value is not a number: "},
        {cd_dynatrace_parse, "{\"result\":[{\"data\":[]}]}", CD_METRIC_NO_DATA, "no values found"},
        {cd_cloudwatch_parse, "{\"MetricDataResults\":[{\"Values\":[null]}]}", CD_METRIC_NO_DATA,
         "no values found"},
        {cd_cloudwatch_parse, "{\"MetricDataResults\":[{\"Values\":[{}]}]}", CD_METRIC_ERROR,
         "invalid response: value is not a number: "},
        {cd_newrelic_parse, "{\"results\":[{\"average\":\"7\"}]}", CD_METRIC_NO_DATA,
         "no values found"},
        {cd_newrelic_parse, "{\"results\":[{\"average\":7}]}", CD_METRIC_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        cd_err err = {""};
        cd_metric_rc rc = cases[i].parse(cases[i].body, strlen(cases[i].body), &v, &err);
        if (rc != cases[i].want || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d (want %d), \"%s\"", i, rc, cases[i].want, err.msg);
        if (rc == CD_METRIC_OK)
            assert_true(v == 2.5 || v == 7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_datadog, reset),
        cmocka_unit_test_setup(test_newrelic, reset),
        cmocka_unit_test_setup(test_graphite, reset),
        cmocka_unit_test_setup(test_dynatrace, reset),
        cmocka_unit_test_setup(test_influxdb, reset),
        cmocka_unit_test_setup(test_cloudwatch, reset),
        cmocka_unit_test(test_parsers_reject_garbage),
        cmocka_unit_test(test_single_value_types),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
