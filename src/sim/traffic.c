/* traffic.c - simulated requests (traffic.h). Each second of simulated
 * time has its own random stream, derived from the seed and the second's
 * index only; a request draws, in this order, its routing, its failure and
 * its latency (and, when mirrored, the canary copy's failure and latency),
 * so that the same scenario gives the same requests to any algorithm. */
#include "sim/traffic.h"
#include "judge/stats.h"
#include "util/grow.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t cd_sim_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double cd_sim_rand_uniform(uint64_t *state)
{
    return ((double)(cd_sim_rand_next(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Inversion for small means; Hörmann's PTRS (transformed rejection with
 * squeeze, 1993) for large ones. */
double cd_sim_rand_poisson(uint64_t *state, double lambda)
{
    if (!(lambda > 0))
        return 0;
    if (lambda < 30) {
        double u = cd_sim_rand_uniform(state), p = exp(-lambda), cdf = p, k = 0;
        while (u > cdf && k < 1000) {
            k += 1;
            p *= lambda / k;
            cdf += p;
        }
        return k;
    }
    double slam = sqrt(lambda), loglam = log(lambda);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = cd_sim_rand_uniform(state) - 0.5, v = cd_sim_rand_uniform(state);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + lambda + 0.43);
        if (us >= 0.07 && v <= vr)
            return k;
        if (k < 0 || (us < 0.013 && v > us))
            continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= -lambda + k * loglam - lgamma(k + 1))
            return k;
    }
}

static uint64_t second_seed(uint64_t seed, int64_t second)
{
    uint64_t s = seed * 0xd1b54a32d192ed03ull ^ ((uint64_t)second * 0x8cb92ba72f3d8dd7ull);
    return cd_sim_rand_next(&s);
}

static double rate_at(const cd_sim_traffic *t, int64_t ms)
{
    const cd_sim_step *s = cd_sim_series_at(&t->rate, ms);
    if (!s && t->rate.n)
        s = &t->rate.steps[0];
    return s ? s->value : 0;
}

static const cd_sim_weight *weight_at(const cd_sim_weight *w, size_t n, int64_t ms)
{
    const cd_sim_weight *found = NULL;
    size_t lo = 0, hi = n;   /* last change at or before ms */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w[mid].at_ms <= ms) {
            found = &w[mid];
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return found;
}

/* sigma of the log-normal with this median and 99th percentile */
static double sigma_of(const cd_sim_profile *p)
{
    return log(p->p99_ms / p->median_ms) / 2.3263478740408408;
}

static void push_latency(cd_sim_requests *r, int side, double ms)
{
    CD_GROW(r->latency[side], r->cap_latency[side], r->n_latency[side] + 1, 1024);
    r->latency[side][r->n_latency[side]++] = ms;
}

static void one_request(cd_sim_requests *r, int side, const cd_sim_profile *p, double u_fail,
                        double u_latency)
{
    r->total[side] += 1;
    if (u_fail < p->error_rate)
        r->failed[side] += 1;
    if (r->with_latency)
        push_latency(r, side, p->median_ms * exp(sigma_of(p) * cd_norm_quantile(u_latency)));
}

void cd_sim_requests_window(const cd_sim_traffic *t, const cd_sim_weight *weights, size_t nw,
                            int64_t from_ms, int64_t to_ms, bool with_latency,
                            cd_sim_requests *out)
{
    out->from_ms = from_ms;
    out->to_ms = to_ms;
    out->with_latency = with_latency;
    for (int s = 0; s < 2; s++) {
        out->total[s] = out->failed[s] = 0;
        out->n_latency[s] = 0;
    }
    int64_t first = from_ms >= 0 ? from_ms / 1000 : 0, last = to_ms / 1000;
    for (int64_t sec = first; sec < last; sec++) {
        int64_t at = sec * 1000;
        const cd_sim_weight *w = weight_at(weights, nw, at);
        int canary_w = w ? w->canary : 0;
        bool mirrored = w && w->mirrored;
        const cd_sim_profile *pp = cd_sim_profile_at(t->primary, t->n_primary, at);
        const cd_sim_profile *cp = cd_sim_profile_at(t->canary, t->n_canary, at);
        if (!pp || !cp)
            continue;
        uint64_t rng = second_seed(t->seed, sec);
        double k = cd_sim_rand_poisson(&rng, rate_at(t, at));
        for (double i = 0; i < k; i += 1) {
            double u_route = cd_sim_rand_uniform(&rng), u_fail = cd_sim_rand_uniform(&rng);
            double u_latency = cd_sim_rand_uniform(&rng);
            double u_fail2 = cd_sim_rand_uniform(&rng), u_latency2 = cd_sim_rand_uniform(&rng);
            bool to_canary = u_route * 100.0 < (double)canary_w;
            /* the same draws for whichever side serves the request: a
             * healthy canary behaves exactly like the primary would */
            one_request(out, to_canary ? CD_SIDE_CANARY : CD_SIDE_PRIMARY, to_canary ? cp : pp,
                        u_fail, u_latency);
            if (mirrored && !to_canary)
                one_request(out, CD_SIDE_CANARY, cp, u_fail2, u_latency2);
        }
    }
}

void cd_sim_history_window(const cd_sim_traffic *t, const cd_sim_weight *weights, size_t nw,
                           int64_t from_ms, int64_t to_ms, bool with_latency, size_t max_latency,
                           cd_sim_requests *out)
{
    out->from_ms = from_ms;
    out->to_ms = to_ms;
    out->with_latency = with_latency;
    for (int s = 0; s < 2; s++) {
        out->total[s] = out->failed[s] = 0;
        out->n_latency[s] = 0;
    }
    int64_t first = from_ms >= 0 ? from_ms / 1000 : -((-from_ms + 999) / 1000);
    int64_t last = to_ms >= 0 ? to_ms / 1000 : -((-to_ms + 999) / 1000);
    /* keep every k-th latency: at most max_latency of the expected requests */
    double expected = 0;
    for (int64_t sec = first; with_latency && sec < last; sec += 60)
        expected += rate_at(t, sec * 1000) * (double)(last - sec < 60 ? last - sec : 60);
    double every = max_latency && expected > (double)max_latency ? ceil(expected / (double)max_latency)
                                                                 : 1;
    double seen = 0;
    for (int64_t sec = first; sec < last; sec++) {
        int64_t at = sec * 1000;
        const cd_sim_weight *w = weight_at(weights, nw, at);
        int canary_w = w ? w->canary : 0;
        const cd_sim_profile *pp = cd_sim_profile_at(t->primary, t->n_primary, at);
        if (!pp)
            continue;
        uint64_t rng = second_seed(t->seed, sec);
        double k = cd_sim_rand_poisson(&rng, rate_at(t, at));
        for (double i = 0; i < k; i += 1) {
            double u_route = cd_sim_rand_uniform(&rng), u_fail = cd_sim_rand_uniform(&rng);
            double u_latency = cd_sim_rand_uniform(&rng);
            cd_sim_rand_next(&rng);   /* the mirrored copy's draws, as in requests_window */
            cd_sim_rand_next(&rng);
            if (u_route * 100.0 < (double)canary_w)
                continue;   /* the canary's: not the primary's history */
            out->total[CD_SIDE_PRIMARY] += 1;
            if (u_fail < pp->error_rate)
                out->failed[CD_SIDE_PRIMARY] += 1;
            if (with_latency && fmod(seen++, every) == 0)
                push_latency(out, CD_SIDE_PRIMARY,
                             pp->median_ms * exp(sigma_of(pp) * cd_norm_quantile(u_latency)));
        }
    }
}

void cd_sim_requests_free(cd_sim_requests *r)
{
    for (int s = 0; s < 2; s++) {
        free(r->latency[s]);
        r->latency[s] = NULL;
        r->n_latency[s] = r->cap_latency[s] = 0;
    }
}

double cd_sim_histogram_quantile(const double *lat, size_t n, double q)
{
    static const double le[] = {0.5,   1,     5,     10,     25,     50,      100,     250,
                                500,   1000,  2500,  5000,   10000,  30000,   60000,   300000,
                                600000, 1800000, 3600000};
    enum { NB = sizeof le / sizeof le[0] };
    if (n == 0)
        return NAN;
    double counts[NB + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        while (b < NB && lat[i] > le[b])
            b++;
        counts[b] += 1;
    }
    double rank = q * (double)n, cum = 0;
    for (size_t b = 0; b < NB; b++) {
        if (cum + counts[b] >= rank && counts[b] > 0) {
            double lower = b ? le[b - 1] : 0;
            return lower + (le[b] - lower) * (rank - cum) / counts[b];
        }
        cum += counts[b];
    }
    return le[NB - 1];   /* in the +Inf bucket: the largest finite bound, as Prometheus */
}
