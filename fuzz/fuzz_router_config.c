/* fuzz_router_config.c - libFuzzer target for the router's configuration
 * decoder (the admin API's PUT /config body): any input is either
 * rejected with errors or decoded, and a decoded configuration's
 * normalized form decodes to itself. No crash, no leak. */
#include "router/table/table.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, 0, &je);
    if (!doc)
        return 0;
    json_t *errors = NULL;
    rt_snapshot *s = rt_config_decode(doc, NULL, &errors);
    if (s) {
        json_t *e2 = NULL;
        rt_snapshot *s2 = rt_config_decode(s->doc, s, &e2);
        if (!s2 || !json_equal(s->doc, s2->doc))
            abort();
        rt_snapshot_free_decoded(s2);
        rt_snapshot_free_decoded(s);
    } else if (!json_array_size(errors)) {
        abort();        /* rejected without saying why */
    }
    json_decref(errors);
    json_decref(doc);
    return 0;
}
