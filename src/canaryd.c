/* canaryd.c - entry point of canaryd: dispatches to its processes
 * (router, local, kube, loadtester). Must not contain their logic. */
#include "version.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: canaryd COMMAND [FLAGS]\n\n"
            "Commands:\n"
            "  version    print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "-version")) {
        printf("canaryd %s (Flagger %s compatible)\n", CANARYD_VERSION, CANARYD_FLAGGER_COMPAT);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "canaryd: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
