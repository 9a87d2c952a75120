/* main.c - `canaryd local`: flags (one table, util/flags.h), then
 * cd_local_run. Flag names follow Flagger's where they mean the same thing
 * (-metrics-server, -slack-url, ...); every flag may be spelled -flag or
 * --flag. */
#include "local/controller.h"
#include "local/local.h"
#include "mains.h"
#include "net/httpd.h"
#include "util/access.h"
#include "util/buf.h"
#include "util/flags.h"
#include "util/log.h"
#include "version.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *self_path(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0)
        return "canaryd";
    buf[len] = '\0';
    return buf;
}

/* --api-socket-mode: octal permission bits */
static bool set_socket_mode(void *target, const char *s, char *err, size_t errlen)
{
    mode_t m;
    if (!cd_parse_socket_mode(s, &m)) {
        snprintf(err, errlen, "\"%s\" is not an octal mode such as 0600", s);
        return false;
    }
    if (m & 0006)
        fprintf(stderr, "canaryd local: warning: --api-socket-mode %s lets every user of this "
                        "host drive canaryd (and run commands as you)\n", s);
    *(unsigned *)target = m ? (unsigned)m : 0600;
    return true;
}

/* --router-host: the address every service port listens on. A host, not
 * host:port (each Canary's service.port is the port), that resolves to an
 * address of this host: checked here, because the router would otherwise
 * refuse every listener at every turn while canaryd runs on. An IPv6
 * address is written [addr] for the router. */
static bool check_router_host(const char *h, char *out, size_t outlen, char *why, size_t whylen)
{
    struct in6_addr a6;
    char host[256];
    size_t n = strlen(h);
    if (!n || n >= sizeof host) {
        snprintf(why, whylen, "expected a host such as 127.0.0.1, ::1 or localhost");
        return false;
    }
    if (h[0] == '[' && h[n - 1] == ']') {
        snprintf(host, sizeof host, "%.*s", (int)(n - 2), h + 1);
        if (inet_pton(AF_INET6, host, &a6) != 1) {
            snprintf(why, whylen, "\"%s\" is not an IPv6 address", host);
            return false;
        }
    } else if (inet_pton(AF_INET6, h, &a6) == 1) {
        snprintf(host, sizeof host, "%s", h);
    } else if (strchr(h, ':') || strchr(h, '/')) {
        snprintf(why, whylen, "a host without a port (each Canary's service.port is the port), "
                              "such as 127.0.0.1");
        return false;
    } else {
        snprintf(host, sizeof host, "%s", h);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, "0", &hints, &ai);
    if (gai != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return false;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : bind(fd, ai->ai_addr, ai->ai_addrlen);
    int e = errno;
    if (fd >= 0)
        close(fd);
    bool v6 = ai->ai_family == AF_INET6 && strchr(host, ':');
    freeaddrinfo(ai);
    if (rc != 0) {
        snprintf(why, whylen, "not an address of this host (%s)", strerror(e));
        return false;
    }
    snprintf(out, outlen, v6 ? "[%s]" : "%s", host);
    return true;
}

static const cd_flag_env_doc env_docs[] = {
    {"CANARYD_TOKEN", "the token of a TCP --api when --api-token-file is not given (processes "
                      "canaryd starts do not inherit it)"},
    {"EVENT_WEBHOOK_URL", "the event webhook; wins over --event-webhook"},
    {"SLACK_URL", "and SLACK_TOKEN, SLACK_PROXY_URL, SLACK_USER, SLACK_CHANNEL, MSTEAMS_URL, "
                  "MSTEAMS_PROXY_URL: the notifier settings whose flag is not given"},
    {NULL, NULL},
};

int cd_main_local(int argc, char **argv)
{
    cd_local_options o;
    memset(&o, 0, sizeof o);
    o.api = NULL;   /* below: the default socket */
    o.api_socket_mode = 0600;
    o.namespace_ = "default";
    o.router_host = "127.0.0.1";
    o.workers = 4;
    const char *state_dir = NULL, *log_level = "info";
    bool log_json = !isatty(STDERR_FILENO);
    const cd_flag flags[] = {
        CD_FLAG_STR("dir", 0, &o.dir, "DIR", "manifests (*.yaml, *.yml, *.json); required"),
        CD_FLAG_STR("state-dir", 0, &state_dir, "DIR",
                    "status, journals, process records (default DIR/.canaryd)"),
        {.name = "api", .type = CD_FLAG_STRING, .target = &o.api, .arg = "ADDR",
         .def = "unix:$XDG_RUNTIME_DIR/canaryd/local.sock, or unix:/tmp/canaryd-UID/local.sock",
         .help = "HTTP API for canaryctl: unix:/path or host:port, which needs a token (\"\" "
                 "disables it)"},
        {.name = "api-socket-mode", .type = CD_FLAG_FUNC, .target = &o.api_socket_mode,
         .set = set_socket_mode, .arg = "MODE", .def = "0600",
         .help = "permissions of the API's Unix socket"},
        CD_FLAG_STR("api-token-file", 0, &o.api_token_file, "FILE",
                    "the token a TCP API requires (default $CANARYD_TOKEN, else one generated "
                    "and kept); published 0600 in the runtime directory for canaryctl"),
        CD_FLAG_STR("namespace", 0, &o.namespace_, "NS", "namespace of manifests that set none"),
        CD_FLAG_STR("router-host", 0, &o.router_host, "ADDR",
                    "host (not host:port) every service port listens on; must be an address of "
                    "this machine"),
        CD_FLAG_STR("router-metrics", 0, &o.router_metrics, "ADDR",
                    "serve the router's /metrics and health, read-only and without a token, on "
                    "this TCP address, for Prometheus (e.g. 127.0.0.1:9901)"),
        CD_FLAG_NUM("workers", &o.workers, "N", 1, 64, "analysis threads"),
        CD_FLAG_SWITCH("stop-on-exit", 0, &o.stop_on_exit,
                       "stop workloads and the router on SIGTERM/SIGINT (default: leave them "
                       "running for the next canaryd local)"),
        CD_FLAG_STR("secrets-dir", 0, &o.secrets_dir, "DIR",
                    "local secrets (DIR/<namespace>/<name>/<key>)"),
        CD_FLAG_STR("metrics-server", 0, &o.metrics_server, "URL",
                    "Prometheus for templates and metricsServer-less queries"),
        CD_FLAG_STR("event-webhook", 0, &o.event_webhook, "URL",
                    "global event webhook ($EVENT_WEBHOOK_URL wins)"),
        CD_FLAG_STR("slack-url", 0, &o.notify.slack_url, "URL", "Slack incoming webhook"),
        CD_FLAG_STR("slack-token", 0, &o.notify.slack_token, "TOKEN", "Slack API token"),
        CD_FLAG_STR("slack-proxy-url", 0, &o.notify.slack_proxy, "URL", "proxy for Slack"),
        CD_FLAG_STR("slack-user", 0, &o.notify.slack_user, "NAME", "Slack user name (default flagger)"),
        CD_FLAG_STR("slack-channel", 0, &o.notify.slack_channel, "NAME", "Slack channel"),
        CD_FLAG_STR("msteams-url", 0, &o.notify.msteams_url, "URL", "MS Teams incoming webhook"),
        CD_FLAG_STR("msteams-proxy-url", 0, &o.notify.msteams_proxy, "URL", "proxy for MS Teams"),
        CD_FLAG_STR("cluster-name", 0, &o.notify.cluster_name, "NAME", "cluster name shown in alerts"),
        {.name = "log-level", .type = CD_FLAG_ENUM, .target = &log_level,
         .choices = cd_flag_log_levels, .arg = "LEVEL", .help = "log level"},
        {.name = "log-format", .type = CD_FLAG_FUNC, .target = &log_json,
         .choices = cd_flag_log_formats, .set = cd_flag_set_log_json,
         .def = "text on a terminal, json otherwise", .help = "log format"},
    };
    cd_flag_cmd cmd = {
        .prog = "canaryd local",
        .synopsis = "--dir DIR [flags]",
        .about = "Runs the canaries of a manifest directory on this host: LocalWorkload processes,\n"
                 "the built-in router, analysis and promotion. Editing a file is applying it.\n"
                 "Every flag may be spelled -flag or --flag (Flagger's -metrics-server, ...).",
        .footer = "Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot start (the API's\n"
                  "address taken, another canaryd local on the state directory, ...), 2 for a\n"
                  "usage error (an unknown flag, a missing or mistyped --dir, a --router-host\n"
                  "that is not a host of this machine).\n"
                  "See docs/local.md.",
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
        .env = env_docs,
        .version = CANARYD_VERSION,
    };
    int rc = cd_flags_parse(&cmd, argc, argv, NULL, stdout, stderr);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (!o.dir || !*o.dir)
        return cd_flags_fail(&cmd, stderr, "--dir is required");
    /* the directory must exist (a typo must not create and watch an
     * empty one) and is used by its absolute path from here on: replicas
     * and the router run long after, from other directories */
    char dir_abs[PATH_MAX];
    struct stat dst;
    if (!realpath(o.dir, dir_abs) || stat(dir_abs, &dst) != 0)
        return cd_flags_fail(&cmd, stderr, "--dir %s: %s", o.dir, strerror(errno));
    if (!S_ISDIR(dst.st_mode))
        return cd_flags_fail(&cmd, stderr, "--dir %s: not a directory", o.dir);
    o.dir = dir_abs;
    char router_host[300], why[300];
    if (!check_router_host(o.router_host, router_host, sizeof router_host, why, sizeof why))
        return cd_flags_fail(&cmd, stderr, "--router-host %s: %s", o.router_host, why);
    o.router_host = router_host;
    /* a mistyped --api is a usage error before anything is written (a
     * token was published for "localhost", then the start failed) */
    if (o.api && strncmp(o.api, "unix:", 5) && !lc_api_tcp_address(o.api, NULL))
        return cd_flags_fail(&cmd, stderr,
                             "--api %s: not unix:/PATH nor an IPv4 address and port such as "
                             "127.0.0.1:9090", o.api);
    cd_log_set_level(cd_log_parse_level(log_level));
    cd_log_set_json(log_json);
    char exe[PATH_MAX];
    o.canaryd_path = self_path(exe, sizeof exe);
    cd_buf sd = CD_BUF_INIT;
    if (state_dir && state_dir[0] != '/') {   /* absolute, as --dir */
        char cwd[PATH_MAX];
        cd_buf_printf(&sd, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", state_dir);
    } else if (state_dir)
        cd_buf_puts(&sd, state_dir);
    else
        cd_buf_printf(&sd, "%s/.canaryd", o.dir);
    o.state_dir = sd.data;
    char api_default[600];
    if (!o.api) {
        char err[600];
        if (!cd_default_local_socket(api_default + 5, sizeof api_default - 5, err, sizeof err)) {
            cd_buf_free(&sd);
            return cd_flags_fail(&cmd, stderr, "%s; pass --api unix:/path", err);
        }
        memcpy(api_default, "unix:", 5);
        o.api = api_default;
    }
    cd_log_set_logger("canaryd-local");
    cd_raise_fd_limit();   /* the API's connection cap needs descriptors */
    rc = cd_local_run(&o);
    cd_buf_free(&sd);
    return rc;
}
