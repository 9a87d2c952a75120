/* test_notify.c - alerts against local receivers checking the payload of
 * each notifier exactly (Slack, Discord, Rocket.Chat, MS Teams, Google
 * Chat), AlertProvider resolution (address and token from a secret),
 * severity routing, the global notifier, the proxy and the metadata
 * fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include "testsrv.h"
#include "model/object.h"
#include "notify/notify.h"

static testsrv srv;

static int setup(void **state) { return testsrv_start(&srv, false) > 0 ? 0 : -1; }
static int teardown(void **state) { testsrv_stop(&srv); return 0; }
static int reset(void **state) { testsrv_reset(&srv); return 0; }

static cd_alert_msg msg(cd_severity sev)
{
    cd_alert_msg m;
    memset(&m, 0, sizeof m);
    m.workload = "podinfo";
    m.namespace_ = "test";
    m.message = "New revision detected, progressing canary analysis.";
    m.severity = sev;
    snprintf(m.fields[0].name, 64, "Target");
    snprintf(m.fields[0].value, 256, "Deployment/podinfo.test");
    snprintf(m.fields[1].name, 64, "Failed checks threshold");
    snprintf(m.fields[1].value, 256, "5");
    m.n_fields = 2;
    return m;
}

static void send_to(const char *type, const char *path, cd_severity sev, const char *token)
{
    cd_notify_target t = {type, testsrv_url(&srv, path), "flagger", "general", NULL, token};
    cd_alert_msg m = msg(sev);
    cd_err err = {""};
    if (!cd_notify_send(&t, &m, 5000, NULL, &err))
        fail_msg("%s: %s", type, err.msg);
}

#define SLACK_BODY(color)                                                                      \
    "{\"channel\":\"general\",\"username\":\"flagger\",\"icon_url\":\"\",\"icon_emoji\":"     \
    "\":rocket:\",\"attachments\":[{\"color\":\"" color "\",\"author_name\":\"podinfo.test\"," \
    "\"text\":\"New revision detected, progressing canary analysis.\",\"mrkdwn_in\":[\"text\"]," \
    "\"fields\":[{\"title\":\"Target\",\"value\":\"Deployment/podinfo.test\",\"short\":false}," \
    "{\"title\":\"Failed checks threshold\",\"value\":\"5\",\"short\":false}]}]}"

static void test_slack(void **state)
{
    send_to("slack", "/services/T/B/X", CD_SEV_INFO, NULL);
    const ts_request *r = &srv.req[0];
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->uri, "/services/T/B/X");
    assert_string_equal(ts_header(r, "Content-Type"), "application/json");
    assert_null(ts_header(r, "Authorization"));
    assert_string_equal(r->body, SLACK_BODY("good"));
    testsrv_reset(&srv);
    send_to("slack", "/api/chat.postMessage", CD_SEV_ERROR, "xoxb-1");
    assert_string_equal(srv.req[0].body, SLACK_BODY("danger"));
    assert_string_equal(ts_header(&srv.req[0], "Authorization"), "Bearer xoxb-1");
    /* with an API token, {"ok":false} is a failure */
    testsrv_reset(&srv);
    testsrv_push(&srv, 200, "{\"ok\":false,\"error\":\"channel_not_found\"}", 0, NULL, NULL);
    cd_notify_target t = {"slack", testsrv_url(&srv, "/api"), "flagger", "general", NULL, "xoxb"};
    cd_alert_msg m = msg(CD_SEV_INFO);
    cd_err err = {""};
    assert_false(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_string_equal(err.msg, "sending notification failed: channel_not_found");
    testsrv_reset(&srv);
    testsrv_push(&srv, 400, "invalid_payload", 0, NULL, NULL);
    assert_false(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_string_equal(err.msg, "sending notification failed: HTTP 400: invalid_payload");
}

static void test_discord_and_rocket(void **state)
{
    send_to("discord", "/api/webhooks/1/abc", CD_SEV_WARN, "ignored");
    assert_string_equal(srv.req[0].uri, "/api/webhooks/1/abc/slack");
    assert_string_equal(srv.req[0].body, SLACK_BODY("good"));
    assert_null(ts_header(&srv.req[0], "Authorization"));   /* tokens are for Slack only */
    testsrv_reset(&srv);
    send_to("discord", "/api/webhooks/1/abc/slack", CD_SEV_ERROR, NULL);
    assert_string_equal(srv.req[0].uri, "/api/webhooks/1/abc/slack");
    assert_string_equal(srv.req[0].body, SLACK_BODY("danger"));
    testsrv_reset(&srv);
    send_to("rocket", "/hooks/x", CD_SEV_INFO, NULL);
    assert_string_equal(srv.req[0].body, SLACK_BODY("#0076D7"));
    testsrv_reset(&srv);
    send_to("rocket", "/hooks/x", CD_SEV_ERROR, NULL);
    assert_string_equal(srv.req[0].body, SLACK_BODY("#FF0000"));
}

static void test_msteams(void **state)
{
    send_to("msteams", "/webhookb2/x", CD_SEV_ERROR, NULL);
    assert_string_equal(
        srv.req[0].body,
        "{\"@type\":\"MessageCard\",\"@context\":\"http://schema.org/extensions\",\"themeColor\":"
        "\"FF0000\",\"summary\":\"podinfo.test\",\"sections\":[{\"activityTitle\":\"New revision "
        "detected, progressing canary analysis.\",\"activitySubtitle\":\"podinfo.test\",\"facts\":"
        "[{\"name\":\"Target\",\"value\":\"Deployment/podinfo.test\"},{\"name\":\"Failed checks "
        "threshold\",\"value\":\"5\"}]}]}");
    testsrv_reset(&srv);
    send_to("msteams", "/webhookb2/x", CD_SEV_WARN, NULL);
    assert_non_null(strstr(srv.req[0].body, "\"themeColor\":\"0076D7\""));
}

static void test_gchat(void **state)
{
    send_to("gchat", "/v1/spaces/x/messages", CD_SEV_INFO, NULL);
    assert_string_equal(
        srv.req[0].body,
        "{\"cards\":[{\"header\":{\"title\":\"Flagger\",\"subtitle\":\"podinfo.test\",\"imageUrl\":"
        "\"https://flagger.app/favicon.png\"},\"sections\":[{\"widgets\":[{\"textParagraph\":{"
        "\"text\":\"<font color=#848484><strong>New revision detected, progressing canary "
        "analysis.</strong></font>\"}}]},{\"widgets\":[{\"textParagraph\":{\"text\":\"Target<br>"
        "<font color=#848484><strong>Deployment/podinfo.test</strong></font>\"}}]},{\"widgets\":"
        "[{\"textParagraph\":{\"text\":\"Failed checks threshold<br><font color=#848484><strong>5"
        "</strong></font>\"}}]}]}]}");
}

static void test_validation(void **state)
{
    cd_alert_msg m = msg(CD_SEV_INFO);
    cd_err err = {""};
    cd_notify_target t = {"slack", "not a url", "flagger", "general", NULL, NULL};
    assert_false(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_string_equal(err.msg, "invalid Slack hook URL not a url");
    t.url = "http://127.0.0.1:1/x";
    t.channel = "";
    assert_false(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_string_equal(err.msg, "empty Slack channel");
    t.type = "pagerduty";
    assert_false(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_string_equal(err.msg, "provider type pagerduty not supported");
    /* a down receiver is an error within the timeout */
    cd_notify_target down = {"msteams", "http://127.0.0.1:1/x", NULL, NULL, NULL, NULL};
    assert_false(cd_notify_send(&down, &m, 2000, NULL, &err));
    assert_non_null(strstr(err.msg, "sending notification failed"));
    assert_int_equal(testsrv_count(&srv), 0);
}

/* A hook's token is in its path: no error text shows it, even when the
 * receiver quotes the URL back or cannot be reached. */
static void test_secrets_redacted(void **state)
{
    cd_alert_msg m = msg(CD_SEV_INFO);
    cd_err err = {""};
    const char *path = "/services/T0AA/B0BB/plainhooksecret1";
    char body[256];
    snprintf(body, sizeof body, "no such hook: %s", path);
    testsrv_push(&srv, 404, body, 0, NULL, NULL);
    cd_notify_target t = {"slack", testsrv_url(&srv, path), "flagger", "general", NULL,
                          "xoxb-bearer-secret-1"};
    assert_false(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_int_equal(testsrv_count(&srv), 1);
    assert_string_equal(srv.req[0].uri, path);       /* the real URL was used */
    assert_non_null(strstr(err.msg, "sending notification failed: HTTP 404"));
    assert_null(strstr(err.msg, "plainhooksecret1"));
    assert_null(strstr(err.msg, "xoxb-bearer-secret-1"));
    assert_non_null(strstr(err.msg, "REDACTED"));
    /* a receiver that is down: the URL in curl's message is redacted too */
    cd_notify_target down = {"rocket", "http://127.0.0.1:1/hooks/plainhookid2/plaintoken2",
                             "flagger", "general", NULL, NULL};
    assert_false(cd_notify_send(&down, &m, 2000, NULL, &err));
    assert_non_null(strstr(err.msg, "http://127.0.0.1:1/REDACTED"));
    assert_null(strstr(err.msg, "plainhookid2"));
    assert_null(strstr(err.msg, "plaintoken2"));
    /* an invalid URL and an invalid proxy URL: shown without their secrets */
    cd_notify_target bad = {"discord", "discord.com/api/webhooks/1/plainsecret3", "flagger",
                            "general", NULL, NULL};
    assert_false(cd_notify_send(&bad, &m, 2000, NULL, &err));
    assert_non_null(strstr(err.msg, "invalid Discord hook URL"));
    assert_null(strstr(err.msg, "plainsecret3"));
    cd_notify_target proxy = {"msteams", "http://127.0.0.1:1/x", NULL, NULL,
                              "ht tp://user:plainproxypass4@proxy:3128", NULL};
    assert_false(cd_notify_send(&proxy, &m, 2000, NULL, &err));
    assert_non_null(strstr(err.msg, "unable to parse proxy URL"));
    assert_null(strstr(err.msg, "plainproxypass4"));
}

static void test_proxy(void **state)
{
    /* the receiver acts as the proxy: it sees the absolute target URL */
    cd_notify_target t = {"msteams", "http://teams.example.invalid/webhook", NULL, NULL,
                          testsrv_url(&srv, ""), NULL};
    cd_alert_msg m = msg(CD_SEV_INFO);
    cd_err err = {""};
    assert_true(cd_notify_send(&t, &m, 5000, NULL, &err));
    assert_string_equal(srv.req[0].uri, "http://teams.example.invalid/webhook");
}

/* ---- the port: resolution, routing, global notifier, fields ---- */

static const char *manifests =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: test}\n"
    "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n"
    "  progressDeadlineSeconds: 120\n  service: {port: 9898}\n"
    "  analysis:\n    interval: 1m\n    threshold: 3\n    stepWeight: 10\n    maxWeight: 40\n"
    "    alerts:\n"
    "    - {name: all, severity: info, providerRef: {name: all}}\n"
    "    - {name: warn, severity: warn, providerRef: {name: warn}}\n"
    "    - {name: err, severity: error, providerRef: {name: err, namespace: ops}}\n"
    "    - {name: viasecret, severity: error, providerRef: {name: viasecret}}\n"
    "    - {name: missing, severity: info, providerRef: {name: missing}}\n"
    "---\napiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: all, namespace: test}\n"
    "spec: {type: slack, channel: releases, username: canaryd, address: \"%s\"}\n"
    "---\napiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: warn, namespace: test}\n"
    "spec: {type: msteams, address: \"%s\"}\n"
    "---\napiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: err, namespace: ops}\n"
    "spec: {type: gchat, address: \"%s\"}\n"
    "---\napiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: viasecret, namespace: test}\n"
    "spec: {type: slack, channel: oncall, secretRef: {name: slack-hook}}\n";

typedef struct fixture {
    cd_object_list objs;
    cd_object *canary;
    cd_store store;
    cd_secret_source secrets;
    cd_local_secrets local;
    char dir[64];
    cd_canary_status status;
    cd_canary_ref ref;
} fixture;

static void load(fixture *f)
{
    char text[8192];
    snprintf(text, sizeof text, manifests, testsrv_url(&srv, "/all"), testsrv_url(&srv, "/warn"),
             testsrv_url(&srv, "/err"));
    cd_diags d;
    cd_diags_init(&d);
    memset(f, 0, sizeof *f);
    cd_manifest_load_buffer("a.yaml", text, strlen(text), false, "test", &f->objs, &d);
    if (cd_diags_errors(&d)) {
        cd_diags_print(&d, stderr);
        fail();
    }
    cd_diags_free(&d);
    f->canary = f->objs.items[0];
    f->store = cd_object_store(&f->objs);
    snprintf(f->dir, sizeof f->dir, "/tmp/canaryd-notify.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char p[256];
    snprintf(p, sizeof p, "%s/test", f->dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/test/slack-hook", f->dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/test/slack-hook/address", f->dir);
    FILE *fp = fopen(p, "w");
    fprintf(fp, "%s\n", testsrv_url(&srv, "/from-secret"));
    fclose(fp);
    snprintf(p, sizeof p, "%s/test/slack-hook/token", f->dir);
    fp = fopen(p, "w");
    fputs("xoxb-secret", fp);
    fclose(fp);
    f->local.dir = f->dir;
    f->secrets = cd_local_secret_source(&f->local);
    cd_status_init(&f->status);
    f->ref.meta = &f->canary->meta;
    f->ref.spec = &f->canary->spec.canary;
    f->ref.status = &f->status;
}

static void unload(fixture *f)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    cd_status_free(&f->status);
    cd_object_list_free(&f->objs);
}

static bool got(const char *uri)
{
    for (size_t i = 0; i < testsrv_count(&srv); i++)
        if (!strcmp(srv.req[i].uri, uri))
            return true;
    return false;
}

static void test_severity_routing_and_resolution(void **state)
{
    fixture f;
    load(&f);
    cd_notify_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.store = &f.store;
    cfg.secrets = &f.secrets;
    cd_notifier_port port = cd_notifier_port_make(&cfg);

    port.alert(port.ctx, &f.ref, "Canary analysis completed successfully, promotion finished.",
               false, CD_SEV_INFO);
    assert_int_equal(testsrv_count(&srv), 1);
    assert_true(got("/all"));
    json_t *b = json_loads(srv.req[0].body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "channel")), "releases");
    assert_string_equal(json_string_value(json_object_get(b, "username")), "canaryd");
    json_decref(b);

    testsrv_reset(&srv);
    assert_int_equal(cd_notify_alert(&cfg, &f.ref, "Canary promotion is waiting for approval.",
                                     false, CD_SEV_WARN), 2);
    assert_true(got("/all"));
    assert_true(got("/warn"));

    /* error: info, warn (receives error), error (other namespace) and the
     * one whose address and token come from a secret */
    testsrv_reset(&srv);
    assert_int_equal(cd_notify_alert(&cfg, &f.ref, "Failed checks threshold reached 3", true,
                                     CD_SEV_ERROR), 4);
    assert_true(got("/all"));
    assert_true(got("/warn"));
    assert_true(got("/err"));
    assert_true(got("/from-secret"));
    for (size_t i = 0; i < testsrv_count(&srv); i++) {
        if (strcmp(srv.req[i].uri, "/from-secret"))
            continue;
        assert_string_equal(ts_header(&srv.req[i], "Authorization"), "Bearer xoxb-secret");
        b = json_loads(srv.req[i].body, 0, NULL);
        json_t *att = json_array_get(json_object_get(b, "attachments"), 0);
        assert_string_equal(json_string_value(json_object_get(att, "color")), "danger");
        json_t *fields = json_object_get(att, "fields");
        assert_int_equal(json_array_size(fields), 4);
        const char *want[4][2] = {{"Target", "Deployment/podinfo.test"},
                                  {"Failed checks threshold", "3"},
                                  {"Progress deadline", "120s"},
                                  {"Traffic routing", "Weight step: 10 max: 40"}};
        for (size_t k = 0; k < 4; k++) {
            json_t *fk = json_array_get(fields, k);
            assert_string_equal(json_string_value(json_object_get(fk, "title")), want[k][0]);
            assert_string_equal(json_string_value(json_object_get(fk, "value")), want[k][1]);
        }
        json_decref(b);
    }
    unload(&f);
}

static void test_global_notifier(void **state)
{
    fixture f;
    load(&f);
    f.canary->spec.canary.analysis.n_alerts = 0;
    cd_notify_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.cluster_name = "prod-eu";
    /* nothing configured: a no-op */
    assert_int_equal(cd_notify_alert(&cfg, &f.ref, "x", true, CD_SEV_ERROR), 0);
    /* Slack needs a channel */
    cfg.slack_url = testsrv_url(&srv, "/global-slack");
    assert_int_equal(cd_notify_alert(&cfg, &f.ref, "x", true, CD_SEV_ERROR), 0);
    cfg.slack_channel = "deploys";
    cd_notify_config_env(&cfg);
    assert_string_equal(cfg.slack_user, "flagger");
    assert_int_equal(cd_notify_alert(&cfg, &f.ref, "Promotion failed", false, CD_SEV_ERROR), 1);
    assert_string_equal(srv.req[0].uri, "/global-slack");
    json_t *b = json_loads(srv.req[0].body, 0, NULL);
    json_t *fields = json_object_get(json_array_get(json_object_get(b, "attachments"), 0), "fields");
    /* the Cluster field comes first, even without metadata */
    assert_int_equal(json_array_size(fields), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 0), "title")),
                        "Cluster");
    assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 0), "value")),
                        "prod-eu");
    json_decref(b);
    /* MS Teams wins when set */
    testsrv_reset(&srv);
    cfg.msteams_url = testsrv_url(&srv, "/global-teams");
    assert_int_equal(cd_notify_alert(&cfg, &f.ref, "x", false, CD_SEV_INFO), 1);
    assert_string_equal(srv.req[0].uri, "/global-teams");
    /* environment variables fill unset flags */
    cd_notify_config e;
    memset(&e, 0, sizeof e);
    setenv("SLACK_URL", "http://from-env.invalid/", 1);
    setenv("SLACK_CHANNEL", "env-channel", 1);
    cd_notify_config_env(&e);
    assert_string_equal(e.slack_url, "http://from-env.invalid/");
    assert_string_equal(e.slack_channel, "env-channel");
    unsetenv("SLACK_URL");
    unsetenv("SLACK_CHANNEL");
    unload(&f);
}

static void test_traffic_routing_field(void **state)
{
    fixture f;
    load(&f);
    cd_alert_msg m;
    memset(&m, 0, sizeof m);
    cd_analysis *a = &f.canary->spec.canary.analysis;
    a->step_weight = 0;
    int steps[] = {5, 10, 50};
    a->step_weights = steps;
    a->n_step_weights = 3;
    cd_alert_fields(&f.ref, true, NULL, &m);
    assert_string_equal(m.fields[3].value, "Weight steps: 5,10,50 max: 50");
    a->n_step_weights = 0;
    a->iterations = 10;
    cd_alert_fields(&f.ref, true, NULL, &m);
    assert_string_equal(m.fields[3].value, "Blue/Green");
    a->n_match = 1;
    cd_alert_fields(&f.ref, true, NULL, &m);
    assert_string_equal(m.fields[3].value, "A/B Testing");
    cd_alert_fields(&f.ref, false, NULL, &m);
    assert_int_equal(m.n_fields, 0);
    a->n_match = 0;
    unload(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_slack, reset),
        cmocka_unit_test_setup(test_discord_and_rocket, reset),
        cmocka_unit_test_setup(test_msteams, reset),
        cmocka_unit_test_setup(test_gchat, reset),
        cmocka_unit_test_setup(test_validation, reset),
        cmocka_unit_test_setup(test_secrets_redacted, reset),
        cmocka_unit_test_setup(test_proxy, reset),
        cmocka_unit_test_setup(test_severity_routing_and_resolution, reset),
        cmocka_unit_test_setup(test_global_notifier, reset),
        cmocka_unit_test_setup(test_traffic_routing_field, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
