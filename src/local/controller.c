/* controller.c - `canaryd local`: keeps the canaries of a manifest
 * directory in step with their LocalWorkloads, ticks each through the
 * engine on worker threads, supervises the processes and the router, and
 * persists everything in the state directory so that a restart (even
 * after kill -9) carries on where it was. The loop itself never blocks on
 * the network: ticks (webhooks, queries) run on workers. */
#include "local/controller.h"
#include "judge/judge.h"
#include "local/local.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/suggest.h"
#include "util/timeutil.h"
#include "version.h"
#include "util/grow.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define LOOP_MS 50
/* the next tick a period after the last one started, or 1 s after a tick
 * that waited for readiness (local processes start in ms) */
#define RETRY_MS 1000

/* ---- lookups -------------------------------------------------------------- */

lc_canary *lc_find_canary(cd_local *L, const char *ns, const char *name)
{
    for (size_t i = 0; i < L->ncanaries; i++)
        if (!strcmp(L->canaries[i]->ns, ns) && !strcmp(L->canaries[i]->name, name))
            return L->canaries[i];
    return NULL;
}

void lc_not_found(cd_local *L, const char *ns, const char *name, char *out, size_t outlen)
{
    cd_suggest sg;
    cd_suggest_init(&sg, name);
    const char *elsewhere = NULL;
    for (size_t i = 0; i < L->ncanaries; i++) {
        const lc_canary *c = L->canaries[i];
        if (c->gone)
            continue;
        if (!strcmp(c->ns, ns))
            cd_suggest_offer(&sg, c->name);
        else if (!strcmp(c->name, name) && !elsewhere)
            elsewhere = c->ns;
    }
    if (elsewhere)
        snprintf(out, outlen, "canary \"%.250s\" not found in namespace %.250s (namespace "
                 "%.250s has one: -n %.250s)", name, ns, elsewhere, elsewhere);
    else if (sg.best)
        snprintf(out, outlen, "canary \"%.250s\" not found in namespace %.250s; did you mean "
                 "%.250s?", name, ns, sg.best);
    else
        snprintf(out, outlen, "canary \"%.250s\" not found in namespace %.250s", name, ns);
}

static cd_local_target *find_target(cd_local *L, const char *ns, const char *name)
{
    for (size_t i = 0; i < L->ntargets; i++)
        if (!strcmp(L->targets[i]->ns, ns) && !strcmp(L->targets[i]->name, name))
            return L->targets[i];
    return NULL;
}

void lc_wake(cd_local *L)
{
    uint64_t one = 1;
    if (write(L->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        cd_error("local: cannot wake the loop: %s", strerror(errno));
}

/* ---- targets: process sets, persisted for adoption ----------------------- */

static char *procset_key(const char *ns, const char *set)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "procsets/%s/%s", ns, set);
    return cd_buf_steal(&b);
}

static char *template_key(const char *ns, const char *revision)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "templates/%s/%s", ns, revision);
    return cd_buf_steal(&b);
}

/* Adds a sentence to the target's pending warning (journalled as a
 * Warning event of each canary of the target by reconcile). */
static void target_warn(cd_local_target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void target_warn(cd_local_target *t, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cd_warn("local: %s", msg);
    size_t used = strlen(t->warning);
    snprintf(t->warning + used, sizeof t->warning - used, "%s%s", used ? "; " : "", msg);
}

/* A process record that cannot be read: the file is moved aside and the
 * set's replicas are found by the marks in their environment, with the
 * template of the revision they run; they keep serving. */
static void recover_set(cd_local *L, cd_local_target *t, cd_procset *ps, const char *path,
                        const char *why)
{
    char moved[1200];
    cd_state_quarantine(path, moved, sizeof moved);
    char rev[64];
    int n = cd_procset_adopt_marked(ps, L->owner, rev, sizeof rev, cd_mono_ms());
    json_t *tj = NULL;
    if (rev[0]) {
        char *key = template_key(t->ns, rev);
        tj = cd_state_load_json(L->state, key);
        free(key);
    }
    cd_proc_template *tmpl = cd_proc_template_from_json(tj);
    json_decref(tj);
    if (tmpl) {
        cd_procset_set_template(ps, tmpl);
        cd_proc_template_free(tmpl);
    }
    target_warn(t,
                "the process record %s is unreadable (%s); moved it to %s; adopted %d running "
                "replica%s of %s by their environment%s%s",
                path, why, moved, n, n == 1 ? "" : "s", cd_procset_name(ps),
                rev[0] ? ", revision " : "", rev);
}

static void restore_set(cd_local *L, cd_local_target *t, cd_procset *ps)
{
    char *key = procset_key(t->ns, cd_procset_name(ps));
    json_t *j = NULL;
    char why[300];
    int rc = cd_state_load_json_why(L->state, key, &j, why, sizeof why);
    if (rc == 0 && !cd_procset_record_ok(j, why, sizeof why))
        rc = -EINVAL;
    if (rc == 0) {
        int n = cd_procset_restore(ps, j, cd_mono_ms());
        if (n)
            cd_info("local: adopted %d running replica%s of %s", n, n == 1 ? "" : "s",
                    cd_procset_name(ps));
    } else if (rc == -EINVAL) {
        char *path = cd_state_record_path(L->state, key);
        recover_set(L, t, ps, path, why);
        free(path);
    }
    json_decref(j);
    free(key);
}

static cd_local_target *get_target(cd_local *L, const char *ns, const char *name)
{
    cd_local_target *t = find_target(L, ns, name);
    if (t)
        return t;
    t = cd_local_target_new(ns, name, cd_state_log_dir(L->state));
    cd_procset *sets[2] = {t->canary, t->primary};
    for (int k = 0; k < 2; k++) {
        cd_buf key = CD_BUF_INIT;
        cd_buf_printf(&key, "%s/%s", ns, cd_procset_name(sets[k]));
        cd_procset_set_owner(sets[k], L->owner);
        cd_procset_set_key(sets[k], key.data);
        cd_buf_free(&key);
        restore_set(L, t, sets[k]);
    }
    /* a restored primary keeps running what it ran: its template is restored too */
    cd_local_target **p = realloc(L->targets, (L->ntargets + 1) * sizeof *p);
    if (!p)
        abort();
    L->targets = p;
    L->targets[L->ntargets++] = t;
    return t;
}

/* Writes the process sets whose replicas changed since the last save. */
static void save_targets(cd_local *L)
{
    for (size_t i = 0; i < L->ntargets; i++) {
        cd_local_target *t = L->targets[i];
        cd_procset *sets[2] = {t->canary, t->primary};
        pthread_mutex_lock(&t->lock);
        for (int k = 0; k < 2; k++) {
            const cd_proc_template *tmpl = cd_procset_template(sets[k]);
            if (tmpl && strcmp(t->saved_template[k], tmpl->revision)) {
                /* each revision's template, kept so that replicas found by
                 * their marks can be run again (recover_set) */
                char *tk = template_key(t->ns, tmpl->revision);
                json_t *tj = cd_proc_template_to_json(tmpl);
                json_t *old = cd_state_load_json(L->state, tk);
                if ((old || cd_state_save_json(L->state, tk, tj) == 0))
                    snprintf(t->saved_template[k], sizeof t->saved_template[k], "%s",
                             tmpl->revision);
                json_decref(old);
                json_decref(tj);
                free(tk);
            }
            json_t *j = cd_procset_save(sets[k]);
            char *key = procset_key(t->ns, cd_procset_name(sets[k]));
            json_t *old = cd_state_load_json(L->state, key);
            if (!old || !json_equal(old, j))
                cd_state_save_json(L->state, key, j);
            json_decref(old);
            json_decref(j);
            free(key);
        }
        pthread_mutex_unlock(&t->lock);
    }
}

static bool tracked(cd_local *L, pid_t pid)
{
    bool known = L->router && lc_router_pid(L->router) == pid;
    for (size_t t = 0; t < L->ntargets && !known; t++) {
        cd_procset *sets[2] = {L->targets[t]->canary, L->targets[t]->primary};
        for (int k = 0; k < 2 && !known; k++)
            for (size_t r = 0; r < cd_procset_replica_count(sets[k]); r++)
                known |= cd_procset_replica(sets[k], r)->pid == pid;
    }
    return known;
}

/* Processes marked as ours that nobody tracks: spawned by a canaryd that
 * was killed before it could record them, or left by canaries deleted
 * while canaryd was down. They are stopped. A process that descends from
 * a tracked one inherited the mark (a replica's own children, e.g. the
 * command `flock` or a shell runs): it is part of that replica. */
static void reap_orphans(cd_local *L)
{
    pid_t pids[512];
    size_t n = cd_procs_owned_by(L->owner, pids, 512);
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        pid_t p = pids[i];
        for (int depth = 0; depth < 64 && p > 1 && !known; depth++, p = cd_proc_parent(p))
            known = tracked(L, p);
        if (!known) {
            cd_warn("local: stopping orphaned process %d (started by an earlier canaryd local)",
                    (int)pids[i]);
            kill(pids[i], SIGKILL);
        }
    }
}

/* ---- canaries from manifests --------------------------------------------- */

static bool is_local_canary(const cd_object *o)
{
    return o->kind == CD_KIND_CANARY && o->spec.canary.target_ref.kind &&
           !strcmp(o->spec.canary.target_ref.kind, "LocalWorkload");
}

static char *schedule_key(const lc_canary *c)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "schedule/%s/%s", c->ns, c->name);
    return cd_buf_steal(&b);
}

/* The analysis interval a tick re-arms with. */
static int64_t period_of(const cd_object *o)
{
    int64_t interval = o->spec.canary.analysis.interval_ms;
    return interval > 0 ? interval : 60000;
}

static lc_canary *add_canary(cd_local *L, cd_object *o)
{
    lc_canary *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->L = L;
    c->ns = strdup(o->meta.namespace_);
    c->name = strdup(o->meta.name);
    c->obj = cd_object_retain(o);
    cd_status_init(&c->status);
    cd_status_init(&c->tick_status);
    char why[300];
    int rc = cd_state_load_status_why(L->state, c->ns, c->name, &c->status, why, sizeof why);
    if (rc == -EINVAL) {
        /* never start over from a corrupt status: that would either drop
         * the release in flight or promote it unanalysed (reconcile
         * rebuilds it from what the primary runs: recover_status) */
        char *path = cd_state_status_path(L->state, c->ns, c->name);
        char moved[1200];
        cd_state_quarantine(path, moved, sizeof moved);
        c->status_lost = true;
        snprintf(c->status_lost_why, sizeof c->status_lost_why,
                 "the status file %.300s is unreadable (%.150s); moved it to %.200s", path, why,
                 moved);
        free(path);
        cd_status_init(&c->status);
    } else if (!c->status.condition.set) {
        /* Flagger's syncHandler: a new canary is Initializing */
        c->status.phase = CD_PHASE_INITIALIZING;
        c->status.last_transition_ms = cd_wall_ms();
        cd_status_update_condition(&c->status, "LocalWorkload", c->status.last_transition_ms);
        cd_state_save_status(L->state, c->ns, c->name, &c->status);
    }
    /* keep the analysis cadence across restarts: the next tick comes one
     * interval after the last one, not at once */
    char *key = schedule_key(c);
    json_t *sched = cd_state_load_json(L->state, key);
    free(key);
    int64_t last = (int64_t)json_integer_value(json_object_get(sched, "lastTick"));
    json_decref(sched);
    int64_t interval = o->spec.canary.analysis.interval_ms, now = cd_mono_ms();
    bool resume = last > 0 && cd_wall_ms() - last < interval;
    cd_sched_job_init(&c->job);
    cd_sched_arm(&L->sched, &c->job, c->ns, period_of(o),
                 resume ? now + (interval - (cd_wall_ms() - last)) : now);
    if (!resume)
        cd_sched_kick(&L->sched, &c->job);
    lc_canary **p = realloc(L->canaries, (L->ncanaries + 1) * sizeof *p);
    if (!p)
        abort();
    L->canaries = p;
    L->canaries[L->ncanaries++] = c;
    cd_info("local: canary %s.%s added (phase %s)", c->name, c->ns,
            c->status_lost ? "to be rebuilt" : cd_phase_name(c->status.phase));
    return c;
}

static void free_canary(lc_canary *c)
{
    cd_object_free(c->obj);
    cd_status_free(&c->status);
    cd_status_free(&c->tick_status);
    lc_history_free(&c->history);
    free(c->ns);
    free(c->name);
    free(c);
}

/* A status that could not be read, rebuilt from what the primary runs:
 * Initialized at the primary's revision, weight 0. The release in flight
 * (if the workload's revision differs) is then detected as new and
 * analysed from the start; nothing unanalysed is promoted and the primary
 * keeps serving. Without a primary, the canary starts over (Initializing:
 * nothing runs that could be lost). L->lock held. */
static void recover_status(cd_local *L, lc_canary *c)
{
    cd_local_target *t = c->target;
    char rev[CD_HASH_MAX] = "";
    pthread_mutex_lock(&t->lock);
    const cd_proc_template *pt = cd_procset_template(t->primary);
    if (pt && pt->revision[0])
        snprintf(rev, sizeof rev, "%s", pt->revision);
    pthread_mutex_unlock(&t->lock);
    int64_t now = cd_wall_ms();
    cd_status_free(&c->status);
    cd_status_init(&c->status);
    c->status.phase = rev[0] ? CD_PHASE_INITIALIZED : CD_PHASE_INITIALIZING;
    c->status.last_transition_ms = now;
    snprintf(c->status.last_applied_spec, sizeof c->status.last_applied_spec, "%s", rev);
    snprintf(c->status.last_promoted_spec, sizeof c->status.last_promoted_spec, "%s", rev);
    cd_status_update_condition(&c->status, "LocalWorkload", now);
    c->routes_known = false;   /* the route follows the rebuilt status: all to the primary */
    char msg[1100];
    if (rev[0])
        snprintf(msg, sizeof msg,
                 "%.800s; the primary keeps serving revision %s; a different current revision "
                 "is analysed from the start",
                 c->status_lost_why, rev);
    else
        snprintf(msg, sizeof msg, "%.800s; no primary runs: starting over (Initializing)",
                 c->status_lost_why);
    cd_logf(CD_LOG_WARN, c->name, "%s", msg);
    cd_state_save_status(L->state, c->ns, c->name, &c->status);
    cd_state_append_event(L->state, c->ns, c->name, now, "Warning",
                          cd_phase_name(c->status.phase), msg);
    c->status_lost = false;
    cd_sched_kick(&L->sched, &c->job);
}

/* A deleted Canary: its processes stop, its route and state go. */
static void drop_canary(cd_local *L, size_t i)
{
    lc_canary *c = L->canaries[i];
    cd_info("local: canary %s.%s deleted: stopping its processes", c->name, c->ns);
    if (c->target) {
        pthread_mutex_lock(&c->target->lock);
        cd_procset_stop_all(c->target->canary, cd_mono_ms());
        cd_procset_stop_all(c->target->primary, cd_mono_ms());
        pthread_mutex_unlock(&c->target->lock);
    }
    cd_state_remove_canary(L->state, c->ns, c->name);
    char *key = schedule_key(c);
    cd_state_remove_json(L->state, key);
    free(key);
    if (L->registry)
        cd_registry_forget(L->registry, c->target ? c->target->name : c->name, c->ns);
    cd_sched_forget(&L->sched, &c->job);
    L->canaries[i] = L->canaries[--L->ncanaries];
    free_canary(c);
}

/* Counts c on its target; a canary that joins another on one target gets
 * Flagger's warning (once, when it joins: reconcile runs every turn). */
static void note_target(cd_local *L, lc_canary *c, const char *tname)
{
    char key[600];
    snprintf(key, sizeof key, "%s.%s", tname ? tname : "", c->ns);
    const cd_sched_cell *before = c->job.target;
    if (cd_sched_set_target(&L->sched, &c->job, key) > 1 && c->job.target != before)
        cd_error("Bad things will happen! Found more than one canary with the same target %s",
                 key);
}

/* Brings canaries and targets in line with the manifests. L->lock held. */
static void reconcile(cd_local *L)
{
    size_t n = cd_manifest_dir_count(L->manifests);
    for (size_t i = 0; i < L->ncanaries; i++)
        L->canaries[i]->gone = true;
    for (size_t i = 0; i < n; i++) {
        cd_object *o = cd_manifest_dir_at(L->manifests, i);
        if (o->kind != CD_KIND_CANARY)
            continue;
        if (!is_local_canary(o)) {
            cd_warn("local: canary %s.%s targets a %s; the local platform runs LocalWorkload "
                    "targets only (use canaryd kube for Kubernetes)",
                    o->meta.name, o->meta.namespace_, o->spec.canary.target_ref.kind);
            continue;
        }
        lc_canary *c = lc_find_canary(L, o->meta.namespace_, o->meta.name);
        if (!c)
            c = add_canary(L, o);
        c->gone = false;
        if (c->obj != o) {
            cd_object *old = c->obj;
            c->obj = cd_object_retain(o);
            cd_object_free(old);
            cd_sched_arm(&L->sched, &c->job, c->ns, period_of(o), cd_mono_ms());
            cd_sched_kick(&L->sched, &c->job);
        }
        const char *tname = o->spec.canary.target_ref.name;
        c->target = get_target(L, o->meta.namespace_, tname);
        note_target(L, c, tname);
        if (c->status_lost)
            recover_status(L, c);
        if (c->target->warning[0]) {   /* a state problem found restoring it */
            cd_state_append_event(L->state, c->ns, c->name, cd_wall_ms(), "Warning",
                                  cd_phase_name(c->status.phase), c->target->warning);
            c->target->warning[0] = '\0';
        }
        cd_object *w = cd_manifest_dir_find(L->manifests, CD_KIND_LOCAL_WORKLOAD,
                                            o->meta.namespace_, tname);
        if (w && !c->target->workload)   /* InPlace: resume at the saved partition */
            cd_local_target_resume_weight(c->target, lc_status_weight(c));
        if (w && w != c->target->workload) {
            char before[CD_HASH_MAX];
            snprintf(before, sizeof before, "%s", c->target->revision);
            cd_local_target_set_workload(c->target, w, cd_wall_ms());
            if (strcmp(before, c->target->revision))   /* for canaryctl rollback */
                lc_revisions_note(L, w, c->target->revision);
            if (before[0] && strcmp(before, c->target->revision))
                cd_sched_kick(&L->sched, &c->job);   /* a new revision: no need to wait an interval */
        }
        if (c->status.phase != CD_PHASE_INITIALIZING)
            cd_local_target_primary_up(c->target, cd_wall_ms());   /* serve at once */
    }
    for (size_t i = 0; i < L->ncanaries;) {
        if (L->canaries[i]->gone && !L->canaries[i]->job.in_flight)
            drop_canary(L, i);
        else
            i++;
    }
}

/* ---- ticks on workers ----------------------------------------------------- */

static void *worker_main(void *arg)
{
    cd_local *L = arg;
    pthread_mutex_lock(&L->lock);
    for (;;) {
        while (!L->stopping && L->nqueue == 0)
            pthread_cond_wait(&L->work_cv, &L->lock);
        if (L->stopping)
            break;
        lc_canary *c = L->queue[0];
        memmove(L->queue, L->queue + 1, (L->nqueue - 1) * sizeof *L->queue);
        L->nqueue--;
        bool runnable = c->target && c->target->workload && !c->gone;
        pthread_mutex_unlock(&L->lock);

        int64_t t0 = cd_mono_ms();
        cd_rc rc = CD_OK;
        if (runnable) {
            char *key = schedule_key(c);
            json_t *rec = json_pack("{s:I}", "lastTick", (json_int_t)cd_wall_ms());
            cd_state_save_json(L->state, key, rec);
            json_decref(rec);
            free(key);
            cd_ports ports;
            cd_canary_ref ref;
            lc_tick *t = lc_tick_begin(c, &ports, &ref);
            rc = cd_engine_tick(&L->engine_cfg, &ports, &ref);
            lc_tick_end(t);
        }
        pthread_mutex_lock(&L->lock);
        /* waiting for processes to become ready: look again soon rather
         * than a whole interval later (the policy's retry delay) */
        cd_sched_done(&L->sched, &c->job, t0, rc == CD_RETRY);
        lc_wake(L);
    }
    pthread_mutex_unlock(&L->lock);
    return NULL;
}

/* A Canary whose LocalWorkload is not in the directory (a typo in
 * targetRef.name): a Warning event, as Flagger records the target's "not
 * found", folded like every repeated event (ports_local.c). */
static void missing_target(cd_local *L, lc_canary *c, int64_t now)
{
    char msg[700], key[sizeof c->last_event];
    snprintf(msg, sizeof msg,
             "LocalWorkload %.150s.%.150s not found (no manifest of %.300s defines it)",
             c->obj->spec.canary.target_ref.name, c->ns, L->opt.dir);
    snprintf(key, sizeof key, "Warning|%s|%s", cd_phase_name(c->status.phase), msg);
    bool repeat = !strcmp(key, c->last_event) && now - c->last_event_ms < LC_EVENT_REPEAT_MS;
    cd_logf(repeat ? CD_LOG_DEBUG : CD_LOG_WARN, c->name, "%s", msg);
    if (repeat)
        return;
    snprintf(c->last_event, sizeof c->last_event, "%s", key);
    c->last_event_ms = now;
    cd_state_append_event(L->state, c->ns, c->name, cd_wall_ms(), "Warning",
                          cd_phase_name(c->status.phase), msg);
}

static lc_canary *canary_of(cd_sched_job *j)
{
    return (lc_canary *)((char *)j - offsetof(lc_canary, job));
}

/* Due canaries go to the workers, in flight until their tick is done. */
static void schedule(cd_local *L, int64_t now)
{
    unsigned what;
    for (cd_sched_job *j; (j = cd_sched_pop(&L->sched, now, &what));) {
        lc_canary *c = canary_of(j);
        if (c->gone) {   /* dropped by the next reconcile */
            cd_sched_defer(&L->sched, j, INT64_MAX);
            continue;
        }
        if (!c->target || !c->target->workload) {
            missing_target(L, c, now);
            int64_t interval = c->obj->spec.canary.analysis.interval_ms;
            cd_sched_defer(&L->sched, j, now + (interval > 0 ? interval : 1));
            continue;
        }
        CD_GROW(L->queue, L->capqueue, L->nqueue + 1, 16);
        L->queue[L->nqueue++] = c;
        pthread_cond_signal(&L->work_cv);
    }
}

static void set_total(void *ud, const char *ns, int n)
{
    if (n > 0)   /* as before: a namespace left empty keeps its last count */
        cd_registry_set_canary_total(ud, ns, n);
}

static void export_totals(cd_local *L)
{
    /* flagger_canary_total per namespace that has canaries */
    if (L->registry)
        cd_sched_each_ns(&L->sched, set_total, L->registry);
}

/* ---- the loop ------------------------------------------------------------- */

static void step(cd_local *L, bool manifests_ready)
{
    pthread_mutex_lock(&L->lock);
    if (manifests_ready) {
        cd_diags d;
        cd_diags_init(&d);
        if (cd_manifest_dir_poll(L->manifests, &d))
            reconcile(L);
        if (d.n) {
            cd_diags_sort(&d);
            cd_diags_print(&d, stderr);
        }
        cd_diags_free(&d);
    }
    pthread_mutex_unlock(&L->lock);

    int64_t mono = cd_mono_ms();
    for (size_t i = 0; i < L->ntargets; i++)
        cd_local_target_step(L->targets[i], mono);

    pthread_mutex_lock(&L->lock);
    cd_err err = {{0}};
    if (!lc_router_sync(L, false, &err) && err.msg[0]) {
        /* the same refusal again (a service port taken, retried each
         * turn): logged when it changes, else once a minute */
        if (strcmp(err.msg, L->router_err) || mono - L->router_err_ms >= 60000) {
            cd_warn("local: router: %s", err.msg);
            snprintf(L->router_err, sizeof L->router_err, "%s", err.msg);
            L->router_err_ms = mono;
        }
    } else {
        L->router_err[0] = '\0';
    }
    save_targets(L);
    reconcile(L);   /* drops deleted canaries whose tick has finished */
    schedule(L, mono);
    export_totals(L);
    pthread_mutex_unlock(&L->lock);
}

static volatile sig_atomic_t g_stop;

/* The signals the loop handles; blocked in every thread (before any is
 * created) so that they all reach the loop's signalfd. */
static void handled_signals(sigset_t *mask)
{
    sigemptyset(mask);
    sigaddset(mask, SIGTERM);
    sigaddset(mask, SIGINT);
    sigaddset(mask, SIGHUP);
    sigaddset(mask, SIGPIPE);
}

static int run_loop(cd_local *L)
{
    sigset_t mask;
    handled_signals(&mask);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int rc = 0;
    while (!g_stop) {
        struct pollfd p[3] = {
            {cd_manifest_dir_fd(L->manifests), POLLIN, 0},
            {L->wake_fd, POLLIN, 0},
            {sfd, POLLIN, 0},
        };
        int n = poll(p, 3, LOOP_MS);
        if (n < 0 && errno != EINTR) {
            cd_error("local: poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (p[1].revents & POLLIN) {
            uint64_t v;
            if (read(L->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                cd_warn("local: wake: %s", strerror(errno));
        }
        if (p[2].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                    cd_info("local: SIGHUP: rescanning %s", L->opt.dir);
                    pthread_mutex_lock(&L->lock);
                    cd_diags d;
                    cd_diags_init(&d);
                    if (cd_manifest_dir_rescan(L->manifests, &d))
                        reconcile(L);
                    cd_diags_print(&d, stderr);
                    cd_diags_free(&d);
                    pthread_mutex_unlock(&L->lock);
                } else if (si.ssi_signo != SIGPIPE) {
                    cd_info("local: %s: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
                    g_stop = 1;
                }
            }
        }
        step(L, (p[0].revents & POLLIN) != 0);
    }
    close(sfd);
    return rc;
}

/* Stops every workload process and the router (--stop-on-exit). */
static void stop_everything(cd_local *L)
{
    int64_t deadline = cd_mono_ms() + 30000;
    bool done = false;
    while (!done && cd_mono_ms() < deadline) {
        done = true;
        pthread_mutex_lock(&L->lock);
        for (size_t i = 0; i < L->ntargets; i++) {
            cd_local_target *t = L->targets[i];
            pthread_mutex_lock(&t->lock);
            done &= cd_procset_stop_all(t->canary, cd_mono_ms());
            done &= cd_procset_stop_all(t->primary, cd_mono_ms());
            pthread_mutex_unlock(&t->lock);
        }
        save_targets(L);
        pthread_mutex_unlock(&L->lock);
        if (!done)
            usleep(50000);
    }
    lc_router_stop(L->router, true);
    L->router = NULL;
}

int cd_local_run(const cd_local_options *opt)
{
    sigset_t mask;
    handled_signals(&mask);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    cd_local *L = calloc(1, sizeof *L);
    if (!L)
        abort();
    L->opt = *opt;
    L->started_ms = cd_wall_ms();
    pthread_mutex_init(&L->lock, NULL);
    pthread_cond_init(&L->work_cv, NULL);
    cd_sched_init(&L->sched, (cd_sched_policy){CD_SCHED_FROM_START, RETRY_MS});
    L->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = 1;
    lc_api *api = NULL;

    bool state_existed = access(opt->state_dir, F_OK) == 0;
    bool running = false;
    L->state = cd_state_open(opt->state_dir);
    if (!L->state) {
        cd_error("local: cannot use state directory %s: %s", opt->state_dir, strerror(errno));
        goto out;
    }
    char why[600];
    if (!cd_state_lock(L->state, why, sizeof why)) {
        cd_error("local: %s", why);
        goto out;
    }
    L->owner = realpath(opt->state_dir, NULL);
    L->manifests = cd_manifest_dir_open(opt->dir, opt->namespace_);
    if (!L->manifests) {
        cd_error("local: cannot watch %s: %s", opt->dir, strerror(errno));
        goto out;
    }
    L->registry = cd_registry_new(CANARYD_VERSION, "canaryd");
    static cd_local_secrets secrets_cfg;
    secrets_cfg.dir = opt->secrets_dir;
    L->secrets = cd_local_secret_source(&secrets_cfg);
    L->metrics_cfg.metrics_server = opt->metrics_server;
    L->metrics_cfg.mesh_provider = "canaryd";
    L->metrics_cfg.secrets = &L->secrets;
    L->hooks_cfg.event_webhook = opt->event_webhook;
    L->engine_cfg.mesh_provider = "canaryd";
    L->engine_cfg.judge = cd_judge_metric;
    cd_notify_config_env(&L->opt.notify);

    cd_err err = {{0}};
    /* the API first: when its address is taken (another canaryd local),
     * nothing has been started yet that would be left behind */
    if (opt->api && *opt->api) {
        api = lc_api_start(L, opt->api, &err);
        if (!api) {
            cd_error("local: cannot serve the API on %s: %s", opt->api, err.msg);
            goto out;
        }
    }
    L->router = lc_router_start(L, &err);
    if (!L->router) {
        cd_error("local: cannot start the router: %s", err.msg);
        goto out;
    }
    running = true;
    pthread_mutex_lock(&L->lock);
    reconcile(L);
    reap_orphans(L);
    if (cd_manifest_dir_count(L->manifests) == 0)
        cd_warn("local: %s holds no manifests yet (*.yaml, *.yml, *.json); watching it",
                opt->dir);
    pthread_mutex_unlock(&L->lock);
    int workers = opt->workers > 0 ? opt->workers : 4;
    L->threads = calloc((size_t)workers, sizeof *L->threads);
    for (int i = 0; i < workers; i++)
        pthread_create(&L->threads[i], NULL, worker_main, L);
    cd_info("local: watching %s (state in %s, API on %s)", opt->dir, opt->state_dir,
            opt->api ? opt->api : "-");
    rc = run_loop(L);

    pthread_mutex_lock(&L->lock);
    L->stopping = true;
    pthread_cond_broadcast(&L->work_cv);
    pthread_mutex_unlock(&L->lock);
    for (int i = 0; i < workers; i++)
        pthread_join(L->threads[i], NULL);
    free(L->threads);
    lc_api_stop(api);
    api = NULL;
    if (opt->stop_on_exit)
        stop_everything(L);
    else
        cd_info("local: workloads and the router keep running; the next canaryd local adopts them");

out:
    lc_api_stop(api);
    if (L->router)   /* a start that failed leaves nothing of its own behind */
        lc_router_stop(L->router, !running && lc_router_owned(L->router));
    if (!running && !state_existed && L->state)
        cd_state_remove_empty(L->state);
    for (size_t i = 0; i < L->ncanaries; i++)
        free_canary(L->canaries[i]);
    for (size_t i = 0; i < L->ntargets; i++)
        cd_local_target_free(L->targets[i]);
    free(L->canaries);
    free(L->targets);
    free(L->queue);
    cd_sched_free(&L->sched);
    cd_manifest_dir_close(L->manifests);
    cd_state_close(L->state);
    cd_registry_free(L->registry);
    free(L->owner);
    close(L->wake_fd);
    pthread_cond_destroy(&L->work_cv);
    pthread_mutex_destroy(&L->lock);
    free(L);
    return rc;
}
