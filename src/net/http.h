/* http.h - canaryd's outbound HTTP client: one blocking request on libcurl
 * with a whole-request timeout, TLS verification (with an opt-out), proxy,
 * basic or bearer auth, AWS SigV4 signing, a cap on the response size and
 * errors written for users. Every outbound call (metric providers,
 * webhooks, alerts) goes through here.
 *
 * Thread-safe: each call uses its own curl handle. Must never block past
 * the request's timeout and never follow a redirect to a scheme other than
 * http/https. */
#ifndef CD_NET_HTTP_H
#define CD_NET_HTTP_H
#include "util/err.h"
#include "util/buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CD_HTTP_DEFAULT_TIMEOUT_MS 10000
#define CD_HTTP_MAX_RESPONSE (16u << 20)

typedef struct cd_http_request {
    const char *method;         /* NULL: GET, or POST when a body is set */
    const char *url;
    const char *body;           /* sent as is (not copied) */
    size_t body_len;
    char **headers;             /* "Name: value", owned; see cd_http_add_header */
    size_t n_headers, cap_headers;
    int64_t timeout_ms;         /* whole request; <= 0 means 10 s */
    bool insecure;              /* skip TLS peer and host verification */
    const char *ca_file;        /* extra CA bundle (PEM), may be NULL */
    const char *proxy;          /* proxy URL, may be NULL */
    const char *unix_socket;    /* connect to this Unix socket instead (the URL's host is ignored) */
    const char *username;       /* basic auth when set (or SigV4 key id) */
    const char *password;
    const char *bearer;         /* Authorization: Bearer <token> */
    const char *aws_sigv4;      /* "aws:amz:<region>:<service>": sign with username/password */
    size_t max_response;        /* 0: CD_HTTP_MAX_RESPONSE */
    bool follow_redirects;      /* at most 10, http/https only */
    bool secret_path;           /* the URL's path is a credential (alert webhooks):
                                   messages show scheme://host:port only */
} cd_http_request;

typedef struct cd_http_response {
    long status;                /* 0: no HTTP response */
    cd_buf body;
    int64_t retry_after_ms;     /* Retry-After (seconds or HTTP date); -1 when absent */
    char content_type[128];
    int curl_code;              /* CURLcode of the transfer, 0 on success */
    bool timed_out;
} cd_http_response;

void cd_http_request_init(cd_http_request *rq, const char *method, const char *url);
/* Adds "Name: value". Refuses names that are not HTTP tokens and values
 * holding CR, LF or NUL (header injection); err says which. */
bool cd_http_add_header(cd_http_request *rq, const char *name, const char *value, cd_err *err);
void cd_http_request_free(cd_http_request *rq);

/* Performs the request. Returns true when an HTTP response arrived (any
 * status); false on a transport error (connection refused, timeout, TLS,
 * DNS, response too large), with err explaining it. Error texts show the
 * URL redacted (util/redact.h): no userinfo, query values or token-like
 * path segments; no path at all with secret_path. rs is always
 * initialised and must be freed with cd_http_response_free. */
bool cd_http_perform(const cd_http_request *rq, cd_http_response *rs, cd_err *err);
void cd_http_response_free(cd_http_response *rs);

/* Whether a failed transfer is worth retrying (go-retryablehttp's rules):
 * connection errors and timeouts yes; bad URL, unsupported scheme,
 * redirect loops and TLS certificate failures no. */
bool cd_http_transport_retriable(int curl_code);

/* A short, printable excerpt of a response body for events and logs:
 * control characters become spaces, at most max bytes (then "..."),
 * credentials in it redacted (cd_redact_text). */
void cd_http_excerpt(const char *body, size_t len, char *out, size_t max);

/* Parses a Retry-After value (delta seconds or an HTTP date) relative to
 * now_ms; -1 when it is neither. */
int64_t cd_http_parse_retry_after(const char *v, int64_t now_ms);

/* Checks that s is an absolute http:// or https:// URL with a host. */
bool cd_http_url_valid(const char *s);

#endif
