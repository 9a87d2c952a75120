/* table.c - activating and publishing routing-table snapshots: binds
 * listeners (reusing open sockets and inherited ones), resolves backend
 * addresses, attaches endpoints and stats, and swaps the current snapshot
 * under a mutex that workers only take when the version changed. Must not
 * be called from workers except rt_table_acquire/rt_snapshot_release. */
#include "router/table/table.h"
#include "util/buf.h"
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct inherited_fd { char *address; int fd; bool used; } inherited_fd;

/* the route table, its snapshots and listeners, under mu */
static struct {
    pthread_mutex_t mu;
    rt_snapshot *current;
    _Atomic uint64_t version;
    uint64_t next_version;
    uint64_t next_listener_id;
    rt_listener **flag_listeners;
    size_t nflag;
    inherited_fd *inherited;
    size_t ninherited;
    void (*hook)(void);
} g_table = {.mu = PTHREAD_MUTEX_INITIALIZER, .next_listener_id = 1};

/* ---- listeners ---- */

static rt_listener *listener_new(const char *name, const char *address, const rt_addr *a, int fd,
                                 bool from_flags)
{
    rt_listener *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    atomic_init(&l->refs, 1);
    l->name = strdup(name);
    l->address = strdup(address);
    if (!l->name || !l->address)
        abort();
    l->addr = *a;
    l->fd = fd;
    l->from_flags = from_flags;
    pthread_mutex_lock(&g_table.mu);
    l->id = g_table.next_listener_id++;
    pthread_mutex_unlock(&g_table.mu);
    return l;
}

static void listener_retain(rt_listener *l) { atomic_fetch_add(&l->refs, 1); }

void rt_listener_release(rt_listener *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->name);
    free(l->address);
    free(l);
}

static int take_inherited(const rt_addr *a)
{
    for (size_t i = 0; i < g_table.ninherited; i++) {
        inherited_fd *h = &g_table.inherited[i];
        if (h->used)
            continue;
        rt_addr ha;
        char err[128];
        if (rt_addr_parse(h->address, &ha, err, sizeof err) && rt_addr_equal(&ha, a)) {
            h->used = true;
            return h->fd;
        }
    }
    return -1;
}

void rt_table_add_inherited_fd(const char *address, int fd)
{
    inherited_fd *v = realloc(g_table.inherited, (g_table.ninherited + 1) * sizeof *v);
    if (!v)
        abort();
    g_table.inherited = v;
    g_table.inherited[g_table.ninherited].address = strdup(address);
    if (!g_table.inherited[g_table.ninherited].address)
        abort();
    g_table.inherited[g_table.ninherited].fd = fd;
    g_table.inherited[g_table.ninherited].used = false;
    g_table.ninherited++;
}

void rt_table_close_unused_inherited(void)
{
    for (size_t i = 0; i < g_table.ninherited; i++) {
        if (!g_table.inherited[i].used)
            close(g_table.inherited[i].fd);
        free(g_table.inherited[i].address);
    }
    free(g_table.inherited);
    g_table.inherited = NULL;
    g_table.ninherited = 0;
}

static int open_listener_fd(const rt_addr *a, char *err, size_t errlen)
{
    int fd = take_inherited(a);
    if (fd >= 0)
        return fd;
    return rt_listen(a, 4096, err, errlen);
}

bool rt_table_add_flag_listener(const char *name, const char *address, char *err, size_t errlen)
{
    rt_addr a;
    if (!rt_addr_parse(address, &a, err, errlen))
        return false;
    for (size_t i = 0; i < g_table.nflag; i++)
        if (!strcmp(g_table.flag_listeners[i]->name, name) ||
            rt_addr_equal(&g_table.flag_listeners[i]->addr, &a)) {
            snprintf(err, errlen, "listener %s=%s given twice", name, address);
            return false;
        }
    int fd = open_listener_fd(&a, err, errlen);
    if (fd < 0)
        return false;
    rt_listener **v = realloc(g_table.flag_listeners, (g_table.nflag + 1) * sizeof *v);
    if (!v)
        abort();
    g_table.flag_listeners = v;
    g_table.flag_listeners[g_table.nflag++] = listener_new(name, address, &a, fd, true);
    return true;
}

static rt_listener *find_current_listener(const rt_snapshot *cur, const rt_addr *a)
{
    for (size_t i = 0; cur && i < cur->nlisteners; i++)
        if (!cur->listeners[i]->from_flags && rt_addr_equal(&cur->listeners[i]->addr, a))
            return cur->listeners[i];
    return NULL;
}

static bool bind_listeners(rt_snapshot *s, const rt_snapshot *cur, char *err, size_t errlen)
{
    s->listeners = cd_arena_alloc(&s->arena, (g_table.nflag + s->nlcfg + 1) * sizeof *s->listeners);
    for (size_t i = 0; i < g_table.nflag; i++) {
        listener_retain(g_table.flag_listeners[i]);
        s->listeners[s->nlisteners++] = g_table.flag_listeners[i];
    }
    for (size_t i = 0; i < s->nlcfg; i++) {
        const rt_listener_cfg *c = &s->lcfg[i];
        for (size_t k = 0; k < g_table.nflag; k++)
            if (!strcmp(g_table.flag_listeners[k]->name, c->name)) {
                snprintf(err, errlen, "listeners[%zu]: name \"%s\" is taken by a --listen flag", i,
                         c->name);
                return false;
            }
        rt_addr a;
        char why[200];
        if (!rt_addr_parse(c->address, &a, why, sizeof why)) {
            snprintf(err, errlen, "listeners[%zu].address: %s", i, why);
            return false;
        }
        for (size_t k = 0; k < g_table.nflag; k++)
            if (rt_addr_equal(&g_table.flag_listeners[k]->addr, &a)) {
                snprintf(err, errlen, "listeners[%zu].address: %s is already a --listen address",
                         i, c->address);
                return false;
            }
        rt_listener *old = find_current_listener(cur, &a);
        rt_listener *l;
        if (old && !strcmp(old->name, c->name)) {
            listener_retain(old);
            l = old;
        } else {
            errno = 0;
            int fd = old ? dup(old->fd) : open_listener_fd(&a, why, sizeof why);
            if (fd < 0) {
                s->bind_failed = (long)i;
                s->bind_errno = errno;
                snprintf(err, errlen, "listeners[%zu] (%s): %s", i, c->address, why);
                return false;
            }
            l = listener_new(c->name, c->address, &a, fd, false);
        }
        s->listeners[s->nlisteners++] = l;
    }
    return true;
}

/* ---- routes ---- */

static void append_label(cd_buf *b, const char *name, const char *value)
{
    if (b->len)
        cd_buf_putc(b, ',');
    cd_buf_printf(b, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            cd_buf_puts(b, "\\\\");
        else if (*p == '"')
            cd_buf_puts(b, "\\\"");
        else if (*p == '\n')
            cd_buf_puts(b, "\\n");
        else
            cd_buf_putc(b, *p);
    }
    cd_buf_putc(b, '"');
}

static const char *label_override(const rt_backend *be, const char *name, const char *def)
{
    for (size_t k = 0; k < be->nlabels; k++)
        if (!strcmp(be->label_names[k], name))
            return be->label_values[k];
    return def;
}

static rt_bstats *backend_stats(const rt_route *r, const rt_backend *be, rt_role role)
{
    const char *group = rt_role_names[role];
    const char *ns = label_override(be, "kubernetes_namespace", r->ns);
    cd_buf b = CD_BUF_INIT;
    char cluster[300];
    snprintf(cluster, sizeof cluster, "%s-%s", r->name, group);
    append_label(&b, "envoy_cluster_name", cluster);
    append_label(&b, "kubernetes_namespace", ns);
    append_label(&b, "kubernetes_pod_name", be->pod_name);
    for (size_t k = 0; k < be->nlabels; k++)
        if (strcmp(be->label_names[k], "kubernetes_namespace") &&
            strcmp(be->label_names[k], "kubernetes_pod_name"))
            append_label(&b, be->label_names[k], be->label_values[k]);
    append_label(&b, "canaryd_route", r->name);
    append_label(&b, "canaryd_group", group);
    append_label(&b, "canaryd_backend", be->address);
    rt_bstats *st = rt_bstats_get(r->name, group, be->address, ns, be->pod_name, cd_buf_str(&b),
                                  be->ep);
    cd_buf_free(&b);
    return st;
}

static bool resolve_listener_ids(rt_snapshot *s, rt_route *r, size_t ri, char *err, size_t errlen)
{
    if (!r->nlisteners)
        return true;
    r->listener_ids = cd_arena_alloc(&s->arena, r->nlisteners * sizeof *r->listener_ids);
    for (size_t i = 0; i < r->nlisteners; i++) {
        bool found = false;
        for (size_t k = 0; k < s->nlisteners; k++)
            if (!strcmp(s->listeners[k]->name, r->listeners[i])) {
                r->listener_ids[i] = s->listeners[k]->id;
                found = true;
            }
        if (!found) {
            snprintf(err, errlen, "routes[%zu].listeners[%zu]: no listener named \"%s\"", ri, i,
                     r->listeners[i]);
            return false;
        }
    }
    return true;
}

static bool attach_route(rt_snapshot *s, rt_route *r, size_t ri, char *err, size_t errlen)
{
    if (!resolve_listener_ids(s, r, ri, err, errlen))
        return false;
    for (int role = RT_PRIMARY; role <= RT_CANARY; role++) {
        rt_group *g = &r->groups[role];
        for (size_t i = 0; i < g->nbackends; i++) {
            rt_backend *be = &g->backends[i];
            rt_addr a;
            char why[200];
            if (!rt_addr_parse(be->address, &a, why, sizeof why)) {
                snprintf(err, errlen, "routes[%zu].%s.backends[%zu]: %s", ri,
                         rt_role_names[role], i, why);
                return false;
            }
            be->ep = rt_endpoint_get(be->address, &a);
            be->stats = backend_stats(r, be, (rt_role)role);
            if (role == RT_CANARY && r->mirror)
                be->mirror_stats = backend_stats(r, be, RT_MIRROR);
        }
        g->stats = rt_gstats_get(r->name, rt_role_names[role]);
    }
    if (r->mirror)
        r->mirror_stats = rt_gstats_get(r->name, rt_role_names[RT_MIRROR]);
    return true;
}

static void detach(rt_snapshot *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        rt_route *r = &s->routes[i];
        for (int role = RT_PRIMARY; role <= RT_CANARY; role++) {
            rt_group *g = &r->groups[role];
            for (size_t k = 0; k < g->nbackends; k++) {
                rt_backend *be = &g->backends[k];
                if (be->stats)
                    rt_bstats_release(be->stats);
                if (be->mirror_stats)
                    rt_bstats_release(be->mirror_stats);
                if (be->ep)
                    rt_endpoint_release(be->ep);
                be->stats = be->mirror_stats = NULL;
                be->ep = NULL;
            }
            if (g->stats)
                rt_gstats_release(g->stats);
            g->stats = NULL;
        }
        if (r->mirror_stats)
            rt_gstats_release(r->mirror_stats);
        r->mirror_stats = NULL;
    }
    for (size_t i = 0; i < s->nlisteners; i++)
        rt_listener_release(s->listeners[i]);
    s->nlisteners = 0;
}

bool rt_table_activate(rt_snapshot *s, const rt_snapshot *current, char *err, size_t errlen)
{
    s->bind_failed = -1;
    s->bind_errno = 0;
    if (!bind_listeners(s, current, err, errlen)) {
        detach(s);
        return false;
    }
    for (size_t i = 0; i < s->nroutes; i++)
        if (!attach_route(s, &s->routes[i], i, err, errlen)) {
            detach(s);
            return false;
        }
    s->activated = true;
    return true;
}

void rt_snapshot_retain(rt_snapshot *s) { atomic_fetch_add(&s->refs, 1); }

void rt_snapshot_release(rt_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->activated)
        detach(s);
    rt_snapshot_free_decoded(s);
}

/* ---- publication ---- */

static void mark_endpoints(rt_snapshot *s)
{
    for (size_t i = 0; i < s->nroutes; i++)
        for (int role = RT_PRIMARY; role <= RT_CANARY; role++) {
            rt_group *g = &s->routes[i].groups[role];
            for (size_t k = 0; k < g->nbackends; k++)
                if (g->backends[k].ep)
                    atomic_store(&g->backends[k].ep->gen, s->version);
        }
}

void rt_table_publish(rt_snapshot *s)
{
    pthread_mutex_lock(&g_table.mu);
    s->version = ++g_table.next_version;
    mark_endpoints(s);
    rt_snapshot *old = g_table.current;
    g_table.current = s;
    atomic_store(&g_table.version, s->version);
    void (*hook)(void) = g_table.hook;
    pthread_mutex_unlock(&g_table.mu);
    rt_snapshot_release(old);
    if (hook)
        hook();
}

rt_snapshot *rt_table_acquire(void)
{
    pthread_mutex_lock(&g_table.mu);
    rt_snapshot *s = g_table.current;
    if (s)
        rt_snapshot_retain(s);
    pthread_mutex_unlock(&g_table.mu);
    return s;
}

uint64_t rt_table_version(void) { return atomic_load_explicit(&g_table.version, memory_order_acquire); }

void rt_table_set_publish_hook(void (*fn)(void))
{
    pthread_mutex_lock(&g_table.mu);
    g_table.hook = fn;
    pthread_mutex_unlock(&g_table.mu);
}

size_t rt_table_listeners(rt_listener ***out)
{
    rt_snapshot *s = rt_table_acquire();
    *out = NULL;
    if (!s)
        return 0;
    rt_listener **v = calloc(s->nlisteners + 1, sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < s->nlisteners; i++) {
        listener_retain(s->listeners[i]);
        v[i] = s->listeners[i];
    }
    size_t n = s->nlisteners;
    rt_snapshot_release(s);
    *out = v;
    return n;
}

void rt_table_close_listener_fds(void)
{
    pthread_mutex_lock(&g_table.mu);
    for (size_t i = 0; g_table.current && i < g_table.current->nlisteners; i++) {
        rt_listener *l = g_table.current->listeners[i];
        if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
    for (size_t i = 0; i < g_table.nflag; i++)
        if (g_table.flag_listeners[i]->fd >= 0) {
            close(g_table.flag_listeners[i]->fd);
            g_table.flag_listeners[i]->fd = -1;
        }
    pthread_mutex_unlock(&g_table.mu);
}

void rt_table_close_removed_listeners(rt_snapshot *old, const rt_snapshot *next)
{
    pthread_mutex_lock(&g_table.mu);
    for (size_t i = 0; i < old->nlisteners; i++) {
        rt_listener *l = old->listeners[i];
        bool kept = false;
        for (size_t k = 0; k < next->nlisteners && !kept; k++)
            kept = next->listeners[k] == l;
        if (!kept && l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
    pthread_mutex_unlock(&g_table.mu);
}

void rt_table_shutdown(void)
{
    pthread_mutex_lock(&g_table.mu);
    rt_snapshot *s = g_table.current;
    g_table.current = NULL;
    pthread_mutex_unlock(&g_table.mu);
    rt_snapshot_release(s);
    for (size_t i = 0; i < g_table.nflag; i++)
        rt_listener_release(g_table.flag_listeners[i]);
    free(g_table.flag_listeners);
    g_table.flag_listeners = NULL;
    g_table.nflag = 0;
    rt_table_close_unused_inherited();
}
