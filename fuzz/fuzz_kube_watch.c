/* fuzz_kube_watch.c - libFuzzer target for the framing of a Kubernetes
 * watch stream (src/kube/decode.c: one JSON event per line, as a
 * kube-apiserver sends them, in whatever pieces the transport hands over).
 * The input is the stream body (so recorded streams seed it as they are);
 * it is decoded once in one piece and once in pieces of sizes drawn from a
 * generator seeded by the input, with a small and the default line limit.
 * Never a crash or a leak, and the pieces never change the outcome: the
 * same events (type and object), the same result, the same error. */
#include "kube/decode.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    size_t n;
    uint64_t hash;     /* of every event's type and object, in order */
} seen;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static int on_event(void *ud, const cd_watch_event *ev)
{
    seen *s = ud;
    s->n++;
    int t = (int)ev->type;
    s->hash = fnv(s->hash, &t, sizeof t);
    char *j = json_dumps(ev->object, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (j)
        s->hash = fnv(s->hash, j, strlen(j));
    free(j);
    return s->n >= 500;   /* a consumer may stop early */
}

typedef struct outcome {
    int rc;
    seen s;
    char error[256];
} outcome;

static void decode(const char *data, size_t len, size_t max_line, uint64_t seed, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->s.hash = 1469598103934665603ull;
    cd_watch_decoder d;
    cd_watch_decoder_init(&d, max_line, on_event, &o->s);
    int rc = 0;
    size_t at = 0;
    while (rc == 0 && at < len) {
        size_t piece = len - at;
        if (seed) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            piece = 1 + (seed >> 33) % (seed & 1 ? 7 : 300);
            if (piece > len - at)
                piece = len - at;
        }
        rc = cd_watch_decoder_feed(&d, data + at, piece);
        at += piece;
    }
    if (rc == 0)
        rc = cd_watch_decoder_end(&d);
    o->rc = rc;
    memcpy(o->error, d.error, sizeof o->error);
    cd_watch_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const char *s = (const char *)data;
    uint64_t seed = fnv(1469598103934665603ull, data, size < 16 ? size : 16) | 2;
    size_t limits[] = {1024, 0};
    for (size_t i = 0; i < 2; i++) {
        outcome whole, pieces;
        decode(s, size, limits[i], 0, &whole);
        decode(s, size, limits[i], seed, &pieces);
        if (whole.rc != pieces.rc || whole.s.n != pieces.s.n || whole.s.hash != pieces.s.hash ||
            strcmp(whole.error, pieces.error))
            abort();
        if (whole.rc < 0 && !whole.error[0])
            abort();   /* failed without saying why */
    }
    return 0;
}
