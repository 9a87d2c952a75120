/* influxdb.c - the InfluxDB provider: a Flux query over InfluxDB 2's HTTP
 * API (POST <address>/api/v2/query?org=<org>, Authorization: Token from
 * the secret, JSON body with the annotated-CSV dialect). The value is the
 * _value of the first record; an empty result is 0, as in Flagger (whose
 * docs count matching rows). Online check: a query of the "default" bucket
 * over the last two hours must succeed.
 * The annotated-CSV reader here handles quoting, several tables and error
 * tables; it never reads past the body. */
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include "util/grow.h"
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct influx {
    char *url;              /* .../api/v2/query?org=... */
    char *token;
} influx;

static void ix_close(cd_provider *p)
{
    influx *s = p->state;
    if (!s)
        return;
    free(s->url);
    free(s->token);
    free(s);
    p->state = NULL;
}

static bool ix_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    if (!cfg->address || !*cfg->address || !cd_http_url_valid(cfg->address)) {
        cd_provider_address_error(err, "influxdb", cfg->address);
        return false;
    }
    const char *token = NULL, *org = NULL;
    if (cfg->secret) {
        if (!(token = cd_provider_secret(cfg, "token"))) {
            cd_errfmt(err, "influxdb credentials does not contain an authentication token");
            return false;
        }
        if (!(org = cd_provider_secret(cfg, "org"))) {
            cd_errfmt(err, "influxdb credentials does not contain an organisation");
            return false;
        }
    }
    cd_buf q = CD_BUF_INIT;
    if (org) {
        cd_buf_puts(&q, "org=");
        cd_url_query_escape(&q, org);
    }
    char *url = cd_url_join(cfg->address, "api/v2/query", org ? q.data : NULL, err);
    cd_buf_free(&q);
    if (!url)
        return false;
    influx *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->url = url;
    if (token && !(s->token = strdup(token)))
        abort();
    p->state = s;
    return true;
}

static cd_metric_rc parse_csv(const char *body, size_t len, double *value, cd_err *err,
                              bool need_value);

static cd_metric_rc run_flux(cd_provider *p, const char *flux, double *value, cd_err *err,
                             bool need_value)
{
    influx *s = p->state;
    json_t *body = json_pack("{s:s, s:s, s:{s:[s,s,s], s:s, s:b}}", "query", flux, "type", "flux",
                             "dialect", "annotations", "datatype", "group", "default",
                             "delimiter", ",", "header", 1);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    cd_http_request rq;
    cd_http_request_init(&rq, "POST", s->url);
    rq.body = text;
    rq.body_len = strlen(text);
    if (!rq.timeout_ms)
        rq.timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 15000;
    cd_metric_rc rc = CD_METRIC_ERROR;
    cd_http_response rs = {0};
    bool ok = cd_http_add_header(&rq, "Content-Type", "application/json", err) &&
              cd_http_add_header(&rq, "Accept", "application/csv", err);
    if (ok && s->token) {
        char *auth = malloc(strlen(s->token) + 7);
        if (!auth)
            abort();
        sprintf(auth, "Token %s", s->token);
        ok = cd_http_add_header(&rq, "Authorization", auth, err);
        free(auth);
    }
    if (!ok) {
        ;
    } else if (!cd_provider_http(p, &rq, &rs, err)) {
        cd_errprefix(err, "error accessing influxdb query api");
    } else if (rs.status >= 300) {
        json_t *j = json_loadb(rs.body.data, rs.body.len, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (msg)
            cd_errfmt(err, "error accessing influxdb query api: %s (HTTP %ld)", msg, rs.status);
        else
            cd_provider_error_response(&rs, err);
        json_decref(j);
    } else {
        rc = parse_csv(rs.body.data, rs.body.len, value, err, need_value);
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    free(text);
    return rc;
}

/* ---- annotated CSV ----------------------------------------------------- */

typedef struct csv_row {
    char **f;
    size_t n, cap;
} csv_row;

static void row_clear(csv_row *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

static void row_free(csv_row *r)
{
    row_clear(r);
    free(r->f);
    memset(r, 0, sizeof *r);
}

static void row_push(csv_row *r, cd_buf *field)
{
    CD_GROW(r->f, r->cap, r->n + 1, 16);
    cd_buf_puts(field, "");
    r->f[r->n++] = cd_buf_steal(field);
}

/* Reads one CSV record (RFC 4180, CRLF or LF) starting at *pos. Returns
 * false at the end of input; *blank when the line was empty. */
static bool next_row(const char *s, size_t len, size_t *pos, csv_row *row, bool *blank,
                     bool *bad_quote)
{
    row_clear(row);
    *blank = false;
    *bad_quote = false;
    size_t i = *pos;
    if (i >= len)
        return false;
    cd_buf field = CD_BUF_INIT;
    bool any = false;
    for (;;) {
        if (i < len && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    *bad_quote = true;
                    break;
                }
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        cd_buf_putc(&field, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                cd_buf_putc(&field, s[i++]);
            }
            any = true;
        }
        while (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
            cd_buf_putc(&field, s[i++]);
            any = true;
        }
        if (i < len && s[i] == ',') {
            row_push(row, &field);
            i++;
            any = true;
            continue;
        }
        break;
    }
    if (any || row->n)
        row_push(row, &field);
    cd_buf_free(&field);
    if (i < len && s[i] == '\r')
        i++;
    if (i < len && s[i] == '\n')
        i++;
    *blank = row->n == 0 || (row->n == 1 && row->f[0][0] == '\0');
    *pos = i;
    return true;
}

static ssize_t col_index(const csv_row *header, const char *name)
{
    for (size_t i = 0; i < header->n; i++)
        if (!strcmp(header->f[i], name))
            return (ssize_t)i;
    return -1;
}

static cd_metric_rc value_of(const char *text, const char *type, double *value, cd_err *err)
{
    if (!type || !*type || !strcmp(type, "double") || !strcmp(type, "long") ||
        !strcmp(type, "unsignedLong")) {
        if (!cd_parse_go_float(text, value)) {
            cd_errfmt(err, "invalid response: _value \"%.40s\" is not a number", text);
            return CD_METRIC_ERROR;
        }
        return CD_METRIC_OK;
    }
    cd_errfmt(err, "invalid response: _value is a %s, not a number", type);
    return CD_METRIC_ERROR;
}

static cd_metric_rc parse_csv(const char *body, size_t len, double *value, cd_err *err,
                              bool need_value)
{
    csv_row row = {0}, header = {0}, types = {0}, defaults = {0};
    size_t pos = 0;
    bool blank, bad_quote, in_table = false;
    cd_metric_rc rc = CD_METRIC_OK;
    *value = 0;     /* Flagger: an empty result is 0 without error */
    if (!body)
        body = "";
    while (next_row(body, len, &pos, &row, &blank, &bad_quote)) {
        if (bad_quote) {
            cd_errfmt(err, "invalid response: unterminated quoted field in CSV");
            rc = CD_METRIC_ERROR;
            break;
        }
        if (blank) {            /* a blank line ends a table */
            in_table = false;
            row_clear(&types);
            row_clear(&defaults);
            continue;
        }
        if (row.f[0][0] == '#') {
            csv_row *dst = !strcmp(row.f[0], "#datatype") ? &types
                           : !strcmp(row.f[0], "#default") ? &defaults : NULL;
            if (dst) {
                csv_row tmp = *dst;
                *dst = row;
                row = tmp;
            }
            in_table = false;
            continue;
        }
        if (!in_table) {
            csv_row tmp = header;
            header = row;
            row = tmp;
            in_table = true;
            continue;
        }
        /* first data record */
        ssize_t ecol = col_index(&header, "error");
        ssize_t vcol = col_index(&header, "_value");
        if (ecol >= 0 && vcol < 0) {
            cd_errfmt(err, "query error: %s", (size_t)ecol < row.n ? row.f[ecol] : "(no message)");
            rc = CD_METRIC_ERROR;
        } else if (!need_value) {
            rc = CD_METRIC_OK;
        } else if (vcol < 0 || (size_t)vcol >= row.n) {
            cd_errfmt(err, "invalid response: no _value column: no values found");
            rc = CD_METRIC_NO_DATA;
        } else {
            const char *text = row.f[vcol];
            if (!*text && (size_t)vcol < defaults.n)
                text = defaults.f[vcol];
            if (!*text) {
                cd_errfmt(err, "invalid response: empty _value: no values found");
                rc = CD_METRIC_NO_DATA;
            } else {
                rc = value_of(text, (size_t)vcol < types.n ? types.f[vcol] : NULL, value, err);
            }
        }
        break;
    }
    row_free(&row);
    row_free(&header);
    row_free(&types);
    row_free(&defaults);
    return rc;
}

cd_metric_rc cd_influxdb_parse_csv(const char *body, size_t len, double *value, cd_err *err)
{
    return parse_csv(body, len, value, err, true);
}

static cd_metric_rc ix_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    return run_flux(p, query, value, err, true);
}

static bool ix_online(cd_provider *p, cd_err *err)
{
    double v;
    cd_metric_rc rc = run_flux(p, "from(bucket: \"default\") |> range(start: -2h)", &v, err, false);
    return rc != CD_METRIC_ERROR;
}

const cd_provider_type cd_provider_influxdb = {
    .name = "influxdb",
    .open = ix_open,
    .query = ix_query,
    .is_online = ix_online,
    .close = ix_close,
};
