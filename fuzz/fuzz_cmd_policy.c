/* fuzz_cmd_policy.c - libFuzzer target: the load tester's command policy
 * (src/loadtester/policy.h) on any command line, as a shell line (cmd,
 * bash) and split into words (helm, kubectl), with and without a
 * namespace regexp. Never a crash or a leak; a line accepted by the
 * default policy holds no $ or backquote outside single quotes (what sh
 * would expand), whatever else it holds. */
#include "loadtester/policy.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* sh's quoting, as far as expansion goes: $ and ` expand outside quotes
 * and inside double quotes, not inside single quotes (a backslash is
 * refused by the policy, so it is not followed here). */
static bool expands_outside_single_quotes(const char *s)
{
    char q = 0;
    for (; *s; s++) {
        if (q == '\'') {
            if (*s == '\'')
                q = 0;
        } else if (*s == '$' || *s == '`') {
            return true;
        } else if (q == '"') {
            if (*s == '"')
                q = 0;
        } else if (*s == '\'' || *s == '"') {
            q = *s;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cd_cmd_policy plain, scoped;
    static regex_t re;
    static bool ready;
    char why[400];
    if (!ready) {
        regcomp(&re, "^(test|prod)$", REG_EXTENDED | REG_NOSUB);
        cd_cmd_policy_init(&plain, "echo", false, NULL, why, sizeof why);
        cd_cmd_policy_init(&scoped, NULL, false, &re, why, sizeof why);
        ready = true;
    }
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    if (cd_cmd_policy_check_shell(&plain, line, why, sizeof why) &&
        expands_outside_single_quotes(line))
        abort();
    (void)cd_cmd_policy_check_shell(&scoped, line, why, sizeof why);
    char *argv[65];
    size_t n = 0;
    argv[n++] = "kubectl";
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\r\n", &save); w && n < 64; w = strtok_r(NULL, " \t\r\n", &save))
        argv[n++] = w;
    argv[n] = NULL;
    (void)cd_cmd_policy_check_argv(&scoped, argv, why, sizeof why);
    argv[0] = "helm";
    (void)cd_cmd_policy_check_argv(&plain, argv, why, sizeof why);
    free(line);
    return 0;
}
