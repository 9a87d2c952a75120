/* outcome.c - how a release ends (reference §2.8-§2.10): promotion (copy
 * the canary's spec to the primary), the Promoting traffic shift, the
 * Finalising tick, rollback, the failed-promotion path and skipAnalysis.
 * Sequences port calls in Flagger's order, so that a crash between two of
 * them leaves a state Flagger could also have left. */
#include "engine/tick.h"
#include "util/duration.h"
#include <stdio.h>
#include <string.h>

static int threshold(const cd_tick *t) { return t->an->threshold > 0 ? t->an->threshold : 1; }

/* "Copying T.ns template spec to T-primary.ns"; a StatefulSet, released in
 * place, has no primary to copy to. */
static void copying_event(cd_tick *t)
{
    if (!strcmp(t->provider, "statefulset"))
        cd_tick_event(t, CD_EVENT_NORMAL, EV_STS_PROMOTING, t->tname);
    else
        cd_tick_event(t, CD_EVENT_NORMAL, EV_COPYING, t->tname, t->target, t->ns);
}

bool cd_outcome_promote(cd_tick *t)
{
    copying_event(t);
    if (!cd_tick_workload(t, t->p->workload.promote))
        return false;
    return cd_tick_set_phase(t, CD_PHASE_PROMOTING);
}

void cd_outcome_rollback(cd_tick *t)
{
    int failed = t->st->failed_checks;
    if (failed >= threshold(t)) {
        cd_tick_event(t, CD_EVENT_WARNING, EV_THRESHOLD_REACHED, t->cname, failed);
        cd_tick_alert(t, false, CD_SEV_ERROR, AL_THRESHOLD_REACHED, failed);
    }
    if (!cd_tick_set_routes(t, 100, 0, false))
        return;
    cd_tick_event_phase(t, CD_PHASE_FAILED, CD_EVENT_WARNING, EV_CANARY_FAILED, t->cname);
    cd_tick_gauge_weights(t, 100, 0);
    if (!cd_tick_workload(t, t->p->workload.pause_target_scaler) ||
        !cd_tick_workload(t, t->p->workload.scale_to_zero))
        return;
    if (!cd_tick_sync_status(t, (cd_status_sync){CD_PHASE_FAILED, 0, 0, 0}))
        return;
    cd_tick_gauge_status(t, CD_PHASE_FAILED);
    cd_tick_count_outcome(t, false, "completed");
    cd_hooks_post_rollout(t, CD_PHASE_FAILED);
}

void cd_outcome_failed_promotion(cd_tick *t, const char *why)
{
    cd_tick_event(t, CD_EVENT_WARNING, EV_PROMOTION_FAILED, why);
    cd_tick_alert(t, false, CD_SEV_ERROR, AL_PROMOTION_FAILED, why);
    /* the canary runs the new version and the primary cannot: keep the
     * canary up and send it all traffic */
    if (!cd_tick_set_routes(t, 0, 100, false))
        return;
    cd_tick_gauge_weights(t, 0, 100);
    if (!cd_tick_sync_status(t, (cd_status_sync){CD_PHASE_FAILED, 100, 0, 0}))
        return;
    cd_tick_gauge_status(t, CD_PHASE_FAILED);
    cd_tick_count_outcome(t, false, "completed");
    cd_hooks_post_rollout(t, CD_PHASE_FAILED);
}

void cd_outcome_promotion_shift(cd_tick *t)
{
    if (t->kube) {   /* no traffic to shift */
        cd_tick_set_phase(t, CD_PHASE_FINALISING);
        return;
    }
    if (t->an->step_weight_promotion <= 0 || t->routes.canary <= 0) {
        cd_tick_event(t, CD_EVENT_NORMAL, EV_ROUTE_ALL_PRIMARY);
        if (!cd_tick_set_routes(t, 100, 0, false))
            return;
        cd_tick_gauge_weights(t, 100, 0);
        cd_tick_set_phase(t, CD_PHASE_FINALISING);
        return;
    }
    bool done = false;
    cd_weights next = cd_engine_promotion_step(t->an, t->routes, &done);
    if (!cd_tick_set_routes(t, next.primary, next.canary, false))
        return;
    cd_tick_gauge_weights(t, next.primary, next.canary);
    cd_tick_event(t, CD_EVENT_NORMAL, EV_ADVANCE_PRIMARY, t->cname, next.primary);
    if (done)
        cd_tick_set_phase(t, CD_PHASE_FINALISING);
    else
        cd_tick_set_weight(t, next.canary);
}

void cd_outcome_finalise(cd_tick *t)
{
    if (!cd_tick_workload(t, t->p->workload.pause_target_scaler) ||
        !cd_tick_workload(t, t->p->workload.scale_to_zero))
        return;
    if (!cd_tick_set_phase(t, CD_PHASE_SUCCEEDED))
        return;
    cd_tick_gauge_status(t, CD_PHASE_SUCCEEDED);
    cd_tick_count_outcome(t, true, "completed");
    cd_hooks_post_rollout(t, CD_PHASE_SUCCEEDED);
    cd_tick_event(t, CD_EVENT_NORMAL, EV_PROMOTION_DONE, t->tname);
    cd_tick_alert(t, false, CD_SEV_INFO, AL_PROMOTION_DONE);
}

bool cd_outcome_skip_analysis(cd_tick *t)
{
    if (!t->spec->skip_analysis)
        return false;
    if (t->st->failed_checks >= threshold(t)) {
        cd_outcome_rollback(t);
        return true;
    }
    if (!cd_tick_set_routes(t, 100, 0, false))
        return true;
    cd_tick_gauge_weights(t, 100, 0);
    copying_event(t);
    if (!cd_tick_workload(t, t->p->workload.promote) || !cd_tick_reconcile_primary_scaler(t, false) ||
        !cd_tick_workload(t, t->p->workload.pause_target_scaler) ||
        !cd_tick_workload(t, t->p->workload.scale_to_zero))
        return true;
    if (!cd_tick_set_phase(t, CD_PHASE_SUCCEEDED))
        return true;
    cd_tick_gauge_status(t, CD_PHASE_SUCCEEDED);
    cd_tick_count_outcome(t, true, "skipped");
    cd_hooks_post_rollout(t, CD_PHASE_SUCCEEDED);
    cd_tick_event(t, CD_EVENT_NORMAL, EV_SKIPPED_DONE, t->tname);
    cd_tick_alert(t, false, CD_SEV_INFO, AL_SKIPPED_DONE);
    return true;
}

/* spec.rollbackWindow (docs/rollback.md): the revision ran as the primary
 * lately, so it is promoted as skipAnalysis would, in this very tick,
 * without gates; only post-rollout and event webhooks are called. */
void cd_outcome_instant_rollback(cd_tick *t, const char *revision, int idx)
{
    char ago[48] = "earlier", d[32];
    int64_t at = t->st->promoted[idx].promoted_ms, now = cd_tick_now(t);
    if (at > 0)
        snprintf(ago, sizeof ago, "%s ago", cd_duration_format_ms(now > at ? now - at : 0, d, sizeof d));
    t->event_phase = t->st->phase;
    cd_tick_event(t, CD_EVENT_NORMAL, EV_INSTANT_ROLLBACK, t->tname, revision, ago);
    cd_tick_alert(t, true, CD_SEV_INFO, AL_INSTANT_ROLLBACK, revision);
    if (!cd_tick_set_routes(t, 100, 0, false))
        return;
    cd_tick_gauge_weights(t, 100, 0);
    copying_event(t);
    if (!cd_tick_workload(t, t->p->workload.promote) || !cd_tick_reconcile_primary_scaler(t, false) ||
        !cd_tick_workload(t, t->p->workload.pause_target_scaler) ||
        !cd_tick_workload(t, t->p->workload.scale_to_zero))
        return;
    if (!cd_tick_sync_status(t, (cd_status_sync){CD_PHASE_SUCCEEDED, 0, 0, 0}))
        return;
    cd_tick_gauge_status(t, CD_PHASE_SUCCEEDED);
    cd_tick_count_outcome(t, true, "skipped");
    cd_hooks_post_rollout(t, CD_PHASE_SUCCEEDED);
    cd_tick_event(t, CD_EVENT_NORMAL, EV_INSTANT_DONE, revision, t->tname);
    cd_tick_alert(t, false, CD_SEV_INFO, AL_INSTANT_DONE);
}
