/* duration.h - Go-style durations ("1m30s", "250ms", "1.5h"), as Flagger's
 * manifests use them. Pure functions, no allocation. */
#ifndef CD_DURATION_H
#define CD_DURATION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses like Go's time.ParseDuration. Returns false on a syntax error or
 * overflow; *ns is untouched then. */
bool cd_duration_parse(const char *s, int64_t *ns);
/* Same, in whole milliseconds (truncated). */
bool cd_duration_parse_ms(const char *s, int64_t *ms);
/* Compact form that cd_duration_parse reads back: "1m30s", "0s", "250ms",
 * "1h", "1.5s". Returns out. */
char *cd_duration_format_ms(int64_t ms, char *out, size_t outlen);

#define CD_NS_PER_MS 1000000LL
#define CD_NS_PER_S  1000000000LL

#endif
