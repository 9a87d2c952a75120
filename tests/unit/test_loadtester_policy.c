/* test_loadtester_policy.c - what the load tester agrees to run
 * (loadtester/policy.h): every command of Flagger's documented manifests
 * and of its own e2e scripts (../shared/conformance/flagger) passes the
 * default policy unchanged; commands off the allowlist and every shell
 * construct beyond plain words, quotes, |, &&, || and ; are refused with a
 * reason; with a namespace regexp, kubectl and helm may act only in
 * matching namespaces (their flags, or the load tester's own namespace). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "loadtester/policy.h"
#include "model/object.h"
#include "util/fsutil.h"

static cd_cmd_policy P;

static int setup(void **state)
{
    char why[200];
    setenv("POD_NAMESPACE", "loadtester", 1);
    return cd_cmd_policy_init(&P, NULL, false, NULL, why, sizeof why) ? 0 : -1;
}

static int teardown(void **state)
{
    cd_cmd_policy_free(&P);
    return 0;
}

static void expect_ok(const cd_cmd_policy *p, const char *line)
{
    char why[400] = "";
    if (!cd_cmd_policy_check_shell(p, line, why, sizeof why))
        fail_msg("refused \"%s\": %s", line, why);
}

static void expect_refused(const cd_cmd_policy *p, const char *line, const char *reason)
{
    char why[400] = "";
    if (cd_cmd_policy_check_shell(p, line, why, sizeof why))
        fail_msg("accepted \"%s\"", line);
    if (reason && !strstr(why, reason))
        fail_msg("\"%s\" refused with \"%s\", want \"%s\"", line, why, reason);
}

/* Every cmd of the manifests in Flagger's docs and examples. */
static void test_flagger_manifests_pass(void **state)
{
    const char *shared = getenv("CANARYD_SHARED");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/conformance/flagger/manifests", shared ? shared : "../shared");
    cd_object_list objs = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_path(dir, "test", &objs, &d);
    cd_diags_free(&d);
    size_t cmds = 0;
    for (size_t i = 0; i < objs.n; i++) {
        if (objs.items[i]->kind != CD_KIND_CANARY)
            continue;
        const cd_analysis *a = &objs.items[i]->spec.canary.analysis;
        for (size_t w = 0; w < a->n_webhooks; w++) {
            const char *cmd = cd_strmap_get(&a->webhooks[w].metadata, "cmd");
            if (!cmd)
                continue;
            const char *type = cd_strmap_get(&a->webhooks[w].metadata, "type");
            if (type && (!strcmp(type, "helm") || !strcmp(type, "helmv3") ||
                         !strcmp(type, "kubectl"))) {
                /* argv of the program, split as the load tester splits it */
                char *copy = strdup(cmd), *save = NULL, *argv[64] = {
                    (char *)(strcmp(type, "kubectl") ? "helm" : "kubectl")};
                size_t n = 1;
                for (char *t = strtok_r(copy, " ", &save); t && n < 63; t = strtok_r(NULL, " ", &save))
                    argv[n++] = t;
                argv[n] = NULL;
                char why[400];
                if (!cd_cmd_policy_check_argv(&P, argv, why, sizeof why))
                    fail_msg("refused %s %s: %s", type, cmd, why);
                free(copy);
            } else {
                expect_ok(&P, cmd);
            }
            cmds++;
        }
    }
    cd_object_list_free(&objs);
    assert_true(cmds >= 40);   /* the manifests hold about 50 */
}

/* Every `cmd:` of Flagger's e2e scripts (YAML inside shell heredocs). */
static size_t scan_e2e(const char *dir)
{
    size_t cmds = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            cmds += scan_e2e(path);
            continue;
        }
        size_t len;
        char *text = cd_read_file(path, &len);
        if (!text)
            continue;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            char *c = strstr(line, "cmd: ");
            if (!c || strspn(line, " ") != (size_t)(c - line))
                continue;
            c += 5;
            if (!strcmp(c, "|-")) {
                c = strtok(NULL, "\n");
                c += strspn(c, " ");
            } else if (*c == '"') {
                c++;
                c[strcspn(c, "\"")] = 0;
            }
            expect_ok(&P, c);
            cmds++;
        }
        free(text);
    }
    closedir(d);
    return cmds;
}

static void test_flagger_e2e_pass(void **state)
{
    const char *shared = getenv("CANARYD_SHARED");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/conformance/flagger/e2e/test", shared ? shared : "../shared");
    assert_true(scan_e2e(dir) >= 50);
}

static void test_attacks_refused(void **state)
{
    expect_refused(&P, "id>/tmp/x", "redirection");
    expect_refused(&P, "id", "\"id\" is not an allowed command");
    expect_refused(&P, "hey http://x/ >/tmp/x", "redirection");
    expect_refused(&P, "cat /etc/shadow", "\"cat\" is not an allowed command");
    expect_refused(&P, "curl http://x/ | sh", "\"sh\"");
    expect_refused(&P, "curl http://x/; id", "\"id\"");
    expect_refused(&P, "curl http://x/ && bash -c id", "\"bash\"");
    expect_refused(&P, "curl http://x/ || python3 -c 1", "\"python3\"");
    expect_refused(&P, "curl http://x/$(id)", "$");
    expect_refused(&P, "curl http://x/`id`", "`");
    expect_refused(&P, "curl \"http://x/$HOME\"", "$");
    expect_refused(&P, "curl \"http://x/`id`\"", "`");
    expect_refused(&P, "hey http://x/ &", "background");
    expect_refused(&P, "(id)", "subshell");
    expect_refused(&P, "{ id; }", "{ }");
    expect_refused(&P, "curl http://x/ <(id)", "redirection");
    expect_refused(&P, "PATH=/tmp curl http://x/", "\"PATH=/tmp\" is not an allowed command");
    expect_refused(&P, "/bin/sh -c id", "\"/bin/sh\"");
    expect_refused(&P, "./hey http://x/", "\"./hey\"");
    expect_refused(&P, "curl http://x/ \\; id", "backslash");
    expect_refused(&P, "curl 'http://x/", "unterminated single quote");
    expect_refused(&P, "curl \"http://x/", "unterminated double quote");
    expect_refused(&P, "curl http://x/\nid", "\"id\"");
    expect_refused(&P, "| hey", "empty command");
    expect_refused(&P, "eval curl", "\"eval\"");
    expect_refused(&P, "exec hey", "\"exec\"");
    expect_refused(&P, "curl x # ; id", "comments");
    /* quoting keeps operators literal, as sh does */
    expect_ok(&P, "curl -H 'X: a;b|c&&d $x `y` > z' http://x/");
    expect_ok(&P, "curl \"http://x/#frag\" | grep -c 'a|b'");
    expect_ok(&P, "hey -z 1m http://x/;");
    expect_ok(&P, "");
}

static void test_allow_more_and_any(void **state)
{
    cd_cmd_policy p;
    char why[200];
    assert_true(cd_cmd_policy_init(&p, "echo, sleep,true", false, NULL, why, sizeof why));
    expect_ok(&p, "echo hi && sleep 1 && true");
    expect_refused(&p, "echo hi > /tmp/x", "redirection");
    cd_cmd_policy_free(&p);
    assert_false(cd_cmd_policy_init(&p, "ok,../x", false, NULL, why, sizeof why));
    assert_non_null(strstr(why, "\"../x\" is not a program name"));
    assert_true(cd_cmd_policy_init(&p, NULL, true, NULL, why, sizeof why));
    expect_ok(&p, "id > /tmp/x; $(whatever)");
    cd_cmd_policy_free(&p);
}

static void expect_argv(const cd_cmd_policy *p, bool ok, const char *reason, ...)
{
    char *argv[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, reason);
    for (char *a; (a = va_arg(ap, char *)) && n < 31;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char why[400] = "";
    bool got = cd_cmd_policy_check_argv(p, argv, why, sizeof why);
    if (got != ok)
        fail_msg("%s %s: got %s (%s)", argv[0], n > 1 ? argv[1] : "", got ? "allowed" : "refused", why);
    if (!ok && reason && !strstr(why, reason))
        fail_msg("%s refused with \"%s\", want \"%s\"", argv[0], why, reason);
}

static void test_namespace_regexp_checks_what_runs(void **state)
{
    regex_t re;
    assert_int_equal(regcomp(&re, "^(test|loadtester)$", REG_EXTENDED | REG_NOSUB), 0);
    cd_cmd_policy p;
    char why[200];
    assert_true(cd_cmd_policy_init(&p, NULL, false, &re, why, sizeof why));
    assert_string_equal(p.own_namespace, "loadtester");
    expect_argv(&p, true, NULL, "helm", "test", "podinfo", "-n", "test", NULL);
    expect_argv(&p, true, NULL, "helm", "test", "podinfo", "--namespace=test", NULL);
    expect_argv(&p, true, NULL, "kubectl", "-ntest", "get", "pods", NULL);
    expect_argv(&p, true, NULL, "helm", "test", "podinfo", "--cleanup", NULL);   /* own namespace */
    expect_argv(&p, false, "\"prod\"", "helm", "test", "podinfo", "-n", "prod", NULL);
    expect_argv(&p, false, "\"kube-system\"", "kubectl", "-n", "test", "--namespace=kube-system",
                "get", "secrets", NULL);
    expect_argv(&p, false, "every namespace", "kubectl", "get", "secrets", "-A", NULL);
    expect_argv(&p, false, "every namespace", "kubectl", "get", "secrets", "--all-namespaces", NULL);
    expect_argv(&p, false, "changes the cluster", "kubectl", "--context", "prod", "-n", "test",
                "get", "pods", NULL);
    expect_argv(&p, false, "changes the cluster", "helm", "--kubeconfig=/x", "ls", "-n", "test", NULL);
    expect_argv(&p, false, "needs a value", "kubectl", "get", "pods", "-n", NULL);
    expect_argv(&p, false, "not an allowed command", "rm", "-rf", "/", NULL);
    /* after "--" the words belong to the command run in the pod */
    expect_argv(&p, true, NULL, "kubectl", "-n", "test", "exec", "x", "--", "sh", "-n", "prod", NULL);
    /* inside shell lines too */
    expect_refused(&p, "curl http://x/ && kubectl -n prod delete deploy x", "\"prod\"");
    expect_ok(&p, "curl http://x/ && kubectl -n test rollout status deploy/x");
    cd_cmd_policy_free(&p);
    setenv("POD_NAMESPACE", "elsewhere", 1);
    assert_true(cd_cmd_policy_init(&p, NULL, false, &re, why, sizeof why));
    expect_argv(&p, false, "the load tester's own", "helm", "test", "podinfo", NULL);
    cd_cmd_policy_free(&p);
    setenv("POD_NAMESPACE", "loadtester", 1);
    regfree(&re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flagger_manifests_pass),
        cmocka_unit_test(test_flagger_e2e_pass),
        cmocka_unit_test(test_attacks_refused),
        cmocka_unit_test(test_allow_more_and_any),
        cmocka_unit_test(test_namespace_regexp_checks_what_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
