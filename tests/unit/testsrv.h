/* testsrv.h - a scripted HTTP(S) server for unit tests, on libmicrohttpd:
 * it listens on a free loopback port, records every request (method, raw
 * URI, headers, body) and answers from a queue of canned responses (the
 * last one repeats) or from a handler. TLS uses a throw-away self-signed
 * certificate made with OpenSSL. Header-only: include it from one test. */
#ifndef CD_TESTSRV_H
#define CD_TESTSRV_H
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TS_MAX_REQ 64
#define TS_MAX_HDR 48

typedef struct ts_request {
    char method[16];
    char uri[8192];             /* raw: path and query as sent */
    char *body;
    size_t body_len;
    char *hname[TS_MAX_HDR], *hvalue[TS_MAX_HDR];
    size_t nh;
    struct timespec at;
} ts_request;

typedef struct ts_response {
    int status;
    const char *body;
    const char *headers[6];     /* "Name: value" */
    int delay_ms;
} ts_response;

typedef struct testsrv testsrv;
typedef ts_response (*ts_handler)(testsrv *s, const ts_request *rq);

struct testsrv {
    struct MHD_Daemon *d;
    int port;
    bool tls;
    char *cert_pem, *key_pem;
    char ca_path[64];
    pthread_mutex_t mu;
    ts_request req[TS_MAX_REQ];
    size_t nreq;
    ts_response script[32];
    size_t nscript, next;
    ts_handler handler;
    void *ud;
};

typedef struct ts_conn {
    bool started;
    char uri[8192];
    char *body;
    size_t len;
} ts_conn;

static __attribute__((unused)) void *ts_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    ts_conn *k = calloc(1, sizeof *k);
    snprintf(k->uri, sizeof k->uri, "%s", uri);
    return k;
}

static enum MHD_Result ts_collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    ts_request *r = cls;
    if (r->nh < TS_MAX_HDR) {
        r->hname[r->nh] = strdup(key);
        r->hvalue[r->nh] = strdup(value ? value : "");
        r->nh++;
    }
    return MHD_YES;
}

static enum MHD_Result ts_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    testsrv *s = cls;
    ts_conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        snprintf(k->uri, sizeof k->uri, "%s", url);
        *con_cls = k;
    }
    if (!k->started) {          /* the first call only announces the request */
        k->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        k->body = realloc(k->body, k->len + *upload_size + 1);
        memcpy(k->body + k->len, upload, *upload_size);
        k->len += *upload_size;
        k->body[k->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    ts_request rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.method, sizeof rq.method, "%s", method);
    snprintf(rq.uri, sizeof rq.uri, "%s", k->uri);
    rq.body = k->body ? k->body : strdup("");
    rq.body_len = k->len;
    k->body = NULL;
    clock_gettime(CLOCK_MONOTONIC, &rq.at);
    MHD_get_connection_values(c, MHD_HEADER_KIND, ts_collect_header, &rq);

    pthread_mutex_lock(&s->mu);
    size_t idx = s->nreq;
    if (s->nreq < TS_MAX_REQ)
        s->req[s->nreq++] = rq;
    ts_response resp = {200, "", {NULL}, 0};
    if (s->handler) {
        pthread_mutex_unlock(&s->mu);
        resp = s->handler(s, &s->req[idx < TS_MAX_REQ ? idx : TS_MAX_REQ - 1]);
        pthread_mutex_lock(&s->mu);
    } else if (s->nscript) {
        resp = s->script[s->next < s->nscript ? s->next : s->nscript - 1];
        s->next++;
    }
    pthread_mutex_unlock(&s->mu);
    if (idx >= TS_MAX_REQ) {
        free(rq.body);
        for (size_t i = 0; i < rq.nh; i++) {
            free(rq.hname[i]);
            free(rq.hvalue[i]);
        }
    }
    if (resp.delay_ms > 0)
        usleep((useconds_t)resp.delay_ms * 1000);
    const char *b = resp.body ? resp.body : "";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(b), (void *)b,
                                                             MHD_RESPMEM_MUST_COPY);
    for (int i = 0; i < 6 && resp.headers[i]; i++) {
        char name[128];
        const char *colon = strchr(resp.headers[i], ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - resp.headers[i]), resp.headers[i]);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        MHD_add_response_header(r, name, v);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

static __attribute__((unused)) void ts_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ts_conn *k = *con_cls;
    if (k) {
        free(k->body);
        free(k);
    }
    *con_cls = NULL;
}

/* A self-signed P-256 certificate for 127.0.0.1 / localhost. */
static __attribute__((unused)) void ts_make_cert(testsrv *s)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
                                              "IP:127.0.0.1,DNS:localhost");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long len = BIO_get_mem_data(b, &p);
    s->cert_pem = strndup(p, (size_t)len);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    len = BIO_get_mem_data(b, &p);
    s->key_pem = strndup(p, (size_t)len);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    snprintf(s->ca_path, sizeof s->ca_path, "/tmp/canaryd-test-ca.XXXXXX");
    int fd = mkstemp(s->ca_path);
    if (fd >= 0) {
        if (write(fd, s->cert_pem, strlen(s->cert_pem)) < 0)
            perror("write");
        close(fd);
    }
}

/* Starts the server; returns its port, or -1. */
static __attribute__((unused)) int testsrv_start(testsrv *s, bool tls)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->tls = tls;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (tls) {
        ts_make_cert(s);
        flags |= MHD_USE_TLS;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000001);
    sa.sin_port = 0;
    if (tls)
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, ts_access, s, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_URI_LOG_CALLBACK, ts_uri_log, NULL,
                                MHD_OPTION_NOTIFY_COMPLETED, ts_completed, NULL,
                                MHD_OPTION_HTTPS_MEM_KEY, s->key_pem, MHD_OPTION_HTTPS_MEM_CERT,
                                s->cert_pem, MHD_OPTION_END);
    else
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, ts_access, s, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_URI_LOG_CALLBACK, ts_uri_log, NULL,
                                MHD_OPTION_NOTIFY_COMPLETED, ts_completed, NULL, MHD_OPTION_END);
    if (!s->d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : -1;
    return s->port;
}

static __attribute__((unused)) void testsrv_reset(testsrv *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nreq; i++) {
        free(s->req[i].body);
        for (size_t j = 0; j < s->req[i].nh; j++) {
            free(s->req[i].hname[j]);
            free(s->req[i].hvalue[j]);
        }
    }
    s->nreq = 0;
    s->nscript = 0;
    s->next = 0;
    s->handler = NULL;
    pthread_mutex_unlock(&s->mu);
}

static __attribute__((unused)) void testsrv_stop(testsrv *s)
{
    if (s->d)
        MHD_stop_daemon(s->d);
    s->d = NULL;
    testsrv_reset(s);
    if (s->ca_path[0])
        unlink(s->ca_path);
    free(s->cert_pem);
    free(s->key_pem);
    pthread_mutex_destroy(&s->mu);
}

/* Queues a response: status, body, then up to 6 "Name: value" headers. */
static __attribute__((unused)) void testsrv_push(testsrv *s, int status, const char *body, int delay_ms, const char *h1,
                         const char *h2)
{
    pthread_mutex_lock(&s->mu);
    ts_response r = {status, body, {h1, h2, NULL}, delay_ms};
    if (s->nscript < 32)
        s->script[s->nscript++] = r;
    pthread_mutex_unlock(&s->mu);
}

static __attribute__((unused)) size_t testsrv_count(testsrv *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static __attribute__((unused)) const char *ts_header(const ts_request *r, const char *name)
{
    for (size_t i = 0; i < r->nh; i++)
        if (!strcasecmp(r->hname[i], name))
            return r->hvalue[i];
    return NULL;
}

/* "http(s)://127.0.0.1:<port><path>" in a static buffer (one at a time). */
static __attribute__((unused)) const char *testsrv_url(const testsrv *s, const char *path)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s://127.0.0.1:%d%s", s->tls ? "https" : "http", s->port,
             path ? path : "");
    return buf[k];
}

static int ts_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The decoded value of query parameter key of the raw URI (malloc'd), or NULL. */
static __attribute__((unused)) char *ts_query_param(const ts_request *r, const char *key)
{
    const char *q = strchr(r->uri, '?');
    if (!q)
        return NULL;
    q++;
    size_t kl = strlen(key);
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > kl && !strncmp(q, key, kl) && q[kl] == '=') {
            char *out = malloc(len + 1);
            size_t o = 0;
            for (size_t i = kl + 1; i < len; i++) {
                if (q[i] == '+') {
                    out[o++] = ' ';
                } else if (q[i] == '%' && i + 2 < len + 1 && ts_hexval(q[i + 1]) >= 0 &&
                           ts_hexval(q[i + 2]) >= 0) {
                    out[o++] = (char)(ts_hexval(q[i + 1]) * 16 + ts_hexval(q[i + 2]));
                    i += 2;
                } else {
                    out[o++] = q[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        q = amp ? amp + 1 : q + len;
    }
    return NULL;
}

#endif
