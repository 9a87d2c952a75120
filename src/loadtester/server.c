/* server.c - the load tester's HTTP API (net/httpd.h: libmicrohttpd on
 * epoll, a connection cap, a read deadline): admission (the token, no
 * foreign Origin), routes, payload decoding, namespace protection, gates,
 * and dispatch of tasks to tasks.c. A task that answers only when done
 * suspends its connection and runs on a thread of its own, so that slow
 * tasks and slow clients never hold up /healthz. Request bodies are
 * capped at 1 MiB. */
#include "loadtester/loadtester.h"
#include "loadtester/policy.h"
#include "net/httpd.h"
#include "telemetry/endpoint.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1u << 20)
#define MAX_BLOCKING_TASKS 256      /* synchronous tasks running at once */

struct cd_loadtester {
    cd_httpd *srv;
    cd_gates *gates;
    cd_tasks *tasks;
    cd_cmd_policy policy;
    bool has_policy;
    regex_t ns_re;
    bool has_re;
    char token[CD_TOKEN_MAX + 1];
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int blocking;                   /* synchronous tasks running */
};

/* A synchronous task: run on its own thread while its connection is
 * suspended; the answer is sent when the connection resumes. */
typedef struct blocking_call {
    cd_loadtester *lt;
    struct MHD_Connection *conn;
    char canary[600];
    json_t *payload;                /* owns the metadata */
    cd_task_reply out;
    bool done;
} blocking_call;

static void reply_text_buf(cd_task_reply *out, unsigned status, const char *s)
{
    out->status = status;
    out->content_type = NULL;
    cd_buf_reset(&out->body);
    cd_buf_puts(&out->body, s);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, const char *type,
                                  const char *body, size_t len)
{
    return cd_httpd_reply(c, status, type ? type : "text/plain; charset=utf-8", body, len);
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *s)
{
    return send_reply(c, status, NULL, s, strlen(s));
}

typedef cd_lt_payload payload;

bool cd_loadtester_decode_payload(const json_t *j, cd_lt_payload *p, char *why, size_t n)
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
    cd_telemetry_process_write(&b);
    enum MHD_Result r = send_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    cd_buf_free(&b);
    return r;
}

static void blocking_call_free(void *p)
{
    blocking_call *b = p;
    json_decref(b->payload);
    cd_buf_free(&b->out.body);
    free(b);
}

static void *run_blocking(void *arg)
{
    blocking_call *b = arg;
    cd_loadtester *lt = b->lt;
    cd_tasks_handle(lt->tasks, b->canary, json_object_get(b->payload, "metadata"), &b->out);
    b->done = true;
    MHD_resume_connection(b->conn);   /* b may be freed from here on */
    pthread_mutex_lock(&lt->mu);
    lt->blocking--;
    pthread_cond_broadcast(&lt->cv);
    pthread_mutex_unlock(&lt->mu);
    return NULL;
}

static enum MHD_Result start_blocking(cd_loadtester *lt, struct MHD_Connection *c,
                                      cd_httpd_request *rq, const payload *p, json_t *j)
{
    pthread_mutex_lock(&lt->mu);
    bool room = lt->blocking < MAX_BLOCKING_TASKS;
    if (room)
        lt->blocking++;
    pthread_mutex_unlock(&lt->mu);
    if (!room)
        return text(c, 503, "too many running tasks");
    blocking_call *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->lt = lt;
    b->conn = c;
    snprintf(b->canary, sizeof b->canary, "%s", p->canary);
    b->payload = json_incref(j);
    rq->user = b;
    rq->user_free = blocking_call_free;
    MHD_suspend_connection(c);
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &a, run_blocking, b);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        reply_text_buf(&b->out, 500, "cannot start a task thread");
        b->done = true;
        MHD_resume_connection(c);
        pthread_mutex_lock(&lt->mu);
        lt->blocking--;
        pthread_mutex_unlock(&lt->mu);
    }
    return MHD_YES;
}

static enum MHD_Result handle(void *ctx, struct MHD_Connection *c, const char *url,
                              const char *method, cd_httpd_request *rq)
{
    cd_loadtester *lt = ctx;
    if (rq->user) {   /* a synchronous task finished: its answer */
        blocking_call *b = rq->user;
        return send_reply(c, b->out.status, b->out.content_type, b->out.body.data,
                          b->out.body.len);
    }
    if (!strcmp(url, "/healthz"))
        return text(c, 200, "OK");
    if (!strcmp(url, "/metrics"))
        return serve_metrics(lt, c);
    if (!strcmp(url, "/gate/approve"))
        return text(c, 200, "OK");
    if (!strcmp(url, "/gate/halt"))
        return text(c, 403, "Forbidden");
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
    if (!cd_loadtester_decode_payload(j, &p, why, sizeof why)) {
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
    } else if (cd_tasks_blocks(p.metadata)) {
        ret = start_blocking(lt, c, rq, &p, j);
    } else {
        cd_task_reply out = {0, CD_BUF_INIT, NULL};
        cd_tasks_handle(lt->tasks, p.canary, p.metadata, &out);
        ret = send_reply(c, out.status, out.content_type, out.body.data, out.body.len);
        cd_buf_free(&out.body);
    }
    json_decref(j);
    return ret;
}

/* The token (when set) for everything but /healthz and /metrics, and no
 * cross-origin browser requests (Flagger's webhooks send no Origin). */
static unsigned admit(void *ctx, struct MHD_Connection *c, const char *url, const char *method,
                      char *why, size_t whylen)
{
    cd_loadtester *lt = ctx;
    cd_access_policy pol = {.token = lt->token[0] ? lt->token : NULL};
    if (!strcmp(url, "/healthz") || !strcmp(url, "/metrics"))
        pol.token = NULL;
    return cd_httpd_check_access(c, method, &pol, why, whylen);
}

cd_loadtester *cd_loadtester_start(const cd_loadtester_config *cfg, cd_err *err)
{
    cd_loadtester *lt = calloc(1, sizeof *lt);
    if (!lt)
        abort();
    pthread_mutex_init(&lt->mu, NULL);
    pthread_cond_init(&lt->cv, NULL);
    if (cfg->namespace_regexp && *cfg->namespace_regexp) {
        int rc = regcomp(&lt->ns_re, cfg->namespace_regexp, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char m[200];
            regerror(rc, &lt->ns_re, m, sizeof m);
            cd_errfmt(err, "invalid -namespace-regexp \"%s\": %s", cfg->namespace_regexp, m);
            cd_loadtester_stop(lt);
            return NULL;
        }
        lt->has_re = true;
    }
    char why[300];
    if (!cd_cmd_policy_init(&lt->policy, cfg->allow_commands, cfg->allow_any_command,
                            lt->has_re ? &lt->ns_re : NULL, why, sizeof why)) {
        cd_errfmt(err, "%s", why);
        cd_loadtester_stop(lt);
        return NULL;
    }
    lt->has_policy = true;
    if (cfg->token)
        snprintf(lt->token, sizeof lt->token, "%s", cfg->token);
    lt->gates = cd_gates_new();
    lt->tasks = cd_tasks_new(cfg->timeout_ms, cfg->max_tasks, &lt->policy);
    unsigned rt = cfg->read_timeout_s ? cfg->read_timeout_s : 5;
    cd_httpd_options o = {
        .name = "load tester",
        .listen_fd = -1,
        .address = cfg->address,
        .port = cfg->port,
        .max_connections = cfg->max_connections ? cfg->max_connections : 8192,
        .read_timeout_s = rt,
        .idle_timeout_s = rt,
        .max_body = MAX_BODY,
        .suspend_resume = true,
        .admit = admit,
        .handler = handle,
        .ctx = lt,
    };
    lt->srv = cd_httpd_start(&o, err);
    if (!lt->srv) {
        cd_loadtester_stop(lt);
        return NULL;
    }
    lt->port = cd_httpd_port(lt->srv);
    return lt;
}

int cd_loadtester_port(const cd_loadtester *lt)
{
    return lt ? lt->port : -1;
}

unsigned cd_loadtester_max_connections(const cd_loadtester *lt)
{
    return lt ? cd_httpd_max_connections(lt->srv) : 0;
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
    /* stop accepting, kill running tasks (which ends synchronous
     * requests: their connections resume and get their answers), wait for
     * them, then stop the server */
    cd_httpd_quiesce(lt->srv);
    if (lt->tasks)
        cd_tasks_cancel_all(lt->tasks);
    pthread_mutex_lock(&lt->mu);
    while (lt->blocking > 0)
        pthread_cond_wait(&lt->cv, &lt->mu);
    pthread_mutex_unlock(&lt->mu);
    cd_httpd_stop(lt->srv);
    cd_tasks_free(lt->tasks);
    cd_gates_free(lt->gates);
    if (lt->has_policy)
        cd_cmd_policy_free(&lt->policy);
    if (lt->has_re)
        regfree(&lt->ns_re);
    memset(lt->token, 0, sizeof lt->token);
    pthread_cond_destroy(&lt->cv);
    pthread_mutex_destroy(&lt->mu);
    free(lt);
}
