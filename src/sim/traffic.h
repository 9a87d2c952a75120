/* traffic.h - simulated requests for `canaryctl simulate` and the decision
 * benchmark: a Poisson stream at the scenario's rate, split between the
 * primary and the canary by the router's weights (or copied to the canary
 * when mirrored), each request failing with its side's error rate and
 * taking a log-normal latency. Counter-based random numbers keyed by
 * (seed, second): the requests of second s are the same whatever was
 * asked before, so two rollouts of one scenario (judge and thresholds)
 * see the same requests. Pure and deterministic; no I/O. */
#ifndef CD_SIM_TRAFFIC_H
#define CD_SIM_TRAFFIC_H
#include "sim/scenario.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The weights the router held from at_ms on. */
typedef struct cd_sim_weight {
    int64_t at_ms;
    int canary;             /* percent of requests routed to the canary */
    bool mirrored;          /* the canary also gets a copy of every request */
} cd_sim_weight;

enum { CD_SIDE_PRIMARY = 0, CD_SIDE_CANARY = 1 };

/* The requests of a window: per side, how many, how many failed, and
 * (when asked for) each one's latency in ms. */
typedef struct cd_sim_requests {
    int64_t from_ms, to_ms;
    double total[2], failed[2];
    double *latency[2];
    size_t n_latency[2], cap_latency[2];
    bool with_latency;
} cd_sim_requests;

/* Generates the requests of [from_ms, to_ms) (whole seconds) into *out,
 * reusing out's buffers. weights: the history, in time order. */
void cd_sim_requests_window(const cd_sim_traffic *t, const cd_sim_weight *weights, size_t nw,
                            int64_t from_ms, int64_t to_ms, bool with_latency,
                            cd_sim_requests *out);
/* The primary's requests of [from_ms, to_ms), which may start before 0
 * (traffic.history: all traffic on the primary then): the same requests
 * cd_sim_requests_window generates for those seconds, the canary's left
 * out; with_latency keeps the latencies of an even subset of at most
 * about max_latency of them (0: all). */
void cd_sim_history_window(const cd_sim_traffic *t, const cd_sim_weight *weights, size_t nw,
                           int64_t from_ms, int64_t to_ms, bool with_latency, size_t max_latency,
                           cd_sim_requests *out);
void cd_sim_requests_free(cd_sim_requests *r);

/* Prometheus' histogram_quantile(q) over Envoy's default latency buckets
 * (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, ... ms)
 * of the given latencies: what Flagger's request-duration query returns
 * for an App Mesh service. NaN when there are none. */
double cd_sim_histogram_quantile(const double *latency_ms, size_t n, double q);

/* Random numbers (exported for tests): splitmix64 and Poisson. */
uint64_t cd_sim_rand_next(uint64_t *state);
double cd_sim_rand_uniform(uint64_t *state);           /* in (0, 1) */
double cd_sim_rand_poisson(uint64_t *state, double lambda);

#endif
