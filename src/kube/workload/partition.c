/* partition.c - the arithmetic and readiness of a StatefulSet released by
 * its RollingUpdate partition (docs/statefulset.md): which partition a
 * canary weight needs, the weight a partition gives, and whether the
 * pods are where the partition puts them, as kube-controller-manager's
 * StatefulSet controller reports it (status.updatedReplicas,
 * readyReplicas, currentRevision, updateRevision). Pure. */
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include <stdio.h>
#include <string.h>

int cdk_sts_partition_for(int replicas, int weight)
{
    if (replicas <= 0)
        return 0;
    if (weight <= 0)
        return replicas;
    if (weight >= 100)
        return 0;
    int updated = (int)(((long long)replicas * weight + 99) / 100);   /* ceil */
    return replicas - (updated < 1 ? 1 : updated);
}

int cdk_sts_weight_of(int replicas, int partition)
{
    if (replicas <= 0)
        return 0;
    if (partition <= 0)
        return 100;
    if (partition >= replicas)
        return 0;
    return (int)((long long)(replicas - partition) * 100 / replicas);
}

void cdk_sts_read(const json_t *sts, cdk_sts_view *v)
{
    memset(v, 0, sizeof *v);
    v->replicas = (int)kj_int(sts, "spec.replicas", 1);
    const char *type = kj_str(sts, "spec.updateStrategy.type");
    v->rolling = !type || !strcmp(type, "RollingUpdate");
    v->partition = v->rolling ? (int)kj_int(sts, "spec.updateStrategy.rollingUpdate.partition", 0) : 0;
    v->generation = kj_int(sts, "metadata.generation", 0);
    v->observed = kj_int(sts, "status.observedGeneration", 0);
    v->ready = (int)kj_int(sts, "status.readyReplicas", 0);
    v->updated = (int)kj_int(sts, "status.updatedReplicas", 0);
    v->status_replicas = (int)kj_int(sts, "status.replicas", 0);
    v->current_rev = kj_str(sts, "status.currentRevision");
    v->update_rev = kj_str(sts, "status.updateRevision");
}

static bool same_revision(const cdk_sts_view *v)
{
    return v->current_rev && v->update_rev && !strcmp(v->current_rev, v->update_rev);
}

/* Flagger computes thresholds in float32 and truncates; so does this. */
static int threshold_of(int n, int pct) { return (int)((float)n * ((float)pct / 100.0f)); }

cd_rc cdk_sts_ready(const cdk_sts_view *v, bool all, int threshold_pct, char *msg, size_t msglen)
{
    if (v->generation > v->observed) {
        snprintf(msg, msglen, "waiting for rollout to finish: observed statefulset generation less "
                              "than desired generation");
        return CD_RETRY;
    }
    int partition = all ? 0 : v->partition;
    if (partition > v->replicas)
        partition = v->replicas;
    /* nothing new to roll out: every pod is at the update revision already */
    int want = same_revision(v) ? v->replicas : v->replicas - partition;
    if (want < 0)
        want = 0;
    if (v->updated < want) {
        snprintf(msg, msglen,
                 "waiting for rollout to finish: %d out of %d ordinals from %d up have been updated",
                 v->updated, want, partition);
        return CD_RETRY;
    }
    /* OnDelete never moves currentRevision (the controller's
     * completeRollingUpdate is for RollingUpdate only) */
    if (all && v->rolling && !same_revision(v) && v->updated >= v->replicas &&
        v->ready >= v->replicas) {
        snprintf(msg, msglen, "waiting for rollout to finish: currentRevision %s is not %s yet",
                 v->current_rev ? v->current_rev : "", v->update_rev ? v->update_rev : "");
        return CD_RETRY;
    }
    int need = threshold_of(v->replicas, threshold_pct);
    if (v->ready < need || (all && v->ready < v->replicas)) {
        snprintf(msg, msglen, "waiting for rollout to finish: %d of %d (readyThreshold %d%%) pods are ready",
                 v->ready, v->replicas, threshold_pct);
        return CD_RETRY;
    }
    if (msglen)
        msg[0] = '\0';
    return CD_OK;
}

bool cdk_sts_converged(const cdk_sts_view *v)
{
    return v->generation <= v->observed && (same_revision(v) || !v->rolling) &&
           v->updated >= v->replicas && v->ready >= v->replicas &&
           v->status_replicas == v->replicas;
}
