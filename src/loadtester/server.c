/* server.c - the load tester's HTTP API on libmicrohttpd (thread per
 * connection): routes, payload decoding, namespace protection, gates, and
 * dispatch of tasks to tasks.c. Request bodies are capped at 1 MiB. */
#include "loadtester/loadtester.h"
#include "net/httpd.h"
#include "metrics/endpoint.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1u << 20)

struct cd_loadtester {
    struct MHD_Daemon *d;
    cd_gates *gates;
    cd_tasks *tasks;
    regex_t ns_re;
    bool has_re;
    int port;
};

typedef cd_httpd_request request;

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, const char *type,
                                  const char *body, size_t len)
{
    return cd_httpd_reply(c, status, type ? type : "text/plain; charset=utf-8", body, len);
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *s)
{
    return send_reply(c, status, NULL, s, strlen(s));
}

typedef struct payload {
    const char *name, *namespace_;
    const json_t *metadata;     /* object of strings, may be NULL */
    char canary[600];
} payload;

/* Decodes Flagger's CanaryWebhookPayload; false with a message. */
static bool decode(json_t *j, payload *p, char *why, size_t n)
{
    memset(p, 0, sizeof *p);
    if (!json_is_object(j)) {
        snprintf(why, n, "decoding the request body failed: not a JSON object");
        return false;
    }
    const json_t *name = json_object_get(j, "name"), *ns = json_object_get(j, "namespace");
    const json_t *md = json_object_get(j, "metadata");
    if ((name && !json_is_string(name)) || (ns && !json_is_string(ns))) {
        snprintf(why, n, "decoding the request body failed: name and namespace must be strings");
        return false;
    }
    if (md && !json_is_null(md)) {
        if (!json_is_object(md)) {
            snprintf(why, n, "decoding the request body failed: metadata must be an object");
            return false;
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)md, k, v) {
            if (!json_is_string(v)) {
                snprintf(why, n, "decoding the request body failed: metadata.%.60s is not a string",
                         k);
                return false;
            }
        }
        p->metadata = md;
    }
    p->name = name ? json_string_value(name) : "";
    p->namespace_ = ns ? json_string_value(ns) : "";
    snprintf(p->canary, sizeof p->canary, "%s.%s", p->name, p->namespace_);
    return true;
}

static enum MHD_Result gate(cd_loadtester *lt, struct MHD_Connection *c, const char *url,
                            const payload *p)
{
    bool rollback = !strncmp(url, "/rollback/", 10);
    const char *op = url + (rollback ? 10 : 6);
    char key[700];
    snprintf(key, sizeof key, "%s%s", rollback ? "rollback." : "", p->canary);
    if (!strcmp(op, "check")) {
        bool open = cd_gates_is_open(lt->gates, key);
        cd_logf(CD_LOG_INFO, NULL, "%s %s check: approved %s", key, rollback ? "rollback" : "gate",
                open ? "true" : "false");
        return open ? text(c, 200, "Approved") : text(c, 403, "Forbidden");
    }
    bool open = !strcmp(op, "open");
    cd_gates_set(lt->gates, key, open);
    cd_logf(CD_LOG_INFO, NULL, "%s %s %s", key, rollback ? "rollback" : "gate",
            open ? "opened" : "closed");
    return text(c, 202, "");
}

static bool is_gate(const char *url)
{
    static const char *const routes[] = {"/gate/check",    "/gate/open",    "/gate/close",
                                         "/rollback/check", "/rollback/open", "/rollback/close"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i]))
            return true;
    return false;
}

static enum MHD_Result serve_metrics(cd_loadtester *lt, struct MHD_Connection *c)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_puts(&b, "");
    cd_tasks_write_metrics(lt->tasks, &b);
    cd_process_metrics_write(&b);
    enum MHD_Result r = send_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    cd_buf_free(&b);
    return r;
}

static enum MHD_Result handle(cd_loadtester *lt, struct MHD_Connection *c, const char *url,
                              request *rq)
{
    if (!strcmp(url, "/healthz"))
        return text(c, 200, "OK");
    if (!strcmp(url, "/metrics"))
        return serve_metrics(lt, c);
    if (!strcmp(url, "/gate/approve"))
        return text(c, 200, "OK");
    if (!strcmp(url, "/gate/halt"))
        return text(c, 403, "Forbidden");
    if (rq->too_big)
        return text(c, 413, "request body larger than 1 MiB");
    json_error_t je;
    json_t *j = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, &je);
    char why[300];
    payload p;
    if (!j) {
        snprintf(why, sizeof why, "decoding the request body failed: %s", je.text);
        cd_logf(CD_LOG_ERROR, NULL, "%s", why);
        return text(c, 400, why);
    }
    enum MHD_Result ret;
    if (!decode(j, &p, why, sizeof why)) {
        cd_logf(CD_LOG_ERROR, NULL, "%s", why);
        ret = text(c, 400, why);
    } else if (lt->has_re && regexec(&lt->ns_re, p.namespace_, 0, NULL, 0) != 0) {
        cd_logf(CD_LOG_WARN, p.canary, "namespace %s is not allowed by -namespace-regexp",
                p.namespace_);
        ret = text(c, 403, "Forbidden");
    } else if (is_gate(url)) {
        ret = gate(lt, c, url, &p);
    } else if (!p.metadata || json_object_size(p.metadata) == 0) {
        ret = text(c, 400, "metadata not found in payload");
    } else {
        cd_task_reply out = {0, CD_BUF_INIT, NULL};
        cd_tasks_handle(lt->tasks, p.canary, p.metadata, &out);
        ret = send_reply(c, out.status, out.content_type, out.body.data, out.body.len);
        cd_buf_free(&out.body);
    }
    json_decref(j);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    request *rq;
    enum MHD_Result ret;
    if (cd_httpd_collect(con_cls, upload, upload_size, MAX_BODY, &rq, &ret))
        return ret;
    return handle(cls, c, url, rq);
}

cd_loadtester *cd_loadtester_start(const cd_loadtester_config *cfg, cd_err *err)
{
    cd_loadtester *lt = calloc(1, sizeof *lt);
    if (!lt)
        abort();
    if (cfg->namespace_regexp && *cfg->namespace_regexp) {
        int rc = regcomp(&lt->ns_re, cfg->namespace_regexp, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char m[200];
            regerror(rc, &lt->ns_re, m, sizeof m);
            cd_errfmt(err, "invalid -namespace-regexp \"%s\": %s", cfg->namespace_regexp, m);
            free(lt);
            return NULL;
        }
        lt->has_re = true;
    }
    lt->gates = cd_gates_new();
    lt->tasks = cd_tasks_new(cfg->timeout_ms, cfg->max_tasks);
    struct sockaddr_storage ss;
    const struct sockaddr *sa = NULL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (!cd_httpd_address(cfg->address, cfg->port, &ss, &sa, &flags, err)) {
        cd_loadtester_stop(lt);
        return NULL;
    }
    if (sa)
        lt->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, lt,
                                 MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_NOTIFY_COMPLETED, cd_httpd_completed,
                                 NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    else
        lt->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, lt,
                                 MHD_OPTION_NOTIFY_COMPLETED, cd_httpd_completed, NULL,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!lt->d) {
        cd_errfmt(err, "cannot listen on %s:%d (port in use?)",
                  cfg->address && *cfg->address ? cfg->address : "*", cfg->port);
        cd_loadtester_stop(lt);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(lt->d, MHD_DAEMON_INFO_BIND_PORT);
    lt->port = info ? info->port : cfg->port;
    return lt;
}

int cd_loadtester_port(const cd_loadtester *lt)
{
    return lt ? lt->port : -1;
}

uint64_t cd_loadtester_execs(cd_loadtester *lt)
{
    return cd_tasks_execs(lt->tasks);
}

int cd_loadtester_running(cd_loadtester *lt)
{
    return cd_tasks_running(lt->tasks);
}

void cd_loadtester_stop(cd_loadtester *lt)
{
    if (!lt)
        return;
    /* stop accepting, kill running tasks (which ends synchronous requests),
     * then join the connection threads */
    if (lt->d)
        MHD_quiesce_daemon(lt->d);
    if (lt->tasks)
        cd_tasks_cancel_all(lt->tasks);
    if (lt->d)
        MHD_stop_daemon(lt->d);
    cd_tasks_free(lt->tasks);
    cd_gates_free(lt->gates);
    if (lt->has_re)
        regfree(&lt->ns_re);
    free(lt);
}
