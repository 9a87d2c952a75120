/* test_providers_stackdriver.c - the `stackdriver` provider (Google Cloud
 * Monitoring) against a local server that plays both the OAuth token
 * endpoint (it receives a JWT the test verifies with the service account's
 * public key) and Cloud Monitoring's timeSeries:query, answering in their
 * wire formats: value picking (doubleValue, int64Value), no data, Google
 * API errors, token errors, garbage, timeouts, the online check, the
 * metadata server and GOOGLE_APPLICATION_CREDENTIALS, constructor errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "testsrv.h"
#include "providers/provider.h"

static testsrv srv;
static EVP_PKEY *key;
static char key_json[8192];
#define NOW_MS 1700000000000LL
static int64_t fixed_now(void) { return NOW_MS; }

#define TOKEN_OK "{\"access_token\":\"ya29.test-token\",\"expires_in\":3599,\"token_type\":\"Bearer\"}"
#define SERIES(values) \
    "{\"timeSeriesDescriptor\":{\"labelDescriptors\":[{\"key\":\"resource.container_name\"}]," \
    "\"pointDescriptors\":[{\"key\":\"value.ratio\",\"valueType\":\"DOUBLE\",\"metricKind\":\"GAUGE\"}]}," \
    "\"timeSeriesData\":[{\"labelValues\":[{\"stringValue\":\"podinfo\"}],\"pointData\":[{\"values\":[" \
    values "],\"timeInterval\":{\"startTime\":\"2023-11-14T22:12:20Z\",\"endTime\":\"2023-11-14T22:13:20Z\"}}]}]}"

static int setup(void **state)
{
    if (testsrv_start(&srv, false) <= 0)
        return -1;
    key = EVP_RSA_gen(2048);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    json_t *k = json_pack("{s:s, s:s, s:s, s:s%, s:s, s:s}", "type", "service_account",
                          "project_id", "my-proj", "private_key_id", "kid-1", "private_key", pem,
                          (size_t)n, "client_email", "canaryd@my-proj.iam.gserviceaccount.com",
                          "token_uri", testsrv_url(&srv, "/token"));
    char *s = json_dumps(k, JSON_COMPACT);
    snprintf(key_json, sizeof key_json, "%s", s);
    free(s);
    json_decref(k);
    BIO_free(b);
    return key ? 0 : -1;
}

static int teardown(void **state)
{
    testsrv_stop(&srv);
    EVP_PKEY_free(key);
    return 0;
}

static int reset(void **state) { testsrv_reset(&srv); return 0; }

static cd_secret creds(const char *project, const char *sa)
{
    cd_secret s;
    cd_secret_init(&s, "gcp");
    if (project)
        cd_secret_put(&s, "project", project, strlen(project));
    if (sa)
        cd_secret_put(&s, "serviceAccountKey", sa, strlen(sa));
    return s;
}

static char *empty_env[] = {NULL};

static cd_provider_config config(cd_secret *s)
{
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "stackdriver";
    c.address = testsrv_url(&srv, "");
    c.secret = s;
    c.interval = "1m";
    c.now_ms = fixed_now;
    c.environ_ = empty_env;
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

/* base64url (no padding) -> bytes; malloc'd */
static unsigned char *unb64url(const char *s, size_t n, size_t *out)
{
    char *t = calloc(n + 4, 1);
    for (size_t i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    size_t m = n;
    while (m % 4)
        t[m++] = '=';
    unsigned char *d = calloc(m, 1);
    int len = EVP_DecodeBlock(d, (unsigned char *)t, (int)m);
    free(t);
    assert_true(len >= 0);
    *out = (size_t)len - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    return d;
}

static json_t *jwt_part(const char *s, size_t n)
{
    size_t len;
    unsigned char *d = unb64url(s, n, &len);
    json_t *j = json_loadb((char *)d, len, 0, NULL);
    free(d);
    assert_non_null(j);
    return j;
}

/* The token request: a jwt-bearer grant whose JWT the key signed. */
static void check_token_request(const ts_request *r)
{
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->uri, "/token");
    assert_string_equal(ts_header(r, "Content-Type"), "application/x-www-form-urlencoded");
    const char *pfx = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    assert_true(r->body_len > strlen(pfx) && !strncmp(r->body, pfx, strlen(pfx)));
    const char *jwt = r->body + strlen(pfx);
    size_t jlen = r->body_len - strlen(pfx);
    const char *d1 = memchr(jwt, '.', jlen);
    assert_non_null(d1);
    const char *d2 = memchr(d1 + 1, '.', jlen - (size_t)(d1 + 1 - jwt));
    assert_non_null(d2);
    json_t *h = jwt_part(jwt, (size_t)(d1 - jwt));
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), "kid-1");
    json_t *c = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    assert_string_equal(json_string_value(json_object_get(c, "iss")),
                        "canaryd@my-proj.iam.gserviceaccount.com");
    assert_string_equal(json_string_value(json_object_get(c, "aud")), testsrv_url(&srv, "/token"));
    assert_non_null(strstr(json_string_value(json_object_get(c, "scope")),
                           "https://www.googleapis.com/auth/monitoring.read"));
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), NOW_MS / 1000);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), NOW_MS / 1000 + 3600);
    json_decref(h);
    json_decref(c);
    size_t slen;
    unsigned char *sig = unb64url(d2 + 1, jlen - (size_t)(d2 + 1 - jwt), &slen);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt,
                                      (size_t)(d2 - jwt)), 1);
    /* and a tampered JWT does not verify */
    sig[0] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt,
                                          (size_t)(d2 - jwt)), 1);
    EVP_MD_CTX_free(md);
    free(sig);
}

static void test_query(void **state)
{
    cd_secret s = creds("my-proj", key_json);
    cd_provider_config c = config(&s);
    double v = 0;
    cd_err err = {""};
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 200, SERIES("{\"doubleValue\":0.995}") , 0, NULL, NULL);
    const char *q = "fetch k8s_container | metric 'istio.io/service/server/request_count' | "
                    "filter resource.container_name == 'podinfo' | within 1m";
    assert_int_equal(run(&c, q, &v, &err), CD_METRIC_OK);
    assert_true(v == 0.995);
    assert_int_equal(testsrv_count(&srv), 2);
    check_token_request(&srv.req[0]);
    const ts_request *r = &srv.req[1];
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->uri, "/v3/projects/my-proj/timeSeries:query");
    assert_string_equal(ts_header(r, "Authorization"), "Bearer ya29.test-token");
    assert_string_equal(ts_header(r, "Content-Type"), "application/json");
    json_t *b = json_loadb(r->body, r->body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "query")), q);
    json_decref(b);

    /* the key as canaryd local's environment variables give it (lower-cased) */
    cd_secret_free(&s);
    cd_secret_init(&s, "gcp");
    cd_secret_put(&s, "project", "my-proj", 7);
    cd_secret_put(&s, "serviceaccountkey", key_json, strlen(key_json));
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 200, SERIES("{\"doubleValue\":0.5}"), 0, NULL, NULL);
    assert_int_equal(run(&c, q, &v, &err), CD_METRIC_OK);
    assert_true(v == 0.5);
    check_token_request(&srv.req[0]);

    /* int64 values (a JSON string in proto3) */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 200, SERIES("{\"int64Value\":\"42\"}"), 0, NULL, NULL);
    assert_int_equal(run(&c, q, &v, &err), CD_METRIC_OK);
    assert_true(v == 42);
    cd_secret_free(&s);
}

static void test_no_data_and_errors(void **state)
{
    cd_secret s = creds("my-proj", key_json);
    cd_provider_config c = config(&s);
    double v;
    cd_err err = {""};
    static const struct { int status; const char *body; cd_metric_rc rc; const char *msg; } cases[] = {
        {200, "{\"timeSeriesDescriptor\":{}}", CD_METRIC_NO_DATA, "no values found"},
        {200, "{}", CD_METRIC_NO_DATA, "no values found"},
        {200, "{\"timeSeriesData\":[{\"pointData\":[]}]}", CD_METRIC_NO_DATA, "no values found"},
        {200, "{\"timeSeriesData\":[{\"pointData\":[{\"values\":[]}]}]}", CD_METRIC_NO_DATA,
         "no values found"},
        {200, SERIES("{\"doubleValue\":\"NaN\"}"), CD_METRIC_OK, ""},
        {200, SERIES("{\"doubleValue\":true}"), CD_METRIC_ERROR, "doubleValue is not a number"},
        {200, SERIES("{\"int64Value\":\"4x\"}"), CD_METRIC_ERROR, "int64Value is not a number"},
        {200, "<html>quota</html>", CD_METRIC_ERROR, "error unmarshaling result"},
        {400, "{\"error\":{\"code\":400,\"message\":\"Query parse error: Line 1, column 1: "
              "syntax error\",\"status\":\"INVALID_ARGUMENT\"}}", CD_METRIC_ERROR,
         "error requesting stackdriver: rpc error: code = INVALID_ARGUMENT desc = Query parse error"},
        {502, "<html>bad gateway</html>", CD_METRIC_ERROR,
         "error requesting stackdriver: error response (HTTP 502): <html>bad gateway</html>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        testsrv_reset(&srv);
        testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
        testsrv_push(&srv, cases[i].status, cases[i].body, 0, NULL, NULL);
        cd_metric_rc rc = run(&c, "fetch x", &v, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d (want %d): \"%s\"", i, rc, cases[i].rc, err.msg);
    }

    /* the token endpoint refuses: no query is sent */
    testsrv_reset(&srv);
    testsrv_push(&srv, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT "
                            "Signature.\"}", 0, NULL, NULL);
    assert_int_equal(run(&c, "fetch x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "oauth2: cannot fetch token: error response (HTTP 400)"));
    assert_non_null(strstr(err.msg, "Invalid JWT Signature."));
    assert_int_equal(testsrv_count(&srv), 1);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"token_type\":\"Bearer\"}", 0, NULL, NULL);
    assert_int_equal(run(&c, "fetch x", &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "oauth2: server response missing access_token");
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "not json", 0, NULL, NULL);
    assert_int_equal(run(&c, "fetch x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "oauth2: cannot fetch token: error unmarshaling result"));

    /* a query slower than the timeout */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 200, SERIES("{\"doubleValue\":1}"), 3000, NULL, NULL);
    c.timeout_ms = 300;
    assert_int_equal(run(&c, "fetch x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error requesting stackdriver: request failed"));
    /* no secret value leaks into a message */
    assert_null(strstr(err.msg, "ya29"));
    cd_secret_free(&s);
}

static void test_online(void **state)
{
    cd_secret s = creds("my-proj", key_json);
    cd_provider_config c = config(&s);
    cd_err err = {""};
    cd_provider *p = cd_provider_open(&c, &err);
    assert_non_null(p);
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 400, "{\"error\":{\"code\":400,\"message\":\"Query is empty.\",\"status\":"
                            "\"INVALID_ARGUMENT\"}}", 0, NULL, NULL);
    assert_true(cd_provider_is_online(p, &err));
    json_t *b = json_loadb(srv.req[1].body, srv.req[1].body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "query")), "");
    json_decref(b);
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 403, "{\"error\":{\"code\":403,\"message\":\"Permission monitoring."
                            "timeSeries.list denied\",\"status\":\"PERMISSION_DENIED\"}}", 0, NULL, NULL);
    assert_false(cd_provider_is_online(p, &err));
    assert_string_equal(err.msg, "unexpected status code: PERMISSION_DENIED (HTTP 403)");
    cd_provider_close(p);
    cd_secret_free(&s);
}

static void test_other_credentials(void **state)
{
    /* no key in the secret: the metadata server (GCE_METADATA_HOST) */
    cd_secret s = creds("my-proj", NULL);
    cd_provider_config c = config(&s);
    char host[64];
    snprintf(host, sizeof host, "GCE_METADATA_HOST=127.0.0.1:%d", srv.port);
    char *env[] = {host, NULL};
    c.environ_ = env;
    double v;
    cd_err err = {""};
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 200, SERIES("{\"doubleValue\":3}"), 0, NULL, NULL);
    assert_int_equal(run(&c, "fetch x", &v, &err), CD_METRIC_OK);
    assert_true(v == 3);
    assert_string_equal(srv.req[0].method, "GET");
    assert_string_equal(srv.req[0].uri, "/computeMetadata/v1/instance/service-accounts/default/token");
    assert_string_equal(ts_header(&srv.req[0], "Metadata-Flavor"), "Google");
    assert_string_equal(ts_header(&srv.req[1], "Authorization"), "Bearer ya29.test-token");

    /* GOOGLE_APPLICATION_CREDENTIALS names a key file */
    char path[] = "/tmp/sd-keyXXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, key_json, strlen(key_json)), (ssize_t)strlen(key_json));
    close(fd);
    char gac[128];
    snprintf(gac, sizeof gac, "GOOGLE_APPLICATION_CREDENTIALS=%s", path);
    char *env2[] = {gac, host, NULL};
    c.environ_ = env2;
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, TOKEN_OK, 0, NULL, NULL);
    testsrv_push(&srv, 200, SERIES("{\"doubleValue\":4}"), 0, NULL, NULL);
    assert_int_equal(run(&c, "fetch x", &v, &err), CD_METRIC_OK);
    assert_true(v == 4);
    check_token_request(&srv.req[0]);
    unlink(path);
    assert_null(cd_provider_open(&c, &err));   /* the file is gone */
    assert_non_null(strstr(err.msg, "cannot be read"));
    cd_secret_free(&s);
}

static void test_constructor_errors(void **state)
{
    cd_err err = {""};
    cd_provider_config c = config(NULL);
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "stackdriver needs spec.provider.secretRef with a project id");
    static const struct { const char *project, *key, *msg; } bad[] = {
        {NULL, "{}", "stackdriver credentials does not contain a project id"},
        {"p", "not json", "serviceAccountKey is not a JSON service account key"},
        {"p", "{\"type\":\"authorized_user\",\"refresh_token\":\"r\"}",
         "credentials of type \"authorized_user\" are not supported"},
        {"p", "{\"type\":\"service_account\",\"client_email\":\"a@b\"}", "the key has no private_key"},
        {"p", "{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":\"-----BEGIN "
              "PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n\"}",
         "private_key is not a PEM RSA private key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cd_secret s = creds(bad[i].project, bad[i].key);
        c.secret = &s;
        assert_null(cd_provider_open(&c, &err));
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: \"%s\"", i, err.msg);
        assert_null(strstr(err.msg, "AAAA"));   /* key material is never shown */
        cd_secret_free(&s);
    }
    cd_secret s = creds("p", key_json);
    c.secret = &s;
    c.address = "monitoring";
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "stackdriver address \"monitoring\" is not a valid URL");
    cd_secret_free(&s);
}

static void test_parser_garbage(void **state)
{
    const char *junk[] = {"", "{", "null", "\"x\"", "<html>", "[[[[", "[]"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        double v;
        cd_err err = {""};
        assert_int_equal(cd_stackdriver_parse(junk[i], strlen(junk[i]), &v, &err), CD_METRIC_ERROR);
        assert_true(strlen(err.msg) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_query, reset),
        cmocka_unit_test_setup(test_no_data_and_errors, reset),
        cmocka_unit_test_setup(test_online, reset),
        cmocka_unit_test_setup(test_other_credentials, reset),
        cmocka_unit_test(test_constructor_errors),
        cmocka_unit_test(test_parser_garbage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
