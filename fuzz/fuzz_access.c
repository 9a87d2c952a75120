/* fuzz_access.c - libFuzzer target: the parsers of util/access.h that
 * read what a client sends (Authorization, Host, Origin, Content-Type) and
 * the decision cd_access_check makes from them. The input is split on
 * newlines into those headers. Never a crash or a read past the input; a
 * credential is never empty nor longer than CD_TOKEN_MAX; the token check
 * only passes with the right token. */
#include "util/access.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    const char *part[5] = {NULL, NULL, NULL, NULL, NULL};
    char *p = copy;
    for (int i = 0; i < 5 && p; i++) {
        part[i] = p;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl++ = 0;
        p = nl;
    }
    char cred[CD_TOKEN_MAX + 1];
    if (cd_authorization_credential(part[0], cred, sizeof cred)) {
        size_t n = strlen(cred);
        if (n == 0 || n > CD_TOKEN_MAX)
            abort();
        if (!cd_token_equal(cred, n, cred))
            abort();
    }
    (void)cd_host_is_local(part[1]);
    (void)cd_origin_matches_host(part[2], part[1]);
    (void)cd_media_type_is(part[3], "application/json");
    cd_access_policy pol = {.check_host = true, .token = "the-token", .require_json = true};
    cd_access_request r = {"POST", part[1], part[2], part[3], part[0], false};
    char why[300];
    int st = cd_access_check(&pol, &r, why, sizeof why);
    if (st == 0) {
        /* admitted: only with the token, a JSON type and a local Host */
        if (!cd_authorization_credential(part[0], cred, sizeof cred) ||
            strcmp(cred, "the-token") || !cd_media_type_is(part[3], "application/json") ||
            (part[1] && !cd_host_is_local(part[1])))
            abort();
    } else if (st != 401 && st != 403 && st != 415) {
        abort();
    }
    free(copy);
    return 0;
}
