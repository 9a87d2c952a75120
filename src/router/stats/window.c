/* window.c - per-second measurement rings and reservoirs. See window.h. */
#include "router/stats/window.h"
#include <stdlib.h>
#include <string.h>

void rt_window_init(rt_window *w, uint32_t seconds, uint32_t reservoir)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    w->nslots = seconds ? seconds : 1;
    w->res_cap = reservoir;
}

void rt_window_fini(rt_window *w)
{
    if (w->slots)
        for (uint32_t i = 0; i < w->nslots; i++)
            free(w->slots[i].b);
    free(w->slots);
    free(w->res);
    pthread_mutex_destroy(&w->mu);
    memset(w, 0, sizeof *w);
}

void rt_win_acc_fini(rt_win_acc *acc)
{
    free(acc->hist);
    acc->hist = NULL;
}

static unsigned status_class(unsigned status)
{
    unsigned c = status / 100;
    return c >= 1 && c <= 5 ? c : 0;
}

bool rt_win_acc_record(rt_win_acc *acc, int64_t wall_ms, uint32_t latency_us, unsigned status)
{
    int64_t sec = wall_ms / 1000;
    if (acc->count && acc->sec != sec)
        return true;
    if (acc->npend == RT_WIN_PENDING)
        return true;
    if (!acc->hist) {
        acc->hist = calloc(RT_LH_N, sizeof *acc->hist);
        if (!acc->hist)
            abort();
    }
    acc->sec = sec;
    acc->count++;
    acc->cls[status_class(status)]++;
    acc->sum_us += latency_us;
    if (latency_us > acc->max_us)
        acc->max_us = latency_us;
    acc->hist[rt_lh_index(latency_us)]++;
    acc->pend[acc->npend++] = (rt_sample){wall_ms, latency_us, (uint16_t)status, 0};
    return false;
}

static void merge_hist_into_slot(rt_win_slot *s, const uint32_t *hist)
{
    uint32_t nnz = 0;
    for (uint32_t i = 0; i < RT_LH_N; i++)
        nnz += hist[i] != 0;
    if (!nnz)
        return;
    rt_lh_pair *out = malloc((s->nb + nnz) * sizeof *out);
    if (!out)
        abort();
    uint32_t n = 0, j = 0;
    for (uint32_t i = 0; i < RT_LH_N; i++) {
        while (j < s->nb && s->b[j].i < i)
            out[n++] = s->b[j++];
        uint32_t add = hist[i];
        if (j < s->nb && s->b[j].i == i)
            add += s->b[j++].n;
        if (add)
            out[n++] = (rt_lh_pair){(uint16_t)i, add};
    }
    while (j < s->nb)
        out[n++] = s->b[j++];
    free(s->b);
    s->b = out;
    s->nb = (uint16_t)n;
}

static void flush_counts(rt_window *w, rt_win_acc *acc)
{
    if (!w->slots) {
        w->slots = calloc(w->nslots, sizeof *w->slots);
        if (!w->slots)
            abort();
    }
    rt_win_slot *s = &w->slots[(uint64_t)acc->sec % w->nslots];
    if (s->sec != acc->sec) {
        free(s->b);
        memset(s, 0, sizeof *s);
        s->sec = acc->sec;
    }
    for (int i = 0; i < 6; i++)
        s->cls[i] += acc->cls[i];
    s->sum_us += acc->sum_us;
    if (acc->max_us > s->max_us)
        s->max_us = acc->max_us;
    merge_hist_into_slot(s, acc->hist);
}

static void flush_samples(rt_window *w, rt_win_acc *acc)
{
    if (!w->res_cap || !acc->npend)
        return;
    if (!w->res) {
        w->res = malloc((size_t)w->res_cap * sizeof *w->res);
        if (!w->res)
            abort();
    }
    for (uint32_t i = 0; i < acc->npend; i++) {
        w->res[w->res_head] = acc->pend[i];
        w->res_head = (w->res_head + 1) % w->res_cap;
        if (w->res_n < w->res_cap)
            w->res_n++;
    }
}

void rt_window_flush(rt_window *w, rt_win_acc *acc)
{
    if (!acc->count)
        return;
    pthread_mutex_lock(&w->mu);
    flush_counts(w, acc);
    flush_samples(w, acc);
    pthread_mutex_unlock(&w->mu);
    acc->count = 0;
    acc->npend = 0;
    memset(acc->cls, 0, sizeof acc->cls);
    acc->sum_us = 0;
    acc->max_us = 0;
    memset(acc->hist, 0, RT_LH_N * sizeof *acc->hist);
}

void rt_window_measure(rt_window *w, int64_t now_sec, uint32_t seconds, rt_measure *m)
{
    if (seconds == 0)
        seconds = 1;
    if (seconds > w->nslots)
        seconds = w->nslots;
    m->from_sec = now_sec - seconds + 1;
    m->to_sec = now_sec;
    pthread_mutex_lock(&w->mu);
    for (uint32_t k = 0; w->slots && k < w->nslots; k++) {
        const rt_win_slot *s = &w->slots[k];
        if (s->sec < m->from_sec || s->sec > m->to_sec)
            continue;
        for (int i = 0; i < 6; i++) {
            m->cls[i] += s->cls[i];
            m->requests += s->cls[i];
        }
        m->sum_us += s->sum_us;
        if (s->max_us > m->max_us)
            m->max_us = s->max_us;
        for (uint16_t j = 0; j < s->nb; j++)
            m->hist[s->b[j].i] += s->b[j].n;
    }
    pthread_mutex_unlock(&w->mu);
}

static int by_time(const void *a, const void *b)
{
    const rt_sample *x = a, *y = b;
    return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

size_t rt_window_samples(rt_window *w, int64_t since_ms, size_t max, rt_sample **out)
{
    *out = NULL;
    pthread_mutex_lock(&w->mu);
    size_t n = 0;
    if (w->res && w->res_n && max) {
        size_t cap = w->res_n < max ? w->res_n : max;
        rt_sample *v = malloc(cap * sizeof *v);
        if (!v)
            abort();
        /* newest first (keeps the most recent `max`), then by time */
        for (uint32_t k = 0; k < w->res_n && n < cap; k++) {
            uint32_t idx = (w->res_head + w->res_cap - 1 - k) % w->res_cap;
            if (w->res[idx].ts_ms < since_ms)
                continue;
            v[n++] = w->res[idx];
        }
        qsort(v, n, sizeof *v, by_time);
        *out = v;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}
