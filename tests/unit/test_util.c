/* test_util.c - durations, hashes, RFC 3339, buffers and arenas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "util/arena.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/hash.h"
#include "util/timeutil.h"

static void test_duration_parse(void **state)
{
    int64_t ms;
    assert_true(cd_duration_parse_ms("1m", &ms));
    assert_int_equal(ms, 60000);
    assert_true(cd_duration_parse_ms("1m30s", &ms));
    assert_int_equal(ms, 90000);
    assert_true(cd_duration_parse_ms("250ms", &ms));
    assert_int_equal(ms, 250);
    assert_true(cd_duration_parse_ms("1.5h", &ms));
    assert_int_equal(ms, 5400000);
    assert_true(cd_duration_parse_ms("0", &ms));
    assert_int_equal(ms, 0);
    assert_true(cd_duration_parse_ms("-2s", &ms));
    assert_int_equal(ms, -2000);
    assert_false(cd_duration_parse_ms("", &ms));
    assert_false(cd_duration_parse_ms("10", &ms));      /* no unit */
    assert_false(cd_duration_parse_ms("10mx", &ms));
    assert_false(cd_duration_parse_ms("1d", &ms));
    assert_false(cd_duration_parse_ms(NULL, &ms));
    assert_false(cd_duration_parse_ms("99999999999h", &ms));
    /* exact, not through a double: */
    assert_true(cd_duration_parse_ms("0.3s", &ms));
    assert_int_equal(ms, 300);
    assert_true(cd_duration_parse_ms("7.814s", &ms));
    assert_int_equal(ms, 7814);
    int64_t ns;
    assert_true(cd_duration_parse("1.000000001s", &ns));
    assert_int_equal(ns, 1000000001);
    assert_true(cd_duration_parse("2h45m0.5s", &ns));
    assert_int_equal(ns, 9900500000000LL);
}

static void test_duration_format(void **state)
{
    char b[32];
    assert_string_equal(cd_duration_format_ms(60000, b, sizeof b), "1m");
    assert_string_equal(cd_duration_format_ms(90000, b, sizeof b), "1m30s");
    assert_string_equal(cd_duration_format_ms(0, b, sizeof b), "0s");
    assert_string_equal(cd_duration_format_ms(250, b, sizeof b), "250ms");
    assert_string_equal(cd_duration_format_ms(3600000, b, sizeof b), "1h");
    assert_string_equal(cd_duration_format_ms(1500, b, sizeof b), "1.500s");
    int64_t ms;
    const int64_t samples[] = {1, 999, 1000, 61001, 3600000, 3661500, 86400000};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        assert_true(cd_duration_parse_ms(cd_duration_format_ms(samples[i], b, sizeof b), &ms));
        assert_int_equal(ms, samples[i]);
    }
}

static void test_flagger_hash(void **state)
{
    /* FNV-1a 32 of "" is 2166136261; digits map through the alphabet */
    assert_int_equal(cd_fnv1a32("", 0), 2166136261u);
    assert_int_equal(cd_fnv1a32("a", 1), 0xe40c292cu);
    char h[16];
    cd_flagger_hash("", 0, h);
    /* '2'=50%27=23->'6', '1'=49%27=22->'5', '6'=54%27=0->'b', '3'=51%27=24->'7' */
    assert_string_equal(h, "65bb57b6b5");   /* "2166136261" */
    char h2[16];
    cd_flagger_hash("x", 1, h2);
    assert_string_not_equal(h, h2);
}

static void test_rfc3339(void **state)
{
    char b[32];
    assert_string_equal(cd_rfc3339(0, b), "1970-01-01T00:00:00Z");
    assert_string_equal(cd_rfc3339_ms(1500, b), "1970-01-01T00:00:01.500Z");
    int64_t ms;
    assert_true(cd_parse_rfc3339("2026-11-26T04:18:55Z", &ms));
    assert_string_equal(cd_rfc3339(ms, b), "2026-11-26T04:18:55Z");
    assert_true(cd_parse_rfc3339("2026-11-26T05:18:55+01:00", &ms));
    assert_string_equal(cd_rfc3339(ms, b), "2026-11-26T04:18:55Z");
    assert_true(cd_parse_rfc3339("2026-11-26T04:18:55.25Z", &ms));
    assert_int_equal(ms % 1000, 250);
    assert_false(cd_parse_rfc3339("2026-11-26", &ms));
    assert_false(cd_parse_rfc3339("2026-11-26T04:18:55", &ms));
}

static void test_buf_and_arena(void **state)
{
    cd_buf b = CD_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        cd_buf_printf(&b, "%d,", i);
    assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
    assert_int_equal(b.data[b.len], '\0');
    char *s = cd_buf_steal(&b);
    assert_null(b.data);
    free(s);
    cd_arena a;
    cd_arena_init(&a, 64);
    char *big = cd_arena_alloc(&a, 1000);   /* larger than a block */
    memset(big, 'x', 1000);
    assert_string_equal(cd_arena_printf(&a, "%s-%d", "n", 7), "n-7");
    assert_null(cd_arena_strdup(&a, NULL));
    cd_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_flagger_hash),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_buf_and_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
