/* load.c - the native load generator (see load.h): one curl multi handle,
 * open-loop scheduling at a fixed rate (or closed loop at a fixed
 * concurrency), latencies kept in a bounded reservoir for percentiles.
 * Never sends past the duration or request count, and never waits on a
 * request longer than its timeout. */
#include "loadtester/load.h"
#include "util/redact.h"
#include "net/http.h"
#include "util/duration.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESERVOIR 100000

static char *xdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

void cd_load_spec_free(cd_load_spec *s)
{
    free(s->url);
    free(s->method);
    free(s->body);
    for (size_t i = 0; i < s->n_headers; i++)
        free(s->headers[i]);
    memset(s, 0, sizeof *s);
}

/* err = the URL is not usable, shown redacted: it may carry credentials. */
static void bad_url(const char *url, cd_err *err)
{
    char shown[256];
    cd_redact_url(url ? url : "", 0, shown, sizeof shown);
    cd_errfmt(err, "url \"%s\" is not an http:// or https:// URL", shown);
}

static bool add_header(cd_load_spec *s, const char *line, cd_err *err)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || strpbrk(line, "\r\n")) {
        char shown[128];
        cd_redact_text(line, NULL, 0, shown, sizeof shown);
        cd_errfmt(err, "header \"%.60s\" is not \"Name: value\"", shown);
        return false;
    }
    if (s->n_headers >= CD_LOAD_MAX_HEADERS) {
        cd_errfmt(err, "at most %d headers", CD_LOAD_MAX_HEADERS);
        return false;
    }
    s->headers[s->n_headers++] = xdup(line);
    return true;
}

static bool parse_count(const char *key, const char *v, int64_t max, int64_t *out, cd_err *err)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < 0 || x > max) {
        cd_errfmt(err, "%s \"%s\" is not a whole number between 0 and %lld", key, v, (long long)max);
        return false;
    }
    *out = x;
    return true;
}

static bool parse_duration(const char *key, const char *v, int64_t *ms, cd_err *err)
{
    if (!cd_duration_parse_ms(v, ms) || *ms < 0) {
        cd_errfmt(err, "%s \"%s\" is not a duration (e.g. 30s, 2m)", key, v);
        return false;
    }
    return true;
}

static bool apply(cd_load_spec *s, const char *k, const char *v, cd_err *err)
{
    int64_t n;
    if (!strcmp(k, "url")) {
        free(s->url);
        s->url = xdup(v);
    } else if (!strcmp(k, "method")) {
        for (const char *c = v; *c; c++)
            if (!isupper((unsigned char)*c)) {
                cd_errfmt(err, "method \"%s\" is not an HTTP method", v);
                return false;
            }
        free(s->method);
        s->method = xdup(v);
    } else if (!strcmp(k, "body")) {
        free(s->body);
        s->body = xdup(v);
    } else if (!strncmp(k, "header.", 7)) {
        char line[1024];
        snprintf(line, sizeof line, "%s: %s", k + 7, v);
        return add_header(s, line, err);
    } else if (!strcmp(k, "headers")) {
        char *copy = xdup(v), *save = NULL;
        bool ok = true;
        for (char *l = strtok_r(copy, "\n", &save); l && ok; l = strtok_r(NULL, "\n", &save)) {
            size_t len = strlen(l);
            if (len && l[len - 1] == '\r')
                l[len - 1] = '\0';
            if (*l)
                ok = add_header(s, l, err);
        }
        free(copy);
        return ok;
    } else if (!strcmp(k, "rate")) {
        char *end;
        double r = strtod(v, &end);
        if (end == v || (*end && strcmp(end, "/s")) || !(r >= 0) || r > 1e6) {
            cd_errfmt(err, "rate \"%s\" is not a number of requests per second", v);
            return false;
        }
        s->rate = r;
    } else if (!strcmp(k, "concurrency")) {
        if (!parse_count(k, v, 10000, &n, err) || n == 0) {
            if (n == 0)
                cd_errfmt(err, "concurrency must be at least 1");
            return false;
        }
        s->concurrency = (int)n;
    } else if (!strcmp(k, "duration")) {
        return parse_duration(k, v, &s->duration_ms, err);
    } else if (!strcmp(k, "timeout")) {
        return parse_duration(k, v, &s->timeout_ms, err);
    } else if (!strcmp(k, "requests")) {
        return parse_count(k, v, 1000000000, &s->requests, err);
    } else if (!strcmp(k, "insecure")) {
        s->insecure = !strcasecmp(v, "true") || !strcmp(v, "1");
    } else if (!strcmp(k, "maxErrorRate")) {
        char *end;
        double r = strtod(v, &end);
        if (end == v || *end || !(r >= 0 && r <= 100)) {
            cd_errfmt(err, "maxErrorRate \"%s\" is not a percentage", v);
            return false;
        }
        s->max_error_rate = r;
    }
    return true;   /* other keys (type, wait, ...) belong to the load tester */
}

bool cd_load_spec_from_metadata(const json_t *md, cd_load_spec *s, cd_err *err)
{
    memset(s, 0, sizeof *s);
    s->concurrency = 10;
    s->timeout_ms = 10000;
    s->max_error_rate = 100;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)md, k, v) {
        if (!json_is_string(v))
            continue;
        if (!apply(s, k, json_string_value(v), err)) {
            cd_load_spec_free(s);
            return false;
        }
    }
    if (!s->url || !cd_http_url_valid(s->url)) {
        bad_url(s->url, err);
        cd_load_spec_free(s);
        return false;
    }
    if (!s->method)
        s->method = xdup(s->body ? "POST" : "GET");
    if (!s->duration_ms && !s->requests)
        s->duration_ms = 10000;
    if (s->timeout_ms <= 0)
        s->timeout_ms = 10000;
    return true;
}

/* ---- the run ----------------------------------------------------------- */

typedef struct run {
    const cd_load_spec *s;
    CURLM *m;
    struct curl_slist *hdrs;
    cd_load_report *r;
    double *samples;
    size_t nsamples;
    uint64_t seen, rng;
    double sum_ms;
    int in_flight;
    CURL **idle;                /* finished handles, reused (options kept) */
    size_t n_idle;
} run;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static uint64_t next_rand(run *u)
{
    u->rng ^= u->rng << 13;
    u->rng ^= u->rng >> 7;
    u->rng ^= u->rng << 17;
    return u->rng;
}

static void record_latency(run *u, double ms)
{
    u->seen++;
    u->sum_ms += ms;
    if (ms > u->r->max_ms)
        u->r->max_ms = ms;
    if (u->nsamples < RESERVOIR) {
        u->samples[u->nsamples++] = ms;
    } else {
        uint64_t j = next_rand(u) % u->seen;
        if (j < RESERVOIR)
            u->samples[j] = ms;
    }
}

static CURL *new_handle(run *u)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    const cd_load_spec *s = u->s;
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "canaryd-loadtester");
    if (u->hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, u->hdrs);
    if (s->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->body));
    }
    if (strcmp(s->method, "GET") && !(s->body && !strcmp(s->method, "POST")))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, s->method);
    if (!strcmp(s->method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (s->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return h;
}

static bool start_one(run *u)
{
    CURL *h = u->n_idle ? u->idle[--u->n_idle] : new_handle(u);
    if (!h)
        return false;
    int64_t *t0 = malloc(sizeof *t0);
    if (!t0)
        abort();
    *t0 = cd_mono_ns();
    curl_easy_setopt(h, CURLOPT_PRIVATE, t0);
    if (curl_multi_add_handle(u->m, h) != CURLM_OK) {
        free(t0);
        curl_easy_cleanup(h);
        return false;
    }
    u->in_flight++;
    u->r->sent++;
    return true;
}

static void collect(run *u)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *h = msg->easy_handle;
        int64_t *t0 = NULL;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&t0);
        double ms = t0 ? (double)(cd_mono_ns() - *t0) / 1e6 : 0;
        long status = 0;
        if (msg->data.result == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        int cls = status >= 100 && status < 600 ? (int)(status / 100) : 0;
        u->r->by_class[cls]++;
        if (cls == 0 && !u->r->first_error[0])
            snprintf(u->r->first_error, sizeof u->r->first_error, "%s",
                     curl_easy_strerror(msg->data.result));
        if (cls == 0 || cls == 5)
            u->r->failed++;
        else
            u->r->succeeded++;
        record_latency(u, ms);
        curl_multi_remove_handle(u->m, h);
        free(t0);
        curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
        u->idle[u->n_idle++] = h;   /* at most `concurrency` handles ever exist */
        u->in_flight--;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

bool cd_load_run(const cd_load_spec *s, volatile sig_atomic_t *stop, cd_load_report *r,
                 cd_err *err)
{
    memset(r, 0, sizeof *r);
    if (!cd_http_url_valid(s->url)) {
        bad_url(s->url, err);
        return false;
    }
    run u;
    memset(&u, 0, sizeof u);
    u.s = s;
    u.r = r;
    u.rng = 0x9E3779B97F4A7C15ull;
    u.samples = malloc(RESERVOIR * sizeof *u.samples);
    u.m = curl_multi_init();
    if (!u.samples || !u.m)
        abort();
    for (size_t i = 0; i < s->n_headers; i++)
        u.hdrs = curl_slist_append(u.hdrs, s->headers[i]);
    int conc = s->concurrency > 0 ? s->concurrency : 10;
    u.idle = calloc((size_t)conc, sizeof *u.idle);
    if (!u.idle)
        abort();
    int64_t start = cd_mono_ns();
    int64_t end = s->duration_ms > 0 ? start + s->duration_ms * CD_NS_PER_MS : INT64_MAX;
    int64_t every = s->progress && s->progress_every_ms > 0 ? s->progress_every_ms * CD_NS_PER_MS : 0;
    int64_t next_progress = every ? start + every : INT64_MAX;
    for (;;) {
        int64_t now = cd_mono_ns();
        if (now >= next_progress) {
            s->progress(s->progress_ctx, r, (double)(now - start) / 1e9);
            next_progress += every;
        }
        bool more = !(stop && *stop) && now < end && (!s->requests || (int64_t)r->sent < s->requests);
        int64_t wait_ms = 50;
        if (more && s->rate > 0) {
            for (;;) {
                int64_t due = start + (int64_t)((double)r->sent * 1e9 / s->rate);
                if (due > now) {
                    wait_ms = (due - now) / CD_NS_PER_MS;
                    break;
                }
                if (u.in_flight >= conc || (s->requests && (int64_t)r->sent >= s->requests) ||
                    !start_one(&u))
                    break;
            }
        } else if (more) {
            while (u.in_flight < conc && (!s->requests || (int64_t)r->sent < s->requests))
                if (!start_one(&u))
                    break;
        }
        if (!more && u.in_flight == 0)
            break;
        int running, before = u.in_flight;
        curl_multi_perform(u.m, &running);
        collect(&u);
        if (more && u.in_flight < before)
            continue;   /* slots freed: refill before waiting */
        if (wait_ms > 50)
            wait_ms = 50;
        curl_multi_poll(u.m, NULL, 0, (int)(wait_ms > 0 ? wait_ms : 1), NULL);
    }
    r->duration_s = (double)(cd_mono_ns() - start) / 1e9;
    r->rate = r->duration_s > 0 ? (double)r->sent / r->duration_s : 0;
    qsort(u.samples, u.nsamples, sizeof *u.samples, cmp_double);
    r->p50_ms = percentile(u.samples, u.nsamples, 0.50);
    r->p90_ms = percentile(u.samples, u.nsamples, 0.90);
    r->p99_ms = percentile(u.samples, u.nsamples, 0.99);
    r->mean_ms = u.seen ? u.sum_ms / (double)u.seen : 0;
    for (size_t i = 0; i < u.n_idle; i++)
        curl_easy_cleanup(u.idle[i]);
    free(u.idle);
    curl_multi_cleanup(u.m);
    curl_slist_free_all(u.hdrs);
    free(u.samples);
    return true;
}

bool cd_load_passed(const cd_load_spec *s, const cd_load_report *r)
{
    if (!r->sent)
        return false;
    return 100.0 * (double)r->failed / (double)r->sent <= s->max_error_rate;
}

json_t *cd_load_report_json(const cd_load_report *r)
{
    json_t *codes = json_object();
    static const char *names[6] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        if (r->by_class[i])
            json_object_set_new(codes, names[i], json_integer((json_int_t)r->by_class[i]));
    json_t *j = json_pack("{s:I, s:I, s:I, s:o, s:f, s:f, s:{s:f, s:f, s:f, s:f, s:f}}", "sent",
                          (json_int_t)r->sent, "succeeded", (json_int_t)r->succeeded, "failed",
                          (json_int_t)r->failed, "responses", codes, "durationSeconds",
                          round(r->duration_s * 1000) / 1000, "requestsPerSecond",
                          round(r->rate * 10) / 10, "latencyMs", "mean", round(r->mean_ms * 100) / 100,
                          "p50", round(r->p50_ms * 100) / 100, "p90", round(r->p90_ms * 100) / 100,
                          "p99", round(r->p99_ms * 100) / 100, "max", round(r->max_ms * 100) / 100);
    if (r->first_error[0])
        json_object_set_new(j, "firstError", json_string(r->first_error));
    return j;
}
