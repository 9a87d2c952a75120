/* graphite.c - the Graphite provider (render URL API): GET
 * <address>/render?<query>&format=json with the query's whitespace
 * collapsed and its parameters re-encoded in sorted order (as Go's
 * url.Values does), optional basic auth from the secret. The value is the
 * last non-null datapoint over all targets. Online check: target=test
 * answers (no data is fine). */
#include "util/buf.h"
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct graphite {
    char *address;
    char *username, *password;
} graphite;

static void gr_close(cd_provider *p)
{
    graphite *s = p->state;
    if (!s)
        return;
    free(s->address);
    free(s->username);
    free(s->password);
    free(s);
    p->state = NULL;
}

static bool gr_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    if (!cfg->address || !*cfg->address || !cd_http_url_valid(cfg->address)) {
        cd_provider_address_error(err, "graphite", cfg->address);
        return false;
    }
    graphite *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    p->state = s;
    s->address = strdup(cfg->address);
    if (!s->address)
        abort();
    if (cfg->secret) {
        const char *u = cd_provider_secret(cfg, "username"), *pw = cd_provider_secret(cfg, "password");
        if (!u) {
            cd_errfmt(err, "graphite credentials does not contain a username");
            gr_close(p);
            return false;
        }
        if (!pw) {
            cd_errfmt(err, "graphite credentials does not contain a password");
            gr_close(p);
            return false;
        }
        s->username = strdup(u);
        s->password = strdup(pw);
        if (!s->username || !s->password)
            abort();
    }
    return true;
}

static cd_metric_rc gr_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    graphite *s = p->state;
    char *collapsed = cd_collapse_whitespace(query);
    cd_query q = {0};
    /* Go's url.Parse keeps a leading space of "./render? target=..." in the key */
    bool ok = cd_query_parse(&q, collapsed, err);
    free(collapsed);
    if (!ok) {
        cd_errprefix(err, "graphite query is not a URL query");
        cd_query_free(&q);
        return CD_METRIC_ERROR;
    }
    cd_query_set(&q, "format", "json");
    cd_buf enc = CD_BUF_INIT;
    cd_query_encode(&q, &enc);
    cd_query_free(&q);
    char *url = cd_url_join(s->address, "render", enc.data, err);
    cd_buf_free(&enc);
    if (!url)
        return CD_METRIC_ERROR;
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url);
    if (s->username)
        rq.username = s->username, rq.password = s->password;
    cd_http_response rs;
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (!cd_provider_http(p, &rq, &rs, err))
        cd_errprefix(err, "request failed");
    else if (rs.status >= 400)
        cd_provider_error_response(&rs, err);
    else
        rc = cd_graphite_parse(rs.body.data, rs.body.len, value, err);
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    free(url);
    return rc;
}

cd_metric_rc cd_graphite_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, true, err);
    if (!root)
        return CD_METRIC_ERROR;
    cd_metric_rc rc = CD_METRIC_NO_DATA;
    size_t i, j;
    const json_t *target, *dp;
    json_array_foreach(root, i, target) {
        const json_t *dps = json_object_get(target, "datapoints");
        json_array_foreach(dps, j, dp) {
            if (!json_is_array(dp) || json_array_size(dp) != 2) {
                cd_errfmt(err, "error unmarshaling data point: not a [value, timestamp] pair");
                json_decref(root);
                return CD_METRIC_ERROR;
            }
            const json_t *v = json_array_get(dp, 0);
            if (json_is_number(v)) {
                *value = json_number_value(v);
                rc = CD_METRIC_OK;
            } else if (json_is_string(v)) {
                if (!cd_parse_go_float(json_string_value(v), value)) {
                    cd_errfmt(err, "error unmarshaling data point: \"%.40s\" is not a number",
                              json_string_value(v));
                    json_decref(root);
                    return CD_METRIC_ERROR;
                }
                rc = CD_METRIC_OK;
            } else if (!json_is_null(v)) {
                cd_errfmt(err, "error unmarshaling value: not a number");
                json_decref(root);
                return CD_METRIC_ERROR;
            }
        }
    }
    if (rc == CD_METRIC_NO_DATA)
        cd_errfmt(err, "no values found");
    json_decref(root);
    return rc;
}

static bool gr_online(cd_provider *p, cd_err *err)
{
    double v;
    cd_metric_rc rc = gr_query(p, "target=test", &v, err);
    if (rc == CD_METRIC_ERROR) {
        cd_errprefix(err, "running query failed");
        return false;
    }
    return true;
}

const cd_provider_type cd_provider_graphite = {
    .name = "graphite",
    .open = gr_open,
    .query = gr_query,
    .is_online = gr_online,
    .close = gr_close,
};
