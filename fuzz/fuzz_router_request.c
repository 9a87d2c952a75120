/* fuzz_router_request.c - libFuzzer target for the router's request path,
 * end to end and in process: the input's first part is written by a
 * client over a socketpair, the second (after "@@@@", optional) is what
 * the backend answers. A real worker (downstream.c, proxy.c, upstream.c,
 * routing with A/B rules, sticky cookies, mirroring, retries) runs the
 * exchange against a backend living in the same event loop, on a unix
 * socket. Nothing may crash, hang or leak. */
#include "router/datapath/proxy.h"
#include "router/table/table.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct fake_conn {
    rt_io io;
    char in[8192];
    size_t inlen;
    bool answered;
} fake_conn;

static rt_worker *W;
static rt_io backend_io;
static const uint8_t *g_resp;
static size_t g_resp_len;
static char g_sock[108];
static fake_conn *g_conns[64];
static size_t g_nconns;

static void backend_close(fake_conn *c)
{
    for (size_t i = 0; i < g_nconns; i++)
        if (g_conns[i] == c) {
            g_conns[i] = g_conns[--g_nconns];
            break;
        }
    rt_loop_del(&W->loop, &c->io);
    close(c->io.fd);
    free(c);
}

static void on_backend_conn(rt_loop *l, rt_io *io, uint32_t ev)
{
    fake_conn *c = (fake_conn *)io;
    for (;;) {
        ssize_t n = read(io->fd, c->in + c->inlen, sizeof c->in - c->inlen);
        if (n > 0) {
            c->inlen += (size_t)n;
            if (c->inlen == sizeof c->in)
                c->inlen = 0;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            break;
        backend_close(c);
        return;
    }
    if (!c->answered && memmem(c->in, c->inlen, "\r\n\r\n", 4)) {
        c->answered = true;
        ssize_t w = write(io->fd, g_resp, g_resp_len);
        (void)w;
        backend_close(c);      /* also ends bodies that run until EOF */
    }
}

static void on_backend_accept(rt_loop *l, rt_io *io, uint32_t ev)
{
    int fd;
    while ((fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        fake_conn *c = calloc(1, sizeof *c);
        if (!c || g_nconns == 64) {
            free(c);
            close(fd);
            continue;
        }
        c->io.fd = fd;
        c->io.cb = on_backend_conn;
        g_conns[g_nconns++] = c;
        rt_loop_add(l, &c->io, EPOLLIN);
    }
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    rt_settings_defaults(&rt_cfg);
    rt_cfg.buf_size = 4096;
    rt_cfg.mirror_max_body = 2048;
    rt_stats_setup(1, 61, 64);
    snprintf(g_sock, sizeof g_sock, "/tmp/canaryd-fuzz-%d.sock", (int)getpid());
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"routes\":["
             "{\"name\":\"ab\",\"hosts\":[\"ab.test\"],\"weight\":100,\"match\":["
             "{\"headers\":{\"x-canary\":{\"regex\":\"in.*r\"}}},{\"cookies\":{\"t\":{\"exact\":\"1\"}}},"
             "{\"queryParams\":{\"q\":{\"prefix\":\"a\"}}}],"
             "\"retries\":{\"attempts\":2,\"retryOn\":\"5xx\"},"
             "\"primary\":{\"backends\":[\"unix:%s\"]},\"canary\":{\"backends\":[\"unix:%s\"]}},"
             "{\"name\":\"main\",\"weight\":50,\"mirror\":true,"
             "\"sessionAffinity\":{\"cookieName\":\"ck\",\"cookieValue\":\"v\",\"primaryCookieName\":\"pk\"},"
             "\"primary\":{\"backends\":[\"unix:%s\"]},\"canary\":{\"backends\":[\"unix:%s\"]}}]}",
             g_sock, g_sock, g_sock, g_sock);
    json_t *doc = json_loads(cfg, 0, NULL), *errors = NULL;
    rt_snapshot *s = rt_config_decode(doc, NULL, &errors);
    char err[256];
    if (!s || !rt_table_activate(s, NULL, err, sizeof err))
        abort();
    json_decref(doc);
    rt_table_publish(s);
    W = rt_worker_inline_new();
    rt_addr a;
    char spec[128];
    snprintf(spec, sizeof spec, "unix:%s", g_sock);
    if (!rt_addr_parse(spec, &a, err, sizeof err))
        abort();
    backend_io.fd = rt_listen(&a, 64, err, sizeof err);
    if (backend_io.fd < 0)
        abort();
    backend_io.cb = on_backend_accept;
    rt_loop_add(&W->loop, &backend_io, EPOLLIN);
}

static void teardown(void)
{
    while (g_nconns)
        backend_close(g_conns[0]);
    close(backend_io.fd);
    unlink(g_sock);
    rt_worker_inline_free(W);
    rt_table_shutdown();
    rt_registry_shutdown();
}

static const char default_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        atexit(teardown);
        ready = true;
    }
    const uint8_t *sep = memmem(data, size, "@@@@", 4);
    size_t req_len = sep ? (size_t)(sep - data) : size;
    g_resp = sep ? sep + 4 : (const uint8_t *)default_resp;
    g_resp_len = sep ? size - req_len - 4 : sizeof default_resp - 1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    ssize_t w = write(sv[1], data, req_len);
    (void)w;
    shutdown(sv[1], SHUT_WR);
    struct sockaddr_storage peer = {.ss_family = AF_UNIX};
    rt_client_accept(W, sv[0], 0, &peer);
    char sink[65536];
    for (int i = 0; i < 64 && (W->clients || W->upconns); i++) {
        rt_worker_inline_poll(W, 0);
        while (read(sv[1], sink, sizeof sink) > 0)
            ;
    }
    /* whatever still waits (a body that never comes) is dropped */
    while (W->clients)
        rt_client_close(W->clients);
    while (W->upconns) {
        rt_upconn *u = W->upconns;
        if (u->ex)
            rt_exchange_abort(u->ex);
        if (W->upconns == u)
            rt_upconn_close(u);
    }
    while (g_nconns)
        backend_close(g_conns[0]);
    rt_worker_inline_poll(W, 0);
    close(sv[1]);
    return 0;
}
