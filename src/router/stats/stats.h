/* stats.h - the router's long-lived measurement objects and the registry
 * that owns them:
 *  - rt_endpoint: one backend address (health state and, per worker, the
 *    pool of idle upstream connections);
 *  - rt_bstats: counters of one backend of one route group (requests by
 *    status code, Envoy latency histogram, bytes, retries, timeouts);
 *  - rt_gstats: counters of one route group (primary, canary, mirror) and
 *    its windowed measurements.
 * They outlive configuration snapshots: a snapshot holds references, so a
 * weight change keeps every counter. Counters are sharded per worker
 * (one writer each, relaxed atomics); readers sum the shards. Objects no
 * longer referenced by any snapshot stay visible for a retention period
 * and are then freed by rt_registry_gc (control thread). */
#ifndef CD_ROUTER_STATS_H
#define CD_ROUTER_STATS_H
#include "router/io/addr.h"
#include "router/stats/hist.h"
#include "router/stats/window.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define RT_MAX_WORKERS 64

struct rt_upconn;

typedef struct rt_ep_shard {
    struct rt_upconn *idle;         /* idle pooled connections (LIFO) */
    uint32_t nidle;
    int64_t cx_active;              /* open upstream connections */
    uint64_t cx_total;
    uint64_t cx_connect_fail;
} __attribute__((aligned(64))) rt_ep_shard;

typedef struct rt_endpoint {
    atomic_int refs;                /* registry + snapshots + connections */
    char *name;                     /* address text as configured */
    rt_addr addr;
    _Atomic uint64_t gen;           /* newest snapshot version using it */
    /* passive health (outlier ejection) */
    atomic_uint consec_fail;
    _Atomic int64_t ejected_until;  /* monotonic ms */
    atomic_uint ejections;
    /* active health checks: 1 healthy, 0 unhealthy */
    atomic_int check_ok;
    int check_streak;               /* control thread only */
    int64_t retired_since;
    rt_ep_shard shards[];
} rt_endpoint;

typedef struct rt_bstats_shard {
    rt_codes codes;
    uint64_t hist[RT_ENVOY_NB + 1];
    uint64_t sum_us;
    uint64_t rq_total;
    uint64_t bytes_rx, bytes_tx;    /* from / to the backend */
    uint64_t retries, timeouts, resets, connect_fail;
    int64_t rq_active;
} __attribute__((aligned(64))) rt_bstats_shard;

typedef struct rt_bstats {
    atomic_int refs;
    char *key;
    char *route, *group, *backend, *pod, *ns;
    char *labels;                   /* Prometheus label pairs, no braces */
    rt_endpoint *ep;
    int64_t retired_since;
    rt_bstats_shard shards[];
} rt_bstats;

typedef struct rt_gstats_shard {
    rt_codes codes;
    uint64_t hist[RT_SEC_NB + 1];
    uint64_t sum_us;
    uint64_t rq_total;
    uint64_t no_backend;            /* 503: nothing healthy to send to */
    int64_t rq_active;
    rt_win_acc acc;
} __attribute__((aligned(64))) rt_gstats_shard;

typedef struct rt_gstats {
    atomic_int refs;
    char *key;
    char *route, *group;
    int64_t retired_since;
    rt_window win;
    rt_gstats_shard shards[];
} rt_gstats;

/* --window and --samples of `canaryd router`: written here only. */
#define RT_WINDOW_DEFAULT_S 900
#define RT_SAMPLES_DEFAULT 8192

/* Once, before any worker starts: window_seconds of complete seconds are
 * kept for windowed measurements, reservoir latency samples per group. */
void rt_stats_setup(int nworkers, uint32_t window_seconds, uint32_t reservoir);
/* Seconds of per-second measurements each group keeps (--window). */
uint32_t rt_stats_window_seconds(void);

/* Get-or-create, each returning a new reference. Control thread. */
rt_endpoint *rt_endpoint_get(const char *name, const rt_addr *a);
rt_bstats *rt_bstats_get(const char *route, const char *group, const char *backend,
                         const char *ns, const char *pod, const char *labels, rt_endpoint *ep);
rt_gstats *rt_gstats_get(const char *route, const char *group);
static inline void rt_endpoint_retain(rt_endpoint *e) { atomic_fetch_add(&e->refs, 1); }
void rt_endpoint_release(rt_endpoint *e);
void rt_bstats_release(rt_bstats *b);
void rt_gstats_release(rt_gstats *g);

/* Frees objects only the registry references, retired for longer than
 * retention_ms (endpoints at once). Control thread. */
void rt_registry_gc(int64_t now_ms, int64_t retention_ms);
/* Frees everything (process exit). */
void rt_registry_shutdown(void);

/* Iteration for output, under the registry lock (callbacks must not call
 * back into the registry). */
void rt_registry_each_bstats(void (*fn)(void *ctx, rt_bstats *b), void *ctx);
void rt_registry_each_gstats(void (*fn)(void *ctx, rt_gstats *g), void *ctx);
rt_gstats *rt_registry_find_gstats(const char *route, const char *group);   /* new ref or NULL */

/* Sums of all shards. */
typedef struct rt_bstats_sum {
    rt_codes codes;
    uint64_t hist[RT_ENVOY_NB + 1];
    uint64_t sum_us, rq_total, bytes_rx, bytes_tx, retries, timeouts, resets, connect_fail;
    int64_t rq_active;
} rt_bstats_sum;
typedef struct rt_gstats_sum {
    rt_codes codes;
    uint64_t hist[RT_SEC_NB + 1];
    uint64_t sum_us, rq_total, no_backend;
    int64_t rq_active;
} rt_gstats_sum;
typedef struct rt_ep_sum { int64_t cx_active; uint64_t cx_total, cx_connect_fail, idle; } rt_ep_sum;

void rt_bstats_sum_of(const rt_bstats *b, rt_bstats_sum *out);
void rt_gstats_sum_of(const rt_gstats *g, rt_gstats_sum *out);
void rt_endpoint_sum_of(const rt_endpoint *e, rt_ep_sum *out);

/* Worker side, per completed request or attempt. */
void rt_bstats_record(rt_bstats *b, int worker, unsigned status, uint32_t latency_us);
/* Records into the cumulative counters and the window accumulator;
 * returns true if the worker must add g to its flush list (first record
 * since the last flush). */
bool rt_gstats_record(rt_gstats *g, int worker, unsigned status, uint32_t latency_us,
                      int64_t wall_ms);
/* Merges a worker's accumulator into the window. */
void rt_gstats_flush(rt_gstats *g, int worker);

/* Passive health: a failed/successful connection to the endpoint. */
void rt_endpoint_failure(rt_endpoint *e, int64_t now_ms, unsigned threshold, int64_t eject_ms);
void rt_endpoint_success(rt_endpoint *e);
bool rt_endpoint_available(const rt_endpoint *e, int64_t now_ms);

#endif
