/* transitions.c - how the tick changes a canary's status (reference §2.11,
 * §2.3): Flagger's SyncStatus and SetStatusPhase, change detection and the
 * status gauge value. Pure: the caller supplies hashes and the time, and
 * persists the result through the status port. */
#include "engine/engine.h"
#include <stdio.h>
#include <string.h>

void cd_engine_sync_status(cd_canary_status *s, cd_status_sync to, const char *hash,
                           const cd_tracked_config *tracked, size_t n_tracked, bool tracked_present,
                           const char *kind, int64_t now_ms)
{
    /* a rollout starts (or restarts): the statistical judge starts over;
     * its last verdicts stay visible after the rollout ends */
    if (to.phase == CD_PHASE_PROGRESSING && !to.canary_weight && !to.failed_checks &&
        !to.iterations)
        cd_status_judge_clear(s);
    s->phase = to.phase;
    s->canary_weight = to.canary_weight;
    s->failed_checks = to.failed_checks;
    s->iterations = to.iterations;
    snprintf(s->last_applied_spec, sizeof s->last_applied_spec, "%s", hash ? hash : "");
    if (to.phase == CD_PHASE_INITIALIZED || to.phase == CD_PHASE_SUCCEEDED)
        snprintf(s->last_promoted_spec, sizeof s->last_promoted_spec, "%s", s->last_applied_spec);
    cd_status_set_tracked(s, tracked, n_tracked, tracked_present);
    s->last_transition_ms = now_ms;
    cd_status_update_condition(s, kind, now_ms);
}

void cd_engine_set_phase(cd_canary_status *s, cd_phase p, int iterations, const char *kind,
                         int64_t now_ms)
{
    s->phase = p;
    s->last_transition_ms = now_ms;
    if (p != CD_PHASE_PROGRESSING && p != CD_PHASE_WAITING && p != CD_PHASE_PROMOTING) {
        s->canary_weight = 0;
        s->iterations = 0;
    }
    /* Flagger writes iterations-1, i.e. -1 for the canary strategy; a
     * negative count means nothing, so it stops at 0 (docs/compatibility.md). */
    if (p == CD_PHASE_WAITING_PROMOTION)
        s->iterations = iterations > 0 ? iterations - 1 : 0;
    if (p == CD_PHASE_INITIALIZED || p == CD_PHASE_SUCCEEDED)
        memcpy(s->last_promoted_spec, s->last_applied_spec, sizeof s->last_promoted_spec);
    cd_status_update_condition(s, kind, now_ms);
}

bool cd_engine_spec_changed(const cd_canary_status *s, const char *hash)
{
    if (!s->last_applied_spec[0])
        return true;
    if (!strcmp(hash, s->last_promoted_spec))
        return false;   /* back to what the primary runs: no new run */
    return strcmp(hash, s->last_applied_spec) != 0;
}

static const cd_tracked_config *find_tracked(const cd_canary_status *s, const char *key)
{
    for (size_t i = 0; i < s->n_tracked; i++)
        if (!strcmp(s->tracked[i].key, key))
            return &s->tracked[i];
    return NULL;
}

bool cd_engine_configs_changed(const cd_canary_status *s, const cd_tracked_config *items, size_t n,
                               bool present)
{
    if (!present && n == 0)
        return false;   /* tracking off */
    if (n > 0 && !s->has_tracked_configs)
        return true;
    if (n != s->n_tracked)
        return true;
    for (size_t i = 0; i < n; i++) {
        const cd_tracked_config *old = find_tracked(s, items[i].key);
        if (!old || strcmp(old->checksum, items[i].checksum))
            return true;
    }
    return false;
}

void cd_engine_note_promotion(cd_canary_status *s, const char *revision, int64_t now_ms, int keep)
{
    if (!revision || !*revision)
        return;
    if (keep < 1)
        keep = 1;
    if (keep > CD_PROMOTED_MAX)
        keep = CD_PROMOTED_MAX;
    if (s->n_promoted > 0 && !strcmp(s->promoted[0].revision, revision)) {
        if (s->n_promoted > (size_t)keep)
            s->n_promoted = (size_t)keep;
        return;
    }
    /* drop an older entry of the same revision: it moves to the front */
    size_t n = 0;
    for (size_t i = 0; i < s->n_promoted && i < CD_PROMOTED_MAX; i++)
        if (strcmp(s->promoted[i].revision, revision))
            s->promoted[n++] = s->promoted[i];
    if (n > (size_t)keep - 1)
        n = (size_t)keep - 1;
    memmove(&s->promoted[1], &s->promoted[0], n * sizeof s->promoted[0]);
    snprintf(s->promoted[0].revision, sizeof s->promoted[0].revision, "%s", revision);
    s->promoted[0].promoted_ms = now_ms;
    s->n_promoted = n + 1;
}

int cd_engine_rollback_match(const cd_canary_status *s, const cd_rollback_window *w,
                             const char *revision, int64_t now_ms)
{
    if (!w || !w->set || !revision || !*revision)
        return -1;
    size_t n = s->n_promoted;
    if (n > (size_t)w->revisions)
        n = (size_t)w->revisions;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s->promoted[i].revision, revision))
            continue;
        if (i > 0 && w->max_age_ms > 0 && now_ms - s->promoted[i - 1].promoted_ms > w->max_age_ms)
            return -1;   /* it stopped serving longer ago than maxAge */
        return (int)i;
    }
    return -1;
}

int cd_engine_status_gauge(cd_phase p)
{
    switch (p) {
    case CD_PHASE_PROGRESSING: return 0;
    case CD_PHASE_FAILED: return 2;
    default: return 1;
    }
}
