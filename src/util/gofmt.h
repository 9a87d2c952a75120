/* gofmt.h - numbers and durations printed the way Go prints them, because
 * users' tooling reads Flagger's event texts ("%v" of a float64 or a
 * time.Duration) and Prometheus' text exposition (strconv 'g', shortest).
 * Pure functions writing into caller buffers; no allocation. */
#ifndef CD_GOFMT_H
#define CD_GOFMT_H
#include <stddef.h>
#include <stdint.h>

/* Go's strconv.FormatFloat(v, 'g', -1, 64), which is also fmt's "%v" for a
 * float64: the shortest digits that read back exactly, in exponent form when the
 * decimal exponent is below -4 or at least 6 ("123456" but "1.234567e+06",
 * "1e-05"); "NaN", "+Inf", "-Inf". Returns out (32 bytes are enough). */
char *cd_go_float(double v, char *out, size_t outlen);

/* Go's time.Duration.String() for a whole number of milliseconds:
 * "0s", "250ms", "1.5s", "1m1s", "1h0m0s", "-2s". Returns out. */
char *cd_go_duration_ms(int64_t ms, char *out, size_t outlen);

#endif
