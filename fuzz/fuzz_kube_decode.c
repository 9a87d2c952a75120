/* fuzz_kube_decode.c - libFuzzer target for decoding what a Kubernetes API
 * server sends: watch streams fed in two chunks at an input-chosen split,
 * List answers, Status objects and exec plugin output must never crash,
 * hang or leak on any input. */
#include "kube/decode.h"
#include "kube/err.h"
#include "kube/exec.h"
#include <stdint.h>
#include <stdlib.h>

static int on_event(void *ud, const cd_watch_event *ev)
{
    size_t *n = ud;
    (*n)++;
    if (ev->type == CD_WATCH_ERROR) {
        cd_kube_err err = {0};
        cd_kube_err_from_status_json(&err, 0, ev->object, "watch");
    }
    return *n > 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    size_t split = len ? data[0] % (len + 1) : 0;
    size_t n = 0;
    cd_watch_decoder d;
    cd_watch_decoder_init(&d, 4096, on_event, &n);
    if (cd_watch_decoder_feed(&d, s, split) == 0 && cd_watch_decoder_feed(&d, s + split, len - split) == 0)
        cd_watch_decoder_end(&d);
    cd_watch_decoder_free(&d);

    json_t *items = NULL;
    char *rv = NULL, *cont = NULL;
    cd_kube_err err = {0};
    if (cd_kube_list_parse(s, len, &items, &rv, &cont, &err)) {
        json_decref(items);
        free(rv);
        free(cont);
    }
    cd_kube_err_from_status(&err, 400 + data[0] % 200, s, len, "GET /fuzz");
    cd_kube_exec_cred cred;
    if (cd_kube_exec_parse(s, len, "client.authentication.k8s.io/v1", &cred, &err))
        cd_kube_exec_cred_free(&cred);
    return 0;
}
