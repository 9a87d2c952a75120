/* test_util_access.c - util/access.h: token files and variables, the
 * constant-time comparison, Authorization parsing (Bearer, Basic from a
 * URL's user:password), the Host/Origin/Content-Type rules of
 * cd_access_check, Unix sockets created with their mode under any umask
 * (never stealing a live one, never unlinking a file), the runtime
 * directory's ownership checks, and the secret variables kept from
 * children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "util/access.h"

static char dir[] = "/tmp/canaryd-access.XXXXXX";

static int setup(void **state) { return mkdtemp(dir) ? 0 : -1; }

static int teardown(void **state)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_token_files(void **state)
{
    char path[300], tok[CD_TOKEN_MAX + 1], err[400];
    bool loose;
    snprintf(path, sizeof path, "%s/t", dir);
    write_file(path, "  abc-123_XYZ \n second line ignored\n", 0600);
    assert_true(cd_token_read_file(path, tok, sizeof tok, &loose, err, sizeof err));
    assert_string_equal(tok, "abc-123_XYZ");
    assert_false(loose);
    chmod(path, 0644);
    assert_true(cd_token_read_file(path, tok, sizeof tok, &loose, err, sizeof err));
    assert_true(loose);
    write_file(path, "\n", 0600);
    assert_false(cd_token_read_file(path, tok, sizeof tok, NULL, err, sizeof err));
    assert_non_null(strstr(err, "is empty"));
    write_file(path, "a b\n", 0600);
    assert_false(cd_token_read_file(path, tok, sizeof tok, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not visible ASCII"));
    char big[CD_TOKEN_MAX + 10];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    write_file(path, big, 0600);
    assert_false(cd_token_read_file(path, tok, sizeof tok, NULL, err, sizeof err));
    assert_non_null(strstr(err, "longer than"));
    /* the error never holds the token itself */
    write_file(path, "tok en-secret\n", 0600);
    assert_false(cd_token_read_file(path, tok, sizeof tok, NULL, err, sizeof err));
    assert_null(strstr(err, "secret"));
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_false(cd_token_read_file(path, tok, sizeof tok, NULL, err, sizeof err));
    assert_non_null(strstr(err, "No such file"));

    setenv("CANARYD_TEST_TOKEN", " from-env ", 1);
    assert_true(cd_token_from_env("CANARYD_TEST_TOKEN", tok, sizeof tok, err, sizeof err));
    assert_string_equal(tok, "from-env");
    unsetenv("CANARYD_TEST_TOKEN");
    assert_false(cd_token_from_env("CANARYD_TEST_TOKEN", tok, sizeof tok, err, sizeof err));
    assert_string_equal(err, "");

    char a[80], b[80];
    assert_true(cd_token_generate(a, sizeof a));
    assert_true(cd_token_generate(b, sizeof b));
    assert_int_equal(strlen(a), 64);
    assert_string_not_equal(a, b);
    snprintf(path, sizeof path, "%s/published.token", dir);
    assert_true(cd_token_write_file(path, a, err, sizeof err));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(cd_token_read_file(path, tok, sizeof tok, &loose, err, sizeof err));
    assert_string_equal(tok, a);
}

static void test_compare_and_authorization(void **state)
{
    assert_true(cd_token_equal("secret", 6, "secret"));
    assert_false(cd_token_equal("secreT", 6, "secret"));
    assert_false(cd_token_equal("secre", 5, "secret"));
    assert_false(cd_token_equal("secretsecret", 12, "secret"));
    assert_false(cd_token_equal("", 0, "secret"));
    assert_false(cd_token_equal("", 0, ""));
    char c[CD_TOKEN_MAX + 1];
    assert_true(cd_authorization_credential("Bearer abc", c, sizeof c));
    assert_string_equal(c, "abc");
    assert_true(cd_authorization_credential("bearer   abc  ", c, sizeof c));
    assert_string_equal(c, "abc");
    /* Basic base64("flagger:s3cret"): what http://flagger:s3cret@host/ sends */
    assert_true(cd_authorization_credential("Basic ZmxhZ2dlcjpzM2NyZXQ=", c, sizeof c));
    assert_string_equal(c, "s3cret");
    /* Basic base64("s3cret:"): curl -u s3cret: and http://s3cret@host/ */
    assert_true(cd_authorization_credential("Basic czNjcmV0Og==", c, sizeof c));
    assert_string_equal(c, "s3cret");
    assert_false(cd_authorization_credential(NULL, c, sizeof c));
    assert_false(cd_authorization_credential("Digest x", c, sizeof c));
    assert_false(cd_authorization_credential("Basic !!!", c, sizeof c));
    assert_false(cd_authorization_credential("Bearer ", c, sizeof c));
}

static void test_host_origin_type(void **state)
{
    assert_true(cd_host_is_local("127.0.0.1:9797"));
    assert_true(cd_host_is_local("10.1.2.3"));
    assert_true(cd_host_is_local("[::1]:9797"));
    assert_true(cd_host_is_local("localhost:1"));
    assert_true(cd_host_is_local("LocalHost."));
    assert_true(cd_host_is_local("app.localhost:80"));
    char self[256];
    gethostname(self, sizeof self);
    assert_true(cd_host_is_local(self));
    assert_false(cd_host_is_local("attacker.example"));
    assert_false(cd_host_is_local("attacker.example:9797"));
    assert_false(cd_host_is_local("localhost.attacker.example"));
    assert_false(cd_host_is_local("[::1"));
    assert_false(cd_host_is_local("a:b:c"));
    assert_false(cd_host_is_local(""));

    assert_true(cd_origin_matches_host(NULL, "x"));
    assert_true(cd_origin_matches_host("http://127.0.0.1:9797", "127.0.0.1:9797"));
    assert_true(cd_origin_matches_host("https://LOCALHOST:1/", "localhost:1"));
    assert_false(cd_origin_matches_host("http://evil.example", "127.0.0.1:9797"));
    assert_false(cd_origin_matches_host("null", "127.0.0.1:9797"));
    assert_false(cd_origin_matches_host("http://127.0.0.1:9798", "127.0.0.1:9797"));
    assert_false(cd_origin_matches_host("http://x", NULL));

    assert_true(cd_media_type_is("application/json", "application/json"));
    assert_true(cd_media_type_is(" Application/JSON; charset=utf-8", "application/json"));
    assert_false(cd_media_type_is("application/jsonx", "application/json"));
    assert_false(cd_media_type_is("text/plain", "application/json"));
    assert_false(cd_media_type_is(NULL, "application/json"));
}

static int check(const cd_access_policy *p, const char *method, const char *host,
                 const char *origin, const char *type, const char *auth)
{
    cd_access_request r = {method, host, origin, type, auth, false};
    char why[300];
    return cd_access_check(p, &r, why, sizeof why);
}

static void test_access_check(void **state)
{
    static const char *const yaml[] = {"application/yaml", NULL};
    cd_access_policy unix_p = {.require_json = true, .extra_types = yaml};
    cd_access_policy tcp_p = {.check_host = true, .token = "tok", .require_json = true};
    /* the CSRF post of the issue: text/plain, foreign Origin and Host */
    assert_int_equal(check(&unix_p, "POST", "attacker.example", "http://evil.example", "text/plain",
                           NULL), 403);
    assert_int_equal(check(&unix_p, "POST", "localhost", NULL, "text/plain", NULL), 415);
    assert_int_equal(check(&unix_p, "POST", "localhost", NULL, NULL, NULL), 415);
    assert_int_equal(check(&unix_p, "POST", "localhost", NULL, "application/json", NULL), 0);
    assert_int_equal(check(&unix_p, "POST", "localhost", NULL, "application/yaml", NULL), 0);
    assert_int_equal(check(&unix_p, "GET", "anything", NULL, NULL, NULL), 0);
    /* over TCP: the token, a local Host */
    assert_int_equal(check(&tcp_p, "GET", "127.0.0.1:1", NULL, NULL, NULL), 401);
    assert_int_equal(check(&tcp_p, "GET", "127.0.0.1:1", NULL, NULL, "Bearer nope"), 401);
    assert_int_equal(check(&tcp_p, "GET", "127.0.0.1:1", NULL, NULL, "Bearer tok"), 0);
    assert_int_equal(check(&tcp_p, "GET", "rebound.example:1", NULL, NULL, "Bearer tok"), 403);
    assert_int_equal(check(&tcp_p, "POST", "127.0.0.1:1", NULL, "application/yaml", "Bearer tok"),
                     415);
    assert_int_equal(check(&tcp_p, "DELETE", "127.0.0.1:1", "http://127.0.0.1:1", "application/json",
                           "Bearer tok"), 0);
}

static void test_unix_socket_modes(void **state)
{
    char path[300], err[400];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    mode_t old = umask(0);
    int fd = cd_listen_unix(path, 0600, 8, false, err, sizeof err);
    umask(old);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a live socket is not taken over */
    assert_int_equal(cd_listen_unix(path, 0600, 8, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "another process is listening"));
    close(fd);
    /* a stale one is replaced, with the mode asked for */
    old = umask(0077);
    fd = cd_listen_unix(path, 0660, 8, true, err, sizeof err);
    umask(old);
    assert_true(fd >= 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    close(fd);
    /* a regular file is never unlinked */
    snprintf(path, sizeof path, "%s/file", dir);
    write_file(path, "keep", 0600);
    assert_int_equal(cd_listen_unix(path, 0600, 8, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a socket"));
    assert_int_equal(access(path, F_OK), 0);
    mode_t m;
    assert_true(cd_parse_socket_mode("0660", &m));
    assert_int_equal(m, 0660);
    assert_true(cd_parse_socket_mode("600", &m));
    assert_int_equal(m, 0600);
    assert_false(cd_parse_socket_mode("0999", &m));
    assert_false(cd_parse_socket_mode("1777", &m));
    assert_false(cd_parse_socket_mode("", &m));
}

static void test_runtime_dir(void **state)
{
    char rt[300], out[4200], err[400];
    snprintf(rt, sizeof rt, "%s/run", dir);
    mkdir(rt, 0700);
    setenv("XDG_RUNTIME_DIR", rt, 1);
    assert_true(cd_runtime_dir(out, sizeof out, err, sizeof err));
    char want[400];
    snprintf(want, sizeof want, "%s/canaryd", rt);
    assert_string_equal(out, want);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_true(cd_default_local_socket(out, sizeof out, err, sizeof err));
    snprintf(want, sizeof want, "%s/canaryd/local.sock", rt);
    assert_string_equal(out, want);
    assert_true(cd_local_token_path("127.0.0.1:9797", out, sizeof out, err, sizeof err));
    snprintf(want, sizeof want, "%s/canaryd/api-127.0.0.1_9797.token", rt);
    assert_string_equal(out, want);
    /* a directory others can enter is refused */
    snprintf(want, sizeof want, "%s/canaryd", rt);
    chmod(want, 0755);
    assert_false(cd_runtime_dir(out, sizeof out, err, sizeof err));
    assert_non_null(strstr(err, "not a private directory"));
    chmod(want, 0700);
    unsetenv("XDG_RUNTIME_DIR");
}

static void test_secret_env(void **state)
{
    assert_true(cd_env_is_secret("CANARYD_TOKEN=x"));
    assert_true(cd_env_is_secret("CANARYD_ROUTER_TOKEN="));
    assert_true(cd_env_is_secret("CANARYD_LOADTESTER_TOKEN=y"));
    assert_false(cd_env_is_secret("CANARYD_TOKENS=x"));
    assert_false(cd_env_is_secret("PATH=/bin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_files),
        cmocka_unit_test(test_compare_and_authorization),
        cmocka_unit_test(test_host_origin_type),
        cmocka_unit_test(test_access_check),
        cmocka_unit_test(test_unix_socket_modes),
        cmocka_unit_test(test_runtime_dir),
        cmocka_unit_test(test_secret_env),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
