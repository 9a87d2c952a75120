/* leader.c - see leader.h. One thread per elector; all lease I/O through
 * its own client (per-request timeout: half the renew deadline). */
#include "kube/leader.h"
#include "kube/api.h"
#include "kube/kobj.h"
#include "kube/resource.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cd_leader {
    cd_kube_client *c;
    cd_leader_opts o;
    char *ns, *name, *identity;
    pthread_t th;
    atomic_bool stop;
    atomic_bool leading;
    pthread_mutex_t mu;
    char *holder;               /* last observed */
    char *observed_raw;         /* the record last seen, to notice changes */
    int64_t observed_ms;
    json_t *lease;              /* the lease as last read or written */
};

bool cd_lease_may_write(const char *holder, int duration_s, const char *me, int64_t observed_ms,
                        int64_t now_ms)
{
    if (!holder || !*holder)
        return true;                    /* released or never held */
    if (me && !strcmp(holder, me))
        return true;                    /* ours: renew */
    return observed_ms + (int64_t)duration_s * 1000 <= now_ms;   /* expired locally */
}

static char *default_identity(void)
{
    char host[256] = "canaryd";
    gethostname(host, sizeof host - 1);
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)rand();
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", host,
                  r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                  r[14], r[15]);
    return cd_buf_steal(&b);
}

static void set_holder(cd_leader *l, const char *h)
{
    bool changed = false;
    pthread_mutex_lock(&l->mu);
    if (h && *h && (!l->holder || strcmp(l->holder, h))) {
        free(l->holder);
        l->holder = strdup(h);
        changed = true;
    }
    pthread_mutex_unlock(&l->mu);
    if (changed && l->o.on_new_leader)
        l->o.on_new_leader(l->o.ud, h);
}

static json_t *lease_spec(cd_leader *l, int transitions, const char *acquire, const char *renew,
                          const char *holder, int duration_s)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:i}", "holderIdentity", holder, "leaseDurationSeconds",
                     duration_s, "acquireTime", acquire, "renewTime", renew, "leaseTransitions",
                     transitions);
}

/* client-go's tryAcquireOrRenew. */
static bool try_acquire_or_renew(cd_leader *l)
{
    cd_kube_err err = {0};
    char now[40];
    cd_micro_time_now(now);
    int dur = (l->o.lease_duration_ms + 999) / 1000;
    json_t *cur = NULL;
    if (!cd_kube_get(l->c, &CD_KUBE_LEASES, l->ns, l->name, &cur, &err)) {
        if (!cd_kube_is_not_found(&err)) {
            cd_warn("leader election: cannot read lease %s/%s: %s", l->ns, l->name, err.msg);
            return false;
        }
        json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
                                  "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns, "spec",
                                  lease_spec(l, 0, now, now, l->identity, dur));
        json_t *out = NULL;
        bool ok = cd_kube_create(l->c, &CD_KUBE_LEASES, l->ns, lease, &out, &err);
        json_decref(lease);
        if (!ok) {
            cd_warn("leader election: cannot create lease %s/%s: %s", l->ns, l->name, err.msg);
            return false;
        }
        pthread_mutex_lock(&l->mu);
        json_decref(l->lease);
        l->lease = out;
        l->observed_ms = cd_mono_ms();
        pthread_mutex_unlock(&l->mu);
        set_holder(l, l->identity);
        return true;
    }
    json_t *spec = json_object_get(cur, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    json_t *d = json_object_get(spec, "leaseDurationSeconds");
    int rec_dur = json_is_integer(d) && json_integer_value(d) > 0 ? (int)json_integer_value(d) : dur;
    int transitions = (int)json_integer_value(json_object_get(spec, "leaseTransitions"));
    const char *acq = json_string_value(json_object_get(spec, "acquireTime"));
    char *raw = json_dumps(spec, JSON_SORT_KEYS | JSON_COMPACT);
    int64_t mono = cd_mono_ms();
    pthread_mutex_lock(&l->mu);
    if (!l->observed_raw || strcmp(l->observed_raw, raw ? raw : "")) {
        free(l->observed_raw);
        l->observed_raw = raw;
        l->observed_ms = mono;
        raw = NULL;
    }
    int64_t observed = l->observed_ms;
    pthread_mutex_unlock(&l->mu);
    free(raw);
    set_holder(l, holder);
    if (!cd_lease_may_write(holder, rec_dur, l->identity, observed, mono)) {
        json_decref(cur);
        return false;
    }
    bool mine = holder && !strcmp(holder, l->identity);
    json_object_set_new(cur, "spec", lease_spec(l, mine ? transitions : transitions + 1,
                                                mine && acq ? acq : now, now, l->identity, dur));
    json_t *out = NULL;
    bool ok = cd_kube_update(l->c, &CD_KUBE_LEASES, cur, &out, &err);
    json_decref(cur);
    if (!ok) {
        if (!cd_kube_is_conflict(&err))
            cd_warn("leader election: cannot update lease %s/%s: %s", l->ns, l->name, err.msg);
        return false;
    }
    pthread_mutex_lock(&l->mu);
    json_decref(l->lease);
    l->lease = out;
    free(l->observed_raw);
    l->observed_raw = json_dumps(json_object_get(out, "spec"), JSON_SORT_KEYS | JSON_COMPACT);
    l->observed_ms = cd_mono_ms();
    pthread_mutex_unlock(&l->mu);
    set_holder(l, l->identity);
    return true;
}

static void nap(cd_leader *l, int ms)
{
    int64_t until = cd_mono_ms() + ms;
    while (!atomic_load(&l->stop)) {
        int64_t left = until - cd_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {0, (left > 20 ? 20 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void lost(cd_leader *l, const char *why)
{
    if (!atomic_exchange(&l->leading, false))
        return;
    cd_error("leader election: lost the lease %s/%s: %s", l->ns, l->name, why);
    if (l->o.on_stopped_leading)
        l->o.on_stopped_leading(l->o.ud);
}

static void *run(void *arg)
{
    cd_leader *l = arg;
    /* campaign */
    while (!atomic_load(&l->stop)) {
        if (try_acquire_or_renew(l))
            break;
        nap(l, l->o.retry_period_ms + rand() % (l->o.retry_period_ms / 5 + 1));   /* jitter 1.2 */
    }
    if (atomic_load(&l->stop))
        return NULL;
    atomic_store(&l->leading, true);
    cd_info("leader election: %s acquired the lease %s/%s", l->identity, l->ns, l->name);
    if (l->o.on_started_leading)
        l->o.on_started_leading(l->o.ud);
    /* renew */
    int64_t last_renew = cd_mono_ms();
    while (!atomic_load(&l->stop)) {
        nap(l, l->o.retry_period_ms);
        if (atomic_load(&l->stop))
            break;
        if (try_acquire_or_renew(l)) {
            last_renew = cd_mono_ms();
            continue;
        }
        char *holder = cd_leader_holder(l);
        bool stolen = holder && strcmp(holder, l->identity);
        free(holder);
        if (stolen) {
            lost(l, "another holder took it");
            return NULL;
        }
        if (cd_mono_ms() - last_renew >= l->o.renew_deadline_ms) {
            lost(l, "could not renew it within the renew deadline");
            return NULL;
        }
    }
    return NULL;
}

cd_leader *cd_leader_start(const cd_kube_config *cfg, const cd_leader_opts *o, cd_kube_err *err)
{
    if (!o || !o->namespace || !cd_kube_valid_name(o->namespace)) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "leader election: a valid lease namespace is required");
        return NULL;
    }
    if (o->name && !cd_kube_valid_name(o->name)) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "leader election: invalid lease name \"%s\"", o->name);
        return NULL;
    }
    cd_leader *l = calloc(1, sizeof *l);
    l->o = *o;
    if (l->o.lease_duration_ms <= 0)
        l->o.lease_duration_ms = 60000;
    if (l->o.renew_deadline_ms <= 0)
        l->o.renew_deadline_ms = 15000;
    if (l->o.retry_period_ms <= 0)
        l->o.retry_period_ms = 5000;
    if (l->o.lease_duration_ms <= l->o.renew_deadline_ms ||
        l->o.renew_deadline_ms <= l->o.retry_period_ms) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "leader election: need lease duration > renew deadline > "
                     "retry period (%d, %d, %d ms)", l->o.lease_duration_ms, l->o.renew_deadline_ms,
                     l->o.retry_period_ms);
        free(l);
        return NULL;
    }
    cd_kube_client_opts co = {.qps = 5, .burst = 10, .timeout_ms = l->o.renew_deadline_ms / 2,
                              .max_retries = -1};
    l->c = cd_kube_client_new(cfg, &co, err);
    if (!l->c) {
        free(l);
        return NULL;
    }
    l->ns = strdup(o->namespace);
    l->name = strdup(o->name ? o->name : "canaryd-leader-election");
    l->identity = o->identity ? strdup(o->identity) : default_identity();
    pthread_mutex_init(&l->mu, NULL);
    if (pthread_create(&l->th, NULL, run, l) != 0) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "leader election: cannot start a thread");
        cd_kube_client_free(l->c);
        free(l->ns);
        free(l->name);
        free(l->identity);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    return l;
}

bool cd_leader_is_leader(cd_leader *l) { return l && atomic_load(&l->leading); }
const char *cd_leader_identity(cd_leader *l) { return l->identity; }

char *cd_leader_holder(cd_leader *l)
{
    pthread_mutex_lock(&l->mu);
    char *h = l->holder ? strdup(l->holder) : NULL;
    pthread_mutex_unlock(&l->mu);
    return h;
}

/* client-go's release: empty holder, 1 s duration, transitions kept. */
static void release(cd_leader *l)
{
    pthread_mutex_lock(&l->mu);
    json_t *lease = l->lease ? json_deep_copy(l->lease) : NULL;
    pthread_mutex_unlock(&l->mu);
    if (!lease)
        return;
    char now[40];
    cd_micro_time_now(now);
    int transitions = (int)json_integer_value(json_object_get(json_object_get(lease, "spec"),
                                                              "leaseTransitions"));
    json_t *spec = json_pack("{s:s, s:i, s:s, s:s, s:i}", "holderIdentity", "", "leaseDurationSeconds", 1,
                             "acquireTime", now, "renewTime", now, "leaseTransitions", transitions);
    json_object_set_new(lease, "spec", spec);
    cd_kube_err err = {0};
    if (!cd_kube_update(l->c, &CD_KUBE_LEASES, lease, NULL, &err))
        cd_warn("leader election: could not release the lease %s/%s: %s", l->ns, l->name, err.msg);
    else
        cd_info("leader election: released the lease %s/%s", l->ns, l->name);
    json_decref(lease);
}

void cd_leader_stop(cd_leader *l)
{
    if (!l || atomic_exchange(&l->stop, true))
        return;
    pthread_join(l->th, NULL);
    if (atomic_load(&l->leading)) {
        if (!l->o.keep_on_stop)
            release(l);
        atomic_store(&l->leading, false);
        if (l->o.on_stopped_leading)
            l->o.on_stopped_leading(l->o.ud);
    }
}

void cd_leader_free(cd_leader *l)
{
    if (!l)
        return;
    cd_leader_stop(l);
    cd_kube_client_free(l->c);
    json_decref(l->lease);
    free(l->holder);
    free(l->observed_raw);
    free(l->ns);
    free(l->name);
    free(l->identity);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
