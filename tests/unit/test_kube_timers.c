/* test_kube_timers.c - the `canaryd kube` scheduler's timer heap
 * (src/kube/operator/timers.c): entries come out earliest first, a changed
 * schedule moves an entry, an unscheduled or deleted one leaves, and the
 * heap agrees with a plain scan after thousands of random changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kube/operator/operator.h"

static void init(cdk_entry *e, int64_t next, int64_t interval)
{
    memset(e, 0, sizeof *e);
    e->heap_i = CDK_NOT_TIMED;
    e->stored = interval > 0;
    e->interval_ms = interval;
    e->next_ms = next;
}

static void test_due(void **state)
{
    (void)state;
    cdk_entry e;
    init(&e, 500, 1000);
    assert_int_equal(cdk_entry_due(&e), 500);
    e.sync_at_ms = 200;
    assert_int_equal(cdk_entry_due(&e), 200);
    e.stored = false;
    assert_int_equal(cdk_entry_due(&e), 200);
    e.sync_at_ms = 0;
    assert_true(cdk_entry_due(&e) == INT64_MAX);
    e.stored = true;
    e.deleted = true;
    assert_true(cdk_entry_due(&e) == INT64_MAX);
}

static void test_order_and_changes(void **state)
{
    (void)state;
    cdk_timers t = {0};
    cdk_entry e[5];
    int64_t next[5] = {300, 100, 500, 200, 400};
    for (int i = 0; i < 5; i++) {
        init(&e[i], next[i], 1000);
        cdk_timers_fix(&t, &e[i]);
    }
    assert_ptr_equal(cdk_timers_top(&t), &e[1]);
    e[2].next_ms = 50;                  /* rescheduled earlier */
    cdk_timers_fix(&t, &e[2]);
    assert_ptr_equal(cdk_timers_top(&t), &e[2]);
    e[2].stored = false;                /* unscheduled: leaves */
    cdk_timers_fix(&t, &e[2]);
    assert_int_equal(t.n, 4);
    assert_true(e[2].heap_i == CDK_NOT_TIMED);
    cdk_timers_remove(&t, &e[1]);       /* deleted */
    cdk_timers_remove(&t, &e[1]);       /* twice: no harm */
    assert_int_equal(t.n, 3);
    int64_t want[] = {200, 300, 400};
    for (int i = 0; i < 3; i++) {
        cdk_entry *top = cdk_timers_top(&t);
        assert_int_equal(top->due_ms, want[i]);
        top->next_ms += 1000;           /* ticked: due a period later */
        cdk_timers_fix(&t, top);
    }
    assert_int_equal(cdk_timers_top(&t)->due_ms, 1200);
    cdk_timers_free(&t);
}

static void test_random_against_scan(void **state)
{
    (void)state;
    enum { N = 2000 };
    cdk_entry *e = calloc(N, sizeof *e);
    cdk_timers t = {0};
    srand(7);
    for (int i = 0; i < N; i++)
        init(&e[i], rand() % 100000, 1 + rand() % 60000);
    for (int i = 0; i < N; i++)
        cdk_timers_fix(&t, &e[i]);
    for (int round = 0; round < 20000; round++) {
        cdk_entry *x = &e[rand() % N];
        switch (rand() % 4) {
        case 0: x->next_ms = rand() % 100000; x->stored = true; x->interval_ms = 1000; break;
        case 1: x->sync_at_ms = x->sync_at_ms ? 0 : rand() % 100000; break;
        case 2: x->stored = false; break;
        default: cdk_timers_remove(&t, x); x->stored = false; x->sync_at_ms = 0; break;
        }
        cdk_timers_fix(&t, x);
        if (round % 1000 == 0) {
            int64_t min = INT64_MAX;
            size_t timed = 0;
            for (int i = 0; i < N; i++) {
                int64_t d = cdk_entry_due(&e[i]);
                if (d != INT64_MAX) {
                    timed++;
                    assert_true(e[i].heap_i != CDK_NOT_TIMED && t.v[e[i].heap_i] == &e[i]);
                }
                if (d < min)
                    min = d;
            }
            assert_int_equal(t.n, timed);
            if (timed)
                assert_int_equal(cdk_timers_top(&t)->due_ms, min);
        }
    }
    cdk_timers_free(&t);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due),
        cmocka_unit_test(test_order_and_changes),
        cmocka_unit_test(test_random_against_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
