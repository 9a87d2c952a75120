/* webhook.c - webhook payloads, checksum and the POST with retries (see
 * hooks.h). The retry policy is go-retryablehttp's: retry connection
 * errors, 429 and 5xx except 501; wait min * 2^attempt capped at max, or
 * Retry-After on 429/503; everything within the hook's timeout. */
#include "hooks/hooks.h"
#include "util/redact.h"
#include "model/object.h"
#include "net/http.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cd_webhook_checksum(const cd_canary_status *s, char out[16])
{
    json_t *tracked = json_null();
    if (s->has_tracked_configs) {
        tracked = json_object();
        for (size_t i = 0; i < s->n_tracked; i++)
            json_object_set_new(tracked, s->tracked[i].key, json_string(s->tracked[i].checksum));
    }
    json_t *pair = json_pack("[o,s]", tracked, s->last_applied_spec);
    cd_json_hash(pair, out);
    json_decref(pair);
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    return strcmp((*(const cd_kv *const *)a)->key, (*(const cd_kv *const *)b)->key);
}

/* Go marshals a map with its keys sorted. */
static void set_sorted(json_t *obj, const cd_strmap *m, bool keep_existing)
{
    if (!m || !m->n)
        return;
    const cd_kv **items = malloc(m->n * sizeof *items);
    if (!items)
        abort();
    for (size_t i = 0; i < m->n; i++)
        items[i] = &m->items[i];
    qsort(items, m->n, sizeof *items, cmp_kv_ptr);
    for (size_t i = 0; i < m->n; i++) {
        if (keep_existing && json_object_get(obj, items[i]->key))
            continue;
        json_object_set_new(obj, items[i]->key, json_string(items[i]->value ? items[i]->value : ""));
    }
    free(items);
}

json_t *cd_webhook_payload(const char *name, const char *ns, cd_phase phase, const char *checksum,
                           const cd_strmap *metadata)
{
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(name ? name : ""));
    json_object_set_new(p, "namespace", json_string(ns ? ns : ""));
    json_object_set_new(p, "phase", json_string(cd_phase_name(phase)));
    json_object_set_new(p, "checksum", json_string(checksum ? checksum : ""));
    if (metadata && metadata->n) {
        json_t *md = json_object();
        set_sorted(md, metadata, false);
        json_object_set_new(p, "metadata", md);
    }
    return p;
}

json_t *cd_event_payload(const char *name, const char *ns, cd_phase phase, const char *checksum,
                         const cd_strmap *hook_metadata, const char *event_type,
                         const char *message, int64_t now_ms)
{
    json_t *p = cd_webhook_payload(name, ns, phase, checksum, NULL);
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)now_ms);
    /* keys in Go's sorted order: eventMessage, eventType, timestamp and the
     * hook's keys merged in order */
    cd_kv base[3] = {{"eventMessage", message ? message : ""},
                     {"eventType", event_type ? event_type : "Normal"},
                     {"timestamp", ts}};
    size_t n = 3 + (hook_metadata ? hook_metadata->n : 0);
    cd_kv *all = malloc(n * sizeof *all);
    if (!all)
        abort();
    memcpy(all, base, sizeof base);
    size_t k = 3;
    for (size_t i = 0; hook_metadata && i < hook_metadata->n; i++) {
        const char *key = hook_metadata->items[i].key;
        if (strcmp(key, "eventMessage") && strcmp(key, "eventType") && strcmp(key, "timestamp"))
            all[k++] = hook_metadata->items[i];
    }
    cd_strmap merged = {all, k};
    json_t *md = json_object();
    set_sorted(md, &merged, true);
    json_object_set_new(p, "metadata", md);
    free(all);
    return p;
}

static bool status_retriable(long status)
{
    return status == 429 || status == 0 || (status >= 500 && status != 501);
}

static void do_sleep(const cd_hooks_config *cfg, int64_t ms)
{
    if (ms <= 0)
        return;
    if (cfg && cfg->sleep_ms) {
        cfg->sleep_ms(cfg->sleep_ctx, ms);
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* go-retryablehttp's DefaultBackoff. */
static int64_t backoff_ms(const cd_hooks_config *cfg, int attempt, const cd_http_response *rs)
{
    int64_t min = cfg && cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : 1000;
    int64_t max = cfg && cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 30000;
    if (rs && (rs->status == 429 || rs->status == 503) && rs->retry_after_ms >= 0)
        return rs->retry_after_ms;
    int64_t w = min;
    for (int i = 0; i < attempt && w < max; i++)
        w *= 2;
    return w > max ? max : w;
}

/* The URL as messages show it: redacted (util/redact.h), without its
 * query (Flagger's messages show none). */
static void url_for_message(const char *url, char *out, size_t n)
{
    cd_redact_url(url, 0, out, n);
    out[strcspn(out, "?#")] = '\0';
}

bool cd_webhook_post(const cd_hooks_config *cfg, const char *url, int64_t timeout_ms, int retries,
                     bool disable_tls, const json_t *payload, cd_webhook_result *res, cd_err *err)
{
    cd_webhook_result local = {0, 0};
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (timeout_ms <= 0)
        timeout_ms = 10000;
    if (retries < 0)
        retries = 0;
    char where[256];
    url_for_message(url ? url : "", where, sizeof where);
    if (!cd_http_url_valid(url)) {
        cd_errfmt(err, "webhook URL \"%s\" is not an http:// or https:// URL", where);
        return false;
    }
    char *body = json_dumps(payload, JSON_COMPACT);
    /* with an injected sleep (tests), waits count as elapsed time */
    int64_t slept = 0;
    bool virtual_sleep = cfg && cfg->sleep_ms;
#define NOW() (cd_mono_ms() + (virtual_sleep ? slept : 0))
    int64_t deadline = NOW() + timeout_ms;
    bool ok = false, done = false;
    for (int attempt = 0; !done; attempt++) {
        int64_t remain = deadline - NOW();
        if (remain <= 0) {
            cd_errfmt(err, "POST %s giving up after %d attempt(s): timeout after %lld ms", where,
                      attempt, (long long)timeout_ms);
            break;
        }
        cd_http_request rq;
        cd_http_request_init(&rq, "POST", url);
        rq.body = body;
        rq.body_len = strlen(body);
        rq.timeout_ms = remain;
        rq.insecure = disable_tls;
        rq.follow_redirects = true;     /* as Go's default client */
        rq.ca_file = cfg ? cfg->ca_file : NULL;
        cd_http_add_header(&rq, "Content-Type", "application/json", NULL);
        cd_http_response rs;
        cd_err terr = {""};
        bool got = cd_http_perform(&rq, &rs, &terr);
        cd_http_request_free(&rq);
        res->attempts = attempt + 1;
        res->status = rs.status;
        bool retry = got ? status_retriable(rs.status) : cd_http_transport_retriable(rs.curl_code);
        char why[420];
        if (!got) {
            snprintf(why, sizeof why, "%s", terr.msg);
        } else {
            char ex[360];
            cd_http_excerpt(rs.body.data, rs.body.len, ex, sizeof ex);
            snprintf(why, sizeof why, "HTTP %ld: %s", rs.status, *ex ? ex : "(empty body)");
        }
        if (got && rs.status <= 202 && !retry) {
            ok = done = true;
        } else if (!retry || attempt >= retries) {
            done = true;
            char ex[400];
            cd_http_excerpt(rs.body.data, rs.body.len, ex, sizeof ex);
            if (retry || !got)
                cd_errfmt(err, "POST %s giving up after %d attempt(s): %s", where, attempt + 1, why);
            else if (*ex)
                cd_errfmt(err, "%s", ex);   /* Flagger: the body is the error */
            else
                cd_errfmt(err, "webhook %s answered HTTP %ld", where, rs.status);
        } else {
            int64_t wait = backoff_ms(cfg, attempt, got ? &rs : NULL);
            if (NOW() + wait >= deadline) {
                done = true;
                cd_errfmt(err, "POST %s giving up after %d attempt(s): %s; the next retry (in %lld "
                               "ms) would pass the %lld ms timeout",
                          where, attempt + 1, why, (long long)wait, (long long)timeout_ms);
            } else {
                do_sleep(cfg, wait);
                slept += wait;
            }
        }
        cd_http_response_free(&rs);
    }
#undef NOW
    free(body);
    if (!ok && err) {
        /* an answer may quote the URL it was sent to */
        char raw[sizeof err->msg];
        snprintf(raw, sizeof raw, "%s", err->msg);
        cd_redact_text(raw, url, 0, err->msg, sizeof err->msg);
    }
    return ok;
}
