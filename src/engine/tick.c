/* tick.c - one tick of one canary, step by step as Flagger's advanceCanary
 * (reference §2.2; step numbers below are the reference's). Decides and
 * sequences; every effect goes through context.c to a port. Must not keep
 * state between ticks: everything it knows comes from the spec, the status
 * and the ports. */
#include "engine/tick.h"
#include "telemetry/registry.h"
#include <stdio.h>
#include <string.h>

const char *cd_engine_ports_missing(const cd_ports *p)
{
    if (!p)
        return "ports";
    if (!p->workload.initialize) return "workload.initialize";
    if (!p->workload.is_primary_ready) return "workload.is_primary_ready";
    if (!p->workload.is_canary_ready) return "workload.is_canary_ready";
    if (!p->workload.target_hash) return "workload.target_hash";
    if (!p->workload.promote) return "workload.promote";
    if (!p->workload.scale_to_zero) return "workload.scale_to_zero";
    if (!p->workload.scale_from_zero) return "workload.scale_from_zero";
    if (!p->router.get_routes) return "router.get_routes";
    if (!p->router.set_routes) return "router.set_routes";
    if (!p->metrics.query) return "metrics.query";
    if (!p->hooks.call) return "hooks.call";
    if (!p->events.record) return "events.record";
    if (!p->status.save) return "status.save";
    if (!p->clock.now_ms) return "clock.now_ms";
    return NULL;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static void setup(cd_tick *t, const cd_engine_config *cfg, const cd_ports *p, cd_canary_ref *c)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->p = p;
    t->c = c;
    t->spec = c->spec;
    t->an = &c->spec->analysis;
    t->st = c->status;
    t->provider = cd_engine_provider(cfg, c);
    t->kind = c->spec->target_ref.kind && *c->spec->target_ref.kind ? c->spec->target_ref.kind
                                                                      : "Deployment";
    t->target = or_empty(c->spec->target_ref.name);
    t->ns = or_empty(c->meta->namespace_);
    snprintf(t->cname, sizeof t->cname, "%s.%s", or_empty(c->meta->name), t->ns);
    snprintf(t->tname, sizeof t->tname, "%s.%s", t->target, t->ns);
    t->kube = !strcmp(t->provider, "kubernetes");
    t->iterations = cd_engine_iterations(c->spec, t->provider);
    t->strategy = cd_engine_strategy(c->spec, t->provider);
    t->event_phase = c->status->phase;
    t->begin_ms = cd_tick_now(t);
    t->rc = CD_OK;
}

static bool initializing(const cd_tick *t)
{
    return t->st->phase == CD_PHASE_NONE || t->st->phase == CD_PHASE_INITIALIZING;
}

static bool phase_in(const cd_tick *t, cd_phase a, cd_phase b)
{
    return t->st->phase == a || t->st->phase == b;
}

/* A router port that refuses the canary's configuration (CD_FATAL: a
 * VirtualService it may not take over, a gateway that does not exist, an
 * invalid match) halts the rollout with a Warning event and canaryd's
 * condition Accepted=False (reason RouterRefused) on the status, which
 * stays until the router accepts the canary (reconcile() removes it). */
static bool router_call(cd_tick *t, cd_rc (*fn)(void *, const cd_canary_ref *, cd_err *))
{
    if (!fn)
        return true;
    cd_err err = {{0}};
    cd_rc rc = fn(t->p->router.ctx, t->c, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        if (rc == CD_FATAL &&
            cd_status_set_refused(t->st, "RouterRefused", err.msg, cd_tick_now(t)))
            cd_tick_save(t);
        return false;
    }
    return true;
}

/* Steps 6-13: services, primary workload, scalers, apex, mesh objects. */
static bool reconcile(cd_tick *t)
{
    const cd_ports *p = t->p;
    if (!router_call(t, p->router.initialize_services))                   /* 6 */
        return false;
    if (!t->spec->skip_analysis && initializing(t))                          /* 7 */
        cd_analysis_check_providers(t);
    if (p->router.reconcile_mesh_first && !router_call(t, p->router.reconcile_mesh)) /* 8 */
        return false;
    cd_err err = {{0}};                                                      /* 9 */
    bool require_ready = initializing(t) && !t->spec->skip_analysis;
    cd_rc rc = p->workload.initialize(p->workload.ctx, t->c, require_ready, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        if (rc == CD_FATAL)
            cd_outcome_rollback(t);
        return false;
    }
    if (!cd_tick_reconcile_primary_scaler(t, true))                        /* 10 */
        return false;
    if (initializing(t) && !cd_tick_workload(t, p->workload.pause_target_scaler))
        return false;
    if (!router_call(t, p->router.reconcile_apex))                          /* 11 */
        return false;
    if (initializing(t) && !cd_tick_workload(t, p->workload.scale_to_zero)) /* 12 */
        return false;
    if (!p->router.reconcile_mesh_first && !router_call(t, p->router.reconcile_mesh)) /* 13 */
        return false;
    if (cd_status_set_refused(t->st, NULL, NULL, 0) && !cd_tick_save(t))
        return false;
    return true;
}

/* Step 14: the first complete tick ends the bootstrap. */
static bool finish_initialization(cd_tick *t)
{
    if (!initializing(t))
        return true;
    if (!cd_tick_sync_status(t, (cd_status_sync){CD_PHASE_INITIALIZED, 0, 0, 0}))
        return false;
    cd_tick_gauge_status(t, CD_PHASE_INITIALIZED);
    t->event_phase = CD_PHASE_INITIALIZED;   /* Flagger re-reads the canary */
    cd_tick_event(t, CD_EVENT_NORMAL, EV_INIT_DONE, t->cname);
    cd_tick_alert(t, true, CD_SEV_INFO, AL_INIT_DONE, t->kind);
    return true;
}

/* Step 15 (shouldAdvance): is there a release in flight or a new one? */
static bool should_advance(cd_tick *t, bool *advance)
{
    *advance = true;
    switch (t->st->phase) {
    case CD_PHASE_INITIALIZING:
    case CD_PHASE_PROGRESSING:
    case CD_PHASE_WAITING:
    case CD_PHASE_WAITING_PROMOTION:
    case CD_PHASE_PROMOTING:
    case CD_PHASE_FINALISING:
        return true;
    default:
        break;
    }
    if (!t->st->last_applied_spec[0])
        return true;
    /* Compared with the status as read; a Failed canary then re-syncs
     * lastAppliedSpec, so that reverting the target to the primary's
     * version does not start a run but re-applying the failed one does. */
    if (!cd_tick_target_changed(t, t->st, advance))
        return false;
    if (t->st->phase == CD_PHASE_FAILED) {
        cd_canary_status *s = t->st;
        cd_status_sync keep = {s->phase, s->canary_weight, s->failed_checks, s->iterations};
        if (!cd_tick_sync_status(t, keep))
            return false;
    }
    return true;
}

/* Step 17: the primary must be ready before anything moves. */
static bool primary_ready(cd_tick *t)
{
    if (t->spec->skip_analysis)
        return true;
    cd_err err = {{0}};
    cd_rc rc = t->p->workload.is_primary_ready(t->p->workload.ctx, t->c, &err);
    if (rc == CD_OK)
        return true;
    if (rc != CD_FATAL) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    t->rc = CD_ERROR;
    if (phase_in(t, CD_PHASE_PROMOTING, CD_PHASE_FINALISING)) {
        cd_outcome_failed_promotion(t, err.msg);
    } else {
        cd_tick_event(t, CD_EVENT_WARNING, "%s", err.msg);
        cd_outcome_rollback(t);
    }
    return false;
}

static int clamp_weight(int w) { return w < 0 ? 0 : w > 100 ? 100 : w; }

/* Step 18: the router is the truth about weights. */
static bool read_routes(cd_tick *t)
{
    cd_err err = {{0}};
    int primary = 0, canary = 0;
    bool mirrored = false;
    cd_rc rc = t->p->router.get_routes(t->p->router.ctx, t->c, &primary, &canary, &mirrored, &err);
    if (rc != CD_OK) {
        cd_tick_port_failed(t, rc, &err);
        return false;
    }
    t->routes = (cd_weights){clamp_weight(primary), clamp_weight(canary), mirrored};
    cd_tick_gauge_weights(t, t->routes.primary, t->routes.canary);
    return true;
}

/* spec.rollbackWindow (canaryd's extension): a target revision that ran
 * as the primary lately is promoted at once. from_primary: whether going
 * back to the primary's own revision counts (a release in flight ends). */
static bool instant_rollback(cd_tick *t, bool from_primary)
{
    if (!t->spec->rollback_window.set || t->st->n_promoted == 0)
        return false;
    char hash[CD_HASH_MAX];
    if (!cd_tick_target_hash(t, hash))
        return true;   /* reported; nothing more this tick */
    if (!strcmp(hash, t->st->last_applied_spec))
        return false;   /* not a new revision */
    int idx = cd_engine_rollback_match(t->st, &t->spec->rollback_window, hash, cd_tick_now(t));
    if (idx < 0 || (idx == 0 && !from_primary))
        return false;
    cd_outcome_instant_rollback(t, hash, idx);
    return true;
}

/* Step 19 (checkCanaryStatus): a release in flight continues; otherwise a
 * change starts one, behind the confirm-rollout gate. */
static bool continue_release(cd_tick *t)
{
    cd_tick_gauge_status(t, t->st->phase);
    switch (t->st->phase) {
    case CD_PHASE_PROGRESSING:
    case CD_PHASE_WAITING_PROMOTION:
    case CD_PHASE_PROMOTING:
    case CD_PHASE_FINALISING:
        return true;
    default:
        break;
    }
    t->event_phase = t->st->phase;   /* Flagger re-reads the canary here */
    if (instant_rollback(t, false))
        return false;
    if (!cd_gate_confirm_rollout(t))
        return false;
    cd_tick_event(t, CD_EVENT_NORMAL, EV_NEW_REVISION, t->tname);
    cd_tick_alert(t, true, CD_SEV_INFO, AL_NEW_REVISION);
    if (!cd_tick_workload(t, t->p->workload.resume_target_scaler) ||
        !cd_tick_workload(t, t->p->workload.scale_from_zero))
        return false;
    if (!cd_tick_sync_status(t, (cd_status_sync){CD_PHASE_PROGRESSING, 0, 0, 0}))
        return false;
    cd_tick_gauge_status(t, CD_PHASE_PROGRESSING);
    return false;
}

/* Step 20: a new revision during the analysis starts it over. */
static bool restarted(cd_tick *t)
{
    if (!phase_in(t, CD_PHASE_PROGRESSING, CD_PHASE_WAITING_PROMOTION))
        return false;
    if (instant_rollback(t, true))
        return true;
    bool changed = false;
    if (!cd_tick_target_changed(t, t->st, &changed))
        return true;
    if (!changed)
        return false;
    cd_tick_event(t, CD_EVENT_NORMAL, EV_RESTART, t->tname);
    if (!cd_tick_set_routes(t, 100, 0, false))
        return true;
    cd_tick_sync_status(t, (cd_status_sync){CD_PHASE_PROGRESSING, 0, 0, 0});
    return true;
}

/* Step 21: the canary must be ready; stuck past the deadline rolls back. */
static bool canary_ready(cd_tick *t)
{
    cd_err err = {{0}};
    cd_rc rc = t->p->workload.is_canary_ready(t->p->workload.ctx, t->c, &err);
    if (rc == CD_OK)
        return true;
    cd_tick_port_failed(t, rc, &err);
    if (rc == CD_FATAL)
        cd_outcome_rollback(t);
    return false;
}

/* Step 23: a rollback webhook answering success aborts the release. */
static bool manual_rollback(cd_tick *t)
{
    if (!phase_in(t, CD_PHASE_PROGRESSING, CD_PHASE_WAITING) &&
        t->st->phase != CD_PHASE_WAITING_PROMOTION)
        return false;
    if (!cd_hooks_rollback_requested(t))
        return false;
    cd_tick_event(t, CD_EVENT_WARNING, EV_MANUAL_ROLLBACK, t->cname);
    cd_tick_alert(t, false, CD_SEV_WARN, AL_MANUAL_ROLLBACK);
    cd_outcome_rollback(t);
    return true;
}

/* Step 28: the first analysis tick runs the pre-rollout hooks, later ones
 * the analysis; a failure counts one failed check. */
static bool analysis_passed(cd_tick *t)
{
    bool starting = t->routes.canary == 0 && t->st->iterations == 0 &&
                    !(t->an->mirror && t->routes.mirrored);
    bool ok;
    if (starting) {
        cd_tick_event(t, CD_EVENT_NORMAL, EV_STARTING, t->tname);
        ok = cd_gate_pre_rollout(t);
    } else {
        ok = cd_analysis_run(t);
    }
    if (!ok) {
        if (!cd_tick_set_failed_checks(t, t->st->failed_checks + 1))
            return false;
        if (t->judge_rollback) {   /* conclusive evidence: no need to count to threshold */
            cd_tick_event(t, CD_EVENT_WARNING, EV_JUDGE_ROLLBACK, t->cname, t->judge_why);
            cd_tick_alert(t, false, CD_SEV_ERROR, AL_JUDGE_ROLLBACK, t->judge_why);
            cd_outcome_rollback(t);
        }
        return false;
    }
    if (t->judged && !cd_tick_save(t))   /* the judge's state (status.judge) */
        return false;
    return ok;
}

/* Step 29: the kubernetes provider can only do blue/green. */
static void warn_kubernetes_limits(cd_tick *t)
{
    if (!t->kube)
        return;
    if (t->an->n_match > 0)
        cd_tick_event(t, CD_EVENT_WARNING, EV_K8S_NO_AB);
    if (t->an->iterations < 1) {
        cd_tick_event(t, CD_EVENT_WARNING, EV_K8S_NO_PROGRESSIVE);
        cd_tick_event(t, CD_EVENT_WARNING, EV_K8S_ITERATIONS);
    }
}

/* Steps 30-31. */
static void run_strategy(cd_tick *t)
{
    switch (t->strategy) {
    case CD_STRATEGY_AB_TESTING:
        cd_strategy_ab(t);
        return;
    case CD_STRATEGY_BLUE_GREEN:
        cd_strategy_blue_green(t);
        return;
    case CD_STRATEGY_CANARY:
        break;
    }
    if (cd_engine_next_step_weight(t->an, t->routes.canary) > 0 && !t->routes.mirrored &&
        t->st->phase == CD_PHASE_PROGRESSING && !cd_gate_confirm_traffic_increase(t))
        return;
    cd_strategy_canary(t);
}

static void advance(cd_tick *t)
{
    if (t->spec->suspend) {                                                  /* 2 */
        cd_tick_event(t, CD_EVENT_NORMAL, EV_SUSPENDED);
        return;
    }
    if (!reconcile(t) || !finish_initialization(t))                         /* 3-14 */
        return;
    bool go;
    if (!should_advance(t, &go))                                             /* 15 */
        return;
    if (!go) {
        cd_tick_gauge_status(t, t->st->phase);
        return;
    }
    if (!primary_ready(t) || !read_routes(t))                               /* 17-18 */
        return;
    if (!continue_release(t) || restarted(t) || !canary_ready(t))          /* 19-21 */
        return;
    if (cd_outcome_skip_analysis(t) || manual_rollback(t))                  /* 22-23 */
        return;
    if (t->st->phase == CD_PHASE_PROMOTING) {                                /* 24 */
        if (cd_tick_reconcile_primary_scaler(t, false))
            cd_outcome_promotion_shift(t);
        return;
    }
    if (t->st->phase == CD_PHASE_FINALISING) {                               /* 25 */
        cd_outcome_finalise(t);
        return;
    }
    if (phase_in(t, CD_PHASE_PROGRESSING, CD_PHASE_WAITING_PROMOTION) &&     /* 26 */
        t->st->failed_checks >= (t->an->threshold > 0 ? t->an->threshold : 1)) {
        cd_outcome_rollback(t);
        return;
    }
    t->timed = true;                                                         /* 27 */
    if (!analysis_passed(t))                                                 /* 28 */
        return;
    warn_kubernetes_limits(t);                                               /* 29 */
    run_strategy(t);                                                         /* 30-31 */
}

cd_rc cd_engine_tick(const cd_engine_config *cfg, const cd_ports *ports, cd_canary_ref *c)
{
    if (!c || !c->meta || !c->spec || !c->status || cd_engine_ports_missing(ports))
        return CD_FATAL;
    cd_tick t;
    setup(&t, cfg, ports, c);
    advance(&t);
    if (t.timed) {
        int64_t took = cd_tick_now(&t) - t.begin_ms;
        cd_registry_observe_duration(ports->registry, t.target, t.ns,
                                     took > 0 ? (double)took / 1000.0 : 0.0);
    }
    return t.rc;
}
