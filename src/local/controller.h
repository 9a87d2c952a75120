/* controller.h - `canaryd local`, the single-host controller (see
 * docs/local.md): runs until SIGTERM/SIGINT. */
#ifndef CD_LOCAL_CONTROLLER_H
#define CD_LOCAL_CONTROLLER_H
#include "notify/notify.h"
#include <stdbool.h>
#include <sys/types.h>

typedef struct cd_local_options {
    const char *dir;                /* manifests */
    const char *state_dir;          /* default DIR/.canaryd */
    const char *api;                /* "unix:/path" or "host:port"; NULL: none */
    unsigned api_socket_mode;       /* mode of a Unix socket API (0: 0600) */
    const char *api_token_file;     /* token of a TCP API (else $CANARYD_TOKEN, else generated) */
    const char *namespace_;         /* default namespace of manifests */
    const char *router_host;        /* where service ports listen (default 127.0.0.1) */
    const char *router_metrics;     /* the router's metrics-only listener, for Prometheus */
    const char *canaryd_path;       /* this binary, to start `canaryd router` */
    const char *metrics_server;     /* -metrics-server */
    const char *event_webhook;
    const char *secrets_dir;        /* local secret files */
    int workers;                    /* tick threads (default 4) */
    bool stop_on_exit;              /* stop workloads and the router on SIGTERM */
    cd_notify_config notify;        /* -slack-*, -msteams-*, -cluster-name */
} cd_local_options;

int cd_local_run(const cd_local_options *opt);

#endif
