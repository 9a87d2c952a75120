/* target.c - a LocalWorkload's canary and primary process sets and the
 * engine's workload port over them; see target.h. No I/O of its own
 * beyond what the supervisor does. */
#include "local/target.h"
#include "model/workload.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cd_local_workload_hash(const cd_object *workload, char out[CD_HASH_MAX])
{
    json_t *spec = cd_workload_encode_spec(workload->spec.workload);
    char h[16];
    cd_json_hash(spec, h);
    json_decref(spec);
    snprintf(out, CD_HASH_MAX, "%s", h);
}

cd_local_target *cd_local_target_new(const char *ns, const char *name, const char *log_dir)
{
    cd_local_target *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->name = strdup(name);
    t->ns = strdup(ns);
    pthread_mutex_init(&t->lock, NULL);
    cd_buf p = CD_BUF_INIT;
    cd_buf_printf(&p, "%s-primary", name);
    t->canary = cd_procset_new(name, log_dir);
    t->primary = cd_procset_new(p.data, log_dir);
    cd_buf_free(&p);
    return t;
}

void cd_local_target_free(cd_local_target *t)
{
    if (!t)
        return;
    cd_procset_free(t->canary);
    cd_procset_free(t->primary);
    cd_object_free(t->workload);
    pthread_mutex_destroy(&t->lock);
    free(t->base_dir);
    free(t->name);
    free(t->ns);
    free(t);
}

static int replicas_of(const cd_local_target *t);

/* InPlace: the ranges of both sets from the weight. Caller holds the lock. */
static int partition_of(const cd_local_target *t)
{
    int n = replicas_of(t);
    return n - (n * t->inplace_weight + 99) / 100;
}

static void apply_partition(cd_local_target *t)
{
    int n = replicas_of(t), p = partition_of(t);
    cd_procset_set_range(t->primary, 0, p);
    cd_procset_set_range(t->canary, p, n);
}

void cd_local_target_set_weight(cd_local_target *t, int canary_weight)
{
    pthread_mutex_lock(&t->lock);
    if (t->inplace && t->workload) {
        int before = partition_of(t);
        t->inplace_weight = canary_weight < 0 ? 0 : canary_weight > 100 ? 100 : canary_weight;
        if (partition_of(t) != before)
            cd_info("%s: partition %d (replicas %d and up run the canary's revision)", t->name,
                    partition_of(t), partition_of(t));
        apply_partition(t);
    }
    pthread_mutex_unlock(&t->lock);
}

void cd_local_target_resume_weight(cd_local_target *t, int canary_weight)
{
    pthread_mutex_lock(&t->lock);
    if (!t->workload)
        t->inplace_weight = canary_weight < 0 ? 0 : canary_weight > 100 ? 100 : canary_weight;
    pthread_mutex_unlock(&t->lock);
}

int cd_local_target_route_weight(cd_local_target *t, int weight)
{
    pthread_mutex_lock(&t->lock);
    if (t->inplace) {
        bool canary_ready = cd_procset_counts_of(t->canary).ready > 0;
        bool primary_ready = cd_procset_counts_of(t->primary).ready > 0;
        if (!canary_ready)
            weight = 0;
        else if (!primary_ready)
            weight = 100;
    }
    pthread_mutex_unlock(&t->lock);
    return weight;
}

static cd_proc_template *template_of(cd_local_target *t)
{
    return cd_proc_template_new(t->workload->spec.workload, t->base_dir, t->revision);
}

void cd_local_target_set_workload(cd_local_target *t, cd_object *workload, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    cd_object *old = t->workload;
    t->workload = cd_object_retain(workload);
    free(t->base_dir);
    char *file = strdup(workload->file ? workload->file : "./x");
    t->base_dir = strdup(dirname(file));
    free(file);
    if (!old && workload->spec.workload->inplace) {
        t->inplace = true;
        cd_procset_set_inplace(t->canary, t->primary);
        cd_procset_set_inplace(t->primary, t->canary);
    } else if (old && t->inplace != workload->spec.workload->inplace) {
        cd_warn("%s: a change of spec.strategy takes effect when canaryd restarts", t->name);
    }
    if (t->inplace)
        apply_partition(t);
    char rev[CD_HASH_MAX];
    cd_local_workload_hash(workload, rev);
    if (strcmp(rev, t->revision)) {
        snprintf(t->revision, sizeof t->revision, "%s", rev);
        cd_proc_template *tmpl = template_of(t);
        cd_procset_set_template(t->canary, tmpl);
        cd_proc_template_free(tmpl);
        t->canary_changed_ms = now_ms;
    }
    pthread_mutex_unlock(&t->lock);
    cd_object_free(old);
}

void cd_local_target_step(cd_local_target *t, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    cd_procset_step(t->canary, now_ms);
    cd_procset_step(t->primary, now_ms);
    pthread_mutex_unlock(&t->lock);
}

/* ---- the workload port --------------------------------------------------- */

static cd_local_target *target_of(void *ctx) { return ((cd_local_target_ctx *)ctx)->target; }
static int64_t now_of(void *ctx) { return ((cd_local_target_ctx *)ctx)->now_ms(); }

/* Flagger's Deployment readiness rules (§2.8), over a process set. */
static cd_rc set_ready(cd_procset *ps, int64_t changed_ms, int threshold, int deadline_s,
                       int64_t now, cd_err *err)
{
    cd_procset_counts c = cd_procset_counts_of(ps);
    if (c.desired == 0)
        return CD_OK;   /* the canary between releases (the primary never: primary_ready) */
    if (cd_procset_error(ps)[0])   /* the reason first: it is what the user must fix */
        snprintf(err->msg, sizeof err->msg,
                 "waiting for rollout to finish: %d out of %d new replicas have been updated: "
                 "%.380s",
                 c.updated, c.desired, cd_procset_error(ps));
    else if (c.updated < c.desired)
        snprintf(err->msg, sizeof err->msg,
                 "waiting for rollout to finish: %d out of %d new replicas have been updated",
                 c.updated, c.desired);
    else if (c.old > 0)
        snprintf(err->msg, sizeof err->msg,
                 "waiting for rollout to finish: %d old replicas are pending termination", c.old);
    else if (c.ready < c.updated * threshold / 100)
        snprintf(err->msg, sizeof err->msg,
                 "waiting for rollout to finish: %d of %d (readyThreshold %d%%) updated replicas "
                 "are available",
                 c.ready, c.updated, threshold);
    else
        return CD_OK;
    if (deadline_s > 0 && now - changed_ms > (int64_t)deadline_s * 1000) {
        char why[256];
        snprintf(why, sizeof why, "%.255s", err->msg);
        snprintf(err->msg, sizeof err->msg, "%.200s exceeded its progress deadline (%ds): %s",
                 cd_procset_name(ps), deadline_s, why);
        return CD_FATAL;
    }
    return CD_RETRY;
}

/* The primary always runs: a primary set at zero replicas (stopped with
 * --stop-on-exit, or left by a Canary deleted and added again) serves
 * nothing and must never count as ready; it is scaled back up here.
 * Caller holds the lock. */
static void primary_up(cd_local_target *t, int64_t now)
{
    if (!cd_procset_template(t->primary))
        return;
    if (t->inplace) {   /* the partition decides (and restores after a stop) */
        if (cd_procset_desired(t->primary) != partition_of(t))
            apply_partition(t);
        return;
    }
    if (cd_procset_desired(t->primary) > 0)
        return;
    cd_info("%s: scaling %s-primary back to %d replica%s", t->name, t->name, replicas_of(t),
            replicas_of(t) == 1 ? "" : "s");
    cd_procset_scale(t->primary, replicas_of(t));
    t->primary_changed_ms = now;
}

void cd_local_target_primary_up(cd_local_target *t, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    if (t->workload)
        primary_up(t, now_ms);
    pthread_mutex_unlock(&t->lock);
}

static cd_rc wl_is_primary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    primary_up(t, now_of(ctx));
    if (cd_procset_desired(t->primary) == 0 && !(t->inplace && partition_of(t) == 0)) {
        pthread_mutex_unlock(&t->lock);
        snprintf(err->msg, sizeof err->msg, "%s-primary has no replicas", t->name);
        return CD_RETRY;
    }
    cd_rc rc = set_ready(t->primary, t->primary_changed_ms,
                         c->spec->analysis.primary_ready_threshold,
                         c->spec->progress_deadline_seconds, now_of(ctx), err);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static bool in_flight(cd_phase p)
{
    return p == CD_PHASE_PROGRESSING || p == CD_PHASE_WAITING_PROMOTION ||
           p == CD_PHASE_PROMOTING || p == CD_PHASE_FINALISING;
}

static cd_rc wl_is_canary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    /* a release in flight whose canary set was stopped (--stop-on-exit,
     * then a restart): zero replicas are not ready, they are started */
    if (c->status && in_flight(c->status->phase) && cd_procset_desired(t->canary) == 0 &&
        t->workload) {
        cd_info("%s: scaling %s back to %d replica%s", t->name, t->name, replicas_of(t),
                replicas_of(t) == 1 ? "" : "s");
        cd_procset_scale(t->canary, replicas_of(t));
        t->canary_changed_ms = now_of(ctx);
        t->canary_scaled_up = true;
    }
    cd_rc rc = set_ready(t->canary, t->canary_changed_ms, c->spec->analysis.canary_ready_threshold,
                         c->spec->progress_deadline_seconds, now_of(ctx), err);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static int replicas_of(const cd_local_target *t)
{
    int r = t->workload->spec.workload->replicas;
    return r > 0 ? r : 1;
}

/* Copies the current spec to the primary set (Flagger's Promote, and the
 * primary's creation). Caller holds the lock. */
static void copy_to_primary(cd_local_target *t, int64_t now)
{
    cd_proc_template *tmpl = template_of(t);
    cd_procset_set_template(t->primary, tmpl);
    cd_proc_template_free(tmpl);
    if (t->inplace)
        apply_partition(t);   /* the primary's indices replaced in place */
    else
        cd_procset_scale(t->primary, replicas_of(t));
    t->primary_changed_ms = now;
}

static cd_rc wl_initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    if (!cd_procset_template(t->primary)) {
        cd_info("%s: creating %s-primary", t->name, t->name);
        copy_to_primary(t, now_of(ctx));
    }
    primary_up(t, now_of(ctx));
    pthread_mutex_unlock(&t->lock);
    return require_ready ? wl_is_primary_ready(ctx, c, err) : CD_OK;
}

static cd_rc wl_target_hash(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX], cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    snprintf(hash, CD_HASH_MAX, "%s", t->revision);
    pthread_mutex_unlock(&t->lock);
    return CD_OK;
}

static cd_rc wl_promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    copy_to_primary(t, now_of(ctx));
    pthread_mutex_unlock(&t->lock);
    return CD_OK;
}

static cd_rc wl_scale_to_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    cd_procset_scale(t->canary, 0);
    t->canary_scaled_up = false;
    pthread_mutex_unlock(&t->lock);
    return CD_OK;
}

static cd_rc wl_scale_from_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cd_local_target *t = target_of(ctx);
    pthread_mutex_lock(&t->lock);
    if (cd_procset_desired(t->canary) == 0) {
        cd_procset_scale(t->canary, replicas_of(t));
        t->canary_changed_ms = now_of(ctx);
    }
    t->canary_scaled_up = true;
    pthread_mutex_unlock(&t->lock);
    return CD_OK;
}

void cd_local_workload_port(cd_workload_port *port, cd_local_target_ctx *ctx)
{
    memset(port, 0, sizeof *port);
    port->ctx = ctx;
    port->initialize = wl_initialize;
    port->is_primary_ready = wl_is_primary_ready;
    port->is_canary_ready = wl_is_canary_ready;
    port->target_hash = wl_target_hash;
    port->promote = wl_promote;
    port->scale_to_zero = wl_scale_to_zero;
    port->scale_from_zero = wl_scale_from_zero;
}
