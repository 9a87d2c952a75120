/* control.h - the router's control plane, run by the main thread: applies
 * configurations (from the admin API, the --config file on SIGHUP, or a
 * previous router at takeover), owns the control event loop (signals,
 * admin listeners, the handover socket, health checks, housekeeping) and
 * the process lifecycle (drain on SIGTERM, hand over on takeover). */
#ifndef CD_ROUTER_CONTROL_H
#define CD_ROUTER_CONTROL_H
#include "router/io/loop.h"
#include "router/table/table.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { RT_APPLY_OK = 0, RT_APPLY_INVALID, RT_APPLY_BIND, RT_APPLY_CONFLICT } rt_apply_rc;

typedef struct rt_apply_result {
    rt_apply_rc rc;
    json_t *errors;         /* RT_APPLY_INVALID: [{path, message}]; RT_APPLY_BIND: the
                             * listener that could not be bound [{path, listener, address,
                             * errno, message}] (owned by the caller) */
    char message[512];
    uint64_t version;       /* RT_APPLY_OK: the new version */
} rt_apply_result;

/* Validates, activates and publishes doc. if_version (0 = any) must equal
 * the current version (optimistic concurrency, HTTP If-Match). */
void rt_control_apply(const json_t *doc, uint64_t if_version, rt_apply_result *res);

/* Process-wide facts the admin API reports. */
typedef struct rt_runtime {
    int64_t started_wall_ms;
    int workers;
    const char *config_file;
    uint64_t applies, apply_failures;
    int64_t last_apply_wall_ms;
    bool draining;
    bool took_over;
} rt_runtime;
extern rt_runtime rt_rt;

/* Starts draining and ends the process when done (SIGTERM). */
void rt_control_shutdown(const char *why);

#endif
