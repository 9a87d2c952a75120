/* addr.c - address parsing, listening and connecting sockets. See addr.h. */
#include "router/io/addr.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static bool parse_port(const char *s, unsigned *port)
{
    if (!*s)
        return false;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 65535 || s[0] == '-' || s[0] == '+')
        return false;
    *port = (unsigned)v;
    return true;
}

static bool parse_unix(const char *path, rt_addr *out, char *err, size_t errlen)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path) {
        snprintf(err, errlen, "unix socket path must have 1 to %zu characters",
                 sizeof un->sun_path - 1);
        return false;
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    out->family = AF_UNIX;
    return true;
}

static bool resolve(const char *host, unsigned port, rt_addr *out, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
        return false;
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    out->family = res->ai_family;
    freeaddrinfo(res);
    return true;
}

bool rt_addr_parse(const char *text, rt_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text) {
        snprintf(err, errlen, "empty address");
        return false;
    }
    if (!strncmp(text, "unix:", 5))
        return parse_unix(text + 5, out, err, errlen);
    char host[256];
    const char *portp;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host) {
            snprintf(err, errlen, "address \"%s\": expected [ipv6]:port", text);
            return false;
        }
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = 0;
        portp = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof host) {
            snprintf(err, errlen, "address \"%s\": expected host:port or unix:/path", text);
            return false;
        }
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = 0;
        if (strchr(host, ':')) {
            snprintf(err, errlen, "address \"%s\": write IPv6 addresses as [addr]:port", text);
            return false;
        }
        portp = colon + 1;
    }
    unsigned port;
    if (!parse_port(portp, &port)) {
        snprintf(err, errlen, "address \"%s\": invalid port", text);
        return false;
    }
    if (!host[0]) {
        struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        out->len = sizeof *in;
        out->family = AF_INET;
        return true;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        out->len = sizeof *in;
        out->family = AF_INET;
        return true;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *in6;
        out->family = AF_INET6;
        return true;
    }
    return resolve(host, port, out, err, errlen);
}

char *rt_addr_format(const rt_addr *a, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN];
    switch (a->family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX:
        snprintf(out, outlen, "unix:%s", ((const struct sockaddr_un *)&a->ss)->sun_path);
        break;
    default:
        snprintf(out, outlen, "?");
    }
    return out;
}

bool rt_addr_is_local(const rt_addr *a)
{
    if (a->family == AF_UNIX)
        return true;
    if (a->family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr) >> 24) == 127;
    if (a->family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
    return false;
}

bool rt_addr_equal(const rt_addr *a, const rt_addr *b)
{
    return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
}

static void remove_stale_unix_socket(const rt_addr *a)
{
    const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

int rt_listen(const rt_addr *a, int backlog, char *err, size_t errlen)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (a->family == AF_UNIX)
        remove_stale_unix_socket(a);
    else
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    char as[128];
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        int e = errno;   /* kept for the caller (EADDRINUSE: the port is taken) */
        snprintf(err, errlen, "bind %s: %s", rt_addr_format(a, as, sizeof as), strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    if (listen(fd, backlog) < 0) {
        int e = errno;
        snprintf(err, errlen, "listen %s: %s", rt_addr_format(a, as, sizeof as), strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int rt_connect(const rt_addr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (a->family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void rt_peer_ip(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)outlen);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out, (socklen_t)outlen);
    else
        snprintf(out, outlen, "unix");
}
