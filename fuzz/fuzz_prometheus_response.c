/* fuzz_prometheus_response.c - libFuzzer target: Prometheus' response
 * parsers, /api/v1/query (one number) and /api/v1/query_range (the values
 * of one series, for the statistical judge), must never crash, leak or
 * read out of bounds, must always explain a non-OK result, and a range
 * answer must hand out exactly the finite-or-infinite values it counts. */
#include "providers/provider.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double v = 0;
    cd_err err = {""};
    cd_metric_rc rc = cd_prometheus_parse((const char *)data, size, &v, &err);
    if (rc != CD_METRIC_OK && err.msg[0] == '\0')
        abort();
    if (rc == CD_METRIC_OK && isnan(v))
        abort();

    double *values = NULL;
    size_t n = 0;
    cd_err rerr = {""};
    rc = cd_prometheus_parse_range((const char *)data, size, &values, &n, &rerr);
    if (rc != CD_METRIC_OK && (rerr.msg[0] == '\0' || values || n))
        abort();
    if (rc == CD_METRIC_OK && (!values || !n))
        abort();
    for (size_t i = 0; i < n; i++)
        if (isnan(values[i]))
            abort();
    free(values);
    return 0;
}
