/* status.c - Canary status values: phases, the Promoted condition, JSON.
 * See status.h. No I/O. */
#include "model/status.h"
#include "model/judge.h"
#include "util/redact.h"
#include "util/timeutil.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[] = {
    "", "Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion",
    "Promoting", "Finalising", "Succeeded", "Failed", "Terminating", "Terminated",
};

const char *cd_phase_name(cd_phase p)
{
    if ((unsigned)p < sizeof phase_names / sizeof phase_names[0])
        return phase_names[p];
    return "";
}

bool cd_phase_parse(const char *s, cd_phase *p)
{
    if (!s)
        return false;
    for (size_t i = 0; i < sizeof phase_names / sizeof phase_names[0]; i++) {
        if (!strcmp(s, phase_names[i])) {
            *p = (cd_phase)i;
            return true;
        }
    }
    return false;
}

void cd_status_init(cd_canary_status *s) { memset(s, 0, sizeof *s); }

static void free_tracked(cd_canary_status *s)
{
    for (size_t i = 0; i < s->n_tracked; i++) {
        free(s->tracked[i].key);
        free(s->tracked[i].checksum);
    }
    free(s->tracked);
    s->tracked = NULL;
    s->n_tracked = 0;
    s->has_tracked_configs = false;
}

void cd_status_judge_clear(cd_canary_status *s)
{
    free(s->judge);
    s->judge = NULL;
    s->n_judge = 0;
}

void cd_status_free(cd_canary_status *s)
{
    free_tracked(s);
    cd_status_judge_clear(s);
}

cd_judge_state *cd_status_judge_find(cd_canary_status *s, const char *metric)
{
    for (size_t i = 0; i < s->n_judge; i++)
        if (!strcmp(s->judge[i].metric, metric ? metric : ""))
            return &s->judge[i];
    return NULL;
}

cd_judge_state *cd_status_judge_add(cd_canary_status *s, const char *metric)
{
    cd_judge_state *p = realloc(s->judge, (s->n_judge + 1) * sizeof *p);
    if (!p)
        abort();
    s->judge = p;
    cd_judge_state *e = &p[s->n_judge++];
    memset(e, 0, sizeof *e);
    snprintf(e->metric, sizeof e->metric, "%s", metric ? metric : "");
    return e;
}

static void copy_judge(cd_canary_status *dst, const cd_canary_status *src)
{
    dst->judge = NULL;
    dst->n_judge = 0;
    if (!src->n_judge)
        return;
    dst->judge = malloc(src->n_judge * sizeof *dst->judge);
    if (!dst->judge)
        abort();
    memcpy(dst->judge, src->judge, src->n_judge * sizeof *dst->judge);
    dst->n_judge = src->n_judge;
}

void cd_status_set_tracked(cd_canary_status *s, const cd_tracked_config *items, size_t n,
                           bool present)
{
    cd_tracked_config *copy = NULL;
    if (n) {
        copy = calloc(n, sizeof *copy);
        if (!copy)
            abort();
        for (size_t i = 0; i < n; i++) {
            copy[i].key = strdup(items[i].key);
            copy[i].checksum = strdup(items[i].checksum);
            if (!copy[i].key || !copy[i].checksum)
                abort();
        }
    }
    free_tracked(s);
    s->tracked = copy;
    s->n_tracked = n;
    s->has_tracked_configs = present || n > 0;
}

void cd_status_copy(cd_canary_status *dst, const cd_canary_status *src)
{
    if (dst == src)
        return;
    cd_status_free(dst);
    *dst = *src;
    dst->tracked = NULL;
    dst->n_tracked = 0;
    cd_status_set_tracked(dst, src->tracked, src->n_tracked, src->has_tracked_configs);
    copy_judge(dst, src);
}

static bool condition_equal(const cd_condition *a, const cd_condition *b)
{
    if (a->set != b->set)
        return false;
    return !a->set ||
           (!strcmp(a->type, b->type) && !strcmp(a->status, b->status) &&
            !strcmp(a->reason, b->reason) && !strcmp(a->message, b->message) &&
            a->last_update_ms / 1000 == b->last_update_ms / 1000 &&
            a->last_transition_ms / 1000 == b->last_transition_ms / 1000);
}

bool cd_status_equal(const cd_canary_status *a, const cd_canary_status *b)
{
    if (a->phase != b->phase || a->canary_weight != b->canary_weight ||
        a->failed_checks != b->failed_checks || a->iterations != b->iterations ||
        strcmp(a->last_applied_spec, b->last_applied_spec) ||
        strcmp(a->last_promoted_spec, b->last_promoted_spec) ||
        a->last_transition_ms / 1000 != b->last_transition_ms / 1000 ||
        a->has_tracked_configs != b->has_tracked_configs || a->n_tracked != b->n_tracked ||
        !condition_equal(&a->condition, &b->condition) ||
        !condition_equal(&a->accepted, &b->accepted) ||
        strcmp(a->session_affinity_cookie, b->session_affinity_cookie) ||
        strcmp(a->primary_session_affinity_cookie, b->primary_session_affinity_cookie) ||
        strcmp(a->previous_session_affinity_cookie, b->previous_session_affinity_cookie) ||
        a->n_judge != b->n_judge || a->n_promoted != b->n_promoted)
        return false;
    for (size_t i = 0; i < a->n_promoted; i++)
        if (strcmp(a->promoted[i].revision, b->promoted[i].revision) ||
            a->promoted[i].promoted_ms / 1000 != b->promoted[i].promoted_ms / 1000)
            return false;
    for (size_t i = 0; i < a->n_judge; i++)
        if (!cd_judge_state_equal(&a->judge[i], &b->judge[i]))
            return false;
    for (size_t i = 0; i < a->n_tracked; i++)
        if (strcmp(a->tracked[i].key, b->tracked[i].key) ||
            strcmp(a->tracked[i].checksum, b->tracked[i].checksum))
            return false;
    return true;
}

void cd_status_update_condition(cd_canary_status *s, const char *kind, int64_t now_ms)
{
    const char *status = "Unknown";
    char message[128];
    switch (s->phase) {
    case CD_PHASE_INITIALIZED:
        status = "True";
        snprintf(message, sizeof message, "%s initialization completed.", kind);
        break;
    case CD_PHASE_WAITING:
    case CD_PHASE_WAITING_PROMOTION:
        snprintf(message, sizeof message, "Waiting for approval.");
        break;
    case CD_PHASE_PROGRESSING:
        snprintf(message, sizeof message, "New revision detected, progressing canary analysis.");
        break;
    case CD_PHASE_PROMOTING:
        snprintf(message, sizeof message,
                 "Canary analysis completed, starting primary rolling update.");
        break;
    case CD_PHASE_FINALISING:
        snprintf(message, sizeof message,
                 "Canary analysis completed, routing all traffic to primary.");
        break;
    case CD_PHASE_SUCCEEDED:
        status = "True";
        snprintf(message, sizeof message,
                 "Canary analysis completed successfully, promotion finished.");
        break;
    case CD_PHASE_FAILED:
        status = "False";
        snprintf(message, sizeof message, "Canary analysis failed, %s scaled to zero.", kind);
        break;
    default:   /* "", Initializing, Terminating, Terminated */
        snprintf(message, sizeof message, "New %s detected, starting initialization.", kind);
        break;
    }
    const char *reason = cd_phase_name(s->phase);
    cd_condition *c = &s->condition;
    if (c->set && !strcmp(c->status, status) && !strcmp(c->reason, reason))
        return;
    bool status_changed = !c->set || strcmp(c->status, status) != 0;
    c->set = true;
    snprintf(c->type, sizeof c->type, "Promoted");
    snprintf(c->status, sizeof c->status, "%s", status);
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    snprintf(c->message, sizeof c->message, "%s", message);
    c->last_update_ms = now_ms;
    if (status_changed || c->last_transition_ms == 0)
        c->last_transition_ms = now_ms;
}

bool cd_status_set_refused(cd_canary_status *s, const char *reason, const char *msg,
                           int64_t now_ms)
{
    cd_condition *c = &s->accepted;
    if (!reason) {
        bool was = c->set;
        memset(c, 0, sizeof *c);
        return was;
    }
    char m[sizeof c->message];   /* read by whoever reads the Canary, as events are */
    cd_redact_text(msg ? msg : "", NULL, 0, m, sizeof m);
    if (c->set && !strcmp(c->message, m) && !strcmp(c->reason, reason))
        return false;
    if (!c->set)
        c->last_transition_ms = now_ms;
    c->set = true;
    snprintf(c->type, sizeof c->type, "Accepted");
    snprintf(c->status, sizeof c->status, "False");
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    snprintf(c->message, sizeof c->message, "%s", m);
    c->last_update_ms = now_ms;
    return true;
}

static json_t *condition_json(const cd_condition *c)
{
    char ts[32];
    json_t *cj = json_object();
    json_object_set_new(cj, "type", json_string(c->type));
    json_object_set_new(cj, "status", json_string(c->status));
    json_object_set_new(cj, "reason", json_string(c->reason));
    json_object_set_new(cj, "message", json_string(c->message));
    json_object_set_new(cj, "lastUpdateTime", json_string(cd_rfc3339(c->last_update_ms, ts)));
    json_object_set_new(cj, "lastTransitionTime",
                        json_string(cd_rfc3339(c->last_transition_ms, ts)));
    return cj;
}

json_t *cd_status_to_json(const cd_canary_status *s)
{
    char ts[32];
    json_t *j = json_object();
    json_object_set_new(j, "phase", json_string(cd_phase_name(s->phase)));
    json_object_set_new(j, "canaryWeight", json_integer(s->canary_weight));
    json_object_set_new(j, "failedChecks", json_integer(s->failed_checks));
    json_object_set_new(j, "iterations", json_integer(s->iterations));
    if (s->last_applied_spec[0])
        json_object_set_new(j, "lastAppliedSpec", json_string(s->last_applied_spec));
    if (s->last_promoted_spec[0])
        json_object_set_new(j, "lastPromotedSpec", json_string(s->last_promoted_spec));
    if (s->last_transition_ms)
        json_object_set_new(j, "lastTransitionTime",
                            json_string(cd_rfc3339(s->last_transition_ms, ts)));
    if (s->has_tracked_configs) {
        json_t *t = json_object();
        for (size_t i = 0; i < s->n_tracked; i++)
            json_object_set_new(t, s->tracked[i].key, json_string(s->tracked[i].checksum));
        json_object_set_new(j, "trackedConfigs", t);
    }
    if (s->condition.set || s->accepted.set) {
        json_t *conds = json_array();
        if (s->condition.set)
            json_array_append_new(conds, condition_json(&s->condition));
        if (s->accepted.set)
            json_array_append_new(conds, condition_json(&s->accepted));
        json_object_set_new(j, "conditions", conds);
    }
    if (s->session_affinity_cookie[0])
        json_object_set_new(j, "sessionAffinityCookie", json_string(s->session_affinity_cookie));
    if (s->primary_session_affinity_cookie[0])
        json_object_set_new(j, "primarySessionAffinityCookie",
                            json_string(s->primary_session_affinity_cookie));
    if (s->previous_session_affinity_cookie[0])
        json_object_set_new(j, "previousSessionAffinityCookie",
                            json_string(s->previous_session_affinity_cookie));
    if (s->n_judge) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->n_judge; i++)
            json_array_append_new(arr, cd_judge_state_to_json(&s->judge[i]));
        json_object_set_new(j, "judge", arr);
    }
    if (s->n_promoted) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->n_promoted && i < CD_PROMOTED_MAX; i++) {
            const cd_promoted_revision *e = &s->promoted[i];
            json_t *o = json_pack("{s:s}", "revision", e->revision);
            if (e->promoted_ms)   /* 0: promoted before the history was kept */
                json_object_set_new(o, "promotedAt", json_string(cd_rfc3339(e->promoted_ms, ts)));
            json_array_append_new(arr, o);
        }
        json_object_set_new(j, "promotedRevisions", arr);
    }
    return j;
}

static int int_of(const json_t *v)
{
    if (json_is_integer(v))
        return (int)json_integer_value(v);
    if (json_is_real(v)) {
        /* a status written by anyone: 1e300 or NaN must not be undefined */
        double d = json_real_value(v);
        if (d != d)
            return 0;
        return d >= INT_MAX ? INT_MAX : d <= INT_MIN ? INT_MIN : (int)d;
    }
    return 0;
}

static void copy_str(char *dst, size_t n, const json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, n, "%s", json_string_value(v));
}

static int64_t time_of(const json_t *v)
{
    int64_t ms = 0;
    if (json_is_string(v))
        cd_parse_rfc3339(json_string_value(v), &ms);
    return ms;
}

void cd_status_from_json(cd_canary_status *s, const json_t *j)
{
    cd_status_free(s);
    cd_status_init(s);
    if (!json_is_object(j))
        return;
    cd_phase p;
    if (cd_phase_parse(json_string_value(json_object_get(j, "phase")), &p))
        s->phase = p;
    s->canary_weight = int_of(json_object_get(j, "canaryWeight"));
    s->failed_checks = int_of(json_object_get(j, "failedChecks"));
    s->iterations = int_of(json_object_get(j, "iterations"));
    copy_str(s->last_applied_spec, sizeof s->last_applied_spec, json_object_get(j, "lastAppliedSpec"));
    copy_str(s->last_promoted_spec, sizeof s->last_promoted_spec,
             json_object_get(j, "lastPromotedSpec"));
    s->last_transition_ms = time_of(json_object_get(j, "lastTransitionTime"));
    json_t *t = json_object_get(j, "trackedConfigs");
    if (json_is_object(t)) {
        size_t n = json_object_size(t), i = 0;
        cd_tracked_config *items = n ? calloc(n, sizeof *items) : NULL;
        const char *k;
        json_t *v;
        json_object_foreach(t, k, v) {
            items[i].key = (char *)k;
            items[i].checksum = (char *)(json_is_string(v) ? json_string_value(v) : "");
            i++;
        }
        cd_status_set_tracked(s, items, n, true);
        free(items);
    }
    json_t *conds = json_object_get(j, "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        const char *type = json_string_value(json_object_get(c, "type")) ?: "";
        cd_condition *d = !strcmp(type, "Promoted")      ? &s->condition
                          : !strcmp(type, "Accepted")    ? &s->accepted
                                                         : NULL;
        if (!d)
            continue;
        d->set = true;
        snprintf(d->type, sizeof d->type, "%s", type);
        copy_str(d->status, sizeof d->status, json_object_get(c, "status"));
        copy_str(d->reason, sizeof d->reason, json_object_get(c, "reason"));
        copy_str(d->message, sizeof d->message, json_object_get(c, "message"));
        d->last_update_ms = time_of(json_object_get(c, "lastUpdateTime"));
        d->last_transition_ms = time_of(json_object_get(c, "lastTransitionTime"));
    }
    copy_str(s->session_affinity_cookie, sizeof s->session_affinity_cookie,
             json_object_get(j, "sessionAffinityCookie"));
    copy_str(s->primary_session_affinity_cookie, sizeof s->primary_session_affinity_cookie,
             json_object_get(j, "primarySessionAffinityCookie"));
    copy_str(s->previous_session_affinity_cookie, sizeof s->previous_session_affinity_cookie,
             json_object_get(j, "previousSessionAffinityCookie"));
    json_t *judge = json_object_get(j, "judge");
    json_array_foreach(judge, i, c) {
        cd_judge_state e;
        if (cd_judge_state_from_json(&e, c) && !cd_status_judge_find(s, e.metric))
            *cd_status_judge_add(s, e.metric) = e;
    }
    json_array_foreach(json_object_get(j, "promotedRevisions"), i, c) {
        const char *rev = json_string_value(json_object_get(c, "revision"));
        if (!rev || !*rev || s->n_promoted >= CD_PROMOTED_MAX)
            continue;
        cd_promoted_revision *e = &s->promoted[s->n_promoted++];
        snprintf(e->revision, sizeof e->revision, "%s", rev);
        e->promoted_ms = time_of(json_object_get(c, "promotedAt"));
    }
}
