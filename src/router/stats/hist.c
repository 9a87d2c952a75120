/* hist.c - see hist.h. */
#include "router/stats/hist.h"
#include <math.h>

const double rt_envoy_bounds_ms[RT_ENVOY_NB] = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
    300000, 600000, 1800000, 3600000,
};

const double rt_sec_bounds[RT_SEC_NB] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void rt_lh_bounds(uint32_t i, uint64_t *lo, uint64_t *hi)
{
    if (i < RT_LH_SUB) {
        *lo = *hi = i;
        return;
    }
    uint32_t k = i - RT_LH_SUB;
    uint32_t shift = k / RT_LH_SUB;
    uint64_t sub = k % RT_LH_SUB;
    *lo = (RT_LH_SUB + sub) << shift;
    *hi = ((RT_LH_SUB + sub + 1) << shift) - 1;
}

double rt_lh_value(uint32_t i)
{
    uint64_t lo, hi;
    rt_lh_bounds(i, &lo, &hi);
    return ((double)lo + (double)hi) / 2.0;
}

double rt_lh_quantile(const uint64_t *counts, uint64_t total, double q, uint32_t max_us)
{
    if (total == 0)
        return -1;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank == 0)
        rank = 1;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < RT_LH_N; i++) {
        cum += counts[i];
        if (cum >= rank) {
            double v = rt_lh_value(i);
            if (max_us > 0 && v > max_us)
                v = max_us;
            return v;
        }
    }
    return max_us > 0 ? max_us : rt_lh_value(RT_LH_N - 1);
}

uint32_t rt_envoy_bucket(uint32_t us)
{
    double ms = us / 1000.0;
    uint32_t i = 0;
    while (i < RT_ENVOY_NB && ms > rt_envoy_bounds_ms[i])
        i++;
    return i;
}

uint32_t rt_sec_bucket(uint32_t us)
{
    double s = us / 1e6;
    uint32_t i = 0;
    while (i < RT_SEC_NB && s > rt_sec_bounds[i])
        i++;
    return i;
}

void rt_codes_add(rt_codes *c, unsigned code)
{
    if (code < 100 || code > 599) {
        rt_ctr_add(&c->other[0], 1);
        return;
    }
    unsigned h = (code * 7u) % RT_CODES_SLOTS;
    for (unsigned k = 0; k < RT_CODES_SLOTS; k++) {
        unsigned i = (h + k) % RT_CODES_SLOTS;
        uint16_t cur = __atomic_load_n(&c->code[i], __ATOMIC_RELAXED);
        if (cur == code) {
            rt_ctr_add(&c->n[i], 1);
            return;
        }
        if (cur == 0) {
            rt_ctr_add(&c->n[i], 1);
            __atomic_store_n(&c->code[i], (uint16_t)code, __ATOMIC_RELEASE);
            return;
        }
    }
    rt_ctr_add(&c->other[code / 100], 1);
}

void rt_codes_merge(rt_codes *dst, const rt_codes *src)
{
    for (unsigned i = 0; i < RT_CODES_SLOTS; i++) {
        uint16_t code = __atomic_load_n(&src->code[i], __ATOMIC_ACQUIRE);
        if (!code)
            continue;
        uint64_t n = rt_ctr_get(&src->n[i]);
        unsigned h = (code * 7u) % RT_CODES_SLOTS, k;
        for (k = 0; k < RT_CODES_SLOTS; k++) {
            unsigned j = (h + k) % RT_CODES_SLOTS;
            if (dst->code[j] == code || dst->code[j] == 0) {
                dst->code[j] = code;
                dst->n[j] += n;
                break;
            }
        }
        if (k == RT_CODES_SLOTS)
            dst->other[code / 100] += n;
    }
    for (unsigned i = 0; i < 6; i++)
        dst->other[i] += rt_ctr_get(&src->other[i]);
}
