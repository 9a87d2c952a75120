/* fuzz_yaml.c - libFuzzer target for the YAML/JSON reader alone
 * (src/model/node.c: libfyaml's events, canaryd's own decoding of quoted
 * scalars, anchors, merge keys, limits), much faster than fuzz_decode,
 * which adds the schemas and decoders. Never a crash, a hang or a leak;
 * every scalar is NUL-terminated at its length, and what a document turns
 * into as JSON (strings must be UTF-8) exists whenever the text was
 * printable UTF-8 (the reader refuses anything else). */
#include "model/node.h"
#include <stdint.h>
#include <stdlib.h>

static void check(const cd_node *n, int depth)
{
    if (!n || depth > 300)
        return;
    if (n->str[n->len] != '\0')
        abort();
    for (size_t i = 0; i < n->npairs; i++) {
        check(n->pairs[i].key, depth + 1);
        check(n->pairs[i].value, depth + 1);
    }
    for (size_t i = 0; i < n->nitems; i++)
        check(n->items[i], depth + 1);
}

static void run(const char *data, size_t len, bool json)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_stream *s = cd_stream_parse("fuzz", data, len, json, &d);
    for (size_t i = 0; s && i < s->ndocs; i++) {
        if (s->docs[i].root && s->docs[i].root->weight < 10000) {
            check(s->docs[i].root, 0);
            json_t *j = cd_node_to_json(s->docs[i].root);
            json_decref(j);
        }
    }
    for (size_t i = 0; i < d.n; i++)
        free(cd_diag_format(&d.items[i]));
    cd_stream_free(s);
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
