/* notifier_port.c - the cd_notifier_port: Flagger's alert() (§5). For a
 * canary with analysis.alerts, each alert whose severity routing accepts
 * the message resolves its AlertProvider (store), address and token
 * (secret) and posts; otherwise the global notifier posts. Errors are
 * logged with Flagger's texts and never returned. */
#include "notify/notify.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>

#define SLACK_API_URL "https://slack.com/api/chat.postMessage"

static void set_env(const char **field, const char *name)
{
    if (!*field || !**field) {
        const char *v = getenv(name);
        if (v && *v)
            *field = v;
    }
}

void cd_notify_config_env(cd_notify_config *c)
{
    set_env(&c->slack_url, "SLACK_URL");
    set_env(&c->slack_token, "SLACK_TOKEN");
    set_env(&c->slack_proxy, "SLACK_PROXY_URL");
    set_env(&c->slack_user, "SLACK_USER");
    set_env(&c->slack_channel, "SLACK_CHANNEL");
    set_env(&c->msteams_url, "MSTEAMS_URL");
    set_env(&c->msteams_proxy, "MSTEAMS_PROXY_URL");
    if (!c->slack_user || !*c->slack_user)
        c->slack_user = "flagger";
}

static void add_field(cd_alert_msg *m, const char *name, const char *value)
{
    if (m->n_fields >= CD_ALERT_MAX_FIELDS)
        return;
    snprintf(m->fields[m->n_fields].name, sizeof m->fields[0].name, "%s", name);
    snprintf(m->fields[m->n_fields].value, sizeof m->fields[0].value, "%s", value);
    m->n_fields++;
}

void cd_alert_fields(const cd_canary_ref *c, bool with_metadata, const char *cluster_name,
                     cd_alert_msg *m)
{
    m->n_fields = 0;
    if (cluster_name && *cluster_name)
        add_field(m, "Cluster", cluster_name);
    if (!with_metadata)
        return;
    const cd_canary_spec *s = c->spec;
    const cd_analysis *a = &s->analysis;
    char v[256];
    snprintf(v, sizeof v, "%s/%s.%s", s->target_ref.kind ? s->target_ref.kind : "",
             s->target_ref.name ? s->target_ref.name : "",
             c->meta->namespace_ ? c->meta->namespace_ : "");
    add_field(m, "Target", v);
    snprintf(v, sizeof v, "%d", a->threshold > 0 ? a->threshold : 1);
    add_field(m, "Failed checks threshold", v);
    snprintf(v, sizeof v, "%ds", s->progress_deadline_seconds > 0 ? s->progress_deadline_seconds
                                                                  : 600);
    add_field(m, "Progress deadline", v);
    if (a->step_weight > 0) {
        snprintf(v, sizeof v, "Weight step: %d max: %d", a->step_weight, cd_analysis_max_weight(a));
        add_field(m, "Traffic routing", v);
    } else if (a->n_step_weights > 0) {
        size_t o = (size_t)snprintf(v, sizeof v, "Weight steps: ");
        for (size_t i = 0; i < a->n_step_weights && o < sizeof v; i++)
            o += (size_t)snprintf(v + o, sizeof v - o, "%s%d", i ? "," : "", a->step_weights[i]);
        if (o < sizeof v)
            snprintf(v + o, sizeof v - o, " max: %d", cd_analysis_max_weight(a));
        add_field(m, "Traffic routing", v);
    } else if (a->n_match > 0) {
        add_field(m, "Traffic routing", "A/B Testing");
    } else if (a->iterations > 0) {
        add_field(m, "Traffic routing", "Blue/Green");
    }
}

/* Flagger's severity routing: an info alert receives everything; others
 * their own severity, and warn also receives error. An alert written with
 * an empty severity is decoded as info (docs/alerts.md). */
static bool routes(cd_severity alert, cd_severity msg)
{
    if (alert == CD_SEV_INFO)
        return true;
    return alert == msg || (alert == CD_SEV_WARN && msg == CD_SEV_ERROR);
}

static void key_of(const cd_canary_ref *c, char *out, size_t n)
{
    snprintf(out, n, "%s.%s", c->meta->name ? c->meta->name : "",
             c->meta->namespace_ ? c->meta->namespace_ : "");
}

static int send_global(const cd_notify_config *cfg, const cd_canary_ref *c, const cd_alert_msg *m)
{
    char key[256];
    key_of(c, key, sizeof key);
    cd_notify_target t;
    memset(&t, 0, sizeof t);
    if (cfg->msteams_url && *cfg->msteams_url) {
        t.type = "msteams";
        t.url = cfg->msteams_url;
        t.proxy = cfg->msteams_proxy;
    } else if ((cfg->slack_url && *cfg->slack_url) || (cfg->slack_token && *cfg->slack_token)) {
        t.type = "slack";
        t.url = cfg->slack_url && *cfg->slack_url ? cfg->slack_url : SLACK_API_URL;
        t.token = cfg->slack_token;
        t.proxy = cfg->slack_proxy;
        t.username = cfg->slack_user && *cfg->slack_user ? cfg->slack_user : "flagger";
        t.channel = cfg->slack_channel;
    } else {
        return 0;   /* no global notifier: a no-op, as Flagger's NopNotifier */
    }
    cd_err err = {""};
    if (!cd_notify_send(&t, m, cfg->timeout_ms, cfg->ca_file, &err)) {
        cd_logf(CD_LOG_ERROR, key, "alert can't be sent: %s", err.msg);
        return 0;
    }
    return 1;
}

static int send_alert(const cd_notify_config *cfg, const cd_canary_ref *c, const cd_alert *al,
                      const cd_alert_msg *m)
{
    char key[256];
    key_of(c, key, sizeof key);
    const char *ns = al->provider_namespace && *al->provider_namespace ? al->provider_namespace
                                                                        : c->meta->namespace_;
    const char *name = al->provider_name ? al->provider_name : "";
    cd_err err = {""};
    const cd_alert_provider_spec *p = cd_store_find_alert_provider(cfg->store, ns, name, &err);
    if (!p) {
        cd_logf(CD_LOG_ERROR, key, "alert provider %s.%s error: %s", name, ns, err.msg);
        return 0;
    }
    cd_notify_target t;
    memset(&t, 0, sizeof t);
    t.type = p->type;
    t.url = p->address;
    t.proxy = p->proxy;
    t.username = p->username && *p->username ? p->username : "flagger";
    t.channel = p->channel && *p->channel ? p->channel : "general";
    cd_secret secret;
    bool have_secret = false;
    if (p->secret_ref && *p->secret_ref) {
        cd_secret_init(&secret, p->secret_ref);
        have_secret = true;
        if (cd_secret_load(cfg->secrets, ns, p->secret_ref, &secret, &err) != CD_SECRET_FOUND) {
            cd_logf(CD_LOG_ERROR, key, "alert provider %s.%s secretRef error: %s", name, ns, err.msg);
            cd_secret_free(&secret);
            return 0;
        }
        const cd_secret_entry *addr = cd_secret_get(&secret, "address");
        if (!addr) {
            cd_logf(CD_LOG_ERROR, key, "alert provider %s.%s secret does not contain an address",
                    name, ns);
            cd_secret_free(&secret);
            return 0;
        }
        t.url = addr->value;
        const cd_secret_entry *tok = cd_secret_get(&secret, "token");
        if (tok)
            t.token = tok->value;
    }
    int sent = 1;
    if (!cd_notify_send(&t, m, cfg->timeout_ms, cfg->ca_file, &err)) {
        cd_logf(CD_LOG_ERROR, key, "alert provider %s.%s send error: %s", name, ns, err.msg);
        sent = 0;
    }
    if (have_secret)
        cd_secret_free(&secret);
    return sent;
}

int cd_notify_alert(const cd_notify_config *cfg, const cd_canary_ref *c, const char *message,
                    bool with_metadata, cd_severity severity)
{
    cd_alert_msg m;
    memset(&m, 0, sizeof m);
    m.workload = c->meta->name ? c->meta->name : "";
    m.namespace_ = c->meta->namespace_ ? c->meta->namespace_ : "";
    m.message = message;
    m.severity = severity;
    cd_alert_fields(c, with_metadata, cfg->cluster_name, &m);
    const cd_analysis *a = &c->spec->analysis;
    if (a->n_alerts == 0)
        return send_global(cfg, c, &m);
    int sent = 0;
    for (size_t i = 0; i < a->n_alerts; i++)
        if (routes(a->alerts[i].severity, severity))
            sent += send_alert(cfg, c, &a->alerts[i], &m);
    return sent;
}

static void port_alert(void *ctx, const cd_canary_ref *c, const char *message, bool with_metadata,
                       cd_severity severity)
{
    cd_notify_alert(ctx, c, message, with_metadata, severity);
}

cd_notifier_port cd_notifier_port_make(const cd_notify_config *cfg)
{
    cd_notifier_port p = {(void *)cfg, port_alert};
    return p;
}
