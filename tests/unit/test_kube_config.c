/* test_kube_config.c - kubeconfig parsing: contexts, clusters and users,
 * *-data fields, relative paths, exec plugins, errors naming what is
 * wrong, KUBECONFIG merging, -master, and the in-cluster configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kube/config.h"

static const char *FULL =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: prod\n"
    "clusters:\n"
    "- name: prod-cluster\n"
    "  cluster:\n"
    "    server: https://api.example.com:6443/\n"
    "    certificate-authority-data: aGVsbG8gY2E=\n"       /* "hello ca" */
    "    tls-server-name: kubernetes.default\n"
    "- name: dev-cluster\n"
    "  cluster:\n"
    "    server: http://127.0.0.1:8080\n"
    "    certificate-authority: certs/ca.crt\n"
    "    insecure-skip-tls-verify: true\n"
    "users:\n"
    "- name: admin\n"
    "  user:\n"
    "    client-certificate-data: Y2VydA==\n"               /* "cert" */
    "    client-key-data: |\n"
    "      a2V5\n"                                          /* "key" */
    "- name: dev\n"
    "  user:\n"
    "    tokenFile: tokens/dev\n"
    "- name: eks\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      command: aws\n"
    "      args: [eks, get-token, --cluster-name, demo]\n"
    "      env:\n"
    "      - {name: AWS_PROFILE, value: prod}\n"
    "      installHint: install the AWS CLI\n"
    "      provideClusterInfo: true\n"
    "contexts:\n"
    "- name: prod\n"
    "  context: {cluster: prod-cluster, user: admin, namespace: test}\n"
    "- name: dev\n"
    "  context: {cluster: dev-cluster, user: dev}\n"
    "- name: eks\n"
    "  context: {cluster: prod-cluster, user: eks}\n"
    "- name: broken\n"
    "  context: {cluster: nowhere, user: admin}\n"
    "- name: nouser\n"
    "  context: {cluster: dev-cluster, user: ghost}\n";

static bool parse(const char *text, const char *ctx, cd_kube_config *c, cd_kube_err *err)
{
    return cd_kube_config_parse(text, strlen(text), "test.yaml", "/etc/kube", ctx, c, err);
}

static void test_current_context(void **state)
{
    cd_kube_config c;
    cd_kube_err err = {0};
    assert_true(parse(FULL, NULL, &c, &err));
    assert_string_equal(c.context, "prod");
    assert_string_equal(c.server, "https://api.example.com:6443");   /* trailing '/' dropped */
    assert_string_equal(c.namespace, "test");
    assert_string_equal(c.tls_server_name, "kubernetes.default");
    assert_int_equal(c.ca_data.len, 8);
    assert_memory_equal(c.ca_data.data, "hello ca", 8);
    assert_memory_equal(c.cert_data.data, "cert", 4);
    assert_memory_equal(c.key_data.data, "key", 3);              /* newline in base64 allowed */
    assert_null(c.token);
    assert_null(c.exec);
    cd_kube_config_free(&c);
}

static void test_named_context_paths(void **state)
{
    cd_kube_config c;
    cd_kube_err err = {0};
    assert_true(parse(FULL, "dev", &c, &err));
    assert_string_equal(c.server, "http://127.0.0.1:8080");
    assert_string_equal(c.namespace, "default");
    assert_true(c.insecure_skip_tls_verify);
    assert_string_equal(c.ca_file, "/etc/kube/certs/ca.crt");     /* relative to the file */
    assert_string_equal(c.token_file, "/etc/kube/tokens/dev");
    cd_kube_config copy;
    assert_true(cd_kube_config_copy(&copy, &c));
    assert_string_equal(copy.token_file, c.token_file);
    assert_true(copy.insecure_skip_tls_verify);
    cd_kube_config_free(&copy);
    cd_kube_config_free(&c);
}

static void test_exec(void **state)
{
    cd_kube_config c;
    cd_kube_err err = {0};
    assert_true(parse(FULL, "eks", &c, &err));
    assert_non_null(c.exec);
    assert_string_equal(c.exec->command, "aws");
    assert_int_equal(c.exec->nargs, 4);
    assert_string_equal(c.exec->args[3], "demo");
    assert_int_equal(c.exec->nenv, 1);
    assert_string_equal(c.exec->env[0], "AWS_PROFILE=prod");
    assert_string_equal(c.exec->api_version, "client.authentication.k8s.io/v1beta1");
    assert_string_equal(c.exec->install_hint, "install the AWS CLI");
    assert_true(c.exec->provide_cluster_info);
    cd_kube_config copy;
    assert_true(cd_kube_config_copy(&copy, &c));
    assert_string_equal(copy.exec->args[0], "eks");
    cd_kube_config_free(&copy);
    cd_kube_config_free(&c);
}

static void expect_error(const char *text, const char *ctx, const char *needle)
{
    cd_kube_config c;
    cd_kube_err err = {0};
    assert_false(parse(text, ctx, &c, &err));
    assert_int_equal(err.reason, CD_KR_CONFIG);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, needle);
}

static void test_errors(void **state)
{
    expect_error(FULL, "nope", "context \"nope\" not found");
    expect_error(FULL, "broken", "cluster \"nowhere\" not found");
    expect_error(FULL, "nouser", "user \"ghost\" not found");
    expect_error("apiVersion: v1\nkind: Config\n", NULL, "no current-context");
    expect_error("clusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
                 "current-context: x\n", NULL, "has no server");
    expect_error("clusters: [{name: c, cluster: {server: ftp://x}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n", NULL,
                 "not an http:// or https:// URL");
    expect_error("clusters: [{name: c, cluster: {server: https://x, certificate-authority-data: '!!!'}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n", NULL,
                 "certificate-authority-data is not valid base64");
    expect_error("clusters: [{name: c, cluster: {server: https://x}}]\n"
                 "users: [{name: u, user: {client-certificate: a.crt}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", NULL,
                 "client certificate without its key");
    expect_error("clusters: [{name: c, cluster: {server: https://x}}]\n"
                 "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", NULL,
                 "auth-provider \"gcp\" is not supported");
    expect_error("clusters: [{name: c, cluster: {server: https://x}}]\n"
                 "users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", NULL,
                 "is not supported");
    expect_error("clusters: [{name: c, cluster: {server: https://x}}]\n"
                 "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1}}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", NULL,
                 "exec.command is required");
    expect_error("clusters: [{name: c, cluster: {server: https://x}}]\n"
                 "users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1, "
                 "interactiveMode: Sometimes}}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", NULL,
                 "interactiveMode");
    expect_error("- just\n- a list\n", NULL, "not a mapping");
    expect_error("key: 'unterminated\n", NULL, "test.yaml");
}

static void test_base64(void **state)
{
    cd_kube_blob b;
    assert_true(cd_kube_base64_decode("aGVs\nbG8=", 9, &b));
    assert_int_equal(b.len, 5);
    assert_string_equal((char *)b.data, "hello");
    free(b.data);
    assert_false(cd_kube_base64_decode("@@@@", 4, &b));
    assert_null(b.data);
}

/* files: KUBECONFIG merging, explicit path, -master, in-cluster */
static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kubecfg-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    const char *names[] = {"a", "b", "token", "ca.crt", "namespace"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

static void test_load_merge(void **state)
{
    write_file("a", "current-context: second\nusers: [{name: u, user: {token: from-a}}]\n");
    write_file("b", "current-context: first\n"
                    "clusters: [{name: c, cluster: {server: 'https://b.example.com'}}]\n"
                    "users: [{name: u, user: {token: from-b}}]\n"
                    "contexts: [{name: first, context: {cluster: c, user: u}},"
                    "           {name: second, context: {cluster: c, user: u, namespace: ns2}}]\n");
    char list[1024];
    snprintf(list, sizeof list, "%s/a:%s/missing:%s/b", tmpdir, tmpdir, tmpdir);
    setenv("KUBECONFIG", list, 1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    cd_kube_config c;
    cd_kube_err err = {0};
    assert_true(cd_kube_config_load(NULL, &c, &err));
    assert_string_equal(c.context, "second");        /* first file to set it wins */
    assert_string_equal(c.token, "from-a");          /* first file to name the user wins */
    assert_string_equal(c.server, "https://b.example.com");
    assert_string_equal(c.namespace, "ns2");
    cd_kube_config_free(&c);
    cd_kube_config_opts o = {.context = "first", .master = "https://override:443"};
    assert_true(cd_kube_config_load(&o, &c, &err));
    assert_string_equal(c.server, "https://override:443");
    cd_kube_config_free(&c);
    /* an explicit file must exist */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", tmpdir);
    cd_kube_config_opts ex = {.kubeconfig = missing};
    assert_false(cd_kube_config_load(&ex, &c, &err));
    assert_non_null(strstr(err.msg, "No such file"));
    /* nothing at all but -master */
    setenv("KUBECONFIG", missing, 1);
    cd_kube_config_opts m = {.master = "http://127.0.0.1:9"};
    assert_true(cd_kube_config_load(&m, &c, &err));
    assert_string_equal(c.server, "http://127.0.0.1:9");
    cd_kube_config_free(&c);
    assert_false(cd_kube_config_load(NULL, &c, &err));
    assert_non_null(strstr(err.msg, "no kubeconfig found"));
    unsetenv("KUBECONFIG");
}

static void test_in_cluster(void **state)
{
    write_file("token", "abc\n");
    write_file("ca.crt", "-----BEGIN CERTIFICATE-----\n");
    write_file("namespace", "canaryd\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    cd_kube_config c;
    cd_kube_err err = {0};
    cd_kube_config_opts o = {.sa_dir = tmpdir};
    assert_true(cd_kube_config_load(&o, &c, &err));     /* neither kubeconfig nor master: in-cluster */
    assert_true(c.in_cluster);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    assert_string_equal(c.namespace, "canaryd");
    assert_non_null(strstr(c.token_file, "/token"));
    assert_non_null(strstr(c.ca_file, "/ca.crt"));
    cd_kube_config_free(&c);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_true(cd_kube_config_in_cluster(tmpdir, &c, &err));
    assert_string_equal(c.server, "https://[fd00::1]:443");
    cd_kube_config_free(&c);
    char sa[512];
    snprintf(sa, sizeof sa, "%s/nothing-here", tmpdir);
    assert_false(cd_kube_config_in_cluster(sa, &c, &err));
    assert_non_null(strstr(err.msg, "service-account token"));
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_false(cd_kube_config_in_cluster(tmpdir, &c, &err));
    assert_non_null(strstr(err.msg, "not running in a cluster"));
    unsetenv("KUBERNETES_SERVICE_HOST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_context),
        cmocka_unit_test(test_named_context_paths),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_base64),
        cmocka_unit_test_setup_teardown(test_load_merge, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
