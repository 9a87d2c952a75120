/* handover.c - listening-socket handover between router processes.
 * Protocol on the unix socket: the successor writes "takeover\n"; the
 * predecessor answers one message: a 4-byte big-endian length, then a
 * JSON document {"config": ..., "sockets": [{"kind": "listener"|"admin",
 * "address": ...}]} whose i-th socket travels as the i-th descriptor of
 * the SCM_RIGHTS control message; the successor writes "ready\n" once it
 * serves, and the predecessor drains. Runs on the control thread. */
#include "router/control/handover.h"
#include "router/control/admin.h"
#include "router/table/table.h"
#include "util/log.h"
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 250
#define IO_TIMEOUT_MS 5000

/* the hand-over socket and the successor waiting on it */
static struct {
    rt_loop *loop;
    rt_io lio;          /* listening */
    rt_io cio;          /* successor connection waiting for "ready" */
    char path[108];
    void (*on_done)(void);
} g_handover = {.lio.fd = -1, .cio.fd = -1};

static bool unix_addr(const char *path, struct sockaddr_un *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path) {
        snprintf(err, errlen, "path too long");
        return false;
    }
    strcpy(a->sun_path, path);
    return true;
}

static bool wait_fd(int fd, short ev)
{
    struct pollfd p = {.fd = fd, .events = ev};
    return poll(&p, 1, IO_TIMEOUT_MS) == 1;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT))
            continue;
        if (k <= 0)
            return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

static bool read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = recv(fd, buf + n, 1, 0);
        if (k < 0 && errno == EAGAIN && wait_fd(fd, POLLIN))
            continue;
        if (k <= 0)
            return false;
        if (buf[n] == '\n') {
            buf[n] = 0;
            return true;
        }
        n++;
    }
    return false;
}

/* ---- predecessor ---- */

static void on_successor_ready(rt_loop *l, rt_io *io, uint32_t ev)
{
    char buf[32];
    ssize_t n = recv(io->fd, buf, sizeof buf - 1, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    bool ready = n > 0 && !strncmp(buf, "ready", 5);
    rt_loop_del(l, io);
    close(io->fd);
    io->fd = -1;
    if (ready) {
        cd_info("router: the successor serves; handing over");
        if (g_handover.on_done)
            g_handover.on_done();
    } else {
        cd_warn("router: the successor went away before serving; still serving");
    }
}

static void send_sockets(int fd)
{
    rt_listener **ls;
    size_t nl = rt_table_listeners(&ls);
    rt_snapshot *s = rt_table_acquire();
    json_t *socks = json_array();
    int fds[MAX_FDS];
    size_t nf = 0;
    for (size_t i = 0; i < nl && nf < MAX_FDS; i++) {
        json_array_append_new(socks, json_pack("{s:s,s:s}", "kind", "listener", "address",
                                               ls[i]->address));
        fds[nf++] = ls[i]->fd;
    }
    const char *addrs[16];
    int afds[16];
    size_t na = rt_admin_sockets(addrs, afds, 16);
    for (size_t i = 0; i < na && nf < MAX_FDS; i++) {
        json_array_append_new(socks, json_pack("{s:s,s:s}", "kind", "admin", "address", addrs[i]));
        fds[nf++] = afds[i];
    }
    json_t *msg = json_pack("{s:O,s:o}", "config", s ? s->doc : json_null(), "sockets", socks);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    uint32_t len = text ? (uint32_t)strlen(text) : 0;
    unsigned char hdr[4] = {len >> 24, len >> 16, len >> 8, len};
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {hdr, 4};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nf) {
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nf);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nf);
    }
    bool ok = text && sendmsg(fd, &mh, MSG_NOSIGNAL) == 4 && write_all(fd, text, len);
    free(text);
    for (size_t i = 0; i < nl; i++)
        rt_listener_release(ls[i]);
    free(ls);
    rt_snapshot_release(s);
    if (!ok) {
        cd_warn("router: handover: sending sockets failed: %s", strerror(errno));
        close(fd);
        return;
    }
    cd_info("router: handover: %zu sockets sent to a successor", nf);
    g_handover.cio.fd = fd;
    g_handover.cio.cb = on_successor_ready;
    rt_loop_add(g_handover.loop, &g_handover.cio, EPOLLIN);
}

static void on_handover_accept(rt_loop *l, rt_io *io, uint32_t ev)
{
    int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char line[64];
    if (g_handover.cio.fd >= 0 || !read_line(fd, line, sizeof line) || strcmp(line, "takeover")) {
        close(fd);
        return;
    }
    send_sockets(fd);
}

bool rt_handover_serve(rt_loop *l, const char *path, void (*on_done)(void), char *err,
                       size_t errlen)
{
    struct sockaddr_un a;
    if (!unix_addr(path, &a, err, errlen))
        return false;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    g_handover.loop = l;
    g_handover.on_done = on_done;
    snprintf(g_handover.path, sizeof g_handover.path, "%s", path);
    g_handover.lio.fd = fd;
    g_handover.lio.cb = on_handover_accept;
    rt_loop_add(l, &g_handover.lio, EPOLLIN);
    return true;
}

void rt_handover_close(void)
{
    if (g_handover.lio.fd >= 0) {
        rt_loop_del(g_handover.loop, &g_handover.lio);
        close(g_handover.lio.fd);
        g_handover.lio.fd = -1;
    }
}

/* ---- successor ---- */

static bool recv_message(int fd, char **text, int *fds, size_t *nfds, char *err, size_t errlen)
{
    unsigned char hdr[4];
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov = {hdr, 4};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    *nfds = 0;
    if (!wait_fd(fd, POLLIN) || recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL) != 4) {
        snprintf(err, errlen, "no answer from the running router");
        return false;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
            *nfds = n;
        }
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len > (64u << 20)) {
        snprintf(err, errlen, "message too large");
        return false;
    }
    char *t = malloc((size_t)len + 1);
    if (!t)
        abort();
    size_t got = 0;
    while (got < len) {
        ssize_t k = recv(fd, t + got, len - got, 0);
        if (k < 0 && errno == EAGAIN && wait_fd(fd, POLLIN))
            continue;
        if (k <= 0) {
            free(t);
            snprintf(err, errlen, "truncated message");
            return false;
        }
        got += (size_t)k;
    }
    t[len] = 0;
    *text = t;
    return true;
}

int rt_handover_take(const char *path, rt_takeover *tk, char *err, size_t errlen)
{
    memset(tk, 0, sizeof *tk);
    tk->conn_fd = -1;
    struct sockaddr_un a;
    if (!unix_addr(path, &a, err, errlen))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        snprintf(err, errlen, "no router serves it (%s)", strerror(errno));
        close(fd);
        return 0;
    }
    int fds[MAX_FDS];
    size_t nfds = 0;
    char *text = NULL;
    if (!write_all(fd, "takeover\n", 9) || !recv_message(fd, &text, fds, &nfds, err, errlen)) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        close(fd);
        return -1;
    }
    json_error_t je;
    json_t *msg = json_loads(text, 0, &je);
    free(text);
    json_t *socks = json_object_get(msg, "sockets");
    if (!msg || !json_is_array(socks) || json_array_size(socks) != nfds) {
        snprintf(err, errlen, "malformed answer from the running router");
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        json_decref(msg);
        close(fd);
        return -1;
    }
    for (size_t i = 0; i < nfds; i++) {
        json_t *e = json_array_get(socks, i);
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *addr = json_string_value(json_object_get(e, "address"));
        if (!kind || !addr)
            close(fds[i]);
        else if (!strcmp(kind, "admin"))
            rt_admin_add_inherited(addr, fds[i]);
        else
            rt_table_add_inherited_fd(addr, fds[i]);
    }
    json_t *cfg = json_object_get(msg, "config");
    if (json_is_object(cfg))
        tk->config = json_incref(cfg);
    json_decref(msg);
    tk->conn_fd = fd;
    return 1;
}

void rt_handover_finish(rt_takeover *tk)
{
    if (tk->conn_fd < 0)
        return;
    if (!write_all(tk->conn_fd, "ready\n", 6))
        cd_warn("router: could not tell the previous router to drain");
    close(tk->conn_fd);
    tk->conn_fd = -1;
}
