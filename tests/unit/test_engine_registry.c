/* test_engine_registry.c - canaryd's own flagger_* metrics: values, the
 * text exposition (HELP/TYPE, sorted series, escaping, histogram
 * buckets), forgetting a canary, and concurrent updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "telemetry/registry.h"

static char *exposition(cd_registry *r)
{
    cd_buf out = CD_BUF_INIT;
    cd_registry_write(r, &out);
    return cd_buf_steal(&out);
}

static void test_exposition(void **state)
{
    cd_registry *r = cd_registry_new("0.1.0", "istio");
    cd_registry_set_canary_total(r, "test", 2);
    cd_registry_set_status(r, "podinfo", "test", 0);
    cd_registry_set_status(r, "backend", "test", 2);
    cd_registry_set_weight(r, "podinfo", "test", 90, 10);
    cd_registry_set_metric(r, "podinfo", "test", "request-success-rate", 99.5);
    cd_registry_set_metric(r, "podinfo", "test", "request-duration", 0.123);
    cd_registry_inc_success(r, "podinfo", "test", "canary", "completed");
    cd_registry_inc_success(r, "podinfo", "test", "canary", "completed");
    cd_registry_inc_failure(r, "backend", "test", "blue-green", "completed");
    cd_registry_observe_duration(r, "podinfo", "test", 0.003);
    cd_registry_observe_duration(r, "podinfo", "test", 0.2);
    cd_registry_observe_duration(r, "podinfo", "test", 30);
    char *text = exposition(r);
    const char *expected =
        "# HELP flagger_canary_duration_seconds Seconds spent performing canary analysis.\n"
        "# TYPE flagger_canary_duration_seconds histogram\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.005\"} 1\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.01\"} 1\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.025\"} 1\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.05\"} 1\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.1\"} 1\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.25\"} 2\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"0.5\"} 2\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"1\"} 2\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"2.5\"} 2\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"5\"} 2\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"10\"} 2\n"
        "flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"+Inf\"} 3\n"
        "flagger_canary_duration_seconds_sum{name=\"podinfo\",namespace=\"test\"} 30.203\n"
        "flagger_canary_duration_seconds_count{name=\"podinfo\",namespace=\"test\"} 3\n"
        "# HELP flagger_canary_failures_total Total number of canary failures\n"
        "# TYPE flagger_canary_failures_total counter\n"
        "flagger_canary_failures_total{name=\"backend\",namespace=\"test\",deployment_strategy="
        "\"blue-green\",analysis_status=\"completed\"} 1\n"
        "# HELP flagger_canary_metric_analysis Last canary analysis result per metric\n"
        "# TYPE flagger_canary_metric_analysis gauge\n"
        "flagger_canary_metric_analysis{name=\"podinfo\",namespace=\"test\",metric=\"request-"
        "duration\"} 0.123\n"
        "flagger_canary_metric_analysis{name=\"podinfo\",namespace=\"test\",metric=\"request-"
        "success-rate\"} 99.5\n"
        "# HELP flagger_canary_status Last canary analysis result\n"
        "# TYPE flagger_canary_status gauge\n"
        "flagger_canary_status{name=\"backend\",namespace=\"test\"} 2\n"
        "flagger_canary_status{name=\"podinfo\",namespace=\"test\"} 0\n"
        "# HELP flagger_canary_successes_total Total number of canary successes\n"
        "# TYPE flagger_canary_successes_total counter\n"
        "flagger_canary_successes_total{name=\"podinfo\",namespace=\"test\",deployment_strategy="
        "\"canary\",analysis_status=\"completed\"} 2\n"
        "# HELP flagger_canary_total Total number of canary object\n"
        "# TYPE flagger_canary_total gauge\n"
        "flagger_canary_total{namespace=\"test\"} 2\n"
        "# HELP flagger_canary_weight The virtual service destination weight current value\n"
        "# TYPE flagger_canary_weight gauge\n"
        "flagger_canary_weight{workload=\"podinfo\",namespace=\"test\"} 10\n"
        "flagger_canary_weight{workload=\"podinfo-primary\",namespace=\"test\"} 90\n"
        "# HELP flagger_info Flagger version and mesh provider information\n"
        "# TYPE flagger_info gauge\n"
        "flagger_info{version=\"0.1.0\",mesh_provider=\"istio\"} 1\n";
    assert_string_equal(text, expected);
    free(text);
    cd_registry_free(r);
}

static void test_escaping_and_forget(void **state)
{
    cd_registry *r = cd_registry_new("v", "kubernetes");
    cd_registry_set_status(r, "a\"b\\c\nd", "ns", 1);
    cd_registry_set_status(r, "podinfo", "ns", 1);
    cd_registry_set_status(r, "podinfo", "other", 1);
    cd_registry_set_weight(r, "podinfo", "ns", 100, 0);
    cd_registry_set_metric(r, "podinfo", "ns", "m", 1);
    cd_registry_observe_duration(r, "podinfo", "ns", 1);
    cd_registry_inc_failure(r, "podinfo", "ns", "canary", "completed");
    char *text = exposition(r);
    assert_non_null(strstr(text, "flagger_canary_status{name=\"a\\\"b\\\\c\\nd\",namespace=\"ns\"} 1\n"));
    free(text);
    cd_registry_forget(r, "podinfo", "ns");
    text = exposition(r);
    assert_null(strstr(text, "namespace=\"ns\"} 1\nflagger_canary_status{name=\"podinfo\",namespace=\"ns\"}"));
    assert_null(strstr(text, "{name=\"podinfo\",namespace=\"ns\""));
    assert_null(strstr(text, "workload=\"podinfo-primary\""));
    assert_null(strstr(text, "flagger_canary_failures_total"));   /* family now empty */
    assert_non_null(strstr(text, "flagger_canary_status{name=\"podinfo\",namespace=\"other\"} 1\n"));
    assert_non_null(strstr(text, "flagger_canary_status{name=\"a\\\"b\\\\c\\nd\""));
    free(text);
    /* NULL registry: every call is a no-op */
    cd_registry_set_status(NULL, "x", "y", 1);
    cd_registry_write(NULL, NULL);
    cd_registry_free(r);
}

/* Thousands of canaries: the table grows, values stay right. */
static void test_many_series(void **state)
{
    cd_registry *r = cd_registry_new("v", "istio");
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "app-%05d", i);
        cd_registry_set_status(r, name, "ns", i % 3);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(name, sizeof name, "app-%05d", i);
        cd_registry_forget(r, name, "ns");
    }
    char *text = exposition(r);
    assert_null(strstr(text, "app-00000"));
    assert_non_null(strstr(text, "flagger_canary_status{name=\"app-04999\",namespace=\"ns\"} 1\n"));
    assert_non_null(strstr(text, "flagger_canary_status{name=\"app-00001\",namespace=\"ns\"} 1\n"));
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2500 + 2 /* status HELP/TYPE */ + 3 /* info */);
    free(text);
    cd_registry_free(r);
}

typedef struct worker { cd_registry *r; int id; } worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    char name[32];
    snprintf(name, sizeof name, "w%d", w->id);
    for (int i = 0; i < 20000; i++) {
        cd_registry_inc_success(w->r, "shared", "ns", "canary", "completed");
        cd_registry_set_weight(w->r, name, "ns", 100 - i % 101, i % 101);
        if (i % 1000 == 0) {
            cd_buf out = CD_BUF_INIT;
            cd_registry_write(w->r, &out);
            cd_buf_free(&out);
        }
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    cd_registry *r = cd_registry_new("v", "istio");
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){r, i};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *text = exposition(r);
    assert_non_null(strstr(text, "flagger_canary_successes_total{name=\"shared\",namespace=\"ns\","
                                 "deployment_strategy=\"canary\",analysis_status=\"completed\"} "
                                 "80000\n"));
    free(text);
    cd_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_escaping_and_forget),
        cmocka_unit_test(test_many_series),
        cmocka_unit_test(test_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
