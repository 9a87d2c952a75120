/* router_client.h - a small C client of `canaryd router`'s admin API (libcurl;
 * unix socket or loopback TCP), for the local platform and tools: read
 * and replace the configuration, change one route, set weights, read
 * stats, windowed measurements and latency samples. One client per
 * thread (it reuses its connection). The process must have called
 * curl_global_init before creating clients from several threads. */
#ifndef CD_LOCAL_ROUTER_CLIENT_H
#define CD_LOCAL_ROUTER_CLIENT_H
#include "util/err.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cd_router_client cd_router_client;

/* admin: "unix:/path/to/admin.sock", "127.0.0.1:9901" or
 * "http://127.0.0.1:9901". timeout_ms bounds every call (0: 5000). Over
 * TCP the client sends $CANARYD_ROUTER_TOKEN unless set_token says
 * otherwise. */
cd_router_client *cd_router_client_new(const char *admin, long timeout_ms, cd_err *err);
void cd_router_client_set_token(cd_router_client *c, const char *token);
void cd_router_client_free(cd_router_client *c);

/* The configuration and its version (ETag). */
bool cd_router_get_config(cd_router_client *c, json_t **config, uint64_t *version, cd_err *err);
/* Replaces the configuration. if_version 0 = unconditional; otherwise the
 * call fails if the router's version differs. *version (may be NULL)
 * receives the new version. Validation errors are listed in err. */
bool cd_router_put_config(cd_router_client *c, const json_t *config, uint64_t if_version,
                          uint64_t *version, cd_err *err);
/* The "details" of the last call's refusal, or NULL: the fields at fault
 * ({path, message}), or for a listener the router cannot bind (409)
 * {path: "listeners[i]", listener, address, errno: "EADDRINUSE", message}.
 * Valid until the next call on c. */
const json_t *cd_router_client_error_details(const cd_router_client *c);
/* Creates or replaces one route (its "name" is the key). */
bool cd_router_put_route(cd_router_client *c, const json_t *route, cd_err *err);
bool cd_router_delete_route(cd_router_client *c, const char *name, cd_err *err);

/* Canary weight 0..100 (the primary gets the rest); mirror: -1 keep,
 * 0 off, 1 on. */
bool cd_router_set_weight(cd_router_client *c, const char *route, int canary_weight, int mirror,
                          cd_err *err);
bool cd_router_get_weight(cd_router_client *c, const char *route, int *canary_weight,
                          bool *mirror, cd_err *err);

bool cd_router_stats(cd_router_client *c, json_t **stats, cd_err *err);
bool cd_router_status(cd_router_client *c, json_t **status, cd_err *err);

typedef struct cd_router_measurement {
    uint64_t requests;
    uint64_t errors;            /* 5xx */
    bool has_data;              /* requests > 0 */
    double success_rate;        /* percent of non-5xx; NAN without data */
    double mean_ms, max_ms, p50_ms, p90_ms, p99_ms;     /* NAN without data */
} cd_router_measurement;

/* group: "primary", "canary" or "mirror"; window in seconds. */
bool cd_router_measure(cd_router_client *c, const char *route, const char *group,
                       unsigned window_s, cd_router_measurement *out, cd_err *err);
/* The same over the window_s seconds that ended offset_s seconds ago;
 * *covered_s: how many of them the router was measuring (it keeps
 * --window seconds, none from before it started). */
bool cd_router_measure_at(cd_router_client *c, const char *route, const char *group,
                          unsigned window_s, unsigned offset_s, cd_router_measurement *out,
                          unsigned *covered_s, cd_err *err);
/* Latencies (ms) of the most recent requests (at most limit) of the last
 * window_s seconds, oldest first; *lat is malloc'd (free it). */
bool cd_router_samples(cd_router_client *c, const char *route, const char *group,
                       unsigned window_s, size_t limit, double **lat, size_t *n, cd_err *err);

#endif
