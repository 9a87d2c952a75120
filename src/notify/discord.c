/* discord.c - Discord through its Slack-compatible endpoint: the Slack
 * payload posted to <webhook>/slack (appended unless already there). */
#include "notify/notify.h"
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

json_t *cd_slack_like_payload(const cd_notify_target *t, const cd_alert_msg *m, const char *color);

static json_t *discord_payload(const cd_notify_target *t, const cd_alert_msg *m)
{
    return cd_slack_like_payload(t, m, m->severity == CD_SEV_ERROR ? "danger" : "good");
}

static char *discord_url(const cd_notify_target *t)
{
    size_t n = strlen(t->url);
    if (n >= 6 && !strcmp(t->url + n - 6, "/slack"))
        return strdup(t->url);
    CURLU *u = curl_url();
    char *path = NULL, *out = NULL, *result = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, t->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        size_t pl = strlen(path);
        char *np = malloc(pl + 8);
        if (!np)
            abort();
        snprintf(np, pl + 8, "%s%sslack", path, pl && path[pl - 1] == '/' ? "" : "/");
        if (curl_url_set(u, CURLUPART_PATH, np, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
            result = strdup(out);
        free(np);
    }
    curl_free(path);
    curl_free(out);
    curl_url_cleanup(u);
    return result ? result : strdup(t->url);
}

const cd_notifier_type cd_notifier_discord = {"discord", true, discord_payload, discord_url};
