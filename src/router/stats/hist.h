/* hist.h - latency histograms, pure functions on plain arrays:
 *  - a log-linear histogram of microseconds (16 buckets per power of two,
 *    so a quantile read from it is within 3.2% of the true value), used by
 *    the per-second measurement windows;
 *  - the fixed bucket bounds of the Prometheus series: Envoy's
 *    upstream_rq_time buckets in milliseconds and a seconds ladder for
 *    canaryd's own series;
 *  - per-status-code counters in a small fixed table.
 * No allocation, no I/O, no locks. */
#ifndef CD_ROUTER_HIST_H
#define CD_ROUTER_HIST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_LH_SUB_BITS 4
#define RT_LH_SUB      (1u << RT_LH_SUB_BITS)             /* 16 */
#define RT_LH_N        (RT_LH_SUB + (32 - RT_LH_SUB_BITS) * RT_LH_SUB)  /* 464 */

/* Bucket of a latency in microseconds. */
static inline uint32_t rt_lh_index(uint32_t us)
{
    if (us < RT_LH_SUB)
        return us;
    uint32_t e = 31u - (uint32_t)__builtin_clz(us);        /* >= 4 */
    uint32_t shift = e - RT_LH_SUB_BITS;
    uint32_t sub = (us >> shift) & (RT_LH_SUB - 1);
    return RT_LH_SUB + (e - RT_LH_SUB_BITS) * RT_LH_SUB + sub;
}
/* Smallest and largest microsecond values of bucket i. */
void rt_lh_bounds(uint32_t i, uint64_t *lo, uint64_t *hi);
/* Representative value of bucket i (its midpoint), microseconds. */
double rt_lh_value(uint32_t i);
/* Nearest-rank quantile q in [0,1] of a dense histogram of RT_LH_N
 * counts holding total samples; returns microseconds, or -1 if empty.
 * The result is clamped to max_us when max_us > 0. */
double rt_lh_quantile(const uint64_t *counts, uint64_t total, double q, uint32_t max_us);

/* Envoy's default histogram buckets (upper bounds, milliseconds). */
#define RT_ENVOY_NB 19
extern const double rt_envoy_bounds_ms[RT_ENVOY_NB];
/* Bucket (0..RT_ENVOY_NB, the last is +Inf) of a latency. */
uint32_t rt_envoy_bucket(uint32_t us);

/* canaryd's own request-duration buckets (upper bounds, seconds). */
#define RT_SEC_NB 14
extern const double rt_sec_bounds[RT_SEC_NB];
uint32_t rt_sec_bucket(uint32_t us);

/* Counts per HTTP status code: a 16-slot table; codes that do not fit
 * are counted per class ("other[code/100]"). Single writer. */
#define RT_CODES_SLOTS 16
typedef struct rt_codes {
    uint16_t code[RT_CODES_SLOTS];
    uint64_t n[RT_CODES_SLOTS];
    uint64_t other[6];
} rt_codes;

void rt_codes_add(rt_codes *c, unsigned code);
/* Adds src into dst (both read with relaxed loads). */
void rt_codes_merge(rt_codes *dst, const rt_codes *src);

/* Relaxed single-writer counters readable from other threads. */
static inline void rt_ctr_add(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
static inline uint64_t rt_ctr_get(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void rt_gauge_add(int64_t *p, int64_t v)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
static inline int64_t rt_gauge_get(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

#endif
