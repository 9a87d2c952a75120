/* worker.c - the router's worker threads: one epoll loop each, accepting
 * on every listener (shared sockets, EPOLLEXCLUSIVE), holding the routing
 * snapshot each request started with, flushing windowed measurements once
 * a second, and draining on request. Must not block: every socket is
 * non-blocking and the only lock taken is the table's, when the
 * configuration version changed. */
#include "router/datapath/proxy.h"
#include "router/datapath/workers.h"
#include "util/log.h"
#include "util/grow.h"
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

rt_settings rt_cfg;

void rt_settings_defaults(rt_settings *s)
{
    memset(s, 0, sizeof *s);
    s->buf_size = 16384;
    s->max_headers = 100;
    s->header_timeout_ms = 10000;
    s->idle_timeout_ms = 60000;
    s->client_timeout_ms = 30000;
    s->connect_timeout_ms = 2000;
    s->read_timeout_ms = 60000;
    s->pool_idle_ms = 4000;
    s->pool_max_idle = 256;
    s->eject_after = 3;
    s->eject_ms = 10000;
    s->mirror_max_body = 1 << 20;
    s->drain_timeout_ms = 30000;
}

static rt_worker *g_workers;
static int g_nworkers;

/* ---- buffers ---- */

#define RT_FREEBUF_MAX 256

rt_iobuf *rt_buf_get(rt_worker *w)
{
    rt_iobuf *b;
    if (w->nfreebufs)
        b = w->freebufs[--w->nfreebufs];
    else if (!(b = malloc(sizeof *b + rt_cfg.buf_size)))
        abort();
    b->r = b->p = b->w = b->f = 0;
    return b;
}

void rt_buf_put(rt_worker *w, rt_iobuf *b)
{
    if (!b)
        return;
    if (w->nfreebufs < RT_FREEBUF_MAX)
        w->freebufs[w->nfreebufs++] = b;
    else
        free(b);
}

void rt_buf_compact(rt_iobuf *b)
{
    if (b->r == 0)
        return;
    uint32_t n = b->w - b->r;
    if (n)
        memmove(b->data, b->data + b->r, n);
    b->p -= b->r;
    b->f -= b->r;
    b->w = n;
    b->r = 0;
}

/* ---- randomness (xoshiro256**) ---- */

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rt_rand(rt_worker *w)
{
    uint64_t *s = w->rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static void seed_rng(rt_worker *w)
{
    if (getrandom(w->rng, sizeof w->rng, 0) != (ssize_t)sizeof w->rng) {
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)w->id << 32) ^ (uint64_t)(uintptr_t)w;
        for (int i = 0; i < 4; i++) {
            x += 0x9e3779b97f4a7c15ull;
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            w->rng[i] = z ^ (z >> 31);
        }
    }
    if (!(w->rng[0] | w->rng[1] | w->rng[2] | w->rng[3]))
        w->rng[0] = 1;
}

/* ---- snapshot holding ---- */

static rt_held *find_held(rt_worker *w, const rt_snapshot *s)
{
    for (size_t i = 0; i < w->nheld; i++)
        if (w->held[i].s == s)
            return &w->held[i];
    return NULL;
}

static void drop_held(rt_worker *w, rt_held *h)
{
    rt_snapshot *s = h->s;
    *h = w->held[--w->nheld];
    rt_snapshot_release(s);
}

rt_snapshot *rt_worker_hold(rt_worker *w)
{
    rt_held *h = find_held(w, w->snap);
    if (!h)
        return NULL;
    h->active++;
    return w->snap;
}

void rt_worker_unhold(rt_worker *w, rt_snapshot *s)
{
    rt_held *h = find_held(w, s);
    if (!h)
        return;
    if (--h->active == 0 && s != w->snap)
        drop_held(w, h);
}

void rt_worker_mark_dirty(rt_worker *w, rt_gstats *g)
{
    CD_GROW(w->dirty, w->capdirty, w->ndirty + 1, 16);
    atomic_fetch_add(&g->refs, 1);
    w->dirty[w->ndirty++] = g;
}

static void flush_dirty(rt_worker *w)
{
    for (size_t i = 0; i < w->ndirty; i++) {
        rt_gstats_flush(w->dirty[i], w->id);
        rt_gstats_release(w->dirty[i]);
    }
    w->ndirty = 0;
}

/* ---- listeners ---- */

static void on_accept(rt_loop *l, rt_io *io, uint32_t events);

static void listen_on(rt_worker *w, rt_listener *li)
{
    rt_lio *x = calloc(1, sizeof *x);
    if (!x)
        abort();
    x->io.fd = li->fd;
    x->io.cb = on_accept;
    x->l = li;
    x->w = w;
    if (rt_loop_add(&w->loop, &x->io, EPOLLIN | EPOLLEXCLUSIVE) < 0) {
        cd_warn("router: worker %d cannot watch listener %s: %s", w->id, li->address,
                strerror(errno));
        free(x);
        return;
    }
    rt_lio **v = realloc(w->lios, (w->nlios + 1) * sizeof *v);
    if (!v)
        abort();
    w->lios = v;
    w->lios[w->nlios++] = x;
}

static void unlisten_at(rt_worker *w, size_t i)
{
    rt_lio *x = w->lios[i];
    rt_loop_del(&w->loop, &x->io);
    free(x);
    w->lios[i] = w->lios[--w->nlios];
}

static bool snapshot_has_listener(const rt_snapshot *s, const rt_listener *l)
{
    for (size_t i = 0; s && i < s->nlisteners; i++)
        if (s->listeners[i] == l)
            return true;
    return false;
}

static void sync_listeners(rt_worker *w)
{
    const rt_snapshot *s = w->accepting ? w->snap : NULL;
    for (size_t i = w->nlios; i-- > 0;)
        if (!snapshot_has_listener(s, w->lios[i]->l))
            unlisten_at(w, i);
    for (size_t i = 0; s && i < s->nlisteners; i++) {
        bool have = false;
        for (size_t k = 0; k < w->nlios; k++)
            have |= w->lios[k]->l == s->listeners[i];
        if (!have)
            listen_on(w, s->listeners[i]);
    }
}

static void on_accept(rt_loop *l, rt_io *io, uint32_t events)
{
    rt_lio *x = (rt_lio *)io;
    rt_worker *w = x->w;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(io->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: stop accepting until the next tick */
                cd_warn("router: accept: %s; pausing accepts for up to 1s", strerror(errno));
                w->accepting = false;
                sync_listeners(w);
            }
            return;
        }
        if (peer.ss_family != AF_UNIX) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        __atomic_fetch_add(&w->accepted, 1, __ATOMIC_RELAXED);
        rt_client_accept(w, fd, x->l->id, &peer);
    }
}

/* ---- configuration changes ---- */

static void close_pools_not_in(rt_worker *w, const rt_snapshot *old, uint64_t version)
{
    for (size_t i = 0; old && i < old->nroutes; i++)
        for (int role = RT_PRIMARY; role <= RT_CANARY; role++) {
            const rt_group *g = &old->routes[i].groups[role];
            for (size_t k = 0; k < g->nbackends; k++) {
                rt_endpoint *ep = g->backends[k].ep;
                if (ep && atomic_load(&ep->gen) < version)
                    rt_pool_close_idle(w, ep);
            }
        }
}

static void worker_switch(rt_worker *w)
{
    if (rt_table_version() == w->snap_version)
        return;
    rt_snapshot *s = rt_table_acquire();
    if (!s || s == w->snap) {
        rt_snapshot_release(s);
        return;
    }
    CD_GROW(w->held, w->capheld, w->nheld + 1, 4);
    w->held[w->nheld++] = (rt_held){s, 0};
    rt_snapshot *old = w->snap;
    w->snap = s;
    sync_listeners(w);
    __atomic_store_n(&w->snap_version, s->version, __ATOMIC_RELEASE);
    close_pools_not_in(w, old, s->version);
    rt_held *h = old ? find_held(w, old) : NULL;
    if (h && h->active == 0)
        drop_held(w, h);
}

/* ---- housekeeping ---- */

static void arm_tick(rt_worker *w)
{
    int64_t wall = cd_wall_ms();
    int64_t to_next = 1000 - wall % 1000 + 2;
    rt_timer_set(&w->loop, &w->tick, w->loop.now + to_next);
}

static bool has_busy_upstreams(const rt_worker *w);

/* Cached buffers and exchanges decay by half each second, and an idle
 * worker hands freed memory back to the system: memory follows the load
 * instead of its peak. */
static void decay_caches(rt_worker *w)
{
    size_t keep = w->nfreebufs / 2;
    while (w->nfreebufs > keep)
        free(w->freebufs[--w->nfreebufs]);
    rt_slab_trim(&w->client_slab, w->client_slab.nspare / 2);
    rt_slab_trim(&w->upconn_slab, w->upconn_slab.nspare / 2);
    rt_slab_trim(&w->exchange_slab, w->exchange_slab.nspare / 2);
    /* idle: no request started during the last second and nothing in
     * flight (idle keep-alive clients do not count) */
    bool idle = w->started == w->started_seen && !has_busy_upstreams(w);
    w->started_seen = w->started;
    if (idle && !w->trimmed) {
        malloc_trim(0);
        w->trimmed = true;
    } else if (!idle) {
        w->trimmed = false;
    }
}

static void on_tick(rt_loop *l, rt_timer *t)
{
    rt_worker *w = l->owner;
    flush_dirty(w);
    decay_caches(w);
    if (!w->accepting && !w->draining) {
        w->accepting = true;
        sync_listeners(w);
    }
    arm_tick(w);
}

static void start_drain(rt_worker *w)
{
    w->draining = true;
    w->accepting = false;
    w->drain_deadline = w->loop.now + rt_cfg.drain_timeout_ms;
    sync_listeners(w);
    atomic_store(&w->unlistened, 1);
    rt_pool_close_all_idle(w);
    for (rt_client *c = w->clients, *n; c; c = n) {
        n = c->next;
        rt_client_drain(c);
    }
}

static bool has_busy_upstreams(const rt_worker *w)
{
    for (const rt_upconn *u = w->upconns; u; u = u->anext)
        if (u->state != U_IDLE)
            return true;
    return false;
}

static void worker_cleanup(rt_worker *w)
{
    while (w->clients)
        rt_client_close(w->clients);
    while (w->upconns) {
        rt_upconn *u = w->upconns;
        if (u->ex)
            rt_exchange_abort(u->ex);
        else
            rt_upconn_close(u);
        if (w->upconns == u)     /* not closed by the abort */
            rt_upconn_close(u);
    }
    /* run the deferred frees */
    rt_loop_run_once(&w->loop, 0);
    flush_dirty(w);
    while (w->nlios)
        unlisten_at(w, w->nlios - 1);
    free(w->lios);
    w->lios = NULL;
    while (w->nheld)
        drop_held(w, &w->held[w->nheld - 1]);
    free(w->held);
    w->held = NULL;
    w->snap = NULL;
    for (size_t i = 0; i < w->nfreebufs; i++)
        free(w->freebufs[i]);
    w->nfreebufs = 0;
    rt_slab_fini(&w->client_slab);
    rt_slab_fini(&w->upconn_slab);
    rt_slab_fini(&w->exchange_slab);
    free(w->dirty);
    w->dirty = NULL;
    rt_timer_clear(&w->loop, &w->tick);
}

static void init_slabs(rt_worker *w)
{
    rt_slab_init(&w->client_slab, sizeof(rt_client), 64);
    rt_slab_init(&w->upconn_slab, sizeof(rt_upconn), 64);
    rt_slab_init(&w->exchange_slab, sizeof(rt_exchange), 16);
}

static void *worker_main(void *arg)
{
    rt_worker *w = arg;
    worker_switch(w);
    arm_tick(w);
    for (;;) {
        rt_loop_run_once(&w->loop, w->runq ? 0 : 1000);
        if (w->runq)
            rt_exchange_run_queue(w);
        int stop = atomic_load(&w->stop);
        if (stop == RT_STOP_NOW)
            break;
        if (stop == RT_STOP_DRAIN && !w->draining)
            start_drain(w);
        if (w->draining &&
            ((!w->clients && !has_busy_upstreams(w)) || w->loop.now >= w->drain_deadline))
            break;
        worker_switch(w);
    }
    worker_cleanup(w);
    return NULL;
}

/* ---- a worker run by the calling thread (tests and fuzzing) ---- */

rt_worker *rt_worker_inline_new(void)
{
    rt_worker *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->accepting = false;
    w->freebufs = calloc(RT_FREEBUF_MAX, sizeof *w->freebufs);
    if (!w->freebufs || rt_loop_init(&w->loop, w) < 0)
        abort();
    w->tick.cb = on_tick;
    seed_rng(w);
    init_slabs(w);
    worker_switch(w);
    return w;
}

void rt_worker_inline_poll(rt_worker *w, int max_wait_ms)
{
    worker_switch(w);
    rt_loop_run_once(&w->loop, w->runq ? 0 : max_wait_ms);
    if (w->runq)
        rt_exchange_run_queue(w);
    flush_dirty(w);
}

void rt_worker_inline_free(rt_worker *w)
{
    worker_cleanup(w);
    rt_loop_fini(&w->loop);
    free(w->freebufs);
    free(w);
}

/* ---- public ---- */

static void wake_all(void)
{
    for (int i = 0; i < g_nworkers; i++)
        rt_loop_wake(&g_workers[i].loop);
}

int rt_workers_start(int n)
{
    g_workers = calloc((size_t)n, sizeof *g_workers);
    if (!g_workers)
        abort();
    g_nworkers = n;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < n; i++) {
        rt_worker *w = &g_workers[i];
        w->id = i;
        w->accepting = true;
        w->freebufs = calloc(RT_FREEBUF_MAX, sizeof *w->freebufs);
        if (!w->freebufs || rt_loop_init(&w->loop, w) < 0)
            abort();
        w->tick.cb = on_tick;
        seed_rng(w);
        init_slabs(w);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return -1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

void rt_workers_notify(void) { wake_all(); }

bool rt_workers_wait_version(uint64_t version, int timeout_ms)
{
    for (int spins = 0; spins < timeout_ms * 10; spins++) {
        bool all = true;
        for (int i = 0; i < g_nworkers && all; i++)
            all = __atomic_load_n(&g_workers[i].snap_version, __ATOMIC_ACQUIRE) >= version ||
                  atomic_load(&g_workers[i].stop) != RT_STOP_NONE;
        if (all)
            return true;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return false;
}

void rt_workers_drain(void)
{
    for (int i = 0; i < g_nworkers; i++)
        atomic_store(&g_workers[i].stop, RT_STOP_DRAIN);
    wake_all();
    /* wait (briefly) until no worker watches a listening socket any more,
     * so that the caller may close them */
    for (int spins = 0; spins < 2000; spins++) {
        int n = 0;
        for (int i = 0; i < g_nworkers; i++)
            n += atomic_load(&g_workers[i].unlistened);
        if (n == g_nworkers)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

void rt_workers_stop(void)
{
    for (int i = 0; i < g_nworkers; i++)
        atomic_store(&g_workers[i].stop, RT_STOP_NOW);
    wake_all();
}

void rt_workers_join(void)
{
    for (int i = 0; i < g_nworkers; i++) {
        pthread_join(g_workers[i].thread, NULL);
        rt_loop_fini(&g_workers[i].loop);
        free(g_workers[i].freebufs);
    }
    free(g_workers);
    g_workers = NULL;
    g_nworkers = 0;
}

void rt_workers_counters(rt_worker_counters *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < g_nworkers; i++) {
        rt_worker *w = &g_workers[i];
        out->accepted += __atomic_load_n(&w->accepted, __ATOMIC_RELAXED);
        out->parse_errors += __atomic_load_n(&w->parse_errors, __ATOMIC_RELAXED);
        out->client_aborts += __atomic_load_n(&w->client_aborts, __ATOMIC_RELAXED);
        out->clients += __atomic_load_n(&w->nclients, __ATOMIC_RELAXED);
    }
}
