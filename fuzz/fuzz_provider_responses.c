/* fuzz_provider_responses.c - libFuzzer target: the response parsers of
 * Datadog, New Relic, Graphite, Dynatrace, CloudWatch, InfluxDB's
 * annotated CSV, Cloud Monitoring (stackdriver) and the external metrics
 * API; the first byte picks the parser. */
#include "providers/provider.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    typedef cd_metric_rc (*parser)(const char *, size_t, double *, cd_err *);
    static const parser ps[] = {cd_datadog_parse, cd_newrelic_parse, cd_graphite_parse,
                                cd_dynatrace_parse, cd_cloudwatch_parse, cd_influxdb_parse_csv,
                                cd_stackdriver_parse, cd_externalmetrics_parse};
    parser p = ps[data[0] % (sizeof ps / sizeof ps[0])];
    double v = 0;
    cd_err err = {""};
    cd_metric_rc rc = p((const char *)data + 1, size - 1, &v, &err);
    if (rc != CD_METRIC_OK && err.msg[0] == '\0')
        abort();
    return 0;
}
