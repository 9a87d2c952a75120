/* client.h - canaryd's Kubernetes REST client on libcurl + jansson: one
 * client per API server (from a cd_kube_config), safe to share between
 * threads. It authenticates (bearer token, token file re-read as it
 * rotates, exec plugins re-run when their credential expires or the server
 * answers 401, client certificates from files or memory, basic auth),
 * verifies TLS (CA file or data, tls-server-name, or insecure), speaks
 * HTTP/2 when the server offers it, keeps connections alive, applies QPS
 * and burst limits, retries what is safe to retry (429 with Retry-After on
 * any verb; 5xx and dropped connections on GETs) and decodes failures into
 * cd_kube_err. Cancelling the client (leadership lost) aborts every
 * request in flight within 100 ms and refuses new ones. */
#ifndef CD_KUBE_CLIENT_H
#define CD_KUBE_CLIENT_H
#include "kube/config.h"
#include "kube/decode.h"
#include "kube/err.h"
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cd_kube_client cd_kube_client;

typedef struct cd_kube_client_opts {
    double qps;                 /* 0: 100 (Flagger's -kubeconfig-qps); < 0: unlimited */
    int burst;                  /* 0: 250 (-kubeconfig-burst) */
    int timeout_ms;             /* one request, watches excepted; 0: 30000 */
    int connect_timeout_ms;     /* 0: 10000 */
    int max_retries;            /* 0: 3; < 0: never retry */
    const char *user_agent;     /* NULL: "canaryd/<version>" */
    int token_reload_ms;        /* tokenFile re-read at most this often; 0: 60000 */
    int exec_timeout_ms;        /* exec credential plugins; 0: 60000 */
    bool http1;                 /* never negotiate HTTP/2 */
} cd_kube_client_opts;

typedef struct cd_kube_stats {
    uint64_t requests;          /* HTTP exchanges, retries included */
    uint64_t retries;
    uint64_t throttled;         /* requests that waited for the rate limiter */
    uint64_t throttled_ms;
    uint64_t auth_refreshes;    /* token file re-reads and exec plugin runs after the first */
    uint64_t http2;             /* exchanges that used HTTP/2 */
    uint64_t watches;           /* watch streams opened */
} cd_kube_stats;

/* Copies cfg. Checks that files named by cfg are readable now. */
cd_kube_client *cd_kube_client_new(const cd_kube_config *cfg, const cd_kube_client_opts *o,
                                   cd_kube_err *err);
void cd_kube_client_free(cd_kube_client *c);
const cd_kube_config *cd_kube_client_config(const cd_kube_client *c);
void cd_kube_client_cancel(cd_kube_client *c);
bool cd_kube_client_is_cancelled(const cd_kube_client *c);
void cd_kube_client_stats(cd_kube_client *c, cd_kube_stats *out);

/* One request to path (absolute, with its query). body may be NULL;
 * content_type NULL means application/json. On 2xx, *out (when out is not
 * NULL) receives the decoded JSON answer. */
bool cd_kube_request(cd_kube_client *c, const char *method, const char *path,
                     const char *content_type, const json_t *body, json_t **out, cd_kube_err *err);

/* Same, also abandoned (CD_KR_CANCELLED) as soon as *stop is set. */
bool cd_kube_request_stop(cd_kube_client *c, const char *method, const char *path,
                          const char *content_type, const json_t *body, const atomic_bool *stop,
                          json_t **out, cd_kube_err *err);

typedef struct cd_kube_stream_opts {
    const atomic_bool *stop;    /* the caller's stop flag (may be NULL) */
    void (*idle)(void *ud);     /* called about every 100 ms while streaming (may be NULL) */
    void *idle_ud;
    int max_ms;                 /* hard limit on the stream's duration; 0: none */
} cd_kube_stream_opts;

/* Opens a watch (path must carry watch=1) and decodes events into fn until
 * the server ends the stream (true), fn returns nonzero (true), *stop is
 * set (false, CD_KR_CANCELLED) or anything fails (false: HTTP status
 * decoded, dropped connection = CD_KR_TRANSPORT, bad event = CD_KR_DECODE). */
bool cd_kube_watch_stream(cd_kube_client *c, const char *path, cd_watch_event_fn fn, void *ud,
                          const cd_kube_stream_opts *o, cd_kube_err *err);

#endif
