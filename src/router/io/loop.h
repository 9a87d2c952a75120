/* loop.h - one epoll event loop with a timer heap; each router thread
 * (worker or control) owns one. Objects embed an rt_io (an fd and its
 * callback) and rt_timers; the loop never owns or frees them. Not
 * thread-safe: only the owning thread touches a loop, except
 * rt_loop_wake, which any thread may call. */
#ifndef CD_ROUTER_LOOP_H
#define CD_ROUTER_LOOP_H
#include "util/timeutil.h"  /* cd_mono_ms (timers), cd_wall_ms */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rt_loop;

typedef struct rt_io {
    int fd;
    void (*cb)(struct rt_loop *l, struct rt_io *io, uint32_t events);
} rt_io;

typedef struct rt_timer {
    int64_t at;         /* monotonic ms */
    uint32_t idx;       /* position in the heap + 1; 0 = not armed */
    void (*cb)(struct rt_loop *l, struct rt_timer *t);
} rt_timer;

typedef struct rt_loop {
    int epfd;
    int wakefd;             /* eventfd: rt_loop_wake */
    rt_io wake_io;
    void (*on_wake)(struct rt_loop *l);
    rt_timer **heap;
    uint32_t nheap;
    size_t capheap;
    int64_t now;            /* monotonic ms, refreshed each iteration */
    void *owner;
    /* frees deferred to the end of the iteration, so that an event later
     * in the same batch never sees freed memory */
    struct rt_deferred { void (*fn)(void *); void *p; } *deferred;
    uint32_t ndeferred;
    size_t capdeferred;
} rt_loop;

int  rt_loop_init(rt_loop *l, void *owner);
void rt_loop_fini(rt_loop *l);
/* events: EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET ... */
int  rt_loop_add(rt_loop *l, rt_io *io, uint32_t events);
int  rt_loop_mod(rt_loop *l, rt_io *io, uint32_t events);
void rt_loop_del(rt_loop *l, rt_io *io);
/* Waits for events at most max_wait_ms (or until the next timer) and
 * runs their callbacks, then the due timers. */
void rt_loop_run_once(rt_loop *l, int max_wait_ms);
void rt_loop_wake(rt_loop *l);
/* Runs fn(p) after the current batch of events. An object whose fd was
 * closed must set io->fd = -1 before: its pending events are skipped. */
void rt_loop_defer(rt_loop *l, void (*fn)(void *), void *p);

/* Arms (or re-arms) t at monotonic time at. */
void rt_timer_set(rt_loop *l, rt_timer *t, int64_t at);
void rt_timer_clear(rt_loop *l, rt_timer *t);
static inline bool rt_timer_armed(const rt_timer *t) { return t->idx != 0; }


#endif
