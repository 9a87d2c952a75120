/* cmocka_select.c - lets one run a single cmocka case of any unit test:
 * CMOCKA_TEST_FILTER=test_name_glob (and CMOCKA_SKIP_FILTER=glob) in the
 * environment are handed to cmocka before main() runs, so every test file
 * gets case selection without code of its own (docs/testing.md).
 * Linked into every tests/unit executable; it must not do anything else. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

__attribute__((constructor)) static void select_cases_from_env(void)
{
    const char *only = getenv("CMOCKA_TEST_FILTER");
    const char *skip = getenv("CMOCKA_SKIP_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
    if (skip && *skip)
        cmocka_set_skip_filter(skip);
}
