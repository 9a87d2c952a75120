/* strategies.c - what an analysis tick that passed does with traffic, per
 * strategy (reference §2.6): canary steps weights up to maxWeight, A/B
 * routes the matched requests to the canary for N iterations, blue/green
 * counts N iterations then switches all traffic. Each ends with the
 * confirm-promotion gate and the promotion. Arithmetic lives in
 * weights.c; this file sequences the effects. */
#include "engine/tick.h"

void cd_strategy_canary(cd_tick *t)
{
    cd_weights now = t->routes;
    int max_weight = cd_analysis_max_weight(t->an);
    if (now.canary < max_weight) {
        cd_weights next = cd_engine_canary_step(t->an, now);
        if (!cd_tick_set_routes(t, next.primary, next.canary, next.mirrored))
            return;
        if (!cd_tick_set_weight(t, next.canary))
            return;
        cd_tick_gauge_weights(t, next.primary, next.canary);
        cd_tick_event(t, CD_EVENT_NORMAL, EV_ADVANCE_WEIGHT, t->cname, next.canary);
        return;
    }
    if (cd_analysis_judge_holds(t) || !cd_gate_confirm_promotion(t))
        return;
    cd_outcome_promote(t);
}

void cd_strategy_ab(cd_tick *t)
{
    int done = t->st->iterations;
    if (t->iterations > done) {
        if (!cd_tick_set_routes(t, 0, 100, false))
            return;
        cd_tick_gauge_weights(t, 0, 100);
        if (!cd_tick_set_iterations(t, done + 1))
            return;
        cd_tick_event(t, CD_EVENT_NORMAL, EV_ADVANCE_ITERATION, t->cname, done + 1, t->iterations);
        return;
    }
    if (cd_analysis_judge_holds(t) || !cd_gate_confirm_promotion(t))
        return;
    if (t->iterations == done)
        cd_outcome_promote(t);
}

void cd_strategy_blue_green(cd_tick *t)
{
    int done = t->st->iterations;
    if (t->iterations > done) {
        /* mirror requests during the whole test where the router can */
        if (!t->kube && t->an->mirror && !t->routes.mirrored)
            cd_tick_set_routes(t, 100, 0, true);
        if (!cd_tick_set_iterations(t, done + 1))
            return;
        cd_tick_event(t, CD_EVENT_NORMAL, EV_ADVANCE_ITERATION, t->cname, done + 1, t->iterations);
        return;
    }
    /* the judge holds before all traffic moves to the canary, not after:
     * then the primary has no traffic left to compare with */
    if ((t->iterations == done && cd_analysis_judge_holds(t)) || !cd_gate_confirm_promotion(t))
        return;
    if (t->iterations == done) {
        if (!t->kube) {
            cd_tick_event(t, CD_EVENT_NORMAL, t->an->mirror ? EV_STOP_MIRRORING : EV_ROUTE_ALL_CANARY);
            if (!cd_tick_set_routes(t, 0, 100, false))
                return;
            cd_tick_gauge_weights(t, 0, 100);
        }
        cd_tick_set_iterations(t, done + 1);
        return;
    }
    cd_outcome_promote(t);
}
