/* gchat.c - Google Chat's incoming webhook: one card with a "Flagger"
 * header (subtitle name.namespace), a section with the message and one
 * section per field, in Flagger's markup. */
#include "notify/notify.h"
#include "util/buf.h"
#include <stdlib.h>

static json_t *text_section(const char *text)
{
    return json_pack("{s:[{s:{s:s}}]}", "widgets", "textParagraph", "text", text);
}

static json_t *gchat_payload(const cd_notify_target *t, const cd_alert_msg *m)
{
    char who[512];
    snprintf(who, sizeof who, "%s.%s", m->workload, m->namespace_);
    json_t *sections = json_array();
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "<font color=#848484><strong>%s</strong></font>", m->message ? m->message : "");
    json_array_append_new(sections, text_section(b.data));
    for (size_t i = 0; i < m->n_fields; i++) {
        cd_buf_reset(&b);
        cd_buf_printf(&b, "%s<br><font color=#848484><strong>%s</strong></font>", m->fields[i].name,
                      m->fields[i].value);
        json_array_append_new(sections, text_section(b.data));
    }
    cd_buf_free(&b);
    json_t *header = json_pack("{s:s, s:s, s:s}", "title", "Flagger", "subtitle", who, "imageUrl",
                               "https://flagger.app/favicon.png");
    return json_pack("{s:[{s:o, s:o}]}", "cards", "header", header, "sections", sections);
}

const cd_notifier_type cd_notifier_gchat = {"gchat", false, gchat_payload, NULL};
