/* dynatrace.c - the Dynatrace provider (Metrics API v2): GET
 * <address>/api/v2/metrics/query?metricSelector=<query>&resolution=Inf
 * &from=now-10xinterval&to=now (milliseconds), Authorization: Api-Token
 * from the secret. The value is the first value of the last data series
 * of the first result. Online check: GET /api/v2/metrics?pageSize=1. */
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct dynatrace {
    char *query_url, *validate_url;
    char *auth;             /* "Api-Token <token>" */
    int64_t from_delta_ms;
} dynatrace;

static void dt_close(cd_provider *p)
{
    dynatrace *s = p->state;
    if (!s)
        return;
    free(s->query_url);
    free(s->validate_url);
    free(s->auth);
    free(s);
    p->state = NULL;
}

static bool dt_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    if (!cfg->address || !*cfg->address) {
        cd_errfmt(err, "dynatrace endpoint is not set");
        return false;
    }
    if (!cd_http_url_valid(cfg->address)) {
        cd_provider_address_error(err, "dynatrace", cfg->address);
        return false;
    }
    const char *token = cd_provider_secret(cfg, "dynatrace_token");
    if (!token) {
        cd_errfmt(err, "dynatrace credentials does not contain dynatrace_token");
        return false;
    }
    int64_t ms;
    if (!cd_provider_interval_ms(cfg, &ms, err))
        return false;
    dynatrace *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/api/v2/metrics/query", cfg->address);
    s->query_url = cd_buf_steal(&b);
    cd_buf_printf(&b, "%s/api/v2/metrics?pageSize=1", cfg->address);
    s->validate_url = cd_buf_steal(&b);
    cd_buf_printf(&b, "Api-Token %s", token);
    s->auth = cd_buf_steal(&b);
    s->from_delta_ms = 10 * ms;
    p->state = s;
    return true;
}

static bool dt_get(cd_provider *p, const char *url, cd_http_response *rs, cd_err *err)
{
    dynatrace *s = p->state;
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url);
    bool ok = cd_http_add_header(&rq, "Authorization", s->auth, err);
    memset(rs, 0, sizeof *rs);
    if (ok && !(ok = cd_provider_http(p, &rq, rs, err)))
        cd_errprefix(err, "request failed");
    cd_http_request_free(&rq);
    return ok;
}

static cd_metric_rc dt_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    dynatrace *s = p->state;
    int64_t now = cd_provider_now_ms(p) / 1000 * 1000;
    char num[32];
    cd_query q = {0};
    cd_query_add(&q, "metricSelector", query);
    cd_query_add(&q, "resolution", "Inf");
    snprintf(num, sizeof num, "%lld", (long long)(now - s->from_delta_ms));
    cd_query_add(&q, "from", num);
    snprintf(num, sizeof num, "%lld", (long long)now);
    cd_query_add(&q, "to", num);
    cd_buf enc = CD_BUF_INIT, url = CD_BUF_INIT;
    cd_query_encode(&q, &enc);
    cd_buf_printf(&url, "%s?%s", s->query_url, enc.data);
    cd_query_free(&q);
    cd_buf_free(&enc);
    cd_http_response rs;
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (!dt_get(p, url.data, &rs, err))
        ;
    else if (rs.status != 200)
        cd_provider_error_response(&rs, err);
    else
        rc = cd_dynatrace_parse(rs.body.data, rs.body.len, value, err);
    cd_http_response_free(&rs);
    cd_buf_free(&url);
    return rc;
}

cd_metric_rc cd_dynatrace_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return CD_METRIC_ERROR;
    const json_t *data = json_object_get(json_array_get(json_object_get(root, "result"), 0), "data");
    size_t n = json_array_size(data);
    const json_t *v = n ? json_array_get(json_object_get(json_array_get(data, n - 1), "values"), 0)
                        : NULL;
    cd_metric_rc rc = cd_provider_json_number(v, "value", body, len, value, err);
    json_decref(root);
    return rc;
}

static bool dt_online(cd_provider *p, cd_err *err)
{
    dynatrace *s = p->state;
    cd_http_response rs;
    bool ok = dt_get(p, s->validate_url, &rs, err);
    if (ok && rs.status != 200) {
        cd_provider_error_response(&rs, err);
        ok = false;
    }
    cd_http_response_free(&rs);
    return ok;
}

const cd_provider_type cd_provider_dynatrace = {
    .name = "dynatrace",
    .open = dt_open,
    .query = dt_query,
    .is_online = dt_online,
    .close = dt_close,
};
