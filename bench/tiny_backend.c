/* tiny_backend.c - the backend of bench/router.sh: one thread, epoll,
 * keep-alive, requests parsed with llhttp (bodies skipped), every request
 * answered "200 OK" with a fixed small body naming the backend. The same
 * binary serves the direct, HAProxy and canaryd runs, so the comparison
 * measures the proxies only. Usage: tiny_backend PORT [NAME] */
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    llhttp_t parser;
    int pending;            /* responses owed */
    char out[65536];
    size_t olen;
} conn;

static char g_resp[256];
static size_t g_resp_len;

static int on_complete(llhttp_t *p)
{
    ((conn *)p->data)->pending++;
    return 0;
}

static llhttp_settings_t settings = {.on_message_complete = on_complete};

static void drop(int ep, conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void flush(conn *c)
{
    while (c->pending && c->olen + g_resp_len <= sizeof c->out) {
        memcpy(c->out + c->olen, g_resp, g_resp_len);
        c->olen += g_resp_len;
        c->pending--;
    }
    size_t off = 0;
    while (off < c->olen) {
        ssize_t n = send(c->fd, c->out + off, c->olen - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    memmove(c->out, c->out + off, c->olen - off);
    c->olen -= off;
}

static void on_readable(int ep, conn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (llhttp_execute(&c->parser, buf, (size_t)n) != HPE_OK) {
                drop(ep, c);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            break;
        drop(ep, c);
        return;
    }
    flush(c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tiny_backend PORT [NAME]\n");
        return 2;
    }
    const char *name = argc > 2 ? argv[2] : "backend";
    char body[64];
    int bl = snprintf(body, sizeof body, "hello from %s\n", name);
    g_resp_len = (size_t)snprintf(g_resp, sizeof g_resp,
                                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: %d\r\n\r\n%s",
                                  bl, body);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
        perror("tiny_backend: bind");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    llhttp_init(&nc->parser, HTTP_REQUEST, &settings);
                    nc->parser.data = nc;
                    struct epoll_event e2 = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2);
                }
                continue;
            }
            on_readable(ep, c);
        }
    }
}
