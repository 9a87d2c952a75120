/* ratelimit.h - a token bucket: qps tokens per second, at most burst
 * saved, as client-go's flowcontrol limiter that Flagger configures with
 * -kubeconfig-qps and -kubeconfig-burst. The reservation logic is pure
 * (time passed in); cd_ratelimit_wait sleeps and is thread-safe. */
#ifndef CD_KUBE_RATELIMIT_H
#define CD_KUBE_RATELIMIT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cd_ratelimit {
    double qps;                 /* <= 0: unlimited */
    double burst;
    double tokens;
    int64_t last_ns;            /* monotonic time tokens were last added */
    pthread_mutex_t mu;
    uint64_t waited_ns;         /* total time callers waited (stats) */
    uint64_t throttled;         /* calls that had to wait */
} cd_ratelimit;

void cd_ratelimit_init(cd_ratelimit *r, double qps, int burst);
void cd_ratelimit_destroy(cd_ratelimit *r);
/* Takes one token at now_ns and returns how long (ns) the caller must wait
 * before using it (0: go now). Pure apart from the bucket's state. */
int64_t cd_ratelimit_reserve(cd_ratelimit *r, int64_t now_ns);
/* Reserves then sleeps, polling *cancel (may be NULL) every 50 ms.
 * Returns false when cancelled. */
bool cd_ratelimit_wait(cd_ratelimit *r, const atomic_bool *cancel);

#endif
