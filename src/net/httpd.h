/* httpd.h - what canaryd's small HTTP servers (the local API, the load
 * tester, the /metrics endpoint; all on libmicrohttpd) share: replies,
 * request bodies collected up to a limit, and listen addresses. No
 * routing: each server keeps its own handlers. */
#ifndef CD_NET_HTTPD_H
#define CD_NET_HTTPD_H
#include "ports.h"
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

/* A request's body, collected across libmicrohttpd's calls. */
typedef struct cd_httpd_request {
    cd_buf body;
    bool too_big;
} cd_httpd_request;

/* Call first in an access handler: returns true (with *ret set) while the
 * request is still arriving; false once *rq holds the whole request. */
bool cd_httpd_collect(void **con_cls, const char *upload, size_t *upload_size, size_t max,
                      cd_httpd_request **rq, enum MHD_Result *ret);
/* MHD_OPTION_NOTIFY_COMPLETED callback freeing what cd_httpd_collect took. */
void cd_httpd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe);

/* address (IPv4 or IPv6 literal; NULL/"" = any) and port -> a socket
 * address for MHD_OPTION_SOCK_ADDR, and MHD_USE_IPv6 in *flags when
 * needed. *sa is NULL for "any". False with err for a bad address. */
bool cd_httpd_address(const char *address, int port, struct sockaddr_storage *ss,
                      const struct sockaddr **sa, unsigned *flags, cd_err *err);

#endif
