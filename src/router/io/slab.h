/* slab.h - fixed-size object pools for one worker's connections and
 * exchanges: objects live in chunks of their own (never between other
 * allocations), freed objects are reused first, and chunks that became
 * empty are returned to the system by rt_slab_trim (called once a second,
 * so that a steady load does not allocate and free chunks). So a burst of
 * connections leaves no holes pinning memory. Not thread-safe: one slab
 * per worker. */
#ifndef CD_ROUTER_SLAB_H
#define CD_ROUTER_SLAB_H
#include <stddef.h>
#include <stdint.h>

typedef struct rt_slab_chunk rt_slab_chunk;

typedef struct rt_slab {
    size_t objsize;         /* including the slot header */
    uint32_t per_chunk;
    rt_slab_chunk *partial; /* chunks with free slots */
    rt_slab_chunk *full;
    rt_slab_chunk *spare;   /* empty chunks */
    size_t nspare;
    size_t live, chunks;
} rt_slab;

void rt_slab_init(rt_slab *s, size_t objsize, uint32_t per_chunk);
/* Zeroed object; aborts on out-of-memory. */
void *rt_slab_alloc(rt_slab *s);
void rt_slab_free(rt_slab *s, void *p);
/* Frees empty chunks beyond keep. */
void rt_slab_trim(rt_slab *s, size_t keep);
/* Frees every chunk (all objects must have been freed). */
void rt_slab_fini(rt_slab *s);

#endif
