/* fuzz_crd_check.c - libFuzzer target: any YAML stream through the CRD
 * check (src/model/schema_check.c) that guards every schema canaryd loads:
 * problems are reported with a message, never a crash or a leak, and the
 * count returned is the count of errors added. */
#include "model/node.h"
#include "model/schema_check.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_stream *s = cd_stream_parse("fuzz.yaml", (const char *)data, size, false, &d);
    if (s) {
        size_t before = d.errors;
        size_t n = cd_schema_check_stream(s, &d);
        if (d.errors != before + n)
            abort();
        for (size_t i = 0; i < d.n; i++)
            if (!d.items[i].message || !d.items[i].message[0])
                abort();
        cd_stream_free(s);
    }
    cd_diags_free(&d);
    return 0;
}
