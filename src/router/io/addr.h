/* addr.h - socket addresses the router listens on and connects to:
 * "127.0.0.1:8080", "[::1]:8080", ":8080" (every interface),
 * "localhost:8080" (resolved once, when the configuration is applied) and
 * "unix:/path/to.sock". Must not block except in rt_addr_parse's name
 * resolution, which only the control thread calls. */
#ifndef CD_ROUTER_ADDR_H
#define CD_ROUTER_ADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct rt_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int family;             /* AF_INET, AF_INET6, AF_UNIX */
} rt_addr;

/* Parses text into *out. Returns false and writes a reason into err. */
bool rt_addr_parse(const char *text, rt_addr *out, char *err, size_t errlen);
/* "127.0.0.1:8080", "[::1]:8080", "unix:/p" */
char *rt_addr_format(const rt_addr *a, char *out, size_t outlen);
bool rt_addr_equal(const rt_addr *a, const rt_addr *b);
/* unix socket or loopback IP */
bool rt_addr_is_local(const rt_addr *a);

/* A bound, listening, non-blocking socket (SO_REUSEADDR; unix sockets
 * replace a stale file). Returns the fd or -1 with err set. */
int rt_listen(const rt_addr *a, int backlog, char *err, size_t errlen);
/* Starts a non-blocking connect. Returns the fd (connect in progress or
 * done) or -1 with errno set. */
int rt_connect(const rt_addr *a);
/* The peer's IP as text ("unix" for unix sockets). */
void rt_peer_ip(const struct sockaddr_storage *ss, char *out, size_t outlen);

#endif
