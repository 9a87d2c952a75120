/* test_util_grow.c - src/util/grow.c: cd_grow / CD_GROW keep what the array
 * held, start at the given first capacity, double, jump straight past a
 * large need, leave the array alone for need 0 or need <= cap, and abort
 * (checked in a child process) when need * elem does not fit in size_t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/grow.h"

static void test_growth(void **state)
{
    (void)state;
    int *a = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        size_t before = cap;
        CD_GROW(a, cap, n + 1, 8);
        assert_non_null(a);
        assert_true(cap >= n + 1);
        if (before == 0)
            assert_int_equal(cap, 8);                   /* first */
        else if (n < before)
            assert_int_equal(cap, before);              /* room: untouched */
        else
            assert_int_equal(cap, before * 2);          /* doubled */
        a[n++] = i;
    }
    assert_int_equal(cap, 1024);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(a[i], i);                      /* contents kept */
    /* a need far past the capacity: doubled until it holds */
    CD_GROW(a, cap, 5000, 8);
    assert_int_equal(cap, 8192);
    assert_int_equal(a[999], 999);
    free(a);
}

static void test_zero_and_no_growth(void **state)
{
    (void)state;
    char *p = NULL;
    size_t cap = 0;
    CD_GROW(p, cap, 0, 16);                             /* need 0: nothing */
    assert_null(p);
    assert_int_equal(cap, 0);
    CD_GROW(p, cap, 1, 0);                              /* first 0 counts as 1 */
    assert_non_null(p);
    assert_int_equal(cap, 1);
    char *same = p;
    CD_GROW(p, cap, 1, 0);
    assert_ptr_equal(p, same);
    assert_int_equal(cap, 1);
    free(p);
}

/* Runs cd_grow with need * elem past SIZE_MAX in a child: it must abort
 * rather than allocate a wrapped-around size. */
static int child_status(size_t need, size_t elem, size_t cap0)
{
    pid_t pid = fork();
    if (pid == 0) {
        size_t cap = cap0;
        void *p = cap0 ? malloc(cap0 * elem) : NULL;
        p = cd_grow(p, &cap, need, elem, 4);
        _exit(p && cap >= need ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void test_overflow_aborts(void **state)
{
    (void)state;
    int st = child_status(SIZE_MAX / 8 + 1, 8, 0);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    st = child_status(SIZE_MAX, 2, 4);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    /* a plain size in the child grows and exits 0 (the harness works) */
    st = child_status(100, 8, 4);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Near the top of size_t, doubling stops at need instead of wrapping. */
static void test_doubling_does_not_wrap(void **state)
{
    (void)state;
    size_t cap = SIZE_MAX / 2 + 1;
    /* cap * 2 would wrap to 0: the helper must pick need, and then the
     * allocation (SIZE_MAX bytes) fails and it aborts; so check the
     * arithmetic without allocating, through a child again */
    pid_t pid = fork();
    if (pid == 0) {
        void *p = cd_grow(NULL, &cap, SIZE_MAX, 1, 4);
        _exit(p ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    /* ended (a wrapped capacity of 0 would double forever), without
     * success: abort here, or ASan's own refusal of the size under it */
    assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_zero_and_no_growth),
        cmocka_unit_test(test_overflow_aborts),
        cmocka_unit_test(test_doubling_does_not_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
