/* canary.c - small pure functions over the Canary model (names of enums,
 * Flagger's derived values). No I/O, no allocation. */
#include "model/canary.h"
#include <string.h>

const char *cd_strmap_get(const cd_strmap *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].key, key))
            return m->items[i].value;
    return NULL;
}

static const char *const hook_names[] = {
    "rollout", "confirm-rollout", "pre-rollout", "confirm-promotion",
    "post-rollout", "event", "rollback", "confirm-traffic-increase",
};

const char *cd_hook_type_name(cd_hook_type t)
{
    return (unsigned)t < sizeof hook_names / sizeof hook_names[0] ? hook_names[t] : "rollout";
}

bool cd_hook_type_parse(const char *s, cd_hook_type *t)
{
    if (!s || !*s) {
        *t = CD_HOOK_ROLLOUT;
        return true;
    }
    for (size_t i = 0; i < sizeof hook_names / sizeof hook_names[0]; i++) {
        if (!strcmp(s, hook_names[i])) {
            *t = (cd_hook_type)i;
            return true;
        }
    }
    return false;
}

const char *cd_severity_name(cd_severity s)
{
    switch (s) {
    case CD_SEV_WARN: return "warn";
    case CD_SEV_ERROR: return "error";
    default: return "info";
    }
}

const char *cd_strategy_name(cd_strategy s)
{
    switch (s) {
    case CD_STRATEGY_BLUE_GREEN: return "blue-green";
    case CD_STRATEGY_AB_TESTING: return "ab-testing";
    default: return "canary";
    }
}

cd_strategy cd_canary_strategy(const cd_canary_spec *s)
{
    if (s->analysis.n_match > 0 && s->analysis.iterations > 0)
        return CD_STRATEGY_AB_TESTING;
    if (s->analysis.iterations > 0)
        return CD_STRATEGY_BLUE_GREEN;
    return CD_STRATEGY_CANARY;
}

int cd_analysis_max_weight(const cd_analysis *a)
{
    if (a->n_step_weights > 0) {
        int last = a->step_weights[a->n_step_weights - 1];
        return last < 100 ? last : 100;
    }
    return a->max_weight_raw > 0 ? a->max_weight_raw : 100;
}

const char *cd_canary_service_name(const cd_canary_spec *s)
{
    return s->service.name && *s->service.name ? s->service.name : s->target_ref.name;
}

bool cd_metric_is_builtin(const cd_metric *m)
{
    return m->name && (!strcmp(m->name, "request-success-rate") ||
                       !strcmp(m->name, "request-duration"));
}
