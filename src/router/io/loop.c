/* loop.c - epoll + binary-heap timers. See loop.h. */
#include "router/io/loop.h"
#include "util/grow.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void on_wakefd(rt_loop *l, rt_io *io, uint32_t ev)
{
    uint64_t v;
    while (read(io->fd, &v, sizeof v) > 0)
        ;
    if (l->on_wake)
        l->on_wake(l);
}

int rt_loop_init(rt_loop *l, void *owner)
{
    memset(l, 0, sizeof *l);
    l->owner = owner;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -1;
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0) {
        close(l->epfd);
        return -1;
    }
    l->wake_io.fd = l->wakefd;
    l->wake_io.cb = on_wakefd;
    l->now = cd_mono_ms();
    return rt_loop_add(l, &l->wake_io, EPOLLIN);
}

void rt_loop_fini(rt_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l->heap);
    l->heap = NULL;
    for (uint32_t i = 0; i < l->ndeferred; i++)
        l->deferred[i].fn(l->deferred[i].p);
    free(l->deferred);
    l->deferred = NULL;
    l->epfd = l->wakefd = -1;
}

int rt_loop_add(rt_loop *l, rt_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int rt_loop_mod(rt_loop *l, rt_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void rt_loop_del(rt_loop *l, rt_io *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void rt_loop_wake(rt_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wakefd, &one, sizeof one);
    (void)r;
}

/* ---- timer heap ---- */

static void heap_place(rt_loop *l, uint32_t i, rt_timer *t)
{
    l->heap[i] = t;
    t->idx = i + 1;
}

static void sift_up(rt_loop *l, uint32_t i)
{
    rt_timer *t = l->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (l->heap[p]->at <= t->at)
            break;
        heap_place(l, i, l->heap[p]);
        i = p;
    }
    heap_place(l, i, t);
}

static void sift_down(rt_loop *l, uint32_t i)
{
    rt_timer *t = l->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->at < l->heap[c]->at)
            c++;
        if (l->heap[c]->at >= t->at)
            break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

void rt_timer_set(rt_loop *l, rt_timer *t, int64_t at)
{
    if (t->idx) {
        int64_t old = t->at;
        t->at = at;
        if (at < old)
            sift_up(l, t->idx - 1);
        else if (at > old)
            sift_down(l, t->idx - 1);
        return;
    }
    CD_GROW(l->heap, l->capheap, (size_t)l->nheap + 1, 64);
    t->at = at;
    heap_place(l, l->nheap++, t);
    sift_up(l, l->nheap - 1);
}

void rt_timer_clear(rt_loop *l, rt_timer *t)
{
    if (!t->idx)
        return;
    uint32_t i = t->idx - 1;
    t->idx = 0;
    l->nheap--;
    if (i == l->nheap)
        return;
    rt_timer *last = l->heap[l->nheap];
    heap_place(l, i, last);
    if (i > 0 && l->heap[(i - 1) / 2]->at > last->at)
        sift_up(l, i);
    else
        sift_down(l, i);
}

void rt_loop_defer(rt_loop *l, void (*fn)(void *), void *p)
{
    CD_GROW(l->deferred, l->capdeferred, (size_t)l->ndeferred + 1, 32);
    l->deferred[l->ndeferred].fn = fn;
    l->deferred[l->ndeferred].p = p;
    l->ndeferred++;
}

static void run_deferred(rt_loop *l)
{
    for (uint32_t i = 0; i < l->ndeferred; i++)
        l->deferred[i].fn(l->deferred[i].p);
    l->ndeferred = 0;
}

static void run_timers(rt_loop *l)
{
    while (l->nheap && l->heap[0]->at <= l->now) {
        rt_timer *t = l->heap[0];
        rt_timer_clear(l, t);
        t->cb(l, t);
    }
}

void rt_loop_run_once(rt_loop *l, int max_wait_ms)
{
    struct epoll_event evs[128];
    int wait = max_wait_ms;
    if (l->nheap) {
        int64_t d = l->heap[0]->at - cd_mono_ms();
        if (d < 0)
            d = 0;
        if (wait < 0 || d < wait)
            wait = (int)d;
    }
    int n = epoll_wait(l->epfd, evs, 128, wait);
    l->now = cd_mono_ms();
    for (int i = 0; i < n; i++) {
        rt_io *io = evs[i].data.ptr;
        if (io->fd >= 0)
            io->cb(l, io, evs[i].events);
    }
    run_deferred(l);
    run_timers(l);
    run_deferred(l);
}
