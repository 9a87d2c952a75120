/* fuzz_splunk_stream.c - libFuzzer target: the WebSocket client's frame
 * decoding (net/ws.c: lengths, masks, fragments, ping and close frames,
 * and the handshake answer first when the first byte is odd) and, behind
 * it, the Splunk SignalFlow message decoding (providers/splunk.c: binary
 * data messages, gzip-compressed ones, JSON control and error messages),
 * over the bytes as a server would send them. Seeds: fuzz/corpus, made by
 * fuzz/make_splunk_corpus.py. */
#include "net/ws.h"
#include "providers/provider.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cd_err err = {""};
    cd_ws *ws = cd_ws_from_bytes(data + 1, size - 1, data[0] & 1, &err);
    if (!ws) {
        if (err.msg[0] == '\0')
            abort();
        return 0;
    }
    double v = 0;
    cd_metric_rc rc = cd_splunk_read(ws, &v, &err);
    cd_ws_close(ws);
    if (rc != CD_METRIC_OK && err.msg[0] == '\0')
        abort();
    return 0;
}
