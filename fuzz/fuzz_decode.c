/* fuzz_decode.c - libFuzzer target for manifest decoding: YAML and JSON
 * parsing, schema validation, decoding and canonical encoding must never
 * crash, hang or leak on any input. */
#include "model/object.h"
#include <stdint.h>
#include <stdlib.h>

static void run(const char *data, size_t len, bool json)
{
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    cd_manifest_load_buffer("fuzz", data, len, json, "default", &l, &d);
    for (size_t i = 0; i < l.n; i++) {
        json_t *j = cd_object_to_json(l.items[i]);
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        free(s);
        json_decref(j);
    }
    for (size_t i = 0; i < d.n; i++)
        free(cd_diag_format(&d.items[i]));
    cd_object_list_free(&l);
    cd_diags_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    run((const char *)data, size, false);
    run((const char *)data, size, true);
    return 0;
}
