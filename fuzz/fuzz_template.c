/* fuzz_template.c - libFuzzer target: the Go text/template renderer (any
 * input renders or fails with a message, never crashes or grows without
 * bound), the whitespace collapse, and Go-style query parsing/encoding. */
#include "analysis/template.h"
#include "net/url.h"
#include "util/buf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    static cd_kv items[] = {{"direction", "inbound"}, {"path", "/api"}};
    static const cd_strmap vars = {items, 2};
    cd_template_model m = {"podinfo", "test", "podinfo", "podinfo-svc", "ing", "route", "1m", &vars, NULL};
    cd_err err = {""};
    char *out = cd_template_render(s, &m, &err);
    if (!out && err.msg[0] == '\0')
        abort();
    if (out && strlen(out) > CD_TEMPLATE_MAX_OUTPUT + 65536)
        abort();
    free(out);
    char *c = cd_collapse_whitespace(s);
    free(c);
    cd_query q = {0};
    if (cd_query_parse(&q, s, &err)) {
        cd_buf b = CD_BUF_INIT;
        cd_query_encode(&q, &b);
        cd_buf_free(&b);
    }
    cd_query_free(&q);
    free(s);
    return 0;
}
