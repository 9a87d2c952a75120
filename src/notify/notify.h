/* notify.h - alerts (reference §5): one file per notifier type (slack,
 * msteams, discord, rocket, gchat) behind a table of function pointers
 * that build the vendor's JSON payload; one POST helper; and the
 * cd_notifier_port that resolves a canary's analysis.alerts (AlertProvider
 * from the store, address/token from a secret, proxy, severity routing) or
 * falls back to the global Slack / MS Teams notifier from flags.
 * Sending failures are logged, never raised: alerts never block a tick
 * for longer than their timeout (5 s, as Flagger's). */
#ifndef CD_NOTIFY_NOTIFY_H
#define CD_NOTIFY_NOTIFY_H
#include "lookup/secrets.h"
#include "lookup/store.h"
#include "model/canary.h"
#include "ports.h"
#include <jansson.h>

typedef struct cd_alert_field {
    char name[64];
    char value[256];
} cd_alert_field;

#define CD_ALERT_MAX_FIELDS 8

typedef struct cd_alert_msg {
    const char *workload;           /* the canary's name */
    const char *namespace_;
    const char *message;
    cd_alert_field fields[CD_ALERT_MAX_FIELDS];
    size_t n_fields;
    cd_severity severity;
} cd_alert_msg;

/* Where one notification goes. */
typedef struct cd_notify_target {
    const char *type;               /* slack, msteams, discord, rocket, gchat */
    const char *url;
    const char *username, *channel; /* slack, discord, rocket */
    const char *proxy;              /* may be NULL */
    const char *token;              /* Slack API token (Bearer); may be NULL */
} cd_notify_target;

typedef struct cd_notifier_type {
    const char *name;
    bool needs_user_and_channel;
    /* The JSON body for a message. New reference. */
    json_t *(*payload)(const cd_notify_target *t, const cd_alert_msg *m);
    /* The URL to post to (Discord appends /slack); malloc'd; may be NULL = t->url. */
    char *(*post_url)(const cd_notify_target *t);
} cd_notifier_type;

const cd_notifier_type *cd_notifier_type_find(const char *name);

/* Checks the target as Flagger's constructors do ("invalid Slack hook URL
 * ...", "empty Slack username", ...). */
bool cd_notify_target_valid(const cd_notify_target *t, cd_err *err);

/* Builds the payload and POSTs it (Content-Type application/json, bearer
 * token for Slack, proxy, timeout). True on a 2xx answer (and, with a
 * Slack API token, "ok": true). */
bool cd_notify_send(const cd_notify_target *t, const cd_alert_msg *m, int64_t timeout_ms,
                    const char *ca_file, cd_err *err);

typedef struct cd_notify_config {
    const cd_store *store;          /* AlertProviders; may be NULL */
    const cd_secret_source *secrets;/* may be NULL */
    const char *cluster_name;       /* -cluster-name: a "Cluster" field first; may be NULL */
    /* the global notifier (-slack-*, -msteams-*; see cd_notify_config_env) */
    const char *slack_url, *slack_token, *slack_proxy, *slack_user, *slack_channel;
    const char *msteams_url, *msteams_proxy;
    int64_t timeout_ms;             /* 0: 5 s */
    const char *ca_file;            /* extra trusted CA; may be NULL */
} cd_notify_config;

/* Fills unset global notifier fields from SLACK_URL, SLACK_TOKEN,
 * SLACK_PROXY_URL, SLACK_USER, SLACK_CHANNEL, MSTEAMS_URL and
 * MSTEAMS_PROXY_URL, and slack_user from its default "flagger". */
void cd_notify_config_env(cd_notify_config *c);

/* The fields Flagger attaches (alertMetadata): Target, Failed checks
 * threshold, Progress deadline, Traffic routing; Cluster first when set. */
void cd_alert_fields(const cd_canary_ref *c, bool with_metadata, const char *cluster_name,
                     cd_alert_msg *m);

/* Sends one alert as the port does; returns how many notifications were
 * delivered (failures are logged). */
int cd_notify_alert(const cd_notify_config *cfg, const cd_canary_ref *c, const char *message,
                    bool with_metadata, cd_severity severity);

cd_notifier_port cd_notifier_port_make(const cd_notify_config *cfg);

#endif
