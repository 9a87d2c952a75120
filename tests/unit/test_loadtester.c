/* test_loadtester.c - the load tester's HTTP API end to end on a free
 * port: health, gates and rollback gates, namespace protection, payload
 * errors, bash/cmd/kubectl tasks (results, output, timeout, deduplication,
 * kill on stop), the native load task against a local server, and
 * /metrics accepted by promtool. The task mechanics run with
 * allow_any_command (their commands are shell snippets); the default
 * policy, the token and the event-driven server have tests of their own
 * (a second load tester). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include "testsrv.h"
#include "loadtester/loadtester.h"
#include "loadtester/proc.h"
#include "net/http.h"
#include "hooks/hooks.h"
#include "util/timeutil.h"
#include <sys/wait.h>
#include <unistd.h>

static cd_loadtester *lt;
static int port;

static int setup(void **state)
{
    cd_loadtester_config cfg = {.address = "127.0.0.1", .timeout_ms = 3000,
                                .namespace_regexp = "^(test|prod)$", .allow_any_command = true};
    cd_err err = {""};
    lt = cd_loadtester_start(&cfg, &err);
    if (!lt) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    port = cd_loadtester_port(lt);
    return 0;
}

static int teardown(void **state)
{
    cd_loadtester_stop(lt);
    return 0;
}

typedef struct resp {
    long status;
    char body[4096];
} resp;

static const char *call_auth;       /* "Authorization" value, or NULL */

static resp call(const char *method, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    cd_http_request rq;
    cd_http_request_init(&rq, method, url);
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    rq.timeout_ms = 20000;
    cd_err herr = {""};
    if (call_auth)
        cd_http_add_header(&rq, "Authorization", call_auth, &herr);
    cd_http_response rs;
    cd_err err = {""};
    resp r = {0, ""};
    if (!cd_http_perform(&rq, &rs, &err))
        fail_msg("request to %s failed: %s", path, err.msg);
    r.status = rs.status;
    snprintf(r.body, sizeof r.body, "%s", rs.body.data ? rs.body.data : "");
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    return r;
}

static resp post(const char *path, const char *body) { return call("POST", path, body); }

#define PAYLOAD(ns, md) "{\"name\":\"podinfo\",\"namespace\":\"" ns "\",\"phase\":\"Progressing\",\"checksum\":\"x\"" md "}"

static void expect(resp r, long status, const char *body)
{
    if (r.status != status || (body && strcmp(r.body, body)))
        fail_msg("got %ld \"%s\", want %ld \"%s\"", r.status, r.body, status, body ? body : "*");
}

static void test_health_and_static_gates(void **state)
{
    expect(call("GET", "/healthz", NULL), 200, "OK");
    expect(post("/healthz", "{}"), 200, "OK");
    expect(post("/gate/approve", PAYLOAD("test", "")), 200, "OK");
    expect(post("/gate/halt", PAYLOAD("test", "")), 403, "Forbidden");
}

static void test_gates(void **state)
{
    expect(post("/gate/check", PAYLOAD("test", "")), 403, "Forbidden");   /* unknown = closed */
    expect(post("/gate/open", PAYLOAD("test", "")), 202, "");
    expect(post("/gate/check", PAYLOAD("test", "")), 200, "Approved");
    /* another canary (same name, other namespace) stays closed */
    expect(post("/gate/check", PAYLOAD("prod", "")), 403, "Forbidden");
    /* the rollback gate is a different key */
    expect(post("/rollback/check", PAYLOAD("test", "")), 403, "Forbidden");
    expect(post("/rollback/open", PAYLOAD("test", "")), 202, "");
    expect(post("/rollback/check", PAYLOAD("test", "")), 200, "Approved");
    expect(post("/rollback/close", PAYLOAD("test", "")), 202, "");
    expect(post("/rollback/check", PAYLOAD("test", "")), 403, "Forbidden");
    expect(post("/gate/close", PAYLOAD("test", "")), 202, "");
    expect(post("/gate/check", PAYLOAD("test", "")), 403, "Forbidden");
}

static void test_namespace_regexp_and_bad_payloads(void **state)
{
    expect(post("/gate/open", PAYLOAD("kube-system", "")), 403, "Forbidden");
    expect(post("/", PAYLOAD("kube-system", ",\"metadata\":{\"cmd\":\"true\"}")), 403, "Forbidden");
    /* ^(test|prod)$ is anchored: "testing" does not match */
    expect(post("/gate/check", PAYLOAD("testing", "")), 403, "Forbidden");
    resp r = post("/", "not json");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "decoding the request body failed"));
    expect(post("/", PAYLOAD("test", "")), 400, "metadata not found in payload");
    expect(post("/", PAYLOAD("test", ",\"metadata\":{}")), 400, "metadata not found in payload");
    r = post("/", PAYLOAD("test", ",\"metadata\":{\"cmd\":1}"));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "metadata.cmd is not a string"));
    expect(post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"cmd\"}")), 400,
           "cmd not found in metadata");
    expect(post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"magic\"}")), 400,
           "unknown task type magic");
    r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"concord\"}"));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "not supported by canaryd"));
    /* bodies over 1 MiB are refused */
    size_t n = (1u << 20) + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    expect(post("/", big), 413, NULL);
    free(big);
}

static void test_bash(void **state)
{
    expect(post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"true\"}")), 200, "");
    expect(post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"echo -n hi; "
                                      "echo -n ' there' >&2\",\"returnCmdOutput\":\"true\"}")),
           200, "hi there");
    expect(post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"false\"}")), 500,
           "command false failed: : exit status 1");
    expect(post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"echo boom; exit "
                                      "3\"}")),
           500, "command echo boom; exit 3 failed: boom\n: exit status 3");
    /* the task timeout (3 s here) kills a command that runs too long */
    resp r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"sleep 30\"}"));
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "signal: killed (timed out after 3000 ms)"));
    /* also when the command closed its output first */
    r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"exec >/dev/null "
                                  "2>&1; sleep 30\"}"));
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "timed out after 3000 ms"));
}

static void test_kubectl_and_helm(void **state)
{
    if (cd_proc_in_path("kubectl")) {
        resp r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"kubectl\",\"cmd\":\"version "
                                           "--client -n test\",\"returnCmdOutput\":\"true\"}"));
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "Client Version"));
    }
    if (!cd_proc_in_path("helm")) {
        resp r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"helm\",\"cmd\":\"test x -n test\"}"));
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "needs the helm program"));
    } else {
        /* the pinned helm (scripts/kube-tools.sh) is on the tests' PATH */
        resp r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"helmv3\",\"cmd\":\"version -n test "
                                           "--template {{.Version}}\",\"returnCmdOutput\":\"true\"}"));
        assert_int_equal(r.status, 200);
        assert_true(strstr(r.body, "v3.") || strstr(r.body, "v4."));
        /* a helm command that fails answers 500 with helm's own error */
        r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"helm\",\"cmd\":\"no-such-command -n test\"}"));
        assert_int_equal(r.status, 500);
        assert_non_null(strstr(r.body, "unknown command"));
    }
}

static void wait_idle(void)
{
    for (int i = 0; i < 200 && cd_loadtester_running(lt) > 0; i++)
        usleep(25000);
    assert_int_equal(cd_loadtester_running(lt), 0);
}

static void test_cmd_runs_in_background_and_dedups(void **state)
{
    wait_idle();
    uint64_t before = cd_loadtester_execs(lt);
    const char *p = PAYLOAD("test", ",\"metadata\":{\"type\":\"cmd\",\"cmd\":\"sleep 0.5\"}");
    expect(post("/", p), 202, "");
    expect(post("/", p), 202, "");   /* the same command while it runs: skipped */
    assert_int_equal(cd_loadtester_execs(lt), before + 1);
    /* another canary's identical command is another task */
    expect(post("/", PAYLOAD("prod", ",\"metadata\":{\"cmd\":\"sleep 0.5\"}")), 202, "");
    assert_int_equal(cd_loadtester_execs(lt), before + 2);
    wait_idle();
    expect(post("/", p), 202, "");   /* finished: runs again */
    assert_int_equal(cd_loadtester_execs(lt), before + 3);
    wait_idle();
}

static testsrv target;

static ts_response every_third_fails(testsrv *s, const ts_request *r)
{
    /* the request's own index, not s->nreq: with concurrency 3, other requests may have
       been recorded between this one and the handler call (a flaky 9 != 10 under ASan) */
    ts_response x = {200, "ok", {NULL}, 0};
    if ((size_t)(r - s->req + 1) % 3 == 0)
        x.status = 503;
    return x;
}

static void test_native_load(void **state)
{
    assert_true(testsrv_start(&target, false) > 0);
    target.handler = every_third_fails;
    char body[1024];
    snprintf(body, sizeof body,
             PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"%s\",\"method\":\"POST\","
                             "\"body\":\"{\\\"k\\\":1}\",\"header.X-Test\":\"canary\",\"requests\":"
                             "\"30\",\"concurrency\":\"3\",\"wait\":\"true\",\"maxErrorRate\":\"10\"}"),
             testsrv_url(&target, "/api"));
    resp r = post("/", body);
    assert_int_equal(r.status, 500);   /* a third failed: over 10 % */
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "sent")), 30);
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 10);
    assert_int_equal(json_integer_value(json_object_get(j, "succeeded")), 20);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "responses"), "5xx")), 10);
    assert_false(json_is_true(json_object_get(j, "passed")));
    json_decref(j);
    assert_int_equal(testsrv_count(&target), 30);
    const ts_request *q = &target.req[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->uri, "/api");
    assert_string_equal(q->body, "{\"k\":1}");
    assert_string_equal(ts_header(q, "X-Test"), "canary");

    /* within the allowed error rate it passes */
    testsrv_reset(&target);
    target.handler = every_third_fails;
    snprintf(body, sizeof body,
             PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"%s\",\"requests\":\"9\","
                             "\"wait\":\"true\",\"maxErrorRate\":\"50\"}"),
             testsrv_url(&target, "/"));
    r = post("/", body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"passed\":true"));

    /* a server that is down: every request fails, with the reason */
    char down[256];
    snprintf(down, sizeof down, "%s", testsrv_url(&target, "/"));
    testsrv_stop(&target);
    snprintf(body, sizeof body,
             PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"%s\",\"requests\":\"5\","
                             "\"wait\":\"true\"}"),
             down);
    r = post("/", body);
    j = json_loads(r.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 5);
    assert_non_null(json_object_get(j, "firstError"));
    json_decref(j);

    /* bad specs are refused */
    r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"ftp://x\"}"));
    assert_int_equal(r.status, 400);
    r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"http://x/\","
                                  "\"rate\":\"fast\"}"));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "rate \"fast\""));
}

static void test_metrics_pass_promtool(void **state)
{
    resp r = call("GET", "/metrics", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "loadtester_tasks_total{result=\"started\",type=\"cmd\"}"));
    assert_non_null(strstr(r.body, "process_cpu_seconds_total"));
    if (access("/usr/bin/promtool", X_OK) != 0)
        return;
    FILE *p = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
    assert_non_null(p);
    fputs(r.body, p);
    assert_int_equal(pclose(p), 0);
}

static void test_stop_kills_running_tasks(void **state)
{
    cd_loadtester_config cfg = {.address = "127.0.0.1", .timeout_ms = 60000,
                                .allow_any_command = true};
    cd_err err = {""};
    cd_loadtester *other = cd_loadtester_start(&cfg, &err);
    assert_non_null(other);
    char pidfile[] = "/tmp/canaryd-lt-pid.XXXXXX";
    int fd = mkstemp(pidfile);
    close(fd);
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"x\",\"namespace\":\"y\",\"metadata\":{\"cmd\":\"echo $$ > %s; exec sleep "
             "30\"}}",
             pidfile);
    int saved = port;
    port = cd_loadtester_port(other);
    expect(post("/", body), 202, "");
    port = saved;
    long pid = 0;
    for (int i = 0; i < 100 && pid == 0; i++) {
        FILE *f = fopen(pidfile, "r");
        if (f && fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        if (f)
            fclose(f);
        if (!pid)
            usleep(20000);
    }
    assert_true(pid > 0);
    assert_int_equal(kill((pid_t)pid, 0), 0);
    cd_loadtester_stop(other);    /* returns once the task is killed and reaped */
    assert_int_equal(kill((pid_t)pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    unlink(pidfile);
}

static void test_bad_config(void **state)
{
    cd_loadtester_config cfg = {.address = "127.0.0.1", .namespace_regexp = "([unclosed"};
    cd_err err = {""};
    assert_null(cd_loadtester_start(&cfg, &err));
    assert_non_null(strstr(err.msg, "invalid -namespace-regexp"));
    cfg.namespace_regexp = NULL;
    cfg.port = port;   /* taken */
    assert_null(cd_loadtester_start(&cfg, &err));
    assert_non_null(strstr(err.msg, "cannot listen"));
    cfg.address = "nowhere";
    cfg.port = 0;
    assert_null(cd_loadtester_start(&cfg, &err));
    cfg.address = "127.0.0.1";
    cfg.allow_commands = "hey,/bin/sh";
    assert_null(cd_loadtester_start(&cfg, &err));
    assert_non_null(strstr(err.msg, "\"/bin/sh\" is not a program name"));
}

/* ---- a load tester as shipped: default allowlist, a token --------------- */

static resp on_port(int p, const char *method, const char *path, const char *body,
                    const char *auth)
{
    int saved = port;
    const char *saved_auth = call_auth;
    port = p;
    call_auth = auth;
    resp r = call(method, path, body);
    port = saved;
    call_auth = saved_auth;
    return r;
}

static void test_token_and_default_policy(void **state)
{
    cd_loadtester_config cfg = {.address = "127.0.0.1", .timeout_ms = 5000,
                                .namespace_regexp = "^test$", .token = "s3cret-token"};
    cd_err err = {""};
    cd_loadtester *sec = cd_loadtester_start(&cfg, &err);
    assert_non_null(sec);
    int p = cd_loadtester_port(sec);
    const char *gate = PAYLOAD("test", "");
    /* probes and scrapes need no token; the API does, gates included */
    assert_int_equal(on_port(p, "GET", "/healthz", NULL, NULL).status, 200);
    assert_int_equal(on_port(p, "GET", "/metrics", NULL, NULL).status, 200);
    resp r = on_port(p, "POST", "/gate/open", gate, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "needs a token"));
    assert_int_equal(on_port(p, "POST", "/gate/open", gate, "Bearer wrong").status, 401);
    assert_int_equal(on_port(p, "POST", "/gate/approve", gate, NULL).status, 401);
    assert_int_equal(on_port(p, "POST", "/gate/check", gate, "Bearer s3cret-token").status, 403);
    assert_int_equal(on_port(p, "POST", "/gate/open", gate, "Bearer s3cret-token").status, 202);
    /* Flagger's webhooks send http://user:TOKEN@host/ as Basic auth */
    assert_int_equal(on_port(p, "POST", "/gate/check", gate, "Basic dG9rZW46czNjcmV0LXRva2Vu")
                         .status, 200);
    assert_int_equal(on_port(p, "POST", "/", PAYLOAD("test", ",\"metadata\":{\"cmd\":\"id\"}"),
                             NULL).status, 401);
    /* canaryd's own webhooks (the engine's port) carry it the same way */
    char url[200];
    snprintf(url, sizeof url, "http://flagger:s3cret-token@127.0.0.1:%d/gate/check", p);
    json_t *pl = json_pack("{s:s,s:s}", "name", "podinfo", "namespace", "test");
    cd_webhook_result wr;
    assert_true(cd_webhook_post(NULL, url, 5000, 0, false, pl, &wr, &err));
    assert_int_equal(wr.status, 200);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/gate/check", p);
    assert_false(cd_webhook_post(NULL, url, 5000, 0, false, pl, &wr, &err));
    assert_int_equal(wr.status, 401);
    json_decref(pl);
    const char *tok = "Bearer s3cret-token";
    /* commands off the list, shell tricks, other namespaces: 403 */
    static const char *const refused[] = {
        "{\"cmd\":\"id>/tmp/x\"}",
        "{\"type\":\"bash\",\"cmd\":\"cat /etc/shadow\",\"returnCmdOutput\":\"true\"}",
        "{\"cmd\":\"curl -s http://x/ $(id)\"}",
        "{\"cmd\":\"hey http://x/; sh -c id\"}",
        "{\"type\":\"kubectl\",\"cmd\":\"delete ns prod\"}",
        "{\"type\":\"kubectl\",\"cmd\":\"-n prod delete deploy x\"}",
        "{\"type\":\"helmv3\",\"cmd\":\"uninstall x -A\"}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"name\":\"podinfo\",\"namespace\":\"test\",\"metadata\":%s}",
                 refused[i]);
        r = on_port(p, "POST", "/", body, tok);
        if (r.status != 403 || !strstr(r.body, "refused: "))
            fail_msg("%s: got %ld %s", refused[i], r.status, r.body);
    }
    r = on_port(p, "GET", "/metrics", NULL, NULL);
    assert_non_null(strstr(r.body, "loadtester_tasks_total{result=\"refused\",type=\"cmd\"} 3"));
    assert_int_equal(cd_loadtester_execs(sec), 0);
    cd_loadtester_stop(sec);
}

/* A synchronous task runs off the event thread: /healthz answers while
 * it runs. The task takes 2 s (under the 3 s task timeout), so a /healthz
 * held behind it would answer 2 s or more after t0: the bound of 1.9 s
 * leaves a loaded host under ASan 1.6 s for the call (it was 1.2 s with a
 * 1.5 s task: 0.9 s). */
static void test_blocking_task_does_not_block_health(void **state)
{
    int64_t t0 = cd_mono_ms();
    pid_t child = fork();
    if (child == 0) {
        resp r = post("/", PAYLOAD("test", ",\"metadata\":{\"type\":\"bash\",\"cmd\":\"sleep 2\"}"));
        _exit(r.status == 200 ? 0 : 1);
    }
    usleep(300000);
    resp h = call("GET", "/healthz", NULL);
    assert_int_equal(h.status, 200);
    assert_true(cd_mono_ms() - t0 < 1900);
    int st;
    waitpid(child, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* wait: "true" with every request failed never passes, whatever
 * maxErrorRate says; the default maxErrorRate is 1 %. */
static void test_load_all_failed_fails(void **state)
{
    assert_true(testsrv_start(&target, false) > 0);
    char down[256], body[1024];
    snprintf(down, sizeof down, "%s", testsrv_url(&target, "/"));
    testsrv_stop(&target);
    snprintf(body, sizeof body,
             PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"%s\",\"requests\":\"4\","
                             "\"wait\":\"true\",\"maxErrorRate\":\"100\"}"),
             down);
    resp r = post("/", body);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "\"passed\":false"));
    /* 1 of 3 failing is over the default 1 % */
    assert_true(testsrv_start(&target, false) > 0);
    target.handler = every_third_fails;
    snprintf(body, sizeof body,
             PAYLOAD("test", ",\"metadata\":{\"type\":\"load\",\"url\":\"%s\",\"requests\":\"9\","
                             "\"wait\":\"true\"}"),
             testsrv_url(&target, "/"));
    r = post("/", body);
    assert_int_equal(r.status, 500);
    testsrv_stop(&target);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_static_gates),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_namespace_regexp_and_bad_payloads),
        cmocka_unit_test(test_bash),
        cmocka_unit_test(test_kubectl_and_helm),
        cmocka_unit_test(test_cmd_runs_in_background_and_dedups),
        cmocka_unit_test(test_native_load),
        cmocka_unit_test(test_metrics_pass_promtool),
        cmocka_unit_test(test_stop_kills_running_tasks),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_token_and_default_policy),
        cmocka_unit_test(test_blocking_task_does_not_block_health),
        cmocka_unit_test(test_load_all_failed_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
