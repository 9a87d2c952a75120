/* test_model_decode.c - decoding: every default Flagger applies, YAML
 * features (multi-document, anchors, merge keys, JSON input), canonical
 * JSON output, status, and the Flagger conformance corpus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/object.h"
#include "model/workload.h"

static cd_object *decode_one(const char *yaml, cd_diags *d)
{
    cd_object_list l = {0};
    cd_diags_init(d);
    cd_manifest_load_buffer("t.yaml", yaml, strlen(yaml), false, "default", &l, d);
    if (d->errors)
        cd_diags_print(d, stderr);
    assert_int_equal(d->errors, 0);
    assert_int_equal(l.n, 1);
    cd_object *o = l.items[0];
    free(l.items);
    return o;
}

static const char *MINIMAL =
    "apiVersion: flagger.app/v1beta1\n"
    "kind: Canary\n"
    "metadata: {name: podinfo}\n"
    "spec:\n"
    "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  service: {port: 9898}\n"
    "  analysis:\n"
    "    interval: 30s\n"
    "    threshold: 0\n"
    "    stepWeight: 10\n"
    "    metrics:\n"
    "    - name: request-success-rate\n"
    "      thresholdRange: {min: 99}\n"
    "    - name: custom\n"
    "      templateRef: {name: tpl}\n"
    "      thresholdRange: {max: 5}\n"
    "    webhooks:\n"
    "    - name: load\n"
    "      url: http://loadtester/\n"
    "    alerts:\n"
    "    - name: on-call\n"
    "      providerRef: {name: slack}\n"
    "    sessionAffinity: {cookieName: canary}\n";

static void test_canary_defaults(void **state)
{
    cd_diags d;
    cd_object *o = decode_one(MINIMAL, &d);
    const cd_canary_spec *s = &o->spec.canary;
    assert_string_equal(o->meta.namespace_, "default");
    assert_int_equal(s->progress_deadline_seconds, 600);
    assert_string_equal(s->service.name, "podinfo");          /* = targetRef.name */
    assert_string_equal(s->service.port_name, "http");
    assert_false(s->service.target_port.is_string);
    assert_int_equal(s->service.target_port.num, 9898);       /* = port */
    assert_int_equal(s->analysis.interval_ms, 30000);
    assert_int_equal(s->analysis.threshold, 1);               /* <= 0 -> 1 */
    assert_int_equal(s->analysis.max_weight, 100);
    assert_int_equal(s->analysis.primary_ready_threshold, 100);
    assert_int_equal(s->analysis.canary_ready_threshold, 100);
    assert_string_equal(s->analysis.metrics[0].interval, "1m");
    assert_int_equal(s->analysis.metrics[0].interval_ms, 60000);
    assert_string_equal(s->analysis.metrics[1].template_namespace, "default");
    assert_int_equal(s->analysis.webhooks[0].timeout_ms, 10000);
    assert_int_equal(s->analysis.webhooks[0].type, CD_HOOK_ROLLOUT);
    assert_string_equal(s->analysis.alerts[0].provider_namespace, "default");
    assert_int_equal(s->analysis.alerts[0].severity, CD_SEV_INFO);
    assert_int_equal(s->analysis.session_affinity.max_age, 86400);
    assert_null(s->provider);
    assert_int_equal(cd_canary_strategy(s), CD_STRATEGY_CANARY);
    cd_object_free(o);
    cd_diags_free(&d);
}

static void test_interval_defaults(void **state)
{
    const char *cases[][2] = {
        {"interval: 5s", "10000"},      /* floor 10 s */
        {"interval: 10mx", "60000"},    /* unparsable -> 60 s */
        {"interval: 2m", "120000"},
        {"interval: 90s", "90000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: a}\n"
                 "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: a}\n"
                 "  service: {port: 80}\n  analysis: {%s, threshold: 2, iterations: 3}\n",
                 cases[i][0]);
        cd_diags d;
        cd_object *o = decode_one(yaml, &d);
        assert_int_equal(o->spec.canary.analysis.interval_ms, atol(cases[i][1]));
        assert_int_equal(o->spec.canary.analysis.threshold, 2);
        assert_int_equal(cd_canary_strategy(&o->spec.canary), CD_STRATEGY_BLUE_GREEN);
        cd_object_free(o);
        cd_diags_free(&d);
    }
}

static void test_max_weight_rules(void **state)
{
    const char *cases[][2] = {
        {"stepWeight: 10, maxWeight: 50", "50"},
        {"stepWeight: 10", "100"},
        {"stepWeights: [1, 2, 10, 80], maxWeight: 30", "80"},   /* last step wins */
        {"stepWeights: [5, 100]", "100"},
        {"stepWeight: 20, maxWeight: 0", "100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: a}\n"
                 "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: a}\n"
                 "  service: {port: 80, targetPort: http, portName: web}\n"
                 "  analysis: {interval: 1m, threshold: 2, %s}\n",
                 cases[i][0]);
        cd_diags d;
        cd_object *o = decode_one(yaml, &d);
        assert_int_equal(o->spec.canary.analysis.max_weight, atol(cases[i][1]));
        assert_true(o->spec.canary.service.target_port.is_string);
        assert_string_equal(o->spec.canary.service.target_port.str, "http");
        assert_string_equal(o->spec.canary.service.port_name, "web");
        cd_object_free(o);
        cd_diags_free(&d);
    }
}

static void test_ab_strategy_and_alert_defaults(void **state)
{
    cd_diags d;
    cd_object *o = decode_one(
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: a, namespace: prod}\n"
        "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: a}\n"
        "  service:\n    port: 80\n    gatewayRefs: [{name: gw}]\n"
        "    mirror: [{backendRef: {name: shadow, port: 80}}]\n"
        "  analysis:\n    interval: 1m\n    threshold: 2\n    iterations: 10\n"
        "    match: [{headers: {x-canary: {exact: insider}}}]\n"
        "    alerts: [{name: a, severity: error, providerRef: {name: p, namespace: ops}}]\n",
        &d);
    const cd_canary_spec *s = &o->spec.canary;
    assert_int_equal(cd_canary_strategy(s), CD_STRATEGY_AB_TESTING);
    assert_string_equal(s->analysis.match[0].headers.items[0].name, "x-canary");
    assert_string_equal(s->analysis.match[0].headers.items[0].match.exact, "insider");
    assert_string_equal(s->service.gateway_refs[0].group, "gateway.networking.k8s.io");
    assert_string_equal(s->service.gateway_refs[0].kind, "Gateway");
    assert_string_equal(s->service.mirror[0].kind, "Service");
    assert_string_equal(s->service.mirror[0].group, "");
    assert_int_equal(s->analysis.alerts[0].severity, CD_SEV_ERROR);
    assert_string_equal(s->analysis.alerts[0].provider_namespace, "ops");
    cd_object_free(o);
    cd_diags_free(&d);
}

static void test_yaml_features(void **state)
{
    /* anchors, aliases and merge keys resolve; two documents */
    cd_object_list l = {0};
    cd_diags d;
    const char *yaml2 =
        "apiVersion: flagger.app/v1beta1\n"
        "kind: AlertProvider\n"
        "metadata: {name: teams}\n"
        "x-base: &base {type: slack, channel: ops, username: bot}\n"
        "spec:\n"
        "  <<: *base\n"
        "  type: msteams\n"
        "  address: https://teams.example/b\n"
        "---\n"
        "apiVersion: flagger.app/v1beta1\n"
        "kind: AlertProvider\n"
        "metadata: {name: plain}\n"
        "spec: {type: discord, address: 'https://d/x'}\n";
    cd_diags_init(&d);
    cd_manifest_load_buffer("t.yaml", yaml2, strlen(yaml2), false, "default", &l, &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);   /* x-base is an unknown field */
    assert_int_equal(l.n, 2);
    const cd_alert_provider_spec *a = &l.items[0]->spec.alert_provider;
    assert_string_equal(a->type, "msteams");     /* explicit key beats the merge */
    assert_string_equal(a->channel, "ops");      /* merged */
    assert_string_equal(a->username, "bot");
    const cd_alert_provider_spec *b = &l.items[1]->spec.alert_provider;
    assert_string_equal(b->channel, "general");  /* default */
    assert_string_equal(b->username, "flagger");  /* default */
    assert_int_equal(l.items[1]->line, 9);   /* its "---" */
    cd_object_list_free(&l);
    cd_diags_free(&d);
}

static void test_json_input(void **state)
{
    const char *json =
        "{\"apiVersion\": \"flagger.app/v1beta1\", \"kind\": \"MetricTemplate\",\n"
        " \"metadata\": {\"name\": \"latency\", \"namespace\": \"ops\"},\n"
        " \"spec\": {\"provider\": {\"type\": \"prometheus\", \"address\": \"http://p:9090\",\n"
        "   \"headers\": {\"X-Scope\": [\"a\", \"b\"]}, \"secretRef\": {\"name\": \"s\"}},\n"
        "   \"query\": \"histogram_quantile(0.99, x)\"}}\n";
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("t.json", json, strlen(json), true, "default", &l, &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(l.n, 1);
    const cd_metric_template_spec *t = &l.items[0]->spec.metric_template;
    assert_string_equal(t->provider_type, "prometheus");
    assert_int_equal(t->n_headers, 1);
    assert_int_equal(t->headers[0].values.n, 2);
    assert_string_equal(t->secret_ref, "s");
    cd_object_list_free(&l);
    cd_diags_free(&d);

    /* a JSON error keeps its position */
    cd_diags_init(&d);
    cd_manifest_load_buffer("t.json", "{\"a\": 1,\n \"b\" 2}", 16, true, "default", &l, &d);
    assert_int_equal(d.errors, 1);
    assert_int_equal(d.items[0].line, 2);
    cd_object_list_free(&l);
    cd_diags_free(&d);
}

static void test_canonical_json(void **state)
{
    cd_diags d;
    cd_object *o = decode_one(MINIMAL, &d);
    json_t *j = cd_object_to_json(o);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(strstr(s, "\"progressDeadlineSeconds\":600"));
    assert_non_null(strstr(s, "\"threshold\":1"));
    assert_non_null(strstr(s, "\"maxWeight\":100"));
    assert_non_null(strstr(s, "\"timeout\":\"10s\""));
    assert_non_null(strstr(s, "\"interval\":\"30s\""));
    assert_non_null(strstr(s, "\"portName\":\"http\""));
    assert_non_null(strstr(s, "\"targetPort\":9898"));
    assert_non_null(strstr(s, "\"maxAge\":86400"));
    /* decoding the output again gives the same output (a fixed point) */
    cd_stream *st = cd_stream_from_json("again", j);
    cd_diags d2;
    cd_diags_init(&d2);
    cd_object *o2 = cd_object_decode(st->docs[0].root, "again", 0, "default", &d2);
    assert_non_null(o2);
    json_t *j2 = cd_object_to_json(o2);
    char *s2 = json_dumps(j2, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, s2);
    char h1[16], h2[16];
    cd_json_hash(j, h1);
    cd_json_hash(j2, h2);
    assert_string_equal(h1, h2);
    free(s);
    free(s2);
    json_decref(j);
    json_decref(j2);
    cd_object_free(o);
    cd_object_free(o2);
    cd_stream_free(st);
    cd_diags_free(&d);
    cd_diags_free(&d2);
}

static void test_status_roundtrip(void **state)
{
    cd_diags d;
    cd_object *o = decode_one(
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: a}\n"
        "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: a}\n"
        "  service: {port: 80}\n  analysis: {interval: 1m, threshold: 2, stepWeight: 5}\n"
        "status:\n  phase: Progressing\n  canaryWeight: 20\n  failedChecks: 1\n"
        "  lastAppliedSpec: abc\n  lastTransitionTime: '2026-11-26T04:00:00Z'\n"
        "  trackedConfigs: {configmap/app: 0123456789abcdef}\n"
        "  conditions:\n  - {type: Promoted, status: Unknown, reason: Progressing,\n"
        "     message: 'New revision detected, progressing canary analysis.',\n"
        "     lastUpdateTime: '2026-11-26T04:00:00Z', lastTransitionTime: '2026-11-26T03:00:00Z'}\n",
        &d);
    assert_true(o->has_status);
    assert_int_equal(o->status.phase, CD_PHASE_PROGRESSING);
    assert_int_equal(o->status.canary_weight, 20);
    assert_int_equal(o->status.failed_checks, 1);
    assert_string_equal(o->status.last_applied_spec, "abc");
    assert_int_equal(o->status.n_tracked, 1);
    assert_string_equal(o->status.tracked[0].key, "configmap/app");
    assert_true(o->status.condition.set);
    /* the condition keeps its transition time while its status is unchanged */
    int64_t before = o->status.condition.last_transition_ms;
    o->status.phase = CD_PHASE_WAITING_PROMOTION;
    cd_status_update_condition(&o->status, "Deployment", 1800000000000LL);
    assert_string_equal(o->status.condition.reason, "WaitingPromotion");
    assert_string_equal(o->status.condition.message, "Waiting for approval.");
    assert_int_equal(o->status.condition.last_transition_ms, before);
    o->status.phase = CD_PHASE_FAILED;
    cd_status_update_condition(&o->status, "Deployment", 1800000001000LL);
    assert_string_equal(o->status.condition.status, "False");
    assert_string_equal(o->status.condition.message,
                        "Canary analysis failed, Deployment scaled to zero.");
    assert_int_equal(o->status.condition.last_transition_ms, 1800000001000LL);
    json_t *j = cd_status_to_json(&o->status);
    cd_canary_status copy;
    cd_status_init(&copy);
    cd_status_from_json(&copy, j);
    if (!cd_status_equal(&copy, &o->status)) {
        json_t *j2 = cd_status_to_json(&copy);
        char *a = json_dumps(j, JSON_SORT_KEYS), *b = json_dumps(j2, JSON_SORT_KEYS);
        fail_msg("status differs after a round trip:\n%s\n%s", a, b);
    }
    cd_status_free(&copy);
    json_decref(j);
    cd_object_free(o);
    cd_diags_free(&d);
}

/* canaryd's Accepted=False condition: beside Promoted while the canary
 * is refused, kept through a round trip, gone when removed. */
static void test_status_refused(void **state)
{
    cd_canary_status s, copy;
    cd_status_init(&s);
    cd_status_init(&copy);
    s.phase = CD_PHASE_INITIALIZING;
    cd_status_update_condition(&s, "Deployment", 1800000000000LL);
    assert_true(cd_status_set_refused(&s, "RouterRefused", "Gateway istio-system/gw does not exist",
                                      1800000001000LL));
    assert_false(cd_status_set_refused(&s, "RouterRefused", "Gateway istio-system/gw does not exist",
                                       1800000002000LL));   /* unchanged: nothing to write */
    json_t *j = cd_status_to_json(&s);
    json_t *conds = json_object_get(j, "conditions");
    assert_int_equal(json_array_size(conds), 2);
    json_t *a = json_array_get(conds, 1);
    assert_string_equal(json_string_value(json_object_get(a, "type")), "Accepted");
    assert_string_equal(json_string_value(json_object_get(a, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(a, "reason")), "RouterRefused");
    assert_string_equal(json_string_value(json_object_get(a, "message")),
                        "Gateway istio-system/gw does not exist");
    cd_status_from_json(&copy, j);
    assert_true(cd_status_equal(&copy, &s));
    assert_string_equal(copy.condition.type, "Promoted");
    json_decref(j);
    /* another reason is a change; removing it leaves Promoted alone */
    assert_true(cd_status_set_refused(&s, "InvalidSpec", "Gateway istio-system/gw does not exist", 1));
    assert_true(cd_status_set_refused(&s, NULL, NULL, 0));
    assert_false(cd_status_set_refused(&s, NULL, NULL, 0));
    j = cd_status_to_json(&s);
    assert_int_equal(json_array_size(json_object_get(j, "conditions")), 1);
    assert_false(cd_status_equal(&copy, &s));
    json_decref(j);
    cd_status_free(&copy);
    cd_status_free(&s);
}

/* A status is written by whoever can write the object: numbers beyond
 * int (1e300) saturate; converting them was undefined (issue 24's fuzzing). */
static void test_status_huge_numbers(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"canaryWeight\": 1e300, \"failedChecks\": -1e300, "
                           "\"iterations\": 2.5}", 0, NULL);
    assert_non_null(j);
    cd_canary_status s;
    cd_status_init(&s);
    cd_status_from_json(&s, j);
    assert_int_equal(s.canary_weight, INT_MAX);
    assert_int_equal(s.failed_checks, INT_MIN);
    assert_int_equal(s.iterations, 2);
    cd_status_free(&s);
    json_decref(j);
}

static void test_local_workload(void **state)
{
    cd_diags d;
    cd_object *o = decode_one("apiVersion: canaryd.dev/v1alpha1\nkind: LocalWorkload\n"
                              "metadata: {name: app}\n"
                              "spec:\n  command: ./app\n  args: ['--port', '{{ port }}']\n"
                              "  env: [{name: MODE, value: fast}]\n"
                              "  readinessProbe: {httpGet: {path: /readyz}, periodSeconds: 0.5}\n",
                              &d);
    const cd_local_workload_spec *w = o->spec.workload;
    assert_string_equal(w->command, "./app");
    assert_int_equal(w->args.n, 2);
    assert_int_equal(w->replicas, 1);
    assert_string_equal(w->port_env, "PORT");
    assert_string_equal(w->host, "127.0.0.1");
    assert_true(w->has_probe);
    assert_int_equal(w->probe_period_ms, 500);
    assert_int_equal(w->probe_failure_threshold, 3);
    assert_int_equal(w->grace_ms, 10000);
    assert_string_equal(w->env[0].key, "MODE");
    cd_object_free(o);
    cd_diags_free(&d);
}

/* spec.strategy (canaryd's, docs/local.md): Surge by default and then
 * absent from the encoded spec (a Surge workload's revision hash is what
 * it was before the field existed); InPlace with one replica warns; any
 * other value is refused with its position and path. */
static void test_local_workload_strategy(void **state)
{
    const char *head = "apiVersion: canaryd.dev/v1alpha1\nkind: LocalWorkload\n"
                       "metadata: {name: app}\nspec:\n  command: ./app\n";
    char yaml[512];
    cd_diags d;
    cd_object *plain = decode_one(head, &d);
    assert_false(plain->spec.workload->inplace);
    json_t *jp = cd_workload_encode_spec(plain->spec.workload);
    assert_null(json_object_get(jp, "strategy"));
    cd_diags_free(&d);

    snprintf(yaml, sizeof yaml, "%s  strategy: Surge\n", head);
    cd_object *surge = decode_one(yaml, &d);
    assert_false(surge->spec.workload->inplace);
    json_t *js = cd_workload_encode_spec(surge->spec.workload);
    assert_true(json_equal(jp, js));
    assert_int_equal(d.warnings, 0);
    cd_diags_free(&d);

    snprintf(yaml, sizeof yaml, "%s  strategy: InPlace\n  replicas: 3\n", head);
    cd_object *inplace = decode_one(yaml, &d);
    assert_true(inplace->spec.workload->inplace);
    json_t *ji = cd_workload_encode_spec(inplace->spec.workload);
    assert_string_equal(json_string_value(json_object_get(ji, "strategy")), "InPlace");
    assert_int_equal(d.warnings, 0);
    cd_diags_free(&d);

    snprintf(yaml, sizeof yaml, "%s  strategy: InPlace\n", head);   /* replicas 1 */
    cd_object *single = decode_one(yaml, &d);
    assert_int_equal(d.warnings, 1);
    assert_string_equal(d.items[0].path, "spec.strategy");
    assert_int_equal(d.items[0].line, 6);
    assert_non_null(strstr(d.items[0].message, "replicas 1"));
    cd_diags_free(&d);

    snprintf(yaml, sizeof yaml, "%s  strategy: Inplace\n", head);
    cd_object_list l = {0};
    cd_diags_init(&d);
    cd_manifest_load_buffer("t.yaml", yaml, strlen(yaml), false, "default", &l, &d);
    assert_int_equal(l.n, 0);
    assert_int_equal(d.errors, 1);
    char *msg = cd_diag_format(&d.items[0]);
    assert_string_equal(msg, "t.yaml:6:13: spec.strategy: unsupported value \"Inplace\": must be "
                             "one of \"Surge\", \"InPlace\"");
    free(msg);
    cd_diags_free(&d);
    free(l.items);

    json_decref(jp);
    json_decref(js);
    json_decref(ji);
    cd_object_free(plain);
    cd_object_free(surge);
    cd_object_free(inplace);
    cd_object_free(single);
}

static void test_local_canary_defaults_provider(void **state)
{
    cd_diags d;
    cd_object *o = decode_one(
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: a}\n"
        "spec:\n  targetRef: {apiVersion: canaryd.dev/v1alpha1, kind: LocalWorkload, name: a}\n"
        "  service: {port: 8080}\n  analysis: {interval: 10s, threshold: 2, stepWeight: 25}\n",
        &d);
    assert_string_equal(o->spec.canary.provider, "canaryd");
    cd_object_free(o);
    cd_diags_free(&d);
}

static const char *shared_dir(void)
{
    const char *s = getenv("CANARYD_SHARED");
    return s ? s : "../shared";
}

static void test_conformance_corpus_decodes(void **state)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/conformance/flagger/manifests", shared_dir());
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    long r = cd_manifest_load_path(path, "default", &l, &d);
    cd_diags_print(&d, stderr);
    assert_int_equal(r, 0);
    assert_int_equal(d.errors, 0);
    size_t files = 0;
    DIR *dir = opendir(path);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strstr(e->d_name, ".yaml"))
            files++;
    closedir(dir);
    assert_int_equal(files, 91);
    assert_int_equal(l.n, 91);      /* one object per file */
    size_t canaries = 0, templates = 0;
    for (size_t i = 0; i < l.n; i++) {
        canaries += l.items[i]->kind == CD_KIND_CANARY;
        templates += l.items[i]->kind == CD_KIND_METRIC_TEMPLATE;
    }
    assert_int_equal(canaries, 62);
    assert_int_equal(templates, 29);
    cd_object_list_free(&l);
    cd_diags_free(&d);
}

static void test_rejected_by_flagger_are_rejected(void **state)
{
    const char *files[] = {"058-alertprovider-docs_gitbook_usage_alerting.yaml",
                           "060-metrictemplate-docs_gitbook_usage_metrics.yaml",
                           "066-metrictemplate-docs_gitbook_usage_metrics.yaml"};
    for (size_t i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/conformance/flagger/rejected-by-flagger/%s", shared_dir(),
                 files[i]);
        cd_object_list l = {0};
        cd_diags d;
        cd_diags_init(&d);
        long r = cd_manifest_load_path(path, "default", &l, &d);
        assert_true(r > 0);
        assert_int_equal(l.n, 0);
        for (size_t k = 0; k < d.n; k++)   /* every error has a position */
            assert_true(d.items[k].line > 0);
        cd_object_list_free(&l);
        cd_diags_free(&d);
    }
}

static void test_alias_bomb_refused(void **state)
{
    /* 9 levels of 10x aliases would expand to 10^9 nodes */
    char yaml[4096];
    size_t off = (size_t)snprintf(yaml, sizeof yaml, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        off += (size_t)snprintf(yaml + off, sizeof yaml - off,
                                "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                                i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    cd_diags d;
    cd_diags_init(&d);
    cd_stream *s = cd_stream_parse("bomb.yaml", yaml, off, false, &d);
    assert_non_null(s);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.items[0].message, "expands to more than"));
    assert_null(s->docs[0].root);
    cd_stream_free(s);
    cd_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canary_defaults),
        cmocka_unit_test(test_interval_defaults),
        cmocka_unit_test(test_max_weight_rules),
        cmocka_unit_test(test_ab_strategy_and_alert_defaults),
        cmocka_unit_test(test_yaml_features),
        cmocka_unit_test(test_json_input),
        cmocka_unit_test(test_canonical_json),
        cmocka_unit_test(test_status_roundtrip),
        cmocka_unit_test(test_status_refused),
        cmocka_unit_test(test_status_huge_numbers),
        cmocka_unit_test(test_local_workload),
        cmocka_unit_test(test_local_workload_strategy),
        cmocka_unit_test(test_local_canary_defaults_provider),
        cmocka_unit_test(test_conformance_corpus_decodes),
        cmocka_unit_test(test_rejected_by_flagger_are_rejected),
        cmocka_unit_test(test_alias_bomb_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
