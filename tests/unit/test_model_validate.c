/* test_model_validate.c - every validation rule of the manifest model, with
 * the exact diagnostics (file:line:col: path: message) users see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/object.h"
#include "model/node.h"
#include "util/buf.h"

/* A valid canary; each test breaks one thing in a copy of it. */
static const char *BASE =
    "apiVersion: flagger.app/v1beta1\n"          /* 1 */
    "kind: Canary\n"                             /* 2 */
    "metadata:\n"                                /* 3 */
    "  name: podinfo\n"                          /* 4 */
    "  namespace: test\n"                        /* 5 */
    "spec:\n"                                    /* 6 */
    "  provider: appmesh:v1beta2\n"              /* 7 */
    "  targetRef:\n"                             /* 8 */
    "    apiVersion: apps/v1\n"                  /* 9 */
    "    kind: Deployment\n"                     /* 10 */
    "    name: podinfo\n"                        /* 11 */
    "  service:\n"                               /* 12 */
    "    port: 9898\n"                           /* 13 */
    "  analysis:\n"                              /* 14 */
    "    interval: 1m\n"                         /* 15 */
    "    threshold: 5\n"                         /* 16 */
    "    stepWeight: 10\n"                       /* 17 */
    "    maxWeight: 50\n"                        /* 18 */
    "    metrics:\n"                             /* 19 */
    "    - name: request-success-rate\n"         /* 20 */
    "      thresholdRange:\n"                    /* 21 */
    "        min: 99\n"                          /* 22 */
    "      interval: 1m\n";                      /* 23 */

typedef struct result {
    cd_object_list objs;
    cd_diags diags;
    char text[8192];    /* all diagnostics, one per line */
} result;

static void run(result *r, const char *yaml)
{
    memset(r, 0, sizeof *r);
    cd_diags_init(&r->diags);
    cd_manifest_load_buffer("canary.yaml", yaml, strlen(yaml), false, "default", &r->objs,
                            &r->diags);
    cd_diags_sort(&r->diags);
    size_t off = 0;
    for (size_t i = 0; i < r->diags.n; i++) {
        char *s = cd_diag_format(&r->diags.items[i]);
        off += (size_t)snprintf(r->text + off, sizeof r->text - off, "%s\n", s);
        free(s);
    }
}

static void done(result *r)
{
    cd_object_list_free(&r->objs);
    cd_diags_free(&r->diags);
}

/* BASE with line `line` (1-based) replaced by `repl` (may hold several
 * lines, or be "" to delete it). */
static char *edit(int line, const char *repl)
{
    static char out[8192];
    const char *p = BASE;
    size_t off = 0;
    for (int n = 1; *p; n++) {
        const char *eol = strchr(p, '\n');
        size_t len = (size_t)(eol - p) + 1;
        if (n == line)
            off += (size_t)snprintf(out + off, sizeof out - off, "%s", repl);
        else
            off += (size_t)snprintf(out + off, sizeof out - off, "%.*s", (int)len, p);
        p += len;
    }
    return out;
}

/* The manifest with `line` replaced must give exactly `expected`. */
static void expect(int line, const char *repl, const char *expected)
{
    result r;
    run(&r, edit(line, repl));
    if (strcmp(r.text, expected) != 0)
        fail_msg("diagnostics differ\n--- got ---\n%s--- want ---\n%s", r.text, expected);
    if (r.diags.errors)
        assert_int_equal(r.objs.n, 0);   /* nothing half-decoded */
    done(&r);
}

static void test_base_is_valid(void **state)
{
    result r;
    run(&r, BASE);
    assert_string_equal(r.text, "");
    assert_int_equal(r.objs.n, 1);
    done(&r);
}

static void test_weight_range(void **state)
{
    expect(17, "    stepWeight: 120\n",
           "canary.yaml:17:17: spec.analysis.stepWeight: must be between 0 and 100, got 120\n");
    expect(18, "    maxWeight: -1\n",
           "canary.yaml:18:16: spec.analysis.maxWeight: must be between 0 and 100, got -1\n");
    expect(17, "    stepWeights: [10, 200]\n",
           "canary.yaml:17:23: spec.analysis.stepWeights[1]: must be between 0 and 100, got 200\n");
    /* beyond int (and int64): an error, never an out-of-range conversion */
    expect(17, "    stepWeights: [10, 1e40]\n",
           "canary.yaml:17:23: spec.analysis.stepWeights[1]: must be between 0 and 100, got 1e40\n");
    expect(18, "    mirrorWeight: 101\n",
           "canary.yaml:18:19: spec.analysis.mirrorWeight: must be between 0 and 100, got 101\n");
    expect(18, "    primaryReadyThreshold: 150\n",
           "canary.yaml:18:28: spec.analysis.primaryReadyThreshold: must be between 0 and 100, "
           "got 150\n");
    expect(18, "    canaryReadyThreshold: -5\n",
           "canary.yaml:18:27: spec.analysis.canaryReadyThreshold: must be between 0 and 100, "
           "got -5\n");
    expect(18, "    stepWeightPromotion: 101\n",
           "canary.yaml:18:26: spec.analysis.stepWeightPromotion: must be between 0 and 100, "
           "got 101\n");
    expect(17, "    stepWeight: 10.5\n",
           "canary.yaml:17:17: spec.analysis.stepWeight: must be a whole number, got 10.5\n");
}

/* spec.rollbackWindow (canaryd's extension, docs/rollback.md) */
static void test_rollback_window(void **state)
{
    expect(14, "  rollbackWindow:\n    revisions: 3\n    maxAge: 24h\n  analysis:\n", "");
    expect(14, "  rollbackWindow:\n    revisions: 0\n  analysis:\n",
           "canary.yaml:15:16: spec.rollbackWindow.revisions: must be between 1 and 20, got 0\n");
    expect(14, "  rollbackWindow:\n    revisions: 21\n  analysis:\n",
           "canary.yaml:15:16: spec.rollbackWindow.revisions: must be between 1 and 20, got 21\n");
    expect(14, "  rollbackWindow:\n    revisions: 2.5\n  analysis:\n",
           "canary.yaml:15:16: spec.rollbackWindow.revisions: must be a whole number, got 2.5\n");
    expect(14, "  rollbackWindow: {maxAge: 1h}\n  analysis:\n",
           "canary.yaml:14:19: spec.rollbackWindow.revisions: required field is missing\n");
    expect(14, "  rollbackWindow: {revisions: 2, maxAge: 0s}\n  analysis:\n",
           "canary.yaml:14:42: spec.rollbackWindow.maxAge: must be a positive duration such as "
           "24h or 30m, got \"0s\"\n");
    expect(14, "  rollbackWindow: {revisions: 2, maxAge: soon}\n  analysis:\n",
           "canary.yaml:14:42: spec.rollbackWindow.maxAge: must be a duration such as 500ms, 15s, "
           "1m or 1.5h: \"soon\"\n");
    result r;
    run(&r, edit(14, "  rollbackWindow: {revisions: 4, maxAge: 90m}\n  analysis:\n"));
    assert_int_equal(r.objs.n, 1);
    const cd_rollback_window *w = &r.objs.items[0]->spec.canary.rollback_window;
    assert_true(w->set);
    assert_int_equal(w->revisions, 4);
    assert_int_equal(w->max_age_ms, 90 * 60000);
    done(&r);
}

/* A StatefulSet target (docs/statefulset.md): what cannot work is an
 * error, what does not apply a warning saying why. */
static void test_statefulset_fields(void **state)
{
    expect(10, "    kind: StatefulSet\n",
           "canary.yaml:7:13: spec.provider: a StatefulSet target is released by its partition, "
           "traffic following the updated pods: provider must be istio, gatewayapi:v1, "
           "gatewayapi:v1beta1, kubernetes or empty, got \"appmesh:v1beta2\"\n");
    const char *sts =
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: db}\nspec:\n"
        "  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n"
        "  service: {port: 5432, hosts: [db.example.com]}\n"
        "  analysis:\n    interval: 1m\n    threshold: 2\n    stepWeight: 25\n"
        "    stepWeightPromotion: 50\n    mirror: true\n"
        "    sessionAffinity: {cookieName: c}\n"
        "    metrics:\n    - name: errors\n      query: sum(x)\n      thresholdRange: {max: 1}\n";
    result r;
    run(&r, sts);
    assert_string_equal(r.text,
        "canary.yaml:6:32: warning: spec.service.hosts: does not apply to a StatefulSet target: "
        "canaryd creates no routes for it, traffic follows the pods through your own Service\n"
        "canary.yaml:11:26: warning: spec.analysis.stepWeightPromotion: does not apply to a "
        "StatefulSet target: promotion updates the remaining ordinals in the controller's order\n"
        "canary.yaml:12:13: warning: spec.analysis.mirror: does not apply to a StatefulSet target: "
        "nothing mirrors traffic to its pods\n"
        "canary.yaml:13:22: warning: spec.analysis.sessionAffinity: does not apply to a "
        "StatefulSet target: no router sets cookies\n");
    assert_int_equal(r.objs.n, 1);   /* valid: warnings only */
    done(&r);
    /* router references, the generated Services' settings, mirrorWeight */
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: db}\nspec:\n"
            "  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n"
            "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: db}\n"
            "  service: {port: 5432, portDiscovery: true, apex: {labels: {a: b}}}\n"
            "  analysis: {interval: 1m, threshold: 2, stepWeight: 25, mirrorWeight: 50}\n");
    assert_string_equal(r.text,
        "canary.yaml:6:15: warning: spec.ingressRef: does not apply to a StatefulSet target: "
        "canaryd routes no ingress or router object to its pods\n"
        "canary.yaml:7:40: warning: spec.service.portDiscovery: does not apply to a StatefulSet "
        "target without a mesh provider: canaryd creates no Services for it\n"
        "canary.yaml:7:52: warning: spec.service.apex: does not apply to a StatefulSet target "
        "without a mesh provider: canaryd creates no Services for it\n"
        "canary.yaml:8:72: warning: spec.analysis.mirrorWeight: does not apply to a StatefulSet "
        "target: nothing mirrors traffic to its pods\n");
    assert_int_equal(r.objs.n, 1);
    done(&r);
    /* provider istio: its weights follow the updated share, its routing fields apply */
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: db}\nspec:\n"
            "  provider: istio\n"
            "  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n"
            "  service: {port: 5432, hosts: [db.example.com], gateways: [mesh]}\n"
            "  analysis: {interval: 1m, threshold: 2, stepWeight: 25}\n");
    assert_string_equal(r.text, "");
    assert_int_equal(r.objs.n, 1);
    done(&r);
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: db}\nspec:\n"
            "  provider: gatewayapi:v1\n"
            "  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n"
            "  service: {port: 5432, gatewayRefs: [{name: gw}]}\n"
            "  analysis: {interval: 1m, threshold: 2, stepWeight: 25}\n");
    assert_string_equal(r.text, "");
    assert_int_equal(r.objs.n, 1);
    done(&r);
    /* the builtin metrics, judged too, compare the updated pods with the others */
    const char *head =
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: db}\nspec:\n"
        "  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n"
        "  service: {port: 5432}\n"
        "  analysis:\n    interval: 1m\n    threshold: 2\n    stepWeight: 25\n    metrics:\n";
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "%s%s", head,
             "    - name: request-success-rate\n      thresholdRange: {min: 99}\n"
             "      judge: {allowedIncrease: 1pp}\n"
             "    - name: request-duration\n      thresholdRange: {max: 500}\n");
    run(&r, yaml);
    assert_string_equal(r.text, "");
    assert_int_equal(r.objs.n, 1);
    done(&r);
    /* a judged query has no second side */
    snprintf(yaml, sizeof yaml, "%s%s", head,
             "    - name: lat\n      query: sum(x)\n      thresholdRange: {max: 1}\n"
             "      judge: {allowedIncrease: 10%}\n");
    run(&r, yaml);
    if (!strstr(r.text, "spec.analysis.metrics[0].judge: the statistical judge reads only the "
                        "builtin metrics of a StatefulSet target"))
        fail_msg("%s", r.text);
    assert_int_equal(r.objs.n, 0);
    done(&r);
}

static void test_types(void **state)
{
    expect(16, "    threshold: five\n",
           "canary.yaml:16:16: spec.analysis.threshold: must be a number, got \"five\"\n");
    expect(13, "    port: \"9898\"\n",
           "canary.yaml:13:11: spec.service.port: must be a number, got \"9898\"\n");
    expect(7, "  autoscalerRef: [1]\n",
           "canary.yaml:7:18: spec.autoscalerRef: must be an object, got a list\n");
    expect(12, "  skipAnalysis: yes\n  service:\n",
           "canary.yaml:12:17: spec.skipAnalysis: must be a boolean (true or false), got "
           "\"yes\"\n");
}

static void test_enums(void **state)
{
    expect(10, "    kind: CronJob\n",
           "canary.yaml:10:11: spec.targetRef.kind: unsupported value \"CronJob\": must be "
           "one of \"DaemonSet\", \"Deployment\", \"Service\", \"LocalWorkload\", "
           "\"StatefulSet\"\n");
    expect(7, "  provider: consul\n",
           "canary.yaml:7:13: spec.provider: unsupported value \"consul\": must be one of "
           "\"apisix\", \"appmesh\", \"appmesh:v1beta2\", \"contour\", \"gatewayapi:v1\", "
           "\"gatewayapi:v1beta1\", \"gloo\", \"istio\", \"knative\", \"kubernetes\", \"kuma\", "
           "\"linkerd\", \"nginx\", \"osm\", \"skipper\", \"smi:v1alpha1\", \"smi:v1alpha2\", "
           "\"smi:v1alpha3\", \"traefik\", \"canaryd\"\n");
    expect(18, "    webhooks:\n    - name: a\n      url: http://x/\n      type: later\n",
           "canary.yaml:21:13: spec.analysis.webhooks[0].type: unsupported value \"later\": must "
           "be one of \"\", \"confirm-rollout\", \"pre-rollout\", \"rollout\", "
           "\"confirm-promotion\", \"post-rollout\", \"event\", \"rollback\", "
           "\"confirm-traffic-increase\"\n");
    expect(18,
           "    alerts:\n    - name: a\n      severity: critical\n      providerRef: {name: s}\n",
           "canary.yaml:20:17: spec.analysis.alerts[0].severity: unsupported value \"critical\": "
           "must be one of \"\", \"info\", \"warn\", \"error\"\n");
    expect(18, "    sessionAffinity:\n      cookieName: c\n      sameSite: Relaxed\n",
           "canary.yaml:20:17: spec.analysis.sessionAffinity.sameSite: unsupported value "
           "\"Relaxed\": must be one of \"Strict\", \"Lax\", \"None\"\n");
    expect(13, "    port: 9898\n    trafficDistribution: Nearby\n",
           "canary.yaml:14:26: spec.service.trafficDistribution: unsupported value \"Nearby\": "
           "must be one of \"PreferClose\", \"PreferSameZone\", \"PreferSameNode\"\n");
}

static void test_required(void **state)
{
    expect(11, "",
           "canary.yaml:9:5: spec.targetRef.name: required field is missing\n");
    expect(13, "    name: podinfo\n",
           "canary.yaml:13:5: spec.service.port: required field is missing\n");
    expect(4, "  name:\n",
           "canary.yaml:4:3: metadata.name: required field is missing\n");
    expect(20, "    - query: up\n",
           "canary.yaml:20:7: spec.analysis.metrics[0].name: required field is missing\n");
}

static void test_analysis_one_of(void **state)
{
    expect(17, "",
           "canary.yaml:15:5: spec.analysis: must set interval, threshold and exactly one of "
           "iterations, stepWeight or stepWeights\n");
    expect(17, "    stepWeight: 10\n    iterations: 3\n",
           "canary.yaml:15:5: spec.analysis: must set only one of iterations, stepWeight or "
           "stepWeights, got iterations and stepWeight\n");
    expect(16, "",
           "canary.yaml:15:5: spec.analysis: must set interval, threshold and exactly one of "
           "iterations, stepWeight or stepWeights\n");
}

static void test_durations(void **state)
{
    expect(15, "    interval: 1h\n",
           "canary.yaml:15:15: spec.analysis.interval: must be a whole number of seconds or "
           "minutes, such as 30s or 1m: \"1h\"\n");
    expect(23, "      interval: soon\n",
           "canary.yaml:23:17: spec.analysis.metrics[0].interval: must be a whole number of "
           "seconds or minutes, such as 30s or 1m: \"soon\"\n");
    expect(18, "    webhooks:\n    - name: a\n      url: http://x/\n      timeout: 10\n",
           "canary.yaml:21:16: spec.analysis.webhooks[0].timeout: must be a string, got 10\n");
    /* accepted by the pattern, refused by Go's ParseDuration: Flagger falls back */
    expect(15, "    interval: 10mx\n",
           "canary.yaml:15:15: warning: spec.analysis.interval: \"10mx\" is not a duration; "
           "the interval 1m is used (as Flagger does)\n");
    expect(15, "    interval: 5s\n",
           "canary.yaml:15:15: warning: spec.analysis.interval: below the 10s minimum; 10s is "
           "used (as Flagger does)\n");
}

static void test_session_affinity(void **state)
{
    expect(18,
           "    sessionAffinity:\n      cookieName: flagger\n      primaryCookieName: flagger\n",
           "canary.yaml:20:26: spec.analysis.sessionAffinity.primaryCookieName: must differ from "
           "cookieName (\"flagger\")\n");
    expect(18, "    sessionAffinity:\n      maxAge: 10\n",
           "canary.yaml:19:7: spec.analysis.sessionAffinity.cookieName: required field is "
           "missing\n");
}

static void test_string_match_one_of(void **state)
{
    expect(18,
           "    iterations: 1\n    match:\n    - headers:\n        user: {exact: a, regex: b}\n",
           "canary.yaml:15:5: spec.analysis: must set only one of iterations, stepWeight or "
           "stepWeights, got iterations and stepWeight\n"
           "canary.yaml:21:15: spec.analysis.match[0].headers.user: must set only one of exact, "
           "prefix, suffix or regex, got exact and regex\n");
    expect(13, "    port: 9898\n    match:\n    - uri: {prefix: /a, exact: /b}\n",
           "canary.yaml:15:12: spec.service.match[0].uri: must set at most one of exact, prefix "
           "or regex, got exact and prefix\n");
}

static void test_unknown_fields_warn(void **state)
{
    expect(18, "    maxWieght: 50\n",
           "canary.yaml:18:5: warning: spec.analysis.maxWieght: unknown field (ignored); did "
           "you mean maxWeight?\n");
    expect(18, "    maxWeigth: 50\n",
           "canary.yaml:18:5: warning: spec.analysis.maxWeigth: unknown field (ignored); did "
           "you mean maxWeight?\n");
    expect(6, "spec:\n  fancy: {a: 1}\n",
           "canary.yaml:7:3: warning: spec.fancy: unknown field (ignored)\n");
}

static void test_controller_rules(void **state)
{
    /* metric without template or query */
    expect(20, "    - name: error-rate\n",
           "canary.yaml:20:7: spec.analysis.metrics[0]: metric \"error-rate\" has no "
           "templateRef and no query; only request-success-rate and request-duration are built "
           "in\n");
    /* thresholdRange min > max */
    expect(22, "        min: 99\n        max: 1\n",
           "canary.yaml:22:9: spec.analysis.metrics[0].thresholdRange: min (99) is greater than "
           "max (1): no value can pass\n");
    /* gateway API without gatewayRefs */
    expect(7, "  provider: gatewayapi:v1\n",
           "canary.yaml:13:5: spec.service.gatewayRefs: provider gatewayapi:v1 needs at least "
           "one gatewayRef\n");
    /* knative pairing */
    expect(7, "  provider: knative\n",
           "canary.yaml:7:13: spec.provider: provider knative needs a targetRef of kind Service "
           "with apiVersion serving.knative.dev/v1\n");
    /* local workload needs the built-in router */
    expect(10, "    kind: LocalWorkload\n",
           "canary.yaml:7:13: spec.provider: a LocalWorkload target runs on the local platform: "
           "provider must be canaryd or empty, got \"appmesh:v1beta2\"\n");
    expect(7, "  provider: canaryd\n",
           "canary.yaml:10:11: spec.targetRef.kind: provider canaryd (the built-in router) needs "
           "a LocalWorkload target\n");
    /* webhook URL scheme */
    expect(18, "    webhooks:\n    - name: a\n      url: ftp://x/\n",
           "canary.yaml:20:12: spec.analysis.webhooks[0].url: \"ftp://x/\" is not an http:// or "
           "https:// URL\n");
    /* mirror backendRef port (Gateway API CEL rule) */
    expect(13, "    port: 9898\n    mirror:\n    - backendRef: {name: shadow}\n",
           "canary.yaml:15:19: spec.service.mirror[0].backendRef: must have port for Service "
           "reference\n");
    /* provider kubernetes forces blue/green */
    expect(7, "  provider: kubernetes\n",
           "canary.yaml:15:5: warning: spec.analysis.iterations: provider kubernetes always runs "
           "blue/green: 10 iterations are used\n");
}

static void test_metadata_rules(void **state)
{
    expect(4, "  name: PodInfo\n",
           "canary.yaml:4:9: metadata.name: \"PodInfo\" is not a valid name: use lowercase "
           "letters, digits, '-' and '.', starting and ending with a letter or digit, at most "
           "253 characters\n");
    expect(5, "  namespace: my.ns\n",
           "canary.yaml:5:14: metadata.namespace: \"my.ns\" is not a valid namespace: use "
           "lowercase letters, digits and '-', at most 63 characters\n");
    expect(5, "  namespace: test\n  labels: {tier: 3}\n",
           "canary.yaml:6:18: metadata.labels.tier: must be a string (quote it), got 3\n");
}

static void test_api_version_and_kind(void **state)
{
    expect(1, "apiVersion: flagger.app/v1alpha1\n",
           "canary.yaml:1:13: apiVersion: flagger.app/v1alpha1 is not served for kind Canary; "
           "use flagger.app/v1beta1\n");
    /* flagger.app has three kinds: another one is an error (kubectl's "no
     * matches for kind"), with the one meant when it is a typo */
    expect(2, "kind: Deployment\n",
           "canary.yaml:2:7: kind: flagger.app has no kind Deployment (its kinds: Canary, "
           "MetricTemplate, AlertProvider)\n");
    expect(2, "kind: Canery\n",
           "canary.yaml:2:7: kind: flagger.app has no kind Canery; did you mean Canary? (its kinds: "
           "Canary, MetricTemplate, AlertProvider)\n");
    result r;
    run(&r, "- a\n- b\n");
    assert_string_equal(r.text, "canary.yaml:1:1: a manifest must be an object with apiVersion "
                                "and kind, got array\n");
    done(&r);
}

static void test_syntax_errors_keep_position(void **state)
{
    result r;
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: x\n");
    assert_int_equal(r.diags.errors, 1);
    assert_non_null(strstr(r.text, "canary.yaml:4:1: YAML syntax error:"));
    done(&r);
    run(&r, "a: 1\na: 2\n");
    assert_string_equal(r.text, "canary.yaml:1:1: apiVersion: required field is missing\n"
                                "canary.yaml:2:1: duplicate mapping key \"a\"\n");
    done(&r);
    run(&r, "a: *nope\n");
    assert_non_null(strstr(r.text, "canary.yaml:1:4: unknown alias \"*nope\""));
    done(&r);
}

static void test_alert_provider_and_template_rules(void **state)
{
    result r;
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: a}\n"
            "spec:\n  type: slack\n  address: https://x\n  secretRef: {name: s}\n");
    assert_string_equal(r.text, "canary.yaml:5:3: spec: must set only one of address or "
                                "secretRef, got address and secretRef\n");
    done(&r);
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: a}\n"
            "spec:\n  type: pager\n  address: https://x\n");
    assert_string_equal(r.text, "canary.yaml:5:9: spec.type: unsupported value \"pager\": must "
                                "be one of \"slack\", \"msteams\", \"discord\", \"rocket\", "
                                "\"gchat\"\n");
    done(&r);
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata: {name: a}\n"
            "spec:\n  provider: {type: graphite2}\n  query: x\n");
    assert_string_equal(r.text,
                        "canary.yaml:5:20: spec.provider.type: unsupported value \"graphite2\": must "
                        "be one of \"prometheus\", \"influxdb\", \"datadog\", \"externalmetrics\", "
                        "\"stackdriver\", \"cloudwatch\", \"newrelic\", \"graphite\", \"dynatrace\", "
                        "\"keptn\", \"splunk\"\n");
    done(&r);
    run(&r, "apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata: {name: a}\n"
            "spec:\n  provider: {type: cloudwatch}\n  query: x\n");
    assert_string_equal(r.text, "canary.yaml:5:13: spec.provider.region: provider cloudwatch "
                                "needs a region\n");
    done(&r);
}

static void test_all_errors_reported(void **state)
{
    /* three independent errors: all of them, not only the first */
    result r;
    run(&r, edit(17, "    stepWeight: 120\n    mirrorWeight: 300\n    threshold2: x\n"));
    assert_int_equal(r.diags.errors, 2);
    assert_int_equal(r.diags.warnings, 1);
    assert_int_equal(r.objs.n, 0);
    done(&r);
}


/* Hostile inputs stay cheap and give a bounded report: over the size
 * limit, one error before parsing; deep flow nesting, one error (no
 * libfyaml read-ahead); thousands of findings, the first CD_DIAGS_KEEP and
 * a count. */
static void test_input_limits(void **state)
{
    size_t n = CD_MANIFEST_MAX_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, '#', n);
    big[n] = 0;
    cd_object_list objs = {0};
    cd_diags d;
    cd_diags_init(&d);
    assert_int_equal(cd_manifest_load_buffer("big.yaml", big, n, false, "default", &objs, &d), 1);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].message, "manifests are limited to 1048576 bytes"));
    cd_diags_free(&d);

    memset(big, '[', CD_MANIFEST_MAX_BYTES);
    cd_diags_init(&d);
    assert_int_equal(cd_manifest_load_buffer("brackets.yaml", big, CD_MANIFEST_MAX_BYTES, false,
                                             "default", &objs, &d), 1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].col, CD_NODE_MAX_DEPTH + 1);
    assert_non_null(strstr(d.items[0].message, "nested [ or {"));
    cd_diags_free(&d);
    free(big);

    cd_buf y = CD_BUF_INIT;
    cd_buf_puts(&y, BASE);
    for (int i = 0; i < 3000; i++)
        cd_buf_printf(&y, "  bogus%d: 1\n", i);
    cd_diags_init(&d);
    cd_manifest_load_buffer("many.yaml", y.data, y.len, false, "default", &objs, &d);
    assert_int_equal(d.n, CD_DIAGS_KEEP);
    assert_int_equal(d.warnings, 3000);
    assert_int_equal(d.dropped_warnings, 3000 - CD_DIAGS_KEEP);
    char *o = cd_diags_omitted(&d);
    assert_string_equal(o, "... and 2900 more warnings (only the first 100 are listed)");
    free(o);
    cd_diags moved;
    cd_diags_init(&moved);
    cd_diags_move(&moved, &d);
    assert_int_equal(moved.warnings, 3000);
    assert_int_equal(moved.dropped_warnings, 2900);
    cd_diags_free(&moved);
    cd_object_list_free(&objs);
    cd_buf_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_is_valid),
        cmocka_unit_test(test_weight_range),
        cmocka_unit_test(test_rollback_window),
        cmocka_unit_test(test_statefulset_fields),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_analysis_one_of),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_session_affinity),
        cmocka_unit_test(test_string_match_one_of),
        cmocka_unit_test(test_unknown_fields_warn),
        cmocka_unit_test(test_controller_rules),
        cmocka_unit_test(test_metadata_rules),
        cmocka_unit_test(test_api_version_and_kind),
        cmocka_unit_test(test_syntax_errors_keep_position),
        cmocka_unit_test(test_alert_provider_and_template_rules),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_input_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
