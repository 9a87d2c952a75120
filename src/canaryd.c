/* canaryd.c - entry point of canaryd: dispatches to its processes. Each
 * process lives in its own folder (src/router, src/local, src/kube,
 * src/loadtester) and exposes one `int cd_main_<name>(argc, argv)`.
 * Must not contain their logic. */
#include "mains.h"
#include "version.h"
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
#define CD_MAIN(name, fn, help) {name, fn, help},
#include "mains.def"
#undef CD_MAIN
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: canaryd COMMAND [FLAGS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "  %-11s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'canaryd COMMAND -h' for a command's flags.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-version")) {
        printf("canaryd %s (Flagger %s compatible)\n", CANARYD_VERSION, CANARYD_FLAGGER_COMPAT);
        return 0;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "canaryd: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
