/* main.c - `canaryd loadtester`: flagger-loadtester's command line (-port,
 * -timeout, -namespace-regexp, -log-level, -zap-encoding,
 * -zap-replace-globals; Go-style single-dash flags) plus -address,
 * -token-file, -allow-commands and -allow-any-command. Serves until
 * SIGINT or SIGTERM, then kills running tasks and exits. */
#include "loadtester/loadtester.h"
#include "loadtester/policy.h"
#include "net/httpd.h"
#include "util/access.h"
#include "mains.h"
#include "util/duration.h"
#include "util/log.h"
#include "version.h"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: canaryd loadtester [flags]\n"
            "\n"
            "A webhook service compatible with flagger-loadtester: gates, rollback gates,\n"
            "commands (cmd, bash, helm, kubectl) and canaryd's native load generator.\n"
            "\n"
            "  -port string              port to listen on (default \"9090\")\n"
            "  -address string           address to bind (default: every interface)\n"
            "  -timeout duration         command and load task timeout (default 1h0m0s)\n"
            "  -namespace-regexp string  only canaries whose namespace matches may use the API,\n"
            "                            and kubectl/helm may act only in matching namespaces\n"
            "  -token-file string        require \"Authorization: Bearer TOKEN\" (or Basic with the\n"
            "                            token as password) for everything but /healthz and\n"
            "                            /metrics (default $CANARYD_LOADTESTER_TOKEN; none: open)\n"
            "  -allow-commands string    programs cmd/bash/helm/kubectl tasks may run besides\n"
            "                            the defaults, comma-separated (defaults: see below)\n"
            "  -allow-any-command        run any command line, as flagger-loadtester does\n"
            "  -log-level string         debug, info, warn or error (default \"debug\")\n"
            "  -zap-encoding string      json or console (default \"json\")\n"
            "  -zap-replace-globals      accepted for compatibility; no effect\n"
            "\n"
            "Allowed by default: ");
    for (size_t i = 0; cd_default_allowed_commands[i]; i++)
        fprintf(out, "%s%s", i ? ", " : "", cd_default_allowed_commands[i]);
    fprintf(out, ".\nSee docs/loadtester.md for the API and the task types, docs/security.md for\n"
                 "who can reach what.\n");
}

static bool parse_port(const char *s, int *port)
{
    char *end;
    long p = strtol(s, &end, 10);
    if (*s == ':')
        p = strtol(s + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

int cd_main_loadtester(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"address", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"namespace-regexp", required_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, 'l'},
        {"zap-encoding", required_argument, NULL, 'z'},
        {"zap-replace-globals", optional_argument, NULL, 'g'},
        {"token-file", required_argument, NULL, 'k'},
        {"allow-commands", required_argument, NULL, 'c'},
        {"allow-any-command", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cd_loadtester_config cfg = {.port = 9090, .timeout_ms = 3600000};
    const char *level = "debug", *encoding = "json", *token_file = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long_only(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_port(optarg, &cfg.port)) {
                fprintf(stderr, "canaryd loadtester: invalid -port \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'a': cfg.address = optarg; break;
        case 't':
            if (!cd_duration_parse_ms(optarg, &cfg.timeout_ms) || cfg.timeout_ms <= 0) {
                fprintf(stderr, "canaryd loadtester: invalid -timeout \"%s\" (a duration like 1h)\n",
                        optarg);
                return 2;
            }
            break;
        case 'n': cfg.namespace_regexp = optarg; break;
        case 'l': level = optarg; break;
        case 'z': encoding = optarg; break;
        case 'g': break;
        case 'k': token_file = optarg; break;
        case 'c': cfg.allow_commands = optarg; break;
        case 'y': cfg.allow_any_command = true; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "canaryd loadtester: unknown flag %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "canaryd loadtester: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    cd_log_set_level(cd_log_parse_level(level));
    cd_log_set_json(strcmp(encoding, "console") != 0);
    cd_log_set_logger("loadtester");

    char token[CD_TOKEN_MAX + 1], terr[600] = "";
    bool loose = false;
    if (token_file) {
        if (!cd_token_read_file(token_file, token, sizeof token, &loose, terr, sizeof terr)) {
            fprintf(stderr, "canaryd loadtester: -token-file: %s\n", terr);
            return 2;
        }
        cfg.token = token;
    } else if (cd_token_from_env(CD_ENV_LOADTESTER_TOKEN, token, sizeof token, terr, sizeof terr)) {
        cfg.token = token;
    } else if (terr[0]) {
        fprintf(stderr, "canaryd loadtester: %s\n", terr);
        return 2;
    }
    unsetenv(CD_ENV_LOADTESTER_TOKEN);   /* the commands it runs do not see it */
    cd_raise_fd_limit();

    /* signals are taken synchronously; worker threads inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    cd_err err = {""};
    cd_loadtester *lt = cd_loadtester_start(&cfg, &err);
    if (!lt) {
        cd_error("%s", err.msg);
        return 1;
    }
    char dur[32];
    cd_info("Starting load tester v%s API on %s:%d (task timeout %s, %s, %s, at most %u "
            "connections)", CANARYD_VERSION, cfg.address ? cfg.address : "", cd_loadtester_port(lt),
            cd_duration_format_ms(cfg.timeout_ms, dur, sizeof dur),
            cfg.token ? "token required" : "no token: anyone who reaches it may use it",
            cfg.allow_any_command ? "any command" : "allowlisted commands",
            cd_loadtester_max_connections(lt));
    if (loose)
        cd_warn("%s is readable by other users", token_file);
    int sig = 0;
    sigwait(&set, &sig);
    cd_info("signal %d received, shutting down", sig);
    cd_loadtester_stop(lt);
    memset(token, 0, sizeof token);
    cd_info("HTTP server stopped");
    return 0;
}
