/* hooks_port.c - cd_hooks_port on top of webhook.c: gate and rollout
 * hooks (one POST per call) and event webhooks (every `type: event` hook
 * of the canary, else the global event webhook). Failures of event
 * webhooks are logged, never returned: events must not block a tick. */
#include "hooks/hooks.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <stdlib.h>
#include <string.h>

typedef struct hooks_ctx {
    const cd_hooks_config *cfg;
    char *global_event;     /* EVENT_WEBHOOK_URL or -event-webhook; NULL: none */
} hooks_ctx;

static void canary_key(const cd_canary_ref *c, char *out, size_t n)
{
    snprintf(out, n, "%s.%s", c->meta->name ? c->meta->name : "",
             c->meta->namespace_ ? c->meta->namespace_ : "");
}

static bool port_call(void *ctx, const cd_canary_ref *c, const cd_webhook *w, cd_phase phase,
                      cd_err *err)
{
    hooks_ctx *h = ctx;
    char sum[16];
    cd_webhook_checksum(c->status, sum);
    json_t *p = cd_webhook_payload(c->meta->name, c->meta->namespace_, phase, sum, &w->metadata);
    bool ok = cd_webhook_post(h->cfg, w->url, w->timeout_ms, w->retries, w->disable_tls, p, NULL,
                              err);
    json_decref(p);
    return ok;
}

static void post_event(hooks_ctx *h, const cd_canary_ref *c, const char *url, int64_t timeout_ms,
                       int retries, bool disable_tls, const cd_strmap *md, cd_phase phase,
                       const char *event_type, const char *message)
{
    char sum[16], key[256];
    cd_webhook_checksum(c->status, sum);
    int64_t now = h->cfg && h->cfg->now_ms ? h->cfg->now_ms() : cd_wall_ms();
    json_t *p = cd_event_payload(c->meta->name, c->meta->namespace_, phase, sum, md, event_type,
                                 message, now);
    cd_err err = {""};
    if (!cd_webhook_post(h->cfg, url, timeout_ms, retries, disable_tls, p, NULL, &err)) {
        canary_key(c, key, sizeof key);
        cd_logf(CD_LOG_ERROR, key, "error sending event to webhook: %s", err.msg);
    }
    json_decref(p);
}

static void port_send_event(void *ctx, const cd_canary_ref *c, cd_phase phase,
                            const char *event_type, const char *message)
{
    hooks_ctx *h = ctx;
    bool override = false;
    const cd_analysis *a = &c->spec->analysis;
    for (size_t i = 0; i < a->n_webhooks; i++) {
        const cd_webhook *w = &a->webhooks[i];
        if (w->type != CD_HOOK_EVENT)
            continue;
        override = true;
        post_event(h, c, w->url, w->timeout_ms, w->retries, w->disable_tls, &w->metadata, phase,
                   event_type, message);
    }
    if (!override && h->global_event)
        post_event(h, c, h->global_event, 10000, 0, false, NULL, phase, event_type, message);
}

cd_hooks_port cd_hooks_port_make(const cd_hooks_config *cfg)
{
    hooks_ctx *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->cfg = cfg;
    const char *env = getenv("EVENT_WEBHOOK_URL");
    const char *global = env && *env ? env : cfg ? cfg->event_webhook : NULL;
    if (global && *global && !(h->global_event = strdup(global)))
        abort();
    cd_hooks_port p = {h, port_call, port_send_event};
    return p;
}

void cd_hooks_port_release(cd_hooks_port *p)
{
    hooks_ctx *h = p->ctx;
    if (h) {
        free(h->global_event);
        free(h);
    }
    memset(p, 0, sizeof *p);
}
