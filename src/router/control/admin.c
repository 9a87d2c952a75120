/* admin.c - the admin API's HTTP server (see admin.h): accepts on its
 * listeners, reads one request at a time with llhttp, decides on the
 * headers whether the client may send it (token, Host, Origin,
 * Content-Type: util/access.h; a Unix socket's mode decided who could
 * connect at all) before reading any body, answers through rt_api_handle
 * (or, on a metrics-only listener, only /metrics and health), keeps
 * connections alive.
 *
 * Bounded: ADMIN_MAX_CONNS connections in all, a request head within
 * ADMIN_HEAD_MS, a whole request within ADMIN_REQUEST_MS, keep-alive idle
 * ADMIN_IDLE_MS, bodies up to ADMIN_MAX_BODY each and ADMIN_BODY_BUDGET
 * in all. Runs on the control thread; never touches the data path. */
#include "router/control/admin.h"
#include "router/io/addr.h"
#include "router/datapath/http.h"
#include "util/access.h"
#include "util/log.h"
#include <errno.h>
#include <jansson.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_MAX_BODY (16u << 20)
#define ADMIN_BODY_BUDGET (64u << 20)
#define ADMIN_MAX_HEAD (64u << 10)
#define ADMIN_MAX_CONNS 1024
#define ADMIN_HEAD_MS 10000
#define ADMIN_REQUEST_MS 30000
#define ADMIN_IDLE_MS 30000
#define ADMIN_HDR_MAX 1024          /* each header access control reads */

typedef struct admin_listener {
    rt_io io;
    char *address;
    bool metrics_only;
    cd_access_policy policy;
} admin_listener;

/* the request headers kept */
enum { H_NONE, H_IF_MATCH, H_HOST, H_ORIGIN, H_CTYPE, H_AUTHZ, H_COUNT };

typedef struct admin_conn {
    rt_io io;
    rt_timer timer;
    admin_listener *ls;
    llhttp_t parser;
    cd_buf in;              /* unparsed bytes */
    size_t in_off;
    cd_buf url, body, field;
    cd_buf hdr[H_COUNT];
    bool has_hdr[H_COUNT];
    int cur_hdr;
    size_t head_bytes;
    bool complete;
    bool too_large, over_budget;
    int refused;            /* status the headers were refused with; 0: admitted */
    char why[300];
    cd_buf out;
    size_t out_off;
    bool close_after;
    struct admin_conn *prev, *next;
} admin_conn;

/* the admin side: its listeners, inherited sockets, connections, token */
static struct {
    rt_loop *loop;
    admin_listener *ls[16];
    size_t nls;
    struct { char *address; int fd; bool used; } inh[16];
    size_t ninh;
    admin_conn *conns;
    size_t nconns;
    size_t body_bytes;      /* request bodies buffered, all connections */
    char token[CD_TOKEN_MAX + 1];
} g_admin;

/* ---- parser callbacks ---- */

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    admin_conn *c = p->data;
    c->head_bytes += n;
    cd_buf_append(&c->url, at, n);
    return c->head_bytes > ADMIN_MAX_HEAD ? HPE_USER : 0;
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
    admin_conn *c = p->data;
    c->head_bytes += n;
    cd_buf_append(&c->field, at, n);
    return c->head_bytes > ADMIN_MAX_HEAD ? HPE_USER : 0;
}

static int on_field_done(llhttp_t *p)
{
    static const char *const names[H_COUNT] = {"", "if-match", "host", "origin", "content-type",
                                               "authorization"};
    admin_conn *c = p->data;
    c->cur_hdr = H_NONE;
    for (int i = 1; i < H_COUNT; i++)
        if (!strcasecmp(cd_buf_str(&c->field), names[i]))
            c->cur_hdr = i;
    if (c->cur_hdr != H_NONE) {
        if (c->has_hdr[c->cur_hdr])
            c->cur_hdr = H_NONE;   /* a repeated header keeps its first value */
        else
            c->has_hdr[c->cur_hdr] = true;
    }
    cd_buf_reset(&c->field);
    return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
    admin_conn *c = p->data;
    c->head_bytes += n;
    if (c->cur_hdr != H_NONE) {
        if (c->hdr[c->cur_hdr].len + n > ADMIN_HDR_MAX)
            return HPE_USER;
        cd_buf_append(&c->hdr[c->cur_hdr], at, n);
    }
    return c->head_bytes > ADMIN_MAX_HEAD ? HPE_USER : 0;
}

static const char *hdr(admin_conn *c, int h)
{
    return c->has_hdr[h] ? cd_buf_str(&c->hdr[h]) : NULL;
}

static bool is_health_path(const char *url)
{
    return !strcmp(url, "/healthz") || !strcmp(url, "/readyz");
}

/* The headers are in: may this client send this request? */
static int on_headers_complete(llhttp_t *p)
{
    admin_conn *c = p->data;
    const char *method = llhttp_method_name(p->method);
    cd_access_request r = {
        .method = method,
        .host = hdr(c, H_HOST),
        .origin = hdr(c, H_ORIGIN),
        .content_type = hdr(c, H_CTYPE),
        .authorization = hdr(c, H_AUTHZ),
    };
    cd_access_policy pol = c->ls->policy;
    if (is_health_path(cd_buf_str(&c->url)) && !cd_method_changes_state(method))
        pol.token = NULL;   /* probes need no token */
    c->refused = cd_access_check(&pol, &r, c->why, sizeof c->why);
    if (!c->refused && c->ls->metrics_only && cd_method_changes_state(method)) {
        c->refused = 405;
        snprintf(c->why, sizeof c->why, "this listener serves only GET /metrics, /healthz and "
                                        "/readyz");
    }
    if (c->refused)
        return -1;
    rt_timer_set(g_admin.loop, &c->timer, g_admin.loop->now + ADMIN_REQUEST_MS);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    admin_conn *c = p->data;
    if (c->ls->metrics_only || c->body.len + n > ADMIN_MAX_BODY) {
        c->too_large = true;
        return HPE_USER;
    }
    if (g_admin.body_bytes + n > ADMIN_BODY_BUDGET) {
        c->over_budget = true;
        return HPE_USER;
    }
    g_admin.body_bytes += n;
    cd_buf_append(&c->body, at, n);
    return 0;
}

static int on_complete(llhttp_t *p)
{
    admin_conn *c = p->data;
    c->complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t admin_settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_field_complete = on_field_done,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* ---- connections ---- */

static void release_body(admin_conn *c)
{
    g_admin.body_bytes -= c->body.len <= g_admin.body_bytes ? c->body.len : g_admin.body_bytes;
    cd_buf_free(&c->body);
}

static void conn_free(void *p)
{
    admin_conn *c = p;
    cd_buf_free(&c->in);
    cd_buf_free(&c->url);
    cd_buf_free(&c->field);
    for (int i = 0; i < H_COUNT; i++)
        cd_buf_free(&c->hdr[i]);
    cd_buf_free(&c->out);
    free(c);
}

static void conn_close(admin_conn *c)
{
    if (c->io.fd < 0)
        return;
    close(c->io.fd);
    c->io.fd = -1;
    release_body(c);
    rt_timer_clear(g_admin.loop, &c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        g_admin.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g_admin.nconns--;
    rt_loop_defer(g_admin.loop, conn_free, c);
}

static const char *status_text(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 503: return "Service Unavailable";
    default: return rt_reason_phrase((unsigned)s);
    }
}

static void queue_response(admin_conn *c, rt_admin_resp *r, bool head_only)
{
    cd_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
                  r->status, status_text(r->status),
                  r->content_type ? r->content_type : "application/json", r->body.len);
    if (r->etag[0])
        cd_buf_printf(&c->out, "ETag: \"%s\"\r\n", r->etag);
    if (r->status == 401)
        cd_buf_puts(&c->out, "WWW-Authenticate: Bearer realm=\"canaryd\"\r\n");
    cd_buf_puts(&c->out, "Cache-Control: no-store\r\n");
    cd_buf_puts(&c->out, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
    if (!head_only && r->body.len)
        cd_buf_append(&c->out, r->body.data, r->body.len);
    cd_buf_free(&r->body);
}

static void reset_request(admin_conn *c)
{
    cd_buf_reset(&c->url);
    release_body(c);
    cd_buf_reset(&c->field);
    for (int i = 0; i < H_COUNT; i++) {
        cd_buf_reset(&c->hdr[i]);
        c->has_hdr[i] = false;
    }
    c->cur_hdr = H_NONE;
    c->head_bytes = 0;
    c->complete = false;
}

static void answer_error(admin_conn *c, int status, const char *msg)
{
    rt_admin_resp r = {.status = status, .content_type = "application/json"};
    json_t *j = json_pack("{s:s}", "error", msg);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cd_buf_printf(&r.body, "%s\n", t ? t : "{}");
    free(t);
    c->close_after = true;
    queue_response(c, &r, false);
}

/* A metrics-only listener: GET /metrics and health, nothing else. */
static void handle_metrics_only(const rt_admin_req *req, rt_admin_resp *resp)
{
    if (!strcmp(req->path, "/metrics") || is_health_path(req->path)) {
        rt_api_handle(req, resp);
        return;
    }
    resp->status = 404;
    cd_buf_puts(&resp->body, "{\"error\":\"not found: this listener serves only /metrics, "
                             "/healthz and /readyz\"}\n");
}

static void dispatch(admin_conn *c)
{
    const char *url = cd_buf_str(&c->url);
    const char *q = strchr(url, '?');
    char path[1024];
    size_t pl = q ? (size_t)(q - url) : strlen(url);
    if (pl >= sizeof path)
        pl = sizeof path - 1;
    memcpy(path, url, pl);
    path[pl] = 0;
    const char *method = llhttp_method_name(c->parser.method);
    bool head = c->parser.method == HTTP_HEAD;
    rt_admin_req req = {
        .method = head ? "GET" : method,
        .path = path,
        .query = q ? q + 1 : "",
        .body = c->body.data ? c->body.data : "",
        .body_len = c->body.len,
        .if_match = hdr(c, H_IF_MATCH),
    };
    rt_admin_resp resp = {.status = 200, .content_type = "application/json"};
    if (c->ls->metrics_only)
        handle_metrics_only(&req, &resp);
    else
        rt_api_handle(&req, &resp);
    c->close_after = !llhttp_should_keep_alive(&c->parser);
    queue_response(c, &resp, head);
    rt_timer_set(g_admin.loop, &c->timer, g_admin.loop->now + ADMIN_IDLE_MS);
}

static bool flush_out(admin_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->io.fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false;
        conn_close(c);
        return false;
    }
    cd_buf_reset(&c->out);
    c->out_off = 0;
    if (c->close_after) {
        conn_close(c);
        return false;
    }
    return true;
}

static void answer_parse_error(admin_conn *c)
{
    if (c->refused)
        answer_error(c, c->refused, c->why);
    else if (c->too_large)
        answer_error(c, 413, c->ls->metrics_only ? "this listener takes no request bodies"
                                                 : "request body larger than 16 MiB");
    else if (c->over_budget)
        answer_error(c, 503, "the admin API is buffering too many request bodies; retry");
    else
        answer_error(c, 400, "malformed HTTP request");
}

static void process(admin_conn *c)
{
    for (;;) {
        if (c->out.len && !flush_out(c))
            return;
        if (c->close_after)
            return;   /* an error answer is on its way; read nothing more */
        if (c->in_off < c->in.len) {
            const char *start = c->in.data + c->in_off;
            llhttp_errno_t err = llhttp_execute(&c->parser, start, c->in.len - c->in_off);
            if (err == HPE_OK) {
                c->in_off = c->in.len;
            } else if (err == HPE_PAUSED && c->complete) {
                c->in_off = (size_t)(llhttp_get_error_pos(&c->parser) - c->in.data);
                dispatch(c);
                llhttp_resume(&c->parser);
                reset_request(c);
                rt_timer_set(g_admin.loop, &c->timer, g_admin.loop->now + ADMIN_IDLE_MS);
                continue;
            } else {
                answer_parse_error(c);
                c->in_off = c->in.len;
                continue;
            }
        }
        if (c->in_off == c->in.len) {
            cd_buf_reset(&c->in);
            c->in_off = 0;
        }
        char buf[16384];
        ssize_t n = recv(c->io.fd, buf, sizeof buf, 0);
        if (n > 0) {
            cd_buf_append(&c->in, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(c);
        return;
    }
}

static void on_conn_event(rt_loop *l, rt_io *io, uint32_t ev) { process((admin_conn *)io); }

static void on_conn_timer(rt_loop *l, rt_timer *t)
{
    conn_close((admin_conn *)((char *)t - offsetof(admin_conn, timer)));
}

static void on_admin_accept(rt_loop *l, rt_io *io, uint32_t ev)
{
    admin_listener *ls = (admin_listener *)io;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (g_admin.nconns >= ADMIN_MAX_CONNS) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n";
            ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
            continue;
        }
        admin_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            return;
        }
        c->io.fd = fd;
        c->io.cb = on_conn_event;
        c->timer.cb = on_conn_timer;
        c->ls = ls;
        llhttp_init(&c->parser, HTTP_REQUEST, &admin_settings);
        c->parser.data = c;
        if (rt_loop_add(l, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = g_admin.conns;
        if (g_admin.conns)
            g_admin.conns->prev = c;
        g_admin.conns = c;
        g_admin.nconns++;
        rt_timer_set(l, &c->timer, l->now + ADMIN_HEAD_MS);
        process(c);
    }
}

/* ---- listeners ---- */

void rt_admin_add_inherited(const char *addr, int fd)
{
    if (g_admin.ninh == 16) {
        close(fd);
        return;
    }
    g_admin.inh[g_admin.ninh].address = strdup(addr);
    if (!g_admin.inh[g_admin.ninh].address)
        abort();
    g_admin.inh[g_admin.ninh].fd = fd;
    g_admin.inh[g_admin.ninh].used = false;
    g_admin.ninh++;
}

void rt_admin_close_unused_inherited(void)
{
    for (size_t i = 0; i < g_admin.ninh; i++) {
        if (!g_admin.inh[i].used)
            close(g_admin.inh[i].fd);
        free(g_admin.inh[i].address);
    }
    g_admin.ninh = 0;
}

void rt_admin_set_token(const char *token)
{
    snprintf(g_admin.token, sizeof g_admin.token, "%s", token ? token : "");
}

bool rt_admin_has_token(void) { return g_admin.token[0] != 0; }

bool rt_admin_listen(rt_loop *l, const char *addr, const rt_admin_listen_opts *o, char *err,
                     size_t errlen)
{
    if (g_admin.nls == 16) {
        snprintf(err, errlen, "at most 16 admin and metrics listeners");
        return false;
    }
    rt_addr a;
    if (!rt_addr_parse(addr, &a, err, errlen))
        return false;
    bool is_unix = a.family == AF_UNIX;
    if (!is_unix && !o->metrics_only && !g_admin.token[0]) {
        snprintf(err, errlen, "an admin API on a TCP address needs a token: pass "
                              "--admin-token-file FILE or set $%s (or use unix:/path)",
                 CD_ENV_ROUTER_TOKEN);
        return false;
    }
    int fd = -1;
    for (size_t i = 0; i < g_admin.ninh && fd < 0; i++) {
        rt_addr ia;
        char e2[64];
        if (!g_admin.inh[i].used && rt_addr_parse(g_admin.inh[i].address, &ia, e2, sizeof e2) &&
            rt_addr_equal(&ia, &a)) {
            g_admin.inh[i].used = true;
            fd = g_admin.inh[i].fd;
        }
    }
    if (fd < 0 && is_unix)
        fd = cd_listen_unix(addr + 5, o->socket_mode ? o->socket_mode : 0600, SOMAXCONN, true, err,
                            errlen);
    else if (fd < 0)
        fd = rt_listen(&a, SOMAXCONN, err, errlen);
    if (fd < 0)
        return false;
    if (o->metrics_only && !rt_addr_is_local(&a))
        cd_info("router: metrics on %s are readable from other hosts (read-only)", addr);
    admin_listener *x = calloc(1, sizeof *x);
    if (!x)
        abort();
    x->io.fd = fd;
    x->io.cb = on_admin_accept;
    x->address = strdup(addr);
    if (!x->address)
        abort();
    x->metrics_only = o->metrics_only;
    x->policy.require_json = true;
    if (!is_unix && !o->metrics_only) {
        x->policy.check_host = true;
        x->policy.token = g_admin.token;
    }
    g_admin.loop = l;
    if (rt_loop_add(l, &x->io, EPOLLIN) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        close(fd);
        free(x->address);
        free(x);
        return false;
    }
    g_admin.ls[g_admin.nls++] = x;
    return true;
}

size_t rt_admin_sockets(const char **addrs, int *fds, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < g_admin.nls && n < max; i++) {
        addrs[n] = g_admin.ls[i]->address;
        fds[n] = g_admin.ls[i]->io.fd;
        n++;
    }
    return n;
}

void rt_admin_close_all(void)
{
    while (g_admin.conns)
        conn_close(g_admin.conns);
    for (size_t i = 0; i < g_admin.nls; i++) {
        rt_loop_del(g_admin.loop, &g_admin.ls[i]->io);
        close(g_admin.ls[i]->io.fd);
        free(g_admin.ls[i]->address);
        free(g_admin.ls[i]);
    }
    g_admin.nls = 0;
    rt_admin_close_unused_inherited();
    memset(g_admin.token, 0, sizeof g_admin.token);
}
