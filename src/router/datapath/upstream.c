/* upstream.c - connections to backends: non-blocking connect with a
 * timeout, a per-worker LIFO pool of idle keep-alive connections per
 * endpoint (closed when the backend closes them, after pool_idle_ms, or
 * when the endpoint leaves the configuration), and connection gauges.
 * Reading and writing belong to the exchange using the connection
 * (proxy.c). Must not block. */
#include "router/datapath/proxy.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_up_event(rt_loop *l, rt_io *io, uint32_t events);
static void on_up_timer(rt_loop *l, rt_timer *t);

static rt_ep_shard *shard_of(rt_upconn *u) { return &u->ep->shards[u->w->id]; }

void rt_upconn_arm_timer(rt_upconn *u, int64_t at)
{
    if (at > 0)
        rt_timer_set(&u->w->loop, &u->timer, at);
    else
        rt_timer_clear(&u->w->loop, &u->timer);
}

static void pool_remove(rt_upconn *u)
{
    rt_ep_shard *s = shard_of(u);
    for (rt_upconn **pp = &s->idle; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            u->next = NULL;
            __atomic_store_n(&s->nidle, s->nidle - 1, __ATOMIC_RELAXED);
            return;
        }
}

static void free_upconn(void *p)
{
    rt_upconn *u = p;
    rt_slab_free(&u->w->upconn_slab, u);
}

void rt_upconn_close(rt_upconn *u)
{
    rt_worker *w = u->w;
    if (u->io.fd < 0)
        return;
    if (u->state == U_IDLE)
        pool_remove(u);
    close(u->io.fd);
    u->io.fd = -1;
    rt_timer_clear(&w->loop, &u->timer);
    if (u->aprev)
        u->aprev->anext = u->anext;
    else
        w->upconns = u->anext;
    if (u->anext)
        u->anext->aprev = u->aprev;
    rt_gauge_add(&shard_of(u)->cx_active, -1);
    rt_buf_put(w, u->in);
    u->in = NULL;
    rt_endpoint_release(u->ep);
    u->ex = NULL;
    rt_loop_defer(&w->loop, free_upconn, u);
}

rt_upconn *rt_upconn_acquire(rt_worker *w, rt_endpoint *ep, int64_t connect_timeout_ms, int *err)
{
    rt_ep_shard *s = &ep->shards[w->id];
    while (s->idle) {
        rt_upconn *u = s->idle;
        s->idle = u->next;
        u->next = NULL;
        __atomic_store_n(&s->nidle, s->nidle - 1, __ATOMIC_RELAXED);
        u->state = U_BUSY;
        if (u->eof) {
            rt_upconn_close(u);
            continue;
        }
        u->reused = true;
        u->got_bytes = false;
        rt_timer_clear(&w->loop, &u->timer);
        return u;
    }
    int fd = rt_connect(&ep->addr);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    rt_upconn *u = rt_slab_alloc(&w->upconn_slab);
    u->io.fd = fd;
    u->io.cb = on_up_event;
    u->timer.cb = on_up_timer;
    u->w = w;
    u->ep = ep;
    rt_endpoint_retain(ep);
    llhttp_init(&u->parser, HTTP_RESPONSE, &rt_response_settings);
    u->parser.data = u;
    u->state = U_CONNECTING;
    if (rt_loop_add(&w->loop, &u->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        *err = errno;
        close(fd);
        rt_endpoint_release(ep);
        rt_slab_free(&w->upconn_slab, u);
        return NULL;
    }
    u->anext = w->upconns;
    if (w->upconns)
        w->upconns->aprev = u;
    w->upconns = u;
    rt_gauge_add(&s->cx_active, 1);
    rt_ctr_add(&s->cx_total, 1);
    rt_timer_set(&w->loop, &u->timer, w->loop.now + connect_timeout_ms);
    return u;
}

void rt_upconn_release(rt_upconn *u, bool reusable)
{
    rt_worker *w = u->w;
    rt_ep_shard *s = shard_of(u);
    u->ex = NULL;
    if (!reusable || u->eof || w->draining || s->nidle >= rt_cfg.pool_max_idle ||
        (w->snap && atomic_load(&u->ep->gen) < w->snap->version)) {
        rt_upconn_close(u);
        return;
    }
    llhttp_init(&u->parser, HTTP_RESPONSE, &rt_response_settings);
    u->parser.data = u;
    rt_buf_put(w, u->in);
    u->in = NULL;
    u->state = U_IDLE;
    u->idle_since = w->loop.now;
    u->next = s->idle;
    s->idle = u;
    __atomic_store_n(&s->nidle, s->nidle + 1, __ATOMIC_RELAXED);
    rt_timer_set(&w->loop, &u->timer, w->loop.now + rt_cfg.pool_idle_ms);
}

void rt_pool_close_idle(rt_worker *w, rt_endpoint *ep)
{
    rt_ep_shard *s = &ep->shards[w->id];
    while (s->idle)
        rt_upconn_close(s->idle);
}

void rt_pool_close_all_idle(rt_worker *w)
{
    for (rt_upconn *u = w->upconns, *n; u; u = n) {
        n = u->anext;
        if (u->state == U_IDLE)
            rt_upconn_close(u);
    }
}

static void finish_connect(rt_upconn *u)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(u->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        u->error = err;
        rt_ctr_add(&shard_of(u)->cx_connect_fail, 1);
        if (u->ex)
            rt_exchange_upstream_failed(u->ex, EX_FAIL_CONNECT);
        else
            rt_upconn_close(u);
        return;
    }
    u->state = U_BUSY;
    rt_timer_clear(&u->w->loop, &u->timer);
}

static void on_up_event(rt_loop *l, rt_io *io, uint32_t events)
{
    rt_upconn *u = (rt_upconn *)io;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        u->writable = true;
    if (u->state == U_IDLE) {
        /* an idle connection has nothing to say: the backend closed it */
        rt_upconn_close(u);
        return;
    }
    if (u->state == U_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        finish_connect(u);
        if (u->io.fd < 0 || u->state != U_BUSY)
            return;
    }
    if (u->ex)
        rt_exchange_upstream_event(u->ex);
}

static void on_up_timer(rt_loop *l, rt_timer *t)
{
    rt_upconn *u = (rt_upconn *)((char *)t - offsetof(rt_upconn, timer));
    if (u->state == U_IDLE) {
        rt_upconn_close(u);
    } else if (u->state == U_CONNECTING) {
        u->error = ETIMEDOUT;
        rt_ctr_add(&shard_of(u)->cx_connect_fail, 1);
        if (u->ex)
            rt_exchange_upstream_failed(u->ex, EX_FAIL_CONNECT);
        else
            rt_upconn_close(u);
    } else if (u->ex) {
        rt_exchange_upstream_timeout(u->ex);
    } else {
        rt_upconn_close(u);
    }
}
