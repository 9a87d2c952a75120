/* fuzz_kubeconfig.c - libFuzzer target for kubeconfig parsing (YAML and
 * JSON, contexts, base64 fields, exec plugins): never crash, hang or leak,
 * whatever the file holds. */
#include "kube/config.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    cd_kube_config c;
    cd_kube_err err = {0};
    if (cd_kube_config_parse((const char *)data, size, "fuzz", "/tmp", NULL, &c, &err)) {
        cd_kube_config copy;
        if (cd_kube_config_copy(&copy, &c))
            cd_kube_config_free(&copy);
        cd_kube_config_free(&c);
    }
    if (cd_kube_config_parse((const char *)data, size, "fuzz", NULL, "dev", &c, &err))
        cd_kube_config_free(&c);
    return 0;
}
