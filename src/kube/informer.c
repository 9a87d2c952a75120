/* informer.c - see informer.h. One thread per informer; the cache is a
 * jansson object keyed "namespace/name" under a mutex, whose values are
 * each object's compact JSON text (a jansson string): a parsed object
 * costs several times its text (a node, a hashtable and a malloc per
 * value), which at 10,000 Canaries was most of canaryd's memory; readers
 * get a fresh parse. Must never call a
 * handler with the mutex held, nor after cd_informer_stop returns. */
#include "kube/informer.h"
#include "kube/api.h"
#include "kube/kobj.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cd_informer {
    cd_kube_client *c;
    cd_kube_resource res;
    char *group, *version, *plural, *kind;
    char *ns, *lsel, *fsel;
    cd_informer_opts o;
    cd_informer_handlers h;
    pthread_t th;
    bool running;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t synced_cv;
    json_t *cache;              /* key -> compact JSON text of the object */
    char *rv;
    bool synced;
    bool expired;               /* the last watch ended with 410 */
    int64_t last_resync;
    cd_informer_stats st;
};

static char *dupn(const char *s) { return s ? strdup(s) : NULL; }

cd_informer *cd_informer_new(cd_kube_client *c, const cd_informer_opts *o,
                             const cd_informer_handlers *h)
{
    if (!c || !o || !o->resource)
        return NULL;
    cd_informer *inf = calloc(1, sizeof *inf);
    if (!inf)
        return NULL;
    inf->c = c;
    inf->o = *o;
    inf->group = dupn(o->resource->group);
    inf->version = dupn(o->resource->version);
    inf->plural = dupn(o->resource->plural);
    inf->kind = dupn(o->resource->kind);
    inf->res = (cd_kube_resource){inf->group, inf->version, inf->plural, inf->kind,
                                  o->resource->namespaced};
    inf->o.resource = &inf->res;
    inf->ns = dupn(o->namespace);
    inf->lsel = dupn(o->label_selector);
    inf->fsel = dupn(o->field_selector);
    if (h)
        inf->h = *h;
    if (inf->o.page_size <= 0)
        inf->o.page_size = 500;
    if (inf->o.backoff_initial_ms <= 0)
        inf->o.backoff_initial_ms = 800;
    if (inf->o.backoff_max_ms <= 0)
        inf->o.backoff_max_ms = 30000;
    inf->cache = json_object();
    pthread_mutex_init(&inf->mu, NULL);
    pthread_cond_init(&inf->synced_cv, NULL);
    return inf;
}

/* ---- cache ------------------------------------------------------------------- */

static void set_rv(cd_informer *inf, const char *rv)
{
    if (!rv)
        return;
    pthread_mutex_lock(&inf->mu);
    if (!inf->rv || strcmp(inf->rv, rv)) {
        free(inf->rv);
        inf->rv = strdup(rv);
    }
    pthread_mutex_unlock(&inf->mu);
}

/* What the cache keeps of an object the informer was handed (and owns). */
static void trim(cd_informer *inf, json_t *obj)
{
    if (inf->o.strip_managed_fields)
        json_object_del(json_object_get(obj, "metadata"), "managedFields");
}

/* The cached form of an object, and back (NULL when out of memory). */
static json_t *pack(const json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s)
        return NULL;
    json_t *v = json_stringn_nocheck(s, strlen(s));
    free(s);
    return v;
}

static json_t *unpack(const json_t *text)
{
    if (!text)
        return NULL;
    return json_loadb(json_string_value(text), json_string_length(text), 0, NULL);
}

/* A listed item as the cache keeps it. */
static json_t *keep(void *ud, json_t *obj)
{
    trim(ud, obj);
    return pack(obj);
}

static void apply_event(cd_informer *inf, cd_watch_type t, json_t *obj)
{
    char key[512];
    trim(inf, obj);
    cd_kobj_key(obj, key, sizeof key);
    json_t *text = t == CD_WATCH_DELETED ? NULL : pack(obj);
    pthread_mutex_lock(&inf->mu);
    json_t *old_text = json_incref(json_object_get(inf->cache, key));
    if (t == CD_WATCH_DELETED)
        json_object_del(inf->cache, key);
    else if (text)
        json_object_set_new(inf->cache, key, text);
    inf->st.events++;
    pthread_mutex_unlock(&inf->mu);
    json_t *old = unpack(old_text);
    json_decref(old_text);
    if (t == CD_WATCH_DELETED) {
        if (inf->h.on_delete)
            inf->h.on_delete(inf->h.ud, obj);
    } else if (old) {
        if (inf->h.on_update)
            inf->h.on_update(inf->h.ud, old, obj);
    } else if (inf->h.on_add) {
        inf->h.on_add(inf->h.ud, obj);
    }
    json_decref(old);
}

/* After a list: the cache becomes texts (what keep made of the items);
 * handlers hear what changed. Each item is parsed once for its key and
 * once for the handlers, never all at once: at 10,000 objects the parsed
 * list alone would be most of canaryd's peak memory. */
static void replace(cd_informer *inf, json_t *texts, const char *rv)
{
    json_t *fresh = json_object();
    size_t i;
    json_t *v;
    char key[512];
    json_array_foreach(texts, i, v) {
        json_t *obj = unpack(v);
        if (obj)
            json_object_set(fresh, cd_kobj_key(obj, key, sizeof key), v);
        json_decref(obj);
    }
    pthread_mutex_lock(&inf->mu);
    json_t *old = inf->cache;
    inf->cache = fresh;
    json_incref(fresh);
    free(inf->rv);
    inf->rv = strdup(rv);
    pthread_mutex_unlock(&inf->mu);
    json_array_foreach(texts, i, v) {
        json_t *n = unpack(v);
        if (!n)
            continue;
        json_t *o = unpack(json_object_get(old, cd_kobj_key(n, key, sizeof key)));
        if (!o) {
            if (inf->h.on_add)
                inf->h.on_add(inf->h.ud, n);
        } else {
            const char *a = cd_kobj_resource_version(o), *b = cd_kobj_resource_version(n);
            if (inf->h.on_update && (!a || !b || strcmp(a, b)))
                inf->h.on_update(inf->h.ud, o, n);
        }
        json_decref(o);
        json_decref(n);
    }
    const char *k;
    json_object_foreach(old, k, v) {
        if (!json_object_get(fresh, k) && inf->h.on_delete) {
            json_t *o = unpack(v);
            if (o)
                inf->h.on_delete(inf->h.ud, o);
            json_decref(o);
        }
    }
    json_decref(old);
    json_decref(fresh);
    pthread_mutex_lock(&inf->mu);
    inf->synced = true;
    pthread_cond_broadcast(&inf->synced_cv);
    pthread_mutex_unlock(&inf->mu);
}

static json_t **snapshot(cd_informer *inf, size_t *n);

/* Every cached object to on_update, parsed one at a time (at 10,000
 * Canaries, all of them parsed at once were most of canaryd's memory). */
static void maybe_resync(void *ud)
{
    cd_informer *inf = ud;
    if (inf->o.resync_ms <= 0 || !inf->h.on_update)
        return;
    int64_t now = cd_mono_ms();
    if (now - inf->last_resync < inf->o.resync_ms)
        return;
    inf->last_resync = now;
    size_t n;
    json_t **texts = snapshot(inf, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = atomic_load(&inf->stop) ? NULL : unpack(texts[i]);
        if (o)
            inf->h.on_update(inf->h.ud, o, o);
        json_decref(o);
        json_decref(texts[i]);
    }
    free(texts);
}

/* ---- list and watch ------------------------------------------------------------- */

static void nap(cd_informer *inf, int ms)
{
    int64_t until = cd_mono_ms() + ms;
    while (!atomic_load(&inf->stop)) {
        int64_t left = until - cd_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {0, (left > 50 ? 50 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int jitter(int ms) { return ms + rand() % (ms / 5 + 1); }

static bool do_list(cd_informer *inf, cd_kube_err *err)
{
    cd_kube_list_opts lo = {inf->lsel, inf->fsel, inf->o.page_size, NULL, &inf->stop, keep, inf};
    json_t *items = NULL;
    char *rv = NULL;
    if (!cd_kube_list(inf->c, &inf->res, inf->ns, &lo, &items, &rv, err))
        return false;
    pthread_mutex_lock(&inf->mu);
    inf->st.lists++;
    pthread_mutex_unlock(&inf->mu);
    replace(inf, items, rv);
    json_decref(items);
    free(rv);
    return true;
}

static int on_event(void *ud, const cd_watch_event *ev)
{
    cd_informer *inf = ud;
    if (atomic_load(&inf->stop))
        return 1;
    switch (ev->type) {
    case CD_WATCH_ADDED:
    case CD_WATCH_MODIFIED:
    case CD_WATCH_DELETED:
        apply_event(inf, ev->type, ev->object);
        set_rv(inf, cd_kobj_resource_version(ev->object));
        return 0;
    case CD_WATCH_BOOKMARK:
        pthread_mutex_lock(&inf->mu);
        inf->st.bookmarks++;
        pthread_mutex_unlock(&inf->mu);
        set_rv(inf, cd_kobj_resource_version(ev->object));
        return 0;
    case CD_WATCH_ERROR: {
        cd_kube_err e = {0};
        cd_kube_err_from_status_json(&e, 0, ev->object, "watch");
        if (e.reason == CD_KR_EXPIRED) {
            inf->expired = true;
        } else {
            cd_warn("informer %s: watch error: %s", inf->plural, e.msg);
        }
        return 1;
    }
    }
    return 0;
}

static bool do_watch(cd_informer *inf, cd_kube_err *err)
{
    char timeout[16], *rv = cd_informer_resource_version(inf);
    int t = inf->o.watch_timeout_s > 0 ? inf->o.watch_timeout_s : 300 + rand() % 300;
    snprintf(timeout, sizeof timeout, "%d", t);
    cd_kube_param p[] = {{"watch", "1"},
                         {"resourceVersion", rv},
                         {"allowWatchBookmarks", "true"},
                         {"timeoutSeconds", timeout},
                         {"labelSelector", inf->lsel},
                         {"fieldSelector", inf->fsel}};
    char *path = cd_kube_path(&inf->res, inf->ns, NULL, NULL, p, 6);
    free(rv);
    if (!path)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "informer %s: invalid namespace", inf->plural);
    pthread_mutex_lock(&inf->mu);
    inf->st.watches++;
    pthread_mutex_unlock(&inf->mu);
    inf->expired = false;
    cd_kube_stream_opts so = {&inf->stop, maybe_resync, inf, (t + 60) * 1000};
    bool ok = cd_kube_watch_stream(inf->c, path, on_event, inf, &so, err);
    free(path);
    if (inf->expired)
        return cd_kube_fail(err, CD_KR_EXPIRED, 410, "informer %s: watch expired", inf->plural);
    return ok;
}

static void *run(void *arg)
{
    cd_informer *inf = arg;
    int backoff = inf->o.backoff_initial_ms;
    bool need_list = true;
    inf->last_resync = cd_mono_ms();
    while (!atomic_load(&inf->stop)) {
        cd_kube_err err = {0};
        if (need_list) {
            if (!do_list(inf, &err)) {
                if (atomic_load(&inf->stop))
                    break;
                pthread_mutex_lock(&inf->mu);
                inf->st.errors++;
                pthread_mutex_unlock(&inf->mu);
                cd_warn("informer %s: list failed, retrying in %d ms: %s", inf->plural, backoff, err.msg);
                nap(inf, jitter(backoff));
                backoff = backoff * 2 > inf->o.backoff_max_ms ? inf->o.backoff_max_ms : backoff * 2;
                continue;
            }
            need_list = false;
            backoff = inf->o.backoff_initial_ms;
        }
        int64_t started = cd_mono_ms();
        uint64_t events_before = inf->st.events + inf->st.bookmarks;
        bool ok = do_watch(inf, &err);
        if (atomic_load(&inf->stop))
            break;
        if (cd_kube_is_expired(&err)) {
            pthread_mutex_lock(&inf->mu);
            inf->st.relists_expired++;
            pthread_mutex_unlock(&inf->mu);
            cd_info("informer %s: resourceVersion expired (410), relisting", inf->plural);
            need_list = true;
            continue;
        }
        if (ok) {
            backoff = inf->o.backoff_initial_ms;      /* the server closed a healthy watch */
            continue;
        }
        pthread_mutex_lock(&inf->mu);
        inf->st.errors++;
        pthread_mutex_unlock(&inf->mu);
        /* a watch that delivered something or lived a while was healthy */
        if (inf->st.events + inf->st.bookmarks > events_before || cd_mono_ms() - started > 30000)
            backoff = inf->o.backoff_initial_ms;
        cd_warn("informer %s: watch failed, resuming in %d ms: %s", inf->plural, backoff, err.msg);
        nap(inf, jitter(backoff));
        backoff = backoff * 2 > inf->o.backoff_max_ms ? inf->o.backoff_max_ms : backoff * 2;
    }
    return NULL;
}

bool cd_informer_start(cd_informer *inf)
{
    if (!inf || inf->running)
        return false;
    atomic_store(&inf->stop, false);
    if (pthread_create(&inf->th, NULL, run, inf) != 0)
        return false;
    inf->running = true;
    return true;
}

void cd_informer_stop(cd_informer *inf)
{
    if (!inf || !inf->running)
        return;
    atomic_store(&inf->stop, true);
    pthread_join(inf->th, NULL);
    inf->running = false;
}

void cd_informer_free(cd_informer *inf)
{
    if (!inf)
        return;
    cd_informer_stop(inf);
    json_decref(inf->cache);
    free(inf->rv);
    free(inf->group);
    free(inf->version);
    free(inf->plural);
    free(inf->kind);
    free(inf->ns);
    free(inf->lsel);
    free(inf->fsel);
    pthread_mutex_destroy(&inf->mu);
    pthread_cond_destroy(&inf->synced_cv);
    free(inf);
}

bool cd_informer_synced(cd_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    bool s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

bool cd_informer_wait_synced(cd_informer *inf, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced) {
        if (pthread_cond_timedwait(&inf->synced_cv, &inf->mu, &deadline) != 0)
            break;
    }
    bool s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

json_t *cd_informer_get(cd_informer *inf, const char *ns, const char *name)
{
    char key[512];
    if (ns)
        snprintf(key, sizeof key, "%s/%s", ns, name ? name : "");
    else
        snprintf(key, sizeof key, "%s", name ? name : "");
    pthread_mutex_lock(&inf->mu);
    json_t *text = json_incref(json_object_get(inf->cache, key));
    pthread_mutex_unlock(&inf->mu);
    json_t *o = unpack(text);
    json_decref(text);
    return o;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* New references to every cached text, sorted by key; *n of them. */
static json_t **snapshot(cd_informer *inf, size_t *n)
{
    pthread_mutex_lock(&inf->mu);
    size_t i = 0;
    *n = json_object_size(inf->cache);
    const char **keys = calloc(*n ? *n : 1, sizeof *keys);
    json_t **texts = calloc(*n ? *n : 1, sizeof *texts);
    if (!keys || !texts)
        abort();
    const char *k;
    json_t *v;
    json_object_foreach(inf->cache, k, v) {
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof *keys, by_key);
    for (i = 0; i < *n; i++)
        texts[i] = json_incref(json_object_get(inf->cache, keys[i]));
    pthread_mutex_unlock(&inf->mu);
    free(keys);
    return texts;
}

json_t *cd_informer_list(cd_informer *inf)
{
    json_t *out = json_array();
    size_t n;
    json_t **texts = snapshot(inf, &n);
    for (size_t i = 0; i < n; i++) {       /* parsed outside the lock */
        json_t *o = unpack(texts[i]);
        if (o)
            json_array_append_new(out, o);
        json_decref(texts[i]);
    }
    free(texts);
    return out;
}

size_t cd_informer_size(cd_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    size_t n = json_object_size(inf->cache);
    pthread_mutex_unlock(&inf->mu);
    return n;
}

char *cd_informer_resource_version(cd_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    char *rv = inf->rv ? strdup(inf->rv) : NULL;
    pthread_mutex_unlock(&inf->mu);
    return rv;
}

void cd_informer_get_stats(cd_informer *inf, cd_informer_stats *out)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->st;
    pthread_mutex_unlock(&inf->mu);
}
