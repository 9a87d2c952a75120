/* test_router_stats.c - measurement arithmetic: the log-linear latency
 * histogram (bounds contain their values; quantiles within 3.2% of the
 * exact ones), Envoy and seconds buckets, the status-code table and its
 * overflow, per-second windows (counting exactly the requested seconds,
 * across ring wraparound, merging several workers), and the sample
 * reservoir (most recent first kept, returned in time order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "router/stats/hist.h"
#include "router/stats/stats.h"
#include "router/stats/window.h"

static void test_lh_bounds(void **state)
{
    uint32_t vals[] = {0, 1, 15, 16, 17, 31, 32, 1000, 123456, 4000000000u};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint32_t idx = rt_lh_index(vals[i]);
        uint64_t lo, hi;
        rt_lh_bounds(idx, &lo, &hi);
        assert_true(idx < RT_LH_N);
        assert_true(lo <= vals[i] && vals[i] <= hi);
        assert_true(hi - lo <= lo / 16 + 1);
    }
    for (uint32_t v = 1; v < 100000; v += 7)
        assert_true(rt_lh_index(v) >= rt_lh_index(v - 1));
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void test_lh_quantiles(void **state)
{
    enum { N = 20000 };
    uint32_t *v = malloc(N * sizeof *v);
    uint64_t *h = calloc(RT_LH_N, sizeof *h);
    srand(7);
    uint32_t max = 0;
    for (int i = 0; i < N; i++) {
        double x = exp((rand() / (double)RAND_MAX) * 12.0);    /* 1 us .. 160 ms */
        v[i] = (uint32_t)x + 20;
        h[rt_lh_index(v[i])]++;
        if (v[i] > max)
            max = v[i];
    }
    qsort(v, N, sizeof *v, cmp_u32);
    double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int k = 0; k < 4; k++) {
        double exact = v[(size_t)ceil(qs[k] * N) - 1];
        double got = rt_lh_quantile(h, N, qs[k], max);
        assert_true(fabs(got - exact) / exact <= 0.032);
    }
    assert_true(rt_lh_quantile(h, 0, 0.5, 0) < 0);
    assert_true(rt_lh_quantile(h, N, 1.0, max) <= max);
    free(v);
    free(h);
}

static void test_buckets_and_codes(void **state)
{
    assert_int_equal(rt_envoy_bucket(400), 0);      /* 0.4 ms <= 0.5 */
    assert_int_equal(rt_envoy_bucket(500), 0);
    assert_int_equal(rt_envoy_bucket(501), 1);
    assert_int_equal(rt_envoy_bucket(30000), 5);    /* 30 ms -> le 50 */
    assert_int_equal(rt_envoy_bucket(4000000000u), RT_ENVOY_NB);
    assert_int_equal(rt_sec_bucket(2000), 2);       /* 2 ms -> le 0.0025 */
    rt_codes c, sum;
    memset(&c, 0, sizeof c);
    memset(&sum, 0, sizeof sum);
    for (unsigned code = 200; code < 230; code++)
        rt_codes_add(&c, code);
    rt_codes_add(&c, 200);
    rt_codes_add(&c, 999);
    rt_codes_merge(&sum, &c);
    rt_codes_merge(&sum, &c);
    uint64_t total = sum.other[0] + sum.other[2];
    for (int i = 0; i < RT_CODES_SLOTS; i++)
        total += sum.n[i];
    assert_int_equal(total, 2 * 32);
    assert_int_equal(sum.other[0], 2);
    for (int i = 0; i < RT_CODES_SLOTS; i++)
        if (sum.code[i] == 200)
            assert_int_equal(sum.n[i], 4);
}

static void test_windows(void **state)
{
    rt_window w;
    rt_window_init(&w, 10, 5);
    rt_win_acc a[2];
    memset(a, 0, sizeof a);
    int64_t t0 = 1700000000000;
    /* worker 0: 10 requests in each of seconds 0..14; worker 1: 5 errors/second */
    for (int s = 0; s < 15; s++) {
        for (int k = 0; k < 2; k++) {
            int n = k ? 5 : 10;
            for (int i = 0; i < n; i++) {
                int64_t t = t0 + s * 1000 + i;
                if (rt_win_acc_record(&a[k], t, 1000 + s, k ? 503 : 200)) {
                    rt_window_flush(&w, &a[k]);
                    assert_false(rt_win_acc_record(&a[k], t, 1000 + s, k ? 503 : 200));
                }
            }
        }
    }
    rt_window_flush(&w, &a[0]);
    rt_window_flush(&w, &a[1]);
    uint64_t *h = calloc(RT_LH_N, sizeof *h);
    rt_measure m = {.hist = h};
    rt_window_measure(&w, t0 / 1000 + 14, 3, &m);
    assert_int_equal(m.requests, 45);
    assert_int_equal(m.cls[5], 15);
    assert_int_equal(m.max_us, 1014);
    memset(h, 0, RT_LH_N * sizeof *h);
    rt_measure m2 = {.hist = h};
    rt_window_measure(&w, t0 / 1000 + 14, 100, &m2);     /* clamped to the 10 kept */
    assert_int_equal(m2.requests, 150);
    assert_int_equal(m2.from_sec, t0 / 1000 + 5);
    rt_sample *v;
    size_t n = rt_window_samples(&w, 0, 3, &v);
    assert_int_equal(n, 3);
    assert_true(v[0].ts_ms <= v[1].ts_ms && v[1].ts_ms <= v[2].ts_ms);
    assert_true(v[2].ts_ms >= t0 + 14 * 1000);
    free(v);
    n = rt_window_samples(&w, t0 + 100000, 3, &v);
    assert_int_equal(n, 0);
    free(v);
    free(h);
    rt_win_acc_fini(&a[0]);
    rt_win_acc_fini(&a[1]);
    rt_window_fini(&w);
}

static void count_cb(void *ctx, rt_bstats *b) { (*(int *)ctx)++; }

static void test_registry(void **state)
{
    rt_stats_setup(2, 60, 16);
    rt_addr a;
    char err[64];
    assert_true(rt_addr_parse("127.0.0.1:9", &a, err, sizeof err));
    rt_endpoint *e1 = rt_endpoint_get("127.0.0.1:9", &a), *e2 = rt_endpoint_get("127.0.0.1:9", &a);
    assert_ptr_equal(e1, e2);
    rt_bstats *b = rt_bstats_get("r", "canary", "127.0.0.1:9", "ns", "pod", "x=\"1\"", e1);
    rt_bstats *b2 = rt_bstats_get("r", "canary", "127.0.0.1:9", "ns", "pod", "x=\"1\"", e1);
    assert_ptr_equal(b, b2);
    rt_bstats_release(b2);
    rt_bstats_record(b, 0, 200, 100);
    rt_bstats_record(b, 1, 503, 70000);
    rt_bstats_sum sum;
    rt_bstats_sum_of(b, &sum);
    assert_int_equal(sum.rq_total, 2);
    assert_int_equal(sum.hist[0], 1);
    assert_int_equal(sum.sum_us, 70100);
    rt_endpoint_release(e1);
    rt_endpoint_release(e2);
    int count = 0;
    rt_registry_gc(1000, 500);              /* still referenced: kept */
    rt_registry_each_bstats(count_cb, &count);
    assert_int_equal(count, 1);
    rt_bstats_release(b);                   /* retired from now on */
    rt_registry_gc(2000, 500);
    rt_registry_gc(2400, 500);
    count = 0;
    rt_registry_each_bstats(count_cb, &count);
    assert_int_equal(count, 1);             /* within the retention */
    rt_registry_gc(2600, 500);
    count = 0;
    rt_registry_each_bstats(count_cb, &count);
    assert_int_equal(count, 0);
    rt_registry_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lh_bounds), cmocka_unit_test(test_lh_quantiles),
        cmocka_unit_test(test_buckets_and_codes), cmocka_unit_test(test_windows),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
