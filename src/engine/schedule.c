/* schedule.c - see schedule.h: a binary min-heap of jobs by due time (each
 * job knows its index, so a changed schedule moves it in O(log n)) and two
 * hash tables of counts (namespaces, targets). Never reads a clock, never
 * logs, never frees a job: the platform owns its jobs and its lock. */
#include "engine/schedule.h"
#include "util/hash.h"
#include "util/grow.h"
#include <stdlib.h>
#include <string.h>

struct cd_sched_cell {
    struct cd_sched_cell *next;
    int n;
    char key[];
};

/* ---- counts ------------------------------------------------------------- */

static size_t slot(const cd_sched_table *t, const char *key)
{
    return (size_t)(cd_fnv1a64(key, strlen(key)) % t->nb);
}

static void table_grow(cd_sched_table *t)
{
    size_t nb = t->nb ? t->nb * 2 : 64;
    cd_sched_cell **b = calloc(nb, sizeof *b);
    if (!b)
        abort();
    cd_sched_table nt = {b, nb, t->n};
    for (size_t i = 0; i < t->nb; i++)
        for (cd_sched_cell *c = t->b[i], *next; c; c = next) {
            next = c->next;
            size_t k = slot(&nt, c->key);
            c->next = b[k];
            b[k] = c;
        }
    free(t->b);
    *t = nt;
}

static cd_sched_cell *table_find(const cd_sched_table *t, const char *key)
{
    if (!t->nb)
        return NULL;
    for (cd_sched_cell *c = t->b[slot(t, key)]; c; c = c->next)
        if (!strcmp(c->key, key))
            return c;
    return NULL;
}

static cd_sched_cell *table_get(cd_sched_table *t, const char *key)
{
    cd_sched_cell *c = table_find(t, key);
    if (c)
        return c;
    if (t->n >= t->nb)
        table_grow(t);
    size_t len = strlen(key);
    c = calloc(1, sizeof *c + len + 1);
    if (!c)
        abort();
    memcpy(c->key, key, len + 1);
    size_t k = slot(t, key);
    c->next = t->b[k];
    t->b[k] = c;
    t->n++;
    return c;
}

static void table_free(cd_sched_table *t)
{
    for (size_t i = 0; i < t->nb; i++)
        for (cd_sched_cell *c = t->b[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    free(t->b);
    memset(t, 0, sizeof *t);
}

/* ---- the heap ------------------------------------------------------------ */

static int64_t due_of(const cd_sched_job *j)
{
    int64_t d = INT64_MAX;
    if (j->armed && !j->in_flight && j->kick)
        d = INT64_MIN;
    else if (j->armed && !j->in_flight && j->interval_ms > 0)
        d = j->next_ms;
    if (j->aux_ms && j->aux_ms < d)
        d = j->aux_ms;
    return d;
}

static void put(cd_sched *s, size_t i, cd_sched_job *j)
{
    s->v[i] = j;
    j->heap_i = i;
}

static void up(cd_sched *s, size_t i)
{
    cd_sched_job *j = s->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->v[p]->due_ms <= j->due_ms)
            break;
        put(s, i, s->v[p]);
        i = p;
    }
    put(s, i, j);
}

static void down(cd_sched *s, size_t i)
{
    cd_sched_job *j = s->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n)
            break;
        if (c + 1 < s->n && s->v[c + 1]->due_ms < s->v[c]->due_ms)
            c++;
        if (j->due_ms <= s->v[c]->due_ms)
            break;
        put(s, i, s->v[c]);
        i = c;
    }
    put(s, i, j);
}

static bool in_heap(const cd_sched *s, const cd_sched_job *j)
{
    return j->heap_i != CD_SCHED_NOT_TIMED && j->heap_i < s->n && s->v[j->heap_i] == j;
}

static void heap_remove(cd_sched *s, cd_sched_job *j)
{
    if (!in_heap(s, j))
        return;
    size_t i = j->heap_i;
    j->heap_i = CD_SCHED_NOT_TIMED;
    cd_sched_job *last = s->v[--s->n];
    if (i == s->n)
        return;
    put(s, i, last);
    up(s, i);
    down(s, last->heap_i);
}

/* Puts j where its due time says, or out of the heap if never due. */
static void fix(cd_sched *s, cd_sched_job *j)
{
    int64_t due = due_of(j);
    if (due == INT64_MAX) {
        heap_remove(s, j);
        return;
    }
    j->due_ms = due;
    if (in_heap(s, j)) {
        up(s, j->heap_i);
        down(s, j->heap_i);
        return;
    }
    CD_GROW(s->v, s->cap, s->n + 1, 64);
    put(s, s->n++, j);
    up(s, j->heap_i);
}

/* ---- jobs ------------------------------------------------------------------ */

void cd_sched_init(cd_sched *s, cd_sched_policy policy)
{
    memset(s, 0, sizeof *s);
    s->policy = policy;
}

void cd_sched_free(cd_sched *s)
{
    free(s->v);
    table_free(&s->ns);
    table_free(&s->targets);
    memset(s, 0, sizeof *s);
}

void cd_sched_job_init(cd_sched_job *j)
{
    memset(j, 0, sizeof *j);
    j->heap_i = CD_SCHED_NOT_TIMED;
}

bool cd_sched_arm(cd_sched *s, cd_sched_job *j, const char *ns, int64_t interval_ms,
                  int64_t first_ms)
{
    bool was = j->armed, restart = !was || j->interval_ms != interval_ms;
    if (!was) {
        j->ns = table_get(&s->ns, ns);
        j->ns->n++;
        if (j->target)
            j->target->n++;
        j->armed = true;
    }
    if (restart)
        j->next_ms = first_ms;
    j->interval_ms = interval_ms;
    fix(s, j);
    return was && restart;
}

void cd_sched_disarm(cd_sched *s, cd_sched_job *j)
{
    if (j->armed) {
        j->ns->n--;
        if (j->target)
            j->target->n--;
    }
    j->armed = false;
    j->kick = false;
    j->interval_ms = 0;
    fix(s, j);
}

int cd_sched_set_target(cd_sched *s, cd_sched_job *j, const char *target)
{
    cd_sched_cell *c = target && *target ? table_get(&s->targets, target) : NULL;
    if (c != j->target && j->armed) {
        if (j->target)
            j->target->n--;
        if (c)
            c->n++;
    }
    j->target = c;
    return c ? c->n : 0;
}

void cd_sched_set_aux(cd_sched *s, cd_sched_job *j, int64_t at_ms)
{
    j->aux_ms = at_ms;
    fix(s, j);
}

void cd_sched_kick(cd_sched *s, cd_sched_job *j)
{
    j->kick = true;
    fix(s, j);
}

void cd_sched_forget(cd_sched *s, cd_sched_job *j)
{
    cd_sched_disarm(s, j);
    heap_remove(s, j);
    j->aux_ms = 0;
    j->in_flight = false;
    j->target = NULL;
}

/* ---- time ------------------------------------------------------------------ */

int64_t cd_sched_next_due(const cd_sched *s)
{
    return s->n ? s->v[0]->due_ms : INT64_MAX;
}

static bool tick_due(const cd_sched_job *j, int64_t now)
{
    return j->armed && !j->in_flight && (j->kick || (j->interval_ms > 0 && now >= j->next_ms));
}

cd_sched_job *cd_sched_pop(cd_sched *s, int64_t now, unsigned *what)
{
    *what = 0;
    if (!s->n || s->v[0]->due_ms > now)
        return NULL;
    cd_sched_job *j = s->v[0];
    if (j->aux_ms && now >= j->aux_ms) {
        j->aux_ms = 0;
        *what |= CD_SCHED_AUX;
    }
    if (tick_due(j, now)) {
        *what |= CD_SCHED_TICK;
        j->kick = false;
        if (s->policy.mode == CD_SCHED_FROM_START) {
            j->in_flight = true;
            j->start_ms = now;
        } else if (j->interval_ms > 0 && now >= j->next_ms) {
            /* a job keeps its period; ticks missed while busy are dropped */
            j->next_ms += j->interval_ms;
            if (j->next_ms <= now)
                j->next_ms = now + j->interval_ms;
        }
    }
    fix(s, j);
    return j;
}

void cd_sched_done(cd_sched *s, cd_sched_job *j, int64_t start_ms, bool retry)
{
    if (!j->in_flight)
        return;
    int64_t period = j->interval_ms;
    if (retry && s->policy.retry_ms > 0 && period > s->policy.retry_ms)
        period = s->policy.retry_ms;
    j->in_flight = false;
    j->start_ms = start_ms;
    j->next_ms = start_ms + period;
    fix(s, j);
}

void cd_sched_defer(cd_sched *s, cd_sched_job *j, int64_t at_ms)
{
    j->in_flight = false;
    j->kick = false;
    j->next_ms = at_ms;
    fix(s, j);
}

/* ---- counts ------------------------------------------------------------------ */

int cd_sched_ns_total(const cd_sched *s, const char *ns)
{
    const cd_sched_cell *c = table_find(&s->ns, ns);
    return c ? c->n : 0;
}

void cd_sched_each_ns(const cd_sched *s, void (*fn)(void *ud, const char *ns, int n), void *ud)
{
    for (size_t i = 0; i < s->ns.nb; i++)
        for (const cd_sched_cell *c = s->ns.b[i]; c; c = c->next)
            fn(ud, c->key, c->n);
}

void cd_sched_each_shared(const cd_sched *s, void (*fn)(void *ud, const char *target, int n),
                          void *ud)
{
    for (size_t i = 0; i < s->targets.nb; i++)
        for (const cd_sched_cell *c = s->targets.b[i]; c; c = c->next)
            if (c->n > 1)
                fn(ud, c->key, c->n);
}
