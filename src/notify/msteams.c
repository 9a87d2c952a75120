/* msteams.c - Microsoft Teams' incoming webhook: a MessageCard with one
 * section (activityTitle = message, activitySubtitle = name.namespace,
 * facts = fields), themeColor 0076D7 or FF0000 for errors. */
#include "notify/notify.h"

static json_t *teams_payload(const cd_notify_target *t, const cd_alert_msg *m)
{
    char who[512];
    snprintf(who, sizeof who, "%s.%s", m->workload, m->namespace_);
    json_t *facts = json_array();
    for (size_t i = 0; i < m->n_fields; i++)
        json_array_append_new(facts, json_pack("{s:s, s:s}", "name", m->fields[i].name, "value",
                                               m->fields[i].value));
    json_t *section = json_pack("{s:s, s:s, s:o}", "activityTitle", m->message ? m->message : "",
                                "activitySubtitle", who, "facts", facts);
    return json_pack("{s:s, s:s, s:s, s:s, s:[o]}", "@type", "MessageCard", "@context",
                     "http://schema.org/extensions", "themeColor",
                     m->severity == CD_SEV_ERROR ? "FF0000" : "0076D7", "summary", who, "sections",
                     section);
}

const cd_notifier_type cd_notifier_msteams = {"msteams", false, teams_payload, NULL};
