/* test_kube_statefulset.c - the partition arithmetic and readiness of
 * StatefulSet targets (src/kube/workload/partition.c, docs/statefulset.md):
 * weights to partitions and back, and when the ordinals the partition
 * selects are updated and ready, as kube-controller-manager reports it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "kube/workload/builders.h"

static void test_partition_for(void **state)
{
    /* 4 replicas, stepWeight 25: one more ordinal per step */
    assert_int_equal(cdk_sts_partition_for(4, 0), 4);
    assert_int_equal(cdk_sts_partition_for(4, 25), 3);
    assert_int_equal(cdk_sts_partition_for(4, 50), 2);
    assert_int_equal(cdk_sts_partition_for(4, 75), 1);
    assert_int_equal(cdk_sts_partition_for(4, 100), 0);
    /* any positive weight updates at least one ordinal; rounding up */
    assert_int_equal(cdk_sts_partition_for(3, 1), 2);
    assert_int_equal(cdk_sts_partition_for(3, 25), 2);
    assert_int_equal(cdk_sts_partition_for(3, 34), 1);
    assert_int_equal(cdk_sts_partition_for(10, 5), 9);
    assert_int_equal(cdk_sts_partition_for(1, 10), 0);   /* one replica: all or nothing */
    assert_int_equal(cdk_sts_partition_for(0, 50), 0);
    assert_int_equal(cdk_sts_partition_for(4, -5), 4);
    assert_int_equal(cdk_sts_partition_for(4, 150), 0);
}

static void test_weight_of(void **state)
{
    assert_int_equal(cdk_sts_weight_of(4, 4), 0);
    assert_int_equal(cdk_sts_weight_of(4, 3), 25);
    assert_int_equal(cdk_sts_weight_of(4, 0), 100);
    assert_int_equal(cdk_sts_weight_of(3, 2), 33);
    assert_int_equal(cdk_sts_weight_of(3, 9), 0);      /* a partition above replicas */
    assert_int_equal(cdk_sts_weight_of(0, 0), 0);
    /* every weight's partition gives back a weight that maps to it again */
    for (int r = 1; r <= 12; r++)
        for (int w = 0; w <= 100; w++) {
            int p = cdk_sts_partition_for(r, w);
            assert_int_equal(cdk_sts_partition_for(r, cdk_sts_weight_of(r, p)) >= p, 1);
        }
}

static json_t *sts(int replicas, int partition, const char *type, int updated, int ready,
                   const char *cur, const char *upd, int gen, int observed)
{
    json_t *o = json_pack("{s:{s:i},s:{s:i,s:{s:s}},s:{s:i,s:i,s:i,s:i,s:s,s:s}}", "metadata",
                          "generation", gen, "spec", "replicas", replicas, "updateStrategy", "type",
                          type, "status", "observedGeneration", observed, "replicas", replicas,
                          "updatedReplicas", updated, "readyReplicas", ready, "currentRevision", cur,
                          "updateRevision", upd);
    if (!strcmp(type, "RollingUpdate"))
        json_object_set_new(json_object_get(json_object_get(o, "spec"), "updateStrategy"),
                            "rollingUpdate", json_pack("{s:i}", "partition", partition));
    return o;
}

static cd_rc ready(json_t *o, bool all, int threshold, char *msg)
{
    cdk_sts_view v;
    cdk_sts_read(o, &v);
    cd_rc rc = cdk_sts_ready(&v, all, threshold, msg, 300);
    json_decref(o);
    return rc;
}

static void test_readiness(void **state)
{
    char msg[300];
    /* partition 2 of 4: ordinals 2 and 3 must be updated */
    assert_int_equal(ready(sts(4, 2, "RollingUpdate", 1, 4, "a", "b", 2, 2), false, 100, msg),
                     CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 1 out of 2 ordinals from 2 up have "
                             "been updated");
    assert_int_equal(ready(sts(4, 2, "RollingUpdate", 2, 3, "a", "b", 2, 2), false, 100, msg),
                     CD_RETRY);
    assert_string_equal(msg, "waiting for rollout to finish: 3 of 4 (readyThreshold 100%) pods "
                             "are ready");
    assert_int_equal(ready(sts(4, 2, "RollingUpdate", 2, 3, "a", "b", 2, 2), false, 75, msg), CD_OK);
    assert_int_equal(ready(sts(4, 2, "RollingUpdate", 2, 4, "a", "b", 2, 2), false, 100, msg), CD_OK);
    /* the controller has not seen the new spec yet */
    assert_int_equal(ready(sts(4, 2, "RollingUpdate", 4, 4, "a", "a", 3, 2), false, 100, msg),
                     CD_RETRY);
    assert_non_null(strstr(msg, "observed statefulset generation less than desired"));
    /* promotion (all): every pod, and currentRevision caught up */
    assert_int_equal(ready(sts(4, 0, "RollingUpdate", 3, 4, "a", "b", 2, 2), true, 100, msg),
                     CD_RETRY);
    assert_int_equal(ready(sts(4, 0, "RollingUpdate", 4, 4, "a", "b", 2, 2), true, 100, msg),
                     CD_RETRY);
    assert_non_null(strstr(msg, "currentRevision a is not b yet"));
    assert_int_equal(ready(sts(4, 0, "RollingUpdate", 4, 4, "b", "b", 2, 2), true, 100, msg), CD_OK);
    /* nothing new: every pod is at the update revision whatever the partition */
    assert_int_equal(ready(sts(4, 4, "RollingUpdate", 4, 4, "b", "b", 2, 2), false, 100, msg), CD_OK);
}

static void test_converged_and_read(void **state)
{
    cdk_sts_view v;
    json_t *o = sts(3, 3, "RollingUpdate", 3, 3, "r", "r", 1, 1);
    cdk_sts_read(o, &v);
    assert_true(v.rolling);
    assert_int_equal(v.partition, 3);
    assert_true(cdk_sts_converged(&v));
    json_decref(o);
    o = sts(3, 1, "RollingUpdate", 2, 3, "r", "s", 1, 1);
    cdk_sts_read(o, &v);
    assert_false(cdk_sts_converged(&v));   /* two revisions */
    json_decref(o);
    o = sts(3, 0, "OnDelete", 0, 3, "r", "s", 1, 1);
    cdk_sts_read(o, &v);
    assert_false(v.rolling);
    assert_int_equal(v.partition, 0);
    json_decref(o);
    /* defaults: no updateStrategy is RollingUpdate with partition 0, 1 replica */
    o = json_pack("{s:{}}", "spec");
    cdk_sts_read(o, &v);
    assert_true(v.rolling);
    assert_int_equal(v.replicas, 1);
    assert_int_equal(v.partition, 0);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_for),
        cmocka_unit_test(test_weight_of),
        cmocka_unit_test(test_readiness),
        cmocka_unit_test(test_converged_and_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
