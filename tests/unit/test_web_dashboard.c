/* test_web_dashboard.c - the dashboard's pages (src/web/dashboard.c) from
 * hostile input: a canary whose name, namespace, phase, events and metric
 * names hold markup and quotes renders them as text (escaped, percent-
 * encoded in links), never as tags or attributes; buttons appear only with
 * a session's CSRF token and only in the phases where the API acts; the
 * charts draw the history (weights and each metric against its
 * threshold); the stylesheet is embedded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "web/dashboard.h"

#define EVIL "<script>alert(1)</script>\"'&x"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("%s", e.text);
    return j;
}

static json_t *evil_detail(const char *phase)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "name", EVIL, "namespace", "ns\"><b>",
                          "phase", phase, "canaryWeight", 30, "primaryWeight", 70,
                          "failedChecks", 1);
    json_object_set_new(d, "analysis", json_pack("{s:s,s:i,s:i,s:i,s:i}", "strategy", "canary",
                                                 "intervalSeconds", 10, "threshold", 2,
                                                 "stepWeight", 10, "maxWeight", 50));
    json_object_set_new(d, "metrics", json_pack("[{s:s,s:f,s:f,s:b,s:s}]", "name", EVIL, "min",
                                                99.0, "value", 99.5, "passed", 1, "message",
                                                "<i>fine</i>"));
    json_object_set_new(d, "events", json_pack("[{s:s,s:s,s:s,s:s}]", "ts",
                                               "2026-12-07T10:00:00Z", "type", "Warning",
                                               "phase", "Progressing", "message",
                                               "<img src=x onerror=alert(1)>"));
    json_object_set_new(
        d, "status",
        json_pack("{s:[{s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:s,s:f}]}", "judge", "metric", EVIL, "test",
                  "errors", "verdict", "pass", "reason", "<u>r</u>", "estimate", 0.1, "lower",
                  -0.2, "upper", 0.4, "unit", "pp", "pValue", 0.5));
    json_object_set_new(json_array_get(json_object_get(json_object_get(d, "status"), "judge"), 0),
                        "history", json_pack("{s:s,s:s}", "status", "FellBack", "reason",
                                             "moved up <b>during</b> the release"));
    return d;
}

static json_t *history(void)
{
    json_t *h = parse("{\"metrics\": [\"m\"], \"points\": ["
                 "{\"time\": \"2026-12-07T10:00:00Z\", \"timeMs\": 1000, \"canaryWeight\": 10,"
                 " \"primaryWeight\": 90, \"phase\": \"Progressing\", \"values\": [99.2]},"
                 "{\"time\": \"2026-12-07T10:00:10Z\", \"timeMs\": 11000, \"canaryWeight\": 20,"
                 " \"primaryWeight\": 80, \"phase\": \"Progressing\", \"values\": [null]},"
                 "{\"time\": \"2026-12-07T10:00:20Z\", \"timeMs\": 21000, \"canaryWeight\": 30,"
                 " \"primaryWeight\": 70, \"phase\": \"Progressing\", \"values\": [99.8]}]}");
    json_object_set_new(h, "metrics", json_pack("[s]", EVIL));   /* as the spec names it */
    return h;
}

static void no_raw_markup(const char *html)
{
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<b>"));
    assert_null(strstr(html, "<i>"));
    assert_null(strstr(html, "<u>"));
    assert_null(strstr(html, "onerror=alert(1)>"));
}

static void test_escape(void **state)
{
    cd_buf b = CD_BUF_INIT;
    cd_web_escape(&b, EVIL);
    assert_string_equal(cd_buf_str(&b),
                        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;x");
    cd_buf_reset(&b);
    cd_web_path_segment(&b, "a b/c?<");
    assert_string_equal(cd_buf_str(&b), "a%20b%2Fc%3F%3C");
    cd_buf_free(&b);
}

static void test_list_escapes(void **state)
{
    json_t *items = json_pack("[{s:s,s:s,s:s,s:i,s:i,s:i,s:s}]", "name", EVIL, "namespace",
                              "ns\"><b>", "phase", "<b>Progressing", "canaryWeight", 30,
                              "primaryWeight", 70, "failedChecks", 0, "lastTransitionTime", "<i>");
    cd_web_page o = {.base = "/ui", .refresh_s = 5};
    cd_buf b = CD_BUF_INIT;
    cd_web_list(&b, items, &o);
    const char *h = cd_buf_str(&b);
    no_raw_markup(h);
    assert_non_null(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;x</a>"));
    assert_non_null(strstr(h, "href=\"/ui/canaries/ns%22%3E%3Cb%3E/%3Cscript%3Ealert%281%29"));
    assert_non_null(strstr(h, "<span class=\"canary-weight\">30</span>"));
    assert_non_null(strstr(h, "<meta http-equiv=\"refresh\" content=\"5\">"));
    assert_null(strstr(h, "Sign out"));   /* no session: no form */
    cd_buf_free(&b);
    json_decref(items);
}

static void test_canary_page(void **state)
{
    json_t *d = evil_detail("Progressing"), *h = history();
    cd_web_page o = {.base = "/ui", .csrf = "c0ffee"};
    cd_buf b = CD_BUF_INIT;
    cd_web_canary(&b, d, h, &o);
    const char *s = cd_buf_str(&b);
    no_raw_markup(s);
    assert_non_null(strstr(s, "id=\"chart-weights\""));
    /* the weight is a step line: 3 points, each held until the next, then to the end */
    assert_non_null(strstr(s, "<polyline class=\"series canary\""));
    assert_non_null(strstr(s, "id=\"chart-metric-0\""));
    assert_non_null(strstr(s, "<line class=\"threshold\""));
    const char *c1 = strstr(s, "<circle class=\"value\"");
    assert_non_null(c1);
    const char *c2 = strstr(c1 + 1, "<circle class=\"value\"");
    assert_non_null(c2);   /* two measured values; the null one is skipped */
    assert_null(strstr(c2 + 1, "<circle class=\"value\""));
    assert_non_null(strstr(s, "id=\"promote\""));
    assert_non_null(strstr(s, "id=\"abort\""));
    assert_non_null(strstr(s, "name=\"csrf\" value=\"c0ffee\""));
    assert_non_null(strstr(s, "<section id=\"judge\">"));
    /* the baseline the judge used, and that it fell back (issue 20) */
    assert_non_null(strstr(s, "<th>Baseline</th>"));
    assert_non_null(strstr(s, "<td class=\"baseline fell-back\">FellBack: moved up "
                              "&lt;b&gt;during&lt;/b&gt; the release</td>"));
    assert_non_null(strstr(s, "&lt;img src=x onerror=alert(1)&gt;"));
    cd_buf_free(&b);

    o.csrf = NULL;   /* read-only: no forms at all */
    cd_web_canary(&b, d, h, &o);
    assert_null(strstr(cd_buf_str(&b), "<form"));
    cd_buf_free(&b);
    json_decref(d);

    d = evil_detail("Succeeded");   /* nothing to promote or abort */
    o.csrf = "c0ffee";
    cd_web_canary(&b, d, NULL, &o);
    assert_null(strstr(cd_buf_str(&b), "id=\"abort\""));
    assert_null(strstr(cd_buf_str(&b), "id=\"promote\""));
    assert_non_null(strstr(cd_buf_str(&b), "id=\"no-history\""));
    cd_buf_free(&b);
    json_decref(d);
    json_decref(h);
}

static void test_buttons_follow_the_api(void **state)
{
    assert_true(cd_web_can_abort("Progressing"));
    assert_true(cd_web_can_abort("WaitingPromotion"));
    assert_false(cd_web_can_abort("Succeeded"));
    assert_false(cd_web_can_abort("Initialized"));
    assert_false(cd_web_can_promote("Failed"));
}

static void test_static(void **state)
{
    const char *data, *type;
    size_t len;
    assert_true(cd_web_static("dashboard.css", &data, &len, &type));
    assert_true(len > 1000);
    assert_string_equal(type, "text/css; charset=utf-8");
    assert_non_null(strstr(data, "svg.chart"));
    assert_false(cd_web_static("../CMakeLists.txt", &data, &len, &type));
    assert_null(strstr(CD_WEB_CSP, "script"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_list_escapes),
        cmocka_unit_test(test_canary_page),
        cmocka_unit_test(test_buttons_follow_the_api),
        cmocka_unit_test(test_static),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
