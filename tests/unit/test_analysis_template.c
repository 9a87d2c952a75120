/* test_analysis_template.c - the Go text/template subset renderer, the
 * whitespace collapse, Go number/duration formatting and the metric
 * threshold verdicts with Flagger's event texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "util/gofmt.h"
#include "analysis/template.h"
#include "util/buf.h"

static cd_kv vars_items[] = {{"cluster", "dev"}, {"consumer_group", "my_consumer"},
                             {"direction", "inbound"}};
static cd_strmap vars = {vars_items, 3};

static cd_template_model model(void)
{
    cd_template_model m = {"podinfo", "test", "podinfo", "podinfo-svc", "podinfo-ing",
                           "podinfo-route", "1m", &vars, NULL};
    return m;
}

/* renders and checks the output */
static void expect(const char *tmpl, const char *want)
{
    cd_template_model m = model();
    cd_err err = {""};
    char *got = cd_template_render(tmpl, &m, &err);
    if (!got)
        fail_msg("render of %s failed: %s", tmpl, err.msg);
    assert_string_equal(got, want);
    free(got);
}

/* expects an error whose text contains `part` */
static void expect_error(const char *tmpl, const char *part)
{
    cd_template_model m = model();
    cd_err err = {""};
    char *got = cd_template_render(tmpl, &m, &err);
    if (got)
        fail_msg("render of %s should fail, got %s", tmpl, got);
    if (!strstr(err.msg, part))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, part);
}

static void test_model_functions(void **state)
{
    expect("{{ name }}.{{ namespace }} {{ target }} {{ service }} {{ ingress }} {{ route }} "
           "[{{ interval }}]",
           "podinfo.test podinfo podinfo-svc podinfo-ing podinfo-route [1m]");
    /* Flagger's render_test.go */
    expect("sum(envoy_cluster_upstream_rq{envoy_cluster_name=~\"{{ namespace }}_{{ target }}\"})",
           "sum(envoy_cluster_upstream_rq{envoy_cluster_name=~\"test_podinfo\"})");
    expect("delta(max by (consumer_group) (kafka_consumer_current_offset{cluster=\"{{ "
           "variables.cluster }}\", consumer_group=\"{{ variables.consumer_group }}\"}[{{ interval "
           "}}]))",
           "delta(max by (consumer_group) (kafka_consumer_current_offset{cluster=\"dev\", "
           "consumer_group=\"my_consumer\"}[1m]))");
    expect("no actions at all", "no actions at all");
    expect("", "");
    expect("{{name}}{{namespace}}", "podinfotest");
    /* canaryd's {{ revision }}: empty unless a StatefulSet's update revision is given */
    expect("[{{ revision }}]", "[]");
    cd_template_model m = model();
    m.revision = "db-5f6d7c";
    cd_err err = {""};
    char *got = cd_template_render("hash=\"{{ revision }}\"", &m, &err);
    assert_non_null(got);
    assert_string_equal(got, "hash=\"db-5f6d7c\"");
    free(got);
}

static void test_missing_variable_is_an_error(void **state)
{
    expect_error("x{{ variables.nope }}", "map has no entry for key \"nope\"");
    expect_error("x{{ variables.nope }}", "tmpl:1:");
    cd_template_model m = model();
    m.variables = NULL;
    cd_err err = {""};
    char *got = cd_template_render("{{ variables.cluster }}", &m, &err);
    assert_null(got);
    assert_non_null(strstr(err.msg, "no entry for key \"cluster\""));
    /* index is the lenient form: a missing key is empty */
    expect("[{{ index variables \"nope\" }}][{{ index variables \"cluster\" }}]", "[][dev]");
}

static void test_trim_markers_and_comments(void **state)
{
    expect("a   \n\t{{- name -}}  \n  b", "apodinfob");
    expect("a {{- name }} b", "apodinfo b");
    expect("a {{ name -}} b", "a podinfob");
    expect("x {{/* a comment */}} y", "x  y");
    expect("x {{- /* trimmed */ -}} y", "xy");
    /* the left trim only touches text, not the previous action's output */
    expect("{{ \"a \" }}{{- \"b\" }}", "a b");
    /* "-3" is a number, not a trim marker */
    expect("{{-3}}", "-3");
    expect_error("{{/* open", "unclosed comment");
}

static void test_variables_printf_and_pipelines(void **state)
{
    expect("{{- $route := printf \"kube(ew)?_%s__%s_canary__.*__%s_canary(_[0-9]+)?\" namespace "
           "ingress service }}\nroute=~\"{{ $route }}\"",
           "\nroute=~\"kube(ew)?_test__podinfo-ing_canary__.*__podinfo-svc_canary(_[0-9]+)?\"");
    expect("{{ $x := \"a\" }}{{ $x = \"b\" }}{{ $x }}", "b");
    expect("{{ target | printf \"%s-canary\" }}", "podinfo-canary");
    expect("{{ printf \"%d-%s-%v-%q\" 42 name 1.5 \"q\" }}", "42-podinfo-1.5-\"q\"");
    expect("{{ printf \"%5.1f|%x|%%\" 3.14159 255 }}", "  3.1|ff|%");
    expect("{{ printf \"%d\" name }}", "%!d(string=podinfo)");
    expect("{{ printf \"%s %s\" name }}", "podinfo %!s(MISSING)");
    expect("{{ print 1 2 \"a\" \"b\" }}", "1 2ab");
    expect("{{ println name }}", "podinfo\n");
    expect("{{ urlquery \"a b&c\" }}", "a+b%26c");
    expect("{{ len name }} {{ len variables }}", "7 3");
    expect("{{ (printf \"%s.%s\" name namespace) }}", "podinfo.test");
    expect("{{ `raw {{ text }}` }}", "raw {{ text }}");
    expect("{{ \"tab\\there\\u00e9\" }}", "tab\there\xc3\xa9");
    expect("{{ 'a' }} {{ 0x10 }} {{ 1e3 }} {{ true }}", "97 16 1000 true");
    expect("{{ variables }}", "map[cluster:dev consumer_group:my_consumer direction:inbound]");
}

static void test_errors(void **state)
{
    expect_error("{{ nope }}", "function \"nope\" not defined");
    expect_error("{{ eq 1 1 }}", "not supported by canaryd");
    expect_error("{{ .Name }}", "nil data; no entry for key \"Name\"");
    expect_error("{{ if name }}x{{ end }}", "unsupported template action \"if\"");
    expect_error("{{ range variables }}{{ end }}", "unsupported template action");
    expect_error("abc {{ name", "unclosed action");
    expect_error("{{ \"abc }}", "unterminated quoted string");
    expect_error("{{ $undefined }}", "undefined variable \"$undefined\"");
    expect_error("{{ name 1 }}", "wrong number of args for name");
    expect_error("{{ \"a\" \"b\" }}", "can't give argument to non-function");
    expect_error("{{ }}", "missing value for command");
    expect_error("{{ (name }}", "unclosed left paren");
    expect_error("{{ name ) }}", "unexpected \")\"");
    expect_error("{{ 1.2.3 }}", "bad number syntax");
    expect_error("{{ \"\\q\" }}", "invalid syntax");
    expect_error("line1\nline2 {{ nope }}", "tmpl:2:10");
    /* deep parentheses are refused, not recursed without bound */
    char deep[400];
    memset(deep, '(', 200);
    strcpy(deep + 200, "name");
    memset(deep + 204, ')', 100);
    deep[304] = '\0';
    char tmpl[420];
    snprintf(tmpl, sizeof tmpl, "{{ %s }}", deep);
    expect_error(tmpl, "nested too deeply");
}

static void test_output_limit(void **state)
{
    /* each action prints 1000 spaces; 2000 actions would exceed 1 MiB */
    size_t n = 2000;
    char *t = malloc(n * 40 + 1);
    t[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strcat(t, "{{ printf \"%1000s\" \"\" }}");
    cd_template_model m = model();
    cd_err err = {""};
    char *got = cd_template_render(t, &m, &err);
    assert_null(got);
    assert_non_null(strstr(err.msg, "larger than"));
    free(t);
}

static void test_collapse_whitespace(void **state)
{
    char *s = cd_collapse_whitespace("\n\tsum(\n  rate(x[1m])\r\n) \f / 2 ");
    assert_string_equal(s, " sum( rate(x[1m]) ) / 2 ");
    free(s);
    s = cd_collapse_whitespace("");
    assert_string_equal(s, "");
    free(s);
}

static void test_go_formatting(void **state)
{
    char b[64];
    assert_string_equal(cd_go_float(99, b, sizeof b), "99");
    assert_string_equal(cd_go_float(0.5, b, sizeof b), "0.5");
    assert_string_equal(cd_go_float(500000, b, sizeof b), "500000");
    assert_string_equal(cd_go_float(1000000, b, sizeof b), "1e+06");
    assert_string_equal(cd_go_float(123456789, b, sizeof b), "1.23456789e+08");
    assert_string_equal(cd_go_float(0.0001, b, sizeof b), "0.0001");
    assert_string_equal(cd_go_float(0.00001, b, sizeof b), "1e-05");
    assert_string_equal(cd_go_float(-2.25, b, sizeof b), "-2.25");
    assert_string_equal(cd_go_float(0.1 + 0.2, b, sizeof b), "0.30000000000000004");
    assert_string_equal(cd_go_float(NAN, b, sizeof b), "NaN");
    assert_string_equal(cd_go_duration_ms(0, b, sizeof b), "0s");
    assert_string_equal(cd_go_duration_ms(500, b, sizeof b), "500ms");
    assert_string_equal(cd_go_duration_ms(1500, b, sizeof b), "1.5s");
    assert_string_equal(cd_go_duration_ms(60000, b, sizeof b), "1m0s");
    assert_string_equal(cd_go_duration_ms(90250, b, sizeof b), "1m30.25s");
    assert_string_equal(cd_go_duration_ms(3600000, b, sizeof b), "1h0m0s");
    assert_string_equal(cd_go_duration_ms(-1500, b, sizeof b), "-1.5s");
}

static cd_metric metric(const char *name, bool has_min, double min, bool has_max, double max,
                        bool has_threshold, double threshold)
{
    cd_metric m;
    memset(&m, 0, sizeof m);
    m.name = name;
    m.has_min = has_min;
    m.min = min;
    m.has_max = has_max;
    m.max = max;
    m.has_threshold = has_threshold;
    m.threshold = threshold;
    return m;
}

/* Flagger's verdict texts, through the engine's rules (one implementation). */
static bool check(const cd_metric *m, const char *name, const char *ns, double v, char *msg, size_t n)
{
    cd_metric_kind kind = CD_METRIC_KIND_QUERY;
    cd_engine_metric_kind(m, &kind);
    char why[256] = "";
    bool ok = cd_engine_threshold_pass(m, kind, v, why, sizeof why);
    snprintf(msg, n, "Halt %s.%s advancement %s", name, ns, why);
    return ok;
}

static void test_check_metric(void **state)
{
    char msg[256];
    cd_metric sr = metric("request-success-rate", true, 99, false, 0, false, 0);
        assert_true(check(&sr, "podinfo", "test", 99.5, msg, sizeof msg));
    assert_false(check(&sr, "podinfo", "test", 97.5, msg, sizeof msg));
    assert_string_equal(msg, "Halt podinfo.test advancement success rate 97.50% < 99%");
    cd_metric old = metric("request-success-rate", false, 0, false, 0, true, 99);
    assert_false(check(&old, "p", "n", 98, msg, sizeof msg));
    assert_string_equal(msg, "Halt p.n advancement success rate 98.00% < 99%");

    cd_metric du = metric("request-duration", true, 0, true, 500, false, 0);
        assert_true(check(&du, "p", "n", 500, msg, sizeof msg));
    assert_false(check(&du, "p", "n", 1500, msg, sizeof msg));
    assert_string_equal(msg, "Halt p.n advancement request duration 1.5s > 500ms");
    cd_metric dold = metric("request-duration", false, 0, false, 0, true, 500);
    assert_false(check(&dold, "p", "n", 501, msg, sizeof msg));
    assert_string_equal(msg, "Halt p.n advancement request duration 501ms > 500ms");

    cd_metric cu = metric("error-rate", false, 0, true, 1, false, 0);
    cu.query = "x";
        assert_false(check(&cu, "p", "n", 1.5, msg, sizeof msg));
    assert_string_equal(msg, "Halt p.n advancement error-rate 1.50 > 1");
    cd_metric cmin = metric("throughput", true, 10, false, 0, false, 0);
    assert_false(check(&cmin, "p", "n", 2, msg, sizeof msg));
    assert_string_equal(msg, "Halt p.n advancement throughput 2.00 < 10");
    /* a custom metric with neither range nor threshold passes (Flagger would
     * compare with 0: docs/compatibility.md, difference 5) */
    cd_metric none = metric("x", false, 0, false, 0, false, 0);
    assert_true(check(&none, "p", "n", 0.5, msg, sizeof msg));
    assert_true(check(&none, "p", "n", 0, msg, sizeof msg));
    /* a builtin name with a templateRef is a custom check */
    cd_metric named = metric("request-success-rate", true, 1, false, 0, false, 0);
    named.template_name = "t";
    cd_metric_kind kind;
    assert_true(cd_engine_metric_kind(&named, &kind));
    assert_int_equal(kind, CD_METRIC_KIND_TEMPLATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_functions),
        cmocka_unit_test(test_missing_variable_is_an_error),
        cmocka_unit_test(test_trim_markers_and_comments),
        cmocka_unit_test(test_variables_printf_and_pipelines),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_collapse_whitespace),
        cmocka_unit_test(test_go_formatting),
        cmocka_unit_test(test_check_metric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
