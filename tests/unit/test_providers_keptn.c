/* test_providers_keptn.c - the `keptn` provider against a stand-in for the
 * Kubernetes API with Keptn's objects (metrics.keptn.sh/v1beta1 KeptnMetric
 * and Analysis, as the API server returns them, and a Keptn controller that
 * completes an Analysis after a few reads): query parsing as Flagger's,
 * KeptnMetric values, missing and garbage values, API errors, Analysis
 * creation, polling, pass and fail, the timeout, deletion in every case,
 * constructor errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include "providers/provider.h"

#define API "/apis/metrics.keptn.sh/v1beta1/namespaces/"

typedef struct fake_keptn {
    const char *metric;         /* the KeptnMetric's JSON; NULL: 404 */
    int polls_to_complete;      /* reads of the Analysis before it completes; < 0: never */
    bool pass;
    bool fail_create, fail_get;
    json_t *created;            /* the Analysis posted */
    int reads;
    char deleted[512];
    char last_path[512];
} fake_keptn;

static bool fake_request(void *ctx, const char *method, const char *path, const json_t *body,
                         json_t **out, bool *not_found, cd_err *err)
{
    fake_keptn *f = ctx;
    snprintf(f->last_path, sizeof f->last_path, "%s", path);
    if (!strcmp(method, "GET") && strstr(path, "/keptnmetrics/")) {
        if (!f->metric) {
            snprintf(err->msg, sizeof err->msg, "keptnmetrics.metrics.keptn.sh \"%s\" not found",
                     strrchr(path, '/') + 1);
            if (not_found)
                *not_found = true;
            return false;
        }
        *out = json_loads(f->metric, 0, NULL);
        assert_non_null(*out);
        return true;
    }
    if (!strcmp(method, "POST")) {
        assert_string_equal(path, API "podinfo/analyses");
        if (f->fail_create) {
            snprintf(err->msg, sizeof err->msg, "analyses.metrics.keptn.sh is forbidden");
            return false;
        }
        f->created = json_deep_copy(body);
        json_t *o = json_deep_copy(body);
        json_object_set_new(json_object_get(o, "metadata"), "uid", json_string("0b1c"));
        *out = o;
        return true;
    }
    const char *name = json_string_value(json_object_get(json_object_get(f->created, "metadata"),
                                                         "name"));
    char want[512];
    snprintf(want, sizeof want, API "podinfo/analyses/%s", name ? name : "?");
    if (!strcmp(method, "DELETE")) {
        assert_string_equal(path, want);
        snprintf(f->deleted, sizeof f->deleted, "%s", path);
        return true;
    }
    assert_string_equal(method, "GET");
    assert_string_equal(path, want);
    if (f->fail_get) {
        snprintf(err->msg, sizeof err->msg, "the server is currently unable to handle the request");
        return false;
    }
    json_t *o = json_deep_copy(f->created);
    f->reads++;
    if (f->polls_to_complete >= 0 && f->reads >= f->polls_to_complete)
        json_object_set_new(o, "status", json_pack("{s:s, s:b, s:{s:{s:{s:b}}}}", "state",
                                                   "Completed", "pass", f->pass, "raw",
                                                   "objectiveResults", "response-time", "pass",
                                                   f->pass));
    else
        json_object_set_new(o, "status", json_pack("{s:s}", "state", "Progressing"));
    *out = o;
    return true;
}

static cd_provider *open_with(fake_keptn *f, cd_provider_cluster *cl, int64_t timeout_ms)
{
    cl->ctx = f;
    cl->request = fake_request;
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "keptn";
    c.cluster = cl;
    c.interval = "1m";
    c.timeout_ms = timeout_ms;
    cd_err err = {""};
    cd_provider *p = cd_provider_open(&c, &err);
    if (!p)
        fail_msg("open: %s", err.msg);
    return p;
}

#define METRIC(status) \
    "{\"apiVersion\":\"metrics.keptn.sh/v1beta1\",\"kind\":\"KeptnMetric\",\"metadata\":" \
    "{\"name\":\"response-time\",\"namespace\":\"podinfo\",\"resourceVersion\":\"812\"},\"spec\":" \
    "{\"provider\":{\"name\":\"my-prometheus\"},\"query\":\"histogram_quantile(0.9, ...)\"," \
    "\"fetchIntervalSeconds\":10}" status "}"

static void test_keptnmetric(void **state)
{
    fake_keptn f = {.metric = METRIC(",\"status\":{\"value\":\"0.125\",\"rawValue\":\"MC4xMjU=\","
                                     "\"lastUpdated\":\"2026-12-07T22:00:00Z\"}")};
    cd_provider_cluster cl;
    cd_provider *p = open_with(&f, &cl, 0);
    double v = 0;
    cd_err err = {""};
    /* Flagger lower-cases the query and accepts the plural */
    assert_int_equal(cd_provider_query(p, " KeptnMetric/PodInfo/Response-Time\n", &v, &err),
                     CD_METRIC_OK);
    assert_true(v == 0.125);
    assert_string_equal(f.last_path, API "podinfo/keptnmetrics/response-time");
    assert_int_equal(cd_provider_query(p, "keptnmetrics/podinfo/response-time", &v, &err),
                     CD_METRIC_OK);

    f.metric = METRIC(",\"status\":{\"lastUpdated\":\"2026-12-07T22:00:00Z\"}");
    assert_int_equal(cd_provider_query(p, "keptnmetric/podinfo/response-time", &v, &err),
                     CD_METRIC_ERROR);
    assert_string_equal(err.msg, "could not retrieve KeptnMetric - no value found in resource "
                                 "podinfo/response-time");
    f.metric = METRIC("");
    assert_int_equal(cd_provider_query(p, "keptnmetric/podinfo/response-time", &v, &err),
                     CD_METRIC_ERROR);
    f.metric = METRIC(",\"status\":{\"value\":\"fast\"}");
    assert_int_equal(cd_provider_query(p, "keptnmetric/podinfo/response-time", &v, &err),
                     CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "could not parse value of KeptnMetric podinfo/response-time"));
    f.metric = METRIC(",\"status\":{\"value\":12}");   /* not a string, as Flagger reads it */
    assert_int_equal(cd_provider_query(p, "keptnmetric/podinfo/response-time", &v, &err),
                     CD_METRIC_ERROR);
    f.metric = NULL;
    assert_int_equal(cd_provider_query(p, "keptnmetric/podinfo/response-time", &v, &err),
                     CD_METRIC_ERROR);
    assert_string_equal(err.msg, "could not retrieve KeptnMetric podinfo/response-time: "
                                 "keptnmetrics.metrics.keptn.sh \"response-time\" not found");
    assert_true(cd_provider_is_online(p, &err));   /* always, as in Flagger */
    cd_provider_close(p);
}

static void test_analysis(void **state)
{
    fake_keptn f = {.polls_to_complete = 2, .pass = true};
    cd_provider_cluster cl;
    cd_provider *p = open_with(&f, &cl, 0);
    double v = -1;
    cd_err err = {""};
    assert_int_equal(cd_provider_query(p, "analysis/podinfo/my-def/5m/workload=podinfo;junk;a=b=c",
                                       &v, &err), CD_METRIC_OK);
    assert_true(v == 1);
    assert_int_equal(f.reads, 2);
    const json_t *a = f.created;
    assert_string_equal(json_string_value(json_object_get(a, "apiVersion")), "metrics.keptn.sh/v1beta1");
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "Analysis");
    const char *name = json_string_value(json_object_get(json_object_get(a, "metadata"), "name"));
    assert_int_equal(strlen(name), strlen("my-def-") + 6);
    assert_memory_equal(name, "my-def-", 7);
    json_t *spec = json_object_get(a, "spec");
    json_t *want = json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "analysisDefinition", "name", "my-def",
                             "timeframe", "recent", "5m", "args", "workload", "podinfo");
    assert_true(json_equal(spec, want));
    json_decref(want);
    char dpath[512];
    snprintf(dpath, sizeof dpath, API "podinfo/analyses/%s", name);
    assert_string_equal(f.deleted, dpath);
    json_decref(f.created);

    /* failed analysis: 0; the default timeframe is 1m and no arguments */
    f = (fake_keptn){.polls_to_complete = 1, .pass = false};
    assert_int_equal(cd_provider_query(p, "analyses/podinfo/my-def", &v, &err), CD_METRIC_OK);
    assert_true(v == 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
                            f.created, "spec"), "timeframe"), "recent")), "1m");
    assert_int_equal(json_object_size(json_object_get(json_object_get(f.created, "spec"), "args")), 0);
    assert_true(f.deleted[0]);
    json_decref(f.created);
    cd_provider_close(p);
}

static void test_analysis_failures(void **state)
{
    fake_keptn f = {.polls_to_complete = -1};
    cd_provider_cluster cl;
    cd_provider *p = open_with(&f, &cl, 1500);
    double v;
    cd_err err = {""};
    /* never completes: the timeout, and the Analysis is still deleted */
    assert_int_equal(cd_provider_query(p, "analysis/podinfo/my-def", &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "encountered timeout while waiting for Keptn Analysis "
                                 "podinfo/my-def to be finished");
    assert_true(f.reads >= 1);
    assert_true(f.deleted[0]);
    json_decref(f.created);

    f = (fake_keptn){.fail_get = true};
    assert_int_equal(cd_provider_query(p, "analysis/podinfo/my-def", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "could not check status of created Keptn Analysis podinfo/my-def: "
                                    "the server is currently unable"));
    assert_true(f.deleted[0]);
    json_decref(f.created);

    f = (fake_keptn){.fail_create = true};
    assert_int_equal(cd_provider_query(p, "analysis/podinfo/my-def", &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "could not create Keptn Analysis podinfo/my-def: "
                                 "analyses.metrics.keptn.sh is forbidden");
    assert_false(f.deleted[0]);
    cd_provider_close(p);
}

static void test_query_format(void **state)
{
    fake_keptn f = {0};
    cd_provider_cluster cl;
    cd_provider *p = open_with(&f, &cl, 0);
    static const struct { const char *q, *msg; } bad[] = {
        {"keptnmetric/podinfo", "query must be in the format"},
        {"", "query must be in the format"},
        {"metric/podinfo/x", "must be one of: ['keptnmetric', 'analysis']"},
        {"keptnmetric/pod_info/x", "\"pod_info\" is not a Kubernetes object name"},
        {"keptnmetric/podinfo/..", "\"..\" is not a Kubernetes object name"},
        {"analysis/podinfo/", "\"\" is not a Kubernetes object name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        cd_err err = {""};
        f.last_path[0] = '\0';
        assert_int_equal(cd_provider_query(p, bad[i].q, &v, &err), CD_METRIC_ERROR);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("%s: \"%s\"", bad[i].q, err.msg);
        assert_string_equal(f.last_path, "");   /* nothing sent */
    }
    cd_provider_close(p);

    /* canaryd local has no API server */
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "keptn";
    cd_err err = {""};
    assert_null(cd_provider_open(&c, &err));
    assert_non_null(strstr(err.msg, "could not initialize KeptnProvider: no KubeConfig provided"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keptnmetric),
        cmocka_unit_test(test_analysis),
        cmocka_unit_test(test_analysis_failures),
        cmocka_unit_test(test_query_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
