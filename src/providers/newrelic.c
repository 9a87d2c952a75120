/* newrelic.c - the New Relic provider (Insights query API): GET
 * <address>/v1/accounts/<id>/query?nrql=<query> SINCE <interval seconds>
 * seconds ago, with X-Query-Key. The value is results[0].result (exactly
 * one result); canaryd also takes the single numeric member of results[0]
 * when it is named after its function ("average", "count", ...). Online
 * check: NRQL "SELECT * FROM Metric" answers 200. */
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct newrelic {
    char *endpoint;
    char *query_key;
    int64_t since_s;
} newrelic;

static void nr_close(cd_provider *p)
{
    newrelic *s = p->state;
    if (!s)
        return;
    free(s->endpoint);
    free(s->query_key);
    free(s);
    p->state = NULL;
}

static bool nr_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    const char *address = cfg->address && *cfg->address ? cfg->address
                                                          : "https://insights-api.newrelic.com";
    const char *account = cd_provider_secret(cfg, "newrelic_account_id");
    const char *key = cd_provider_secret(cfg, "newrelic_query_key");
    int64_t ms;
    if (!account) {
        cd_errfmt(err, "newrelic credentials does not contain newrelic_account_id");
        return false;
    }
    if (!key) {
        cd_errfmt(err, "newrelic credentials does not contain newrelic_query_key");
        return false;
    }
    if (!cd_provider_interval_ms(cfg, &ms, err))
        return false;
    if (!cd_http_url_valid(address)) {
        cd_provider_address_error(err, "newrelic", address);
        return false;
    }
    for (const char *c = account; *c; c++) {
        if (*c == '/' || *c == '?' || *c == '#' || *c <= ' ') {
            cd_errfmt(err, "newrelic_account_id is not a valid account id");
            return false;
        }
    }
    newrelic *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/v1/accounts/%s/query", address, account);
    s->endpoint = cd_buf_steal(&b);
    s->query_key = strdup(key);
    if (!s->query_key)
        abort();
    s->since_s = ms / 1000;
    p->state = s;
    return true;
}

static bool nr_request(cd_provider *p, const char *nrql, cd_http_response *rs, cd_err *err)
{
    newrelic *s = p->state;
    cd_buf full = CD_BUF_INIT, url = CD_BUF_INIT;
    cd_buf_printf(&full, "%s SINCE %lld seconds ago", nrql, (long long)s->since_s);
    cd_buf_printf(&url, "%s?nrql=", s->endpoint);
    cd_url_query_escape(&url, full.data);
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url.data);
    bool ok = cd_http_add_header(&rq, "X-Query-Key", s->query_key, err);
    if (ok && !(ok = cd_provider_http(p, &rq, rs, err)))
        cd_errprefix(err, "request failed");
    if (!ok && !rs->body.data)
        memset(rs, 0, sizeof *rs);
    cd_http_request_free(&rq);
    cd_buf_free(&full);
    cd_buf_free(&url);
    return ok;
}

static cd_metric_rc nr_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    cd_http_response rs = {0};
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (!nr_request(p, query, &rs, err))
        ;
    else if (rs.status != 200)
        cd_provider_error_response(&rs, err);
    else
        rc = cd_newrelic_parse(rs.body.data, rs.body.len, value, err);
    cd_http_response_free(&rs);
    return rc;
}

cd_metric_rc cd_newrelic_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return CD_METRIC_ERROR;
    const json_t *results = json_object_get(root, "results");
    const json_t *v = NULL;
    if (json_is_array(results) && json_array_size(results) == 1) {
        const json_t *r0 = json_array_get(results, 0);
        v = json_object_get(r0, "result");
        if (!v && json_is_object(r0) && json_object_size(r0) == 1) {
            const char *k;
            const json_t *only;
            json_object_foreach((json_t *)r0, k, only) v = only;
        }
    }
    cd_metric_rc rc = cd_provider_json_number(v, NULL, body, len, value, err);
    json_decref(root);
    return rc;
}

static bool nr_online(cd_provider *p, cd_err *err)
{
    cd_http_response rs = {0};
    bool ok = nr_request(p, "SELECT * FROM Metric", &rs, err);
    if (ok && rs.status != 200) {
        cd_provider_error_response(&rs, err);
        ok = false;
    }
    cd_http_response_free(&rs);
    return ok;
}

const cd_provider_type cd_provider_newrelic = {
    .name = "newrelic",
    .open = nr_open,
    .query = nr_query,
    .is_online = nr_online,
    .close = nr_close,
};
