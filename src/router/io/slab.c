/* slab.c - see slab.h. */
#include "router/io/slab.h"
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    rt_slab_chunk *chunk;
    struct slot *next_free;
} slot;

struct rt_slab_chunk {
    rt_slab_chunk *prev, *next;
    slot *free;
    uint32_t used;
    uint32_t pad;
    max_align_t objs[];
};

#define HDR (((sizeof(slot) + 15) / 16) * 16)

static void unlink_chunk(rt_slab_chunk **list, rt_slab_chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void push_chunk(rt_slab_chunk **list, rt_slab_chunk *c)
{
    c->prev = NULL;
    c->next = *list;
    if (*list)
        (*list)->prev = c;
    *list = c;
}

void rt_slab_init(rt_slab *s, size_t objsize, uint32_t per_chunk)
{
    memset(s, 0, sizeof *s);
    s->objsize = HDR + ((objsize + 15) / 16) * 16;
    s->per_chunk = per_chunk ? per_chunk : 1;
}

static rt_slab_chunk *new_chunk(rt_slab *s)
{
    rt_slab_chunk *c = malloc(sizeof *c + s->objsize * s->per_chunk);
    if (!c)
        abort();
    c->prev = c->next = NULL;
    c->used = 0;
    c->free = NULL;
    char *base = (char *)c->objs;
    for (uint32_t i = s->per_chunk; i-- > 0;) {
        slot *sl = (slot *)(base + (size_t)i * s->objsize);
        sl->chunk = c;
        sl->next_free = c->free;
        c->free = sl;
    }
    s->chunks++;
    return c;
}

void *rt_slab_alloc(rt_slab *s)
{
    rt_slab_chunk *c = s->partial;
    if (!c) {
        if (s->spare) {
            c = s->spare;
            unlink_chunk(&s->spare, c);
            s->nspare--;
        } else {
            c = new_chunk(s);
        }
        push_chunk(&s->partial, c);
    }
    slot *sl = c->free;
    c->free = sl->next_free;
    c->used++;
    if (!c->free) {
        unlink_chunk(&s->partial, c);
        push_chunk(&s->full, c);
    }
    s->live++;
    void *p = (char *)sl + HDR;
    memset(p, 0, s->objsize - HDR);
    return p;
}

void rt_slab_free(rt_slab *s, void *p)
{
    if (!p)
        return;
    slot *sl = (slot *)((char *)p - HDR);
    rt_slab_chunk *c = sl->chunk;
    if (!c->free) {
        unlink_chunk(&s->full, c);
        push_chunk(&s->partial, c);
    }
    sl->next_free = c->free;
    c->free = sl;
    c->used--;
    s->live--;
    if (c->used == 0) {
        unlink_chunk(&s->partial, c);
        push_chunk(&s->spare, c);
        s->nspare++;
    }
}

void rt_slab_trim(rt_slab *s, size_t keep)
{
    while (s->nspare > keep) {
        rt_slab_chunk *c = s->spare;
        unlink_chunk(&s->spare, c);
        s->nspare--;
        free(c);
        s->chunks--;
    }
}

void rt_slab_fini(rt_slab *s)
{
    rt_slab_chunk *lists[3] = {s->partial, s->full, s->spare};
    for (int i = 0; i < 3; i++)
        while (lists[i]) {
            rt_slab_chunk *n = lists[i]->next;
            free(lists[i]);
            lists[i] = n;
        }
    memset(s, 0, sizeof *s);
}
