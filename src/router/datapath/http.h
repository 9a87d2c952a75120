/* http.h - HTTP/1.1 message heads as a reverse proxy rewrites them, pure:
 * the request head sent to a backend (hop-by-hop headers removed,
 * X-Forwarded-For/-Proto added, origin-form target, optional mirror
 * "-shadow" host) and the response head sent to the client (hop-by-hop
 * headers removed, Set-Cookie lines added, Connection set for the
 * client's HTTP version), plus the canned error responses. No I/O, no
 * allocation: heads are written into caller buffers. */
#ifndef CD_ROUTER_HTTP_H
#define CD_ROUTER_HTTP_H
#include "router/table/table.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct rt_req_head {
    const char *method; size_t method_len;
    const char *target; size_t target_len;      /* origin-form: /path?query or * */
    const char *authority; size_t authority_len; /* from an absolute-form URL, else NULL */
    const rt_header *headers; size_t nheaders;
    const char *client_ip;
    const char *proto;                          /* "http" */
    bool shadow;                                /* mirrored copy: Host gets "-shadow" */
} rt_req_head;

/* Returns the head's length, or 0 if it does not fit in cap. */
size_t rt_build_request_head(char *out, size_t cap, const rt_req_head *h);

typedef struct rt_resp_head {
    unsigned status;
    const char *reason; size_t reason_len;      /* may be empty */
    const rt_header *headers; size_t nheaders;
    bool client_http10;
    bool keep_alive;                            /* keep the client connection */
    bool drop_transfer_encoding;                /* the body is de-chunked */
    const char *extra; size_t extra_len;        /* complete header lines to add */
} rt_resp_head;

size_t rt_build_response_head(char *out, size_t cap, const rt_resp_head *h);

const char *rt_reason_phrase(unsigned status);
/* Splits an absolute-form request target (http://host[:port]/path) into
 * authority and origin-form path; false if target is not absolute. */
bool rt_split_absolute(const char *url, size_t len, const char **auth, size_t *alen,
                       const char **path, size_t *plen);
/* Host without port, from a Host header or an authority. */
void rt_host_without_port(const char *v, size_t n, const char **host, size_t *hlen);

#endif
