/* httpd.c - see httpd.h. */
#include "net/httpd.h"
#include "util/errfmt.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result cd_httpd_reply(struct MHD_Connection *c, unsigned status, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(body ? body : ""),
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result cd_httpd_reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s\n", s ? s : "null");
    free(s);
    enum MHD_Result r = cd_httpd_reply(c, status, "application/json", b.data, b.len);
    cd_buf_free(&b);
    return r;
}

bool cd_httpd_collect(void **con_cls, const char *upload, size_t *upload_size, size_t max,
                      cd_httpd_request **out, enum MHD_Result *ret)
{
    cd_httpd_request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        *con_cls = rq;
        *ret = rq ? MHD_YES : MHD_NO;
        return true;
    }
    if (*upload_size) {
        if (rq->body.len + *upload_size > max)
            rq->too_big = true;
        else
            cd_buf_append(&rq->body, upload, *upload_size);
        *upload_size = 0;
        *ret = MHD_YES;
        return true;
    }
    *out = rq;
    return false;
}

void cd_httpd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    cd_httpd_request *rq = *con_cls;
    if (rq) {
        cd_buf_free(&rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

bool cd_httpd_address(const char *address, int port, struct sockaddr_storage *ss,
                      const struct sockaddr **sa, unsigned *flags, cd_err *err)
{
    memset(ss, 0, sizeof *ss);
    *sa = NULL;
    if (!address || !*address)
        return true;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *flags |= MHD_USE_IPv6;
    } else {
        cd_errfmt(err, "\"%s\" is not an IP address", address);
        return false;
    }
    *sa = (const struct sockaddr *)ss;
    return true;
}
