/* window.h - windowed measurements of one route's backend group: a ring
 * of per-second slots (request counts by status class and a log-linear
 * latency histogram) covering at least 15 minutes, and a bounded
 * reservoir of the most recent requests (timestamp, latency, status).
 * Workers accumulate the current second privately (rt_win_acc) and merge
 * it under the window's mutex when the second changes or the pending
 * samples fill up: the data path never takes a lock per request.
 * Queries answer "success rate and latency quantiles over the last W
 * seconds" from whole seconds. */
#ifndef CD_ROUTER_WINDOW_H
#define CD_ROUTER_WINDOW_H
#include "router/stats/hist.h"
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_sample {
    int64_t ts_ms;          /* wall clock, when the response completed */
    uint32_t latency_us;
    uint16_t status;
    uint16_t pad;
} rt_sample;

typedef struct rt_lh_pair { uint16_t i; uint32_t n; } rt_lh_pair;

typedef struct rt_win_slot {
    int64_t sec;
    uint32_t cls[6];        /* [0] unused/other, [1..5] = 1xx..5xx */
    uint64_t sum_us;
    uint32_t max_us;
    uint16_t nb;
    rt_lh_pair *b;          /* sparse histogram, sorted by index */
} rt_win_slot;

#define RT_WIN_PENDING 128

/* One worker's private accumulator for one window. */
typedef struct rt_win_acc {
    int64_t sec;
    uint32_t count;
    uint32_t cls[6];
    uint64_t sum_us;
    uint32_t max_us;
    uint32_t *hist;         /* RT_LH_N counters, allocated on first use */
    uint32_t npend;
    rt_sample pend[RT_WIN_PENDING];
    bool dirty;             /* on the worker's flush list */
} rt_win_acc;

typedef struct rt_window {
    pthread_mutex_t mu;
    uint32_t nslots;        /* seconds kept */
    rt_win_slot *slots;     /* allocated on first flush */
    uint32_t res_cap, res_n, res_head;
    rt_sample *res;         /* reservoir, allocated on first flush */
} rt_window;

void rt_window_init(rt_window *w, uint32_t seconds, uint32_t reservoir);
void rt_window_fini(rt_window *w);

/* Worker side: record one request into acc; returns true when acc must be
 * flushed first (the second changed or the pending samples are full) -
 * the caller then calls rt_window_flush and records again. */
bool rt_win_acc_record(rt_win_acc *acc, int64_t wall_ms, uint32_t latency_us, unsigned status);
void rt_window_flush(rt_window *w, rt_win_acc *acc);
void rt_win_acc_fini(rt_win_acc *acc);

typedef struct rt_measure {
    int64_t from_sec, to_sec;       /* inclusive range of seconds covered */
    uint64_t requests;
    uint64_t cls[6];
    uint64_t sum_us;
    uint32_t max_us;
    uint64_t *hist;                 /* RT_LH_N counts (caller's storage) */
} rt_measure;

/* Sums the seconds [now_sec - seconds + 1, now_sec] into m (m->hist must
 * point to RT_LH_N zeroed counters). */
void rt_window_measure(rt_window *w, int64_t now_sec, uint32_t seconds, rt_measure *m);
/* Copies up to max samples newer than since_ms (oldest first) into a
 * malloc'd array; returns the count. */
size_t rt_window_samples(rt_window *w, int64_t since_ms, size_t max, rt_sample **out);

#endif
