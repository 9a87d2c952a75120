/* err.c - see err.h. Must not allocate beyond jansson's decoding of one
 * Status body. */
#include "kube/err.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool cd_kube_fail(cd_kube_err *err, cd_kube_reason reason, int http, const char *fmt, ...)
{
    if (!err)
        return false;
    err->reason = reason;
    err->http = http;
    err->retry_after_s = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return false;
}

void cd_kube_err_clear(cd_kube_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

static const struct { cd_kube_reason r; const char *name; int http; } reasons[] = {
    {CD_KR_NONE, "", 0},
    {CD_KR_TRANSPORT, "Transport", 0},
    {CD_KR_CANCELLED, "Cancelled", 0},
    {CD_KR_CONFIG, "Config", 0},
    {CD_KR_DECODE, "Decode", 0},
    {CD_KR_BAD_REQUEST, "BadRequest", 400},
    {CD_KR_UNAUTHORIZED, "Unauthorized", 401},
    {CD_KR_FORBIDDEN, "Forbidden", 403},
    {CD_KR_NOT_FOUND, "NotFound", 404},
    {CD_KR_METHOD_NOT_ALLOWED, "MethodNotAllowed", 405},
    {CD_KR_NOT_ACCEPTABLE, "NotAcceptable", 406},
    {CD_KR_ALREADY_EXISTS, "AlreadyExists", 409},
    {CD_KR_CONFLICT, "Conflict", 409},
    {CD_KR_EXPIRED, "Expired", 410},
    {CD_KR_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", 415},
    {CD_KR_INVALID, "Invalid", 422},
    {CD_KR_TOO_MANY_REQUESTS, "TooManyRequests", 429},
    {CD_KR_INTERNAL, "InternalError", 500},
    {CD_KR_SERVICE_UNAVAILABLE, "ServiceUnavailable", 503},
    {CD_KR_TIMEOUT, "Timeout", 504},
    {CD_KR_UNKNOWN, "Unknown", 0},
};

const char *cd_kube_reason_name(cd_kube_reason r)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].r == r)
            return reasons[i].name;
    return "Unknown";
}

cd_kube_reason cd_kube_reason_of(int http, const char *status_reason)
{
    if (status_reason && *status_reason) {
        if (!strcmp(status_reason, "Gone"))
            return CD_KR_EXPIRED;
        if (!strcmp(status_reason, "ServerTimeout"))
            return CD_KR_TIMEOUT;
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
            if (reasons[i].http && !strcmp(reasons[i].name, status_reason))
                return reasons[i].r;
    }
    switch (http) {
    case 400: return CD_KR_BAD_REQUEST;
    case 401: return CD_KR_UNAUTHORIZED;
    case 403: return CD_KR_FORBIDDEN;
    case 404: return CD_KR_NOT_FOUND;
    case 405: return CD_KR_METHOD_NOT_ALLOWED;
    case 406: return CD_KR_NOT_ACCEPTABLE;
    case 409: return CD_KR_CONFLICT;
    case 410: return CD_KR_EXPIRED;
    case 415: return CD_KR_UNSUPPORTED_MEDIA_TYPE;
    case 422: return CD_KR_INVALID;
    case 429: return CD_KR_TOO_MANY_REQUESTS;
    case 500: return CD_KR_INTERNAL;
    case 503: return CD_KR_SERVICE_UNAVAILABLE;
    case 504: return CD_KR_TIMEOUT;
    default: return CD_KR_UNKNOWN;
    }
}

void cd_kube_err_from_status_json(cd_kube_err *err, int http, const json_t *j, const char *what)
{
    if (!err)
        return;
    const char *reason = NULL, *message = NULL;
    int retry = 0;
    if (json_is_object(j) && json_is_string(json_object_get(j, "kind")) &&
        !strcmp(json_string_value(json_object_get(j, "kind")), "Status")) {
        reason = json_string_value(json_object_get(j, "reason"));
        message = json_string_value(json_object_get(j, "message"));
        json_t *code = json_object_get(j, "code");
        if (!http && json_is_integer(code) && json_integer_value(code) > 0 &&
            json_integer_value(code) < 1000)
            http = (int)json_integer_value(code);
        json_t *d = json_object_get(j, "details");
        json_t *ra = json_object_get(d, "retryAfterSeconds");
        if (json_is_integer(ra) && json_integer_value(ra) > 0 && json_integer_value(ra) < 3600)
            retry = (int)json_integer_value(ra);
    }
    err->reason = cd_kube_reason_of(http, reason);
    err->http = http;
    if (retry)
        err->retry_after_s = retry;
    if (message && *message)
        snprintf(err->msg, sizeof err->msg, "%s (%s%s%d %s)", message, what ? what : "",
                 what ? ": " : "", http, cd_kube_reason_name(err->reason));
    else
        snprintf(err->msg, sizeof err->msg, "the server answered %d %s%s%s", http,
                 cd_kube_reason_name(err->reason), what ? " to " : "", what ? what : "");
}

void cd_kube_err_from_status(cd_kube_err *err, int http, const char *body, size_t len,
                             const char *what)
{
    if (!err)
        return;
    json_t *j = body && len ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
    cd_kube_err_from_status_json(err, http, j, what);
    json_decref(j);
}

bool cd_kube_is_retriable(const cd_kube_err *e)
{
    if (!e)
        return false;
    switch (e->reason) {
    case CD_KR_TRANSPORT:
    case CD_KR_TOO_MANY_REQUESTS:
    case CD_KR_INTERNAL:
    case CD_KR_SERVICE_UNAVAILABLE:
    case CD_KR_TIMEOUT:
        return true;
    case CD_KR_UNKNOWN:
        return e->http >= 500;
    default:
        return false;
    }
}
