/* arena.h - a bump allocator for objects that live and die together
 * (a decoded manifest, its YAML tree). Freeing the arena frees everything
 * allocated from it; there is no per-allocation free. Not thread-safe: one
 * arena belongs to one owner. */
#ifndef CD_ARENA_H
#define CD_ARENA_H
#include <stddef.h>

typedef struct cd_arena_block cd_arena_block;
typedef struct cd_arena {
    cd_arena_block *head;
    size_t block_size;
    size_t total;          /* bytes handed out, for limits and benchmarks */
} cd_arena;

void  cd_arena_init(cd_arena *a, size_t block_size);
void  cd_arena_free(cd_arena *a);
/* Returns zeroed memory aligned for any type; aborts on out-of-memory. */
void *cd_arena_alloc(cd_arena *a, size_t n);
char *cd_arena_strndup(cd_arena *a, const char *s, size_t n);
char *cd_arena_strdup(cd_arena *a, const char *s);   /* NULL stays NULL */
char *cd_arena_printf(cd_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
