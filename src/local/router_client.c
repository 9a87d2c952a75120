/* router_client.c - the router's admin API client (see router_client.h),
 * on libcurl. Never part of the router process itself (canaryd-router
 * links no libcurl). */
#include "local/router_client.h"
#include "util/access.h"
#include "util/buf.h"
#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cd_router_client {
    CURL *h;
    char base[256];         /* "http://host:port" or "http://localhost" */
    char *unix_path;
    long timeout_ms;
    char auth[CD_TOKEN_MAX + 32];   /* "Authorization: Bearer T" or "" */
    json_t *err_details;    /* the last refusal's "details" (or NULL) */
};

static void seterr(cd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(cd_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

cd_router_client *cd_router_client_new(const char *admin, long timeout_ms, cd_err *err)
{
    if (!admin || !*admin) {
        seterr(err, "router client: no admin address");
        return NULL;
    }
    cd_router_client *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    if (!strncmp(admin, "unix:", 5)) {
        c->unix_path = strdup(admin + 5);
        if (!c->unix_path)
            abort();
        snprintf(c->base, sizeof c->base, "http://localhost");
    } else if (!strncmp(admin, "http://", 7)) {
        snprintf(c->base, sizeof c->base, "%s", admin);
        size_t n = strlen(c->base);
        if (n && c->base[n - 1] == '/')
            c->base[n - 1] = 0;
    } else {
        snprintf(c->base, sizeof c->base, "http://%s", admin);
    }
    if (!c->unix_path) {   /* a TCP admin API needs the token */
        char tok[CD_TOKEN_MAX + 1], e[300];
        if (cd_token_from_env(CD_ENV_ROUTER_TOKEN, tok, sizeof tok, e, sizeof e))
            cd_router_client_set_token(c, tok);
        memset(tok, 0, sizeof tok);
    }
    c->h = curl_easy_init();
    if (!c->h) {
        seterr(err, "router client: curl_easy_init failed");
        cd_router_client_free(c);
        return NULL;
    }
    return c;
}

void cd_router_client_set_token(cd_router_client *c, const char *token)
{
    if (token && *token)
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
    else
        c->auth[0] = 0;
}

void cd_router_client_free(cd_router_client *c)
{
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    memset(c->auth, 0, sizeof c->auth);
    json_decref(c->err_details);
    free(c->unix_path);
    free(c);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    cd_buf_append(ud, p, sz * n);
    return sz * n;
}

typedef struct hdrs { char etag[64]; } hdrs;

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    hdrs *h = ud;
    size_t len = sz * n;
    if (len > 6 && !strncasecmp(p, "ETag:", 5)) {
        const char *v = p + 5;
        while (*v == ' ' || *v == '"')
            v++;
        size_t k = 0;
        while (v + k < p + len && v[k] != '"' && v[k] != '\r' && v[k] != '\n' &&
               k + 1 < sizeof h->etag)
            k++;
        memcpy(h->etag, v, k);
        h->etag[k] = 0;
    }
    return len;
}

/* Performs one call; returns the HTTP status (0 on transport failure) and
 * the parsed JSON body in *out (when asked and present). */
static long call(cd_router_client *c, const char *method, const char *path, const json_t *body,
                 const char *if_match, json_t **out, hdrs *hs, cd_err *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    cd_buf resp = CD_BUF_INIT;
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *headers = NULL;
    char im[96];
    if (payload || strcmp(method, "GET"))
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (c->auth[0])
        headers = curl_slist_append(headers, c->auth);
    if (if_match) {
        snprintf(im, sizeof im, "If-Match: \"%s\"", if_match);
        headers = curl_slist_append(headers, im);
    }
    json_decref(c->err_details);
    c->err_details = NULL;
    hdrs local;
    if (!hs)
        hs = &local;
    hs->etag[0] = 0;
    CURL *h = c->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, hs);
    if (c->unix_path)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    if (headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc != CURLE_OK) {
        seterr(err, "router admin %s %s: %s", method, path, curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        json_error_t je;
        json_t *j = resp.len ? json_loadb(resp.data, resp.len, 0, &je) : NULL;
        if (status >= 300) {
            const char *msg = json_string_value(json_object_get(j, "error"));
            cd_buf m = CD_BUF_INIT;
            cd_buf_printf(&m, "router admin %s %s: %ld %s", method, path, status,
                          msg ? msg : cd_buf_str(&resp));
            json_t *det = json_object_get(j, "details");
            if (json_is_array(det))
                c->err_details = json_incref(det);
            size_t i;
            json_t *e;
            json_array_foreach(det, i, e) {
                if (i == 3) {
                    cd_buf_printf(&m, "; ...");
                    break;
                }
                cd_buf_printf(&m, "; %s: %s", json_string_value(json_object_get(e, "path")),
                              json_string_value(json_object_get(e, "message")));
            }
            seterr(err, "%s", cd_buf_str(&m));
            cd_buf_free(&m);
            json_decref(j);
        } else if (out) {
            *out = j;
        } else {
            json_decref(j);
        }
    }
    curl_slist_free_all(headers);
    free(payload);
    cd_buf_free(&resp);
    return status;
}

static bool ok(long status) { return status >= 200 && status < 300; }

const json_t *cd_router_client_error_details(const cd_router_client *c)
{
    return c ? c->err_details : NULL;
}

bool cd_router_get_config(cd_router_client *c, json_t **config, uint64_t *version, cd_err *err)
{
    hdrs hs;
    json_t *j = NULL;
    if (!ok(call(c, "GET", "/config", NULL, NULL, &j, &hs, err)))
        return false;
    if (!json_is_object(j)) {
        json_decref(j);
        seterr(err, "router admin GET /config: not a JSON object");
        return false;
    }
    *config = j;
    if (version)
        *version = strtoull(hs.etag, NULL, 10);
    return true;
}

bool cd_router_put_config(cd_router_client *c, const json_t *config, uint64_t if_version,
                          uint64_t *version, cd_err *err)
{
    char im[32];
    snprintf(im, sizeof im, "%llu", (unsigned long long)if_version);
    json_t *j = NULL;
    if (!ok(call(c, "PUT", "/config", config, if_version ? im : NULL, &j, NULL, err)))
        return false;
    if (version)
        *version = (uint64_t)json_integer_value(json_object_get(j, "version"));
    json_decref(j);
    return true;
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

bool cd_router_put_route(cd_router_client *c, const json_t *route, cd_err *err)
{
    const char *name = json_string_value(json_object_get(route, "name"));
    if (!valid_name(name)) {
        seterr(err, "router client: the route needs a valid name");
        return false;
    }
    char path[128];
    snprintf(path, sizeof path, "/routes/%s", name);
    return ok(call(c, "PUT", path, route, NULL, NULL, NULL, err));
}

bool cd_router_delete_route(cd_router_client *c, const char *name, cd_err *err)
{
    if (!valid_name(name)) {
        seterr(err, "router client: invalid route name");
        return false;
    }
    char path[128];
    snprintf(path, sizeof path, "/routes/%s", name);
    return ok(call(c, "DELETE", path, NULL, NULL, NULL, NULL, err));
}

bool cd_router_set_weight(cd_router_client *c, const char *route, int canary_weight, int mirror,
                          cd_err *err)
{
    if (!valid_name(route) || canary_weight < 0 || canary_weight > 100) {
        seterr(err, "router client: invalid route name or weight %d", canary_weight);
        return false;
    }
    json_t *b = json_pack("{s:i}", "canaryWeight", canary_weight);
    if (mirror >= 0)
        json_object_set_new(b, "mirror", json_boolean(mirror));
    char path[128];
    snprintf(path, sizeof path, "/routes/%s/weight", route);
    bool r = ok(call(c, "PUT", path, b, NULL, NULL, NULL, err));
    json_decref(b);
    return r;
}

bool cd_router_get_weight(cd_router_client *c, const char *route, int *canary_weight,
                          bool *mirror, cd_err *err)
{
    if (!valid_name(route)) {
        seterr(err, "router client: invalid route name");
        return false;
    }
    char path[128];
    snprintf(path, sizeof path, "/routes/%s/weight", route);
    json_t *j = NULL;
    if (!ok(call(c, "GET", path, NULL, NULL, &j, NULL, err)))
        return false;
    json_t *w = json_object_get(j, "canaryWeight");
    bool good = json_is_integer(w);
    if (good) {
        *canary_weight = (int)json_integer_value(w);
        if (mirror)
            *mirror = json_is_true(json_object_get(j, "mirror"));
    } else {
        seterr(err, "router admin GET %s: no canaryWeight in the answer", path);
    }
    json_decref(j);
    return good;
}

static bool get_json(cd_router_client *c, const char *path, json_t **out, cd_err *err)
{
    json_t *j = NULL;
    if (!ok(call(c, "GET", path, NULL, NULL, &j, NULL, err)))
        return false;
    *out = j;
    return j != NULL;
}

bool cd_router_stats(cd_router_client *c, json_t **stats, cd_err *err)
{
    return get_json(c, "/stats", stats, err);
}

bool cd_router_status(cd_router_client *c, json_t **status, cd_err *err)
{
    return get_json(c, "/status", status, err);
}

static bool valid_group(const char *g)
{
    return g && (!strcmp(g, "primary") || !strcmp(g, "canary") || !strcmp(g, "mirror"));
}

static double num_or_nan(const json_t *v) { return json_is_number(v) ? json_number_value(v) : NAN; }

bool cd_router_measure_at(cd_router_client *c, const char *route, const char *group,
                          unsigned window_s, unsigned offset_s, cd_router_measurement *out,
                          unsigned *covered_s, cd_err *err)
{
    memset(out, 0, sizeof *out);
    if (covered_s)
        *covered_s = 0;
    if (!valid_name(route) || !valid_group(group) || window_s == 0) {
        seterr(err, "router client: invalid route, group or window");
        return false;
    }
    char path[256], offset[32] = "";
    if (offset_s)
        snprintf(offset, sizeof offset, "&offset=%u", offset_s);
    snprintf(path, sizeof path,
             "/measurements?route=%s&group=%s&window=%u%s&quantiles=0.5,0.9,0.99", route, group,
             window_s, offset);
    json_t *j;
    if (!get_json(c, path, &j, err))
        return false;
    json_t *g = json_object_get(json_object_get(j, "groups"), group);
    json_t *lat = json_object_get(g, "latencyMs");
    out->requests = (uint64_t)json_integer_value(json_object_get(g, "requests"));
    out->errors = (uint64_t)json_integer_value(json_object_get(json_object_get(g, "status"), "5xx"));
    out->has_data = out->requests > 0;
    out->success_rate = num_or_nan(json_object_get(g, "successRate"));
    out->mean_ms = num_or_nan(json_object_get(lat, "mean"));
    out->max_ms = num_or_nan(json_object_get(lat, "max"));
    out->p50_ms = num_or_nan(json_object_get(lat, "p50"));
    out->p90_ms = num_or_nan(json_object_get(lat, "p90"));
    out->p99_ms = num_or_nan(json_object_get(lat, "p99"));
    json_t *cov = json_object_get(j, "coveredSeconds");
    if (covered_s)
        *covered_s = json_is_integer(cov) && json_integer_value(cov) > 0
                         ? (unsigned)json_integer_value(cov)
                         : 0;
    bool good = g != NULL;
    if (!good)
        seterr(err, "router admin GET %s: group %s missing", path, group);
    json_decref(j);
    return good;
}

bool cd_router_measure(cd_router_client *c, const char *route, const char *group,
                       unsigned window_s, cd_router_measurement *out, cd_err *err)
{
    return cd_router_measure_at(c, route, group, window_s, 0, out, NULL, err);
}

bool cd_router_samples(cd_router_client *c, const char *route, const char *group,
                       unsigned window_s, size_t limit, double **lat, size_t *n, cd_err *err)
{
    *lat = NULL;
    *n = 0;
    if (!valid_name(route) || !valid_group(group) || window_s == 0 || limit == 0) {
        seterr(err, "router client: invalid route, group, window or limit");
        return false;
    }
    char path[256];
    snprintf(path, sizeof path, "/samples?route=%s&group=%s&window=%u&limit=%zu", route, group,
             window_s, limit);
    json_t *j;
    if (!get_json(c, path, &j, err))
        return false;
    json_t *arr = json_object_get(j, "samples");
    size_t cnt = json_array_size(arr);
    double *v = malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
        v[i] = json_number_value(json_array_get(e, 1));
    json_decref(j);
    *lat = v;
    *n = cnt;
    return true;
}
