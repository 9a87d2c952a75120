/* timers.c - see operator.h: a binary min-heap of cdk_entry by due time,
 * each entry knowing its index so that a changed schedule moves it in
 * O(log n). Holds pointers only: it never allocates entries nor frees
 * them, and an entry must be taken out before it is freed. */
#include "kube/operator/operator.h"
#include <stdint.h>
#include <stdlib.h>

int64_t cdk_entry_due(const cdk_entry *e)
{
    int64_t d = INT64_MAX;
    if (e->stored && !e->deleted && e->interval_ms > 0)
        d = e->next_ms;
    if (e->sync_at_ms && !e->deleted && e->sync_at_ms < d)
        d = e->sync_at_ms;
    return d;
}

static void put(cdk_timers *t, size_t i, cdk_entry *e)
{
    t->v[i] = e;
    e->heap_i = i;
}

static void up(cdk_timers *t, size_t i)
{
    cdk_entry *e = t->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (t->v[p]->due_ms <= e->due_ms)
            break;
        put(t, i, t->v[p]);
        i = p;
    }
    put(t, i, e);
}

static void down(cdk_timers *t, size_t i)
{
    cdk_entry *e = t->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && t->v[c + 1]->due_ms < t->v[c]->due_ms)
            c++;
        if (e->due_ms <= t->v[c]->due_ms)
            break;
        put(t, i, t->v[c]);
        i = c;
    }
    put(t, i, e);
}

void cdk_timers_remove(cdk_timers *t, cdk_entry *e)
{
    size_t i = e->heap_i;
    if (i == CDK_NOT_TIMED || i >= t->n || t->v[i] != e)
        return;
    e->heap_i = CDK_NOT_TIMED;
    cdk_entry *last = t->v[--t->n];
    if (i == t->n)
        return;
    put(t, i, last);
    up(t, i);
    down(t, last->heap_i);
}

void cdk_timers_fix(cdk_timers *t, cdk_entry *e)
{
    int64_t due = cdk_entry_due(e);
    if (due == INT64_MAX) {
        cdk_timers_remove(t, e);
        return;
    }
    e->due_ms = due;
    if (e->heap_i != CDK_NOT_TIMED && e->heap_i < t->n && t->v[e->heap_i] == e) {
        up(t, e->heap_i);
        down(t, e->heap_i);
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        cdk_entry **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            abort();
        t->v = v;
        t->cap = cap;
    }
    put(t, t->n++, e);
    up(t, e->heap_i);
}

cdk_entry *cdk_timers_top(const cdk_timers *t)
{
    return t->n ? t->v[0] : NULL;
}

void cdk_timers_free(cdk_timers *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
