/* status.h - a Canary's status (Flagger's CanaryStatus): the only mutable
 * part of a canary. A plain value with two heap parts (trackedConfigs and
 * canaryd's status.judge); copy with cd_status_copy, release with
 * cd_status_free. Pure data. */
#ifndef CD_STATUS_H
#define CD_STATUS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CD_PHASE_NONE = 0,      /* "" */
    CD_PHASE_INITIALIZING,
    CD_PHASE_INITIALIZED,
    CD_PHASE_WAITING,
    CD_PHASE_PROGRESSING,
    CD_PHASE_WAITING_PROMOTION,
    CD_PHASE_PROMOTING,
    CD_PHASE_FINALISING,
    CD_PHASE_SUCCEEDED,
    CD_PHASE_FAILED,
    CD_PHASE_TERMINATING,
    CD_PHASE_TERMINATED,
} cd_phase;

const char *cd_phase_name(cd_phase p);          /* "" for NONE */
bool cd_phase_parse(const char *s, cd_phase *p);

#define CD_HASH_MAX 64
#define CD_COOKIE_MAX 160

typedef struct cd_tracked_config {
    char *key;          /* "configmap/<name>" or "secret/<name>" */
    char *checksum;
} cd_tracked_config;

typedef struct cd_condition {
    bool set;
    char type[24];              /* "Promoted", or canaryd's "Accepted" */
    char status[12];            /* True, False, Unknown */
    char reason[24];            /* the phase (Promoted); InvalidSpec, RouterRefused (Accepted) */
    char message[512];
    int64_t last_update_ms, last_transition_ms;
} cd_condition;

/* One entry of status.judge (src/model/judge.h): canaryd's statistical
 * judge, per judged metric. */
typedef struct cd_judge_state cd_judge_state;

/* One entry of status.promotedRevisions (canaryd's extension, kept only
 * when spec.rollbackWindow is set; docs/rollback.md): a revision (target
 * hash, as lastPromotedSpec) and when it was promoted. Newest first. */
#define CD_PROMOTED_MAX 20
typedef struct cd_promoted_revision {
    char revision[CD_HASH_MAX];
    int64_t promoted_ms;
} cd_promoted_revision;

typedef struct cd_canary_status {
    cd_phase phase;
    int canary_weight;
    int failed_checks;
    int iterations;
    char last_applied_spec[CD_HASH_MAX];
    char last_promoted_spec[CD_HASH_MAX];
    int64_t last_transition_ms;         /* 0 = unset */
    bool has_tracked_configs;           /* nil vs empty matters (§2.3) */
    cd_tracked_config *tracked;
    size_t n_tracked;
    cd_condition condition;             /* the Promoted condition */
    cd_condition accepted;              /* Accepted=False while the canary is refused */
    char session_affinity_cookie[CD_COOKIE_MAX];
    char primary_session_affinity_cookie[CD_COOKIE_MAX];
    char previous_session_affinity_cookie[CD_COOKIE_MAX];
    cd_judge_state *judge;              /* status.judge, one per judged metric */
    size_t n_judge;
    cd_promoted_revision promoted[CD_PROMOTED_MAX];   /* status.promotedRevisions */
    size_t n_promoted;
} cd_canary_status;

void cd_status_init(cd_canary_status *s);
void cd_status_free(cd_canary_status *s);
void cd_status_copy(cd_canary_status *dst, const cd_canary_status *src);
void cd_status_set_tracked(cd_canary_status *s, const cd_tracked_config *items, size_t n,
                           bool present);
/* status.judge: the entry of a metric (NULL when none), a new zeroed
 * entry for it, and clearing them all (a new rollout starts). */
cd_judge_state *cd_status_judge_find(cd_canary_status *s, const char *metric);
cd_judge_state *cd_status_judge_add(cd_canary_status *s, const char *metric);
void cd_status_judge_clear(cd_canary_status *s);
/* Equal as persisted (times compared at the 1 s resolution of RFC 3339). */
bool cd_status_equal(const cd_canary_status *a, const cd_canary_status *b);

/* Flagger's Promoted condition for a phase (MakeStatusConditions). kind is
 * the target kind ("Deployment"). Keeps lastTransitionTime when the status
 * value does not change. */
void cd_status_update_condition(cd_canary_status *s, const char *kind, int64_t now_ms);

/* canaryd's Accepted condition: False (reason InvalidSpec or
 * RouterRefused, and why) while the canary is refused; reason NULL removes
 * it. Returns whether it changed. */
bool cd_status_set_refused(cd_canary_status *s, const char *reason, const char *msg,
                           int64_t now_ms);

/* JSON in Kubernetes' shape ({"phase":..,"canaryWeight":..,...}). */
json_t *cd_status_to_json(const cd_canary_status *s);
/* Lenient: unknown keys are ignored, wrong types leave defaults. */
/* s must be initialised (cd_status_init) or hold a status: what it holds is freed first */
void cd_status_from_json(cd_canary_status *s, const json_t *j);

#endif
