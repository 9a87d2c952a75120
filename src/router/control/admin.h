/* admin.h - the admin API's HTTP/1.1 server: listens on Unix sockets
 * (created with an explicit mode) or TCP ports (which need the token),
 * and serves metrics-only listeners (GET /metrics and health, nothing
 * that changes state); runs on the control thread's event loop, parses
 * requests with llhttp and hands them to the API (api.c). Kept on the
 * router's own HTTP stack (rather than libmicrohttpd) so that the data
 * plane process maps no TLS library: see docs/router.md and
 * docs/security.md. */
#ifndef CD_ROUTER_ADMIN_H
#define CD_ROUTER_ADMIN_H
#include "router/io/loop.h"
#include "util/buf.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct rt_admin_listen_opts {
    bool metrics_only;          /* GET /metrics, /healthz, /readyz only; no token */
    unsigned socket_mode;       /* a Unix socket's mode; 0: 0600 */
} rt_admin_listen_opts;

/* The token TCP admin listeners require (set before rt_admin_listen). */
void rt_admin_set_token(const char *token);
bool rt_admin_has_token(void);
/* Listens on addr; a TCP admin listener without a token is refused. */
bool rt_admin_listen(rt_loop *l, const char *addr, const rt_admin_listen_opts *o, char *err,
                     size_t errlen);
/* A listening socket received at takeover, used by rt_admin_listen when
 * the address matches. */
void rt_admin_add_inherited(const char *addr, int fd);
void rt_admin_close_unused_inherited(void);
/* The listening sockets, for a successor. */
size_t rt_admin_sockets(const char **addrs, int *fds, size_t max);
void rt_admin_close_all(void);

typedef struct rt_admin_req {
    const char *method;
    const char *path;           /* decoded? no: raw path without the query */
    const char *query;          /* raw query without '?', "" when none */
    const char *body;
    size_t body_len;
    const char *if_match;       /* NULL when absent */
} rt_admin_req;

typedef struct rt_admin_resp {
    int status;
    const char *content_type;
    cd_buf body;
    char etag[40];
} rt_admin_resp;

/* api.c: one request, one response. Control thread. */
void rt_api_handle(const rt_admin_req *req, rt_admin_resp *resp);

#endif
