/* fuzz_redact.c - libFuzzer target for src/util/redact.c: any bytes as a
 * URL and as free text (with itself as the known URL), each into several
 * buffer sizes. Nothing may be written past the buffer, the output is
 * always terminated within it, the malloc'd form equals the fixed one when
 * it fits, and a userinfo read by the same rules never survives. */
#include "util/redact.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_sizes(const char *in, int url)
{
    static const size_t sizes[] = {1, 2, 7, 9, 64, 4096};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *out = malloc(n);      /* exact size: ASan sees any overrun */
        if (!out)
            return;
        if (url)
            cd_redact_url(in, k & 1 ? CD_REDACT_PATH : 0, out, n);
        else
            cd_redact_text(in, in, k & 1 ? CD_REDACT_PATH : 0, out, n);
        if (!memchr(out, 0, n))
            abort();
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = 0;
    check_sizes(in, 1);
    check_sizes(in, 0);
    char *dup = cd_redact_url_dup(in, 0);
    char fixed[4096];
    cd_redact_url(in, 0, fixed, sizeof fixed);
    if (dup && strlen(dup) < sizeof fixed - 1 && strcmp(dup, fixed))
        abort();
    /* "scheme://USER:PASS@host/": PASS (4+ characters, none of the
     * delimiters) is gone from the URL's redacted form */
    const char *sep = strstr(in, "://");
    if (dup && sep && sep - in < 32 && !memchr(in, '/', (size_t)(sep - in)) &&
        !memchr(in, '?', (size_t)(sep - in)) && !memchr(in, '#', (size_t)(sep - in)) &&
        !memchr(in, '@', (size_t)(sep - in))) {
        const char *a = sep + 3, *end = a + strcspn(a, "/?#");
        const char *at = NULL;
        for (const char *p = a; p < end; p++)
            if (*p == '@')
                at = p;
        const char *colon = at ? memchr(a, ':', (size_t)(at - a)) : NULL;
        if (colon && at - colon - 1 >= 4) {
            char pass[64];
            size_t pl = (size_t)(at - colon - 1);
            if (pl < sizeof pass) {
                memcpy(pass, colon + 1, pl);
                pass[pl] = 0;
                /* the password may also be some other part of the input */
                size_t count = 0;
                for (const char *p = in; (p = strstr(p, pass)); p++)
                    count++;
                /* every piece of the output between REDACTED marks is a
                 * copy of the input, so the one password cannot be in one */
                for (char *piece = dup; count == 1 && piece;) {
                    char *mark = strstr(piece, CD_REDACTED);
                    if (mark)
                        *mark = 0;
                    if (strstr(piece, pass))
                        abort();
                    piece = mark ? mark + strlen(CD_REDACTED) : NULL;
                }
            }
        }
    }
    free(dup);
    free(in);
    return 0;
}
