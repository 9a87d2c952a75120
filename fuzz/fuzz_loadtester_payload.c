/* fuzz_loadtester_payload.c - libFuzzer target for the load tester's
 * webhook request bodies (src/loadtester/server.c): any bytes go through
 * what the server does before a task runs - JSON, Flagger's
 * CanaryWebhookPayload (name, namespace, metadata of strings), the gate
 * key, whether the task blocks, the load spec of a `load` task and the
 * command policy of a cmd/bash line. Nothing is executed. Never a crash or
 * a leak; a decoded payload's metadata holds only strings. */
#include "loadtester/load.h"
#include "loadtester/loadtester.h"
#include "loadtester/policy.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cd_cmd_policy policy;
    static bool ready;
    char why[400];
    if (!ready) {
        cd_cmd_policy_init(&policy, NULL, false, NULL, why, sizeof why);
        ready = true;
    }
    if (size > 1 << 16)
        return 0;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, 0, &je);
    if (!j)
        return 0;
    cd_lt_payload p;
    if (cd_loadtester_decode_payload(j, &p, why, sizeof why)) {
        char key[700];
        snprintf(key, sizeof key, "rollback.%s", p.canary);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)p.metadata, k, v) {
            if (!json_is_string(v))
                abort();   /* decode must refuse it */
        }
        (void)cd_tasks_blocks(p.metadata);
        const char *type = json_string_value(json_object_get(p.metadata, "type"));
        const char *cmd = json_string_value(json_object_get(p.metadata, "cmd"));
        if (type && !strcmp(type, "load")) {
            cd_load_spec s;
            cd_err err = {""};
            if (cd_load_spec_from_metadata(p.metadata, &s, &err))
                cd_load_spec_free(&s);
        } else if (cmd) {
            (void)cd_cmd_policy_check_shell(&policy, cmd, why, sizeof why);
        }
    } else if (!why[0]) {
        abort();   /* refused without saying why */
    }
    json_decref(j);
    return 0;
}
