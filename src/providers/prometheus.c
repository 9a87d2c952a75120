/* prometheus.c - the Prometheus provider (reference §3.4): GET
 * <address>/api/v1/query?query=<collapsed query>, template headers, bearer
 * or basic auth from the secret, TLS verification with an opt-out; the last
 * sample of an instant vector is the value; empty or NaN is "no data"; a
 * range vector is an error. Online check: vector(1) must be 1. */
#include "analysis/template.h"
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
        cd_errfmt(err, "%s address \"%s\" is not a valid URL", type, cfg->address ? cfg->address : "");
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

static cd_metric_rc prom_run(cd_provider *p, const char *query, double *value, cd_err *err)
{
    prom *s = p->state;
    char *collapsed = cd_collapse_whitespace(query);
    cd_buf q = CD_BUF_INIT;
    cd_buf_puts(&q, "query=");
    cd_url_query_escape(&q, collapsed);
    free(collapsed);
    char *url = cd_url_join(s->address, "api/v1/query", q.data, err);
    cd_buf_free(&q);
    if (!url)
        return CD_METRIC_ERROR;

    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url);
    cd_metric_rc rc = CD_METRIC_ERROR;
    bool ok = true;
    for (size_t i = 0; ok && i < s->n_headers; i++)
        for (size_t j = 0; ok && j < s->headers[i].values.n; j++)
            ok = cd_http_add_header(&rq, s->headers[i].name, s->headers[i].values.items[j], err);
    if (!ok) {
        cd_errprefix(err, "invalid header in the metric template");
        goto out;
    }
    if (s->token)
        rq.bearer = s->token;
    else if (s->username)
        rq.username = s->username, rq.password = s->password;

    cd_http_response rs;
    if (!cd_provider_http(p, &rq, &rs, err)) {
        cd_errprefix(err, "request failed");
        cd_http_response_free(&rs);
        goto out;
    }
    if (rs.status >= 400)
        cd_provider_error_response(&rs, err);
    else
        rc = cd_prometheus_parse(rs.body.data, rs.body.len, value, err);
    cd_http_response_free(&rs);
out:
    cd_http_request_free(&rq);
    free(url);
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

cd_metric_rc cd_prometheus_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &je);
    char ex[200];
    if (!root || !json_is_object(root)) {
        cd_http_excerpt(body ? body : "", len, ex, sizeof ex);
        cd_errfmt(err, "error unmarshaling result: %s, '%s'", root ? "not a JSON object" : je.text,
                  ex);
        json_decref(root);
        return CD_METRIC_ERROR;
    }
    cd_metric_rc rc = CD_METRIC_NO_DATA;
    const char *status = json_string_value(json_object_get(root, "status"));
    const json_t *data = json_object_get(root, "data");
    const char *type = json_string_value(json_object_get(data, "resultType"));
    const json_t *result = json_object_get(data, "result");
    if (status && !strcmp(status, "error")) {
        cd_errfmt(err, "error response: %s: %s",
                  json_string_value(json_object_get(root, "errorType")) ?: "error",
                  json_string_value(json_object_get(root, "error")) ?: "(no message)");
        rc = CD_METRIC_ERROR;
    } else if (type && !strcmp(type, "scalar")) {
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
    "prometheus", prom_open, prom_run, prom_online, prom_close,
};
