/* test_kube_workload.c - the Kubernetes workload side as pure functions
 * (src/kube/workload/builders.h) against Flagger's behaviours (reference
 * §8.2): the primary Deployment/DaemonSet (1), scale-to-zero (2),
 * promotion copies (9), readiness (21), change detection (22), affinity
 * selectors (23), port discovery (12), config tracking with Go Flagger's
 * checksums, scale-up replicas and the primary HPA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include "model/object.h"
#include "util/timeutil.h"
#include "kubefix.h"

static const char *labels_default[] = {"app", "name", "app.kubernetes.io/name"};
static const cd_strlist selector_labels = {labels_default, 3};
static const cd_strlist no_prefixes = {NULL, 0};

#define PODINFO                                                                                    \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"podinfo\","     \
    "\"namespace\":\"test\",\"labels\":{\"app\":\"podinfo\",\"team\":\"x\",\"app.kubernetes.io/"   \
    "part-of\":\"shop\"},\"annotations\":{\"kustomize.toolkit.fluxcd.io/checksum\":\"abc\","       \
    "\"owner\":\"me\"}},\"spec\":{\"replicas\":3,\"progressDeadlineSeconds\":60,"                  \
    "\"minReadySeconds\":3,\"revisionHistoryLimit\":5,\"strategy\":{\"type\":\"RollingUpdate\"},"  \
    "\"selector\":{\"matchLabels\":{\"app\":\"podinfo\"}},\"template\":{\"metadata\":{\"labels\":" \
    "{\"app\":\"podinfo\",\"version\":\"1\"},\"annotations\":{\"prometheus.io/scrape\":\"true\"}},"  \
    "\"spec\":{\"containers\":[{\"name\":\"podinfo\",\"image\":\"podinfo:1.0\",\"ports\":[{"      \
    "\"name\":\"http\",\"containerPort\":9898},{\"name\":\"http-metrics\",\"containerPort\":8080}," \
    "{\"containerPort\":8888}],\"envFrom\":[{\"configMapRef\":{\"name\":\"podinfo-env\"}}],"      \
    "\"env\":[{\"name\":\"T\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"podinfo-secret\","        \
    "\"key\":\"t\"}}}]},{\"name\":\"envoy\",\"image\":\"envoy\",\"ports\":[{\"name\":\"admin\","   \
    "\"containerPort\":9901}]}],\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":"           \
    "\"podinfo-config\"}},{\"name\":\"p\",\"projected\":{\"sources\":[{\"secret\":{\"name\":"      \
    "\"podinfo-projected\",\"optional\":true}}]}}],\"affinity\":{\"podAntiAffinity\":{"            \
    "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{\"matchLabels\":{"    \
    "\"app\":\"podinfo\",\"team\":\"podinfo\"}},\"topologyKey\":\"h\"}],"                          \
    "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":1,\"podAffinityTerm\":{"     \
    "\"labelSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":["   \
    "\"other\",\"podinfo\"]}]},\"topologyKey\":\"z\"}}]}},\"topologySpreadConstraints\":[{"        \
    "\"maxSkew\":1,\"topologyKey\":\"z\",\"labelSelector\":{\"matchLabels\":{\"name\":\"podinfo\"}}}]}}}}"

static cdk_config_refs tracked_podinfo(void)
{
    cdk_config_refs r = {0};
    cdk_config_refs_add(&r, CDK_CONFIGMAP, "podinfo-config", false);
    cdk_config_refs_add(&r, CDK_CONFIGMAP, "podinfo-env", false);
    cdk_config_refs_add(&r, CDK_SECRET, "podinfo-secret", false);
    return r;
}

static void primary_in(cdk_primary_in *in, cdk_kind kind, const json_t *target,
                       const cdk_config_refs *tracked, const json_t *owner, const char *id,
                       const cd_strlist *prefixes)
{
    memset(in, 0, sizeof *in);
    in->kind = kind;
    in->target = target;
    in->selector_labels = &selector_labels;
    in->label_prefixes = prefixes;
    in->tracked = tracked;
    in->owner_ref = owner;
    in->flagger_id = id;
}

static void test_selector_label(void **state)
{
    json_t *t = obj(PODINFO);
    const char *label, *value;
    cd_err err = {{0}};
    assert_true(cdk_selector_label(t, CDK_DEPLOYMENT, &selector_labels, &label, &value, &err));
    assert_string_equal(label, "app");
    assert_string_equal(value, "podinfo");
    json_t *other = obj("{\"metadata\":{\"name\":\"w\",\"namespace\":\"n\"},\"spec\":{\"selector\":"
                        "{\"matchLabels\":{\"app.kubernetes.io/name\":\"web\",\"tier\":\"f\"}}}}");
    assert_true(cdk_selector_label(other, CDK_DEPLOYMENT, &selector_labels, &label, &value, &err));
    assert_string_equal(label, "app.kubernetes.io/name");
    json_object_del(kj_at(other, "spec.selector.matchLabels"), "app.kubernetes.io/name");
    assert_false(cdk_selector_label(other, CDK_DAEMONSET, &selector_labels, &label, &value, &err));
    assert_string_equal(err.msg, "daemonset w.n spec.selector.matchLabels must contain one of "
                                 "[app name app.kubernetes.io/name]");
    json_decref(t);
    json_decref(other);
}

/* §8.2 1: initialization creates <target>-primary */
static void test_primary_deployment(void **state)
{
    json_t *t = obj(PODINFO);
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true,\"blockOwnerDeletion\":true}");
    cdk_config_refs tracked = tracked_podinfo();
    const char *pfx[] = {"app.kubernetes.io"};
    cd_strlist prefixes = {pfx, 1};
    cdk_primary_in in;
    primary_in(&in, CDK_DEPLOYMENT, t, &tracked, owner, "id-1", &prefixes);
    cd_err err = {{0}};
    json_t *p = cdk_primary_build(&in, &err);
    assert_non_null(p);
    assert_string_equal(S(p, "metadata.name"), "podinfo-primary");
    assert_string_equal(S(p, "metadata.namespace"), "test");
    /* labels: only include-label-prefix ones, plus the selector label */
    json_t *labels = kj_at(p, "metadata.labels");
    assert_int_equal(json_object_size(labels), 2);
    assert_string_equal(json_string_value(json_object_get(labels, "app")), "podinfo-primary");
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/part-of")), "shop");
    /* annotations: without Flux's */
    json_t *ann = kj_at(p, "metadata.annotations");
    assert_int_equal(json_object_size(ann), 1);
    assert_string_equal(json_string_value(json_object_get(ann, "owner")), "me");
    assert_string_equal(S(json_array_get(kj_at(p, "metadata.ownerReferences"), 0), "uid"), "u1");
    assert_int_equal(kj_int(p, "spec.replicas", 0), 3);
    assert_int_equal(kj_int(p, "spec.progressDeadlineSeconds", 0), 60);
    assert_int_equal(kj_int(p, "spec.minReadySeconds", 0), 3);
    assert_int_equal(kj_int(p, "spec.revisionHistoryLimit", 0), 5);
    assert_string_equal(S(p, "spec.strategy.type"), "RollingUpdate");
    assert_string_equal(S(p, "spec.selector.matchLabels.app"), "podinfo-primary");
    assert_int_equal(json_object_size(kj_at(p, "spec.selector.matchLabels")), 1);
    assert_string_equal(S(p, "spec.template.metadata.labels.app"), "podinfo-primary");
    assert_string_equal(S(p, "spec.template.metadata.labels.version"), "1");
    json_t *pa = kj_at(p, "spec.template.metadata.annotations");
    assert_string_equal(json_string_value(json_object_get(pa, "flagger-id")), "id-1");
    assert_string_equal(json_string_value(json_object_get(pa, "prometheus.io/scrape")), "true");
    /* tracked configs renamed; the optional untracked one left alone */
    json_t *spec = kj_at(p, "spec.template.spec");
    json_t *c0 = json_array_get(json_object_get(spec, "containers"), 0);
    assert_string_equal(S(json_array_get(json_object_get(c0, "envFrom"), 0), "configMapRef.name"),
                        "podinfo-env-primary");
    assert_string_equal(S(json_array_get(json_object_get(c0, "env"), 0), "valueFrom.secretKeyRef.name"),
                        "podinfo-secret-primary");
    json_t *vols = json_object_get(spec, "volumes");
    assert_string_equal(S(json_array_get(vols, 0), "configMap.name"), "podinfo-config-primary");
    assert_string_equal(
        S(json_array_get(kj_at(json_array_get(vols, 1), "projected.sources"), 0), "secret.name"),
        "podinfo-projected");
    /* the target's own pod spec is untouched */
    assert_string_equal(S(json_array_get(kj_at(t, "spec.template.spec.volumes"), 0), "configMap.name"),
                        "podinfo-config");
    /* §8.2 23: selectors naming the target under a selector-label key */
    json_t *req = json_array_get(kj_at(spec, "affinity.podAntiAffinity."
                                             "requiredDuringSchedulingIgnoredDuringExecution"), 0);
    assert_string_equal(S(req, "labelSelector.matchLabels.app"), "podinfo-primary");
    assert_string_equal(S(req, "labelSelector.matchLabels.team"), "podinfo");   /* not a selector key */
    json_t *pref = json_array_get(kj_at(spec, "affinity.podAntiAffinity."
                                              "preferredDuringSchedulingIgnoredDuringExecution"), 0);
    json_t *vals = json_object_get(json_array_get(kj_at(pref, "podAffinityTerm.labelSelector."
                                                              "matchExpressions"), 0), "values");
    assert_string_equal(json_string_value(json_array_get(vals, 0)), "other");
    assert_string_equal(json_string_value(json_array_get(vals, 1)), "podinfo-primary");
    json_t *tsc = json_array_get(json_object_get(spec, "topologySpreadConstraints"), 0);
    assert_string_equal(S(tsc, "labelSelector.matchLabels.name"), "podinfo-primary");
    json_decref(p);

    /* no replicas (or 0) on the target: the primary gets 1 */
    json_object_set_new(kj_at(t, "spec"), "replicas", json_integer(0));
    primary_in(&in, CDK_DEPLOYMENT, t, NULL, NULL, "id-2", &no_prefixes);
    p = cdk_primary_build(&in, &err);
    assert_int_equal(kj_int(p, "spec.replicas", 0), 1);
    assert_int_equal(json_object_size(kj_at(p, "metadata.labels")), 1);   /* no prefixes: selector only */
    json_decref(p);

    /* without a selector label: an error, nothing built */
    json_object_clear(kj_at(t, "spec.selector.matchLabels"));
    assert_null(cdk_primary_build(&in, &err));
    assert_non_null(strstr(err.msg, "must contain one of"));
    cdk_config_refs_free(&tracked);
    json_decref(owner);
    json_decref(t);
}

/* §8.2 2 (DaemonSet): the primary never gets the scale-to-zero selector */
static void test_primary_daemonset(void **state)
{
    json_t *t = obj("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":"
                    "\"podinfo\",\"namespace\":\"test\"},\"spec\":{\"minReadySeconds\":2,"
                    "\"updateStrategy\":{\"type\":\"OnDelete\"},\"selector\":{\"matchLabels\":{\"name\":"
                    "\"podinfo\"}},\"template\":{\"metadata\":{\"labels\":{\"name\":\"podinfo\"}},"
                    "\"spec\":{\"nodeSelector\":{\"flagger.app/scale-to-zero\":\"true\"},"
                    "\"containers\":[{\"name\":\"c\",\"image\":\"i:1\"}]}}}}");
    cdk_primary_in in;
    primary_in(&in, CDK_DAEMONSET, t, NULL, NULL, "id", &no_prefixes);
    cd_err err = {{0}};
    json_t *p = cdk_primary_build(&in, &err);
    assert_non_null(p);
    assert_string_equal(S(p, "kind"), "DaemonSet");
    assert_false(kj_has(p, "spec.replicas"));
    assert_false(kj_has(p, "spec.strategy"));
    assert_string_equal(S(p, "spec.updateStrategy.type"), "OnDelete");
    assert_string_equal(S(p, "spec.selector.matchLabels.name"), "podinfo-primary");
    assert_false(kj_has(p, "spec.template.spec.nodeSelector"));
    json_decref(p);
    json_decref(t);
}

/* §8.2 9: promotion copies the image, pod metadata and config renames */
static void test_promote(void **state)
{
    json_t *t = obj(PODINFO);
    cdk_primary_in in;
    cdk_config_refs tracked = tracked_podinfo();
    primary_in(&in, CDK_DEPLOYMENT, t, &tracked, NULL, "id-1", &no_prefixes);
    cd_err err = {{0}};
    json_t *p = cdk_primary_build(&in, &err);
    json_object_set_new(kj_obj(p, "status"), "replicas", json_integer(3));
    /* a new revision of the target */
    json_t *c0 = json_array_get(kj_at(t, "spec.template.spec.containers"), 0);
    json_object_set_new(c0, "image", json_string("podinfo:2.0"));
    json_object_set_new(kj_at(t, "spec.template.metadata.labels"), "version", json_string("2"));
    json_object_set_new(kj_at(t, "spec"), "replicas", json_integer(5));
    json_object_set_new(kj_at(t, "spec"), "minReadySeconds", json_integer(7));
    primary_in(&in, CDK_DEPLOYMENT, t, &tracked, NULL, "id-2", &no_prefixes);
    assert_true(cdk_primary_promote(p, &in, &err));
    json_t *pc0 = json_array_get(kj_at(p, "spec.template.spec.containers"), 0);
    assert_string_equal(S(pc0, "image"), "podinfo:2.0");
    assert_string_equal(S(json_array_get(json_object_get(pc0, "envFrom"), 0), "configMapRef.name"),
                        "podinfo-env-primary");
    assert_string_equal(S(p, "spec.template.metadata.labels.version"), "2");
    assert_string_equal(S(p, "spec.template.metadata.labels.app"), "podinfo-primary");
    assert_string_equal(json_string_value(json_object_get(kj_at(p, "spec.template.metadata.annotations"),
                                                          "flagger-id")),
                        "id-2");
    assert_int_equal(kj_int(p, "spec.replicas", 0), 5);
    assert_int_equal(kj_int(p, "spec.minReadySeconds", 0), 7);
    assert_string_equal(S(p, "spec.selector.matchLabels.app"), "podinfo-primary");   /* immutable: kept */
    assert_int_equal(kj_int(p, "status.replicas", 0), 3);                               /* untouched */
    /* with an autoscaler the HPA owns replicas */
    json_object_set_new(kj_at(t, "spec"), "replicas", json_integer(9));
    in.has_autoscaler = true;
    assert_true(cdk_primary_promote(p, &in, &err));
    assert_int_equal(kj_int(p, "spec.replicas", 0), 5);
    cdk_config_refs_free(&tracked);
    json_decref(p);
    json_decref(t);
}

/* §8.2 22 with canaryd's hash: only the pod template counts */
static void test_target_hash(void **state)
{
    json_t *t = obj(PODINFO);
    char h1[CD_HASH_MAX], h2[CD_HASH_MAX], h3[CD_HASH_MAX];
    cdk_target_hash(t, CDK_DEPLOYMENT, h1);
    json_object_set_new(kj_at(t, "spec"), "replicas", json_integer(0));
    cdk_target_hash(t, CDK_DEPLOYMENT, h2);
    assert_string_equal(h1, h2);
    json_object_set_new(json_array_get(kj_at(t, "spec.template.spec.containers"), 0), "image",
                        json_string("podinfo:2.0"));
    cdk_target_hash(t, CDK_DEPLOYMENT, h3);
    assert_string_not_equal(h1, h3);
    /* the engine's rule: a change, unless it is what the primary runs */
    cd_canary_status st;
    cd_status_init(&st);
    snprintf(st.last_applied_spec, sizeof st.last_applied_spec, "%s", h1);
    snprintf(st.last_promoted_spec, sizeof st.last_promoted_spec, "%s", h1);
    assert_true(cd_engine_spec_changed(&st, h3));
    snprintf(st.last_applied_spec, sizeof st.last_applied_spec, "%s", h3);
    assert_false(cd_engine_spec_changed(&st, h1));   /* back to the promoted version */
    cd_status_free(&st);
    json_decref(t);

    /* DaemonSets: the scale-to-zero selector and an absent nodeSelector do not count */
    json_t *a = obj("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}");
    json_t *b = obj("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"}],"
                    "\"nodeSelector\":{\"flagger.app/scale-to-zero\":\"true\"}}}}}");
    cdk_target_hash(a, CDK_DAEMONSET, h1);
    cdk_target_hash(b, CDK_DAEMONSET, h2);
    assert_string_equal(h1, h2);
    json_decref(a);
    json_decref(b);
}

static const char *const ready_tpl =
    "{\"metadata\":{\"name\":\"podinfo\",\"generation\":%d},\"spec\":{\"replicas\":%d},"
    "\"status\":{\"observedGeneration\":%d,\"replicas\":%d,\"updatedReplicas\":%d,"
    "\"availableReplicas\":%d,\"conditions\":[{\"type\":\"Progressing\",\"status\":\"True\","
    "\"reason\":\"%s\"},{\"type\":\"Available\",\"status\":\"%s\",\"reason\":\"%s\","
    "\"lastUpdateTime\":\"2026-01-01T00:00:00Z\"}]}}";

static cd_rc ready(int gen, int want, int observed, int replicas, int updated, int available,
                   const char *preason, const char *astatus, const char *areason, int threshold,
                   int64_t now_ms, char *msg)
{
    char buf[1024];
    snprintf(buf, sizeof buf, ready_tpl, gen, want, observed, replicas, updated, available, preason,
             astatus, areason);
    json_t *d = obj(buf);
    cd_rc rc = cdk_deployment_ready(d, 60, threshold, now_ms, msg, 300);
    json_decref(d);
    return rc;
}

/* §8.2 21 */
static void test_deployment_readiness(void **state)
{
    int64_t t0;
    assert_true(cd_parse_rfc3339("2026-01-01T00:00:00Z", &t0));
    int64_t soon = t0 + 10000, late = t0 + 120000;
    char msg[300];
    assert_int_equal(ready(2, 2, 2, 2, 2, 2, "NewReplicaSetAvailable", "True", "MinimumReplicasAvailable",
                           100, soon, msg),
                     CD_OK);
    assert_int_equal(ready(3, 2, 2, 2, 2, 2, "ReplicaSetUpdated", "True", "x", 100, soon, msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: observed deployment generation less than "
                             "desired generation");
    assert_int_equal(ready(2, 3, 2, 3, 1, 1, "ReplicaSetUpdated", "True", "x", 100, soon, msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 1 out of 3 new replicas have been updated");
    assert_int_equal(ready(2, 2, 2, 3, 2, 2, "ReplicaSetUpdated", "True", "x", 100, soon, msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 1 old replicas are pending termination");
    assert_int_equal(ready(2, 2, 2, 2, 2, 1, "ReplicaSetUpdated", "True", "x", 100, soon, msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated "
                             "replicas are available");
    assert_int_equal(ready(2, 2, 2, 2, 2, 1, "ProgressDeadlineExceeded", "False",
                           "MinimumReplicasUnavailable", 100, soon, msg),
                     CD_FATAL);
    assert_string_equal(msg, "deployment \"podinfo\" exceeded its progress deadline");
    /* unavailable for longer than the canary's progress deadline */
    assert_int_equal(ready(2, 2, 2, 2, 2, 1, "ReplicaSetUpdated", "False", "MinimumReplicasUnavailable",
                           100, late, msg),
                     CD_FATAL);
    assert_int_equal(ready(2, 2, 2, 2, 2, 1, "ReplicaSetUpdated", "False", "MinimumReplicasUnavailable",
                           100, soon, msg),
                     CD_RETRY);
    /* readyThreshold 50: 2 of 4 is enough, 1 of 4 is not */
    assert_int_equal(ready(2, 4, 2, 4, 4, 2, "ReplicaSetUpdated", "True", "x", 50, soon, msg), CD_OK);
    assert_int_equal(ready(2, 4, 2, 4, 4, 1, "ReplicaSetUpdated", "True", "x", 50, soon, msg), CD_RETRY);
}

static void test_daemonset_readiness(void **state)
{
    char msg[300];
    json_t *ds = obj("{\"metadata\":{\"generation\":1},\"status\":{\"observedGeneration\":1,"
                     "\"desiredNumberScheduled\":4,\"updatedNumberScheduled\":4,\"numberAvailable\":2}}");
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, 1000, 2000, msg, sizeof msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 2 of 4 updated pods are available");
    assert_int_equal(cdk_daemonset_ready(ds, 60, 50, 1000, 2000, msg, sizeof msg), CD_OK);
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, 1000, 1000 + 61000, msg, sizeof msg), CD_FATAL);
    assert_string_equal(msg, "exceeded its progressDeadlineSeconds: 60");
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, 0, 1000 + 61000, msg, sizeof msg), CD_RETRY);
    json_object_set_new(kj_at(ds, "status"), "updatedNumberScheduled", json_integer(3));
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, 1000, 2000, msg, sizeof msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 3 out of 4 new pods have been updated");
    json_object_set_new(kj_at(ds, "metadata"), "generation", json_integer(2));
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, 1000, 2000, msg, sizeof msg), CD_RETRY);
    json_decref(ds);
}

/* Counts beyond int64 arithmetic (a fuzzer's, or a broken server's):
 * saturated, never undefined (UBSan aborts this test on an overflow). */
static void test_readiness_extreme_counts(void **state)
{
    char msg[300];
    json_t *d = obj("{\"status\":{\"replicas\":9223372036854775807,\"updatedReplicas\":-10}}");
    assert_int_equal(cdk_deployment_ready(d, 60, 100, 1000000, msg, sizeof msg), CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 9223372036854775807 old replicas are "
                             "pending termination");
    json_decref(d);
    d = obj("{\"status\":{\"updatedReplicas\":9223372036854775807,"
            "\"replicas\":9223372036854775807,\"availableReplicas\":0}}");
    assert_int_equal(cdk_deployment_ready(d, 60, 100, 1000000, msg, sizeof msg), CD_RETRY);
    json_decref(d);
    json_t *ds = obj("{\"status\":{\"desiredNumberScheduled\":-9223372036854775807,"
                     "\"updatedNumberScheduled\":-9223372036854775807,\"numberAvailable\":0}}");
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, 1000, 2000, msg, sizeof msg), CD_OK);
    /* a transition time at the end of int64 is never past its deadline */
    json_object_set_new(kj_at(ds, "status"), "desiredNumberScheduled", json_integer(4));
    json_object_set_new(kj_at(ds, "status"), "updatedNumberScheduled", json_integer(4));
    assert_int_equal(cdk_daemonset_ready(ds, 60, 100, INT64_MAX - 5, INT64_MAX, msg, sizeof msg),
                     CD_RETRY);
    json_decref(ds);
    /* a real beyond int64 where an integer belongs saturates */
    d = obj("{\"a\": 1e300, \"b\": -1e300, \"c\": 3.9}");
    assert_true(kj_int(d, "a", 0) == INT64_MAX);
    assert_true(kj_int(d, "b", 0) == INT64_MIN);
    assert_int_equal(kj_int(d, "c", 0), 3);
    json_decref(d);
}

static void test_scale_up_replicas(void **state)
{
    json_t *t0 = obj("{\"spec\":{\"replicas\":0}}"), *t3 = obj("{\"spec\":{\"replicas\":3}}");
    json_t *p2 = obj("{\"spec\":{\"replicas\":2}}"), *hpa = obj("{\"spec\":{\"minReplicas\":4}}");
    json_t *hpa1 = obj("{\"spec\":{\"minReplicas\":1}}");
    assert_int_equal(cdk_scale_up_replicas(t3, p2, hpa, true), 3);
    assert_int_equal(cdk_scale_up_replicas(t0, p2, NULL, false), 2);
    assert_int_equal(cdk_scale_up_replicas(t0, p2, hpa, true), 4);
    assert_int_equal(cdk_scale_up_replicas(t0, p2, hpa1, true), 1);
    assert_int_equal(cdk_scale_up_replicas(t0, NULL, NULL, false), 1);
    json_decref(t0);
    json_decref(t3);
    json_decref(p2);
    json_decref(hpa);
    json_decref(hpa1);
}

/* §8.2 12 */
static void test_port_discovery(void **state)
{
    json_t *t = obj(PODINFO);
    cd_object *c = canary("apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo}\n"
                          "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
                          "  service: {port: 9898, portDiscovery: true}\n"
                          "  analysis: {interval: 1m, threshold: 1, stepWeight: 10}\n");
    cd_service svc = c->spec.canary.service;
    cdk_port *ports;
    size_t n = cdk_discover_ports(t, &svc, &ports);
    assert_int_equal(n, 2);   /* http is the main port; envoy's admin port is a sidecar's */
    assert_string_equal(ports[0].name, "http-metrics");
    assert_int_equal(ports[0].port, 8080);
    assert_string_equal(ports[1].name, "tcp-podinfo-2");
    assert_int_equal(ports[1].port, 8888);
    free(ports);
    /* port 80 -> targetPort 9898 */
    svc.port = 80;
    svc.target_port = (cd_int_or_string){true, false, 9898, NULL};
    n = cdk_discover_ports(t, &svc, &ports);
    assert_int_equal(n, 2);
    free(ports);
    /* targetPort by name */
    svc.port = 8080;
    svc.target_port = (cd_int_or_string){true, true, 0, "http"};
    n = cdk_discover_ports(t, &svc, &ports);
    assert_int_equal(n, 2);
    assert_string_equal(ports[0].name, "http-metrics");
    free(ports);
    cd_object_free(c);
    json_decref(t);
}

static void test_config_scan(void **state)
{
    json_t *t = obj(PODINFO);
    json_t *spec = kj_at(t, "spec.template.spec");
    json_array_append_new(kj_arr(spec, "initContainers"),
                          obj("{\"name\":\"init\",\"envFrom\":[{\"secretRef\":{\"name\":\"init-secret\","
                              "\"optional\":true}},{\"configMapRef\":{\"name\":\"podinfo-env\"}}]}"));
    cdk_config_refs r = {0};
    cdk_scan_config_refs(spec, &r);
    assert_int_equal(r.n, 5);
    assert_true(cdk_config_refs_has(&r, CDK_CONFIGMAP, "podinfo-config"));
    assert_true(cdk_config_refs_has(&r, CDK_CONFIGMAP, "podinfo-env"));
    assert_true(cdk_config_refs_has(&r, CDK_SECRET, "podinfo-secret"));
    assert_true(cdk_config_refs_has(&r, CDK_SECRET, "podinfo-projected"));
    assert_true(cdk_config_refs_has(&r, CDK_SECRET, "init-secret"));
    assert_false(cdk_config_refs_has(&r, CDK_SECRET, "podinfo-config"));
    for (size_t i = 0; i < r.n; i++) {
        bool optional = !strcmp(r.items[i].name, "podinfo-projected") ||
                        !strcmp(r.items[i].name, "init-secret");
        assert_int_equal(r.items[i].optional, optional);
    }
    cdk_config_refs_free(&r);
    json_decref(t);
}

static void test_config_tracking(void **state)
{
    json_t *cm = obj("{\"metadata\":{\"name\":\"c\",\"namespace\":\"test\"},\"data\":{\"color\":\"blue\","
                     "\"a<b\":\"x&y\"}}");
    char sum[17];
    cdk_config_checksum(json_object_get(cm, "data"), sum);
    assert_string_equal(sum, "4462929cd70e6258");   /* sha256 of Go's JSON, as Flagger computes */
    cdk_config_checksum(NULL, sum);
    assert_string_equal(sum, "74234e98afe7498f");   /* "null" */
    json_t *tls = obj("{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/tls\",\"data\":{"
                      "\"ca.crt\":\"TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==\"}}");
    cdk_config_checksum(json_object_get(tls, "data"), sum);
    assert_string_equal(sum, "8db78719beaa12dd");
    assert_true(cdk_config_trackable(cm, CDK_CONFIGMAP));
    assert_true(cdk_config_trackable(tls, CDK_SECRET));
    json_object_set_new(tls, "type", json_string("kubernetes.io/dockerconfigjson"));
    assert_false(cdk_config_trackable(tls, CDK_SECRET));
    json_object_set_new(kj_obj(kj_obj(cm, "metadata"), "annotations"), "flagger.app/config-tracking",
                        json_string("disabled"));
    assert_false(cdk_config_trackable(cm, CDK_CONFIGMAP));
    char key[64];
    assert_string_equal(cdk_config_key(CDK_SECRET, "s", key, sizeof key), "secret/s");
    assert_string_equal(cdk_config_key(CDK_CONFIGMAP, "c", key, sizeof key), "configmap/c");
    json_decref(cm);
    json_decref(tls);
}

/* §8.2 9: the -primary copies of configs */
static void test_primary_config(void **state)
{
    json_t *sec = obj("{\"metadata\":{\"name\":\"podinfo-secret\",\"namespace\":\"test\",\"labels\":{"
                      "\"app\":\"podinfo\",\"app.kubernetes.io/name\":\"p\"},\"ownerReferences\":[{"
                      "\"apiVersion\":\"v1\",\"kind\":\"Foo\",\"name\":\"f\",\"uid\":\"f1\","
                      "\"controller\":true}]},\"type\":\"Opaque\",\"data\":{\"t\":\"dA==\"}}");
    json_t *owner = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":"
                        "\"podinfo\",\"uid\":\"u1\",\"controller\":true}");
    const char *pfx[] = {"app.kubernetes.io/"};
    cd_strlist prefixes = {pfx, 1};
    json_t *p = cdk_primary_config(sec, CDK_SECRET, &prefixes, owner);
    assert_string_equal(S(p, "kind"), "Secret");
    assert_string_equal(S(p, "metadata.name"), "podinfo-secret-primary");
    assert_string_equal(S(p, "type"), "Opaque");
    assert_string_equal(S(p, "data.t"), "dA==");
    assert_int_equal(json_object_size(kj_at(p, "metadata.labels")), 1);
    json_t *refs = kj_at(p, "metadata.ownerReferences");
    assert_int_equal(json_array_size(refs), 2);
    assert_string_equal(S(json_array_get(refs, 0), "uid"), "u1");
    assert_true(json_is_true(json_object_get(json_array_get(refs, 0), "controller")));
    assert_string_equal(S(json_array_get(refs, 1), "uid"), "f1");
    assert_true(json_is_false(json_object_get(json_array_get(refs, 1), "controller")));
    json_decref(p);
    json_decref(sec);
    json_decref(owner);
}

static void test_primary_hpa(void **state)
{
    json_t *hpa = obj("{\"metadata\":{\"name\":\"podinfo\",\"namespace\":\"test\",\"labels\":{\"a\":\"b\","
                      "\"kustomize.toolkit.fluxcd.io/name\":\"x\"}},\"spec\":{\"scaleTargetRef\":{"
                      "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"podinfo\"},"
                      "\"minReplicas\":2,\"maxReplicas\":4,\"metrics\":[{\"type\":\"Resource\"}]}}");
    cd_autoscaler_ref ref = {0};
    ref.set = true;
    ref.has_max_replicas = true;
    ref.max_replicas = 8;
    json_t *p = cdk_primary_hpa(hpa, "podinfo-primary", &ref, NULL);
    assert_string_equal(S(p, "metadata.name"), "podinfo-primary");
    assert_string_equal(S(p, "spec.scaleTargetRef.name"), "podinfo-primary");
    assert_string_equal(S(p, "spec.scaleTargetRef.kind"), "Deployment");
    assert_int_equal(kj_int(p, "spec.minReplicas", 0), 2);
    assert_int_equal(kj_int(p, "spec.maxReplicas", 0), 8);
    assert_int_equal(json_object_size(kj_at(p, "metadata.labels")), 1);
    json_t *live = json_deep_copy(p);
    assert_false(cdk_hpa_update(live, p));
    json_object_set_new(kj_at(hpa, "spec"), "minReplicas", json_integer(3));
    json_t *p2 = cdk_primary_hpa(hpa, "podinfo-primary", &ref, NULL);
    assert_true(cdk_hpa_update(live, p2));
    assert_int_equal(kj_int(live, "spec.minReplicas", 0), 3);
    json_decref(p);
    json_decref(p2);
    json_decref(live);
    json_decref(hpa);
}

static void test_label_filters(void **state)
{
    json_t *m = obj("{\"app.kubernetes.io/name\":\"a\",\"team\":\"t\",\"helm.toolkit.fluxcd.io/n\":\"h\"}");
    const char *all[] = {"*"};
    cd_strlist star = {all, 1};
    json_t *f = cdk_filter_by_prefix(m, &star);
    assert_int_equal(json_object_size(f), 2);   /* "*" never copies Flux's keys (Flagger's neither) */
    assert_null(json_object_get(f, "helm.toolkit.fluxcd.io/n"));
    json_decref(f);
    const char *helm[] = {"helm."};
    cd_strlist helm_prefix = {helm, 1};
    f = cdk_filter_by_prefix(m, &helm_prefix);
    assert_int_equal(json_object_size(f), 0);
    json_decref(f);
    /* the primary's pod labels and annotations: without Flux's keys either */
    f = cdk_with_label(m, "app", "a-primary");
    assert_int_equal(json_object_size(f), 3);
    assert_string_equal(json_string_value(json_object_get(f, "app")), "a-primary");
    assert_null(json_object_get(f, "helm.toolkit.fluxcd.io/n"));
    json_decref(f);
    f = cdk_pod_annotations(m, "id-1");
    assert_int_equal(json_object_size(f), 3);
    assert_string_equal(json_string_value(json_object_get(f, "flagger-id")), "id-1");
    assert_null(json_object_get(f, "helm.toolkit.fluxcd.io/n"));
    json_decref(f);
    f = cdk_filter_by_prefix(m, &no_prefixes);
    assert_int_equal(json_object_size(f), 0);
    json_decref(f);
    f = cdk_without_toolkit(m);
    assert_int_equal(json_object_size(f), 2);
    json_decref(f);
    f = cdk_filter_by_prefix(NULL, &star);
    assert_int_equal(json_object_size(f), 0);
    json_decref(f);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector_label),   cmocka_unit_test(test_primary_deployment),
        cmocka_unit_test(test_primary_daemonset), cmocka_unit_test(test_promote),
        cmocka_unit_test(test_target_hash),      cmocka_unit_test(test_deployment_readiness),
        cmocka_unit_test(test_daemonset_readiness), cmocka_unit_test(test_readiness_extreme_counts),
        cmocka_unit_test(test_scale_up_replicas),
        cmocka_unit_test(test_port_discovery),   cmocka_unit_test(test_config_scan),
        cmocka_unit_test(test_config_tracking),  cmocka_unit_test(test_primary_config),
        cmocka_unit_test(test_primary_hpa),      cmocka_unit_test(test_label_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
