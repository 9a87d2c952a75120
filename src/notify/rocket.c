/* rocket.c - Rocket.Chat's incoming webhook: the Slack payload with
 * Rocket's colors (#0076D7, #FF0000 for errors). */
#include "notify/notify.h"

json_t *cd_slack_like_payload(const cd_notify_target *t, const cd_alert_msg *m, const char *color);

static json_t *rocket_payload(const cd_notify_target *t, const cd_alert_msg *m)
{
    return cd_slack_like_payload(t, m, m->severity == CD_SEV_ERROR ? "#FF0000" : "#0076D7");
}

const cd_notifier_type cd_notifier_rocket = {"rocket", true, rocket_payload, NULL};
