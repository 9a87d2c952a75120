/* http.c - the outbound HTTP client on libcurl (see http.h). One easy handle
 * per request; no global state besides curl_global_init. Must never print
 * credentials: error texts name the URL without user info or query. */
#include "net/http.h"
#include "util/redact.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include "util/grow.h"
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cd_http_request_init(cd_http_request *rq, const char *method, const char *url)
{
    memset(rq, 0, sizeof *rq);
    rq->method = method;
    rq->url = url;
}

static bool is_token_char(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool cd_http_add_header(cd_http_request *rq, const char *name, const char *value, cd_err *err)
{
    if (!name || !*name) {
        cd_errfmt(err, "empty HTTP header name");
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (!is_token_char(*p)) {
            cd_errfmt(err, "HTTP header name \"%.64s\" has a character that is not allowed", name);
            return false;
        }
    }
    if (!value)
        value = "";
    if (strpbrk(value, "\r\n")) {
        cd_errfmt(err, "HTTP header %.64s: value contains a line break", name);
        return false;
    }
    CD_GROW(rq->headers, rq->cap_headers, rq->n_headers + 1, 8);
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line)
        abort();
    /* "Name;" tells curl to send an empty header instead of removing it */
    if (*value)
        snprintf(line, n, "%s: %s", name, value);
    else
        snprintf(line, n, "%s;", name);
    rq->headers[rq->n_headers++] = line;
    return true;
}

void cd_http_request_free(cd_http_request *rq)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        free(rq->headers[i]);
    free(rq->headers);
    rq->headers = NULL;
    rq->n_headers = rq->cap_headers = 0;
}

void cd_http_response_free(cd_http_response *rs)
{
    cd_buf_free(&rs->body);
}

bool cd_http_url_valid(const char *s)
{
    if (!s || (strncasecmp(s, "http://", 7) && strncasecmp(s, "https://", 8)))
        return false;
    pthread_once(&g_curl_once, curl_init_once);
    CURLU *u = curl_url();
    if (!u)
        return false;
    bool ok = curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK;
    char *host = NULL;
    if (ok && (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host))
        ok = false;
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* The URL as messages show it: redacted (util/redact.h), without its
 * query and fragment, whose values would all read REDACTED anyway. */
static void url_for_message(const cd_http_request *rq, char *out, size_t n)
{
    cd_redact_url(rq->url ? rq->url : "(no URL)", rq->secret_path ? CD_REDACT_PATH : 0, out, n);
    out[strcspn(out, "?#")] = '\0';
}

typedef struct transfer {
    cd_http_response *rs;
    size_t max;
    bool too_large;
} transfer;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (t->rs->body.len + n > t->max) {
        t->too_large = true;
        return 0;   /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    cd_buf_append(&t->rs->body, p, n);
    return n;
}

static void trim_copy(char *dst, size_t dstlen, const char *src, size_t n)
{
    while (n && isspace((unsigned char)*src)) {
        src++;
        n--;
    }
    while (n && isspace((unsigned char)src[n - 1]))
        n--;
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    /* a new status line (redirect, 100-continue) resets what we saw */
    if (n > 5 && !strncmp(p, "HTTP/", 5)) {
        t->rs->retry_after_ms = -1;
        t->rs->content_type[0] = '\0';
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t klen = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
    if (klen == 11 && !strncasecmp(p, "Retry-After", 11)) {
        char val[128];
        trim_copy(val, sizeof val, v, vlen);
        t->rs->retry_after_ms = cd_http_parse_retry_after(val, cd_wall_ms());
    } else if (klen == 12 && !strncasecmp(p, "Content-Type", 12)) {
        trim_copy(t->rs->content_type, sizeof t->rs->content_type, v, vlen);
    }
    return n;
}

int64_t cd_http_parse_retry_after(const char *v, int64_t now_ms)
{
    if (!v || !*v)
        return -1;
    bool digits = true;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p))
            digits = false;
    if (digits) {
        if (strlen(v) > 9)
            return -1;
        return strtoll(v, NULL, 10) * 1000;
    }
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    int64_t d = (int64_t)when * 1000 - now_ms;
    return d < 0 ? 0 : d;
}

bool cd_http_transport_retriable(int code)
{
    switch ((CURLcode)code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_WRITE_ERROR:          /* response too large */
        return false;
    default:
        return true;
    }
}

void cd_http_excerpt(const char *body, size_t len, char *out, size_t max)
{
    if (max == 0)
        return;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < len && o + 1 < max; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c < 0x20 || c == 0x7f) {
            if (!space && o > 0)
                out[o++] = ' ';
            space = true;
            continue;
        }
        space = false;
        out[o++] = (char)c;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    if (o + 1 >= max && len > o && max > 4)
        memcpy(out + max - 4, "...", 4);
    char *raw = strdup(out);
    if (raw) {
        cd_redact_text(raw, NULL, 0, out, max);
        free(raw);
    }
}

static void describe_failure(const cd_http_request *rq, const transfer *t, CURLcode rc,
                             const char *errbuf, int64_t timeout_ms, cd_err *err)
{
    char where[256], why[CURL_ERROR_SIZE + 64];
    url_for_message(rq, where, sizeof where);
    cd_redact_text(*errbuf ? errbuf : curl_easy_strerror(rc), rq->url,
                   rq->secret_path ? CD_REDACT_PATH : 0, why, sizeof why);
    if (t->too_large)
        cd_errfmt(err, "response from %s is larger than %zu bytes", where, t->max);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        cd_errfmt(err, "request to %s timed out after %lld ms", where, (long long)timeout_ms);
    else
        cd_errfmt(err, "request to %s failed: %s", where, why);
}

static void apply_auth(CURL *h, const cd_http_request *rq)
{
    if (rq->aws_sigv4) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, rq->aws_sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->username ? rq->username : "");
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password ? rq->password : "");
    } else if (rq->bearer) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, rq->bearer);
    } else if (rq->username) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password ? rq->password : "");
    }
}

static void apply_method(CURL *h, const cd_http_request *rq)
{
    const char *m = rq->method ? rq->method : (rq->body ? "POST" : "GET");
    if (rq->body || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
    } else if (!strcmp(m, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "HEAD"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

bool cd_http_perform(const cd_http_request *rq, cd_http_response *rs, cd_err *err)
{
    memset(rs, 0, sizeof *rs);
    rs->retry_after_ms = -1;
    if (!cd_http_url_valid(rq->url)) {
        char shown[256];
        url_for_message(rq, shown, sizeof shown);
        cd_errfmt(err, "\"%s\" is not an http:// or https:// URL", shown);
        rs->curl_code = CURLE_URL_MALFORMAT;
        return false;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        cd_errfmt(err, "cannot create an HTTP client (out of memory)");
        rs->curl_code = CURLE_OUT_OF_MEMORY;
        return false;
    }
    transfer t = {rs, rq->max_response ? rq->max_response : CD_HTTP_MAX_RESPONSE, false};
    int64_t timeout = rq->timeout_ms > 0 ? rq->timeout_ms : CD_HTTP_DEFAULT_TIMEOUT_MS;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < rq->n_headers; i++)
        hdrs = curl_slist_append(hdrs, rq->headers[i]);

    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "canaryd");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (rq->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (rq->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rq->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_file);
    if (rq->proxy && *rq->proxy)
        curl_easy_setopt(h, CURLOPT_PROXY, rq->proxy);
    if (rq->unix_socket && *rq->unix_socket)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, rq->unix_socket);
    apply_method(h, rq);
    apply_auth(h, rq);

    CURLcode rc = curl_easy_perform(h);
    rs->curl_code = (int)rc;
    bool ok = rc == CURLE_OK;
    if (ok) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    } else {
        rs->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        describe_failure(rq, &t, rc, errbuf, timeout, err);
        rs->status = 0;
    }
    if (!rs->body.data)
        cd_buf_puts(&rs->body, "");
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return ok;
}
