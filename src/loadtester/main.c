/* main.c - `canaryd loadtester`: flagger-loadtester's command line (-port,
 * -timeout, -namespace-regexp, -log-level, -zap-encoding,
 * -zap-replace-globals; Go-style single-dash flags, --flag too) plus
 * -address, -log-format, -token-file, -allow-commands and
 * -allow-any-command (util/flags.h). Serves until SIGINT or SIGTERM, then
 * kills running tasks and exits. */
#include "loadtester/loadtester.h"
#include "loadtester/policy.h"
#include "net/httpd.h"
#include "util/access.h"
#include "util/buf.h"
#include "mains.h"
#include "util/duration.h"
#include "util/flags.h"
#include "util/log.h"
#include "version.h"
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* -port as Flagger's: "9090" or ":9090" */
static bool set_port(void *target, const char *s, char *err, size_t errlen)
{
    char *end;
    const char *p = *s == ':' ? s + 1 : s;
    long n = strtol(p, &end, 10);
    if (!*p || *end || n < 0 || n > 65535) {
        snprintf(err, errlen, "expected a port from 0 to 65535");
        return false;
    }
    *(int *)target = (int)n;
    return true;
}

static bool set_regexp(void *target, const char *s, char *err, size_t errlen)
{
    regex_t re;
    int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &re, err, errlen);
        return false;
    }
    regfree(&re);
    *(const char **)target = s;
    return true;
}

int cd_main_loadtester(int argc, char **argv)
{
    cd_loadtester_config cfg = {.port = 9090, .timeout_ms = 3600000};
    const char *level = "debug", *token_file = NULL;
    bool json = !isatty(STDERR_FILENO);   /* json in a pod, text on a terminal */
    const cd_flag flags[] = {
        {.name = "port", .type = CD_FLAG_FUNC, .target = &cfg.port, .set = set_port,
         .arg = "PORT", .def = "9090", .help = "port to listen on (0: any free port)"},
        CD_FLAG_STR("address", 0, &cfg.address, "ADDR", "address to bind (default: every interface)"),
        CD_FLAG_DUR("timeout", &cfg.timeout_ms, 1, 7 * 86400000.0,
                    "command and load task timeout"),
        {.name = "namespace-regexp", .type = CD_FLAG_FUNC, .target = &cfg.namespace_regexp,
         .set = set_regexp, .arg = "REGEXP",
         .help = "only canaries whose namespace matches may use the API, and kubectl and helm "
                 "may act only in matching namespaces (POSIX extended)"},
        {.name = "token-file", .type = CD_FLAG_STRING, .target = &token_file, .arg = "FILE",
         .help = "require \"Authorization: Bearer TOKEN\" (or Basic with the token as the "
                 "password) for everything but /healthz and /metrics (default "
                 "$CANARYD_LOADTESTER_TOKEN; neither: no token)"},
        {.name = "allow-commands", .type = CD_FLAG_STRING, .target = &cfg.allow_commands,
         .arg = "LIST", .help = "programs cmd, bash, helm and kubectl tasks may run besides the "
                                "defaults (below), comma-separated"},
        CD_FLAG_SWITCH("allow-any-command", 0, &cfg.allow_any_command,
                       "run any command line, as flagger-loadtester does"),
        {.name = "log-level", .type = CD_FLAG_ENUM, .target = &level, .choices = cd_flag_log_levels,
         .arg = "LEVEL", .help = "log level"},
        {.name = "zap-encoding", .type = CD_FLAG_FUNC, .target = &json,
         .choices = cd_flag_zap_encodings, .set = cd_flag_set_log_json, .def = "text on a terminal, json otherwise",
         .help = "log format (Flagger's flag)"},
        {.name = "log-format", .type = CD_FLAG_FUNC, .target = &json,
         .choices = cd_flag_log_formats, .set = cd_flag_set_log_json, .def = "text on a terminal, json otherwise",
         .help = "log format (the same as -zap-encoding, as every canaryd process spells it)"},
        {.name = "zap-replace-globals", .type = CD_FLAG_IGNORED_BOOL},
    };
    cd_buf footer = CD_BUF_INIT;
    cd_buf_puts(&footer, "Commands allowed by default: ");
    for (size_t i = 0; cd_default_allowed_commands[i]; i++)
        cd_buf_printf(&footer, "%s%s", i ? ", " : "", cd_default_allowed_commands[i]);
    cd_buf_puts(&footer, ".\nSee docs/loadtester.md for the API and the task types, "
                         "docs/security.md for who can reach what.");
    cd_flag_cmd cmd = {
        .prog = "canaryd loadtester",
        .synopsis = "[flags]",
        .about = "A webhook service compatible with flagger-loadtester: gates, rollback gates,\n"
                 "commands (cmd, bash, helm, kubectl) and canaryd's native load generator.\n"
                 "Every flag may be spelled -flag or --flag.",
        .footer = footer.data,
        .go_style = true,
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
        .version = CANARYD_VERSION,
    };
    int rc = cd_flags_parse(&cmd, argc, argv, NULL, stdout, stderr);
    cd_buf_free(&footer);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    cd_log_set_level(cd_log_parse_level(level));
    cd_log_set_json(json);
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
