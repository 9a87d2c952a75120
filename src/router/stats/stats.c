/* stats.c - endpoints, backend and group counters, and their registry.
 * See stats.h. */
#include "router/stats/stats.h"
#include "util/grow.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one counter shard per worker (at least one); fixed by rt_stats_setup */
static int g_nshards = 1;
static uint32_t g_window_seconds = RT_WINDOW_DEFAULT_S;
static uint32_t g_reservoir = RT_SAMPLES_DEFAULT;

typedef struct objvec { void **v; size_t n, cap; } objvec;

/* every endpoint, backend and group counter set, under mu */
static struct {
    pthread_mutex_t mu;
    objvec eps, bs, gs;
} g_registry = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void vec_push(objvec *v, void *p)
{
    CD_GROW(v->v, v->cap, v->n + 1, 16);
    v->v[v->n++] = p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void *xcalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p)
        abort();
    memset(p, 0, n);
    return p;
}

uint32_t rt_stats_window_seconds(void) { return g_window_seconds; }

void rt_stats_setup(int nworkers, uint32_t window_seconds, uint32_t reservoir)
{
    g_nshards = nworkers < 1 ? 1 : nworkers > RT_MAX_WORKERS ? RT_MAX_WORKERS : nworkers;
    g_window_seconds = window_seconds;
    g_reservoir = reservoir;
}

/* ---- get-or-create ---- */

rt_endpoint *rt_endpoint_get(const char *name, const rt_addr *a)
{
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.eps.n; i++) {
        rt_endpoint *e = g_registry.eps.v[i];
        if (!strcmp(e->name, name) && rt_addr_equal(&e->addr, a)) {
            atomic_fetch_add(&e->refs, 1);
            pthread_mutex_unlock(&g_registry.mu);
            return e;
        }
    }
    rt_endpoint *e = xcalloc(sizeof *e + (size_t)g_nshards * sizeof(rt_ep_shard));
    atomic_init(&e->refs, 2);
    e->name = xstrdup(name);
    e->addr = *a;
    atomic_init(&e->check_ok, 1);
    vec_push(&g_registry.eps, e);
    pthread_mutex_unlock(&g_registry.mu);
    return e;
}

static char *make_key(const char *a, const char *b, const char *c, const char *d)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 4;
    char *k = malloc(n);
    if (!k)
        abort();
    snprintf(k, n, "%s\x1f%s\x1f%s\x1f%s", a, b, c, d);
    return k;
}

rt_bstats *rt_bstats_get(const char *route, const char *group, const char *backend,
                         const char *ns, const char *pod, const char *labels, rt_endpoint *ep)
{
    char *key = make_key(route, group, backend, labels);
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.bs.n; i++) {
        rt_bstats *b = g_registry.bs.v[i];
        if (!strcmp(b->key, key)) {
            atomic_fetch_add(&b->refs, 1);
            pthread_mutex_unlock(&g_registry.mu);
            free(key);
            return b;
        }
    }
    rt_bstats *b = xcalloc(sizeof *b + (size_t)g_nshards * sizeof(rt_bstats_shard));
    atomic_init(&b->refs, 2);
    b->key = key;
    b->route = xstrdup(route);
    b->group = xstrdup(group);
    b->backend = xstrdup(backend);
    b->ns = xstrdup(ns);
    b->pod = xstrdup(pod);
    b->labels = xstrdup(labels);
    b->ep = ep;
    rt_endpoint_retain(ep);
    vec_push(&g_registry.bs, b);
    pthread_mutex_unlock(&g_registry.mu);
    return b;
}

rt_gstats *rt_gstats_get(const char *route, const char *group)
{
    char *key = make_key(route, group, "", "");
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.gs.n; i++) {
        rt_gstats *g = g_registry.gs.v[i];
        if (!strcmp(g->key, key)) {
            atomic_fetch_add(&g->refs, 1);
            pthread_mutex_unlock(&g_registry.mu);
            free(key);
            return g;
        }
    }
    rt_gstats *g = xcalloc(sizeof *g + (size_t)g_nshards * sizeof(rt_gstats_shard));
    atomic_init(&g->refs, 2);
    g->key = key;
    g->route = xstrdup(route);
    g->group = xstrdup(group);
    /* one slot more than the window: the current second is still filling */
    rt_window_init(&g->win, g_window_seconds + 1, g_reservoir);
    vec_push(&g_registry.gs, g);
    pthread_mutex_unlock(&g_registry.mu);
    return g;
}

rt_gstats *rt_registry_find_gstats(const char *route, const char *group)
{
    char *key = make_key(route, group, "", "");
    rt_gstats *found = NULL;
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.gs.n && !found; i++) {
        rt_gstats *g = g_registry.gs.v[i];
        if (!strcmp(g->key, key)) {
            atomic_fetch_add(&g->refs, 1);
            found = g;
        }
    }
    pthread_mutex_unlock(&g_registry.mu);
    free(key);
    return found;
}

void rt_endpoint_release(rt_endpoint *e) { atomic_fetch_sub(&e->refs, 1); }
void rt_bstats_release(rt_bstats *b) { atomic_fetch_sub(&b->refs, 1); }
void rt_gstats_release(rt_gstats *g) { atomic_fetch_sub(&g->refs, 1); }

/* ---- freeing ---- */

static void free_endpoint(rt_endpoint *e)
{
    free(e->name);
    free(e);
}

static void free_bstats(rt_bstats *b)
{
    rt_endpoint_release(b->ep);
    free(b->key);
    free(b->route);
    free(b->group);
    free(b->backend);
    free(b->ns);
    free(b->pod);
    free(b->labels);
    free(b);
}

static void free_gstats(rt_gstats *g)
{
    for (int w = 0; w < g_nshards; w++)
        rt_win_acc_fini(&g->shards[w].acc);
    rt_window_fini(&g->win);
    free(g->key);
    free(g->route);
    free(g->group);
    free(g);
}

static bool should_free(atomic_int *refs, int64_t *retired_since, int64_t now, int64_t retention)
{
    if (atomic_load(refs) > 1) {
        *retired_since = 0;
        return false;
    }
    if (!*retired_since)
        *retired_since = now;
    return now - *retired_since >= retention;
}

static void gc_vec(objvec *v, int64_t now, int64_t retention, size_t refs_off, size_t since_off,
                   void (*fr)(void *))
{
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *o = v->v[i];
        if (should_free((atomic_int *)(o + refs_off), (int64_t *)(o + since_off), now, retention))
            fr(o);
        else
            v->v[k++] = o;
    }
    v->n = k;
}

void rt_registry_gc(int64_t now_ms, int64_t retention_ms)
{
    pthread_mutex_lock(&g_registry.mu);
    /* group and backend stats first: backend stats hold endpoint refs */
    gc_vec(&g_registry.gs, now_ms, retention_ms, offsetof(rt_gstats, refs),
           offsetof(rt_gstats, retired_since), (void (*)(void *))free_gstats);
    gc_vec(&g_registry.bs, now_ms, retention_ms, offsetof(rt_bstats, refs),
           offsetof(rt_bstats, retired_since), (void (*)(void *))free_bstats);
    gc_vec(&g_registry.eps, now_ms, retention_ms, offsetof(rt_endpoint, refs),
           offsetof(rt_endpoint, retired_since), (void (*)(void *))free_endpoint);
    pthread_mutex_unlock(&g_registry.mu);
}

void rt_registry_shutdown(void)
{
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.gs.n; i++)
        free_gstats(g_registry.gs.v[i]);
    for (size_t i = 0; i < g_registry.bs.n; i++)
        free_bstats(g_registry.bs.v[i]);
    for (size_t i = 0; i < g_registry.eps.n; i++)
        free_endpoint(g_registry.eps.v[i]);
    free(g_registry.gs.v);
    free(g_registry.bs.v);
    free(g_registry.eps.v);
    memset(&g_registry.eps, 0, sizeof g_registry.eps);
    memset(&g_registry.bs, 0, sizeof g_registry.bs);
    memset(&g_registry.gs, 0, sizeof g_registry.gs);
    pthread_mutex_unlock(&g_registry.mu);
}

void rt_registry_each_bstats(void (*fn)(void *ctx, rt_bstats *b), void *ctx)
{
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.bs.n; i++)
        fn(ctx, g_registry.bs.v[i]);
    pthread_mutex_unlock(&g_registry.mu);
}

void rt_registry_each_gstats(void (*fn)(void *ctx, rt_gstats *g), void *ctx)
{
    pthread_mutex_lock(&g_registry.mu);
    for (size_t i = 0; i < g_registry.gs.n; i++)
        fn(ctx, g_registry.gs.v[i]);
    pthread_mutex_unlock(&g_registry.mu);
}

/* ---- sums ---- */

void rt_bstats_sum_of(const rt_bstats *b, rt_bstats_sum *o)
{
    memset(o, 0, sizeof *o);
    for (int w = 0; w < g_nshards; w++) {
        const rt_bstats_shard *s = &b->shards[w];
        rt_codes_merge(&o->codes, &s->codes);
        for (int i = 0; i <= RT_ENVOY_NB; i++)
            o->hist[i] += rt_ctr_get(&s->hist[i]);
        o->sum_us += rt_ctr_get(&s->sum_us);
        o->rq_total += rt_ctr_get(&s->rq_total);
        o->bytes_rx += rt_ctr_get(&s->bytes_rx);
        o->bytes_tx += rt_ctr_get(&s->bytes_tx);
        o->retries += rt_ctr_get(&s->retries);
        o->timeouts += rt_ctr_get(&s->timeouts);
        o->resets += rt_ctr_get(&s->resets);
        o->connect_fail += rt_ctr_get(&s->connect_fail);
        o->rq_active += rt_gauge_get(&s->rq_active);
    }
}

void rt_gstats_sum_of(const rt_gstats *g, rt_gstats_sum *o)
{
    memset(o, 0, sizeof *o);
    for (int w = 0; w < g_nshards; w++) {
        const rt_gstats_shard *s = &g->shards[w];
        rt_codes_merge(&o->codes, &s->codes);
        for (int i = 0; i <= RT_SEC_NB; i++)
            o->hist[i] += rt_ctr_get(&s->hist[i]);
        o->sum_us += rt_ctr_get(&s->sum_us);
        o->rq_total += rt_ctr_get(&s->rq_total);
        o->no_backend += rt_ctr_get(&s->no_backend);
        o->rq_active += rt_gauge_get(&s->rq_active);
    }
}

void rt_endpoint_sum_of(const rt_endpoint *e, rt_ep_sum *o)
{
    memset(o, 0, sizeof *o);
    for (int w = 0; w < g_nshards; w++) {
        const rt_ep_shard *s = &e->shards[w];
        o->cx_active += rt_gauge_get(&s->cx_active);
        o->cx_total += rt_ctr_get(&s->cx_total);
        o->cx_connect_fail += rt_ctr_get(&s->cx_connect_fail);
        o->idle += __atomic_load_n(&s->nidle, __ATOMIC_RELAXED);
    }
}

/* ---- recording ---- */

void rt_bstats_record(rt_bstats *b, int worker, unsigned status, uint32_t latency_us)
{
    rt_bstats_shard *s = &b->shards[worker];
    rt_codes_add(&s->codes, status);
    rt_ctr_add(&s->hist[rt_envoy_bucket(latency_us)], 1);
    rt_ctr_add(&s->sum_us, latency_us);
    rt_ctr_add(&s->rq_total, 1);
}

bool rt_gstats_record(rt_gstats *g, int worker, unsigned status, uint32_t latency_us,
                      int64_t wall_ms)
{
    rt_gstats_shard *s = &g->shards[worker];
    rt_codes_add(&s->codes, status);
    rt_ctr_add(&s->hist[rt_sec_bucket(latency_us)], 1);
    rt_ctr_add(&s->sum_us, latency_us);
    rt_ctr_add(&s->rq_total, 1);
    if (rt_win_acc_record(&s->acc, wall_ms, latency_us, status)) {
        rt_window_flush(&g->win, &s->acc);
        rt_win_acc_record(&s->acc, wall_ms, latency_us, status);
    }
    if (s->acc.dirty)
        return false;
    s->acc.dirty = true;
    return true;
}

void rt_gstats_flush(rt_gstats *g, int worker)
{
    rt_gstats_shard *s = &g->shards[worker];
    rt_window_flush(&g->win, &s->acc);
    s->acc.dirty = false;
}

/* ---- passive health ---- */

void rt_endpoint_failure(rt_endpoint *e, int64_t now_ms, unsigned threshold, int64_t eject_ms)
{
    unsigned n = atomic_fetch_add(&e->consec_fail, 1) + 1;
    if (threshold && n >= threshold && eject_ms > 0) {
        atomic_store(&e->ejected_until, now_ms + eject_ms);
        atomic_store(&e->consec_fail, 0);
        atomic_fetch_add(&e->ejections, 1);
    }
}

void rt_endpoint_success(rt_endpoint *e)
{
    if (atomic_load_explicit(&e->consec_fail, memory_order_relaxed))
        atomic_store(&e->consec_fail, 0);
}

bool rt_endpoint_available(const rt_endpoint *e, int64_t now_ms)
{
    if (!atomic_load_explicit(&e->check_ok, memory_order_relaxed))
        return false;
    return atomic_load_explicit(&e->ejected_until, memory_order_relaxed) <= now_ms;
}
