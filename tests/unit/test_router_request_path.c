/* test_router_request_path.c - the router's request path in process: a
 * real worker (downstream.c, proxy.c, upstream.c) between a client on a
 * socketpair and a backend living in the same event loop on a unix
 * socket, which parses what it receives with llhttp and answers each
 * request. Checked: valid framing passes through byte for byte (chunked
 * bodies with extensions and trailers), keep-alive, pipelining, Expect:
 * 100-continue (answered by the router, not forwarded), an Upgrade
 * request (forwarded as a plain request, answered 200); and malformed
 * framing followed by a pipelined request gets one 400, the connection
 * closed, and the backend never reads the pipelined request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "router/io/addr.h"
#include "router/datapath/proxy.h"
#include "router/table/table.h"
#include "router/stats/stats.h"

/* ---- the backend: llhttp over what it reads, one 200 per request ---- */

typedef struct be_conn {
    rt_io io;
    llhttp_t parser;
    bool bad;
} be_conn;

static rt_worker *W;
static rt_io be_listen;
static char be_sock[108];
static char be_raw[1 << 16];     /* every byte the backend received */
static size_t be_raw_len;
static char be_log[8192];        /* "METHOD URL [body]\n" per request */
static size_t be_log_len;
static be_conn *be_conns[16];
static size_t be_nconns;

static void be_logf(const char *s, size_t n)
{
    if (be_log_len + n < sizeof be_log) {
        memcpy(be_log + be_log_len, s, n);
        be_log_len += n;
        be_log[be_log_len] = 0;
    }
}

static int be_url(llhttp_t *p, const char *at, size_t n)
{
    const char *m = llhttp_method_name(p->method);
    be_logf(m, strlen(m));
    be_logf(" ", 1);
    be_logf(at, n);
    return 0;
}
static int be_headers_done(llhttp_t *p)
{
    be_logf(" [", 2);
    return 0;
}
static int be_body(llhttp_t *p, const char *at, size_t n)
{
    be_logf(at, n);
    return 0;
}
static int be_done(llhttp_t *p)
{
    be_conn *c = p->data;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    be_logf("]\n", 2);
    ssize_t w = write(c->io.fd, ok, sizeof ok - 1);
    (void)w;
    return 0;
}
static const llhttp_settings_t be_settings = {
    .on_url = be_url, .on_headers_complete = be_headers_done, .on_body = be_body,
    .on_message_complete = be_done,
};

static void be_close(be_conn *c)
{
    for (size_t i = 0; i < be_nconns; i++)
        if (be_conns[i] == c) {
            be_conns[i] = be_conns[--be_nconns];
            break;
        }
    rt_loop_del(&W->loop, &c->io);
    close(c->io.fd);
    free(c);
}

static void on_be_conn(rt_loop *l, rt_io *io, uint32_t ev)
{
    be_conn *c = (be_conn *)io;
    char buf[8192];
    for (;;) {
        ssize_t n = read(io->fd, buf, sizeof buf);
        if (n > 0) {
            if (be_raw_len + (size_t)n <= sizeof be_raw) {
                memcpy(be_raw + be_raw_len, buf, (size_t)n);
                be_raw_len += (size_t)n;
            }
            if (!c->bad && llhttp_execute(&c->parser, buf, (size_t)n) != HPE_OK)
                c->bad = true;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        be_close(c);
        return;
    }
}

static void on_be_accept(rt_loop *l, rt_io *io, uint32_t ev)
{
    int fd;
    while ((fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        be_conn *c = calloc(1, sizeof *c);
        assert_non_null(c);
        assert_true(be_nconns < 16);
        c->io.fd = fd;
        c->io.cb = on_be_conn;
        llhttp_init(&c->parser, HTTP_REQUEST, &be_settings);
        c->parser.data = c;
        be_conns[be_nconns++] = c;
        rt_loop_add(l, &c->io, EPOLLIN | EPOLLET);
    }
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    rt_settings_defaults(&rt_cfg);
    rt_stats_setup(1, 61, 64);
    snprintf(be_sock, sizeof be_sock, "/tmp/canaryd-rpath-%d.sock", (int)getpid());
    unlink(be_sock);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"routes\":[{\"name\":\"r\",\"primary\":{\"backends\":[\"unix:%s\"]}}]}", be_sock);
    json_t *doc = json_loads(cfg, 0, NULL), *errors = NULL;
    rt_snapshot *s = rt_config_decode(doc, NULL, &errors);
    char err[256];
    assert_non_null(s);
    assert_true(rt_table_activate(s, NULL, err, sizeof err));
    json_decref(doc);
    rt_table_publish(s);
    W = rt_worker_inline_new();
    rt_addr a;
    char spec[128];
    snprintf(spec, sizeof spec, "unix:%s", be_sock);
    assert_true(rt_addr_parse(spec, &a, err, sizeof err));
    be_listen.fd = rt_listen(&a, 16, err, sizeof err);
    assert_true(be_listen.fd >= 0);
    be_listen.cb = on_be_accept;
    rt_loop_add(&W->loop, &be_listen, EPOLLIN);
    return 0;
}

static int teardown(void **state)
{
    while (W->clients)
        rt_client_close(W->clients);
    while (be_nconns)
        be_close(be_conns[0]);
    rt_pool_close_all_idle(W);
    rt_worker_inline_poll(W, 0);
    close(be_listen.fd);
    unlink(be_sock);
    rt_worker_inline_free(W);
    rt_table_shutdown();
    rt_registry_shutdown();
    return 0;
}

/* ---- the client ---- */

typedef struct client {
    int fd;
    char got[65536];
    size_t len;
    bool eof;
} client;

static void reset_backend(void)
{
    be_raw_len = be_log_len = 0;
    be_log[0] = 0;
}

static void open_client(client *c)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    memset(c, 0, sizeof *c);
    c->fd = sv[1];
    struct sockaddr_storage peer = {.ss_family = AF_UNIX};
    rt_client_accept(W, sv[0], 0, &peer);
}

static void send_all(client *c, const char *s, size_t n)
{
    ssize_t w = write(c->fd, s, n);
    assert_int_equal((size_t)w, n);
}

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t k = 0, nl = strlen(needle);
    for (const char *p = hay; (p = memmem(p, n - (size_t)(p - hay), needle, nl)); p += nl)
        k++;
    return k;
}

/* Runs the loop until the client has `responses` status lines, or the
 * router closed the connection, or 200 rounds passed. */
static void pump_until(client *c, size_t responses)
{
    for (int i = 0; i < 200; i++) {
        rt_worker_inline_poll(W, 5);
        for (;;) {
            ssize_t n = read(c->fd, c->got + c->len, sizeof c->got - 1 - c->len);
            if (n > 0) {
                c->len += (size_t)n;
                c->got[c->len] = 0;
                continue;
            }
            if (n == 0)
                c->eof = true;
            break;
        }
        if (c->eof || count(c->got, c->len, "HTTP/1.1 ") >= responses)
            break;
    }
}

static void close_client(client *c)
{
    close(c->fd);
    for (int i = 0; i < 20; i++)
        rt_worker_inline_poll(W, 1);
}

#define SEND(c, lit) send_all(c, lit, sizeof lit - 1)

/* ---- valid framing ---- */

static void test_chunked_passthrough(void **state)
{
    static const char body[] = "3;x=\"q d\"\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n";
    client c;
    reset_backend();
    open_client(&c);
    SEND(&c, "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    send_all(&c, body, sizeof body - 1);
    pump_until(&c, 1);
    assert_non_null(strstr(c.got, "HTTP/1.1 200 OK"));
    assert_false(c.eof);
    /* the body and its trailers reach the backend unchanged */
    assert_non_null(memmem(be_raw, be_raw_len, body, sizeof body - 1));
    assert_non_null(strstr(be_log, "POST /c [abc]"));
    close_client(&c);
}

static void test_pipelining_and_keep_alive(void **state)
{
    client c;
    reset_backend();
    open_client(&c);
    SEND(&c, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
             "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
             "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
    pump_until(&c, 3);
    assert_int_equal(count(c.got, c.len, "HTTP/1.1 200 OK"), 3);
    assert_false(c.eof);
    /* the same connection, after a pause: keep-alive */
    SEND(&c, "GET /four HTTP/1.1\r\nHost: a\r\n\r\n");
    pump_until(&c, 4);
    assert_int_equal(count(c.got, c.len, "HTTP/1.1 200 OK"), 4);
    assert_false(c.eof);
    assert_non_null(strstr(be_log, "GET /one"));
    assert_non_null(strstr(be_log, "POST /two [xyz]"));
    assert_non_null(strstr(be_log, "GET /three"));
    assert_non_null(strstr(be_log, "GET /four"));
    close_client(&c);
}

static void test_expect_continue(void **state)
{
    client c;
    reset_backend();
    open_client(&c);
    SEND(&c, "PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    pump_until(&c, 1);
    assert_true(!strncmp(c.got, "HTTP/1.1 100 Continue\r\n\r\n", 25));
    SEND(&c, "body");
    pump_until(&c, 2);
    assert_non_null(strstr(c.got, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(be_log, "PUT /e [body]"));
    assert_null(memmem(be_raw, be_raw_len, "Expect", 6));
    close_client(&c);
}

static void test_upgrade_request(void **state)
{
    client c;
    reset_backend();
    open_client(&c);
    SEND(&c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
             "GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    pump_until(&c, 2);
    /* not upgraded: a plain request, answered, and the connection goes on */
    assert_int_equal(count(c.got, c.len, "HTTP/1.1 200 OK"), 2);
    assert_null(memmem(be_raw, be_raw_len, "Upgrade", 7));
    assert_non_null(strstr(be_log, "GET /after"));
    close_client(&c);
}

/* ---- malformed framing ---- */

static void test_malformed_pairs(void **state)
{
#define SMUG "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
#define POST_TE "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    static const struct { const char *req; size_t n; } bad[] = {
#define B(lit) {lit SMUG, sizeof lit SMUG - 1}
        B("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n  folded\r\n\r\n"),
        B(POST_TE "3\r\nabcXX0\r\n\r\n"),
        B(POST_TE "3\r\nabc\n0\r\n\r\n"),
        B(POST_TE "3;a b\r\nabc\r\n0\r\n\r\n"),
        B(POST_TE "00000000000000000003\r\nabc\r\n0\r\n\r\n"),
        B(POST_TE "0\r\nX: a\r\n b\r\n\r\n"),
        B(POST_TE "0\r\n" SMUG),
        B("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0\r\n\r\n" SMUG),
        B("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\n" SMUG),
        B("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
        B("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        B("GET / HTTP/1.1\r\nHost: a\r\n\n"),
        B("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n"),
        B("GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n"),
        B("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"),
        B("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
        B("GET /#x HTTP/1.1\r\nHost: a\r\n\r\n"),
        B("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        client c;
        reset_backend();
        open_client(&c);
        send_all(&c, bad[i].req, bad[i].n);
        pump_until(&c, 2);
        for (int k = 0; k < 50 && !c.eof; k++)
            pump_until(&c, 99);
        if (strncmp(c.got, "HTTP/1.1 400 ", 13) || count(c.got, c.len, "HTTP/1.") != 1 || !c.eof)
            fail_msg("case %zu: eof=%d got \"%.60s\"", i, c.eof, c.got);
        if (memmem(be_raw, be_raw_len, "/smuggled", 9))
            fail_msg("case %zu: the backend read the smuggled request", i);
        close_client(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_passthrough),
        cmocka_unit_test(test_pipelining_and_keep_alive),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_upgrade_request),
        cmocka_unit_test(test_malformed_pairs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
