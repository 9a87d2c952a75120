/* cloudwatch.c - the AWS CloudWatch provider: GetMetricData over
 * CloudWatch's JSON protocol (POST https://monitoring.<region>.amazonaws.com/,
 * X-Amz-Target GraniteServiceVersion20100801.GetMetricData), signed with
 * AWS Signature V4 by libcurl. The template's query is the JSON array of
 * MetricDataQuery; the window is now - 10 x interval .. now, at most 20
 * points; the value is the first value of the first result.
 * Credentials: the template's secret (aws_access_key_id,
 * aws_secret_access_key, aws_session_token), else AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the shared credentials
 * file. Never logs a credential. */
#include "providers/provider.h"
#include "util/errfmt.h"
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

typedef struct cloudwatch {
    char *endpoint;
    char *sigv4;            /* aws:amz:<region>:monitoring */
    char *key_id, *secret, *token;
    int64_t start_delta_ms;
} cloudwatch;

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static void cw_close(cd_provider *p)
{
    cloudwatch *s = p->state;
    if (!s)
        return;
    free(s->endpoint);
    free(s->sigv4);
    wipe_free(s->key_id);
    wipe_free(s->secret);
    wipe_free(s->token);
    free(s);
    p->state = NULL;
}

static const char *env_get(char **env, const char *name)
{
    size_t n = strlen(name);
    for (char **e = env ? env : environ; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static char *dup_trim(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

/* Reads aws_access_key_id, aws_secret_access_key and aws_session_token of
 * one profile of an AWS shared credentials file. */
static bool read_credentials_file(const char *path, const char *profile, cloudwatch *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[1024];
    bool in = false;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == ';' || !*p)
            continue;
        if (*p == '[') {
            char *e = strchr(p, ']');
            in = e && (size_t)(e - p - 1) == strlen(profile) && !strncmp(p + 1, profile, strlen(profile));
            continue;
        }
        char *eq = strchr(p, '=');
        if (!in || !eq)
            continue;
        char *key = dup_trim(p, (size_t)(eq - p));
        char *val = dup_trim(eq + 1, strlen(eq + 1));
        char **dst = !strcmp(key, "aws_access_key_id")       ? &s->key_id
                     : !strcmp(key, "aws_secret_access_key") ? &s->secret
                     : !strcmp(key, "aws_session_token")     ? &s->token
                                                             : NULL;
        if (dst) {
            wipe_free(*dst);
            *dst = val;
        } else {
            wipe_free(val);
        }
        free(key);
    }
    fclose(f);
    return s->key_id && s->secret;
}

static char *dup_or_null(const char *v)
{
    if (!v)
        return NULL;
    char *d = strdup(v);
    if (!d)
        abort();
    return d;
}

static bool find_credentials(const cd_provider_config *cfg, cloudwatch *s, cd_err *err)
{
    if (cfg->secret) {
        s->key_id = dup_or_null(cd_provider_secret(cfg, "aws_access_key_id"));
        s->secret = dup_or_null(cd_provider_secret(cfg, "aws_secret_access_key"));
        s->token = dup_or_null(cd_provider_secret(cfg, "aws_session_token"));
        if (!s->key_id || !s->secret) {
            cd_errfmt(err, "cloudwatch credentials does not contain aws_access_key_id and "
                           "aws_secret_access_key");
            return false;
        }
        return true;
    }
    const char *id = env_get(cfg->environ_, "AWS_ACCESS_KEY_ID");
    const char *sec = env_get(cfg->environ_, "AWS_SECRET_ACCESS_KEY");
    if (id && *id && sec && *sec) {
        s->key_id = dup_or_null(id);
        s->secret = dup_or_null(sec);
        s->token = dup_or_null(env_get(cfg->environ_, "AWS_SESSION_TOKEN"));
        return true;
    }
    const char *file = env_get(cfg->environ_, "AWS_SHARED_CREDENTIALS_FILE");
    const char *profile = env_get(cfg->environ_, "AWS_PROFILE");
    char path[1024] = "";
    if (file && *file)
        snprintf(path, sizeof path, "%s", file);
    else if (env_get(cfg->environ_, "HOME"))
        snprintf(path, sizeof path, "%s/.aws/credentials", env_get(cfg->environ_, "HOME"));
    if (*path && read_credentials_file(path, profile && *profile ? profile : "default", s))
        return true;
    cd_errfmt(err, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a "
                   "shared credentials file, or the template's secretRef");
    return false;
}

static bool cw_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    if (!cfg->region || !*cfg->region) {
        cd_errfmt(err, "region not specified");
        return false;
    }
    for (const char *c = cfg->region; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-') {
            cd_errfmt(err, "region \"%s\" is not a valid AWS region", cfg->region);
            return false;
        }
    }
    int64_t ms;
    if (!cd_provider_interval_ms(cfg, &ms, err))
        return false;
    if (cfg->address && *cfg->address && !cd_http_url_valid(cfg->address)) {
        cd_provider_address_error(err, "cloudwatch", cfg->address);
        return false;
    }
    cloudwatch *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    p->state = s;
    if (!find_credentials(cfg, s, err)) {
        cw_close(p);
        return false;
    }
    cd_buf b = CD_BUF_INIT;
    if (cfg->address && *cfg->address)
        cd_buf_puts(&b, cfg->address);
    else
        cd_buf_printf(&b, "https://monitoring.%s.amazonaws.com/", cfg->region);
    s->endpoint = cd_buf_steal(&b);
    cd_buf_printf(&b, "aws:amz:%s:monitoring", cfg->region);
    s->sigv4 = cd_buf_steal(&b);
    s->start_delta_ms = 10 * ms;
    return true;
}

/* One GetMetricData call with up to 3 retries on throttling and 5xx, as
 * the AWS SDK Flagger uses. */
static bool get_metric_data(cd_provider *p, json_t *input, cd_http_response *rs, cd_err *err)
{
    cloudwatch *s = p->state;
    char *body = json_dumps(input, JSON_COMPACT);
    bool ok = false;
    for (int attempt = 0; attempt <= 3; attempt++) {
        if (attempt > 0) {
            cd_http_response_free(rs);
            struct timespec ts = {0, (long)(100000000L << (attempt - 1))};
            nanosleep(&ts, NULL);
        }
        cd_http_request rq;
        cd_http_request_init(&rq, "POST", s->endpoint);
        rq.body = body;
        rq.body_len = strlen(body);
        rq.aws_sigv4 = s->sigv4;
        rq.username = s->key_id;
        rq.password = s->secret;
        ok = cd_http_add_header(&rq, "Content-Type", "application/x-amz-json-1.0", err) &&
             cd_http_add_header(&rq, "X-Amz-Target",
                                "GraniteServiceVersion20100801.GetMetricData", err) &&
             (!s->token || cd_http_add_header(&rq, "X-Amz-Security-Token", s->token, err));
        if (!ok) {
            memset(rs, 0, sizeof *rs);
            cd_http_request_free(&rq);
            break;
        }
        ok = cd_provider_http(p, &rq, rs, err);
        cd_http_request_free(&rq);
        bool retry = ok ? (rs->status >= 500 || rs->status == 429 ||
                           (rs->body.data && strstr(rs->body.data, "Throttling")))
                        : cd_http_transport_retriable(rs->curl_code);
        if (!retry)
            break;
    }
    if (!ok && rs->curl_code)
        cd_errprefix(err, "error requesting cloudwatch");
    free(body);
    return ok;
}

static void aws_error(const cd_http_response *rs, cd_err *err)
{
    json_t *j = json_loadb(rs->body.data ? rs->body.data : "", rs->body.len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "__type"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(j, "Message"));
    if (type || msg) {
        const char *hash = type ? strrchr(type, '#') : NULL;
        cd_errfmt(err, "error requesting cloudwatch: %s: %s (HTTP %ld)",
                  hash ? hash + 1 : type ? type : "error", msg ? msg : "", rs->status);
    } else {
        cd_provider_error_response(rs, err);
        cd_errprefix(err, "error requesting cloudwatch");
    }
    json_decref(j);
}

static cd_metric_rc cw_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    cloudwatch *s = p->state;
    json_error_t je;
    json_t *queries = json_loads(query, 0, &je);
    if (!json_is_array(queries)) {
        cd_errfmt(err, "error unmarshaling query: %s",
                  queries ? "the query must be a JSON list of MetricDataQuery" : je.text);
        json_decref(queries);
        return CD_METRIC_ERROR;
    }
    int64_t end = cd_provider_now_ms(p) / 1000;
    int64_t start = end - s->start_delta_ms / 1000;
    json_t *input = json_pack("{s:o, s:I, s:I, s:i}", "MetricDataQueries", queries, "StartTime",
                              (json_int_t)start, "EndTime", (json_int_t)end, "MaxDatapoints", 20);
    cd_http_response rs;
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (!get_metric_data(p, input, &rs, err))
        ;
    else if (rs.status != 200)
        aws_error(&rs, err);
    else
        rc = cd_cloudwatch_parse(rs.body.data, rs.body.len, value, err);
    cd_http_response_free(&rs);
    json_decref(input);
    return rc;
}

cd_metric_rc cd_cloudwatch_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return CD_METRIC_ERROR;
    const json_t *r0 = json_array_get(json_object_get(root, "MetricDataResults"), 0);
    const json_t *v = json_array_get(json_object_get(r0, "Values"), 0);
    cd_metric_rc rc = cd_provider_json_number(v, "value", body, len, value, err);
    json_decref(root);
    return rc;
}

static bool cw_online(cd_provider *p, cd_err *err)
{
    json_t *input = json_pack("{s:[], s:i, s:i}", "MetricDataQueries", "StartTime", 0, "EndTime", 0);
    cd_http_response rs;
    bool ok = get_metric_data(p, input, &rs, err);
    json_decref(input);
    if (ok && rs.status != 200 && rs.status != 400) {
        aws_error(&rs, err);
        cd_errprefix(err, "unexpected status code %ld", rs.status);
        ok = false;
    }
    cd_http_response_free(&rs);
    return ok;
}

const cd_provider_type cd_provider_cloudwatch = {
    .name = "cloudwatch",
    .open = cw_open,
    .query = cw_query,
    .is_online = cw_online,
    .close = cw_close,
};
