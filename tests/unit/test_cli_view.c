/* test_cli_view.c - canaryctl's pure formatting (src/cli/view.c, table.c)
 * and watch --until-done's verdict (issue 12): tables sized to their
 * content, weights that add up to 100 and follow the routes, and a
 * Succeeded or Failed that only counts for the workload's current
 * revision; the same on a cluster (src/cli/kube_detail.c): the verdict
 * against the target's revision and a pending retry, and the describe
 * page of a detail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "cli/kube_ctl.h"
#include "cli/table.h"
#include "cli/view.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_table_sizes_columns(void **state)
{
    static const char *const head[] = {"NAME", "STATUS", "MESSAGE"};
    cd_table t;
    cd_table_init(&t, 3, head);
    const char *r1[] = {"a-much-longer-canary-name-than-24", "Progressing", "x"};
    const char *r2[] = {"b", "Failed", NULL};
    cd_table_row(&t, r1);
    cd_table_row(&t, r2);
    cd_buf b = CD_BUF_INIT;
    cd_table_flush(&t, &b);
    assert_string_equal(cd_buf_str(&b),
                        "NAME                                STATUS        MESSAGE\n"
                        "a-much-longer-canary-name-than-24   Progressing   x\n"
                        "b                                   Failed\n");
    cd_buf_free(&b);
}

static void test_get_table(void **state)
{
    json_t *items = parse("[{\"name\":\"podinfo-with-a-long-name\",\"namespace\":\"test\","
                          "\"phase\":\"Succeeded\",\"canaryWeight\":0,\"failedChecks\":0,"
                          "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]");
    cd_buf b = CD_BUF_INIT;
    cd_view_table(&b, items, true);
    assert_string_equal(cd_buf_str(&b),
                        "NAMESPACE   NAME                       STATUS      WEIGHT   FAILEDCHECKS   LASTTRANSITIONTIME\n"
                        "test        podinfo-with-a-long-name   Succeeded   0        0              2026-01-01T00:00:00Z\n");
    /* the columns line up: NAME's column is as wide as its longest cell */
    const char *second = strchr(cd_buf_str(&b), '\n') + 1;
    assert_int_equal(strstr(cd_buf_str(&b), "STATUS") - cd_buf_str(&b),
                     strstr(second, "Succeeded") - second);
    cd_buf_free(&b);
    json_decref(items);
}

static void test_weights_follow_the_routes(void **state)
{
    /* WaitingPromotion: the status says 0, the router sends half */
    json_t *c = parse("{\"name\":\"p\",\"phase\":\"WaitingPromotion\",\"canaryWeight\":0,"
                      "\"primaryWeight\":50}");
    int cw, pw;
    bool mirrored;
    cd_view_weights(c, &cw, &pw, &mirrored);
    assert_int_equal(cw, 50);
    assert_int_equal(pw, 50);
    assert_false(mirrored);
    cd_buf b = CD_BUF_INIT;
    cd_view_line(&b, c);
    assert_non_null(strstr(cd_buf_str(&b), "canary  50% primary  50%"));
    cd_buf_free(&b);
    json_decref(c);
    /* no routes known: the status's weight, the primary the rest */
    c = parse("{\"canaryWeight\":30}");
    cd_view_weights(c, &cw, &pw, &mirrored);
    assert_int_equal(cw + pw, 100);
    assert_int_equal(cw, 30);
    json_decref(c);
    /* mirroring: all traffic answered by the primary, a copy to the canary */
    c = parse("{\"canaryWeight\":0,\"primaryWeight\":100,\"mirrored\":true}");
    cd_view_weights(c, &cw, &pw, &mirrored);
    assert_true(mirrored);
    assert_int_equal(pw, 100);
    b = (cd_buf)CD_BUF_INIT;
    cd_view_line(&b, c);
    assert_non_null(strstr(cd_buf_str(&b), "primary 100% mirrored"));
    cd_buf_free(&b);
    json_decref(c);
}

static void test_watch_outcome(void **state)
{
    json_t *c = parse("{\"phase\":\"Succeeded\",\"workload\":{\"revision\":\"abc\"},"
                      "\"status\":{\"lastAppliedSpec\":\"abc\"}}");
    assert_int_equal(cd_watch_outcome(c), 0);
    json_decref(c);
    c = parse("{\"phase\":\"Failed\",\"workload\":{\"revision\":\"abc\"},"
              "\"status\":{\"lastAppliedSpec\":\"abc\"}}");
    assert_int_equal(cd_watch_outcome(c), 1);
    json_decref(c);
    /* right after an edit: the previous run's Succeeded is not this one's */
    c = parse("{\"phase\":\"Succeeded\",\"workload\":{\"revision\":\"new\"},"
              "\"status\":{\"lastAppliedSpec\":\"old\"}}");
    assert_int_equal(cd_watch_outcome(c), -1);
    json_decref(c);
    c = parse("{\"phase\":\"Progressing\"}");
    assert_int_equal(cd_watch_outcome(c), -1);
    json_decref(c);
}

static void test_describe_gates(void **state)
{
    json_t *g = parse("{\"promotionHeld\":false,\"rolloutHeld\":false,\"rollbackRequested\":true}");
    cd_buf b = CD_BUF_INIT;
    cd_view_gates(&b, g);
    assert_non_null(strstr(cd_buf_str(&b), "Gates:          rollback requested"));
    cd_buf_free(&b);
    json_decref(g);
    g = parse("{\"promotionHeld\":false,\"rolloutHeld\":false,\"rollbackRequested\":false}");
    b = (cd_buf)CD_BUF_INIT;
    cd_view_gates(&b, g);
    assert_int_equal(b.len, 0);
    cd_buf_free(&b);
    json_decref(g);
}

static void test_kube_outcome(void **state)
{
    static const struct { const char *detail; int want; } cases[] = {
        {"{\"phase\":\"Succeeded\",\"kube\":{\"revision\":\"a\"},"
         "\"status\":{\"lastAppliedSpec\":\"a\",\"lastPromotedSpec\":\"a\"}}", 0},
        {"{\"phase\":\"Failed\",\"kube\":{\"revision\":\"b\"},"
         "\"status\":{\"lastAppliedSpec\":\"b\",\"lastPromotedSpec\":\"a\"}}", 1},
        /* kubectl set image just now: canaryd kube has not started it */
        {"{\"phase\":\"Succeeded\",\"kube\":{\"revision\":\"c\"},"
         "\"status\":{\"lastAppliedSpec\":\"b\",\"lastPromotedSpec\":\"b\"}}", -1},
        /* back to what the primary runs: no release starts, Failed stays */
        {"{\"phase\":\"Failed\",\"kube\":{\"revision\":\"a\"},"
         "\"status\":{\"lastAppliedSpec\":\"b\",\"lastPromotedSpec\":\"a\"}}", 1},
        /* a retry not yet acted on */
        {"{\"phase\":\"Failed\",\"gates\":{\"retry\":\"alice\"},\"kube\":{\"revision\":\"b\"},"
         "\"status\":{\"lastAppliedSpec\":\"b\"}}", -1},
        {"{\"phase\":\"WaitingPromotion\"}", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *d = parse(cases[i].detail);
        assert_int_equal(cd_ctl_kube_outcome(d), cases[i].want);
        json_decref(d);
    }
}

static void test_kube_describe_page(void **state)
{
    json_t *d = parse(
        "{\"name\":\"web\",\"namespace\":\"apps\",\"phase\":\"Progressing\",\"canaryWeight\":30,"
        "\"primaryWeight\":70,\"step\":3,\"steps\":5,\"strategy\":\"canary\",\"failedChecks\":1,"
        "\"spec\":{\"provider\":\"istio\",\"targetRef\":{\"name\":\"web\"},\"service\":{\"port\":80},"
        "\"analysis\":{\"interval\":\"30s\",\"threshold\":5}},"
        "\"kube\":{\"kind\":\"Deployment\",\"revision\":\"r2\","
        "\"primary\":{\"name\":\"web-primary\",\"images\":[\"web:1\"],\"ready\":3,\"desired\":3},"
        "\"canary\":{\"name\":\"web\",\"images\":[\"web:2\",\"sidecar:7\"],\"ready\":1,\"desired\":3}},"
        "\"gates\":{\"hold\":\"alice\"},"
        "\"metrics\":[{\"name\":\"request-success-rate\",\"min\":99}],"
        "\"events\":[{\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"Normal\",\"reason\":\"Synced\","
        "\"count\":2,\"message\":\"Advance web.apps canary weight 30\"}]}");
    cd_buf b = CD_BUF_INIT;
    cd_ctl_kube_describe_page(&b, d);
    const char *s = cd_buf_str(&b);
    assert_non_null(strstr(s, "Target:       Deployment/web"));
    assert_non_null(strstr(s, "Step:           3 of 5"));
    assert_non_null(strstr(s, "Canary weight:  [######..............]  30%"));
    assert_non_null(strstr(s, "Primary weight: [##############......]  70%"));
    assert_non_null(strstr(s, "Gates:          promotion held by alice"));
    assert_non_null(strstr(s, "web-primary                  3/3 ready  web:1"));
    assert_non_null(strstr(s, "1/3 ready  web:2, sidecar:7"));
    assert_non_null(strstr(s, ">= 99"));
    assert_non_null(strstr(s, "Advance web.apps canary weight 30"));
    cd_buf_free(&b);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sizes_columns),
        cmocka_unit_test(test_get_table),
        cmocka_unit_test(test_weights_follow_the_routes),
        cmocka_unit_test(test_watch_outcome),
        cmocka_unit_test(test_describe_gates),
        cmocka_unit_test(test_kube_outcome),
        cmocka_unit_test(test_kube_describe_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
