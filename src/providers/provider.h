/* provider.h - metric providers behind one table of function pointers (as
 * curl keeps one TLS backend per file): prometheus, datadog, newrelic,
 * graphite, dynatrace, influxdb, cloudwatch, externalmetrics, stackdriver,
 * keptn. A provider is built from a
 * MetricTemplate's provider section plus its credentials, runs one query
 * returning one number, and answers the availability check (§3.5, §3.6).
 * Prometheus also answers range queries (the per-step values of one
 * series), which the statistical judge's latency test reads.
 *
 * Adding a provider = one file defining a cd_provider_type and one line in
 * provider.c's table. Providers do blocking HTTP with a timeout; they never
 * keep state between queries besides their configuration. */
#ifndef CD_PROVIDERS_PROVIDER_H
#define CD_PROVIDERS_PROVIDER_H
#include "lookup/secrets.h"
#include "model/object.h"
#include "net/http.h"
#include "ports.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The Kubernetes API server canaryd kube runs against, for the providers
 * that use it (externalmetrics without an address, keptn). request: method
 * on path (absolute, with its query), body (JSON) may be NULL, with
 * canaryd's own credentials; true with *out (when out is not NULL), the
 * decoded JSON answer of a 2xx; false with err otherwise, *not_found set
 * for a 404 (not_found may be NULL). */
typedef struct cd_provider_cluster {
    void *ctx;
    bool (*request)(void *ctx, const char *method, const char *path, const json_t *body,
                    json_t **out, bool *not_found, cd_err *err);
} cd_provider_cluster;

typedef struct cd_provider_config {
    const char *type;                   /* NULL/"" -> prometheus */
    const char *address;
    const cd_header_values *headers;    /* extra request headers (prometheus) */
    size_t n_headers;
    bool insecure_skip_verify;
    const char *region;                 /* cloudwatch */
    const cd_secret *secret;            /* credentials; NULL: no secretRef */
    const char *interval;               /* the metric's interval (Go duration) */
    int64_t timeout_ms;                 /* 0: the provider's default */
    const char *ca_file;                /* extra trusted CA (PEM); NULL: system */
    int64_t (*now_ms)(void);            /* NULL: wall clock (tests pin it) */
    char **environ_;                    /* NULL: the process's (cloudwatch credentials) */
    const cd_provider_cluster *cluster; /* NULL: none (canaryd local) */
} cd_provider_config;

typedef struct cd_provider cd_provider;

typedef struct cd_provider_type {
    const char *name;
    /* Validates cfg and sets p->state; false with err (constructor error). */
    bool (*open)(cd_provider *p, const cd_provider_config *cfg, cd_err *err);
    /* One number. NO_DATA for "no values found"; ERROR for everything else. */
    cd_metric_rc (*query)(cd_provider *p, const char *query, double *value, cd_err *err);
    bool (*is_online)(cd_provider *p, cd_err *err);
    void (*close)(cd_provider *p);
    /* The values of one series at start, start + step, ... up to end (ms
     * since the epoch), NaN steps dropped; *values malloc'd (NULL when *n
     * is 0). NO_DATA when no series or no value is left; ERROR for more
     * than one series and everything else. NULL: no range queries. */
    cd_metric_rc (*query_range)(cd_provider *p, const char *query, int64_t start_ms,
                                int64_t end_ms, int64_t step_ms, double **values, size_t *n,
                                cd_err *err);
} cd_provider_type;

struct cd_provider {
    const cd_provider_type *type;
    void *state;
    int64_t timeout_ms;
    bool insecure;
    char *ca_file;
    int64_t (*now_ms)(void);
};

/* A response body as JSON of the expected shape (an object, or an array
 * when array); NULL with err "error unmarshaling result: <why>, '<excerpt>'"
 * (Flagger's words) otherwise. */
json_t *cd_provider_parse_json(const char *body, size_t len, bool array, cd_err *err);
/* The one value a response carries, v (found in the body of len bytes):
 * OK with *value when v is a JSON number; NO_DATA with err "invalid
 * response: <excerpt>: no values found" when v is absent or null; a value
 * of another type is ERROR "invalid response: <what> is not a number:
 * '<excerpt>'", or NO_DATA when what is NULL. */
cd_metric_rc cd_provider_json_number(const json_t *v, const char *what, const char *body,
                                     size_t len, double *value, cd_err *err);

/* The type for a name; NULL when canaryd has no such provider. */
const cd_provider_type *cd_provider_type_find(const char *name);
/* Every implemented type, NULL past the end. */
const cd_provider_type *cd_provider_type_at(size_t i);
/* True for Flagger provider types canaryd does not implement yet. */
bool cd_provider_type_known_missing(const char *name);

cd_provider *cd_provider_open(const cd_provider_config *cfg, cd_err *err);
cd_metric_rc cd_provider_query(cd_provider *p, const char *query, double *value, cd_err *err);
bool cd_provider_is_online(cd_provider *p, cd_err *err);
void cd_provider_close(cd_provider *p);
/* A range query (see query_range above); ERROR with a clear message for a
 * provider type without range queries, or when step or the range is not
 * positive. */
cd_metric_rc cd_provider_query_range(cd_provider *p, const char *query, int64_t start_ms,
                                     int64_t end_ms, int64_t step_ms, double **values, size_t *n,
                                     cd_err *err);
bool cd_provider_has_range(const cd_provider *p);

/* Pure response parsers, exported for tests and fuzzing. Each returns OK
 * with *value, NO_DATA, or ERROR with err. */
cd_metric_rc cd_prometheus_parse(const char *body, size_t len, double *value, cd_err *err);
/* A /api/v1/query_range answer: the values of its one series, NaN steps
 * dropped; *values malloc'd (NULL when *n is 0). */
cd_metric_rc cd_prometheus_parse_range(const char *body, size_t len, double **values, size_t *n,
                                       cd_err *err);
cd_metric_rc cd_datadog_parse(const char *body, size_t len, double *value, cd_err *err);
cd_metric_rc cd_newrelic_parse(const char *body, size_t len, double *value, cd_err *err);
cd_metric_rc cd_graphite_parse(const char *body, size_t len, double *value, cd_err *err);
cd_metric_rc cd_dynatrace_parse(const char *body, size_t len, double *value, cd_err *err);
cd_metric_rc cd_influxdb_parse_csv(const char *body, size_t len, double *value, cd_err *err);
cd_metric_rc cd_cloudwatch_parse(const char *body, size_t len, double *value, cd_err *err);
/* A Cloud Monitoring timeSeries:query answer: the first point's first value. */
cd_metric_rc cd_stackdriver_parse(const char *body, size_t len, double *value, cd_err *err);
/* An ExternalMetricValueList: the first item's value. */
cd_metric_rc cd_externalmetrics_parse(const char *body, size_t len, double *value, cd_err *err);
cd_metric_rc cd_externalmetrics_parse_json(const json_t *root, const char *body, size_t len,
                                           double *value, cd_err *err);
/* The External Metrics API path for a Flagger query
 * "<namespace>/<metric>?labelSelector=<selector>", appended to path. */
bool cd_externalmetrics_request_path(const char *query, cd_buf *path, cd_err *err);
/* Splunk SignalFlow: the messages after the execute request, read from ws
 * until the channel ends; the last value received (ERROR when several time
 * series answered, NO_DATA when none). */
struct cd_ws;
cd_metric_rc cd_splunk_read(struct cd_ws *ws, double *value, cd_err *err);
/* A keptn query "<keptnmetric|analysis>/<ns>/<name>[/<duration>[/<k=v;...>]]"
 * (lower-cased as Flagger does); *ns, *name, *duration malloc'd, *args a
 * JSON object (analyses only; NULL and duration NULL for a KeptnMetric). */
bool cd_keptn_parse_query(const char *query, bool *analysis, char **ns, char **name,
                          char **duration, json_t **args, cd_err *err);
/* A Kubernetes resource.Quantity ("250m", "1.5Gi", "2e3") as a double. */
bool cd_parse_quantity(const char *s, double *out);

/* ---- helpers shared by the provider files (provider.c) ---- */

/* The secret's value for key, or NULL. */
const char *cd_provider_secret(const cd_provider_config *cfg, const char *key);
/* err = "<type> address "<address>" is not a valid URL", the address
 * redacted (util/redact.h): an address may carry credentials. */
void cd_provider_address_error(cd_err *err, const char *type, const char *address);
/* Parses the metric interval as Go's time.ParseDuration; err like Flagger's. */
bool cd_provider_interval_ms(const cd_provider_config *cfg, int64_t *ms, cd_err *err);
int64_t cd_provider_now_ms(const cd_provider *p);
/* Runs rq with the provider's timeout, TLS settings and CA. */
bool cd_provider_http(const cd_provider *p, cd_http_request *rq, cd_http_response *rs, cd_err *err);
/* "error response (HTTP 503): <body excerpt>" */
void cd_provider_error_response(const cd_http_response *rs, cd_err *err);
/* Parses a Go strconv.ParseFloat string ("1.5", "NaN", "+Inf"). */
bool cd_parse_go_float(const char *s, double *out);

#endif
