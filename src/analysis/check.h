/* check.h - Flagger's verdict on one metric value (reference §3.1): the
 * thresholdRange (or deprecated threshold) comparison and the exact event
 * text when it fails. Pure functions for the engine; no I/O. */
#ifndef CD_ANALYSIS_CHECK_H
#define CD_ANALYSIS_CHECK_H
#include "model/canary.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CD_CHECK_SUCCESS_RATE,      /* builtin request-success-rate (percent) */
    CD_CHECK_DURATION,          /* builtin request-duration (value in ms) */
    CD_CHECK_CUSTOM,            /* inline query or MetricTemplate */
} cd_check_kind;

/* Which comparison applies to metric m (a builtin name without templateRef
 * or query is SUCCESS_RATE / DURATION; everything else is CUSTOM). */
cd_check_kind cd_check_kind_of(const cd_metric *m);

/* True when value passes. On failure msg gets Flagger's warning text, e.g.
 * "Halt podinfo.test advancement success rate 97.50% < 99%". */
bool cd_check_metric(const cd_metric *m, cd_check_kind kind, const char *canary_name,
                     const char *canary_ns, double value, char *msg, size_t n);

/* Go's time.Duration String of a whole number of milliseconds
 * ("500ms", "1.5s", "1m30s", "1h0m0s"). Returns out. */
char *cd_go_duration_ms(int64_t ms, char *out, size_t n);

#endif
