/* report.h - what the admin API serves about traffic: cumulative counters
 * per route group and backend (JSON), windowed measurements (success rate
 * and latency quantiles over the last W seconds) and recent latency
 * samples for the router-native metrics provider, and the Prometheus text
 * exposition with Envoy-compatible series. Reads shared counters only;
 * control thread. */
#ifndef CD_ROUTER_REPORT_H
#define CD_ROUTER_REPORT_H
#include "util/buf.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

json_t *rt_report_stats(void);
json_t *rt_report_status(void);

/* group NULL: every group of the route. The window ends offset_s seconds
 * before the last complete second (0: with it); "coveredSeconds" says how
 * much of it the router was measuring (it keeps --window seconds, and none
 * from before it started). Returns NULL (and a 404 message) when the route
 * has no measurements. */
json_t *rt_report_measure(const char *route, const char *group, uint32_t window_s,
                          uint32_t offset_s, const double *quantiles, size_t nq,
                          int64_t now_wall_ms, char *err, size_t errlen);
json_t *rt_report_samples(const char *route, const char *group, uint32_t window_s, size_t limit,
                          int64_t now_wall_ms, char *err, size_t errlen);

void rt_prom_write(cd_buf *out);

#endif
