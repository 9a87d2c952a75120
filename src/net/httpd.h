/* httpd.h - what canaryd's small HTTP servers (the local API, the load
 * tester, the /metrics endpoint; all on libmicrohttpd) share: one way to
 * start a server with bounded resources (a connection cap, a deadline for
 * reading each request, an idle timeout, a body cap, an admission check
 * run on the headers before any body is read), replies, and listen
 * addresses. No routing: each server keeps its own handler.
 *
 * The read deadline is what libmicrohttpd's inactivity timeout is not: a
 * client sending one byte every few seconds is still cut off once its
 * request has taken longer than read_timeout_s (a watchdog thread shuts
 * such sockets down; libmicrohttpd then closes them as usual). */
#ifndef CD_NET_HTTPD_H
#define CD_NET_HTTPD_H
#include "util/err.h"
#include "util/access.h"
#include "util/buf.h"
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

enum MHD_Result cd_httpd_reply(struct MHD_Connection *c, unsigned status, const char *type,
                               const char *body, size_t len);
/* Takes the reference of j; pretty-printed, sorted keys, newline. */
enum MHD_Result cd_httpd_reply_json(struct MHD_Connection *c, unsigned status, json_t *j);

/* A request with its whole body (at most max_body bytes). user is the
 * handler's own state across calls (a resumed connection calls the
 * handler again with the same request); user_free frees it at the end. */
typedef struct cd_httpd_request {
    cd_buf body;
    void *user;
    void (*user_free)(void *user);
    /* internal */
    bool started, complete, too_big, refused;
    struct cd_httpd *server;
} cd_httpd_request;

/* Called once the request is complete (and again after a resume). */
typedef enum MHD_Result (*cd_httpd_handler)(void *ctx, struct MHD_Connection *c, const char *url,
                                            const char *method, cd_httpd_request *rq);
/* Called on the headers, before any body is read: 0 admits the request,
 * anything else is the status to refuse it with (why: the message). */
typedef unsigned (*cd_httpd_admit)(void *ctx, struct MHD_Connection *c, const char *url,
                                   const char *method, char *why, size_t whylen);

typedef struct cd_httpd_options {
    const char *name;               /* for messages: "local API", "load tester" */
    int listen_fd;                  /* >= 0: serve this listening socket (the server owns it) */
    const char *address;            /* else bind: IP literal; NULL/"" every interface */
    int port;                       /* 0: any free port */
    unsigned max_connections;       /* 0: 256; clamped to what the fd limit allows */
    unsigned read_timeout_s;        /* 0: 10; a request's head and body must arrive within */
    unsigned idle_timeout_s;        /* 0: 30; a connection silent this long is closed */
    size_t max_body;                /* 0: 1 MiB; larger bodies are answered 413 */
    unsigned threads;               /* 0/1: one event thread; more: a thread pool */
    bool suspend_resume;            /* handlers may MHD_suspend_connection */
    bool json_errors;               /* refusals as {"error": ...}; else text/plain */
    cd_httpd_admit admit;           /* NULL: every request is admitted */
    cd_httpd_handler handler;
    void *ctx;
} cd_httpd_options;

typedef struct cd_httpd cd_httpd;

/* Starts serving; NULL with err (the listen_fd is closed then too). */
cd_httpd *cd_httpd_start(const cd_httpd_options *o, cd_err *err);
int cd_httpd_port(const cd_httpd *s);
unsigned cd_httpd_max_connections(const cd_httpd *s);
/* Stops accepting (connections in progress go on). */
void cd_httpd_quiesce(cd_httpd *s);
void cd_httpd_stop(cd_httpd *s);

/* Fills an access request from the connection's headers and checks it
 * against p (see util/access.h): 0 or the status to refuse with. */
unsigned cd_httpd_check_access(struct MHD_Connection *c, const char *method,
                               const cd_access_policy *p, char *why, size_t whylen);

/* address (IPv4 or IPv6 literal; NULL/"" = any) and port -> a socket
 * address for MHD_OPTION_SOCK_ADDR, and MHD_USE_IPv6 in *flags when
 * needed. *sa is NULL for "any". False with err for a bad address. */
bool cd_httpd_address(const char *address, int port, struct sockaddr_storage *ss,
                      const struct sockaddr **sa, unsigned *flags, cd_err *err);

/* Raises the soft limit of open files to the hard one (servers call it
 * once at start so that their connection caps can be reached). */
void cd_raise_fd_limit(void);

#endif
