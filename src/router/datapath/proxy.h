/* proxy.h - the data path's internal types, shared by worker.c (threads,
 * accept, snapshot holding), downstream.c (client connections and
 * request parsing), upstream.c (backend connections and their pools) and
 * proxy.c (exchanges: forwarding, streaming, retries, mirroring, errors).
 * Everything here belongs to exactly one worker thread; nothing is
 * locked. Not for use outside src/router. */
#ifndef CD_ROUTER_PROXY_H
#define CD_ROUTER_PROXY_H
#include "router/datapath/framing.h"
#include "router/io/loop.h"
#include "router/io/slab.h"
#include "router/table/table.h"
#include "util/buf.h"
#include <llhttp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- settings (read-only once workers run) ---- */

typedef struct rt_settings {
    uint32_t buf_size;              /* per-direction buffer; also the head limit */
    uint32_t max_headers;
    int64_t header_timeout_ms;      /* a request head must arrive within */
    int64_t idle_timeout_ms;        /* keep-alive client connections */
    int64_t client_timeout_ms;      /* client inactivity while a request is active */
    int64_t connect_timeout_ms;
    int64_t read_timeout_ms;        /* backend inactivity */
    int64_t pool_idle_ms;           /* idle upstream connections */
    uint32_t pool_max_idle;         /* per backend and worker */
    unsigned eject_after;           /* consecutive failures before ejection */
    int64_t eject_ms;
    uint32_t mirror_max_body;
    int64_t drain_timeout_ms;
    uint32_t max_clients;           /* per worker; 0 = unlimited */
} rt_settings;

extern rt_settings rt_cfg;
void rt_settings_defaults(rt_settings *s);

/* ---- buffers ---- */

typedef struct rt_iobuf {
    uint32_t r;         /* next byte to hand on */
    uint32_t p;         /* parsed up to */
    uint32_t w;         /* end of data */
    uint32_t f;         /* end of bytes that may be forwarded (<= p) */
    char data[];
} rt_iobuf;

struct rt_worker;
rt_iobuf *rt_buf_get(struct rt_worker *w);
void rt_buf_put(struct rt_worker *w, rt_iobuf *b);
/* Moves unconsumed bytes [r, w) to the front. */
void rt_buf_compact(rt_iobuf *b);

/* ---- headers seen by the parser: offsets into a buffer ---- */

typedef struct rt_hspan { uint32_t no, nl, vo, vl; } rt_hspan;

#define RT_HDR_CAP 128

/* ---- exchange: one request and its response ---- */

typedef enum { EX_FAIL_CONNECT, EX_FAIL_RESET, EX_FAIL_TIMEOUT, EX_FAIL_PROTOCOL } rt_failure;

/* Where the header parser stands inside one header line. */
typedef enum {
    RT_HS_NEXT,                     /* between headers: the next field starts one */
    RT_HS_FIELD,                    /* inside a field name */
    RT_HS_FIELD_DONE,               /* the name is complete, no value byte yet */
    RT_HS_VALUE,                    /* inside the value */
} rt_hstate;

/* Whether an exchange is on its worker's run queue, and which one. */
typedef enum {
    RT_RQ_NONE,                     /* not queued */
    RT_RQ_NEXT,                     /* on runq: pumped in the next round */
    RT_RQ_THIS,                     /* on runq_cur: pumped in this round */
} rt_queued;

typedef struct rt_exchange {
    struct rt_worker *w;
    struct rt_client *c;            /* NULL for a mirrored copy */
    struct rt_upconn *u;
    rt_snapshot *snap;
    const rt_route *route;
    rt_group *group;
    rt_backend *be;
    rt_role role;
    rt_decision dec;

    /* request head (offsets into the client buffer) */
    uint32_t url_o, url_l;
    uint16_t nh;
    uint8_t hstate;                 /* an rt_hstate */
    bool hdr_overflow;
    uint32_t reason_o, reason_l;    /* response reason phrase */
    rt_hspan h[RT_HDR_CAP];
    uint8_t method;
    uint8_t http_minor;
    bool client_keep_alive;
    bool req_done;                  /* the whole request was parsed */
    bool req_sent;                  /* ... and written to the backend */
    bool has_body;
    bool replayable;                /* head and body still available for a retry */
    uint32_t body_o;                /* offset of the body in the client buffer */
    bool send_continue;
    bool chunked;                   /* the request body is chunked ... */
    rt_chunk_scan cscan;            /* ... and checked by this as it streams */

    /* upstream request head, then the response head */
    rt_iobuf *hb;
    uint32_t hlen, hsent;

    /* response */
    bool resp_head;                 /* response head received and built */
    bool resp_done;
    bool resp_started;              /* bytes already sent to the client */
    bool resp_keep_alive;           /* the backend connection can be reused */
    bool dechunk;                   /* HTTP/1.0 client, chunked response */
    bool close_after;               /* close the client connection after it */
    uint16_t status;
    uint16_t interim;               /* 1xx being skipped */

    int attempt;                    /* retries done */
    int64_t t0_ns;                  /* request head complete */
    int64_t deadline;               /* route timeout (monotonic ms), 0 none */
    int64_t try_deadline;           /* per-try timeout, 0 none */
    uint64_t bytes_rx, bytes_tx;

    /* mirroring */
    struct rt_exchange *mirror;     /* copy being sent (on the original) */
    struct rt_exchange *parent;     /* original (on the copy), NULL once detached */
    cd_buf mbuf;                    /* the copy's request bytes */
    uint32_t msent;
    bool mirror_complete;           /* every request byte is in mbuf */

    /* run queue: exchanges that used their share of a loop iteration */
    struct rt_exchange *rq_prev, *rq_next;
    uint8_t queued;                 /* an rt_queued */
} rt_exchange;

/* ---- client connection ---- */

typedef enum { C_IDLE, C_HEAD, C_ACTIVE, C_CLOSING } rt_cstate;

typedef struct rt_client {
    rt_io io;
    rt_timer timer;
    struct rt_worker *w;
    uint64_t listener_id;
    llhttp_t parser;
    rt_iobuf *in;
    rt_exchange *ex;
    rt_cstate state;
    bool readable, writable, peer_closed;
    bool lingering;                 /* write side shut, discarding input */
    int64_t head_deadline;
    uint32_t head_o;                /* where the request head being read starts in in */
    const char *sw;                 /* static bytes to write (errors, 100) */
    uint32_t swlen;
    bool close_after_sw;
    uint32_t requests;
    char ip[48];
    struct rt_client *prev, *next;  /* the worker's client list */
} rt_client;

/* ---- upstream connection ---- */

typedef enum { U_CONNECTING, U_BUSY, U_IDLE } rt_ustate;

typedef struct rt_upconn {
    rt_io io;
    rt_timer timer;
    struct rt_worker *w;
    rt_endpoint *ep;
    llhttp_t parser;
    rt_iobuf *in;
    rt_exchange *ex;
    rt_ustate state;
    bool readable, writable;
    bool reused;                    /* served a request before this one */
    bool got_bytes;                 /* response bytes received for ex */
    bool eof;
    int error;                      /* connect error (errno) */
    int64_t idle_since;
    struct rt_upconn *next;         /* pool link */
    struct rt_upconn *aprev, *anext;    /* the worker's list of all upstreams */
} rt_upconn;

/* ---- worker ---- */

typedef struct rt_held { rt_snapshot *s; uint32_t active; } rt_held;

typedef struct rt_lio { rt_io io; rt_listener *l; struct rt_worker *w; } rt_lio;

/* What the main thread asks of a worker. */
typedef enum {
    RT_STOP_NONE,                   /* keep serving */
    RT_STOP_DRAIN,                  /* stop accepting, finish what is open */
    RT_STOP_NOW,                    /* exit at once */
} rt_stop;

typedef struct rt_worker {
    int id;
    rt_loop loop;
    pthread_t thread;
    _Atomic int stop;               /* an rt_stop */
    _Atomic int unlistened;         /* listeners removed from the loop */
    bool draining;
    int64_t drain_deadline;

    rt_snapshot *snap;
    uint64_t snap_version;
    rt_held *held;
    size_t nheld, capheld;

    rt_lio **lios;
    size_t nlios;
    bool accepting;

    rt_iobuf **freebufs;
    size_t nfreebufs;
    rt_slab client_slab, upconn_slab, exchange_slab;
    bool trimmed;                   /* malloc_trim done since the last activity */
    uint64_t started, started_seen; /* exchanges started; value at the last tick */

    rt_client *clients;
    uint32_t nclients;
    rt_upconn *upconns;

    rt_gstats **dirty;
    size_t ndirty, capdirty;

    rt_exchange *runq;              /* exchanges to pump again */
    uint32_t nmirrors;              /* mirrored copies in flight */
    rt_exchange *runq_cur;          /* ... being pumped now */

    rt_timer tick;
    uint64_t rng[4];

    /* worker-level counters (relaxed, read by the admin thread) */
    uint64_t accepted, rejected, parse_errors, client_aborts;
} rt_worker;

/* worker.c */
/* A worker driven by the calling thread, for tests and fuzzing: it routes
 * with the published snapshot but accepts on no listener. */
rt_worker *rt_worker_inline_new(void);
void rt_worker_inline_poll(rt_worker *w, int max_wait_ms);
void rt_worker_inline_free(rt_worker *w);
uint64_t rt_rand(rt_worker *w);
rt_snapshot *rt_worker_hold(rt_worker *w);
void rt_worker_unhold(rt_worker *w, rt_snapshot *s);
void rt_worker_mark_dirty(rt_worker *w, rt_gstats *g);

/* downstream.c */
void rt_client_accept(rt_worker *w, int fd, uint64_t listener_id,
                      const struct sockaddr_storage *peer);
void rt_client_close(rt_client *c);
void rt_client_progress(rt_client *c);
/* Queues a static response and closes the connection after it. */
void rt_client_fail(rt_client *c, const char *response);
/* Refuses a malformed request: counts it, logs why (debug), answers
 * response and closes the connection. */
void rt_client_refuse(rt_client *c, const char *response, const char *why);
/* The exchange is finished: next request or close. */
void rt_client_exchange_done(rt_client *c, bool close);
void rt_client_drain(rt_client *c);
/* Writes pending static bytes (100 Continue): 1 done, 0 pending, -1 the
 * connection was closed (and its exchange freed). */
int rt_client_flush(rt_client *c);
void rt_client_arm_timer(rt_client *c);

/* upstream.c */
rt_upconn *rt_upconn_acquire(rt_worker *w, rt_endpoint *ep, int64_t connect_timeout_ms,
                             int *err);
void rt_upconn_release(rt_upconn *u, bool reusable);   /* to the pool or closed */
void rt_upconn_close(rt_upconn *u);
void rt_upconn_arm_timer(rt_upconn *u, int64_t at);
void rt_pool_close_idle(rt_worker *w, rt_endpoint *ep);
void rt_pool_close_all_idle(rt_worker *w);
extern const llhttp_settings_t rt_response_settings;

/* proxy.c */
rt_exchange *rt_exchange_new(rt_worker *w, rt_client *c);
void rt_exchange_free(rt_exchange *ex);
/* Called once the request head is parsed (client parser paused). */
void rt_exchange_start(rt_exchange *ex);
void rt_exchange_client_event(rt_exchange *ex);
void rt_exchange_upstream_event(rt_exchange *ex);
void rt_exchange_upstream_timeout(rt_exchange *ex);
void rt_exchange_upstream_failed(rt_exchange *ex, rt_failure f);
/* The client went away or failed: drop the exchange. */
void rt_exchange_abort(rt_exchange *ex);
/* Pumps every queued exchange once (worker loop, after each iteration). */
void rt_exchange_run_queue(rt_worker *w);
extern const llhttp_settings_t rt_request_settings;

/* http.c (pure) */
extern const char rt_resp_400[], rt_resp_404[], rt_resp_405[], rt_resp_408[], rt_resp_413[],
    rt_resp_417[], rt_resp_431[], rt_resp_501[], rt_resp_502[], rt_resp_503[], rt_resp_504[],
    rt_resp_505[], rt_resp_100[];
const char *rt_error_response(unsigned status);
bool rt_is_hop_header(const char *name, size_t n);
bool rt_method_idempotent(uint8_t method);
bool rt_connection_lists(const char *conn_value, size_t vlen, const char *name, size_t nlen);
bool rt_header_name_valid(const char *name, size_t n);

#endif
