/* downstream.c - client connections: reading and parsing request heads
 * with llhttp, keep-alive and pipelining (one request at a time, the next
 * one waits in the buffer), timeouts (request head, keep-alive idle,
 * inactivity), canned error responses with a lingering close, and
 * draining. Exchanges (proxy.c) take over once a head is parsed. An idle
 * keep-alive connection holds no buffer. Must not block. */
#include "router/datapath/http.h"
#include "router/datapath/proxy.h"
#include "util/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define LINGER_MS 1000
#define LINGER_MAX_BYTES (256 * 1024)
#define DRAIN_IDLE_MS 500

static void on_client_event(rt_loop *l, rt_io *io, uint32_t events);
static void on_client_timer(rt_loop *l, rt_timer *t);

void rt_client_accept(rt_worker *w, int fd, uint64_t listener_id,
                      const struct sockaddr_storage *peer)
{
    rt_client *c = rt_slab_alloc(&w->client_slab);
    c->io.fd = fd;
    c->io.cb = on_client_event;
    c->timer.cb = on_client_timer;
    c->w = w;
    c->listener_id = listener_id;
    rt_peer_ip(peer, c->ip, sizeof c->ip);
    llhttp_init(&c->parser, HTTP_REQUEST, &rt_request_settings);
    c->parser.data = c;
    c->state = C_IDLE;
    c->readable = c->writable = true;
    if (rt_loop_add(&w->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        close(fd);
        rt_slab_free(&w->client_slab, c);
        return;
    }
    c->next = w->clients;
    if (w->clients)
        w->clients->prev = c;
    w->clients = c;
    __atomic_store_n(&w->nclients, w->nclients + 1, __ATOMIC_RELAXED);
    rt_timer_set(&w->loop, &c->timer, w->loop.now + rt_cfg.header_timeout_ms);
    rt_client_progress(c);
}

static void free_client(void *p)
{
    rt_client *c = p;
    rt_slab_free(&c->w->client_slab, c);
}

void rt_client_close(rt_client *c)
{
    rt_worker *w = c->w;
    if (c->io.fd < 0)
        return;
    if (c->ex) {
        rt_exchange *ex = c->ex;
        c->ex = NULL;
        ex->c = NULL;
        rt_exchange_abort(ex);
    }
    close(c->io.fd);
    c->io.fd = -1;
    rt_timer_clear(&w->loop, &c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    __atomic_store_n(&w->nclients, w->nclients - 1, __ATOMIC_RELAXED);
    rt_buf_put(w, c->in);
    c->in = NULL;
    rt_loop_defer(&w->loop, free_client, c);
}

void rt_client_arm_timer(rt_client *c)
{
    rt_worker *w = c->w;
    int64_t at;
    switch (c->state) {
    case C_IDLE:
        at = w->loop.now + (w->draining ? DRAIN_IDLE_MS
                            : c->requests ? rt_cfg.idle_timeout_ms
                                          : rt_cfg.header_timeout_ms);
        break;
    case C_HEAD:
        at = c->head_deadline;
        break;
    case C_ACTIVE:
        at = w->loop.now + rt_cfg.client_timeout_ms;
        break;
    default:
        at = w->loop.now + LINGER_MS;
    }
    rt_timer_set(&w->loop, &c->timer, at);
}

/* ---- lingering close: shut our side, discard input until EOF ---- */

static void start_linger(rt_client *c)
{
    c->state = C_CLOSING;
    c->lingering = true;
    shutdown(c->io.fd, SHUT_WR);
    rt_timer_set(&c->w->loop, &c->timer, c->w->loop.now + LINGER_MS);
}

static void linger_read(rt_client *c)
{
    char sink[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(c->io.fd, sink, sizeof sink);
        if (n > 0) {
            total += (size_t)n;
            if (total > LINGER_MAX_BYTES) {
                rt_client_close(c);
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            c->readable = false;
            return;
        }
        rt_client_close(c);
        return;
    }
}

/* ---- static writes ---- */

static bool write_static(rt_client *c)
{
    while (c->swlen) {
        ssize_t n = send(c->io.fd, c->sw, c->swlen, MSG_NOSIGNAL);
        if (n > 0) {
            c->sw += n;
            c->swlen -= (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->writable = false;
            return false;
        }
        rt_client_close(c);
        return false;
    }
    c->sw = NULL;
    return true;
}

int rt_client_flush(rt_client *c)
{
    if (!c->sw)
        return 1;
    if (!c->writable)
        return 0;
    if (!write_static(c))
        return c->io.fd < 0 ? -1 : 0;
    return 1;
}

void rt_client_fail(rt_client *c, const char *response)
{
    if (c->ex) {
        rt_exchange *ex = c->ex;
        c->ex = NULL;
        ex->c = NULL;
        rt_exchange_abort(ex);
    }
    c->sw = response;
    c->swlen = (uint32_t)strlen(response);
    c->close_after_sw = true;
    c->state = C_CLOSING;
    rt_client_arm_timer(c);
    if (c->writable)
        rt_client_progress(c);
}

/* ---- request heads ---- */

void rt_client_refuse(rt_client *c, const char *response, const char *why)
{
    __atomic_fetch_add(&c->w->parse_errors, 1, __ATOMIC_RELAXED);
    if (cd_log_get_level() <= CD_LOG_DEBUG)
        cd_debug("router: request from %s refused (%.3s): %s", c->ip, response + 9, why);
    rt_client_fail(c, response);
}

static void head_error(rt_client *c, llhttp_errno_t err)
{
    const char *why = llhttp_get_error_reason(&c->parser);
    if (!why || !*why)
        why = llhttp_errno_name(err);
    if (err == HPE_PAUSED_H2_UPGRADE)
        rt_client_refuse(c, rt_resp_505, "HTTP/2 connection preface");
    else if (err == HPE_USER && c->ex && c->ex->hdr_overflow)
        rt_client_refuse(c, rt_resp_431, "too many header fields");
    else if (err == HPE_INVALID_VERSION &&
             !rt_request_line_check(c->in->data + c->head_o, c->in->w - c->head_o))
        rt_client_refuse(c, rt_resp_505, why);      /* well formed, a version not served */
    else
        rt_client_refuse(c, rt_resp_400, why);
}

/* Parses buffered bytes; returns true if the connection state changed
 * (an exchange started or the connection failed). The head llhttp
 * accepted is then checked byte by byte (framing.c): llhttp lets some
 * framing through that a proxy must not forward. */
static bool parse_head(rt_client *c)
{
    rt_iobuf *in = c->in;
    const char *start = in->data + in->p;
    llhttp_errno_t err = llhttp_execute(&c->parser, start, in->w - in->p);
    if (err == HPE_OK) {
        in->p = in->w;
        if (c->ex && c->ex->hdr_overflow) {
            head_error(c, HPE_USER);
            return true;
        }
        return false;
    }
    if (err == HPE_PAUSED && c->ex) {
        in->p = (uint32_t)(llhttp_get_error_pos(&c->parser) - in->data);
        llhttp_resume(&c->parser);
        const char *why = rt_head_check(in->data + c->head_o, in->p - c->head_o);
        if (why) {
            rt_client_refuse(c, rt_resp_400, why);
            return true;
        }
        c->state = C_ACTIVE;
        rt_timer_clear(&c->w->loop, &c->timer);
        rt_exchange_start(c->ex);
        return true;
    }
    head_error(c, err);
    return true;
}

static void read_heads(rt_client *c)
{
    rt_worker *w = c->w;
    for (;;) {
        if (c->in && c->in->p < c->in->w) {
            if (c->state == C_IDLE) {
                c->state = C_HEAD;
                c->head_o = c->in->p;
                c->head_deadline = w->loop.now + rt_cfg.header_timeout_ms;
                rt_client_arm_timer(c);
            }
            if (parse_head(c))
                return;
        }
        if (!c->readable)
            break;
        if (!c->in)
            c->in = rt_buf_get(w);
        rt_iobuf *in = c->in;
        if (in->w == rt_cfg.buf_size) {
            rt_client_refuse(c, rt_resp_431, "request head larger than --buffer-size");
            return;
        }
        size_t want = rt_cfg.buf_size - in->w;
        ssize_t n = read(c->io.fd, in->data + in->w, want);
        if (n > 0) {
            /* short read: drained; edge-triggered epoll reports more */
            if ((size_t)n < want)
                c->readable = false;
            in->w += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->readable = false;
            break;
        }
        /* EOF or error between requests: the client is done */
        rt_client_close(c);
        return;
    }
    if (c->in && c->in->w == 0) {
        rt_buf_put(w, c->in);
        c->in = NULL;
    }
}

/* ---- events ---- */

void rt_client_progress(rt_client *c)
{
    if (c->io.fd < 0)
        return;
    if (c->sw) {
        if (!c->writable || !write_static(c))
            return;
        if (c->close_after_sw) {
            start_linger(c);
            linger_read(c);
            return;
        }
    }
    switch (c->state) {
    case C_IDLE:
    case C_HEAD:
        read_heads(c);
        break;
    case C_ACTIVE:
        rt_exchange_client_event(c->ex);
        break;
    case C_CLOSING:
        if (c->lingering && c->readable)
            linger_read(c);
        break;
    }
}

static void on_client_event(rt_loop *l, rt_io *io, uint32_t events)
{
    rt_client *c = (rt_client *)io;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP))
        c->peer_closed = true;
    rt_client_progress(c);
}

static void on_client_timer(rt_loop *l, rt_timer *t)
{
    rt_client *c = (rt_client *)((char *)t - offsetof(rt_client, timer));
    switch (c->state) {
    case C_HEAD:
        rt_client_fail(c, rt_resp_408);
        break;
    case C_ACTIVE:
        __atomic_fetch_add(&c->w->client_aborts, 1, __ATOMIC_RELAXED);
        rt_client_close(c);
        break;
    default:
        rt_client_close(c);
    }
}

void rt_client_exchange_done(rt_client *c, bool close_conn)
{
    rt_worker *w = c->w;
    c->ex = NULL;
    c->requests++;
    if (close_conn || w->draining) {
        start_linger(c);
        linger_read(c);
        return;
    }
    c->state = C_IDLE;
    if (c->in) {
        rt_buf_compact(c->in);
        if (c->in->w == 0) {
            rt_buf_put(w, c->in);
            c->in = NULL;
        }
    }
    rt_client_arm_timer(c);
    read_heads(c);
}

void rt_client_drain(rt_client *c)
{
    if (c->state == C_IDLE)
        rt_client_arm_timer(c);
}
