/* client.c - see client.h. Every transfer runs on a pooled curl easy
 * handle inside its own multi handle (so that connections are reused per
 * slot and a transfer can be abandoned between two polls); credentials are
 * resolved under the client's lock just before each request. Must not
 * block without a timeout, and must not hold the lock during a transfer. */
#include "kube/client.h"
#include "util/redact.h"
#include "kube/exec.h"
#include "kube/ratelimit.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "version.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (256u << 20)
#define POOL_KEEP 8

typedef struct slot {
    CURL *easy;
    CURLM *multi;
    struct slot *next;
} slot;

struct cd_kube_client {
    cd_kube_config cfg;
    cd_kube_client_opts o;
    char *user_agent;
    char *base;                 /* URL prefix requests are sent to */
    char *connect_to;           /* tls-server-name: "name:port:host:port" */
    cd_ratelimit rl;
    atomic_bool cancelled;
    pthread_mutex_t mu;         /* pool and credentials */
    slot *pool;
    int pooled;
    char *file_token;           /* last read of cfg.token_file */
    int64_t file_token_at;      /* cd_mono_ms of that read */
    cd_kube_exec_cred exec;
    bool have_exec;
    _Atomic uint64_t n_requests, n_retries, n_auth, n_http2, n_watches;
};

/* What one request is sent with: a snapshot of the credentials. */
typedef struct creds {
    char *token;
    cd_kube_blob cert, key;     /* exec plugin certificates (copied) */
} creds;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- credentials ------------------------------------------------------------ */

static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    cd_buf b = CD_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        cd_buf_append(&b, chunk, n);
    fclose(f);
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
        b.data[--b.len] = 0;
    if (!b.len) {
        cd_buf_free(&b);
        return NULL;
    }
    return cd_buf_steal(&b);
}

/* Resolves what to authenticate with; force re-reads the token file and
 * re-runs the exec plugin (after a 401). Caller holds c->mu. */
static bool resolve_creds(cd_kube_client *c, bool force, creds *out, cd_kube_err *err)
{
    memset(out, 0, sizeof *out);
    if (c->cfg.token) {
        out->token = strdup(c->cfg.token);
        return true;
    }
    if (c->cfg.token_file) {
        int64_t now = cd_mono_ms();
        if (force || !c->file_token || now - c->file_token_at >= c->o.token_reload_ms) {
            char *t = read_token_file(c->cfg.token_file);
            if (!t && !c->file_token)
                return cd_kube_fail(err, CD_KR_CONFIG, 0, "cannot read the token file %s",
                                    c->cfg.token_file);
            if (t) {
                if (c->file_token && strcmp(t, c->file_token))
                    c->n_auth++;
                free(c->file_token);
                c->file_token = t;
            }
            c->file_token_at = now;
        }
        out->token = strdup(c->file_token);
        return true;
    }
    if (c->cfg.exec) {
        int64_t now = cd_wall_ms();
        bool expired = c->have_exec && c->exec.expires_ms && c->exec.expires_ms - 10000 <= now;
        if (force || !c->have_exec || expired) {
            cd_kube_exec_cred cred;
            if (!cd_kube_exec_run(c->cfg.exec, &c->cfg, c->o.exec_timeout_ms, &cred, err))
                return false;
            if (c->have_exec)
                c->n_auth++;
            cd_kube_exec_cred_free(&c->exec);
            c->exec = cred;
            c->have_exec = true;
        }
        if (c->exec.token)
            out->token = strdup(c->exec.token);
        if (c->exec.cert.data) {
            out->cert.data = (unsigned char *)strdup((char *)c->exec.cert.data);
            out->cert.len = c->exec.cert.len;
            out->key.data = (unsigned char *)strdup((char *)c->exec.key.data);
            out->key.len = c->exec.key.len;
        }
    }
    return true;
}

static bool refreshable(const cd_kube_client *c)
{
    return !c->cfg.token && (c->cfg.token_file || c->cfg.exec);
}

static void creds_free(creds *k)
{
    free(k->token);
    free(k->cert.data);
    free(k->key.data);
    memset(k, 0, sizeof *k);
}

/* ---- client lifecycle ---------------------------------------------------------- */

static bool readable(const char *path, const char *what, cd_kube_err *err)
{
    if (path && access(path, R_OK) != 0)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s %s is not readable", what, path);
    return true;
}

/* https://name:port/prefix from server, for tls-server-name. */
static bool split_server(const char *server, char *scheme, char *host, char *port, const char **rest)
{
    const char *p = strstr(server, "://");
    if (!p)
        return false;
    snprintf(scheme, 16, "%.*s", (int)(p - server), server);
    p += 3;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return false;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        snprintf(host, 256, "%.*s", (int)(rb - p + 1), p);
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(host, 256, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    if (colon)
        snprintf(port, 16, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, 16, "%s", !strcmp(scheme, "https") ? "443" : "80");
    *rest = end;
    return true;
}

cd_kube_client *cd_kube_client_new(const cd_kube_config *cfg, const cd_kube_client_opts *o,
                                   cd_kube_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (!cfg || !cfg->server) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "no API server configured");
        return NULL;
    }
    if (!readable(cfg->ca_file, "certificate-authority", err) ||
        !readable(cfg->cert_file, "client-certificate", err) ||
        !readable(cfg->key_file, "client-key", err))
        return NULL;
    cd_kube_client *c = calloc(1, sizeof *c);
    if (!c || !cd_kube_config_copy(&c->cfg, cfg)) {
        free(c);
        cd_kube_fail(err, CD_KR_CONFIG, 0, "out of memory");
        return NULL;
    }
    if (o)
        c->o = *o;
    if (c->o.qps == 0)
        c->o.qps = 100;
    if (c->o.burst <= 0)
        c->o.burst = 250;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 30000;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 10000;
    if (c->o.max_retries == 0)
        c->o.max_retries = 3;
    if (c->o.token_reload_ms <= 0)
        c->o.token_reload_ms = 60000;
    if (c->o.exec_timeout_ms <= 0)
        c->o.exec_timeout_ms = 60000;
    cd_buf b = CD_BUF_INIT;
    if (o && o->user_agent)
        cd_buf_puts(&b, o->user_agent);
    else
        cd_buf_printf(&b, "canaryd/%s", CANARYD_VERSION);
    c->user_agent = cd_buf_steal(&b);
    c->o.user_agent = c->user_agent;
    char scheme[16], host[256], port[16];
    const char *rest;
    if (cfg->tls_server_name && split_server(cfg->server, scheme, host, port, &rest)) {
        cd_buf_printf(&b, "%s://%s:%s%s", scheme, cfg->tls_server_name, port, rest);
        c->base = cd_buf_steal(&b);
        cd_buf_printf(&b, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port);
        c->connect_to = cd_buf_steal(&b);
    } else {
        c->base = strdup(cfg->server);
    }
    cd_ratelimit_init(&c->rl, c->o.qps, c->o.burst);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void cd_kube_client_free(cd_kube_client *c)
{
    if (!c)
        return;
    for (slot *s = c->pool, *n; s; s = n) {
        n = s->next;
        curl_multi_cleanup(s->multi);
        curl_easy_cleanup(s->easy);
        free(s);
    }
    cd_kube_exec_cred_free(&c->exec);
    free(c->file_token);
    free(c->user_agent);
    free(c->base);
    free(c->connect_to);
    cd_ratelimit_destroy(&c->rl);
    pthread_mutex_destroy(&c->mu);
    cd_kube_config_free(&c->cfg);
    free(c);
}

const cd_kube_config *cd_kube_client_config(const cd_kube_client *c) { return &c->cfg; }
void cd_kube_client_cancel(cd_kube_client *c) { atomic_store(&c->cancelled, true); }
bool cd_kube_client_is_cancelled(const cd_kube_client *c) { return atomic_load(&c->cancelled); }

void cd_kube_client_stats(cd_kube_client *c, cd_kube_stats *out)
{
    pthread_mutex_lock(&c->rl.mu);
    out->throttled = c->rl.throttled;
    out->throttled_ms = c->rl.waited_ns / 1000000;
    pthread_mutex_unlock(&c->rl.mu);
    out->requests = c->n_requests;
    out->retries = c->n_retries;
    out->auth_refreshes = c->n_auth;
    out->http2 = c->n_http2;
    out->watches = c->n_watches;
}

static slot *slot_get(cd_kube_client *c)
{
    pthread_mutex_lock(&c->mu);
    slot *s = c->pool;
    if (s) {
        c->pool = s->next;
        c->pooled--;
    }
    pthread_mutex_unlock(&c->mu);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->easy = curl_easy_init();
    s->multi = curl_multi_init();
    if (!s->easy || !s->multi) {
        curl_easy_cleanup(s->easy);
        curl_multi_cleanup(s->multi);
        free(s);
        return NULL;
    }
    return s;
}

static void slot_put(cd_kube_client *c, slot *s, bool reusable)
{
    pthread_mutex_lock(&c->mu);
    if (reusable && c->pooled < POOL_KEEP) {
        s->next = c->pool;
        c->pool = s;
        c->pooled++;
        s = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (s) {
        curl_multi_cleanup(s->multi);
        curl_easy_cleanup(s->easy);
        free(s);
    }
}

/* ---- one HTTP exchange ------------------------------------------------------------ */

typedef struct xfer {
    CURL *easy;
    cd_buf body;
    cd_watch_decoder *dec;      /* watch: events go here while the status is 200 */
    int retry_after_s;
    bool too_big;
    bool dec_error;
} xfer;

static size_t on_write(char *ptr, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (x->dec) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200) {
            int rc = cd_watch_decoder_feed(x->dec, ptr, len);
            if (rc < 0)
                x->dec_error = true;
            return rc == 0 ? len : 0;
        }
    }
    if (x->body.len + len > MAX_BODY) {
        x->too_big = true;
        return 0;
    }
    cd_buf_append(&x->body, ptr, len);
    return len;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(ptr, "Retry-After:", 12)) {
        int v = atoi(ptr + 12);
        if (v > 0 && v < 3600)
            x->retry_after_s = v;
    }
    return len;
}

typedef struct req {
    const char *method, *path, *ctype;
    const char *body;
    size_t body_len;
    bool watch;
    const cd_kube_stream_opts *so;
} req;

static bool stopping(const cd_kube_client *c, const req *r)
{
    return atomic_load(&c->cancelled) || (r->so && r->so->stop && atomic_load(r->so->stop));
}

static void set_blob(CURL *e, CURLoption opt, const cd_kube_blob *b)
{
    struct curl_blob blob = {b->data, b->len, CURL_BLOB_COPY};
    curl_easy_setopt(e, opt, &blob);
}

/* URL, method, body, timeouts, callbacks. */
static void setup_transfer(cd_kube_client *c, CURL *e, const req *r, xfer *x, char *errbuf)
{
    cd_buf url = CD_BUF_INIT;
    cd_buf_printf(&url, "%s%s", c->base, r->path);
    curl_easy_setopt(e, CURLOPT_URL, cd_buf_str(&url));
    cd_buf_free(&url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     c->o.http1 ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    if (r->watch)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->so && r->so->max_ms ? (long)r->so->max_ms : 0L);
    else
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    if (!strcmp(r->method, "GET"))
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET") && strcmp(r->method, "DELETE")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    if (c->cfg.proxy_url)
        curl_easy_setopt(e, CURLOPT_PROXY, c->cfg.proxy_url);
    x->easy = e;
}

/* Server verification and client certificates (exec plugin ones first). */
static void setup_tls(cd_kube_client *c, CURL *e, const creds *k)
{
    const cd_kube_config *cfg = &c->cfg;
    if (cfg->insecure_skip_tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (cfg->ca_data.data) {
        set_blob(e, CURLOPT_CAINFO_BLOB, &cfg->ca_data);
    } else if (cfg->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    }
    const cd_kube_blob *cert = k->cert.data ? &k->cert : cfg->cert_data.data ? &cfg->cert_data : NULL;
    const cd_kube_blob *key = k->key.data ? &k->key : cfg->key_data.data ? &cfg->key_data : NULL;
    if (cert && key) {
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(e, CURLOPT_SSLCERT_BLOB, cert);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        set_blob(e, CURLOPT_SSLKEY_BLOB, key);
    } else if (cfg->cert_file && cfg->key_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
    }
}

/* Accept, Content-Type, credentials. Returns the header list the caller
 * frees after the transfer. */
static struct curl_slist *setup_headers(cd_kube_client *c, CURL *e, const req *r, const creds *k)
{
    if (!k->token && c->cfg.username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->cfg.username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->cfg.password ? c->cfg.password : "");
    }
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    cd_buf line = CD_BUF_INIT;
    if (r->body || (strcmp(r->method, "GET") && strcmp(r->method, "DELETE"))) {
        cd_buf_printf(&line, "Content-Type: %s", r->ctype ? r->ctype : "application/json");
        h = curl_slist_append(h, cd_buf_str(&line));
        cd_buf_reset(&line);
    }
    if (k->token) {
        cd_buf_printf(&line, "Authorization: Bearer %s", k->token);
        h = curl_slist_append(h, cd_buf_str(&line));
    }
    cd_buf_free(&line);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    return h;
}

/* Runs the transfer; returns the CURLcode. */
static CURLcode run_multi(cd_kube_client *c, slot *s, const req *r)
{
    curl_multi_add_handle(s->multi, s->easy);
    CURLcode result = CURLE_OK;
    bool done = false;
    while (!done) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK) {
            result = CURLE_RECV_ERROR;
            break;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left))) {
            if (m->msg == CURLMSG_DONE) {
                result = m->data.result;
                done = true;
            }
        }
        if (done)
            break;
        if (stopping(c, r)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (r->so && r->so->idle)
            r->so->idle(r->so->idle_ud);
        curl_multi_poll(s->multi, NULL, 0, 100, NULL);
    }
    curl_multi_remove_handle(s->multi, s->easy);
    return result;
}

/* One exchange. Returns the HTTP status, or 0 with err filled. */
static long exchange(cd_kube_client *c, const req *r, bool force_auth, xfer *x, cd_kube_err *err)
{
    if (stopping(c, r))
        return cd_kube_fail(err, CD_KR_CANCELLED, 0, "%s %s: cancelled", r->method, r->path), 0;
    if (!cd_ratelimit_wait(&c->rl, &c->cancelled))
        return cd_kube_fail(err, CD_KR_CANCELLED, 0, "%s %s: cancelled", r->method, r->path), 0;
    creds k;
    pthread_mutex_lock(&c->mu);
    bool ok = resolve_creds(c, force_auth, &k, err);
    pthread_mutex_unlock(&c->mu);
    if (!ok)
        return 0;
    slot *s = slot_get(c);
    if (!s) {
        creds_free(&k);
        return cd_kube_fail(err, CD_KR_TRANSPORT, 0, "%s %s: cannot create a curl handle", r->method,
                            r->path), 0;
    }
    curl_easy_reset(s->easy);
    char errbuf[CURL_ERROR_SIZE] = "";
    setup_transfer(c, s->easy, r, x, errbuf);
    setup_tls(c, s->easy, &k);
    struct curl_slist *h = setup_headers(c, s->easy, r, &k);
    struct curl_slist *connect_to = NULL;
    if (c->connect_to) {
        connect_to = curl_slist_append(NULL, c->connect_to);
        curl_easy_setopt(s->easy, CURLOPT_CONNECT_TO, connect_to);
    }
    c->n_requests++;
    if (r->watch)
        c->n_watches++;
    CURLcode rc = run_multi(c, s, r);
    long code = 0, version = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(s->easy, CURLINFO_HTTP_VERSION, &version);
    if (version == CURL_HTTP_VERSION_2_0)
        c->n_http2++;
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(s->easy, CURLOPT_CONNECT_TO, NULL);
    curl_slist_free_all(h);
    curl_slist_free_all(connect_to);
    creds_free(&k);
    bool clean = rc == CURLE_OK;
    slot_put(c, s, clean);
    if (rc == CURLE_ABORTED_BY_CALLBACK && stopping(c, r))
        return cd_kube_fail(err, CD_KR_CANCELLED, 0, "%s %s: cancelled", r->method, r->path), 0;
    if (rc == CURLE_WRITE_ERROR && x->dec && (x->dec->stopped || x->dec_error))
        return code;        /* the decoder stopped the stream */
    if (rc != CURLE_OK) {
        if (x->too_big)
            return cd_kube_fail(err, CD_KR_DECODE, (int)code, "%s %s: answer larger than %u MiB",
                                r->method, r->path, MAX_BODY >> 20), 0;
        char server[256], why[CURL_ERROR_SIZE + 64];
        cd_redact_url(c->cfg.server, 0, server, sizeof server);
        cd_redact_text(errbuf[0] ? errbuf : curl_easy_strerror(rc), c->cfg.server, 0, why,
                       sizeof why);
        cd_kube_fail(err, CD_KR_TRANSPORT, 0, "%s %s%s: %s", r->method, server, r->path, why);
        if (rc == CURLE_OPERATION_TIMEDOUT && err)
            err->reason = CD_KR_TIMEOUT;
        return 0;
    }
    return code;
}

static bool idempotent(const char *method) { return !strcmp(method, "GET"); }

static void sleep_ms(cd_kube_client *c, const req *r, int ms)
{
    int64_t until = cd_mono_ms() + ms;
    while (!stopping(c, r)) {
        int64_t left = until - cd_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {0, (left > 50 ? 50 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int backoff_ms(int attempt)
{
    int ms = 200 << (attempt < 5 ? attempt : 5);
    if (ms > 5000)
        ms = 5000;
    return ms + rand() % (ms / 4 + 1);
}

static bool perform(cd_kube_client *c, const req *r, json_t **out, cd_kube_err *err)
{
    bool auth_retried = false;
    char what[512];
    snprintf(what, sizeof what, "%s %s", r->method, r->path);
    for (int attempt = 0;; attempt++) {
        xfer x = {0};
        cd_kube_err e = {0};
        long code = exchange(c, r, auth_retried && attempt > 0, &x, &e);
        bool can_retry = c->o.max_retries > 0 && attempt < c->o.max_retries;
        if (code == 0) {
            cd_buf_free(&x.body);
            if (e.reason == CD_KR_TRANSPORT && idempotent(r->method) && can_retry) {
                c->n_retries++;
                sleep_ms(c, r, backoff_ms(attempt));
                continue;
            }
            if (err)
                *err = e;
            return false;
        }
        if (code == 401 && !auth_retried && refreshable(c)) {
            auth_retried = true;
            cd_buf_free(&x.body);
            c->n_retries++;
            continue;
        }
        if ((code == 429 || (idempotent(r->method) && (code == 500 || code == 502 || code == 503 ||
                                                        code == 504))) && can_retry) {
            cd_kube_err se = {0};
            cd_kube_err_from_status(&se, (int)code, x.body.data, x.body.len, what);
            int wait = x.retry_after_s ? x.retry_after_s * 1000
                                       : se.retry_after_s ? se.retry_after_s * 1000 : backoff_ms(attempt);
            if (wait > 10000)
                wait = 10000;
            cd_buf_free(&x.body);
            c->n_retries++;
            sleep_ms(c, r, wait);
            continue;
        }
        if (code < 200 || code >= 300) {
            cd_kube_err_from_status(err, (int)code, x.body.data, x.body.len, what);
            if (err && x.retry_after_s)
                err->retry_after_s = x.retry_after_s;
            cd_buf_free(&x.body);
            return false;
        }
        if (out) {
            json_error_t je;
            *out = x.body.len ? json_loadb(x.body.data, x.body.len, JSON_DECODE_ANY, &je) : json_null();
            if (!*out) {
                cd_buf_free(&x.body);
                return cd_kube_fail(err, CD_KR_DECODE, (int)code, "%s: the answer is not JSON: %s", what,
                                    je.text);
            }
        }
        cd_buf_free(&x.body);
        return true;
    }
}

bool cd_kube_request_stop(cd_kube_client *c, const char *method, const char *path,
                          const char *content_type, const json_t *body, const atomic_bool *stop,
                          json_t **out, cd_kube_err *err)
{
    if (out)
        *out = NULL;
    if (!c || !method || !path || path[0] != '/')
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "invalid request");
    char *data = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cd_kube_stream_opts so = {stop, NULL, NULL, 0};
    req r = {method, path, content_type, data, data ? strlen(data) : 0, false, stop ? &so : NULL};
    bool ok = perform(c, &r, out, err);
    free(data);
    return ok;
}

bool cd_kube_request(cd_kube_client *c, const char *method, const char *path,
                     const char *content_type, const json_t *body, json_t **out, cd_kube_err *err)
{
    return cd_kube_request_stop(c, method, path, content_type, body, NULL, out, err);
}

bool cd_kube_watch_stream(cd_kube_client *c, const char *path, cd_watch_event_fn fn, void *ud,
                          const cd_kube_stream_opts *o, cd_kube_err *err)
{
    cd_watch_decoder dec;
    cd_watch_decoder_init(&dec, 0, fn, ud);
    req r = {"GET", path, NULL, NULL, 0, true, o};
    xfer x = {0};
    x.dec = &dec;
    char what[512];
    snprintf(what, sizeof what, "GET %s", path);
    cd_kube_err e = {0};
    long code = exchange(c, &r, false, &x, &e);
    bool auth_retry = code == 401 && refreshable(c);
    if (auth_retry) {
        cd_buf_free(&x.body);
        memset(&x, 0, sizeof x);
        x.dec = &dec;
        code = exchange(c, &r, true, &x, &e);
    }
    bool ok = false;
    if (code == 0) {
        if (err)
            *err = e;
    } else if (code != 200) {
        cd_kube_err_from_status(err, (int)code, x.body.data, x.body.len, what);
        if (err && x.retry_after_s)
            err->retry_after_s = x.retry_after_s;
    } else if (dec.failed || x.dec_error) {
        cd_kube_fail(err, CD_KR_DECODE, 200, "%s: %s", what, dec.error);
    } else if (dec.stopped) {
        ok = true;
    } else if (cd_watch_decoder_end(&dec) < 0) {
        cd_kube_fail(err, CD_KR_DECODE, 200, "%s: %s", what, dec.error);
    } else {
        ok = true;
    }
    cd_buf_free(&x.body);
    cd_watch_decoder_free(&dec);
    return ok;
}
