/* err.h - errors of the Kubernetes client: transport failures, and API
 * errors decoded from the server's metav1.Status (reason, code, message,
 * Retry-After). Every message is written for users (it ends up in logs and
 * Events). Pure: decoding never does I/O. */
#ifndef CD_KUBE_ERR_H
#define CD_KUBE_ERR_H
#include <stdbool.h>
#include <stddef.h>

typedef enum cd_kube_reason {
    CD_KR_NONE = 0,
    CD_KR_TRANSPORT,            /* connection, TLS, timeout: no HTTP answer */
    CD_KR_CANCELLED,            /* the client was cancelled (leadership lost, shutdown) */
    CD_KR_CONFIG,               /* bad kubeconfig, credentials plugin failed, bad argument */
    CD_KR_DECODE,               /* the answer was not the JSON expected */
    CD_KR_BAD_REQUEST,          /* 400 */
    CD_KR_UNAUTHORIZED,         /* 401 */
    CD_KR_FORBIDDEN,            /* 403 */
    CD_KR_NOT_FOUND,            /* 404 */
    CD_KR_METHOD_NOT_ALLOWED,   /* 405 */
    CD_KR_NOT_ACCEPTABLE,       /* 406 */
    CD_KR_ALREADY_EXISTS,       /* 409 AlreadyExists */
    CD_KR_CONFLICT,             /* 409 Conflict: stale resourceVersion */
    CD_KR_EXPIRED,              /* 410 Gone / Expired: relist */
    CD_KR_UNSUPPORTED_MEDIA_TYPE, /* 415 */
    CD_KR_INVALID,              /* 422 */
    CD_KR_TOO_MANY_REQUESTS,    /* 429 */
    CD_KR_INTERNAL,             /* 500 */
    CD_KR_SERVICE_UNAVAILABLE,  /* 503 */
    CD_KR_TIMEOUT,              /* 504 / server timeout */
    CD_KR_UNKNOWN,              /* any other status */
} cd_kube_reason;

typedef struct cd_kube_err {
    cd_kube_reason reason;
    int http;                   /* HTTP status; 0 when there was no answer */
    int retry_after_s;          /* Retry-After or details.retryAfterSeconds; 0 if none */
    char msg[512];
} cd_kube_err;

/* Fills err (NULL is allowed everywhere) and returns false, for one-line
 * error returns. */
bool cd_kube_fail(cd_kube_err *err, cd_kube_reason reason, int http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cd_kube_err_clear(cd_kube_err *err);
const char *cd_kube_reason_name(cd_kube_reason r);

/* Decodes a non-2xx answer: the Status body when there is one (reason,
 * message, details.retryAfterSeconds), else the HTTP code alone. `what`
 * ("GET /apis/...") is appended in parentheses. */
void cd_kube_err_from_status(cd_kube_err *err, int http, const char *body, size_t len,
                             const char *what);
/* Same from a decoded Status (a watch ERROR event's object); http 0 takes
 * the Status' own code. */
struct json_t;
void cd_kube_err_from_status_json(cd_kube_err *err, int http, const struct json_t *status,
                                  const char *what);
/* The reason an HTTP code and a Status.reason string map to. */
cd_kube_reason cd_kube_reason_of(int http, const char *status_reason);

static inline bool cd_kube_is_not_found(const cd_kube_err *e) { return e && e->reason == CD_KR_NOT_FOUND; }
static inline bool cd_kube_is_conflict(const cd_kube_err *e) { return e && e->reason == CD_KR_CONFLICT; }
static inline bool cd_kube_is_already_exists(const cd_kube_err *e) { return e && e->reason == CD_KR_ALREADY_EXISTS; }
static inline bool cd_kube_is_expired(const cd_kube_err *e) { return e && e->reason == CD_KR_EXPIRED; }
static inline bool cd_kube_is_invalid(const cd_kube_err *e) { return e && e->reason == CD_KR_INVALID; }
static inline bool cd_kube_is_cancelled(const cd_kube_err *e) { return e && e->reason == CD_KR_CANCELLED; }
/* 429, 5xx and transport failures: worth trying again later. */
bool cd_kube_is_retriable(const cd_kube_err *e);

#endif
