/* load.h - canaryd's native load generator (the load tester's `type: load`
 * task), so no external hey or wrk is needed: HTTP requests at a fixed
 * rate or a fixed concurrency for a duration (or a request count), on
 * libcurl's multi interface with connection reuse; reports what it sent,
 * what failed and the latency distribution. A request fails when it gets
 * no response or a 5xx. Single-threaded; stops early when *stop is set. */
#ifndef CD_LOADTESTER_LOAD_H
#define CD_LOADTESTER_LOAD_H
#include "util/err.h"
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define CD_LOAD_MAX_HEADERS 16
/* A load task's maxErrorRate when its metadata sets none: the share of
 * failed requests Flagger's usual request-success-rate check (min 99)
 * tolerates. */
#define CD_LOAD_DEFAULT_MAX_ERROR_RATE 1.0

struct cd_load_report;

typedef struct cd_load_spec {
    char *url;
    char *method;                   /* default GET */
    char *body;                     /* may be NULL */
    char *headers[CD_LOAD_MAX_HEADERS];   /* "Name: value" */
    size_t n_headers;
    double rate;                    /* requests per second; 0: closed loop at `concurrency` */
    int concurrency;                /* requests in flight at most; default 10 */
    int64_t duration_ms;            /* default 10 s (unless requests is set) */
    int64_t requests;               /* stop after this many; 0: no limit */
    int64_t timeout_ms;             /* per request; default 10 s */
    bool insecure;                  /* skip TLS verification */
    double max_error_rate;          /* percent; the run fails above it (tasks: default 1) */
    /* called every progress_every_ms with the counts so far (NULL: never) */
    void (*progress)(void *ctx, const struct cd_load_report *so_far, double elapsed_s);
    void *progress_ctx;
    int64_t progress_every_ms;
} cd_load_spec;

typedef struct cd_load_report {
    uint64_t sent, succeeded, failed;
    uint64_t by_class[6];           /* [0] no response, [1] 1xx ... [5] 5xx */
    double duration_s, rate;        /* achieved requests per second */
    double mean_ms, p50_ms, p90_ms, p99_ms, max_ms;
    char first_error[256];          /* of a request without a response */
} cd_load_report;

/* Reads a spec from a load tester task's metadata (a JSON object of
 * strings): url, method, body, header.<Name> or headers ("A: 1\nB: 2"),
 * rate ("50" or "50/s"), concurrency, duration, requests, timeout,
 * insecure, maxErrorRate (default CD_LOAD_DEFAULT_MAX_ERROR_RATE). False
 * with err on a bad value. */
bool cd_load_spec_from_metadata(const json_t *metadata, cd_load_spec *s, cd_err *err);
void cd_load_spec_free(cd_load_spec *s);

/* Runs the load; false with err when it could not start (bad URL). */
bool cd_load_run(const cd_load_spec *s, volatile sig_atomic_t *stop, cd_load_report *r,
                 cd_err *err);
/* True when at least one request succeeded and the run's error rate is
 * within max_error_rate. */
bool cd_load_passed(const cd_load_spec *s, const cd_load_report *r);
/* The report as JSON (for the task's answer and logs). New reference. */
json_t *cd_load_report_json(const cd_load_report *r);

#endif
