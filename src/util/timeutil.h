/* timeutil.h - wall and monotonic clocks, RFC 3339 formatting/parsing. */
#ifndef CD_TIMEUTIL_H
#define CD_TIMEUTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t cd_wall_ms(void);        /* ms since the Unix epoch */
int64_t cd_mono_ms(void);        /* CLOCK_MONOTONIC in ms */
int64_t cd_mono_ns(void);
/* "2006-01-02T15:04:05Z" (seconds precision, UTC), as Kubernetes writes. */
char *cd_rfc3339(int64_t wall_ms, char out[32]);
/* With milliseconds: "2006-01-02T15:04:05.000Z" (logs). */
char *cd_rfc3339_ms(int64_t wall_ms, char out[32]);
/* Now as a Kubernetes MicroTime: "2006-01-02T15:04:05.000000Z". */
char *cd_micro_time_now(char out[40]);
/* Accepts "...Z", "...+hh:mm" and fractional seconds. */
bool cd_parse_rfc3339(const char *s, int64_t *wall_ms);

#endif
