/* test_hooks.c - webhooks against a local receiver that checks the payload:
 * exact JSON shape, success only for status <= 202, retries with
 * exponential backoff and Retry-After (waits recorded, not slept), the
 * timeout bounding everything, TLS with disableTLS, the checksum, event
 * webhooks and the global event webhook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "testsrv.h"
#include "hooks/hooks.h"
#include "model/object.h"
#include "net/http.h"

static testsrv srv;
static int64_t waits[16];
static size_t nwaits;

static void record_sleep(void *ctx, int64_t ms)
{
    if (nwaits < 16)
        waits[nwaits++] = ms;
}

static int64_t fixed_now(void) { return 1700000000123LL; }

static cd_hooks_config cfg = {NULL, 0, 0, record_sleep, NULL, fixed_now, NULL};

static int setup(void **state) { return testsrv_start(&srv, false) > 0 ? 0 : -1; }
static int teardown(void **state) { testsrv_stop(&srv); return 0; }
static int reset(void **state)
{
    testsrv_reset(&srv);
    nwaits = 0;
    cfg.event_webhook = NULL;
    return 0;
}

static json_t *simple_payload(void)
{
    cd_kv items[] = {{"cmd", "hey -z 1m"}, {"type", "cmd"}};
    cd_strmap md = {items, 2};
    return cd_webhook_payload("podinfo", "test", CD_PHASE_PROGRESSING, "abc", &md);
}

static bool post(const char *path, int64_t timeout_ms, int retries, cd_webhook_result *res,
                 cd_err *err)
{
    json_t *p = simple_payload();
    bool ok = cd_webhook_post(&cfg, testsrv_url(&srv, path), timeout_ms, retries, false, p, res, err);
    json_decref(p);
    return ok;
}

static void test_payload_shape(void **state)
{
    cd_kv items[] = {{"z", "last"}, {"a", "first"}, {"m", "middle"}};
    cd_strmap md = {items, 3};
    json_t *p = cd_webhook_payload("podinfo", "test", CD_PHASE_PROGRESSING, "xyz", &md);
    char *s = json_dumps(p, JSON_COMPACT);
    assert_string_equal(s, "{\"name\":\"podinfo\",\"namespace\":\"test\",\"phase\":\"Progressing\","
                           "\"checksum\":\"xyz\",\"metadata\":{\"a\":\"first\",\"m\":\"middle\","
                           "\"z\":\"last\"}}");
    free(s);
    json_decref(p);
    p = cd_webhook_payload("podinfo", "test", CD_PHASE_NONE, "xyz", NULL);
    s = json_dumps(p, JSON_COMPACT);
    assert_string_equal(s, "{\"name\":\"podinfo\",\"namespace\":\"test\",\"phase\":\"\","
                           "\"checksum\":\"xyz\"}");
    free(s);
    json_decref(p);

    testsrv_push(&srv, 200, "OK", 0, NULL, NULL);
    cd_err err = {""};
    assert_true(post("/hook", 5000, 0, NULL, &err));
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->uri, "/hook");
    assert_string_equal(ts_header(r, "Content-Type"), "application/json");
    assert_string_equal(r->body, "{\"name\":\"podinfo\",\"namespace\":\"test\",\"phase\":"
                                 "\"Progressing\",\"checksum\":\"abc\",\"metadata\":{\"cmd\":"
                                 "\"hey -z 1m\",\"type\":\"cmd\"}}");
}

static void test_status_codes(void **state)
{
    struct { int status; bool ok; } cases[] = {
        {200, true}, {201, true}, {202, true}, {203, false}, {204, false}, {302, false},
        {400, false}, {403, false}, {404, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        testsrv_reset(&srv);
        testsrv_push(&srv, cases[i].status, "Forbidden", 0, NULL, NULL);
        cd_err err = {""};
        cd_webhook_result res;
        bool ok = post("/", 5000, 3, &res, &err);
        if (ok != cases[i].ok)
            fail_msg("status %d: ok=%d", cases[i].status, ok);
        assert_int_equal(res.attempts, 1);     /* none of these is retried */
        if (!ok && cases[i].status != 204)
            assert_string_equal(err.msg, "Forbidden");   /* the body is the error */
        if (cases[i].status == 204)
            assert_non_null(strstr(err.msg, "answered HTTP 204"));   /* 204 has no body */
    }
    testsrv_reset(&srv);
    testsrv_push(&srv, 409, "", 0, NULL, NULL);
    cd_err err = {""};
    assert_false(post("/x?token=secret", 5000, 0, NULL, &err));
    assert_int_equal(strncmp(err.msg, "webhook http://127.0.0.1:", 25), 0);
    assert_null(strstr(err.msg, "secret"));
    assert_non_null(strstr(err.msg, "answered HTTP 409"));
}

static void test_retries_with_backoff(void **state)
{
    cd_err err = {""};
    cd_webhook_result res;
    /* retries=1: a 500 then a 200 succeeds on the second attempt */
    testsrv_push(&srv, 500, "busy", 0, NULL, NULL);
    testsrv_push(&srv, 200, "OK", 0, NULL, NULL);
    assert_true(post("/", 60000, 1, &res, &err));
    assert_int_equal(res.attempts, 2);
    assert_int_equal(nwaits, 1);
    assert_int_equal(waits[0], 1000);
    /* exhausted: 1 s, 2 s, 4 s between four attempts */
    testsrv_reset(&srv);
    nwaits = 0;
    testsrv_push(&srv, 502, "bad gateway", 0, NULL, NULL);
    assert_false(post("/", 60000, 3, &res, &err));
    assert_int_equal(res.attempts, 4);
    assert_int_equal(testsrv_count(&srv), 4);
    assert_int_equal(nwaits, 3);
    assert_int_equal(waits[0], 1000);
    assert_int_equal(waits[1], 2000);
    assert_int_equal(waits[2], 4000);
    assert_non_null(strstr(err.msg, "giving up after 4 attempt(s): HTTP 502: bad gateway"));
    /* retries=0 is one attempt */
    testsrv_reset(&srv);
    nwaits = 0;
    testsrv_push(&srv, 500, "x", 0, NULL, NULL);
    assert_false(post("/", 60000, 0, &res, &err));
    assert_int_equal(res.attempts, 1);
    assert_int_equal(nwaits, 0);
    /* 501 is not retried */
    testsrv_reset(&srv);
    testsrv_push(&srv, 501, "not implemented", 0, NULL, NULL);
    assert_false(post("/", 60000, 3, &res, &err));
    assert_int_equal(res.attempts, 1);
    /* backoff is capped at 30 s */
    testsrv_reset(&srv);
    nwaits = 0;
    testsrv_push(&srv, 500, "x", 0, NULL, NULL);
    assert_false(post("/", 3600000, 7, &res, &err));
    assert_int_equal(nwaits, 7);
    assert_int_equal(waits[4], 16000);
    assert_int_equal(waits[5], 30000);
    assert_int_equal(waits[6], 30000);
}

static void test_retry_after(void **state)
{
    cd_err err = {""};
    cd_webhook_result res;
    testsrv_push(&srv, 429, "slow down", 0, "Retry-After: 3", NULL);
    testsrv_push(&srv, 200, "OK", 0, NULL, NULL);
    assert_true(post("/", 60000, 2, &res, &err));
    assert_int_equal(nwaits, 1);
    assert_int_equal(waits[0], 3000);
    /* 503 honours it too; a 500's Retry-After is ignored */
    testsrv_reset(&srv);
    nwaits = 0;
    testsrv_push(&srv, 503, "", 0, "Retry-After: 7", NULL);
    testsrv_push(&srv, 500, "", 0, "Retry-After: 7", NULL);
    testsrv_push(&srv, 200, "", 0, NULL, NULL);
    assert_true(post("/", 60000, 2, &res, &err));
    assert_int_equal(nwaits, 2);
    assert_int_equal(waits[0], 7000);
    assert_int_equal(waits[1], 2000);
    /* a Retry-After beyond the hook timeout gives up at once */
    testsrv_reset(&srv);
    nwaits = 0;
    testsrv_push(&srv, 429, "", 0, "Retry-After: 120", NULL);
    assert_false(post("/", 10000, 5, &res, &err));
    assert_int_equal(res.attempts, 1);
    assert_int_equal(nwaits, 0);
    assert_non_null(strstr(err.msg, "would pass the 10000 ms timeout"));
    /* HTTP dates are understood */
    assert_true(cd_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470000LL) == 10000);
    assert_true(cd_http_parse_retry_after("5", 0) == 5000);
    assert_true(cd_http_parse_retry_after("soon", 0) == -1);
}

static void test_timeout_bounds_the_call(void **state)
{
    cd_err err = {""};
    cd_webhook_result res;
    testsrv_push(&srv, 200, "late", 1500, NULL, NULL);
    assert_false(post("/", 300, 5, &res, &err));
    assert_non_null(strstr(err.msg, "timed out"));
    /* the remaining budget after waits is what the next attempt gets */
    testsrv_reset(&srv);
    nwaits = 0;
    testsrv_push(&srv, 500, "", 0, NULL, NULL);
    assert_false(post("/", 2500, 10, &res, &err));
    /* waits of 1 s then 2 s: the second would pass 2.5 s */
    assert_int_equal(nwaits, 1);
    assert_int_equal(res.attempts, 2);
}

static void test_connection_errors_are_retried(void **state)
{
    testsrv dead;
    assert_true(testsrv_start(&dead, false) > 0);
    char url[128];
    snprintf(url, sizeof url, "%s", testsrv_url(&dead, "/hook"));
    testsrv_stop(&dead);
    json_t *p = simple_payload();
    cd_err err = {""};
    cd_webhook_result res;
    assert_false(cd_webhook_post(&cfg, url, 60000, 2, false, p, &res, &err));
    assert_int_equal(res.attempts, 3);
    assert_int_equal(nwaits, 2);
    assert_non_null(strstr(err.msg, "giving up after 3 attempt(s)"));
    /* a bad URL is not retried */
    assert_false(cd_webhook_post(&cfg, "ftp://x/y", 60000, 2, false, p, &res, &err));
    assert_non_null(strstr(err.msg, "not an http:// or https:// URL"));
    json_decref(p);
}

/* Credentials in a webhook URL (userinfo, query values, token-like path
 * segments) appear in no error, even when the answer quotes the URL. */
static void test_secrets_redacted(void **state)
{
    char url[512], body[600];
    snprintf(url, sizeof url, "http://bob:plainpass1@127.0.0.1:%d/gate/Zq8vR2mK9pL4xW7nC3hJ?token=plaintoken1",
             srv.port);
    snprintf(body, sizeof body, "refused %s", url);
    testsrv_push(&srv, 403, body, 0, NULL, NULL);
    json_t *p = simple_payload();
    cd_err err = {""};
    cd_webhook_result res;
    assert_false(cd_webhook_post(&cfg, url, 5000, 0, false, p, &res, &err));
    assert_int_equal(res.status, 403);
    assert_string_equal(srv.req[0].uri, "/gate/Zq8vR2mK9pL4xW7nC3hJ?token=plaintoken1");
    assert_non_null(strstr(err.msg, "refused http://REDACTED@127.0.0.1:"));
    assert_null(strstr(err.msg, "plainpass1"));
    assert_null(strstr(err.msg, "plaintoken1"));
    assert_null(strstr(err.msg, "Zq8vR2mK9pL4xW7nC3hJ"));
    /* retried to the end: "POST <url> giving up" shows the URL redacted */
    testsrv_reset(&srv);
    testsrv_push(&srv, 503, "busy", 0, NULL, NULL);
    assert_false(cd_webhook_post(&cfg, url, 5000, 1, false, p, &res, &err));
    assert_non_null(strstr(err.msg, "giving up after 2 attempt(s)"));
    assert_non_null(strstr(err.msg, "/gate/REDACTED"));
    assert_null(strstr(err.msg, "plainpass1"));
    assert_null(strstr(err.msg, "plaintoken1"));
    json_decref(p);
}

static void test_tls_and_disable_tls(void **state)
{
    testsrv tls;
    assert_true(testsrv_start(&tls, true) > 0);
    testsrv_push(&tls, 200, "OK", 0, NULL, NULL);
    json_t *p = simple_payload();
    cd_err err = {""};
    cd_webhook_result res;
    /* a self-signed certificate fails verification, and that is not retried */
    assert_false(cd_webhook_post(&cfg, testsrv_url(&tls, "/"), 10000, 3, false, p, &res, &err));
    assert_int_equal(res.attempts, 1);
    assert_int_equal(testsrv_count(&tls), 0);
    assert_true(cd_webhook_post(&cfg, testsrv_url(&tls, "/"), 10000, 0, true, p, &res, &err));
    assert_int_equal(testsrv_count(&tls), 1);
    json_decref(p);
    testsrv_stop(&tls);
}

static void test_checksum(void **state)
{
    cd_canary_status a, b;
    cd_status_init(&a);
    cd_status_init(&b);
    char ha[16], hb[16];
    snprintf(a.last_applied_spec, sizeof a.last_applied_spec, "5b8f6f57d");
    snprintf(b.last_applied_spec, sizeof b.last_applied_spec, "5b8f6f57d");
    cd_webhook_checksum(&a, ha);
    cd_webhook_checksum(&b, hb);
    assert_string_equal(ha, hb);
    assert_true(strlen(ha) > 0);
    /* nil trackedConfigs differ from empty ones */
    cd_status_set_tracked(&b, NULL, 0, true);
    cd_webhook_checksum(&b, hb);
    assert_string_not_equal(ha, hb);
    /* a config checksum change changes it */
    cd_tracked_config t1 = {"configmap/podinfo", "aaaa"}, t2 = {"configmap/podinfo", "bbbb"};
    cd_status_set_tracked(&a, &t1, 1, true);
    cd_webhook_checksum(&a, ha);
    cd_status_set_tracked(&b, &t2, 1, true);
    cd_webhook_checksum(&b, hb);
    assert_string_not_equal(ha, hb);
    /* and so does lastAppliedSpec */
    cd_status_set_tracked(&b, &t1, 1, true);
    snprintf(b.last_applied_spec, sizeof b.last_applied_spec, "other");
    cd_webhook_checksum(&b, hb);
    assert_string_not_equal(ha, hb);
    cd_status_free(&a);
    cd_status_free(&b);
}

static void test_event_payload(void **state)
{
    cd_kv items[] = {{"eventType", "overridden?"}, {"team", "payments"}};
    cd_strmap md = {items, 2};
    json_t *p = cd_event_payload("podinfo", "test", CD_PHASE_PROGRESSING, "c", &md, "Warning",
                                 "Halt advancement", 1700000000123LL);
    char *s = json_dumps(p, JSON_COMPACT);
    assert_string_equal(s, "{\"name\":\"podinfo\",\"namespace\":\"test\",\"phase\":\"Progressing\","
                           "\"checksum\":\"c\",\"metadata\":{\"eventMessage\":\"Halt advancement\","
                           "\"eventType\":\"Warning\",\"team\":\"payments\",\"timestamp\":"
                           "\"1700000000123\"}}");
    free(s);
    json_decref(p);
}

static const char *canary_yaml =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service: {port: 9898}\n  analysis:\n    interval: 1m\n    threshold: 5\n    iterations: 3\n"
    "    webhooks:\n"
    "    - {name: gate, type: confirm-rollout, url: \"%s\", metadata: {x: y}}\n"
    "    - {name: ev1, type: event, url: \"%s\"}\n"
    "    - {name: ev2, type: event, url: \"%s\", metadata: {team: web}}\n";

static cd_object *load_canary(const char *yaml, cd_object_list *objs)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("c.yaml", yaml, strlen(yaml), false, "test", objs, &d);
    if (cd_diags_errors(&d)) {
        cd_diags_print(&d, stderr);
        fail();
    }
    cd_diags_free(&d);
    return objs->items[0];
}

static void test_port(void **state)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, canary_yaml, testsrv_url(&srv, "/gate"), testsrv_url(&srv, "/ev1"),
             testsrv_url(&srv, "/ev2"));
    cd_object_list objs = {0};
    cd_object *o = load_canary(yaml, &objs);
    cd_canary_status st;
    cd_status_init(&st);
    st.phase = CD_PHASE_PROGRESSING;
    cd_canary_ref ref = {&o->meta, &o->spec.canary, &st, "kubernetes", NULL};
    cd_hooks_port port = cd_hooks_port_make(&cfg);
    cd_err err = {""};
    testsrv_push(&srv, 200, "Approved", 0, NULL, NULL);
    assert_true(port.call(port.ctx, &ref, &o->spec.canary.analysis.webhooks[0], CD_PHASE_INITIALIZED,
                          &err));
    json_t *b = json_loads(srv.req[0].body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "phase")), "Initialized");
    char sum[16];
    cd_webhook_checksum(&st, sum);
    assert_string_equal(json_string_value(json_object_get(b, "checksum")), sum);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "metadata"), "x")), "y");
    json_decref(b);

    /* events go to every event hook of the canary */
    testsrv_reset(&srv);
    port.send_event(port.ctx, &ref, CD_PHASE_PROGRESSING, "Normal", "Starting canary analysis");
    assert_int_equal(testsrv_count(&srv), 2);
    assert_string_equal(srv.req[0].uri, "/ev1");
    assert_string_equal(srv.req[1].uri, "/ev2");
    b = json_loads(srv.req[1].body, 0, NULL);
    json_t *md = json_object_get(b, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "eventMessage")),
                        "Starting canary analysis");
    assert_string_equal(json_string_value(json_object_get(md, "eventType")), "Normal");
    assert_string_equal(json_string_value(json_object_get(md, "timestamp")), "1700000000123");
    assert_string_equal(json_string_value(json_object_get(md, "team")), "web");
    json_decref(b);
    cd_hooks_port_release(&port);

    /* without event hooks: the global event webhook */
    testsrv_reset(&srv);
    o->spec.canary.analysis.n_webhooks = 1;
    cfg.event_webhook = testsrv_url(&srv, "/global");
    port = cd_hooks_port_make(&cfg);
    port.send_event(port.ctx, &ref, CD_PHASE_FAILED, "Warning", "Canary failed!");
    assert_int_equal(testsrv_count(&srv), 1);
    assert_string_equal(srv.req[0].uri, "/global");
    cd_hooks_port_release(&port);
    /* EVENT_WEBHOOK_URL wins over the flag */
    testsrv_reset(&srv);
    setenv("EVENT_WEBHOOK_URL", testsrv_url(&srv, "/from-env"), 1);
    port = cd_hooks_port_make(&cfg);
    port.send_event(port.ctx, &ref, CD_PHASE_FAILED, "Warning", "x");
    assert_string_equal(srv.req[0].uri, "/from-env");
    unsetenv("EVENT_WEBHOOK_URL");
    cd_hooks_port_release(&port);
    /* a failing event webhook is logged, not fatal, and not retried here */
    testsrv_reset(&srv);
    testsrv_push(&srv, 500, "down", 0, NULL, NULL);
    port = cd_hooks_port_make(&cfg);
    port.send_event(port.ctx, &ref, CD_PHASE_FAILED, "Warning", "x");
    assert_int_equal(testsrv_count(&srv), 1);
    cd_hooks_port_release(&port);
    cd_status_free(&st);
    cd_object_list_free(&objs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_payload_shape, reset),
        cmocka_unit_test_setup(test_status_codes, reset),
        cmocka_unit_test_setup(test_retries_with_backoff, reset),
        cmocka_unit_test_setup(test_retry_after, reset),
        cmocka_unit_test_setup(test_timeout_bounds_the_call, reset),
        cmocka_unit_test_setup(test_connection_errors_are_retried, reset),
        cmocka_unit_test_setup(test_secrets_redacted, reset),
        cmocka_unit_test_setup(test_tls_and_disable_tls, reset),
        cmocka_unit_test_setup(test_checksum, reset),
        cmocka_unit_test_setup(test_event_payload, reset),
        cmocka_unit_test_setup(test_port, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
