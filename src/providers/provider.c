/* provider.c - the provider table, construction and the helpers every
 * provider file shares. No provider-specific logic here. */
#include "providers/provider.h"
#include "util/redact.h"
#include "util/duration.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const cd_provider_type cd_provider_prometheus;
extern const cd_provider_type cd_provider_datadog;
extern const cd_provider_type cd_provider_newrelic;
extern const cd_provider_type cd_provider_graphite;
extern const cd_provider_type cd_provider_dynatrace;
extern const cd_provider_type cd_provider_influxdb;
extern const cd_provider_type cd_provider_cloudwatch;
extern const cd_provider_type cd_provider_externalmetrics;
extern const cd_provider_type cd_provider_stackdriver;
extern const cd_provider_type cd_provider_keptn;
extern const cd_provider_type cd_provider_splunk;

static const cd_provider_type *const types[] = {
    &cd_provider_prometheus, &cd_provider_datadog,   &cd_provider_newrelic,
    &cd_provider_graphite,   &cd_provider_dynatrace, &cd_provider_influxdb,
    &cd_provider_cloudwatch, &cd_provider_externalmetrics, &cd_provider_stackdriver,
    &cd_provider_keptn,      &cd_provider_splunk,
};

/* In Flagger's MetricTemplate enum but not (yet) in canaryd: none since
 * splunk; kept for the next type Flagger adds. */
static const char *const missing[] = {NULL};

const cd_provider_type *cd_provider_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (name && !strcmp(types[i]->name, name))
            return types[i];
    return NULL;
}

const cd_provider_type *cd_provider_type_at(size_t i)
{
    return i < sizeof types / sizeof types[0] ? types[i] : NULL;
}

bool cd_provider_type_known_missing(const char *name)
{
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        if (missing[i] && name && !strcmp(missing[i], name))
            return true;
    return false;
}

cd_provider *cd_provider_open(const cd_provider_config *cfg, cd_err *err)
{
    const char *name = cfg->type && *cfg->type ? cfg->type : "prometheus";
    const cd_provider_type *t = cd_provider_type_find(name);
    if (!t) {
        if (cd_provider_type_known_missing(name))
            cd_errfmt(err, "provider type %s is not supported by canaryd yet (see docs/metrics.md)",
                      name);
        else
            cd_errfmt(err, "unknown metric provider type \"%s\"", name);
        return NULL;
    }
    cd_provider *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->type = t;
    p->timeout_ms = cfg->timeout_ms;
    p->insecure = cfg->insecure_skip_verify;
    p->now_ms = cfg->now_ms;
    if (cfg->ca_file && !(p->ca_file = strdup(cfg->ca_file)))
        abort();
    if (!t->open(p, cfg, err)) {
        free(p->ca_file);
        free(p);
        return NULL;
    }
    return p;
}

cd_metric_rc cd_provider_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    *value = 0;
    return p->type->query(p, query ? query : "", value, err);
}

bool cd_provider_has_range(const cd_provider *p)
{
    return p && p->type->query_range;
}

cd_metric_rc cd_provider_query_range(cd_provider *p, const char *query, int64_t start_ms,
                                     int64_t end_ms, int64_t step_ms, double **values, size_t *n,
                                     cd_err *err)
{
    *values = NULL;
    *n = 0;
    if (!p->type->query_range) {
        cd_errfmt(err, "the %s provider has no range queries (per-step values come from "
                       "Prometheus only)", p->type->name);
        return CD_METRIC_ERROR;
    }
    if (step_ms <= 0 || end_ms < start_ms) {
        cd_errfmt(err, "invalid range: start %lld, end %lld, step %lld ms", (long long)start_ms,
                  (long long)end_ms, (long long)step_ms);
        return CD_METRIC_ERROR;
    }
    return p->type->query_range(p, query ? query : "", start_ms, end_ms, step_ms, values, n, err);
}

bool cd_provider_is_online(cd_provider *p, cd_err *err)
{
    return p->type->is_online(p, err);
}

void cd_provider_close(cd_provider *p)
{
    if (!p)
        return;
    if (p->type->close)
        p->type->close(p);
    free(p->ca_file);
    free(p);
}

const char *cd_provider_secret(const cd_provider_config *cfg, const char *key)
{
    const cd_secret_entry *e = cfg->secret ? cd_secret_get(cfg->secret, key) : NULL;
    return e ? e->value : NULL;
}

bool cd_provider_interval_ms(const cd_provider_config *cfg, int64_t *ms, cd_err *err)
{
    int64_t ns;
    if (!cfg->interval || !cd_duration_parse(cfg->interval, &ns)) {
        cd_errfmt(err, "error parsing metric interval: time: invalid duration \"%s\"",
                  cfg->interval ? cfg->interval : "");
        return false;
    }
    *ms = ns / CD_NS_PER_MS;
    return true;
}

int64_t cd_provider_now_ms(const cd_provider *p)
{
    return p->now_ms ? p->now_ms() : cd_wall_ms();
}

bool cd_provider_http(const cd_provider *p, cd_http_request *rq, cd_http_response *rs, cd_err *err)
{
    if (rq->timeout_ms <= 0)
        rq->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 5000;
    rq->insecure = rq->insecure || p->insecure;
    rq->follow_redirects = true;    /* as Go's default client */
    if (p->ca_file)
        rq->ca_file = p->ca_file;
    return cd_http_perform(rq, rs, err);
}

void cd_provider_error_response(const cd_http_response *rs, cd_err *err)
{
    char ex[360];
    cd_http_excerpt(rs->body.data ? rs->body.data : "", rs->body.len, ex, sizeof ex);
    cd_errfmt(err, "error response (HTTP %ld): %s", rs->status, *ex ? ex : "(empty body)");
}

bool cd_parse_go_float(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    const char *p = s;
    int sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity")) {
        *out = sign * INFINITY;
        return true;
    }
    if (!strcasecmp(p, "nan")) {
        *out = NAN;
        return true;
    }
    /* strtod also accepts hex floats and leading spaces; Go accepts hex
     * floats too, but not spaces */
    if (*s == ' ' || *s == '\t')
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0')
        return false;
    if (errno == ERANGE && isinf(d))
        return false;
    *out = d;
    return true;
}

json_t *cd_provider_parse_json(const char *body, size_t len, bool array, cd_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &je);
    if (root && (array ? json_is_array(root) : json_is_object(root)))
        return root;
    char ex[200];
    cd_http_excerpt(body ? body : "", len, ex, sizeof ex);
    cd_errfmt(err, "error unmarshaling result: %s, '%s'",
              root ? (array ? "not a JSON list" : "not a JSON object") : je.text, ex);
    json_decref(root);
    return NULL;
}

cd_metric_rc cd_provider_json_number(const json_t *v, const char *what, const char *body,
                                     size_t len, double *value, cd_err *err)
{
    if (json_is_number(v)) {
        *value = json_number_value(v);
        return CD_METRIC_OK;
    }
    char ex[200];   /* quoted in the errors */
    cd_http_excerpt(body ? body : "", len, ex, sizeof ex);
    if (v && !json_is_null(v) && what) {
        cd_errfmt(err, "invalid response: %s is not a number: '%s'", what, ex);
        return CD_METRIC_ERROR;
    }
    cd_errfmt(err, "invalid response: %s: no values found", ex);
    return CD_METRIC_NO_DATA;
}

void cd_provider_address_error(cd_err *err, const char *type, const char *address)
{
    char shown[256];
    cd_redact_url(address ? address : "", 0, shown, sizeof shown);
    cd_errfmt(err, "%s address \"%s\" is not a valid URL", type, shown);
}
