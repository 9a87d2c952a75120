/* proxy.c - exchanges: one client request and its response. Routes the
 * request (table/route.c), writes the rewritten head and streams the body
 * to a backend connection, streams the response back (raw bytes, or
 * de-chunked for HTTP/1.0 clients) with backpressure in both directions,
 * retries failed attempts within the route's policy, answers 502/503/504
 * when a backend fails, sends mirrored copies whose responses are
 * measured and discarded, and records statistics when it completes.
 * Bodies are never buffered whole: each direction holds one buffer.
 * Must not block; every function that may free the exchange says so by
 * returning -1. */
#include "router/datapath/http.h"
#include "router/datapath/proxy.h"
#include "util/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- parser callbacks: header spans as offsets into the input buffer ---- */

static int span_field(rt_exchange *ex, const char *base, const char *at, size_t len)
{
    if (!ex)
        return HPE_USER;
    uint32_t off = (uint32_t)(at - base);
    if (ex->hstate != RT_HS_FIELD) {
        if (ex->nh >= RT_HDR_CAP || ex->nh >= rt_cfg.max_headers) {
            ex->hdr_overflow = true;
            return HPE_USER;
        }
        rt_hspan *h = &ex->h[ex->nh++];
        h->no = off;
        h->nl = (uint32_t)len;
        h->vo = off;
        h->vl = 0;
        ex->hstate = RT_HS_FIELD;
    } else {
        ex->h[ex->nh - 1].nl += (uint32_t)len;
    }
    return 0;
}

static int span_value(rt_exchange *ex, const char *base, const char *at, size_t len)
{
    /* a value belongs to the field just read (never to an earlier one) */
    if (!ex || !ex->nh || ex->hstate < RT_HS_FIELD_DONE)
        return HPE_USER;
    rt_hspan *h = &ex->h[ex->nh - 1];
    if (ex->hstate == RT_HS_FIELD_DONE) {
        h->vo = (uint32_t)(at - base);
        h->vl = (uint32_t)len;
        ex->hstate = RT_HS_VALUE;
    } else {
        h->vl += (uint32_t)len;
    }
    return 0;
}

static rt_exchange *req_ex(llhttp_t *p) { return ((rt_client *)p->data)->ex; }
static const char *req_base(llhttp_t *p) { return ((rt_client *)p->data)->in->data; }
static rt_exchange *resp_ex(llhttp_t *p) { return ((rt_upconn *)p->data)->ex; }
static const char *resp_base(llhttp_t *p) { return ((rt_upconn *)p->data)->in->data; }

static int rq_begin(llhttp_t *p)
{
    rt_client *c = p->data;
    if (!c->ex)
        c->ex = rt_exchange_new(c->w, c);
    return 0;
}

static int rq_url(llhttp_t *p, const char *at, size_t len)
{
    rt_exchange *ex = req_ex(p);
    if (!ex)
        return HPE_USER;
    if (!ex->url_l)
        ex->url_o = (uint32_t)(at - req_base(p));
    ex->url_l += (uint32_t)len;
    return 0;
}

/* Request trailers are checked by the chunk scanner and forwarded as
 * they are; the spans meanwhile hold the response's headers. */
static bool trailing(const llhttp_t *p) { return (p->flags & F_TRAILING) != 0; }

static int rq_field(llhttp_t *p, const char *at, size_t len)
{
    return trailing(p) ? 0 : span_field(req_ex(p), req_base(p), at, len);
}
static int rq_value(llhttp_t *p, const char *at, size_t len)
{
    return trailing(p) ? 0 : span_value(req_ex(p), req_base(p), at, len);
}
static int rp_field(llhttp_t *p, const char *at, size_t len) { return span_field(resp_ex(p), resp_base(p), at, len); }
static int rp_value(llhttp_t *p, const char *at, size_t len) { return span_value(resp_ex(p), resp_base(p), at, len); }

static int field_done(rt_exchange *ex)
{
    if (ex)
        ex->hstate = RT_HS_FIELD_DONE;
    return 0;
}
static int value_done(rt_exchange *ex)
{
    if (ex) {
        if (ex->hstate == RT_HS_FIELD_DONE && ex->nh)    /* empty value */
            ex->h[ex->nh - 1].vl = 0;
        ex->hstate = RT_HS_NEXT;
    }
    return 0;
}
static int rq_field_done(llhttp_t *p) { return trailing(p) ? 0 : field_done(req_ex(p)); }
static int rq_value_done(llhttp_t *p) { return trailing(p) ? 0 : value_done(req_ex(p)); }
static int rp_field_done(llhttp_t *p) { return field_done(resp_ex(p)); }
static int rp_value_done(llhttp_t *p) { return value_done(resp_ex(p)); }

static int pause_cb(llhttp_t *p) { return HPE_PAUSED; }

static int rq_message_done(llhttp_t *p)
{
    rt_exchange *ex = req_ex(p);
    if (ex)
        ex->req_done = true;
    return HPE_PAUSED;
}

static int rp_status(llhttp_t *p, const char *at, size_t len)
{
    rt_exchange *ex = resp_ex(p);
    if (!ex)
        return HPE_USER;
    if (!ex->reason_l)
        ex->reason_o = (uint32_t)(at - resp_base(p));
    ex->reason_l += (uint32_t)len;
    return 0;
}

/* De-chunking in place: decoded bytes move down to the forward mark. */
static int rp_body_dechunk(llhttp_t *p, const char *at, size_t len)
{
    rt_upconn *u = p->data;
    rt_iobuf *in = u->in;
    memmove(in->data + in->f, at, len);
    in->f += (uint32_t)len;
    return 0;
}

const llhttp_settings_t rt_request_settings = {
    .on_message_begin = rq_begin,
    .on_url = rq_url,
    .on_header_field = rq_field,
    .on_header_value = rq_value,
    .on_header_field_complete = rq_field_done,
    .on_header_value_complete = rq_value_done,
    .on_headers_complete = pause_cb,
    .on_message_complete = rq_message_done,
};

const llhttp_settings_t rt_response_settings = {
    .on_status = rp_status,
    .on_header_field = rp_field,
    .on_header_value = rp_value,
    .on_header_field_complete = rp_field_done,
    .on_header_value_complete = rp_value_done,
    .on_headers_complete = pause_cb,
    .on_message_complete = pause_cb,
};

static const llhttp_settings_t response_dechunk_settings = {
    .on_status = rp_status,
    .on_header_field = rp_field,
    .on_header_value = rp_value,
    .on_header_field_complete = rp_field_done,
    .on_header_value_complete = rp_value_done,
    .on_headers_complete = pause_cb,
    .on_body = rp_body_dechunk,
    .on_message_complete = pause_cb,
};

static void dequeue(rt_exchange *ex);

/* ---- allocation ---- */

rt_exchange *rt_exchange_new(rt_worker *w, rt_client *c)
{
    rt_exchange *ex = rt_slab_alloc(&w->exchange_slab);
    ex->w = w;
    ex->c = c;
    w->started++;
    return ex;
}

static void put_exchange(rt_exchange *ex)
{
    rt_worker *w = ex->w;
    if (ex->role == RT_MIRROR)
        w->nmirrors--;
    cd_buf_free(&ex->mbuf);
    rt_slab_free(&w->exchange_slab, ex);
}

void rt_exchange_free(rt_exchange *ex)
{
    rt_worker *w = ex->w;
    dequeue(ex);
    if (ex->mirror) {
        rt_exchange *m = ex->mirror;
        ex->mirror = NULL;
        m->parent = NULL;
        if (!m->mirror_complete)
            rt_exchange_abort(m);
    }
    if (ex->parent) {
        ex->parent->mirror = NULL;
        ex->parent = NULL;
    }
    if (ex->u) {
        rt_upconn_close(ex->u);
        ex->u = NULL;
    }
    rt_buf_put(w, ex->hb);
    ex->hb = NULL;
    if (ex->snap)
        rt_worker_unhold(w, ex->snap);
    ex->snap = NULL;
    put_exchange(ex);
}

/* ---- statistics ---- */

static rt_bstats *attempt_stats(const rt_exchange *ex)
{
    if (!ex->be)
        return NULL;
    return ex->role == RT_MIRROR ? ex->be->mirror_stats : ex->be->stats;
}

static rt_gstats *group_stats(const rt_exchange *ex)
{
    if (ex->role == RT_MIRROR)
        return ex->route ? ex->route->mirror_stats : NULL;
    return ex->group ? ex->group->stats : NULL;
}

static void set_active(rt_exchange *ex, int64_t d)
{
    rt_bstats *bs = attempt_stats(ex);
    if (bs)
        rt_gauge_add(&bs->shards[ex->w->id].rq_active, d);
}

static void record(rt_exchange *ex, unsigned status)
{
    rt_worker *w = ex->w;
    int64_t lat_ns = now_ns() - ex->t0_ns;
    uint32_t us = lat_ns <= 0 ? 0 : lat_ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(lat_ns / 1000);
    rt_bstats *bs = attempt_stats(ex);
    if (bs) {
        rt_bstats_shard *s = &bs->shards[w->id];
        rt_bstats_record(bs, w->id, status, us);
        rt_ctr_add(&s->bytes_rx, ex->bytes_rx);
        rt_ctr_add(&s->bytes_tx, ex->bytes_tx);
    }
    rt_gstats *gs = group_stats(ex);
    if (gs && rt_gstats_record(gs, w->id, status, us, cd_wall_ms()))
        rt_worker_mark_dirty(w, gs);
}

/* ---- timers ---- */

static void arm_upstream(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    if (!u)
        return;
    int64_t now = ex->w->loop.now;
    int64_t at = now + rt_cfg.read_timeout_ms;
    if (ex->deadline && ex->deadline < at)
        at = ex->deadline;
    if (!ex->resp_head && ex->try_deadline && ex->try_deadline < at)
        at = ex->try_deadline;
    if (rt_timer_armed(&u->timer) && u->timer.at <= at && u->timer.at + 100 >= at)
        return;
    rt_upconn_arm_timer(u, at);
}

static void clear_client_timer(rt_exchange *ex)
{
    if (ex->c && rt_timer_armed(&ex->c->timer))
        rt_timer_clear(&ex->w->loop, &ex->c->timer);
}

/* ---- completion ---- */

static void finish(rt_exchange *ex)
{
    record(ex, ex->status);
    set_active(ex, -1);
    rt_upconn *u = ex->u;
    ex->u = NULL;
    if (u)
        rt_upconn_release(u, ex->resp_keep_alive && ex->req_sent);
    rt_client *c = ex->c;
    bool close_conn = ex->close_after || !ex->req_done || !ex->client_keep_alive;
    if (ex->be && ex->be->ep)
        rt_endpoint_success(ex->be->ep);
    rt_exchange_free(ex);
    if (c)
        rt_client_exchange_done(c, close_conn);
}

/* The response cannot be completed: close the client (if any). */
static void abort_with(rt_exchange *ex, unsigned status)
{
    record(ex, status);
    set_active(ex, -1);
    rt_client *c = ex->c;
    if (c) {
        c->ex = NULL;
        ex->c = NULL;
    }
    rt_exchange_free(ex);
    if (c)
        rt_client_close(c);
}

/* Answers a canned error (nothing was sent to the client yet). */
static void respond_error(rt_exchange *ex, unsigned status)
{
    if (ex->resp_started) {
        abort_with(ex, status);
        return;
    }
    record(ex, status);
    set_active(ex, -1);
    rt_client *c = ex->c;
    if (c) {
        c->ex = NULL;
        ex->c = NULL;
    }
    rt_exchange_free(ex);
    if (c)
        rt_client_fail(c, rt_error_response(status));
}

void rt_exchange_abort(rt_exchange *ex)
{
    set_active(ex, -1);
    if (ex->c) {
        ex->c->ex = NULL;
        ex->c = NULL;
    }
    rt_exchange_free(ex);
}

/* ---- attempts ---- */

static int start_attempt(rt_exchange *ex, const rt_backend *avoid);
static void pump(rt_exchange *ex);

static bool retry_allowed(const rt_exchange *ex, rt_failure f)
{
    const rt_route *r = ex->route;
    if (ex->role == RT_MIRROR || ex->resp_started || !r)
        return false;
    if (ex->attempt >= r->retry_attempts)
        return false;
    if (f == EX_FAIL_CONNECT)
        return (r->retry_on & RT_RETRY_CONNECT) != 0;
    if (!rt_method_idempotent(ex->method) || !ex->replayable)
        return false;
    if (f == EX_FAIL_RESET)
        return (r->retry_on & RT_RETRY_RESET) != 0;
    if (f == EX_FAIL_TIMEOUT)
        return (r->retry_on & RT_RETRY_GATEWAY) != 0;
    return false;
}

static unsigned failure_status(rt_failure f)
{
    switch (f) {
    case EX_FAIL_CONNECT: return 503;
    case EX_FAIL_TIMEOUT: return 504;
    default: return 502;
    }
}

/* Makes the request ready to be sent again from its first byte. */
static void rewind_request(rt_exchange *ex)
{
    ex->hsent = 0;
    ex->msent = 0;
    ex->req_sent = false;
    ex->nh = 0;
    ex->hstate = RT_HS_NEXT;
    if (ex->c && ex->c->in)
        ex->c->in->r = ex->body_o;
}

static int rewind_and_retry(rt_exchange *ex)
{
    const rt_backend *failed = ex->be;
    ex->attempt++;
    rewind_request(ex);
    ex->reason_l = 0;
    ex->interim = 0;
    ex->bytes_rx = 0;
    ex->bytes_tx = 0;
    return start_attempt(ex, failed);
}

/* A connection to the backend failed before a response could be sent:
 * retry or answer 502/503/504. Frees or restarts ex; returns -1. */
static int attempt_failed(rt_exchange *ex, rt_failure f)
{
    rt_worker *w = ex->w;
    rt_bstats *bs = attempt_stats(ex);
    rt_upconn *u = ex->u;
    bool stale = u && u->reused && !u->got_bytes && f == EX_FAIL_RESET;
    if (bs) {
        rt_bstats_shard *s = &bs->shards[w->id];
        if (f == EX_FAIL_CONNECT)
            rt_ctr_add(&s->connect_fail, 1);
        else if (f == EX_FAIL_RESET)
            rt_ctr_add(&s->resets, 1);
        else if (f == EX_FAIL_TIMEOUT)
            rt_ctr_add(&s->timeouts, 1);
    }
    if (ex->be && ex->be->ep && (f == EX_FAIL_CONNECT || (f == EX_FAIL_RESET && !stale)))
        rt_endpoint_failure(ex->be->ep, w->loop.now, rt_cfg.eject_after, rt_cfg.eject_ms);
    if (u) {
        ex->u = NULL;
        rt_upconn_close(u);
    }
    /* A reused keep-alive connection the backend had just closed: try a
     * fresh one once, outside the retry budget, for idempotent requests. */
    if (stale && !ex->resp_started && rt_method_idempotent(ex->method) && ex->replayable &&
        ex->attempt <= (ex->route ? ex->route->retry_attempts : 0)) {
        set_active(ex, -1);
        rewind_request(ex);
        start_attempt(ex, NULL);
        return -1;
    }
    if (retry_allowed(ex, f)) {
        if (bs)
            rt_ctr_add(&bs->shards[w->id].retries, 1);
        set_active(ex, -1);
        rewind_and_retry(ex);
        return -1;
    }
    respond_error(ex, failure_status(f));
    return -1;
}

void rt_exchange_upstream_failed(rt_exchange *ex, rt_failure f) { attempt_failed(ex, f); }

static bool retry_on_status(const rt_exchange *ex, unsigned status)
{
    const rt_route *r = ex->route;
    if (!r || ex->role == RT_MIRROR || ex->attempt >= r->retry_attempts)
        return false;
    if (!rt_method_idempotent(ex->method) || !ex->replayable || !ex->req_done)
        return false;
    if ((r->retry_on & RT_RETRY_5XX) && status >= 500 && status <= 599)
        return true;
    return (r->retry_on & RT_RETRY_GATEWAY) && (status == 502 || status == 503 || status == 504);
}

/* Returns -1 if ex was freed. */
static int start_attempt(rt_exchange *ex, const rt_backend *avoid)
{
    rt_worker *w = ex->w;
    rt_backend *be = rt_group_pick(ex->group, w->id, w->loop.now, avoid);
    if (!be) {
        rt_gstats *gs = group_stats(ex);
        if (gs)
            rt_ctr_add(&gs->shards[w->id].no_backend, 1);
        ex->be = NULL;
        respond_error(ex, 503);
        return -1;
    }
    ex->be = be;
    set_active(ex, 1);
    const rt_route *r = ex->route;
    int64_t cto = r->connect_timeout_ms ? r->connect_timeout_ms : rt_cfg.connect_timeout_ms;
    int err = 0;
    rt_upconn *u = rt_upconn_acquire(w, be->ep, cto, &err);
    if (!u) {
        rt_ctr_add(&be->ep->shards[w->id].cx_connect_fail, 1);
        return attempt_failed(ex, EX_FAIL_CONNECT);
    }
    u->ex = ex;
    u->got_bytes = false;
    ex->u = u;
    ex->try_deadline = r->per_try_timeout_ms ? w->loop.now + r->per_try_timeout_ms : 0;
    if (u->state == U_BUSY)
        arm_upstream(ex);
    pump(ex);
    return -1;
}

/* ---- request direction ---- */

static void pump(rt_exchange *ex);

static void mirror_append(rt_exchange *ex, const char *p, size_t n)
{
    rt_exchange *m = ex->mirror;
    if (!m || !n)
        return;
    if (m->mbuf.len + n > rt_cfg.mirror_max_body + rt_cfg.buf_size) {
        ex->mirror = NULL;
        m->parent = NULL;
        rt_exchange_abort(m);
        return;
    }
    cd_buf_append(&m->mbuf, p, n);
    pump(m);
}

static void mirror_request_complete(rt_exchange *ex)
{
    rt_exchange *m = ex->mirror;
    if (!m)
        return;
    m->mirror_complete = true;
    m->req_done = true;
    pump(m);
}

static void refused_log(const rt_exchange *ex, unsigned status, const char *why)
{
    __atomic_fetch_add(&ex->w->parse_errors, 1, __ATOMIC_RELAXED);
    if (cd_log_get_level() <= CD_LOG_DEBUG)
        cd_debug("router: request from %s refused (%u): %s", ex->c ? ex->c->ip : "?", status, why);
}

/* The request body is malformed: 400, or the connection closed when the
 * response has started. Nothing of the bad bytes was forwarded; the
 * backend connection is closed with the exchange. Returns -1. */
static int body_error(rt_exchange *ex, const char *why)
{
    refused_log(ex, 400, why);
    if (ex->resp_started)
        abort_with(ex, 400);
    else
        respond_error(ex, 400);
    return -1;
}

/* Runs the request parser over buffered body bytes. A chunked body goes
 * through the chunk scanner first, which must agree with llhttp on where
 * it ends; only checked bytes are marked for forwarding. */
static int parse_req_body(rt_exchange *ex)
{
    rt_client *c = ex->c;
    rt_iobuf *in = c->in;
    uint32_t from = in->p;
    size_t n = in->w - in->p;
    int scanned = 0;
    if (ex->chunked) {
        const char *why = NULL;
        size_t used = n;
        scanned = rt_chunk_scan_feed(&ex->cscan, in->data + from, n, &used, &why);
        if (scanned < 0)
            return body_error(ex, why);
        n = used;
    }
    llhttp_errno_t err = llhttp_execute(&c->parser, in->data + from, n);
    if (err == HPE_OK) {
        if (scanned == 1)
            return body_error(ex, "chunked body end seen differently by llhttp");
        in->p = from + (uint32_t)n;
    } else if (err == HPE_PAUSED) {
        in->p = (uint32_t)(llhttp_get_error_pos(&c->parser) - in->data);
        llhttp_resume(&c->parser);
        if (ex->chunked && (scanned != 1 || in->p != from + n))
            return body_error(ex, "chunked body end seen differently by llhttp");
        ex->req_done = true;
    } else {
        const char *why = llhttp_get_error_reason(&c->parser);
        return body_error(ex, why && *why ? why : llhttp_errno_name(err));
    }
    in->f = in->p;
    mirror_append(ex, in->data + from, in->p - from);
    if (ex->req_done)
        mirror_request_complete(ex);
    return 1;
}

/* Reads more request body from the client. */
static int read_req_body(rt_exchange *ex)
{
    rt_client *c = ex->c;
    rt_iobuf *in = c->in;
    if (!c->readable) {
        rt_client_arm_timer(c);
        return 0;
    }
    if (in->r == in->w) {
        if (in->w > ex->body_o)
            ex->replayable = false;
        in->r = in->p = in->f = in->w = 0;
        ex->body_o = 0;
    } else if (in->w == rt_cfg.buf_size) {
        if (in->r == 0)
            return 0;       /* full: the backend must take bytes first */
        ex->replayable = false;
        rt_buf_compact(in);
        ex->body_o = 0;
    }
    size_t want = rt_cfg.buf_size - in->w;
    ssize_t n = read(c->io.fd, in->data + in->w, want);
    if (n > 0) {
        if ((size_t)n < want)
            c->readable = false;
        in->w += (uint32_t)n;
        clear_client_timer(ex);
        return 1;
    }
    if (n < 0 && errno == EINTR)
        return 1;
    if (n < 0 && errno == EAGAIN) {
        c->readable = false;
        rt_client_arm_timer(c);
        return 0;
    }
    /* the client went away in the middle of its request */
    __atomic_fetch_add(&ex->w->client_aborts, 1, __ATOMIC_RELAXED);
    abort_with(ex, 400);
    return -1;
}

static int req_step_mirror(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    if (ex->msent == ex->mbuf.len) {
        if (ex->mirror_complete) {
            ex->req_sent = true;
            arm_upstream(ex);
        }
        return 0;
    }
    if (!u->writable)
        return 0;
    ssize_t n = send(u->io.fd, ex->mbuf.data + ex->msent, ex->mbuf.len - ex->msent, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            u->writable = errno == EINTR;
            arm_upstream(ex);
            return 0;
        }
        return attempt_failed(ex, EX_FAIL_RESET);
    }
    ex->msent += (uint32_t)n;
    ex->bytes_tx += (uint64_t)n;
    return 1;
}

static int req_step(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    if (ex->req_sent || ex->resp_done || !u || u->state != U_BUSY)
        return 0;
    if (ex->role == RT_MIRROR)
        return req_step_mirror(ex);
    rt_client *c = ex->c;
    rt_iobuf *in = c->in;
    struct iovec iov[2];
    int cnt = 0;
    if (ex->hsent < ex->hlen)
        iov[cnt++] = (struct iovec){ex->hb->data + ex->hsent, ex->hlen - ex->hsent};
    if (in->r < in->f)
        iov[cnt++] = (struct iovec){in->data + in->r, in->f - in->r};
    if (!cnt) {
        if (ex->req_done) {
            ex->req_sent = true;
            arm_upstream(ex);
            return 1;
        }
        if (in->p < in->w)
            return parse_req_body(ex);
        return read_req_body(ex);
    }
    if (!u->writable)
        return 0;
    ssize_t n = writev(u->io.fd, iov, cnt);
    if (n < 0) {
        if (errno == EINTR)
            return 1;
        if (errno == EAGAIN) {
            u->writable = false;
            arm_upstream(ex);
            return 0;
        }
        if (ex->resp_head) {
            /* the backend answered and stopped reading: keep its answer */
            ex->req_sent = true;
            ex->close_after = true;
            return 1;
        }
        return attempt_failed(ex, EX_FAIL_RESET);
    }
    ex->bytes_tx += (uint64_t)n;
    uint32_t hrem = ex->hlen - ex->hsent;
    if ((uint32_t)n <= hrem) {
        ex->hsent += (uint32_t)n;
    } else {
        ex->hsent = ex->hlen;
        in->r += (uint32_t)n - hrem;
    }
    return 1;
}

/* ---- response direction ---- */

static void collect_headers(const rt_exchange *ex, const char *base, rt_header *hs)
{
    for (uint16_t i = 0; i < ex->nh; i++)
        hs[i] = (rt_header){base + ex->h[i].no, base + ex->h[i].vo, ex->h[i].nl, ex->h[i].vl};
}

static const char *cookie_line(const rt_exchange *ex)
{
    const rt_affinity *a = &ex->route->affinity;
    switch (ex->dec.cookie) {
    case RT_COOKIE_CANARY: return a->set_canary;
    case RT_COOKIE_PRIMARY: return a->set_primary;
    case RT_COOKIE_EXPIRE: return ex->dec.expire_line;
    default: return NULL;
    }
}

/* The backend's response head is parsed (parser paused at its end). */
static int response_head(rt_exchange *ex, uint32_t pos)
{
    rt_upconn *u = ex->u;
    rt_iobuf *in = u->in;
    unsigned status = u->parser.status_code;
    if (status >= 100 && status < 200) {
        if (status == 101)
            return attempt_failed(ex, EX_FAIL_PROTOCOL);
        /* interim responses are not relayed; skip to the final one */
        ex->interim = (uint16_t)status;
        in->r = in->f = pos;
        return 1;
    }
    if (retry_on_status(ex, status)) {
        rt_bstats *bs = attempt_stats(ex);
        if (bs) {
            rt_bstats_record(bs, ex->w->id, status, 0);
            rt_ctr_add(&bs->shards[ex->w->id].retries, 1);
        }
        set_active(ex, -1);
        rt_upconn *uu = ex->u;
        ex->u = NULL;
        rt_upconn_close(uu);
        rewind_and_retry(ex);
        return -1;
    }
    ex->status = (uint16_t)status;
    if (ex->method == HTTP_HEAD)
        u->parser.flags |= F_SKIPBODY;
    in->r = in->f = pos;
    ex->resp_head = true;
    if (ex->role == RT_MIRROR) {
        ex->hlen = ex->hsent = 0;
        return 1;
    }
    bool http10 = ex->http_minor == 0;
    bool chunked = (u->parser.flags & F_CHUNKED) != 0;
    bool no_body = ex->method == HTTP_HEAD || status == 204 || status == 304;
    bool eof_body = !no_body && llhttp_message_needs_eof(&u->parser);
    ex->dechunk = http10 && chunked && !no_body;
    if (ex->dechunk)
        u->parser.settings = (void *)&response_dechunk_settings;
    bool keep = ex->client_keep_alive && !ex->w->draining && !eof_body && !ex->dechunk &&
                ex->req_done;
    ex->close_after = !keep;
    rt_header hs[RT_HDR_CAP];
    collect_headers(ex, in->data, hs);
    for (uint16_t i = 0; i < ex->nh; i++)
        if (!rt_header_name_valid(hs[i].name, hs[i].nlen)) {
            ex->resp_head = false;
            return attempt_failed(ex, EX_FAIL_PROTOCOL);
        }
    const char *extra = cookie_line(ex);
    rt_resp_head rh = {
        .status = status,
        .reason = in->data + ex->reason_o,
        .reason_len = ex->reason_l,
        .headers = hs,
        .nheaders = ex->nh,
        .client_http10 = http10,
        .keep_alive = keep,
        .drop_transfer_encoding = ex->dechunk,
        .extra = extra,
        .extra_len = extra ? strlen(extra) : 0,
    };
    ex->hlen = (uint32_t)rt_build_response_head(ex->hb->data, rt_cfg.buf_size, &rh);
    ex->hsent = 0;
    if (!ex->hlen) {
        ex->resp_head = false;
        return attempt_failed(ex, EX_FAIL_PROTOCOL);
    }
    return 1;
}

static int parse_resp(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    rt_iobuf *in = u->in;
    llhttp_errno_t err = llhttp_execute(&u->parser, in->data + in->p, in->w - in->p);
    if (!ex->resp_head) {
        if (err == HPE_OK) {
            in->p = in->w;
            return ex->hdr_overflow ? attempt_failed(ex, EX_FAIL_PROTOCOL) : 1;
        }
        if (err != HPE_PAUSED)
            return attempt_failed(ex, EX_FAIL_PROTOCOL);
        uint32_t pos = (uint32_t)(llhttp_get_error_pos(&u->parser) - in->data);
        in->p = pos;
        llhttp_resume(&u->parser);
        if (ex->interim) {
            /* end of an interim (1xx) message */
            ex->interim = 0;
            ex->nh = 0;
            ex->hstate = RT_HS_NEXT;
            ex->reason_l = 0;
            in->r = in->f = pos;
            return 1;
        }
        int rc = response_head(ex, pos);
        /* run the parser on at once: a response without a body (HEAD,
         * 204, 304, Content-Length: 0) completes without more bytes */
        if (rc > 0 && ex->resp_head)
            return parse_resp(ex);
        return rc;
    }
    if (err == HPE_OK) {
        in->p = in->w;
    } else if (err == HPE_PAUSED) {
        in->p = (uint32_t)(llhttp_get_error_pos(&u->parser) - in->data);
        llhttp_resume(&u->parser);
        ex->resp_done = true;
        ex->resp_keep_alive = llhttp_should_keep_alive(&u->parser) && in->p == in->w && !u->eof;
    } else {
        /* a malformed body: the client cannot be told any more */
        abort_with(ex, 502);
        return -1;
    }
    if (!ex->dechunk)
        in->f = in->p;
    return 1;
}

static int upstream_eof(rt_exchange *ex, bool reset)
{
    rt_upconn *u = ex->u;
    u->eof = true;
    if (!ex->resp_head)
        return attempt_failed(ex, u->got_bytes ? EX_FAIL_PROTOCOL : EX_FAIL_RESET);
    if (!reset && llhttp_message_needs_eof(&u->parser)) {
        llhttp_errno_t err = llhttp_finish(&u->parser);
        if (err == HPE_OK || err == HPE_PAUSED) {
            ex->resp_done = true;
            ex->resp_keep_alive = false;
            if (!ex->dechunk)
                u->in->f = u->in->p;
            return 1;
        }
    }
    /* the backend went away in the middle of its response */
    rt_bstats *bs = attempt_stats(ex);
    if (bs)
        rt_ctr_add(&bs->shards[ex->w->id].resets, 1);
    abort_with(ex, 502);
    return -1;
}

static int read_resp(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    if (!u->readable) {
        arm_upstream(ex);
        return 0;
    }
    if (!u->in)
        u->in = rt_buf_get(ex->w);
    rt_iobuf *in = u->in;
    if (in->p == in->w && in->r == in->f) {
        in->r = in->p = in->w = in->f = 0;
    } else if (in->w == rt_cfg.buf_size) {
        if (!ex->resp_head)
            return attempt_failed(ex, EX_FAIL_PROTOCOL);    /* head too large */
        if (in->r == 0)
            return 0;                                       /* the client must drain first */
        rt_buf_compact(in);
    }
    size_t want = rt_cfg.buf_size - in->w;
    ssize_t n = read(u->io.fd, in->data + in->w, want);
    if (n > 0) {
        /* a short read drained the socket: epoll (edge-triggered) reports
         * the next bytes, no need to read until EAGAIN */
        if ((size_t)n < want)
            u->readable = false;
        in->w += (uint32_t)n;
        u->got_bytes = true;
        ex->bytes_rx += (uint64_t)n;
        return 1;
    }
    if (n == 0)
        return upstream_eof(ex, false);
    if (errno == EINTR)
        return 1;
    if (errno == EAGAIN) {
        u->readable = false;
        arm_upstream(ex);
        return 0;
    }
    return upstream_eof(ex, true);
}

static int write_resp(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    rt_iobuf *in = u->in;
    bool has_body = in && in->r < in->f;
    if (ex->role == RT_MIRROR) {
        if (in)
            in->r = in->f;
        ex->hsent = ex->hlen;
        return 1;
    }
    rt_client *c = ex->c;
    if (c->sw) {
        int f = rt_client_flush(c);
        if (f <= 0)
            return f;
    }
    if (!c->writable) {
        rt_client_arm_timer(c);
        return 0;
    }
    struct iovec iov[2];
    int cnt = 0;
    if (ex->hsent < ex->hlen)
        iov[cnt++] = (struct iovec){ex->hb->data + ex->hsent, ex->hlen - ex->hsent};
    if (has_body)
        iov[cnt++] = (struct iovec){in->data + in->r, in->f - in->r};
    ssize_t n = writev(c->io.fd, iov, cnt);
    if (n < 0) {
        if (errno == EINTR)
            return 1;
        if (errno == EAGAIN) {
            c->writable = false;
            rt_client_arm_timer(c);
            return 0;
        }
        __atomic_fetch_add(&ex->w->client_aborts, 1, __ATOMIC_RELAXED);
        abort_with(ex, ex->status);
        return -1;
    }
    ex->resp_started = true;
    uint32_t hrem = ex->hlen - ex->hsent;
    if ((uint32_t)n <= hrem) {
        ex->hsent += (uint32_t)n;
    } else {
        ex->hsent = ex->hlen;
        in->r += (uint32_t)n - hrem;
    }
    clear_client_timer(ex);
    return 1;
}

/* Parse what was read before writing it on, so that the head and the
 * first body bytes leave in one writev. */
static int resp_step(rt_exchange *ex)
{
    rt_upconn *u = ex->u;
    if (!u || u->state != U_BUSY)
        return 0;
    if (u->in && u->in->p < u->in->w && !ex->resp_done)
        return parse_resp(ex);
    if (ex->resp_head) {
        rt_iobuf *in = u->in;
        if (ex->hsent < ex->hlen || (in && in->r < in->f))
            return write_resp(ex);
        if (ex->resp_done) {
            finish(ex);
            return -1;
        }
    }
    if (ex->resp_done)
        return 0;
    return read_resp(ex);
}

static void enqueue(rt_exchange *ex)
{
    if (ex->queued != RT_RQ_NONE)
        return;
    rt_worker *w = ex->w;
    ex->queued = RT_RQ_NEXT;
    ex->rq_prev = NULL;
    ex->rq_next = w->runq;
    if (w->runq)
        w->runq->rq_prev = ex;
    w->runq = ex;
}

static void dequeue(rt_exchange *ex)
{
    if (ex->queued == RT_RQ_NONE)
        return;
    rt_worker *w = ex->w;
    rt_exchange **head = ex->queued == RT_RQ_THIS ? &w->runq_cur : &w->runq;
    if (ex->rq_prev)
        ex->rq_prev->rq_next = ex->rq_next;
    else
        *head = ex->rq_next;
    if (ex->rq_next)
        ex->rq_next->rq_prev = ex->rq_prev;
    ex->queued = RT_RQ_NONE;
    ex->rq_prev = ex->rq_next = NULL;
}

/* Moves bytes until both directions block. An exchange that keeps going
 * (a large body between fast peers) yields after PUMP_BUDGET steps and
 * continues after the other connections had their turn. */
#define PUMP_BUDGET 32

static void pump(rt_exchange *ex)
{
    for (int i = 0; i < PUMP_BUDGET; i++) {
        int a = req_step(ex);
        if (a < 0)
            return;
        int b = resp_step(ex);
        if (b < 0)
            return;
        if (!a && !b)
            return;
    }
    enqueue(ex);
}

void rt_exchange_run_queue(rt_worker *w)
{
    /* this round's exchanges stay linked (and freeable) until pumped */
    w->runq_cur = w->runq;
    w->runq = NULL;
    for (rt_exchange *e = w->runq_cur; e; e = e->rq_next)
        e->queued = RT_RQ_THIS;
    while (w->runq_cur) {
        rt_exchange *e = w->runq_cur;
        dequeue(e);
        pump(e);
    }
}

void rt_exchange_client_event(rt_exchange *ex) { pump(ex); }
void rt_exchange_upstream_event(rt_exchange *ex) { pump(ex); }

void rt_exchange_upstream_timeout(rt_exchange *ex)
{
    int64_t now = ex->w->loop.now;
    if (ex->resp_head || (ex->deadline && now >= ex->deadline)) {
        if (!ex->resp_started) {
            rt_bstats *bs = attempt_stats(ex);
            if (bs)
                rt_ctr_add(&bs->shards[ex->w->id].timeouts, 1);
            rt_upconn *u = ex->u;
            ex->u = NULL;
            rt_upconn_close(u);
            respond_error(ex, 504);
            return;
        }
        rt_bstats *bs = attempt_stats(ex);
        if (bs)
            rt_ctr_add(&bs->shards[ex->w->id].timeouts, 1);
        abort_with(ex, 504);
        return;
    }
    attempt_failed(ex, EX_FAIL_TIMEOUT);
}

/* ---- starting ---- */

static bool find_header(const rt_header *hs, size_t n, const char *name, const rt_header **out,
                        int *count)
{
    size_t nl = strlen(name);
    *count = 0;
    for (size_t i = 0; i < n; i++)
        if (hs[i].nlen == nl && !strncasecmp(hs[i].name, name, nl)) {
            if (!*count)
                *out = &hs[i];
            (*count)++;
        }
    return *count > 0;
}

/* Copies in flight per worker: a canary that stops answering must not
 * pile up connections and buffers without bound. */
#define RT_MAX_MIRRORS 4096

static void start_mirror(rt_exchange *ex, const rt_req_head *rh)
{
    rt_worker *w = ex->w;
    rt_route *r = (rt_route *)ex->route;
    rt_group *g = &r->groups[RT_CANARY];
    rt_backend *be = rt_group_pick(g, w->id, w->loop.now, NULL);
    if (!r->mirror_stats)
        return;
    if (!be || !be->mirror_stats || w->nmirrors >= RT_MAX_MIRRORS) {
        /* no canary to copy to (or too many copies still waiting on it):
         * the mirror group sees a 503, as clients of an unavailable group
         * would */
        rt_ctr_add(&r->mirror_stats->shards[w->id].no_backend, 1);
        if (rt_gstats_record(r->mirror_stats, w->id, 503, 0, cd_wall_ms()))
            rt_worker_mark_dirty(w, r->mirror_stats);
        return;
    }
    rt_exchange *m = rt_exchange_new(w, NULL);
    w->nmirrors++;
    m->snap = rt_worker_hold(w);
    m->route = r;
    m->group = g;
    m->role = RT_MIRROR;
    m->be = be;
    m->method = ex->method;
    m->http_minor = 1;
    m->t0_ns = ex->t0_ns;
    m->deadline = ex->deadline;
    m->replayable = false;
    cd_buf_reserve(&m->mbuf, rt_cfg.buf_size);
    rt_req_head mh = *rh;
    mh.shadow = true;
    size_t n = rt_build_request_head(m->mbuf.data, rt_cfg.buf_size, &mh);
    if (!n) {
        rt_exchange_free(m);
        return;
    }
    m->mbuf.len = n;
    m->parent = ex;
    ex->mirror = m;
    set_active(m, 1);
    int err = 0;
    rt_upconn *u = rt_upconn_acquire(w, be->ep, rt_cfg.connect_timeout_ms, &err);
    if (!u) {
        ex->mirror = NULL;
        m->parent = NULL;
        rt_ctr_add(&be->mirror_stats->shards[w->id].connect_fail, 1);
        respond_error(m, 503);
        return;
    }
    u->ex = m;
    m->u = u;
    if (u->state == U_BUSY)
        pump(m);
}

void rt_exchange_start(rt_exchange *ex)
{
    rt_worker *w = ex->w;
    rt_client *c = ex->c;
    rt_iobuf *in = c->in;
    llhttp_t *p = &c->parser;
    ex->t0_ns = now_ns();
    ex->method = p->method;
    ex->http_minor = p->http_minor;
    ex->client_keep_alive = llhttp_should_keep_alive(p);
    ex->has_body = (p->flags & F_CHUNKED) || p->content_length > 0;
    ex->body_o = in->r = in->f = in->p;
    ex->replayable = true;
    ex->snap = rt_worker_hold(w);
    if (p->http_major != 1) {
        refused_log(ex, 505, "an HTTP version other than 1.x");
        respond_error(ex, 505);
        return;
    }
    if (p->method == HTTP_CONNECT) {
        respond_error(ex, 405);
        return;
    }
    p->upgrade = 0;     /* Upgrade is hop-by-hop: never switch protocols */
    rt_header hs[RT_HDR_CAP];
    collect_headers(ex, in->data, hs);
    const char *url = in->data + ex->url_o, *target = url, *auth = NULL;
    size_t url_l = ex->url_l, target_l = url_l, auth_l = 0;
    if (url_l && url[0] != '/' && url[0] != '*') {
        if (!rt_split_absolute(url, url_l, &auth, &auth_l, &target, &target_l)) {
            refused_log(ex, 400, "request target neither origin nor absolute form");
            respond_error(ex, 400);
            return;
        }
    }
    rt_framing fr;
    const char *why = NULL;
    unsigned st = rt_framing_check(hs, ex->nh, ex->http_minor, auth, auth_l, &fr, &why);
    /* llhttp must have read the same framing */
    if (!st && (fr.chunked != ((p->flags & F_CHUNKED) != 0) ||
                (!fr.chunked && fr.length != p->content_length))) {
        st = 400;
        why = "message framing seen differently by llhttp";
    }
    if (st) {
        refused_log(ex, st, why);
        respond_error(ex, st);
        return;
    }
    ex->chunked = fr.chunked;
    if (fr.chunked)
        rt_chunk_scan_init(&ex->cscan, rt_cfg.buf_size);
    const rt_header *host = NULL, *expect = NULL;
    int nhost, nexpect;
    find_header(hs, ex->nh, "host", &host, &nhost);
    if (find_header(hs, ex->nh, "expect", &expect, &nexpect)) {
        if (expect->vlen != 12 || strncasecmp(expect->value, "100-continue", 12)) {
            respond_error(ex, 417);
            return;
        }
        ex->send_continue = ex->has_body && ex->http_minor >= 1;
    }
    rt_reqview q = {.method = llhttp_method_name(p->method), .headers = hs, .nheaders = ex->nh,
                    .listener_id = c->listener_id};
    q.method_len = strlen(q.method);
    const char *qm = memchr(target, '?', target_l);
    q.path = target;
    q.path_len = qm ? (size_t)(qm - target) : target_l;
    q.query = qm ? qm + 1 : "";
    q.query_len = qm ? target_l - q.path_len - 1 : 0;
    if (auth)
        rt_host_without_port(auth, auth_l, &q.host, &q.host_len);
    else if (host)
        rt_host_without_port(host->value, host->vlen, &q.host, &q.host_len);
    const rt_route *route = ex->snap ? rt_route_find(ex->snap, &q) : NULL;
    if (!route) {
        respond_error(ex, 404);
        return;
    }
    uint64_t rnd = rt_rand(w);
    rt_route_decide(route, &q, (uint32_t)rnd, (uint32_t)(rnd >> 32), &ex->dec);
    ex->route = route;
    ex->role = ex->dec.role;
    ex->group = (rt_group *)&route->groups[ex->role];
    ex->deadline = route->timeout_ms ? w->loop.now + route->timeout_ms : 0;
    ex->hb = rt_buf_get(w);
    rt_req_head rh = {
        .method = q.method, .method_len = q.method_len,
        .target = target, .target_len = target_l,
        .authority = auth, .authority_len = auth_l,
        .headers = hs, .nheaders = ex->nh,
        .client_ip = c->ip, .proto = "http",
    };
    ex->hlen = (uint32_t)rt_build_request_head(ex->hb->data, rt_cfg.buf_size, &rh);
    if (!ex->hlen) {
        respond_error(ex, 431);
        return;
    }
    if (ex->dec.mirror)
        start_mirror(ex, &rh);
    if (ex->send_continue && !c->sw) {
        c->sw = rt_resp_100;
        c->swlen = (uint32_t)strlen(rt_resp_100);
        c->close_after_sw = false;
        if (rt_client_flush(c) < 0)
            return;     /* the client went away; ex is gone */
    }
    /* the spans now collect the response's headers */
    ex->nh = 0;
    ex->hstate = RT_HS_NEXT;
    ex->hdr_overflow = false;
    /* a request without a body is complete already */
    if (!ex->has_body && parse_req_body(ex) < 0)
        return;
    start_attempt(ex, NULL);
}
