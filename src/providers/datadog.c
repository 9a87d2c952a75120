/* datadog.c - the Datadog provider: GET <address>/api/v1/query with
 * query, from = now - 10 x interval and to = now (seconds), API and
 * application keys from the secret as DD-API-KEY / DD-APPLICATION-KEY.
 * The value is the first (oldest) point of the first series, as Flagger
 * picks it. Online check: GET /api/v1/validate answers 200. */
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct datadog {
    char *query_url, *validate_url;
    char *api_key, *app_key;
    int64_t from_delta_s;
} datadog;

static void dd_close(cd_provider *p)
{
    datadog *s = p->state;
    if (!s)
        return;
    free(s->query_url);
    free(s->validate_url);
    free(s->api_key);
    free(s->app_key);
    free(s);
    p->state = NULL;
}

static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (!s)
        abort();
    snprintf(s, n, "%s%s", a, b);
    return s;
}

static bool dd_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    const char *address = cfg->address && *cfg->address ? cfg->address : "https://api.datadoghq.com";
    const char *api = cd_provider_secret(cfg, "datadog_api_key");
    const char *app = cd_provider_secret(cfg, "datadog_application_key");
    int64_t ms;
    if (!api) {
        cd_errfmt(err, "datadog credentials does not contain datadog_api_key");
        return false;
    }
    if (!app) {
        cd_errfmt(err, "datadog credentials does not contain datadog_application_key");
        return false;
    }
    if (!cd_provider_interval_ms(cfg, &ms, err))
        return false;
    if (!cd_http_url_valid(address)) {
        cd_provider_address_error(err, "datadog", address);
        return false;
    }
    datadog *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->query_url = concat(address, "/api/v1/query");
    s->validate_url = concat(address, "/api/v1/validate");
    s->api_key = strdup(api);
    s->app_key = strdup(app);
    if (!s->api_key || !s->app_key)
        abort();
    s->from_delta_s = 10 * ms / 1000;
    p->state = s;
    return true;
}

static bool add_keys(cd_http_request *rq, const datadog *s, cd_err *err)
{
    return cd_http_add_header(rq, "DD-API-KEY", s->api_key, err) &&
           cd_http_add_header(rq, "DD-APPLICATION-KEY", s->app_key, err);
}

static cd_metric_rc dd_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    datadog *s = p->state;
    int64_t now = cd_provider_now_ms(p) / 1000;
    char num[32];
    cd_query q = {0};
    cd_query_add(&q, "query", query);
    snprintf(num, sizeof num, "%lld", (long long)(now - s->from_delta_s));
    cd_query_add(&q, "from", num);
    snprintf(num, sizeof num, "%lld", (long long)now);
    cd_query_add(&q, "to", num);
    cd_buf url = CD_BUF_INIT, enc = CD_BUF_INIT;
    cd_query_encode(&q, &enc);
    cd_buf_printf(&url, "%s?%s", s->query_url, enc.data);
    cd_query_free(&q);
    cd_buf_free(&enc);

    cd_metric_rc rc = CD_METRIC_ERROR;
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url.data);
    cd_http_response rs;
    if (!add_keys(&rq, s, err))
        goto out;
    if (!cd_provider_http(p, &rq, &rs, err)) {
        cd_errprefix(err, "request failed");
    } else if (rs.status != 200) {
        cd_provider_error_response(&rs, err);
    } else {
        rc = cd_datadog_parse(rs.body.data, rs.body.len, value, err);
    }
    cd_http_response_free(&rs);
out:
    cd_http_request_free(&rq);
    cd_buf_free(&url);
    return rc;
}

cd_metric_rc cd_datadog_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return CD_METRIC_ERROR;
    const json_t *series = json_object_get(root, "series");
    const json_t *pl = json_object_get(json_array_get(series, 0), "pointlist");
    const json_t *v = json_array_get(json_array_get(pl, 0), 1);
    cd_metric_rc rc = cd_provider_json_number(v, "point value", body, len, value, err);
    json_decref(root);
    return rc;
}

static bool dd_online(cd_provider *p, cd_err *err)
{
    datadog *s = p->state;
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", s->validate_url);
    cd_http_response rs = {0};
    bool ok = add_keys(&rq, s, err);
    if (ok && !cd_provider_http(p, &rq, &rs, err)) {
        cd_errprefix(err, "request failed");
        ok = false;
    } else if (ok && rs.status != 200) {
        cd_provider_error_response(&rs, err);
        ok = false;
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    return ok;
}

const cd_provider_type cd_provider_datadog = {
    .name = "datadog",
    .open = dd_open,
    .query = dd_query,
    .is_online = dd_online,
    .close = dd_close,
};
