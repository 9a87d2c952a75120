/* test_telemetry_endpoint.c - canaryd's own /metrics and /healthz: writers
 * and process metrics served in the text format (accepted by promtool),
 * health answers, routing, and bind errors. The flagger_* writer here is
 * a local stand-in for cd_registry_write (src/telemetry/registry.c is built
 * on another branch); it prints the §6 series shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "telemetry/endpoint.h"
#include "net/http.h"

static void flagger_series(void *ctx, cd_buf *out)
{
    cd_buf_puts(out,
                "# HELP flagger_info Flagger version and mesh provider information\n"
                "# TYPE flagger_info gauge\n"
                "flagger_info{mesh_provider=\"kubernetes\",version=\"1.44.0\"} 1\n"
                "# HELP flagger_canary_weight The virtual service destination weight current value\n"
                "# TYPE flagger_canary_weight gauge\n"
                "flagger_canary_weight{namespace=\"test\",workload=\"podinfo\"} 10\n"
                "flagger_canary_weight{namespace=\"test\",workload=\"podinfo-primary\"} 90\n");
}

static bool healthy_flag = true;
static bool healthy(void *ctx) { return healthy_flag; }

typedef struct resp {
    long status;
    char body[16384];
    char type[128];
} resp;

static resp get(int port, const char *method, const char *path)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    cd_http_request rq;
    cd_http_request_init(&rq, method, url);
    cd_http_response rs;
    cd_err err = {""};
    resp r = {0, "", ""};
    if (!cd_http_perform(&rq, &rs, &err))
        fail_msg("%s", err.msg);
    r.status = rs.status;
    snprintf(r.body, sizeof r.body, "%s", rs.body.data);
    snprintf(r.type, sizeof r.type, "%s", rs.content_type);
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    return r;
}

static void test_metrics_and_health(void **state)
{
    cd_telemetry_endpoint_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.address = "127.0.0.1";
    cfg.writers[0] = flagger_series;
    cfg.n_writers = 1;
    cfg.healthy = healthy;
    cd_err err = {""};
    cd_telemetry_endpoint *e = cd_telemetry_endpoint_start(&cfg, &err);
    assert_non_null(e);
    int port = cd_telemetry_endpoint_port(e);
    assert_true(port > 0);

    resp r = get(port, "GET", "/metrics");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "flagger_canary_weight{namespace=\"test\",workload=\"podinfo\"} 10\n"));
    const char *process[] = {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                             "process_virtual_memory_bytes ", "process_open_fds ",
                             "process_max_fds ", "process_start_time_seconds "};
    for (size_t i = 0; i < sizeof process / sizeof process[0]; i++)
        if (!strstr(r.body, process[i]))
            fail_msg("no %s in\n%s", process[i], r.body);
    if (access("/usr/bin/promtool", X_OK) == 0) {
        FILE *p = popen("/usr/bin/promtool check metrics", "w");
        fputs(r.body, p);
        assert_int_equal(pclose(p), 0);
    }
    r = get(port, "GET", "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK");
    healthy_flag = false;
    assert_int_equal(get(port, "GET", "/healthz").status, 503);
    healthy_flag = true;
    r = get(port, "GET", "/nope");
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "404 page not found\n");
    assert_int_equal(get(port, "DELETE", "/metrics").status, 405);

    /* the port is taken now */
    cd_telemetry_endpoint_config again = cfg;
    again.port = port;
    assert_null(cd_telemetry_endpoint_start(&again, &err));
    assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1"));
    cd_telemetry_endpoint_stop(e);
}

static void test_bad_config(void **state)
{
    cd_telemetry_endpoint_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cd_err err = {""};
    cfg.address = "localhost:80";
    assert_null(cd_telemetry_endpoint_start(&cfg, &err));
    assert_string_equal(err.msg, "\"localhost:80\" is not an IP address");
    cfg.address = NULL;
    cfg.port = 70000;
    assert_null(cd_telemetry_endpoint_start(&cfg, &err));
    assert_string_equal(err.msg, "port 70000 is out of range");
    /* process metrics alone are well formed */
    cd_buf b = CD_BUF_INIT;
    cd_telemetry_process_write(&b);
    assert_non_null(strstr(b.data, "# TYPE process_cpu_seconds_total counter\n"));
    cd_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_and_health),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
