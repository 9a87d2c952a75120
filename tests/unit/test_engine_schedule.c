/* test_engine_schedule.c - the scheduler both platforms share
 * (src/engine/schedule.c) on a virtual clock: due times come out earliest
 * first, each policy re-arms as its platform did (kube: a fixed period,
 * missed ticks dropped; local: from the tick's start, 1 s after a retry),
 * one tick in flight per canary, the platform's own timer, namespace
 * totals and shared targets, the heap against a plain scan after
 * thousands of random changes, and 10,000 canaries over a virtual hour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/schedule.h"

static const cd_sched_policy KUBE = {CD_SCHED_FIXED_PERIOD, 0};
static const cd_sched_policy LOCAL = {CD_SCHED_FROM_START, 1000};

static void test_order_and_changes(void **state)
{
    (void)state;
    cd_sched s;
    cd_sched_init(&s, KUBE);
    cd_sched_job j[5];
    int64_t first[5] = {300, 100, 500, 200, 400};
    for (int i = 0; i < 5; i++) {
        cd_sched_job_init(&j[i]);
        assert_false(cd_sched_arm(&s, &j[i], "ns", 1000, first[i]));
    }
    assert_int_equal(cd_sched_next_due(&s), 100);
    assert_true(cd_sched_arm(&s, &j[2], "ns", 2000, 50));   /* a new period: restarted */
    assert_false(cd_sched_arm(&s, &j[2], "ns", 2000, 7));   /* same period: unchanged */
    assert_int_equal(cd_sched_next_due(&s), 50);
    cd_sched_disarm(&s, &j[2]);                          /* unscheduled: leaves */
    assert_int_equal(s.n, 4);
    assert_true(j[2].heap_i == CD_SCHED_NOT_TIMED);
    cd_sched_forget(&s, &j[1]);
    cd_sched_forget(&s, &j[1]);                          /* twice: no harm */
    assert_int_equal(s.n, 3);
    assert_int_equal(cd_sched_ns_total(&s, "ns"), 3);
    int64_t want[] = {200, 300, 400};
    unsigned what;
    for (int i = 0; i < 3; i++) {
        assert_null(cd_sched_pop(&s, want[i] - 1, &what));
        cd_sched_job *top = cd_sched_pop(&s, want[i], &what);
        assert_non_null(top);
        assert_int_equal(what, CD_SCHED_TICK);
        assert_int_equal(top->next_ms, want[i] + 1000);
    }
    assert_int_equal(cd_sched_next_due(&s), 1200);
    cd_sched_free(&s);
}

static void test_fixed_period(void **state)
{
    (void)state;
    cd_sched s;
    cd_sched_init(&s, KUBE);
    cd_sched_job j;
    cd_sched_job_init(&j);
    cd_sched_arm(&s, &j, "ns", 1000, 0);
    unsigned what;
    assert_ptr_equal(cd_sched_pop(&s, 0, &what), &j);
    assert_int_equal(j.next_ms, 1000);
    assert_null(cd_sched_pop(&s, 999, &what));
    assert_ptr_equal(cd_sched_pop(&s, 1040, &what), &j);   /* late: keeps the period */
    assert_int_equal(j.next_ms, 2000);
    assert_ptr_equal(cd_sched_pop(&s, 4500, &what), &j);   /* missed ticks are dropped */
    assert_int_equal(j.next_ms, 5500);
    assert_false(j.in_flight);                             /* the platform coalesces */
    cd_sched_free(&s);
}

static void test_from_start(void **state)
{
    (void)state;
    cd_sched s;
    cd_sched_init(&s, LOCAL);
    cd_sched_job j;
    cd_sched_job_init(&j);
    cd_sched_arm(&s, &j, "ns", 60000, 0);
    unsigned what;
    assert_ptr_equal(cd_sched_pop(&s, 10, &what), &j);
    assert_true(j.in_flight);
    assert_null(cd_sched_pop(&s, 120000, &what));          /* one tick in flight */
    cd_sched_kick(&s, &j);                                 /* kicked while in flight */
    assert_null(cd_sched_pop(&s, 120000, &what));
    cd_sched_done(&s, &j, 15, false);
    assert_int_equal(j.next_ms, 60015);
    assert_ptr_equal(cd_sched_pop(&s, 200, &what), &j);   /* ...ticks right after */
    cd_sched_done(&s, &j, 200, true);                      /* a retry: 1 s after its start */
    assert_int_equal(cd_sched_next_due(&s), 1200);
    assert_ptr_equal(cd_sched_pop(&s, 1200, &what), &j);
    cd_sched_defer(&s, &j, 5000);                          /* nothing ran: later */
    assert_false(j.in_flight);
    assert_int_equal(cd_sched_next_due(&s), 5000);
    cd_sched_defer(&s, &j, INT64_MAX);                     /* parked until kicked */
    assert_int_equal(s.n, 0);
    cd_sched_kick(&s, &j);
    assert_ptr_equal(cd_sched_pop(&s, 5, &what), &j);
    cd_sched_done(&s, &j, 5, true);
    cd_sched_arm(&s, &j, "ns", 500, 0);
    cd_sched_pop(&s, 500, &what);
    cd_sched_done(&s, &j, 500, true);                      /* a retry never lengthens */
    assert_int_equal(j.next_ms, 1000);
    cd_sched_free(&s);
}

static void test_aux_timer(void **state)
{
    (void)state;
    cd_sched s;
    cd_sched_init(&s, KUBE);
    cd_sched_job j;
    cd_sched_job_init(&j);
    unsigned what;
    cd_sched_set_aux(&s, &j, 200);                         /* a sync retry, not stored yet */
    assert_int_equal(cd_sched_next_due(&s), 200);
    assert_ptr_equal(cd_sched_pop(&s, 200, &what), &j);
    assert_int_equal(what, CD_SCHED_AUX);
    assert_int_equal(s.n, 0);
    cd_sched_arm(&s, &j, "ns", 1000, 500);
    cd_sched_set_aux(&s, &j, 300);
    assert_int_equal(cd_sched_next_due(&s), 300);
    cd_sched_set_aux(&s, &j, 500);
    assert_ptr_equal(cd_sched_pop(&s, 600, &what), &j);
    assert_int_equal(what, CD_SCHED_TICK | CD_SCHED_AUX);
    cd_sched_set_aux(&s, &j, 700);
    cd_sched_disarm(&s, &j);                               /* its own timer stays */
    assert_int_equal(cd_sched_next_due(&s), 700);
    cd_sched_forget(&s, &j);
    assert_int_equal(s.n, 0);
    cd_sched_free(&s);
}

static void count_shared(void *ud, const char *target, int n)
{
    char *out = ud;
    snprintf(out + strlen(out), 200 - strlen(out), "%s=%d;", target, n);
}

static void test_totals_and_targets(void **state)
{
    (void)state;
    cd_sched s;
    cd_sched_init(&s, KUBE);
    cd_sched_job j[4];
    for (int i = 0; i < 4; i++)
        cd_sched_job_init(&j[i]);
    assert_int_equal(cd_sched_set_target(&s, &j[0], "web.a"), 0);   /* not armed yet */
    cd_sched_arm(&s, &j[0], "a", 1000, 0);
    assert_int_equal(cd_sched_set_target(&s, &j[0], "web.a"), 1);
    cd_sched_arm(&s, &j[1], "a", 1000, 0);
    assert_int_equal(cd_sched_set_target(&s, &j[1], "web.a"), 2);   /* shared */
    cd_sched_arm(&s, &j[2], "b", 1000, 0);
    cd_sched_set_target(&s, &j[2], "api.b");
    cd_sched_set_target(&s, &j[3], "api.b");                      /* never armed: not counted */
    assert_int_equal(cd_sched_ns_total(&s, "a"), 2);
    assert_int_equal(cd_sched_ns_total(&s, "b"), 1);
    assert_int_equal(cd_sched_ns_total(&s, "c"), 0);
    char out[200] = "";
    cd_sched_each_shared(&s, count_shared, out);
    assert_string_equal(out, "web.a=2;");
    assert_int_equal(cd_sched_set_target(&s, &j[1], "web2.a"), 1);  /* retargeted */
    out[0] = '\0';
    cd_sched_each_shared(&s, count_shared, out);
    assert_string_equal(out, "");
    cd_sched_disarm(&s, &j[0]);
    cd_sched_forget(&s, &j[2]);
    assert_int_equal(cd_sched_ns_total(&s, "a"), 1);
    assert_int_equal(cd_sched_ns_total(&s, "b"), 0);
    cd_sched_free(&s);
}

static void test_random_against_scan(void **state)
{
    (void)state;
    enum { N = 2000 };
    cd_sched_job *j = calloc(N, sizeof *j);
    cd_sched s;
    cd_sched_init(&s, KUBE);
    srand(7);
    for (int i = 0; i < N; i++) {
        cd_sched_job_init(&j[i]);
        cd_sched_arm(&s, &j[i], i % 2 ? "odd" : "even", 1 + rand() % 60000, rand() % 100000);
    }
    for (int round = 0; round < 20000; round++) {
        int i = rand() % N;
        cd_sched_job *x = &j[i];
        switch (rand() % 4) {
        case 0: cd_sched_arm(&s, x, i % 2 ? "odd" : "even", 1000 + rand() % 3, rand() % 100000); break;
        case 1: cd_sched_set_aux(&s, x, x->aux_ms ? 0 : rand() % 100000); break;
        case 2: cd_sched_disarm(&s, x); break;
        default: cd_sched_forget(&s, x); break;
        }
        if (round % 1000 == 0) {
            int64_t min = INT64_MAX;
            size_t timed = 0;
            int odd = 0;
            for (int k = 0; k < N; k++) {
                int64_t d = j[k].armed && j[k].interval_ms > 0 ? j[k].next_ms : INT64_MAX;
                if (j[k].aux_ms && j[k].aux_ms < d)
                    d = j[k].aux_ms;
                if (d != INT64_MAX) {
                    timed++;
                    assert_true(j[k].heap_i != CD_SCHED_NOT_TIMED && s.v[j[k].heap_i] == &j[k]);
                }
                if (d < min)
                    min = d;
                odd += k % 2 && j[k].armed;
            }
            assert_int_equal(s.n, timed);
            assert_int_equal(cd_sched_next_due(&s), min);
            assert_int_equal(cd_sched_ns_total(&s, "odd"), odd);
        }
    }
    cd_sched_free(&s);
    free(j);
}

/* 10,000 canaries in 100 namespaces over a virtual hour, the clock jumping
 * from one due time to the next: every canary ticks exactly as often as
 * its period says under both policies, and never twice at once. */
static void run_hour(cd_sched_policy policy)
{
    enum { N = 10000, NS = 100 };
    const int64_t HOUR = 3600000;
    cd_sched_job *j = calloc(N, sizeof *j);
    int *ticks = calloc(N, sizeof *ticks);
    cd_sched s;
    cd_sched_init(&s, policy);
    char ns[16];
    for (int i = 0; i < N; i++) {
        cd_sched_job_init(&j[i]);
        snprintf(ns, sizeof ns, "ns%d", i % NS);
        cd_sched_arm(&s, &j[i], ns, 10000 + (i % 50) * 1000, 0);
    }
    for (int k = 0; k < NS; k++) {
        snprintf(ns, sizeof ns, "ns%d", k);
        assert_int_equal(cd_sched_ns_total(&s, ns), N / NS);
    }
    for (int64_t now = 0; now < HOUR; now = cd_sched_next_due(&s)) {
        unsigned what;
        for (cd_sched_job *x; (x = cd_sched_pop(&s, now, &what));) {
            assert_int_equal(what, CD_SCHED_TICK);
            ticks[x - j]++;
            if (policy.mode == CD_SCHED_FROM_START) {
                assert_true(x->in_flight);
                assert_true(x->heap_i == CD_SCHED_NOT_TIMED);   /* one tick in flight */
                cd_sched_done(&s, x, now, false);   /* re-armed from its start */
            }
        }
    }
    for (int i = 0; i < N; i++) {
        int64_t period = 10000 + (i % 50) * 1000;
        assert_int_equal(ticks[i], (HOUR - 1) / period + 1);
    }
    cd_sched_free(&s);
    free(ticks);
    free(j);
}

static void test_ten_thousand_kube(void **state)
{
    (void)state;
    run_hour(KUBE);
}

static void test_ten_thousand_local(void **state)
{
    (void)state;
    run_hour(LOCAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_changes),
        cmocka_unit_test(test_fixed_period),
        cmocka_unit_test(test_from_start),
        cmocka_unit_test(test_aux_timer),
        cmocka_unit_test(test_totals_and_targets),
        cmocka_unit_test(test_random_against_scan),
        cmocka_unit_test(test_ten_thousand_kube),
        cmocka_unit_test(test_ten_thousand_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
