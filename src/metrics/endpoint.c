/* endpoint.c - /metrics and /healthz on libmicrohttpd (see endpoint.h).
 * One polling thread; each request is answered from memory at once. */
#include "metrics/endpoint.h"
#include "net/httpd.h"
#include "util/errfmt.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct cd_metrics_endpoint {
    struct MHD_Daemon *d;
    cd_metrics_endpoint_config cfg;
    int port;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    cd_metrics_endpoint *e = cls;
    if (!*con_cls) {            /* first call: headers only */
        *con_cls = e;
        return MHD_YES;
    }
    if (*upload_size) {         /* ignore request bodies */
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(url, "/healthz")) {
        bool ok = !e->cfg.healthy || e->cfg.healthy(e->cfg.health_ctx);
        return ok ? cd_httpd_reply(c, 200, "text/plain; charset=utf-8", "OK", 2)
                  : cd_httpd_reply(c, 503, "text/plain; charset=utf-8", "not ready", 9);
    }
    if (!strcmp(url, "/metrics") && get) {
        cd_buf b = CD_BUF_INIT;
        cd_buf_puts(&b, "");
        for (size_t i = 0; i < e->cfg.n_writers; i++)
            e->cfg.writers[i](e->cfg.writer_ctx[i], &b);
        if (!e->cfg.no_process_metrics)
            cd_process_metrics_write(&b);
        enum MHD_Result r = cd_httpd_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
        cd_buf_free(&b);
        return r;
    }
    if (!strcmp(url, "/metrics"))
        return cd_httpd_reply(c, 405, "text/plain; charset=utf-8", "method not allowed\n", 19);
    return cd_httpd_reply(c, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
}

cd_metrics_endpoint *cd_metrics_endpoint_start(const cd_metrics_endpoint_config *cfg, cd_err *err)
{
    if (cfg->port < 0 || cfg->port > 65535) {
        cd_errfmt(err, "port %d is out of range", cfg->port);
        return NULL;
    }
    cd_metrics_endpoint *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->cfg = *cfg;
    struct sockaddr_storage ss;
    const struct sockaddr *sa = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (!cd_httpd_address(cfg->address, cfg->port, &ss, &sa, &flags, err)) {
        free(e);
        return NULL;
    }
    if (sa)
        e->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, e,
                                MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)15, MHD_OPTION_END);
    else
        e->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, e,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_END);
    if (!e->d) {
        cd_errfmt(err, "cannot listen on %s:%d (port in use?)",
                  cfg->address && *cfg->address ? cfg->address : "*", cfg->port);
        free(e);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(e->d, MHD_DAEMON_INFO_BIND_PORT);
    e->port = info ? info->port : cfg->port;
    return e;
}

int cd_metrics_endpoint_port(const cd_metrics_endpoint *e)
{
    return e ? e->port : -1;
}

void cd_metrics_endpoint_stop(cd_metrics_endpoint *e)
{
    if (!e)
        return;
    MHD_stop_daemon(e->d);
    free(e);
}
