/* controller.c - `canaryd kube`'s controller (reference §2.1, §9): startup
 * checks, /metrics and /healthz, leader election, informers on Canaries,
 * MetricTemplates and AlertProviders, a work queue served by -threadiness
 * workers (syncs and analysis ticks; one canary is never worked on by two
 * threads at once), and a scheduler giving every stored canary a job that
 * ticks at its analysis interval, first at once (due jobs come off a timer
 * heap, engine/schedule.c, so an idle pass costs nothing with 10,000
 * canaries; kube keeps each job's period). SIGTERM lets running ticks
 * finish (up to -shutdown-grace) and releases the lease; losing leadership
 * cancels every request in flight and exits 1, as Flagger does. Must not
 * run a canary's sync or tick on two threads at once, nor any work while
 * not leading. */
#include "judge/judge.h"
#include "kube/api.h"
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/operator/operator.h"
#include "kube/mesh/router.h"
#include "providers/provider.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/timeutil.h"
#include "version.h"
#include "util/grow.h"
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS 1024
#define SCHED_PERIOD_MS 50
#define SYNC_RETRY_MS 5000

/* ---- settings ------------------------------------------------------------- */

/* Splits a comma list into l (strings in *buf). */
static void split_list(const char *s, char **buf, cd_strlist *l)
{
    *buf = strdup(s ? s : "");
    l->items = NULL;
    l->n = 0;
    size_t cap = 0;
    for (char *save = NULL, *tok = strtok_r(*buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && end[-1] == ' ')
            *--end = '\0';
        if (!*tok)
            continue;
        CD_GROW(l->items, cap, l->n + 1, 4);
        l->items[l->n++] = tok;
    }
}

/* ---- entries ----------------------------------------------------------------- */

static size_t bucket_of(const char *ns, const char *name)
{
    uint64_t h = cd_fnv1a64(ns, strlen(ns)) ^ (cd_fnv1a64(name, strlen(name)) * 31);
    return (size_t)(h % NBUCKETS);
}

static cdk_entry *entry_find(cdk_operator *op, const char *ns, const char *name)
{
    for (cdk_entry *e = op->buckets[bucket_of(ns, name)]; e; e = e->hnext)
        if (!strcmp(e->ns, ns) && !strcmp(e->name, name))
            return e;
    return NULL;
}

static cdk_entry *entry_get(cdk_operator *op, const char *ns, const char *name)
{
    cdk_entry *e = entry_find(op, ns, name);
    if (e)
        return e;
    e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->ns = strdup(ns);
    e->name = strdup(name);
    snprintf(e->key, sizeof e->key, "%s.%s", name, ns);
    cd_sched_job_init(&e->job);
    size_t b = bucket_of(ns, name);
    e->hnext = op->buckets[b];
    op->buckets[b] = e;
    op->nentries++;
    return e;
}

static void entry_unlink(cdk_operator *op, cdk_entry *e)
{
    cdk_entry **p = &op->buckets[bucket_of(e->ns, e->name)];
    while (*p && *p != e)
        p = &(*p)->hnext;
    if (*p) {
        *p = e->hnext;
        op->nentries--;
    }
}

static void entry_free(cdk_entry *e)
{
    free(e->hist);
    free(e->ns);
    free(e->name);
    free(e);
}

/* ---- the dashboard's history (-dashboard) ----------------------------------- */

void cdk_history_note(cdk_operator *op, const char *ns, const char *name,
                      const cd_canary_status *st)
{
    if (!op->opt.dashboard)
        return;
    pthread_mutex_lock(&op->mu);
    cdk_entry *e = entry_find(op, ns, name);
    if (e && !e->hist && !(e->hist = calloc(CDK_HISTORY_MAX, sizeof *e->hist)))
        abort();
    const cdk_point *last = e && e->hn ? &e->hist[(e->hstart + e->hn - 1) % CDK_HISTORY_MAX] : NULL;
    if (e && (!last || last->canary_weight != st->canary_weight || last->phase != (int)st->phase)) {
        if (e->hn == CDK_HISTORY_MAX) {   /* the oldest change goes */
            e->hstart = (e->hstart + 1) % CDK_HISTORY_MAX;
            e->hn--;
        }
        e->hist[(e->hstart + e->hn++) % CDK_HISTORY_MAX] =
            (cdk_point){cd_wall_ms(), st->canary_weight, (int)st->phase};
    }
    pthread_mutex_unlock(&op->mu);
}

static json_t *point_json(int64_t at_ms, const cdk_point *p)
{
    char ts[32];
    return json_pack("{s:s,s:I,s:s,s:i,s:i,s:[]}", "time", cd_rfc3339(at_ms, ts), "timeMs",
                     (json_int_t)at_ms, "phase", cd_phase_name((cd_phase)p->phase),
                     "canaryWeight", p->canary_weight, "primaryWeight", 100 - p->canary_weight,
                     "values");
}

json_t *cdk_history_json(cdk_operator *op, const char *ns, const char *name)
{
    pthread_mutex_lock(&op->mu);
    cdk_entry *e = op->buckets ? entry_find(op, ns, name) : NULL;
    json_t *points = e ? json_array() : NULL;
    for (unsigned i = 0; e && i < e->hn; i++) {
        const cdk_point *p = &e->hist[(e->hstart + i) % CDK_HISTORY_MAX];
        json_array_append_new(points, point_json(p->at_ms, p));
    }
    pthread_mutex_unlock(&op->mu);
    return points ? json_pack("{s:[],s:o,s:i}", "metrics", "points", points, "capacity",
                              CDK_HISTORY_MAX)
                  : NULL;
}

/* mu held */
static void enqueue_locked(cdk_operator *op, cdk_entry *e)
{
    if (e->queued || e->busy || e->deleted)
        return;
    e->queued = true;
    e->qnext = NULL;
    if (op->qtail)
        op->qtail->qnext = e;
    else
        op->qhead = e;
    op->qtail = e;
    pthread_cond_signal(&op->cv);
}

void cdk_enqueue_sync(cdk_operator *op, const char *ns, const char *name)
{
    pthread_mutex_lock(&op->mu);
    cdk_entry *e = entry_get(op, ns, name);
    e->want_sync = true;
    enqueue_locked(op, e);
    pthread_mutex_unlock(&op->mu);
}

void cdk_enqueue_sync_later(cdk_operator *op, const char *ns, const char *name)
{
    pthread_mutex_lock(&op->mu);
    cdk_entry *e = entry_find(op, ns, name);
    if (e) {
        cd_sched_set_aux(&op->sched, &e->job, cd_mono_ms() + SYNC_RETRY_MS);
    }
    pthread_mutex_unlock(&op->mu);
}

void cdk_schedule(cdk_operator *op, const char *ns, const char *name, int64_t interval_ms,
                  const char *target)
{
    pthread_mutex_lock(&op->mu);
    cdk_entry *e = entry_find(op, ns, name);
    if (e && interval_ms < 0) {
        cd_sched_disarm(&op->sched, &e->job);
    } else if (e) {
        /* a new or restarted job ticks at once */
        if (target)
            cd_sched_set_target(&op->sched, &e->job, target);
        if (cd_sched_arm(&op->sched, &e->job, ns, interval_ms, cd_mono_ms()))
            cd_logf(CD_LOG_INFO, e->key, "analysis interval changed to %lldms: job restarted",
                    (long long)interval_ms);
    }
    pthread_mutex_unlock(&op->mu);
}

/* ---- workers ------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    cdk_operator *op = arg;
    pthread_mutex_lock(&op->mu);
    for (;;) {
        while (!op->qhead && !atomic_load(&op->stopping))
            pthread_cond_wait(&op->cv, &op->mu);
        if (atomic_load(&op->stopping))
            break;
        cdk_entry *e = op->qhead;
        op->qhead = e->qnext;
        if (!op->qhead)
            op->qtail = NULL;
        e->queued = false;
        e->busy = true;
        bool sync = e->want_sync, tick = e->want_tick;
        e->want_sync = e->want_tick = false;
        atomic_fetch_add(&op->busy_workers, 1);
        pthread_mutex_unlock(&op->mu);

        if (sync)
            cdk_sync(op, e->ns, e->name);
        pthread_mutex_lock(&op->mu);
        tick = tick && e->job.armed && !e->deleted && !atomic_load(&op->stopping);
        pthread_mutex_unlock(&op->mu);
        if (tick)
            cdk_tick(op, e->ns, e->name);

        pthread_mutex_lock(&op->mu);
        atomic_fetch_sub(&op->busy_workers, 1);
        e->busy = false;
        if (e->deleted)
            entry_free(e);
        else if (e->want_sync || e->want_tick)
            enqueue_locked(op, e);
        pthread_cond_broadcast(&op->cv);
    }
    pthread_mutex_unlock(&op->mu);
    return NULL;
}

/* ---- scheduler ---------------------------------------------------------------- */

static void set_total(void *ud, const char *ns, int n)
{
    cd_registry_set_canary_total(ud, ns, n);
}

static void warn_shared(void *ud, const char *target, int n)
{
    (void)ud;
    (void)n;
    cd_error("Bad things will happen! Found more than one canary with the same target %s", target);
}

/* Every control loop: canaries per namespace (every namespace that ever
 * had one, 0 once none is left), and Flagger's warning about two canaries
 * on one target. mu held. */
static void control_loop(cdk_operator *op)
{
    cd_sched_each_ns(&op->sched, set_total, op->registry);
    cd_sched_each_shared(&op->sched, warn_shared, NULL);
}

static cdk_entry *entry_of(cd_sched_job *j)
{
    return (cdk_entry *)((char *)j - offsetof(cdk_entry, job));
}

static void *scheduler_main(void *arg)
{
    cdk_operator *op = arg;
    int64_t last_loop = 0;
    while (!atomic_load(&op->stopping)) {
        int64_t now = cd_mono_ms();
        pthread_mutex_lock(&op->mu);
        unsigned what;
        for (cd_sched_job *j; (j = cd_sched_pop(&op->sched, now, &what));) {
            cdk_entry *e = entry_of(j);
            if (what & CD_SCHED_AUX)
                e->want_sync = true;
            if (what & CD_SCHED_TICK)   /* ticks missed while busy are dropped */
                e->want_tick = true;
            enqueue_locked(op, e);
        }
        if (now - last_loop >= op->opt.control_loop_ms) {
            last_loop = now;
            control_loop(op);
        }
        pthread_mutex_unlock(&op->mu);
        struct timespec ts = {0, SCHED_PERIOD_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* ---- informer handlers ------------------------------------------------------- */

static void on_add(void *ud, const json_t *obj)
{
    cdk_enqueue_sync(ud, cd_kobj_namespace(obj) ?: "", cd_kobj_name(obj) ?: "");
}

/* Flagger enqueues an update only when the spec changed, or when the
 * finalizer has work to do. */
static void on_update(void *ud, const json_t *old_obj, const json_t *new_obj)
{
    cdk_gates_changed(ud, old_obj, new_obj);
    bool revert = json_is_true(kj_at(new_obj, "spec.revertOnDeletion"));
    bool fin = cd_kobj_has_finalizer(new_obj, CDK_FINALIZER);
    if (!kj_equal(kj_at(old_obj, "spec"), kj_at(new_obj, "spec")) || cd_kobj_is_deleting(new_obj) ||
        revert != fin)
        on_add(ud, new_obj);
}

static void on_delete(void *ud, const json_t *obj)
{
    cdk_operator *op = ud;
    const char *ns = cd_kobj_namespace(obj) ?: "", *name = cd_kobj_name(obj) ?: "";
    const char *target = kj_str(obj, "spec.targetRef.name");
    pthread_mutex_lock(&op->mu);
    cdk_entry *e = entry_find(op, ns, name);
    if (e) {
        entry_unlink(op, e);
        cd_sched_forget(&op->sched, &e->job);
        e->deleted = true;
        if (!e->busy) {
            if (e->queued) {   /* take it out of the queue */
                cdk_entry **p = &op->qhead, *prev = NULL;
                while (*p && *p != e) {
                    prev = *p;
                    p = &(*p)->qnext;
                }
                if (*p) {
                    *p = e->qnext;
                    if (op->qtail == e)
                        op->qtail = prev;
                }
            }
            entry_free(e);
        }
    }
    pthread_mutex_unlock(&op->mu);
    if (target)
        cd_registry_forget(op->registry, target, ns);
    cd_logf(CD_LOG_INFO, NULL, "Deleted canary %s.%s", name, ns);
}

/* ---- starting and stopping ------------------------------------------------------ */

static cd_informer *informer(cdk_operator *op, const cd_kube_resource *r, bool handlers)
{
    cd_informer_opts io = {.resource = r,
                           .namespace = op->opt.namespace_[0] ? op->opt.namespace_ : NULL,
                           .resync_ms = handlers ? 30000 : 0,
                           .strip_managed_fields = true};
    cd_informer_handlers h = {0};
    if (handlers)
        h = (cd_informer_handlers){on_add, on_update, on_delete, op};
    cd_informer *inf = cd_informer_new(op->kc, &io, &h);
    if (!inf || !cd_informer_start(inf)) {
        cd_error("cannot start the %s informer", r->plural);
        exit(1);
    }
    return inf;
}

static void start_controllers(cdk_operator *op)
{
    op->templates = informer(op, &CD_KUBE_METRIC_TEMPLATES, false);
    op->providers = informer(op, &CD_KUBE_ALERT_PROVIDERS, false);
    op->canaries = informer(op, &CD_KUBE_CANARIES, true);
    cd_informer *all[] = {op->templates, op->providers, op->canaries};
    for (size_t i = 0; i < 3; i++) {
        if (!cd_informer_wait_synced(all[i], 60000) && !atomic_load(&op->lost_leadership)) {
            cd_error("timed out waiting for the informer caches to sync");
            exit(1);
        }
    }
    cd_info("Informer caches synced: %zu canaries", cd_informer_size(op->canaries));
    pthread_mutex_lock(&op->dash_mu);
    op->dash_canaries = op->canaries;
    pthread_mutex_unlock(&op->dash_mu);
    op->workers = calloc((size_t)op->opt.threadiness, sizeof *op->workers);
    if (!op->workers)
        abort();
    for (int i = 0; i < op->opt.threadiness; i++)
        if (pthread_create(&op->workers[op->nworkers], NULL, worker_main, op) == 0)
            op->nworkers++;
    if (pthread_create(&op->scheduler, NULL, scheduler_main, op) != 0) {
        cd_error("cannot start the scheduler thread");
        exit(1);
    }
    op->running = true;
    cd_info("Starting workers: %d, control loop every %lldms", op->nworkers,
            (long long)op->opt.control_loop_ms);
}

static void stop_controllers(cdk_operator *op)
{
    if (!op->running)
        return;
    atomic_store(&op->stopping, true);
    pthread_join(op->scheduler, NULL);
    /* running ticks finish, within the grace period */
    int64_t deadline = cd_mono_ms() + op->opt.shutdown_grace_ms;
    while (atomic_load(&op->busy_workers) > 0 && cd_mono_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&op->busy_workers) > 0) {
        cd_warn("ticks still running after %lldms: cancelling their requests",
                (long long)op->opt.shutdown_grace_ms);
        cd_kube_client_cancel(op->kc);
    }
    pthread_mutex_lock(&op->mu);
    pthread_cond_broadcast(&op->cv);
    pthread_mutex_unlock(&op->mu);
    for (int i = 0; i < op->nworkers; i++)
        pthread_join(op->workers[i], NULL);
    pthread_mutex_lock(&op->dash_mu);
    op->dash_canaries = NULL;   /* no page reads the cache from here on */
    pthread_mutex_unlock(&op->dash_mu);
    cd_informer *all[] = {op->canaries, op->templates, op->providers};
    for (size_t i = 0; i < 3; i++) {
        cd_informer_stop(all[i]);
        cd_informer_free(all[i]);
    }
    op->running = false;
}

/* ---- leader election ---------------------------------------------------------- */

static void on_started_leading(void *ud)
{
    cdk_operator *op = ud;
    cd_info("Acquired leadership (%s)", cd_leader_identity(op->leader));
    atomic_store(&op->start_requested, true);
}

static void on_stopped_leading(void *ud)
{
    cdk_operator *op = ud;
    if (atomic_load(&op->stopping))
        return;
    atomic_store(&op->lost_leadership, true);
    cd_kube_client_cancel(op->kc);   /* every request in flight stops now */
}

static void on_new_leader(void *ud, const char *identity)
{
    cd_info("New leader elected: %s", identity && *identity ? identity : "(none)");
}

/* ---- startup checks ------------------------------------------------------------ */

static bool check_crds(cdk_operator *op)
{
    const cd_kube_resource *crds[] = {&CD_KUBE_CANARIES, &CD_KUBE_METRIC_TEMPLATES,
                                      &CD_KUBE_ALERT_PROVIDERS};
    const char *ns = op->opt.namespace_[0] ? op->opt.namespace_ : NULL;
    for (size_t i = 0; i < 3; i++) {
        cd_kube_param p = {"limit", "1"};
        char *path = cd_kube_path(crds[i], ns, NULL, NULL, &p, 1);
        cd_kube_err ke;
        bool ok = path && cd_kube_request(op->kc, "GET", path, NULL, NULL, NULL, &ke);
        free(path);
        if (!ok) {
            cd_error("%s.%s: cannot list (is the CRD installed, may canaryd list it?): %s",
                     crds[i]->plural, crds[i]->group, ke.msg);
            return false;
        }
    }
    return true;
}

static void log_server_version(cdk_operator *op)
{
    json_t *v = NULL;
    cd_kube_err ke;
    if (cd_kube_request(op->kc, "GET", "/version", NULL, NULL, &v, &ke))
        cd_info("Connected to Kubernetes API %s at %s", kj_str(v, "gitVersion") ?: "?",
                op->kcfg.server);
    json_decref(v);
}

static void check_metrics_server(cdk_operator *op)
{
    cd_provider_config pc = {.type = "prometheus", .address = op->opt.metrics_server,
                             .interval = "1m"};
    cd_err err = {{0}};
    cd_provider *p = cd_provider_open(&pc, &err);
    bool ok = p && cd_provider_is_online(p, &err);
    cd_provider_close(p);
    char shown[256], why[sizeof err.msg];
    cd_redact_url(op->opt.metrics_server, 0, shown, sizeof shown);
    cd_redact_text(err.msg, op->opt.metrics_server, 0, why, sizeof why);
    if (ok)
        cd_info("Connected to metrics server %s", shown);
    else
        cd_error("Error connecting to metrics server %s: %s", shown, why);
}

/* ---- run ---------------------------------------------------------------------------- */

static void write_registry(void *r, cd_buf *out) { cd_registry_write(r, out); }

static bool setup(cdk_operator *op, const cdk_options *o)
{
    memset(op, 0, sizeof *op);
    op->opt = *o;
    pthread_mutex_init(&op->mu, NULL);
    pthread_mutex_init(&op->dash_mu, NULL);
    pthread_cond_init(&op->cv, NULL);
    op->buckets = calloc(NBUCKETS, sizeof *op->buckets);
    cd_sched_init(&op->sched, (cd_sched_policy){CD_SCHED_FIXED_PERIOD, 0});
    if (!op->buckets)
        abort();
    split_list(o->selector_labels, &op->selector_buf, &op->set.selector_labels);
    split_list(o->include_label_prefix, &op->prefix_buf, &op->set.label_prefixes);
    op->set.config_tracking = o->config_tracking;
    op->set.mesh_provider = o->mesh_provider;
    op->set.ingress_annotations_prefix = o->ingress_annotations_prefix;
    op->set.ingress_class = o->ingress_class;
    if (op->set.selector_labels.n == 0) {
        cd_error("-selector-labels must name at least one label");
        return false;
    }
    cd_err perr = {{0}};
    if (!cdk_router_find(o->mesh_provider, &perr)) {
        cd_error("-mesh-provider: %s", perr.msg);
        return false;
    }
    op->engine.mesh_provider = o->mesh_provider;
    op->engine.judge = cd_judge_metric;
    op->hooks.event_webhook = o->event_webhook && *o->event_webhook ? o->event_webhook : NULL;
    op->notify.cluster_name = o->cluster_name;
    op->notify.slack_url = o->slack_url;
    op->notify.slack_token = o->slack_token;
    op->notify.slack_proxy = o->slack_proxy;
    op->notify.slack_user = o->slack_user;
    op->notify.slack_channel = o->slack_channel;
    op->notify.msteams_url = o->msteams_url;
    op->notify.msteams_proxy = o->msteams_proxy;
    cd_notify_config_env(&op->notify);

    cd_kube_err ke;
    cd_kube_config_opts co = {.kubeconfig = o->kubeconfig && *o->kubeconfig ? o->kubeconfig : NULL,
                              .context = o->context, .master = o->master && *o->master ? o->master : NULL};
    if (!cd_kube_config_load(&co, &op->kcfg, &ke)) {
        cd_error("Error building kubeconfig: %s", ke.msg);
        return false;
    }
    cd_kube_client_opts cl = {.qps = o->qps, .burst = o->burst};
    op->kc = cd_kube_client_new(&op->kcfg, &cl, &ke);
    if (!op->kc) {
        cd_error("Error building the Kubernetes client: %s", ke.msg);
        return false;
    }
    op->secrets = cdk_secret_source(op);
    op->cluster = cdk_provider_cluster(op);
    cd_kube_events_opts eo = {0};
    op->events = cd_kube_events_new(op->kc, &eo);
    op->registry = cd_registry_new(CANARYD_VERSION, o->mesh_provider);
    return true;
}

static void teardown(cdk_operator *op)
{
    stop_controllers(op);
    if (op->leader) {
        cd_leader_stop(op->leader);
        cd_leader_free(op->leader);
    }
    cd_telemetry_endpoint_stop(op->endpoint);
    cd_kube_events_free(op->events);
    cd_kube_client_free(op->kc);
    cd_kube_config_free(&op->kcfg);
    cd_registry_free(op->registry);
    for (size_t b = 0; op->buckets && b < NBUCKETS; b++) {
        for (cdk_entry *e = op->buckets[b], *n; e; e = n) {
            n = e->hnext;
            entry_free(e);
        }
    }
    free(op->buckets);
    cd_sched_free(&op->sched);
    free(op->workers);
    free((void *)op->set.selector_labels.items);
    free((void *)op->set.label_prefixes.items);
    free(op->selector_buf);
    free(op->prefix_buf);
    pthread_mutex_destroy(&op->mu);
    pthread_mutex_destroy(&op->dash_mu);
    pthread_cond_destroy(&op->cv);
}

static bool start_endpoint(cdk_operator *op)
{
    cd_telemetry_endpoint_config mc = {.port = op->opt.port, .n_writers = 1};
    mc.writers[0] = write_registry;
    mc.writer_ctx[0] = op->registry;
    if (op->opt.dashboard) {   /* read-only pages (docs/dashboard.md) */
        mc.page_prefix = "/ui";
        mc.page = cdk_dashboard_page;
        mc.page_ctx = op;
    }
    cd_err err = {{0}};
    op->endpoint = cd_telemetry_endpoint_start(&mc, &err);
    if (!op->endpoint) {
        cd_error("cannot serve /metrics on port %d: %s", op->opt.port, err.msg);
        return false;
    }
    cd_info("Serving /metrics and /healthz%s on port %d", op->opt.dashboard ? " and the dashboard (/ui/)" : "",
            cd_telemetry_endpoint_port(op->endpoint));
    return true;
}

static bool start_election(cdk_operator *op)
{
    const char *ns = op->opt.namespace_[0] ? op->opt.namespace_ : op->opt.leader_election_namespace;
    cd_leader_opts lo = {.namespace = ns,
                         .name = op->opt.lease_name,
                         .lease_duration_ms = (int)op->opt.lease_duration_ms,
                         .renew_deadline_ms = (int)op->opt.renew_deadline_ms,
                         .retry_period_ms = (int)op->opt.retry_period_ms,
                         .on_started_leading = on_started_leading,
                         .on_stopped_leading = on_stopped_leading,
                         .on_new_leader = on_new_leader,
                         .ud = op};
    cd_kube_err ke;
    op->leader = cd_leader_start(&op->kcfg, &lo, &ke);
    if (!op->leader) {
        cd_error("cannot start leader election: %s", ke.msg);
        return false;
    }
    cd_info("Waiting for leadership of lease %s/%s as %s", ns,
            op->opt.lease_name ? op->opt.lease_name : "canaryd-leader-election",
            cd_leader_identity(op->leader));
    return true;
}

int cdk_operator_run(const cdk_options *o)
{
    /* signals are taken synchronously; every thread inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    static cdk_operator op;
    if (!setup(&op, o)) {
        teardown(&op);
        return 1;
    }
    cd_info("Starting canaryd %s kube operator (mesh provider %s, namespace %s)", CANARYD_VERSION,
            o->mesh_provider, o->namespace_[0] ? o->namespace_ : "all");
    log_server_version(&op);
    if (!check_crds(&op) || !start_endpoint(&op)) {
        teardown(&op);
        return 1;
    }
    check_metrics_server(&op);
    if (o->leader_election) {
        if (!start_election(&op)) {
            teardown(&op);
            return 1;
        }
    } else {
        atomic_store(&op.start_requested, true);
    }
    int rc = 0;
    for (;;) {
        struct timespec ts = {0, 100 * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(&sigs, &si, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            cd_info("signal %d received, shutting down", sig);
            break;
        }
        if (atomic_load(&op.lost_leadership)) {
            cd_error("Leadership lost: stopping all work");
            fflush(stderr);
            _exit(1);
        }
        if (atomic_load(&op.start_requested) && !op.running)
            start_controllers(&op);
    }
    teardown(&op);
    cd_info("canaryd kube stopped");
    return rc;
}
