/* main.c - `canaryd local`: flags, then cd_local_run. Flag names follow
 * Flagger's where they mean the same thing (-metrics-server, -slack-url,
 * ...); both -flag and --flag are accepted. */
#include "local/controller.h"
#include "mains.h"
#include "net/httpd.h"
#include "util/access.h"
#include "util/buf.h"
#include "util/log.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: canaryd local --dir DIR [flags]\n"
            "\n"
            "Runs the canaries of a manifest directory on this host: LocalWorkload processes,\n"
            "the built-in router, analysis and promotion. Editing a file is applying it.\n"
            "\n"
            "  --dir DIR                manifests (*.yaml, *.yml, *.json); required\n"
            "  --state-dir DIR          status, journals, process records (default DIR/.canaryd)\n"
            "  --api ADDR               HTTP API for canaryctl: unix:/path or host:port\n"
            "                           (default unix:$XDG_RUNTIME_DIR/canaryd/local.sock, else\n"
            "                           unix:/tmp/canaryd-UID/local.sock; \"\" disables it)\n"
            "  --api-socket-mode MODE   mode of the API's Unix socket (default 0600)\n"
            "  --api-token-file FILE    token a TCP API requires (default $CANARYD_TOKEN, else\n"
            "                           generated); published for canaryctl in the runtime dir\n"
            "  --namespace NS           namespace of manifests that set none (default default)\n"
            "  --router-host ADDR       address the services' ports listen on (default 127.0.0.1)\n"
            "  --router-metrics ADDR    serve the router's /metrics (read-only) on this TCP\n"
            "                           address, for Prometheus (e.g. 127.0.0.1:9901)\n"
            "  --workers N              analysis threads (default 4)\n"
            "  --stop-on-exit           stop workloads and the router on SIGTERM/SIGINT\n"
            "                           (default: leave them running for the next canaryd local)\n"
            "  --secrets-dir DIR        local secrets (DIR/<namespace>/<name>/<key>)\n"
            "  -metrics-server URL      Prometheus for templates and metricsServer-less queries\n"
            "  -event-webhook URL       global event webhook (EVENT_WEBHOOK_URL wins)\n"
            "  -slack-url URL -slack-token T -slack-proxy-url URL -slack-user U -slack-channel C\n"
            "  -msteams-url URL -msteams-proxy-url URL -cluster-name NAME\n"
            "  -log-level debug|info|warn|error  (default info)   -log-format json|text\n");
}

static const char *self_path(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0)
        return "canaryd";
    buf[len] = '\0';
    return buf;
}

int cd_main_local(int argc, char **argv)
{
    cd_local_options o;
    memset(&o, 0, sizeof o);
    o.api = NULL;   /* the default socket, below */
    o.namespace_ = "default";
    o.router_host = "127.0.0.1";
    o.workers = 4;
    char exe[PATH_MAX];
    o.canaryd_path = self_path(exe, sizeof exe);
    const char *state_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        while (*a == '-')
            a++;
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        if (!strcmp(name, "h") || !strcmp(name, "help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(name, "stop-on-exit")) {
            o.stop_on_exit = true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "canaryd local: %s needs a value\n", argv[i]);
                return 2;
            }
            val = argv[++i];
        }
        if (!strcmp(name, "dir"))
            o.dir = val;
        else if (!strcmp(name, "state-dir"))
            state_dir = val;
        else if (!strcmp(name, "api"))
            o.api = val;
        else if (!strcmp(name, "api-token-file"))
            o.api_token_file = val;
        else if (!strcmp(name, "api-socket-mode")) {
            mode_t m;
            if (!cd_parse_socket_mode(val, &m)) {
                fprintf(stderr, "canaryd local: --api-socket-mode: \"%s\" is not an octal mode "
                                "such as 0600\n", val);
                return 2;
            }
            o.api_socket_mode = m ? (unsigned)m : 0600;
            if (m & 0006)
                fprintf(stderr, "canaryd local: warning: --api-socket-mode %s lets every user "
                                "of this host drive canaryd (and run commands as you)\n", val);
        }
        else if (!strcmp(name, "namespace"))
            o.namespace_ = val;
        else if (!strcmp(name, "router-host"))
            o.router_host = val;
        else if (!strcmp(name, "router-metrics"))
            o.router_metrics = val;
        else if (!strcmp(name, "workers"))
            o.workers = atoi(val);
        else if (!strcmp(name, "secrets-dir"))
            o.secrets_dir = val;
        else if (!strcmp(name, "metrics-server"))
            o.metrics_server = val;
        else if (!strcmp(name, "event-webhook"))
            o.event_webhook = val;
        else if (!strcmp(name, "slack-url"))
            o.notify.slack_url = val;
        else if (!strcmp(name, "slack-token"))
            o.notify.slack_token = val;
        else if (!strcmp(name, "slack-proxy-url"))
            o.notify.slack_proxy = val;
        else if (!strcmp(name, "slack-user"))
            o.notify.slack_user = val;
        else if (!strcmp(name, "slack-channel"))
            o.notify.slack_channel = val;
        else if (!strcmp(name, "msteams-url"))
            o.notify.msteams_url = val;
        else if (!strcmp(name, "msteams-proxy-url"))
            o.notify.msteams_proxy = val;
        else if (!strcmp(name, "cluster-name"))
            o.notify.cluster_name = val;
        else if (!strcmp(name, "log-level"))
            cd_log_set_level(cd_log_parse_level(val));
        else if (!strcmp(name, "log-format"))
            cd_log_set_json(strcmp(val, "text") != 0);
        else {
            fprintf(stderr, "canaryd local: unknown flag %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!o.dir) {
        fprintf(stderr, "canaryd local: --dir is required\n");
        usage(stderr);
        return 2;
    }
    if (o.workers < 1 || o.workers > 64) {
        fprintf(stderr, "canaryd local: --workers must be between 1 and 64\n");
        return 2;
    }
    char api_default[600];
    if (!o.api) {
        char err[600];
        if (!cd_default_local_socket(api_default + 5, sizeof api_default - 5, err, sizeof err)) {
            fprintf(stderr, "canaryd local: %s; pass --api unix:/path\n", err);
            return 2;
        }
        memcpy(api_default, "unix:", 5);
        o.api = api_default;
    }
    cd_buf sd = CD_BUF_INIT;
    if (state_dir)
        cd_buf_puts(&sd, state_dir);
    else
        cd_buf_printf(&sd, "%s/.canaryd", o.dir);
    o.state_dir = sd.data;
    cd_log_set_logger("canaryd-local");
    cd_raise_fd_limit();   /* the API's connection cap needs descriptors */
    int rc = cd_local_run(&o);
    cd_buf_free(&sd);
    return rc;
}
