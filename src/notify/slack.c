/* slack.c - Slack's incoming-webhook / chat.postMessage payload: channel,
 * username, :rocket: icon and one attachment (color "good", "danger" for
 * errors; author "name.namespace"; fields as title/value/short=false).
 * slack_attachment_payload is shared with Discord and Rocket.Chat. */
#include "notify/notify.h"

json_t *cd_slack_like_payload(const cd_notify_target *t, const cd_alert_msg *m, const char *color);

json_t *cd_slack_like_payload(const cd_notify_target *t, const cd_alert_msg *m, const char *color)
{
    char author[512];
    snprintf(author, sizeof author, "%s.%s", m->workload, m->namespace_);
    json_t *fields = json_array();
    for (size_t i = 0; i < m->n_fields; i++)
        json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "title", m->fields[i].name,
                                                "value", m->fields[i].value, "short", 0));
    json_t *att = json_pack("{s:s, s:s, s:s, s:[s], s:o}", "color", color, "author_name", author,
                            "text", m->message ? m->message : "", "mrkdwn_in", "text", "fields",
                            fields);
    return json_pack("{s:s, s:s, s:s, s:s, s:[o]}", "channel", t->channel ? t->channel : "",
                     "username", t->username ? t->username : "", "icon_url", "", "icon_emoji",
                     ":rocket:", "attachments", att);
}

static json_t *slack_payload(const cd_notify_target *t, const cd_alert_msg *m)
{
    return cd_slack_like_payload(t, m, m->severity == CD_SEV_ERROR ? "danger" : "good");
}

const cd_notifier_type cd_notifier_slack = {"slack", true, slack_payload, NULL};
