/* ratelimit.c - see ratelimit.h. */
#include "kube/ratelimit.h"
#include "util/timeutil.h"
#include <time.h>

void cd_ratelimit_init(cd_ratelimit *r, double qps, int burst)
{
    r->qps = qps;
    r->burst = burst > 0 ? burst : 1;
    r->tokens = r->burst;
    r->last_ns = cd_mono_ns();
    r->waited_ns = 0;
    r->throttled = 0;
    pthread_mutex_init(&r->mu, NULL);
}

void cd_ratelimit_destroy(cd_ratelimit *r) { pthread_mutex_destroy(&r->mu); }

int64_t cd_ratelimit_reserve(cd_ratelimit *r, int64_t now_ns)
{
    if (r->qps <= 0)
        return 0;
    if (now_ns > r->last_ns) {
        r->tokens += (double)(now_ns - r->last_ns) * r->qps / 1e9;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->last_ns = now_ns;
    }
    r->tokens -= 1.0;       /* may go negative: the debt of the callers waiting */
    if (r->tokens >= 0)
        return 0;
    return (int64_t)(-r->tokens / r->qps * 1e9);
}

bool cd_ratelimit_wait(cd_ratelimit *r, const atomic_bool *cancel)
{
    pthread_mutex_lock(&r->mu);
    int64_t wait = cd_ratelimit_reserve(r, cd_mono_ns());
    if (wait > 0) {
        r->throttled++;
        r->waited_ns += (uint64_t)wait;
    }
    pthread_mutex_unlock(&r->mu);
    int64_t until = cd_mono_ns() + wait;
    while (wait > 0) {
        if (cancel && atomic_load(cancel))
            return false;
        int64_t step = wait > 50000000 ? 50000000 : wait;
        struct timespec ts = {0, step};
        nanosleep(&ts, NULL);
        wait = until - cd_mono_ns();
    }
    return !(cancel && atomic_load(cancel));
}
