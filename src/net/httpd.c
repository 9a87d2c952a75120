/* httpd.c - see httpd.h. */
#include "net/httpd.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* One open connection, for the read deadline. */
typedef struct conn_rec {
    int fd;
    int64_t deadline_ms;            /* 0: not reading a request now */
    struct conn_rec *prev, *next;
} conn_rec;

struct cd_httpd {
    cd_httpd_options o;
    struct MHD_Daemon *d;
    int port;
    int quiesced_fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t watchdog;
    bool watchdog_running, stopping;
    conn_rec *conns;
};

/* ---- replies ---------------------------------------------------------------- */

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

static enum MHD_Result refuse(cd_httpd *s, struct MHD_Connection *c, unsigned status,
                              const char *why)
{
    cd_buf b = CD_BUF_INIT;
    if (s->o.json_errors) {
        json_t *j = json_pack("{s:s}", "error", why);
        char *t = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        cd_buf_printf(&b, "%s\n", t ? t : "{}");
        free(t);
    } else {
        cd_buf_printf(&b, "%s\n", why);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
    cd_buf_free(&b);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            s->o.json_errors ? "application/json" : "text/plain; charset=utf-8");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"canaryd\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- the read deadline -------------------------------------------------------- */

static conn_rec *rec_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static void set_deadline(cd_httpd *s, struct MHD_Connection *c, bool reading)
{
    conn_rec *r = rec_of(c);
    if (!r)
        return;
    pthread_mutex_lock(&s->mu);
    r->deadline_ms = reading ? cd_mono_ms() + (int64_t)s->o.read_timeout_s * 1000 : 0;
    pthread_mutex_unlock(&s->mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    cd_httpd *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_rec *r = calloc(1, sizeof *r);
        if (!r || !i) {
            free(r);
            return;
        }
        r->fd = i->connect_fd;
        r->deadline_ms = cd_mono_ms() + (int64_t)s->o.read_timeout_s * 1000;
        pthread_mutex_lock(&s->mu);
        r->next = s->conns;
        if (s->conns)
            s->conns->prev = r;
        s->conns = r;
        pthread_mutex_unlock(&s->mu);
        *socket_context = r;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd closes the socket only after this returns: the
         * watchdog (same lock) never shuts down a reused descriptor */
        conn_rec *r = *socket_context;
        if (!r)
            return;
        pthread_mutex_lock(&s->mu);
        if (r->prev)
            r->prev->next = r->next;
        else
            s->conns = r->next;
        if (r->next)
            r->next->prev = r->prev;
        pthread_mutex_unlock(&s->mu);
        free(r);
        *socket_context = NULL;
    }
}

static void *watchdog(void *arg)
{
    cd_httpd *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        int64_t now = cd_mono_ms();
        for (conn_rec *r = s->conns; r; r = r->next) {
            if (r->deadline_ms && now >= r->deadline_ms) {
                shutdown(r->fd, SHUT_RDWR);   /* libmicrohttpd sees the end and closes it */
                r->deadline_ms = 0;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- requests ------------------------------------------------------------------ */

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    cd_httpd *s = cls;
    cd_httpd_request *rq = *con_cls;
    if (!rq) {      /* the headers are in: admit or refuse before reading a body */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->server = s;
        *con_cls = rq;
        char why[400] = "";
        unsigned st = s->o.admit ? s->o.admit(s->o.ctx, c, url, method, why, sizeof why) : 0;
        if (st) {
            rq->refused = true;
            return refuse(s, c, st, why[0] ? why : "refused");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
            rq->refused = true;
            char m[120];
            snprintf(m, sizeof m, "request body larger than %zu bytes", s->o.max_body);
            return refuse(s, c, 413, m);
        }
        return MHD_YES;
    }
    if (rq->refused) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_big && rq->body.len + *upload_size > s->o.max_body) {
            rq->too_big = true;
            cd_buf_free(&rq->body);
        }
        if (!rq->too_big)
            cd_buf_append(&rq->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!rq->complete) {
        rq->complete = true;
        set_deadline(s, c, false);
    }
    if (rq->too_big) {
        char m[120];
        snprintf(m, sizeof m, "request body larger than %zu bytes", s->o.max_body);
        return refuse(s, c, 413, m);
    }
    return s->o.handler(s->o.ctx, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cd_httpd *s = cls;
    cd_httpd_request *rq = *con_cls;
    if (rq) {
        cd_buf_free(&rq->body);
        if (rq->user_free && rq->user)
            rq->user_free(rq->user);
        free(rq);
    }
    *con_cls = NULL;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        set_deadline(s, c, true);   /* the next request on this connection */
}

/* ---- the server ----------------------------------------------------------------- */

void cd_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static unsigned clamp_connections(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    rlim_t room = rl.rlim_cur > 128 ? rl.rlim_cur - 64 : rl.rlim_cur / 2;
    return (rlim_t)want > room ? (unsigned)room : want;
}

cd_httpd *cd_httpd_start(const cd_httpd_options *o, cd_err *err)
{
    cd_httpd *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->o = *o;
    s->quiesced_fd = -1;
    if (!s->o.max_connections)
        s->o.max_connections = 256;
    s->o.max_connections = clamp_connections(s->o.max_connections);
    if (!s->o.read_timeout_s)
        s->o.read_timeout_s = 10;
    if (!s->o.idle_timeout_s)
        s->o.idle_timeout_s = 30;
    if (!s->o.max_body)
        s->o.max_body = 1u << 20;
    if (!s->o.name)
        s->o.name = "HTTP server";
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    if (o->suspend_resume)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_storage ss;
    const struct sockaddr *sa = NULL;
    if (o->listen_fd < 0 && !cd_httpd_address(o->address, o->port, &ss, &sa, &flags, err))
        goto fail;
    struct MHD_OptionItem ops[12];
    size_t n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, s->o.max_connections, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, s->o.idle_timeout_s, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    if (o->listen_fd >= 0)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, o->listen_fd, NULL};
    else if (sa)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)sa};
    if (o->threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->d = MHD_start_daemon(flags, (uint16_t)(o->listen_fd >= 0 ? 0 : o->port), NULL, NULL,
                            on_access, s, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->d) {
        if (o->listen_fd >= 0)
            cd_errfmt(err, "%s: cannot start the HTTP server", s->o.name);
        else
            cd_errfmt(err, "%s: cannot listen on %s:%d (port in use?)", s->o.name,
                      o->address && *o->address ? o->address : "*", o->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    if (pthread_create(&s->watchdog, NULL, watchdog, s) != 0) {
        cd_errfmt(err, "%s: cannot start a thread", s->o.name);
        MHD_stop_daemon(s->d);
        s->d = NULL;
        goto fail_open;
    }
    s->watchdog_running = true;
    return s;
fail:
    if (o->listen_fd >= 0)
        close(o->listen_fd);
fail_open:
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

int cd_httpd_port(const cd_httpd *s) { return s ? s->port : -1; }
unsigned cd_httpd_max_connections(const cd_httpd *s) { return s ? s->o.max_connections : 0; }

void cd_httpd_quiesce(cd_httpd *s)
{
    if (s && s->d && s->quiesced_fd < 0)
        s->quiesced_fd = MHD_quiesce_daemon(s->d);
}

void cd_httpd_stop(cd_httpd *s)
{
    if (!s)
        return;
    if (s->watchdog_running) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->watchdog, NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d);
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

unsigned cd_httpd_check_access(struct MHD_Connection *c, const char *method,
                               const cd_access_policy *p, char *why, size_t whylen)
{
    cd_access_request r = {
        .method = method,
        .host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
        .origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
    };
    return (unsigned)cd_access_check(p, &r, why, whylen);
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
