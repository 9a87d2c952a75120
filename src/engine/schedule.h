/* schedule.h - when each canary ticks, shared by `canaryd kube`, `canaryd
 * local` and their tests: due times in a min-heap, one tick in flight per
 * canary, the platform's re-arming policy as data, a timer of the
 * platform's own per job (kube's sync retry), canaries per namespace
 * (flagger_canary_total) and per target (Flagger's "more than one canary
 * with the same target"). Pure data on a clock the caller passes in: no
 * I/O, no clock reading, no locking (the caller holds its own lock), no
 * logging. See docs/design.md, "One scheduler". */
#ifndef CD_ENGINE_SCHEDULE_H
#define CD_ENGINE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a job's next tick is found. */
typedef enum {
    /* kube (Flagger's job ticker): the next tick is a period after the
     * last due time, whatever the tick took; ticks missed while one was
     * running are dropped. The platform coalesces a tick due while one
     * runs (the job stays in the heap). */
    CD_SCHED_FIXED_PERIOD,
    /* local: a job is out of the heap while its tick runs, and comes back
     * a period after the tick started (retry_ms after, if the tick asks
     * for a retry and the period is longer). */
    CD_SCHED_FROM_START,
} cd_sched_mode;

typedef struct cd_sched_policy {
    cd_sched_mode mode;
    int64_t retry_ms;           /* CD_SCHED_FROM_START: the next tick after a retry; 0: none */
} cd_sched_policy;

typedef struct cd_sched_cell cd_sched_cell;   /* a namespace or target and its count */

/* One canary's schedule, embedded in the platform's own record (the
 * scheduler holds pointers to it: cd_sched_forget before freeing it). */
typedef struct cd_sched_job {
    int64_t interval_ms;        /* period; 0: no tick */
    int64_t next_ms;            /* the next tick's due time */
    int64_t aux_ms;             /* the platform's own timer; 0: none */
    int64_t start_ms;           /* the tick in flight started then */
    int64_t due_ms;             /* its key in the heap */
    size_t heap_i;              /* its place there; CD_SCHED_NOT_TIMED: absent */
    bool armed;                 /* counted, and ticks at its period */
    bool in_flight;             /* CD_SCHED_FROM_START: a tick runs */
    bool kick;                  /* tick at once (or right after the one in flight) */
    cd_sched_cell *ns, *target;
} cd_sched_job;

#define CD_SCHED_NOT_TIMED ((size_t)-1)

typedef struct cd_sched_table {
    cd_sched_cell **b;
    size_t nb, n;
} cd_sched_table;

typedef struct cd_sched {
    cd_sched_policy policy;
    cd_sched_job **v;           /* the heap, by due_ms */
    size_t n, cap;
    cd_sched_table ns, targets;
} cd_sched;

/* What came due (cd_sched_pop). */
enum { CD_SCHED_TICK = 1, CD_SCHED_AUX = 2 };

void cd_sched_init(cd_sched *s, cd_sched_policy policy);
void cd_sched_free(cd_sched *s);
void cd_sched_job_init(cd_sched_job *j);

/* Arms j in namespace ns (counted there from now on) with a period. A
 * job not armed yet, or armed with another period, ticks first at
 * first_ms; true then if it was armed already (a restarted job). */
bool cd_sched_arm(cd_sched *s, cd_sched_job *j, const char *ns, int64_t interval_ms,
                  int64_t first_ms);
/* No more ticks, no longer counted; its own timer stays. */
void cd_sched_disarm(cd_sched *s, cd_sched_job *j);
/* The target j drives ("name.namespace"; NULL or "": none); returns how
 * many armed jobs share it now (j counted if armed). */
int cd_sched_set_target(cd_sched *s, cd_sched_job *j, const char *target);
/* The platform's own timer at at_ms (0: none). */
void cd_sched_set_aux(cd_sched *s, cd_sched_job *j, int64_t at_ms);
/* A tick at once, or right after the one in flight. */
void cd_sched_kick(cd_sched *s, cd_sched_job *j);
/* Takes j out of everything; call before freeing it. */
void cd_sched_forget(cd_sched *s, cd_sched_job *j);

/* The earliest due time (INT64_MAX: none). */
int64_t cd_sched_next_due(const cd_sched *s);
/* A job due at now (earliest first) with *what (CD_SCHED_TICK and/or
 * CD_SCHED_AUX), or NULL. The aux timer is cleared; a tick re-arms by the
 * policy: CD_SCHED_FIXED_PERIOD moves the next tick a period on,
 * CD_SCHED_FROM_START puts the job in flight until cd_sched_done. */
cd_sched_job *cd_sched_pop(cd_sched *s, int64_t now, unsigned *what);
/* CD_SCHED_FROM_START: the tick that started at start_ms is over; the
 * next one comes a period (or the retry delay) after it. */
void cd_sched_done(cd_sched *s, cd_sched_job *j, int64_t start_ms, bool retry);
/* Not in flight; the next tick at at_ms (INT64_MAX: only when kicked). */
void cd_sched_defer(cd_sched *s, cd_sched_job *j, int64_t at_ms);

/* Armed jobs in namespace ns, in O(1). */
int cd_sched_ns_total(const cd_sched *s, const char *ns);
/* Every namespace ever armed with its count (0 once all left). */
void cd_sched_each_ns(const cd_sched *s, void (*fn)(void *ud, const char *ns, int n), void *ud);
/* Every target that more than one armed job shares. */
void cd_sched_each_shared(const cd_sched *s, void (*fn)(void *ud, const char *target, int n),
                          void *ud);

#endif
