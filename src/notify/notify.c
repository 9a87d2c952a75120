/* notify.c - the notifier table, target validation and the POST of one
 * notification. No vendor formats here (one file per notifier). */
#include "notify/notify.h"
#include "util/redact.h"
#include "net/http.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const cd_notifier_type cd_notifier_slack;
extern const cd_notifier_type cd_notifier_msteams;
extern const cd_notifier_type cd_notifier_discord;
extern const cd_notifier_type cd_notifier_rocket;
extern const cd_notifier_type cd_notifier_gchat;

static const cd_notifier_type *const types[] = {
    &cd_notifier_slack, &cd_notifier_msteams, &cd_notifier_discord, &cd_notifier_rocket,
    &cd_notifier_gchat,
};

const cd_notifier_type *cd_notifier_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (name && !strcmp(types[i]->name, name))
            return types[i];
    return NULL;
}

static const char *display_name(const char *type)
{
    if (!strcmp(type, "slack"))
        return "Slack";
    if (!strcmp(type, "msteams"))
        return "MS Teams";
    if (!strcmp(type, "discord"))
        return "Discord";
    if (!strcmp(type, "rocket"))
        return "Rocket";
    if (!strcmp(type, "gchat"))
        return "Google Chat";
    return type;
}

bool cd_notify_target_valid(const cd_notify_target *t, cd_err *err)
{
    const cd_notifier_type *nt = cd_notifier_type_find(t->type);
    if (!nt) {
        cd_errfmt(err, "provider type %s not supported", t->type ? t->type : "\"\"");
        return false;
    }
    const char *dn = display_name(nt->name);
    if (!cd_http_url_valid(t->url)) {
        char shown[256];
        cd_redact_url(t->url ? t->url : "", CD_REDACT_PATH, shown, sizeof shown);
        cd_errfmt(err, "invalid %s %s URL %s", dn,
                  !strcmp(nt->name, "slack") || !strcmp(nt->name, "discord") ||
                          !strcmp(nt->name, "rocket")
                      ? "hook"
                      : "webhook",
                  shown);
        return false;
    }
    if (nt->needs_user_and_channel && (!t->username || !*t->username)) {
        cd_errfmt(err, "empty %s username", dn);
        return false;
    }
    if (nt->needs_user_and_channel && (!t->channel || !*t->channel)) {
        cd_errfmt(err, "empty %s channel", dn);
        return false;
    }
    if (t->proxy && *t->proxy && !cd_http_url_valid(t->proxy) && strncmp(t->proxy, "socks", 5)) {
        char shown[256];
        cd_redact_url(t->proxy, 0, shown, sizeof shown);
        cd_errfmt(err, "unable to parse proxy URL '%s'", shown);
        return false;
    }
    return true;
}

/* With an API token, Slack answers 200 {"ok":false,"error":"..."} on failure. */
static bool slack_api_ok(const cd_http_response *rs, cd_err *err)
{
    json_t *j = json_loadb(rs->body.data, rs->body.len, 0, NULL);
    bool ok = true;
    if (json_is_object(j) && json_is_false(json_object_get(j, "ok"))) {
        const char *e = json_string_value(json_object_get(j, "error"));
        cd_errfmt(err, "sending notification failed: %s", e ? e : "ok=false");
        ok = false;
    }
    json_decref(j);
    return ok;
}

bool cd_notify_send(const cd_notify_target *t, const cd_alert_msg *m, int64_t timeout_ms,
                    const char *ca_file, cd_err *err)
{
    if (!cd_notify_target_valid(t, err))
        return false;
    const cd_notifier_type *nt = cd_notifier_type_find(t->type);
    json_t *payload = nt->payload(t, m);
    char *body = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    char *url = nt->post_url ? nt->post_url(t) : NULL;
    cd_http_request rq;
    cd_http_request_init(&rq, "POST", url ? url : t->url);
    rq.body = body;
    rq.body_len = strlen(body);
    rq.timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    rq.proxy = t->proxy && *t->proxy ? t->proxy : NULL;
    rq.ca_file = ca_file;
    rq.follow_redirects = true;
    rq.secret_path = true;      /* the hook's token is in its path */
    bool is_slack = !strcmp(nt->name, "slack");
    if (is_slack && t->token && *t->token)
        rq.bearer = t->token;
    cd_http_add_header(&rq, "Content-Type", "application/json", NULL);
    cd_http_response rs;
    bool ok = cd_http_perform(&rq, &rs, err);
    if (!ok) {
        cd_errprefix(err, "sending notification failed");
    } else if (rs.status < 200 || rs.status > 299) {
        char ex[300];
        cd_http_excerpt(rs.body.data, rs.body.len, ex, sizeof ex);
        cd_errfmt(err, "sending notification failed: HTTP %ld: %s", rs.status,
                  *ex ? ex : "(empty body)");
        ok = false;
    } else if (is_slack && rq.bearer) {
        ok = slack_api_ok(&rs, err);
    }
    if (!ok && err) {
        /* the answer may quote the URL it was sent to */
        char raw[sizeof err->msg];
        snprintf(raw, sizeof raw, "%s", err->msg);
        cd_redact_text(raw, url ? url : t->url, CD_REDACT_PATH, err->msg, sizeof err->msg);
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    free(url);
    free(body);
    return ok;
}
