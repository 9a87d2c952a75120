/* prometheus.c - the Prometheus provider (reference §3.4): GET
 * <address>/api/v1/query?query=<collapsed query>, template headers, bearer
 * or basic auth from the secret, TLS verification with an opt-out; the last
 * sample of an instant vector is the value; empty or NaN is "no data"; a
 * range vector is an error. Online check: vector(1) must be 1.
 * Range queries (/api/v1/query_range, for the statistical judge) go out
 * the same way and return the per-step values of exactly one series.
 * Keeps no state between queries besides its configuration. */
#include "util/buf.h"
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct prom {
    char *address;
    char *token;                /* bearer, from secret key "token" */
    char *username, *password;  /* basic auth */
    cd_header_values *headers;  /* deep copy of the template's headers */
    size_t n_headers;
} prom;

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void prom_close(cd_provider *p)
{
    prom *s = p->state;
    if (!s)
        return;
    free(s->address);
    free(s->token);
    free(s->username);
    free(s->password);
    for (size_t i = 0; i < s->n_headers; i++) {
        free((char *)s->headers[i].name);
        for (size_t j = 0; j < s->headers[i].values.n; j++)
            free((char *)s->headers[i].values.items[j]);
        free(s->headers[i].values.items);
    }
    free(s->headers);
    free(s);
    p->state = NULL;
}

static void copy_headers(prom *s, const cd_provider_config *cfg)
{
    if (!cfg->n_headers)
        return;
    s->headers = calloc(cfg->n_headers, sizeof *s->headers);
    if (!s->headers)
        abort();
    for (size_t i = 0; i < cfg->n_headers; i++) {
        const cd_header_values *h = &cfg->headers[i];
        s->headers[i].name = dup_or_null(h->name);
        s->headers[i].values.items = calloc(h->values.n ? h->values.n : 1, sizeof(char *));
        if (!s->headers[i].values.items)
            abort();
        for (size_t j = 0; j < h->values.n; j++)
            s->headers[i].values.items[j] = dup_or_null(h->values.items[j]);
        s->headers[i].values.n = h->values.n;
    }
    s->n_headers = cfg->n_headers;
}

static bool prom_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    const char *type = cfg->type && *cfg->type ? cfg->type : "prometheus";
    if (!cfg->address || !*cfg->address || !cd_http_url_valid(cfg->address)) {
        cd_provider_address_error(err, type, cfg->address);
        return false;
    }
    prom *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    p->state = s;
    s->address = dup_or_null(cfg->address);
    copy_headers(s, cfg);
    if (cfg->secret) {
        const char *token = cd_provider_secret(cfg, "token");
        if (token) {
            s->token = dup_or_null(token);
        } else {
            const char *user = cd_provider_secret(cfg, "username");
            const char *pass = cd_provider_secret(cfg, "password");
            if (!user) {
                cd_errfmt(err, "%s credentials does not contain a username", type);
                prom_close(p);
                return false;
            }
            if (!pass) {
                cd_errfmt(err, "%s credentials does not contain a password", type);
                prom_close(p);
                return false;
            }
            s->username = dup_or_null(user);
            s->password = dup_or_null(pass);
        }
    }
    return true;
}

/* GET <address>/<path>?<rawquery> with the template's headers and the
 * secret's credentials; false with err when the request failed. The
 * caller frees rs. */
static bool prom_get(cd_provider *p, const char *path, const char *rawquery,
                     cd_http_response *rs, cd_err *err)
{
    prom *s = p->state;
    memset(rs, 0, sizeof *rs);
    char *url = cd_url_join(s->address, path, rawquery, err);
    if (!url)
        return false;
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url);
    bool ok = true;
    for (size_t i = 0; ok && i < s->n_headers; i++)
        for (size_t j = 0; ok && j < s->headers[i].values.n; j++)
            ok = cd_http_add_header(&rq, s->headers[i].name, s->headers[i].values.items[j], err);
    if (!ok) {
        cd_errprefix(err, "invalid header in the metric template");
    } else {
        if (s->token)
            rq.bearer = s->token;
        else if (s->username)
            rq.username = s->username, rq.password = s->password;
        ok = cd_provider_http(p, &rq, rs, err);
        if (!ok)
            cd_errprefix(err, "request failed");
    }
    cd_http_request_free(&rq);
    free(url);
    return ok;
}

/* "query=<collapsed, escaped>" */
static void put_query(cd_buf *q, const char *query)
{
    char *collapsed = cd_collapse_whitespace(query);
    cd_buf_puts(q, "query=");
    cd_url_query_escape(q, collapsed);
    free(collapsed);
}

static cd_metric_rc prom_run(cd_provider *p, const char *query, double *value, cd_err *err)
{
    cd_buf q = CD_BUF_INIT;
    put_query(&q, query);
    cd_http_response rs;
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (prom_get(p, "api/v1/query", q.data, &rs, err)) {
        if (rs.status >= 400)
            cd_provider_error_response(&rs, err);
        else
            rc = cd_prometheus_parse(rs.body.data, rs.body.len, value, err);
    }
    cd_http_response_free(&rs);
    cd_buf_free(&q);
    return rc;
}

/* Unix seconds with milliseconds, as Prometheus accepts them: "1700000000.5" */
static void put_seconds(cd_buf *q, const char *key, int64_t ms)
{
    long long s = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        s -= 1;
        frac += 1000;
    }
    if (frac)
        cd_buf_printf(q, "&%s=%lld.%03lld", key, s, frac);
    else
        cd_buf_printf(q, "&%s=%lld", key, s);
}

static cd_metric_rc prom_range(cd_provider *p, const char *query, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms, double **values, size_t *n,
                               cd_err *err)
{
    cd_buf q = CD_BUF_INIT;
    put_query(&q, query);
    put_seconds(&q, "start", start_ms);
    put_seconds(&q, "end", end_ms);
    put_seconds(&q, "step", step_ms);
    cd_http_response rs;
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (prom_get(p, "api/v1/query_range", q.data, &rs, err)) {
        if (rs.status >= 400)
            cd_provider_error_response(&rs, err);
        else
            rc = cd_prometheus_parse_range(rs.body.data, rs.body.len, values, n, err);
    }
    cd_http_response_free(&rs);
    cd_buf_free(&q);
    return rc;
}

static cd_metric_rc parse_sample(const json_t *pair, double *value, cd_err *err)
{
    const json_t *v = json_is_array(pair) && json_array_size(pair) == 2 ? json_array_get(pair, 1)
                                                                        : NULL;
    if (!v) {
        cd_errfmt(err, "invalid response: a sample is not a [timestamp, \"value\"] pair");
        return CD_METRIC_ERROR;
    }
    if (json_is_string(v)) {
        if (!cd_parse_go_float(json_string_value(v), value)) {
            cd_errfmt(err, "invalid response: strconv.ParseFloat: parsing \"%.40s\": invalid syntax",
                      json_string_value(v));
            return CD_METRIC_ERROR;
        }
        return CD_METRIC_OK;
    }
    if (json_is_number(v)) {
        *value = json_number_value(v);
        return CD_METRIC_OK;
    }
    return CD_METRIC_NO_DATA;    /* Flagger ignores non-string values */
}

/* The response's JSON object, or NULL (err set) when the body is not one or
 * Prometheus answered with status "error". */
static json_t *load_response(const char *body, size_t len, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return NULL;
    const char *status = json_string_value(json_object_get(root, "status"));
    if (status && !strcmp(status, "error")) {
        cd_errfmt(err, "error response: %s: %s",
                  json_string_value(json_object_get(root, "errorType")) ?: "error",
                  json_string_value(json_object_get(root, "error")) ?: "(no message)");
        json_decref(root);
        return NULL;
    }
    return root;
}

cd_metric_rc cd_prometheus_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = load_response(body, len, err);
    if (!root)
        return CD_METRIC_ERROR;
    cd_metric_rc rc = CD_METRIC_NO_DATA;
    const json_t *data = json_object_get(root, "data");
    const char *type = json_string_value(json_object_get(data, "resultType"));
    const json_t *result = json_object_get(data, "result");
    if (type && !strcmp(type, "scalar")) {
        /* canaryd accepts a scalar result ([t, "v"]); Flagger fails to decode it */
        rc = parse_sample(result, value, err);
    } else if (type && !strcmp(type, "string")) {
        cd_errfmt(err, "invalid response: the query returned a string, not a number");
        rc = CD_METRIC_ERROR;
    } else if (result && !json_is_array(result)) {
        cd_errfmt(err, "invalid response: data.result is not a list");
        rc = CD_METRIC_ERROR;
    } else {
        size_t i;
        const json_t *el;
        bool have = false;
        json_array_foreach(result, i, el) {
            if (json_object_get(el, "values")) {
                cd_errfmt(err, "query returned multiple values (a range vector); use an instant "
                               "vector");
                rc = CD_METRIC_ERROR;
                have = false;
                break;
            }
            double v;
            cd_metric_rc r = parse_sample(json_object_get(el, "value"), &v, err);
            if (r == CD_METRIC_ERROR) {
                rc = r;
                have = false;
                break;
            }
            if (r == CD_METRIC_OK) {   /* the last sample wins, as in Flagger */
                *value = v;
                have = true;
            }
        }
        if (have)
            rc = CD_METRIC_OK;
    }
    if (rc == CD_METRIC_OK && isnan(*value))
        rc = CD_METRIC_NO_DATA;
    if (rc == CD_METRIC_NO_DATA)
        cd_errfmt(err, "no values found");
    json_decref(root);
    return rc;
}

/* The values of a matrix's series: [[t, "v"], ...]; NaN steps dropped. */
static cd_metric_rc series_values(const json_t *vals, double **values, size_t *n, cd_err *err)
{
    if (!json_is_array(vals)) {
        cd_errfmt(err, "invalid response: a series has no list of values");
        return CD_METRIC_ERROR;
    }
    size_t k = json_array_size(vals);
    double *out = k ? malloc(k * sizeof *out) : NULL;
    if (k && !out)
        abort();
    size_t i, got = 0;
    const json_t *pair;
    json_array_foreach(vals, i, pair) {
        double v;
        cd_metric_rc r = parse_sample(pair, &v, err);
        if (r == CD_METRIC_ERROR) {
            free(out);
            return r;
        }
        if (r == CD_METRIC_OK && !isnan(v))
            out[got++] = v;
    }
    if (!got) {
        free(out);
        out = NULL;
    }
    *values = out;
    *n = got;
    return got ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

cd_metric_rc cd_prometheus_parse_range(const char *body, size_t len, double **values, size_t *n,
                                       cd_err *err)
{
    *values = NULL;
    *n = 0;
    json_t *root = load_response(body, len, err);
    if (!root)
        return CD_METRIC_ERROR;
    cd_metric_rc rc = CD_METRIC_ERROR;
    const json_t *data = json_object_get(root, "data");
    const char *type = json_string_value(json_object_get(data, "resultType"));
    const json_t *result = json_object_get(data, "result");
    if (!type || strcmp(type, "matrix")) {
        cd_errfmt(err, "invalid response: a range query must return a matrix, not %s",
                  type ? type : "(no resultType)");
    } else if (!json_is_array(result)) {
        cd_errfmt(err, "invalid response: data.result is not a list");
    } else if (json_array_size(result) > 1) {
        cd_errfmt(err, "the query returned %zu series; the statistical judge needs one "
                       "(aggregate it, e.g. with sum() or histogram_quantile(..., sum(...) by (le)))",
                  json_array_size(result));
    } else if (json_array_size(result) == 0) {
        rc = CD_METRIC_NO_DATA;
    } else {
        const json_t *el = json_array_get(result, 0);
        rc = series_values(json_is_object(el) ? json_object_get(el, "values") : NULL, values, n,
                           err);
    }
    if (rc == CD_METRIC_NO_DATA)
        cd_errfmt(err, "no values found");
    json_decref(root);
    return rc;
}

static bool prom_online(cd_provider *p, cd_err *err)
{
    double v = 0;
    cd_metric_rc rc = prom_run(p, "vector(1)", &v, err);
    if (rc != CD_METRIC_OK) {
        cd_errprefix(err, "running query failed");
        return false;
    }
    if (v != 1) {
        cd_errfmt(err, "value is not 1 for query: vector(1)");
        return false;
    }
    return true;
}

const cd_provider_type cd_provider_prometheus = {
    .name = "prometheus",
    .open = prom_open,
    .query = prom_run,
    .is_online = prom_online,
    .close = prom_close,
    .query_range = prom_range,
};
