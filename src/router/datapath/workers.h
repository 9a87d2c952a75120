/* workers.h - starting, draining and stopping the router's worker
 * threads (see worker.c), for the process entry point. */
#ifndef CD_ROUTER_WORKERS_H
#define CD_ROUTER_WORKERS_H
#include <stdbool.h>
#include <stdint.h>

/* Starts n workers; the first snapshot must be published already. */
int rt_workers_start(int n);
/* Wakes every worker (a new snapshot was published). */
void rt_workers_notify(void);
/* Waits until every worker routes with a snapshot of at least this
 * version (true), or timeout_ms passed (false). */
bool rt_workers_wait_version(uint64_t version, int timeout_ms);
/* Stop accepting, finish in-flight requests (each response closes its
 * connection), then exit; rt_cfg.drain_timeout_ms bounds it. */
void rt_workers_drain(void);
void rt_workers_stop(void);
void rt_workers_join(void);

typedef struct rt_worker_counters {
    uint64_t accepted, parse_errors, client_aborts;
    uint64_t clients;
} rt_worker_counters;
void rt_workers_counters(rt_worker_counters *out);

#endif
