/* admin.c - the admin API's HTTP server (see admin.h): accepts on its
 * listeners, reads one request at a time (head and body up to 16 MiB)
 * with llhttp, answers through rt_api_handle, keeps connections alive.
 * Runs on the control thread; never touches the data path. */
#include "router/admin.h"
#include "router/addr.h"
#include "router/http.h"
#include "util/log.h"
#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_MAX_BODY (16u << 20)
#define ADMIN_MAX_HEAD (64u << 10)
#define ADMIN_IDLE_MS 60000

typedef struct admin_listener {
    rt_io io;
    char *address;
} admin_listener;

typedef struct admin_conn {
    rt_io io;
    rt_timer timer;
    llhttp_t parser;
    cd_buf in;              /* unparsed bytes */
    size_t in_off;
    cd_buf url, body, field, if_match;
    size_t head_bytes;
    bool in_if_match;
    bool complete;
    bool too_large;
    cd_buf out;
    size_t out_off;
    bool close_after;
    struct admin_conn *prev, *next;
} admin_conn;

static struct {
    rt_loop *loop;
    admin_listener *ls[16];
    size_t nls;
    struct { char *address; int fd; bool used; } inh[16];
    size_t ninh;
    admin_conn *conns;
} A;

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
    admin_conn *c = p->data;
    c->in_if_match = !strcasecmp(cd_buf_str(&c->field), "if-match");
    cd_buf_reset(&c->field);
    return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
    admin_conn *c = p->data;
    c->head_bytes += n;
    if (c->in_if_match) {
        if (!c->if_match.data)
            cd_buf_puts(&c->if_match, "");
        cd_buf_append(&c->if_match, at, n);
    }
    return c->head_bytes > ADMIN_MAX_HEAD ? HPE_USER : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    admin_conn *c = p->data;
    if (c->body.len + n > ADMIN_MAX_BODY) {
        c->too_large = true;
        return HPE_USER;
    }
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
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* ---- connections ---- */

static void conn_free(void *p)
{
    admin_conn *c = p;
    cd_buf_free(&c->in);
    cd_buf_free(&c->url);
    cd_buf_free(&c->body);
    cd_buf_free(&c->field);
    cd_buf_free(&c->if_match);
    cd_buf_free(&c->out);
    free(c);
}

static void conn_close(admin_conn *c)
{
    if (c->io.fd < 0)
        return;
    close(c->io.fd);
    c->io.fd = -1;
    rt_timer_clear(A.loop, &c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        A.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    rt_loop_defer(A.loop, conn_free, c);
}

static const char *status_text(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
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
    cd_buf_puts(&c->out, "Cache-Control: no-store\r\n");
    cd_buf_puts(&c->out, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
    if (!head_only && r->body.len)
        cd_buf_append(&c->out, r->body.data, r->body.len);
    cd_buf_free(&r->body);
}

static void reset_request(admin_conn *c)
{
    cd_buf_reset(&c->url);
    cd_buf_reset(&c->body);
    cd_buf_reset(&c->field);
    cd_buf_free(&c->if_match);
    c->head_bytes = 0;
    c->in_if_match = false;
    c->complete = false;
}

static void answer_error(admin_conn *c, int status, const char *msg)
{
    rt_admin_resp r = {.status = status, .content_type = "application/json"};
    cd_buf_printf(&r.body, "{\"error\":\"%s\"}\n", msg);
    c->close_after = true;
    queue_response(c, &r, false);
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
        .if_match = c->if_match.data ? cd_buf_str(&c->if_match) : NULL,
    };
    rt_admin_resp resp = {.status = 200, .content_type = "application/json"};
    rt_api_handle(&req, &resp);
    c->close_after = !llhttp_should_keep_alive(&c->parser);
    queue_response(c, &resp, head);
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

static void process(admin_conn *c)
{
    for (;;) {
        if (c->out.len && !flush_out(c))
            return;
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
                continue;
            } else {
                if (c->too_large)
                    answer_error(c, 413, "request body larger than 16 MiB");
                else
                    answer_error(c, 400, "malformed HTTP request");
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
            rt_timer_set(A.loop, &c->timer, A.loop->now + ADMIN_IDLE_MS);
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
    for (int i = 0; i < 16; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        admin_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            return;
        }
        c->io.fd = fd;
        c->io.cb = on_conn_event;
        c->timer.cb = on_conn_timer;
        llhttp_init(&c->parser, HTTP_REQUEST, &admin_settings);
        c->parser.data = c;
        if (rt_loop_add(l, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = A.conns;
        if (A.conns)
            A.conns->prev = c;
        A.conns = c;
        rt_timer_set(l, &c->timer, l->now + ADMIN_IDLE_MS);
        process(c);
    }
}

/* ---- listeners ---- */

void rt_admin_add_inherited(const char *addr, int fd)
{
    if (A.ninh == 16) {
        close(fd);
        return;
    }
    A.inh[A.ninh].address = strdup(addr);
    if (!A.inh[A.ninh].address)
        abort();
    A.inh[A.ninh].fd = fd;
    A.inh[A.ninh].used = false;
    A.ninh++;
}

void rt_admin_close_unused_inherited(void)
{
    for (size_t i = 0; i < A.ninh; i++) {
        if (!A.inh[i].used)
            close(A.inh[i].fd);
        free(A.inh[i].address);
    }
    A.ninh = 0;
}

bool rt_admin_listen(rt_loop *l, const char *addr, char *err, size_t errlen)
{
    if (A.nls == 16) {
        snprintf(err, errlen, "at most 16 admin listeners");
        return false;
    }
    rt_addr a;
    if (!rt_addr_parse(addr, &a, err, errlen))
        return false;
    int fd = -1;
    for (size_t i = 0; i < A.ninh && fd < 0; i++) {
        rt_addr ia;
        char e2[64];
        if (!A.inh[i].used && rt_addr_parse(A.inh[i].address, &ia, e2, sizeof e2) &&
            rt_addr_equal(&ia, &a)) {
            A.inh[i].used = true;
            fd = A.inh[i].fd;
        }
    }
    if (fd < 0 && (fd = rt_listen(&a, 64, err, errlen)) < 0)
        return false;
    if (!rt_addr_is_local(&a))
        cd_warn("router: the admin API on %s is reachable from other hosts and has no "
                "authentication; prefer a unix socket or a loopback address", addr);
    admin_listener *x = calloc(1, sizeof *x);
    if (!x)
        abort();
    x->io.fd = fd;
    x->io.cb = on_admin_accept;
    x->address = strdup(addr);
    if (!x->address)
        abort();
    A.loop = l;
    if (rt_loop_add(l, &x->io, EPOLLIN) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        close(fd);
        free(x->address);
        free(x);
        return false;
    }
    A.ls[A.nls++] = x;
    return true;
}

size_t rt_admin_sockets(const char **addrs, int *fds, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < A.nls && n < max; i++) {
        addrs[n] = A.ls[i]->address;
        fds[n] = A.ls[i]->io.fd;
        n++;
    }
    return n;
}

void rt_admin_close_all(void)
{
    while (A.conns)
        conn_close(A.conns);
    for (size_t i = 0; i < A.nls; i++) {
        rt_loop_del(A.loop, &A.ls[i]->io);
        close(A.ls[i]->io.fd);
        free(A.ls[i]->address);
        free(A.ls[i]);
    }
    A.nls = 0;
    rt_admin_close_unused_inherited();
}
