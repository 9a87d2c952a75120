/* test_router_addr.c - addresses: host:port, [ipv6]:port, :port, names,
 * unix:/path; clear errors for the rest; formatting round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "router/io/addr.h"

static void test_parse_format(void **state)
{
    const char *ok[][2] = {
        {"127.0.0.1:8080", "127.0.0.1:8080"}, {"[::1]:9", "[::1]:9"}, {":80", "0.0.0.0:80"},
        {"unix:/run/x.sock", "unix:/run/x.sock"}, {"localhost:7", NULL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        rt_addr a;
        char err[128], out[128];
        assert_true(rt_addr_parse(ok[i][0], &a, err, sizeof err));
        if (ok[i][1])
            assert_string_equal(rt_addr_format(&a, out, sizeof out), ok[i][1]);
        assert_true(rt_addr_is_local(&a) == (strcmp(ok[i][0], ":80") != 0));
    }
    const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:80", "[::1]80",
                         "unix:", "host:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rt_addr a;
        char err[128] = "";
        assert_false(rt_addr_parse(bad[i], &a, err, sizeof err));
        assert_true(err[0] != 0);
    }
    rt_addr x, y;
    char err[64];
    rt_addr_parse("127.0.0.1:1", &x, err, sizeof err);
    rt_addr_parse("127.0.0.1:1", &y, err, sizeof err);
    assert_true(rt_addr_equal(&x, &y));
    rt_addr_parse("127.0.0.1:2", &y, err, sizeof err);
    assert_false(rt_addr_equal(&x, &y));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse_format)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
