/* endpoint.c - /metrics and /healthz on libmicrohttpd (see endpoint.h).
 * One event thread; each request is answered from memory at once; at most
 * CD_TELEMETRY_MAX_CONNECTIONS connections, 10 s to send a request, 15 s idle. */
#include "telemetry/endpoint.h"
#include "net/httpd.h"
#include "util/errfmt.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct cd_telemetry_endpoint {
    cd_httpd *s;
    cd_telemetry_endpoint_config cfg;
    int port;
};

static bool is_page(const cd_telemetry_endpoint *e, const char *url)
{
    size_t n = e->cfg.page_prefix ? strlen(e->cfg.page_prefix) : 0;
    return e->cfg.page && n && !strncmp(url, e->cfg.page_prefix, n) && (!url[n] || url[n] == '/');
}

/* A read-only page: only for this machine's names, never for another
 * origin, never a change. */
static enum MHD_Result page(cd_telemetry_endpoint *e, struct MHD_Connection *c, const char *url,
                            bool get)
{
    static const char text[] = "text/plain; charset=utf-8";
    if (!get)
        return cd_httpd_reply(c, 405, text, "read-only: GET only\n", 20);
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    static const char refused[] = "the Host must be an IP address, localhost or this "
                                  "machine's name (kubectl port-forward), and the Origin this "
                                  "server\n";
    if (!cd_host_is_local(host) || !cd_origin_matches_host(origin, host))
        return cd_httpd_reply(c, 403, text, refused, sizeof refused - 1);
    cd_telemetry_page pg = {.body = CD_BUF_INIT};
    e->cfg.page(e->cfg.page_ctx, url, &pg);
    if (!pg.status) {
        cd_buf_free(&pg.body);
        return cd_httpd_reply(c, 404, text, "404 page not found\n", 19);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(pg.body.len, pg.body.data ? pg.body.data : "",
                                                             MHD_RESPMEM_MUST_COPY);
    cd_buf_free(&pg.body);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", pg.type ? pg.type : text);
    if (pg.location)
        MHD_add_response_header(r, "Location", pg.location);
    for (size_t i = 0; pg.headers && pg.headers[i] && pg.headers[i + 1]; i += 2)
        MHD_add_response_header(r, pg.headers[i], pg.headers[i + 1]);
    enum MHD_Result ret = MHD_queue_response(c, pg.status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *ctx, struct MHD_Connection *c, const char *url,
                                  const char *method, cd_httpd_request *rq)
{
    cd_telemetry_endpoint *e = ctx;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (is_page(e, url))
        return page(e, c, url, get);
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
            cd_telemetry_process_write(&b);
        enum MHD_Result r = cd_httpd_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
        cd_buf_free(&b);
        return r;
    }
    if (!strcmp(url, "/metrics"))
        return cd_httpd_reply(c, 405, "text/plain; charset=utf-8", "method not allowed\n", 19);
    return cd_httpd_reply(c, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
}

cd_telemetry_endpoint *cd_telemetry_endpoint_start(const cd_telemetry_endpoint_config *cfg,
                                                   cd_err *err)
{
    if (cfg->port < 0 || cfg->port > 65535) {
        cd_errfmt(err, "port %d is out of range", cfg->port);
        return NULL;
    }
    cd_telemetry_endpoint *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->cfg = *cfg;
    cd_httpd_options o = {
        .name = "metrics endpoint",
        .listen_fd = -1,
        .address = cfg->address,
        .port = cfg->port,
        .max_connections = CD_TELEMETRY_MAX_CONNECTIONS,
        .read_timeout_s = 10,
        .idle_timeout_s = 15,
        .max_body = 4096,           /* it reads no bodies */
        .handler = on_request,
        .ctx = e,
    };
    e->s = cd_httpd_start(&o, err);
    if (!e->s) {
        free(e);
        return NULL;
    }
    e->port = cd_httpd_port(e->s);
    return e;
}

int cd_telemetry_endpoint_port(const cd_telemetry_endpoint *e)
{
    return e ? e->port : -1;
}

void cd_telemetry_endpoint_stop(cd_telemetry_endpoint *e)
{
    if (!e)
        return;
    cd_httpd_stop(e->s);
    free(e);
}
