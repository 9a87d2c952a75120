/* fuzz_prometheus_response.c - libFuzzer target: Prometheus' /api/v1/query
 * response parser must never crash, leak or read out of bounds, and must
 * always explain a non-OK result. */
#include "providers/provider.h"
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
    return 0;
}
