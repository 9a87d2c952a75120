/* weights.c - strategy selection and traffic weight arithmetic (reference
 * §2.4, §2.5, §2.9): pure functions of the spec and the routes in place.
 * Must not call ports or read the clock. Weights always stay within 0-100
 * and sum to 100; the canary weight never exceeds maxWeight. */
#include "engine/engine.h"
#include <string.h>

#define TOTAL_WEIGHT 100
#define KUBERNETES_DEFAULT_ITERATIONS 10

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

const char *cd_engine_provider(const cd_engine_config *cfg, const cd_canary_ref *c)
{
    if (c->provider && *c->provider)
        return c->provider;
    if (c->spec->provider && *c->spec->provider)
        return c->spec->provider;
    return cfg && cfg->mesh_provider ? cfg->mesh_provider : "";
}

static bool is_kubernetes(const char *provider)
{
    return provider && !strcmp(provider, "kubernetes");
}

int cd_engine_iterations(const cd_canary_spec *s, const char *provider)
{
    if (is_kubernetes(provider) && s->analysis.iterations < 1)
        return KUBERNETES_DEFAULT_ITERATIONS;
    return s->analysis.iterations;
}

cd_strategy cd_engine_strategy(const cd_canary_spec *s, const char *provider)
{
    if (is_kubernetes(provider))
        return CD_STRATEGY_BLUE_GREEN;   /* match dropped, iterations forced */
    return cd_canary_strategy(s);
}

int cd_engine_next_step_weight(const cd_analysis *a, int w)
{
    if (a->step_weight > 0 || a->n_step_weights == 0)
        return a->step_weight;
    int max_step = TOTAL_WEIGHT - w;
    if (max_step <= 0)
        return 1;
    int first = a->step_weights[0];
    if (w == 0)
        return first < max_step ? first : max_step;
    for (size_t i = 0; i + 1 < a->n_step_weights; i++) {
        if (a->step_weights[i] == w) {
            int step = a->step_weights[i + 1] - w;
            return step < max_step ? step : max_step;
        }
    }
    return max_step;   /* not on the ladder: straight to 100 (capped by maxWeight) */
}

cd_weights cd_engine_canary_step(const cd_analysis *a, cd_weights now)
{
    int max = clamp(cd_analysis_max_weight(a), 0, TOTAL_WEIGHT);
    int step = cd_engine_next_step_weight(a, now.canary);
    cd_weights next = now;
    int canary;
    if (a->mirror && now.canary == 0) {
        if (!now.mirrored) {
            next.mirrored = true;
            canary = 0;
        } else {
            next.mirrored = false;
            canary = step;
        }
    } else {
        canary = now.canary + step;
    }
    canary = clamp(canary, 0, max);
    next.canary = canary;
    next.primary = TOTAL_WEIGHT - canary;
    return next;
}

cd_weights cd_engine_promotion_step(const cd_analysis *a, cd_weights now, bool *done)
{
    cd_weights next = {TOTAL_WEIGHT, 0, false};
    int step = a->step_weight_promotion;
    /* Flagger stalls in Promoting when the canary weight is already 0; the
     * documented meaning is "shift back to the primary", so finish. */
    if (step <= 0 || now.canary <= 0) {
        *done = true;
        return next;
    }
    int primary = clamp(now.primary, 0, TOTAL_WEIGHT) + step;
    if (primary > TOTAL_WEIGHT)
        primary = TOTAL_WEIGHT;
    next.primary = primary;
    next.canary = TOTAL_WEIGHT - primary;
    *done = primary == TOTAL_WEIGHT;
    return next;
}
