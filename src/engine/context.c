/* context.c - the effects of a tick: events (with their event webhooks),
 * alerts, status writes, routing and workload calls, own metrics. Each is
 * one port call plus Flagger's reaction to its failure. No decisions here:
 * those live in tick.c, strategies.c, gates.c, analysis.c, outcome.c. */
#include "engine/tick.h"
#include "telemetry/registry.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024

static void emit_event(cd_tick *t, cd_phase phase, cd_event_type type, const char *msg)
{
    const cd_ports *p = t->p;
    if (p->events.record)
        p->events.record(p->events.ctx, t->c, type, msg);
    if (p->hooks.send_event)
        p->hooks.send_event(p->hooks.ctx, t->c, phase,
                            type == CD_EVENT_WARNING ? "Warning" : "Normal", msg);
}

void cd_tick_event(cd_tick *t, cd_event_type type, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit_event(t, t->event_phase, type, msg);
}

void cd_tick_event_phase(cd_tick *t, cd_phase phase, cd_event_type type, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit_event(t, phase, type, msg);
}

void cd_tick_alert(cd_tick *t, bool metadata, cd_severity sev, const char *fmt, ...)
{
    const cd_ports *p = t->p;
    if (!p->notifier.alert)
        return;
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->notifier.alert(p->notifier.ctx, t->c, msg, metadata, sev);
}

void cd_tick_port_failed(cd_tick *t, cd_rc rc, const cd_err *err)
{
    cd_tick_event(t, CD_EVENT_WARNING, "%s", err->msg[0] ? err->msg : "unknown error");
    if (t->rc == CD_OK)
        t->rc = rc == CD_RETRY ? CD_RETRY : CD_ERROR;
}

int64_t cd_tick_now(cd_tick *t)
{
    return t->p->clock.now_ms(t->p->clock.ctx);
}

/* ---- status ---------------------------------------------------------- */

bool cd_tick_save(cd_tick *t)
{
    if (!t->p->status.save)
        return true;
    cd_err err = {{0}};
    cd_rc rc = t->p->status.save(t->p->status.ctx, t->c, &err);
    if (rc == CD_OK)
        return true;
    if (!err.msg[0])
        snprintf(err.msg, sizeof err.msg, "status update of %s failed", t->cname);
    cd_tick_port_failed(t, CD_ERROR, &err);
    return false;
}

bool cd_tick_target_hash(cd_tick *t, char hash[CD_HASH_MAX])
{
    cd_err err = {{0}};
    hash[0] = '\0';
    cd_rc rc = t->p->workload.target_hash(t->p->workload.ctx, t->c, hash, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    hash[CD_HASH_MAX - 1] = '\0';
    return true;
}

typedef struct tracked_view {
    cd_tracked_config *items;
    size_t n;
    bool present;
} tracked_view;

static bool read_tracked(cd_tick *t, tracked_view *v)
{
    memset(v, 0, sizeof *v);
    if (!t->p->workload.tracked_configs)
        return true;
    cd_err err = {{0}};
    cd_rc rc = t->p->workload.tracked_configs(t->p->workload.ctx, t->c, &v->items, &v->n,
                                              &v->present, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    if (!v->items)
        v->n = 0;
    return true;
}

bool cd_tick_target_changed(cd_tick *t, const cd_canary_status *against, bool *changed)
{
    char hash[CD_HASH_MAX];
    tracked_view v;
    *changed = false;
    if (!cd_tick_target_hash(t, hash))
        return false;
    if (cd_engine_spec_changed(against, hash)) {
        *changed = true;
        return true;
    }
    if (!read_tracked(t, &v))
        return false;
    *changed = cd_engine_configs_changed(against, v.items, v.n, v.present);
    return true;
}

/* spec.rollbackWindow: a promotion (Initialized, Succeeded) goes into
 * status.promotedRevisions; a primary promoted before the field was set
 * goes in first, with its time unknown. */
static void note_promotion(cd_tick *t, cd_phase p, const char *before)
{
    const cd_rollback_window *w = &t->spec->rollback_window;
    if (!w->set || (p != CD_PHASE_INITIALIZED && p != CD_PHASE_SUCCEEDED))
        return;
    if (t->st->n_promoted == 0 && before[0])
        cd_engine_note_promotion(t->st, before, 0, w->revisions);
    cd_engine_note_promotion(t->st, t->st->last_promoted_spec, cd_tick_now(t), w->revisions);
}

bool cd_tick_sync_status(cd_tick *t, cd_status_sync to)
{
    char hash[CD_HASH_MAX], before[CD_HASH_MAX];
    tracked_view v;
    if (!cd_tick_target_hash(t, hash) || !read_tracked(t, &v))
        return false;
    memcpy(before, t->st->last_promoted_spec, sizeof before);
    cd_engine_sync_status(t->st, to, hash, v.items, v.n, v.present, t->kind, cd_tick_now(t));
    note_promotion(t, to.phase, before);
    return cd_tick_save(t);
}

bool cd_tick_set_phase(cd_tick *t, cd_phase p)
{
    char before[CD_HASH_MAX];
    memcpy(before, t->st->last_promoted_spec, sizeof before);
    cd_engine_set_phase(t->st, p, t->iterations, t->kind, cd_tick_now(t));
    note_promotion(t, p, before);
    return cd_tick_save(t);
}

bool cd_tick_set_weight(cd_tick *t, int weight)
{
    t->st->canary_weight = weight;
    t->st->last_transition_ms = cd_tick_now(t);
    return cd_tick_save(t);
}

bool cd_tick_set_iterations(cd_tick *t, int iterations)
{
    t->st->iterations = iterations;
    t->st->last_transition_ms = cd_tick_now(t);
    return cd_tick_save(t);
}

bool cd_tick_set_failed_checks(cd_tick *t, int failed)
{
    t->st->failed_checks = failed;
    t->st->last_transition_ms = cd_tick_now(t);
    return cd_tick_save(t);
}

/* ---- routing and workload ---------------------------------------------- */

bool cd_tick_set_routes(cd_tick *t, int primary, int canary, bool mirrored)
{
    cd_err err = {{0}};
    cd_rc rc = t->p->router.set_routes(t->p->router.ctx, t->c, primary, canary, mirrored, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    return true;
}

bool cd_tick_workload(cd_tick *t, cd_rc (*fn)(void *, const cd_canary_ref *, cd_err *))
{
    if (!fn)
        return true;
    cd_err err = {{0}};
    cd_rc rc = fn(t->p->workload.ctx, t->c, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    return true;
}

bool cd_tick_reconcile_primary_scaler(cd_tick *t, bool init)
{
    if (!t->p->workload.reconcile_primary_scaler)
        return true;
    cd_err err = {{0}};
    cd_rc rc = t->p->workload.reconcile_primary_scaler(t->p->workload.ctx, t->c, init, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    return true;
}

/* ---- own metrics ---------------------------------------------------------- */

void cd_tick_gauge_status(cd_tick *t, cd_phase p)
{
    cd_registry_set_status(t->p->registry, t->target, t->ns, cd_engine_status_gauge(p));
}

void cd_tick_gauge_weights(cd_tick *t, int primary, int canary)
{
    cd_registry_set_weight(t->p->registry, t->target, t->ns, primary, canary);
}

void cd_tick_count_outcome(cd_tick *t, bool success, const char *analysis_status)
{
    const char *strategy = cd_strategy_name(t->strategy);
    if (success)
        cd_registry_inc_success(t->p->registry, t->target, t->ns, strategy, analysis_status);
    else
        cd_registry_inc_failure(t->p->registry, t->target, t->ns, strategy, analysis_status);
}
