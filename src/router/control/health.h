/* health.h - active HTTP health checks of backends whose group sets
 * healthCheck: a GET of the path on a fresh connection every interval;
 * 2xx/3xx within the timeout passes. healthyThreshold passes in a row
 * make a backend available, unhealthyThreshold failures unavailable.
 * Runs on the control thread's loop, with the router's own HTTP parser. */
#ifndef CD_ROUTER_HEALTH_H
#define CD_ROUTER_HEALTH_H
#include "router/io/loop.h"

void rt_health_start(rt_loop *l);
/* Re-reads the checks from the current snapshot (after each publish). */
void rt_health_sync(void);
void rt_health_stop(void);

#endif
