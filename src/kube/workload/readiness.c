/* readiness.c - is a Deployment or DaemonSet ready, still rolling, or stuck
 * for good (reference §2.8, Flagger's deployment_ready.go and
 * daemonset_ready.go)? Pure: the object and the time come in. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/builders.h"
#include "util/timeutil.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int64_t time_of(const json_t *cond, const char *key)
{
    int64_t ms = 0;
    const char *s = kj_str(cond, key);
    if (s)
        cd_parse_rfc3339(s, &ms);
    return ms;
}

/* Flagger computes the threshold in float32 and truncates. Counts come
 * from the object and may be anything a server (or a fuzzer) sends:
 * results beyond int64 saturate instead of being undefined. */
static int64_t threshold_of(int64_t n, int pct)
{
    float ratio = (float)pct / 100.0f;
    float t = (float)n * ratio;
    if (t >= 9223372036854775807.0f)
        return INT64_MAX;
    if (t <= -9223372036854775807.0f)
        return INT64_MIN;
    return (int64_t)t;
}

/* a - b, saturated (for messages about counts read from the object) */
static long long count_diff(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return a > b ? LLONG_MAX : LLONG_MIN;
    return (long long)d;
}

/* from + deadline_s < now, without overflow for any from or now */
static bool past_deadline(int64_t from_ms, int deadline_s, int64_t now_ms)
{
    int64_t until;
    if (__builtin_add_overflow(from_ms, (int64_t)deadline_s * 1000, &until))
        return from_ms < 0;   /* wrapped below: long past; above: never */
    return until < now_ms;
}

cd_rc cdk_deployment_ready(const json_t *dep, int deadline_s, int threshold_pct, int64_t now_ms,
                           char *msg, size_t msglen)
{
    int64_t gen = kj_int(dep, "metadata.generation", 0);
    int64_t observed = kj_int(dep, "status.observedGeneration", 0);
    if (gen > observed) {
        snprintf(msg, msglen, "waiting for rollout to finish: observed deployment generation less "
                              "than desired generation");
        return CD_RETRY;
    }
    bool retriable = true;
    const json_t *progress = cd_kobj_condition(dep, "Progressing");
    if (progress) {
        const json_t *avail = cd_kobj_condition(dep, "Available");
        if (avail && !strcmp(kj_str(avail, "status") ?: "", "False") &&
            !strcmp(kj_str(avail, "reason") ?: "", "MinimumReplicasUnavailable")) {
            int64_t from = time_of(avail, "lastUpdateTime");
            retriable = !past_deadline(from, deadline_s, now_ms);
        }
    }
    cd_rc waiting = retriable ? CD_RETRY : CD_FATAL;
    int64_t updated = kj_int(dep, "status.updatedReplicas", 0);
    int64_t replicas = kj_int(dep, "status.replicas", 0);
    int64_t available = kj_int(dep, "status.availableReplicas", 0);
    int64_t need = threshold_of(updated, threshold_pct);
    if (progress && !strcmp(kj_str(progress, "reason") ?: "", "ProgressDeadlineExceeded")) {
        snprintf(msg, msglen, "deployment \"%s\" exceeded its progress deadline",
                 kj_str(dep, "metadata.name") ?: "");
        return CD_FATAL;
    }
    if (kj_has(dep, "spec.replicas") && updated < kj_int(dep, "spec.replicas", 0)) {
        snprintf(msg, msglen,
                 "waiting for rollout to finish: %lld out of %lld new replicas have been updated",
                 (long long)updated, (long long)kj_int(dep, "spec.replicas", 0));
        return waiting;
    }
    if (replicas > updated) {
        snprintf(msg, msglen, "waiting for rollout to finish: %lld old replicas are pending termination",
                 count_diff(replicas, updated));
        return waiting;
    }
    if (available < need) {
        snprintf(msg, msglen,
                 "waiting for rollout to finish: %lld of %lld (readyThreshold %d%%) updated replicas "
                 "are available",
                 (long long)available, (long long)need, threshold_pct);
        return waiting;
    }
    if (msglen)
        msg[0] = '\0';
    return CD_OK;
}

cd_rc cdk_daemonset_ready(const json_t *ds, int deadline_s, int threshold_pct,
                          int64_t last_transition_ms, int64_t now_ms, char *msg, size_t msglen)
{
    int64_t gen = kj_int(ds, "metadata.generation", 0);
    int64_t observed = kj_int(ds, "status.observedGeneration", 0);
    if (gen > observed) {
        snprintf(msg, msglen, "waiting for rollout to finish: observed daemonset generation less "
                              "than desired generation");
        return CD_RETRY;
    }
    int64_t desired = kj_int(ds, "status.desiredNumberScheduled", 0);
    int64_t updated = kj_int(ds, "status.updatedNumberScheduled", 0);
    int64_t available = kj_int(ds, "status.numberAvailable", 0);
    bool not_updated = updated < desired;
    bool not_available = available < threshold_of(desired, threshold_pct);
    if (!not_updated && !not_available) {
        if (msglen)
            msg[0] = '\0';
        return CD_OK;
    }
    /* an unknown transition time (0) cannot be past any deadline */
    if (last_transition_ms > 0 && past_deadline(last_transition_ms, deadline_s, now_ms)) {
        snprintf(msg, msglen, "exceeded its progressDeadlineSeconds: %d", deadline_s);
        return CD_FATAL;
    }
    if (not_updated)
        snprintf(msg, msglen, "waiting for rollout to finish: %lld out of %lld new pods have been updated",
                 (long long)updated, (long long)desired);
    else
        snprintf(msg, msglen, "waiting for rollout to finish: %lld of %lld updated pods are available",
                 (long long)available, (long long)desired);
    return CD_RETRY;
}
