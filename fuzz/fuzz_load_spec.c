/* fuzz_load_spec.c - libFuzzer target: a load tester task's metadata (JSON
 * from a webhook payload) turned into a load spec must be accepted or
 * refused with a message, never crash or leak. */
#include "loadtester/load.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    cd_load_spec s;
    cd_err err = {""};
    if (cd_load_spec_from_metadata(j, &s, &err)) {
        if (!s.url || !s.method || s.concurrency < 1 || s.n_headers > CD_LOAD_MAX_HEADERS)
            abort();
        cd_load_spec_free(&s);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    json_decref(j);
    return 0;
}
