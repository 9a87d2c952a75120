/* health.c - active health checks (see health.h). One checker per
 * endpoint with a check configured; checkers survive configuration
 * changes while their endpoint stays configured, and an endpoint whose
 * checks are removed becomes available again. Must not block. */
#include "router/control/health.h"
#include "router/io/addr.h"
#include "router/table/table.h"
#include "util/log.h"
#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct checker {
    rt_io io;
    rt_timer timer;
    rt_endpoint *ep;
    rt_healthcheck cfg;
    char path[512];
    llhttp_t parser;
    char req[768];
    size_t reqlen, sent;
    bool connecting, in_flight, got_status;
    unsigned status;
    bool keep;          /* still configured (sync mark) */
    struct checker *next;
} checker;

/* the active health checkers and the loop they run on */
static struct {
    rt_loop *loop;
    checker *list;
    bool running;
} g_health;

static int on_headers(llhttp_t *p)
{
    checker *c = p->data;
    c->status = p->status_code;
    c->got_status = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t check_settings = {.on_headers_complete = on_headers};

static void schedule(checker *c, int64_t in_ms)
{
    rt_timer_set(g_health.loop, &c->timer, g_health.loop->now + in_ms);
}

static void close_check(checker *c)
{
    if (c->io.fd >= 0) {
        rt_loop_del(g_health.loop, &c->io);
        close(c->io.fd);
        c->io.fd = -1;
    }
    c->in_flight = false;
}

static void verdict(checker *c, bool ok)
{
    close_check(c);
    rt_endpoint *e = c->ep;
    bool was = atomic_load(&e->check_ok);
    if (ok) {
        e->check_streak = e->check_streak > 0 ? e->check_streak + 1 : 1;
        if (!was && e->check_streak >= c->cfg.healthy_threshold) {
            atomic_store(&e->check_ok, 1);
            cd_info("router: backend %s is healthy again", e->name);
        }
    } else {
        e->check_streak = e->check_streak < 0 ? e->check_streak - 1 : -1;
        if (was && -e->check_streak >= c->cfg.unhealthy_threshold) {
            atomic_store(&e->check_ok, 0);
            cd_warn("router: backend %s failed %d health checks; taking it out", e->name,
                    -e->check_streak);
        }
    }
    schedule(c, c->cfg.interval_ms);
}

static void on_check_io(rt_loop *l, rt_io *io, uint32_t ev)
{
    checker *c = (checker *)io;
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            verdict(c, false);
            return;
        }
        c->connecting = false;
    }
    while (c->sent < c->reqlen) {
        ssize_t n = send(io->fd, c->req + c->sent, c->reqlen - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        verdict(c, false);
        return;
    }
    char buf[2048];
    for (;;) {
        ssize_t n = recv(io->fd, buf, sizeof buf, 0);
        if (n > 0) {
            llhttp_errno_t e = llhttp_execute(&c->parser, buf, (size_t)n);
            if (c->got_status) {
                verdict(c, c->status >= 200 && c->status < 400);
                return;
            }
            if (e != HPE_OK) {
                verdict(c, false);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        verdict(c, false);
        return;
    }
}

static void on_check_timer(rt_loop *l, rt_timer *t)
{
    checker *c = (checker *)((char *)t - offsetof(checker, timer));
    if (c->in_flight) {
        verdict(c, false);      /* timed out */
        return;
    }
    int fd = rt_connect(&c->ep->addr);
    if (fd < 0) {
        c->in_flight = true;
        verdict(c, false);
        return;
    }
    c->io.fd = fd;
    c->io.cb = on_check_io;
    c->connecting = true;
    c->in_flight = true;
    c->got_status = false;
    c->sent = 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &check_settings);
    c->parser.data = c;
    if (rt_loop_add(l, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP) < 0) {
        verdict(c, false);
        return;
    }
    schedule(c, c->cfg.timeout_ms);
}

static void build_request(checker *c)
{
    const char *host = c->ep->name;
    if (!strncmp(host, "unix:", 5))
        host = "localhost";
    c->reqlen = (size_t)snprintf(c->req, sizeof c->req,
                                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: canaryd-health-check\r\n"
                                 "Connection: close\r\n\r\n",
                                 c->path, host);
    if (c->reqlen >= sizeof c->req)
        c->reqlen = sizeof c->req - 1;
}

static void free_checker(checker *c)
{
    close_check(c);
    rt_timer_clear(g_health.loop, &c->timer);
    atomic_store(&c->ep->check_ok, 1);
    c->ep->check_streak = 0;
    rt_endpoint_release(c->ep);
    free(c);
}

static checker *find(rt_endpoint *ep)
{
    for (checker *c = g_health.list; c; c = c->next)
        if (c->ep == ep)
            return c;
    return NULL;
}

void rt_health_start(rt_loop *l)
{
    g_health.loop = l;
    g_health.running = true;
}

void rt_health_sync(void)
{
    if (!g_health.running)
        return;
    for (checker *c = g_health.list; c; c = c->next)
        c->keep = false;
    rt_snapshot *s = rt_table_acquire();
    for (size_t i = 0; s && i < s->nroutes; i++)
        for (int role = RT_PRIMARY; role <= RT_CANARY; role++) {
            const rt_group *g = &s->routes[i].groups[role];
            if (!g->check.enabled)
                continue;
            for (size_t k = 0; k < g->nbackends; k++) {
                rt_endpoint *ep = g->backends[k].ep;
                if (!ep)
                    continue;
                checker *c = find(ep);
                if (c) {
                    c->keep = true;
                    continue;
                }
                c = calloc(1, sizeof *c);
                if (!c)
                    abort();
                c->io.fd = -1;
                c->timer.cb = on_check_timer;
                c->ep = ep;
                rt_endpoint_retain(ep);
                c->cfg = g->check;
                snprintf(c->path, sizeof c->path, "%s", g->check.path);
                c->cfg.path = c->path;
                c->keep = true;
                build_request(c);
                c->next = g_health.list;
                g_health.list = c;
                schedule(c, 0);
            }
        }
    rt_snapshot_release(s);
    for (checker **pp = &g_health.list; *pp;) {
        checker *c = *pp;
        if (!c->keep) {
            *pp = c->next;
            free_checker(c);
        } else {
            pp = &c->next;
        }
    }
}

void rt_health_stop(void)
{
    while (g_health.list) {
        checker *c = g_health.list;
        g_health.list = c->next;
        free_checker(c);
    }
    g_health.running = false;
}
