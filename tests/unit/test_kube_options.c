/* test_kube_options.c - `canaryd kube` flags (src/kube/operator/options.c):
 * Flagger's defaults, Go's flag syntax, booleans, durations, Flagger flags
 * canaryd accepts without using, and clear errors for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "kube/operator/options.h"

static int parse(cdk_options *o, char *out, size_t outlen, int argc, char **argv)
{
    cdk_options_defaults(o);
    FILE *f = fmemopen(out, outlen, "w");
    int rc = cdk_options_parse(o, argc, argv, f, f);
    fclose(f);
    return rc;
}

static void test_defaults(void **state)
{
    cdk_options o;
    char out[256] = "";
    char *argv[] = {"kube"};
    assert_int_equal(parse(&o, out, sizeof out, 1, argv), 0);
    assert_string_equal(o.metrics_server, "http://prometheus:9090");
    assert_string_equal(o.mesh_provider, "istio");
    assert_string_equal(o.selector_labels, "app,name,app.kubernetes.io/name");
    assert_string_equal(o.leader_election_namespace, "kube-system");
    assert_int_equal(o.port, 8080);
    assert_int_equal(o.threadiness, 2);
    assert_int_equal(o.control_loop_ms, 10000);
    assert_true(o.config_tracking);
    assert_false(o.leader_election);
    assert_true(o.log_json == !isatty(STDERR_FILENO));   /* json unless on a terminal */
    assert_string_equal(o.log_level, "debug");
    assert_true(o.qps == 100.0);
    assert_int_equal(o.burst, 250);
}

static void test_syntax(void **state)
{
    cdk_options o;
    char out[1024] = "";
    char *argv[] = {"kube", "-mesh-provider", "appmesh:v1beta2", "--metrics-server=http://p:9090",
                    "-enable-leader-election", "-enable-config-tracking=false", "-threadiness", "8",
                    "-control-loop-interval", "1m30s", "-zap-encoding", "console",
                    "-namespace=apps", "-interval-override", "2s", "-kubeconfig-qps", "50.5",
                    "-kubeconfig-service-mesh", "/mesh", "-zap-replace-globals",
                    "-ingress-class", "contour", "-ingress-annotations-prefix", "custom.example.com"};
    assert_int_equal(parse(&o, out, sizeof out, (int)(sizeof argv / sizeof argv[0]), argv), 0);
    assert_string_equal(o.mesh_provider, "appmesh:v1beta2");
    assert_string_equal(o.metrics_server, "http://p:9090");
    assert_true(o.leader_election);
    assert_false(o.config_tracking);
    assert_int_equal(o.threadiness, 8);
    assert_int_equal(o.control_loop_ms, 90000);
    assert_false(o.log_json);
    assert_string_equal(o.namespace_, "apps");
    assert_int_equal(o.interval_override_ms, 2000);
    assert_true(o.qps == 50.5);
    assert_string_equal(o.ingress_class, "contour");
    assert_string_equal(o.ingress_annotations_prefix, "custom.example.com");
    assert_non_null(strstr(out, "-kubeconfig-service-mesh has no effect"));
    assert_null(strstr(out, "-ingress-class has no effect"));
    assert_non_null(strstr(out, "-zap-replace-globals has no effect"));
}

static void test_errors(void **state)
{
    cdk_options o;
    char out[1024];
    char *a1[] = {"kube", "-nope"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 2, a1), 2);
    assert_non_null(strstr(out, "unknown flag \"-nope\""));
    char *a2[] = {"kube", "-threadiness", "zero"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 3, a2), 2);
    assert_non_null(strstr(out, "invalid value \"zero\" for -threadiness"));
    char *a3[] = {"kube", "-control-loop-interval", "soon"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 3, a3), 2);
    assert_non_null(strstr(out, "invalid duration"));
    char *a4[] = {"kube", "-enable-leader-election=maybe"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 2, a4), 2);
    char *a5[] = {"kube", "-port"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 2, a5), 2);
    assert_non_null(strstr(out, "needs an argument"));
    char *a6[] = {"kube", "-threadiness", "0"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 3, a6), 2);
    char *a7[] = {"kube", "stray"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 2, a7), 2);
    char *a8[] = {"kube", "-zap-encoding", "xml"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 3, a8), 2);
}

static void test_help_version(void **state)
{
    cdk_options o;
    char out[8192];
    char *a1[] = {"kube", "-h"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 2, a1), 1);
    assert_non_null(strstr(out, "-enable-leader-election"));
    assert_null(strstr(out, "-kubeconfig-service-mesh"));   /* ignored flags are not advertised */
    assert_non_null(strstr(out, "-ingress-class"));
    assert_non_null(strstr(out, "-ingress-annotations-prefix"));
    char *a2[] = {"kube", "-version"};
    memset(out, 0, sizeof out);
    assert_int_equal(parse(&o, out, sizeof out, 2, a2), 1);
    assert_true(strlen(out) > 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
