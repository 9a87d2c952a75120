/* hooks.h - Flagger's webhooks (reference §4.1, §4.3): the JSON payload,
 * the checksum, one call with retries (exponential backoff honouring
 * Retry-After, as go-retryablehttp), success on status <= 202, and the
 * cd_hooks_port built on them (gates, rollout hooks, event webhooks and
 * the global event webhook).
 *
 * A call never takes longer than the hook's timeout: the timeout bounds
 * every attempt and every wait together, as Flagger's context does. */
#ifndef CD_HOOKS_HOOKS_H
#define CD_HOOKS_HOOKS_H
#include "model/canary.h"
#include "ports.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cd_hooks_config {
    /* The global event webhook (-event-webhook); the environment variable
     * EVENT_WEBHOOK_URL wins over it, as in Flagger. May be NULL. */
    const char *event_webhook;
    int64_t backoff_min_ms;             /* 0: 1 s */
    int64_t backoff_max_ms;             /* 0: 30 s */
    /* How to wait between attempts; NULL: really sleep. Tests record. */
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *sleep_ctx;
    int64_t (*now_ms)(void);            /* event timestamps; NULL: wall clock */
    const char *ca_file;                /* extra trusted CA; may be NULL */
} cd_hooks_config;

/* Flagger's checksum of (status.trackedConfigs, status.lastAppliedSpec):
 * cd_json_hash of the JSON [trackedConfigs or null, lastAppliedSpec]. It
 * changes when either changes, but is not byte-identical to Go Flagger's. */
void cd_webhook_checksum(const cd_canary_status *s, char out[16]);

/* {"name","namespace","phase","checksum","metadata"} with metadata keys
 * sorted and metadata omitted when empty. New reference. */
json_t *cd_webhook_payload(const char *name, const char *namespace_, cd_phase phase,
                           const char *checksum, const cd_strmap *metadata);

/* The payload of an event webhook: metadata eventMessage, eventType,
 * timestamp (unix ms as a string) plus the hook's own keys that do not
 * collide. */
json_t *cd_event_payload(const char *name, const char *namespace_, cd_phase phase,
                         const char *checksum, const cd_strmap *hook_metadata,
                         const char *event_type, const char *message, int64_t now_ms);

typedef struct cd_webhook_result {
    long status;        /* last HTTP status, 0 when none */
    int attempts;
} cd_webhook_result;

/* POSTs payload to url. True when the answer is a status <= 202. On
 * failure err is the response body (non-retriable status) or
 * "POST <url> giving up after N attempt(s): ...". */
bool cd_webhook_post(const cd_hooks_config *cfg, const char *url, int64_t timeout_ms, int retries,
                     bool disable_tls, const json_t *payload, cd_webhook_result *res, cd_err *err);

/* The port. cfg must outlive it; release frees what make took. */
cd_hooks_port cd_hooks_port_make(const cd_hooks_config *cfg);
void cd_hooks_port_release(cd_hooks_port *p);

#endif
