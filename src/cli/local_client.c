/* local_client.c - see local_client.h. One blocking request at a time over
 * net/http (libcurl), 10 s timeout. */
#include "cli/local_client.h"
#include "net/http.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cd_api_client_init(cd_api_client *c, const char *addr)
{
    memset(c, 0, sizeof *c);
    if (!addr || !*addr)
        addr = CD_API_DEFAULT;
    if (!strncmp(addr, "unix:", 5)) {
        snprintf(c->unix_socket, sizeof c->unix_socket, "%s", addr + 5);
        snprintf(c->base, sizeof c->base, "http://localhost");
    } else if (!strncmp(addr, "http://", 7)) {
        snprintf(c->base, sizeof c->base, "%s", addr);
    } else {
        snprintf(c->base, sizeof c->base, "http://%s", addr);
    }
    size_t n = strlen(c->base);
    if (n && c->base[n - 1] == '/')
        c->base[n - 1] = '\0';
}

json_t *cd_api_call(const cd_api_client *c, const char *method, const char *path,
                    const char *body, size_t body_len, long *status, char *error, size_t errlen)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    cd_http_request rq;
    cd_http_request_init(&rq, method, url);
    rq.body = body;
    rq.body_len = body_len;
    rq.unix_socket = c->unix_socket[0] ? c->unix_socket : NULL;
    rq.timeout_ms = 10000;
    cd_err err = {{0}};
    if (body)
        cd_http_add_header(&rq, "Content-Type", "application/yaml", &err);
    cd_http_response rs;
    bool ok = cd_http_perform(&rq, &rs, &err);
    *status = ok ? rs.status : 0;
    json_t *j = NULL;
    if (ok) {
        j = json_loadb(cd_buf_str(&rs.body), rs.body.len, 0, NULL);
        if (!j && error)
            snprintf(error, errlen, "the server answered %ld without JSON", rs.status);
    } else if (error) {
        snprintf(error, errlen, "cannot reach canaryd at %s%s%s: %s", c->base,
                 c->unix_socket[0] ? " via " : "", c->unix_socket, err.msg);
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    return j;
}

static void escape(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", ch);
    }
    out[o] = '\0';
}

void cd_api_canary_path(char *out, size_t n, const char *ns, const char *name)
{
    char ens[300], ename[300];
    escape(ens, sizeof ens, ns);
    escape(ename, sizeof ename, name);
    snprintf(out, n, "/api/v1/namespaces/%s/canaries/%s", ens, ename);
}
