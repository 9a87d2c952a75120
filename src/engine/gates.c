/* gates.c - webhooks as the tick runs them (reference §4.2): gating types
 * stop at the first failure; hooks of one type run in spec order. The
 * HTTP side lives behind the hooks port; this file only decides what a
 * hook's answer means (phase changes, failed checks are the callers'). */
#include "engine/tick.h"
#include <stdio.h>

/* Calls one hook; true on success. A missing call port means success. */
static bool call_hook(cd_tick *t, const cd_webhook *w, cd_phase phase, cd_err *err)
{
    err->msg[0] = '\0';
    if (!t->p->hooks.call)
        return true;
    return t->p->hooks.call(t->p->hooks.ctx, t->c, w, phase, err);
}

static const char *hook_name(const cd_webhook *w) { return w->name ? w->name : ""; }

bool cd_gate_confirm_rollout(cd_tick *t)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_CONFIRM_ROLLOUT)
            continue;
        cd_err err;
        if (call_hook(t, w, t->st->phase, &err)) {
            cd_tick_event(t, CD_EVENT_NORMAL, EV_CONFIRM_ROLLOUT_OK, hook_name(w));
            continue;
        }
        if (t->st->phase != CD_PHASE_WAITING) {   /* tell once, then keep asking */
            cd_tick_set_phase(t, CD_PHASE_WAITING);
            cd_tick_event(t, CD_EVENT_WARNING, EV_CONFIRM_ROLLOUT_WAIT, t->cname, hook_name(w));
            if (!w->mute_alert)
                cd_tick_alert(t, false, CD_SEV_WARN, AL_CONFIRM_ROLLOUT_WAIT);
        }
        return false;
    }
    return true;
}

bool cd_gate_pre_rollout(cd_tick *t)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_PRE_ROLLOUT)
            continue;
        cd_err err;
        if (!call_hook(t, w, CD_PHASE_PROGRESSING, &err)) {
            cd_tick_event(t, CD_EVENT_WARNING, EV_PRE_ROLLOUT_FAIL, t->cname, hook_name(w),
                          err.msg);
            return false;
        }
        cd_tick_event(t, CD_EVENT_NORMAL, EV_PRE_ROLLOUT_OK, hook_name(w));
    }
    return true;
}

bool cd_gate_rollout(cd_tick *t)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_ROLLOUT)
            continue;
        cd_err err;
        if (!call_hook(t, w, CD_PHASE_PROGRESSING, &err)) {
            cd_tick_event(t, CD_EVENT_WARNING, EV_ROLLOUT_FAIL, t->cname, hook_name(w), err.msg);
            return false;
        }
    }
    return true;
}

bool cd_gate_confirm_traffic_increase(cd_tick *t)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_CONFIRM_TRAFFIC_INCREASE)
            continue;
        cd_err err;
        if (!call_hook(t, w, CD_PHASE_PROGRESSING, &err)) {
            cd_tick_event(t, CD_EVENT_WARNING, EV_TRAFFIC_WAIT, t->cname, hook_name(w));
            if (!w->mute_alert)
                cd_tick_alert(t, false, CD_SEV_WARN, AL_TRAFFIC_WAIT);
            return false;
        }
        cd_tick_event(t, CD_EVENT_NORMAL, EV_TRAFFIC_OK, hook_name(w));
    }
    return true;
}

bool cd_gate_confirm_promotion(cd_tick *t)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_CONFIRM_PROMOTION)
            continue;
        cd_err err;
        if (call_hook(t, w, CD_PHASE_PROGRESSING, &err)) {
            cd_tick_event(t, CD_EVENT_NORMAL, EV_PROMOTION_OK, hook_name(w));
            continue;
        }
        if (t->st->phase != CD_PHASE_WAITING_PROMOTION) {
            cd_tick_set_phase(t, CD_PHASE_WAITING_PROMOTION);
            cd_tick_event(t, CD_EVENT_WARNING, EV_PROMOTION_WAIT, t->cname, hook_name(w));
            if (!w->mute_alert)
                cd_tick_alert(t, false, CD_SEV_WARN, AL_PROMOTION_WAIT);
        } else {
            /* Flagger rewinds the iteration count each waiting tick */
            cd_tick_set_iterations(t, t->iterations > 0 ? t->iterations - 1 : 0);
        }
        return false;
    }
    return true;
}

bool cd_hooks_rollback_requested(cd_tick *t)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_ROLLBACK)
            continue;
        cd_err err;
        if (call_hook(t, w, t->st->phase, &err)) {
            cd_tick_event(t, CD_EVENT_WARNING, EV_ROLLBACK_YES, hook_name(w));
            return true;
        }
        cd_tick_event(t, CD_EVENT_NORMAL, EV_ROLLBACK_NO, hook_name(w));
    }
    return false;
}

void cd_hooks_post_rollout(cd_tick *t, cd_phase phase)
{
    for (size_t i = 0; i < t->an->n_webhooks; i++) {
        const cd_webhook *w = &t->an->webhooks[i];
        if (w->type != CD_HOOK_POST_ROLLOUT)
            continue;
        cd_err err;
        if (!call_hook(t, w, phase, &err)) {
            cd_tick_event(t, CD_EVENT_WARNING, EV_POST_ROLLOUT_FAIL, hook_name(w), err.msg);
            return;
        }
        cd_tick_event(t, CD_EVENT_NORMAL, EV_POST_ROLLOUT_OK, hook_name(w));
    }
}
