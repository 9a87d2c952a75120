/* test_util_redact.c - src/util/redact.c: every rule of cd_redact_url
 * (userinfo, query values, fragments, the webhook URLs of Slack, Discord,
 * Teams, Power Automate, Google Chat and Rocket.Chat, token-like path
 * segments, CD_REDACT_PATH, text without a scheme), what it must keep
 * (hosts, ports, ordinary paths, Kubernetes API paths), secret header
 * names, and cd_redact_text on error messages, command lines, JSON and
 * response excerpts; truncation never overruns and never leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/redact.h"

static void url_is(const char *in, unsigned flags, const char *want)
{
    char out[512];
    cd_redact_url(in, flags, out, sizeof out);
    if (strcmp(out, want))
        fail_msg("cd_redact_url(\"%s\", %u) = \"%s\", want \"%s\"", in, flags, out, want);
    char *d = cd_redact_url_dup(in, flags);
    assert_string_equal(d, want);
    free(d);
}

static void test_url_rules(void **state)
{
    /* userinfo, query values, fragment */
    url_is("https://user:s3cr3t@prom.example:9090/api/v1/query?query=up&time=1", 0,
           "https://REDACTED@prom.example:9090/api/v1/query?query=REDACTED&time=REDACTED");
    url_is("http://token@h/", 0, "http://REDACTED@h/");
    url_is("https://h/p?token=abc&api_key=xyz&empty=&flag", 0,
           "https://h/p?token=REDACTED&api_key=REDACTED&empty=&flag");
    url_is("https://h/cb#access_token=abc", 0, "https://h/cb#REDACTED");
    /* webhook hosts */
    url_is("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", 0,
           "https://hooks.slack.com/services/REDACTED/REDACTED/REDACTED");
    url_is("https://discord.com/api/webhooks/123456789/abcdefABCDEF-123_xyz/slack", 0,
           "https://discord.com/api/webhooks/REDACTED/REDACTED/slack");
    url_is("https://discordapp.com/api/webhooks/1/t", 0,
           "https://discordapp.com/api/webhooks/REDACTED/REDACTED");
    url_is("https://contoso.webhook.office.com/webhookb2/a-b@c-d/IncomingWebhook/e1/f-2", 0,
           "https://contoso.webhook.office.com/webhookb2/REDACTED/IncomingWebhook/REDACTED/"
           "REDACTED");
    url_is("https://prod-1.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/"
           "invoke?api-version=2016-06-01&sig=SIG",
           0,
           "https://prod-1.westus.logic.azure.com:443/workflows/REDACTED/triggers/manual/paths/"
           "invoke?api-version=REDACTED&sig=REDACTED");
    url_is("https://chat.googleapis.com/v1/spaces/AAAA/messages?key=K&token=T", 0,
           "https://chat.googleapis.com/v1/spaces/REDACTED/messages?key=REDACTED&token=REDACTED");
    /* Rocket.Chat and any host: after a hooks segment */
    url_is("https://rocket.example.com/hooks/abc/def", 0,
           "https://rocket.example.com/hooks/REDACTED/REDACTED");
    /* token-like segments anywhere */
    url_is("http://127.0.0.1:8080/services/T1/B1/Zq8vR2mK9pL4xW7nC3hJ6tY1", 0,
           "http://127.0.0.1:8080/services/T1/B1/REDACTED");
    url_is("http://h/x/123e4567-e89b-12d3-a456-426614174000/y", 0, "http://h/x/REDACTED/y");
    url_is("http://h/x/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig/y", 0, "http://h/x/REDACTED/y");
    /* the whole path */
    url_is("http://127.0.0.1:8080/services/T1/B1/plain", CD_REDACT_PATH,
           "http://127.0.0.1:8080/REDACTED");
    url_is("http://h:1/", CD_REDACT_PATH, "http://h:1/");
    url_is("http://h:1", CD_REDACT_PATH, "http://h:1");
    /* kept as they are */
    url_is("http://prometheus.istio-system:9090", 0, "http://prometheus.istio-system:9090");
    url_is("http://flagger-loadtester.test/", 0, "http://flagger-loadtester.test/");
    url_is("https://10.0.0.1:6443/apis/apps/v1/namespaces/test/deployments/podinfo-primary", 0,
           "https://10.0.0.1:6443/apis/apps/v1/namespaces/test/deployments/podinfo-primary");
    url_is("http://[::1]:9090/api/v1/query_range", 0, "http://[::1]:9090/api/v1/query_range");
    url_is("/gate/approve", 0, "/gate/approve");
    url_is("", 0, "");
    /* not a URL: read as host/path?query */
    url_is("hooks.slack.com/services/T/B/SECRET", 0,
           "hooks.slack.com/services/REDACTED/REDACTED/REDACTED");
    url_is("user:pw@host:80/x?a=b", 0, "REDACTED@host:80/x?a=REDACTED");
    url_is("ht!tp://u:p@h/p", CD_REDACT_PATH, "ht!tp://REDACTED@h/REDACTED");
    url_is("ht!tp://u:p@h/p", 0, "ht!tp://REDACTED@h/p");
    char out[8] = "x";
    cd_redact_url(NULL, 0, out, sizeof out);
    assert_string_equal(out, "");
    assert_null(cd_redact_url_dup(NULL, 0));
}

static void test_truncation(void **state)
{
    /* a short buffer never holds a secret, only a prefix of the redacted form */
    const char *u = "https://user:SECRETSECRET@h/hooks/T/B/SECRETSECRETSECRET?token=SECRET";
    for (size_t n = 1; n < 80; n++) {
        char out[80];
        memset(out, 'Z', sizeof out);
        cd_redact_url(u, 0, out, n);
        assert_true(strlen(out) < n);
        assert_null(strstr(out, "SECRET"));
        assert_int_equal(out[n], 'Z');      /* nothing written past n */
    }
    cd_redact_url(u, 0, NULL, 0);           /* n == 0 writes nothing */
}

static void test_secret_names(void **state)
{
    static const char *const secret[] = {
        "Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-API-Key",
        "DD-API-KEY", "DD-APPLICATION-KEY", "X-Query-Key", "X-Vault-Token", "api_key", "apikey",
        "access_token", "token", "password", "client_secret", "sig", "X-Auth-Token",
        "Private-Token", "x-amz-security-token", "SessionId", "JSESSIONID", "PHPSESSID",
        "X-Session-Id", "session"};
    static const char *const plain[] = {
        "Content-Type", "Host", "Accept", "X-Forwarded-For", "query", "time", "step",
        "User-Agent", "Content-Length", "monkey", "author", "keyword", "sessionAffinity",
        "cookieName", "primaryCookieName"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (!cd_redact_name_secret(secret[i], strlen(secret[i])))
            fail_msg("%s is a secret name", secret[i]);
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (cd_redact_name_secret(plain[i], strlen(plain[i])))
            fail_msg("%s is not a secret name", plain[i]);
}

static void text_is(const char *in, const char *url, unsigned flags, const char *want)
{
    char out[1024];
    cd_redact_text(in, url, flags, out, sizeof out);
    if (strcmp(out, want))
        fail_msg("cd_redact_text(\"%s\") = \"%s\", want \"%s\"", in, out, want);
}

static void test_text(void **state)
{
    text_is("request to https://u:p@h/x?k=v failed: Connection refused", NULL, 0,
            "request to https://REDACTED@h/x?k=REDACTED failed: Connection refused");
    text_is("see (http://h/a?token=t).", NULL, 0, "see (http://h/a?token=REDACTED).");
    text_is("hey -z 1m -H 'Authorization: Bearer abc.def' http://podinfo.test:9898/", NULL, 0,
            "hey -z 1m -H 'Authorization: REDACTED' http://podinfo.test:9898/");
    text_is("curl -H \"X-API-Key: k123\" -H \"Accept: */*\" http://h/", NULL, 0,
            "curl -H \"X-API-Key: REDACTED\" -H \"Accept: */*\" http://h/");
    text_is("sent Bearer abc123 and Basic dXNlcjpwdw==, Token xyz", NULL, 0,
            "sent Bearer REDACTED and Basic REDACTED, Token REDACTED");
    text_is("login password=hunter2 user=bob api_key=K&x=1", NULL, 0,
            "login password=REDACTED user=bob api_key=REDACTED&x=1");
    text_is("{\"error\":\"bad\",\"token\": \"abcd\",\"ok\":false}", NULL, 0,
            "{\"error\":\"bad\",\"token\": \"REDACTED\",\"ok\":false}");
    /* the secret pieces of the request's URL, wherever they appear */
    text_is("404: no route for /services/T1/B1/plainsecret (plainsecret)",
            "http://127.0.0.1:9/services/T1/B1/plainsecret", CD_REDACT_PATH,
            "404: no route for /REDACTED (REDACTED)");
    text_is("denied for hunter22 at 10:00", "https://bob:hunter22@h/", 0,
            "denied for REDACTED at 10:00");
    text_is("bad value abcdef", "https://h/?q=abcdef", 0, "bad value REDACTED");
    /* left alone */
    text_is("Metric query failed for request-success-rate: no values found", NULL, 0,
            "Metric query failed for request-success-rate: no values found");
    text_is("Content-Type: text/plain", NULL, 0, "Content-Type: text/plain");
    /* a Canary's session affinity settings are not secrets (they read REDACTED in events) */
    text_is("spec.analysis.sessionAffinity: cookieName must be set", NULL, 0,
            "spec.analysis.sessionAffinity: cookieName must be set");
    text_is("token", NULL, 0, "token");
    text_is("", NULL, 0, "");
    char out[4] = "abc";
    cd_redact_text(NULL, NULL, 0, out, sizeof out);
    assert_string_equal(out, "");
    /* truncated output holds no secret */
    for (size_t n = 1; n < 40; n++) {
        char o[40];
        cd_redact_text("Authorization: Bearer SECRETSECRET", NULL, 0, o, n);
        assert_null(strstr(o, "SECRET"));
        assert_true(strlen(o) < n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rules), cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_secret_names), cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
