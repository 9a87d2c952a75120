/* arena.c - bump allocator; see arena.h. Must not be used for objects that
 * need individual frees. */
#include "util/arena.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cd_arena_block {
    cd_arena_block *next;
    size_t cap, used;
    max_align_t data[];
};

void cd_arena_init(cd_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 4096;
    a->total = 0;
}

void cd_arena_free(cd_arena *a)
{
    cd_arena_block *b = a->head;
    while (b) {
        cd_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *cd_arena_alloc(cd_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    cd_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > a->block_size ? n : a->block_size;
        b = malloc(sizeof(*b) + cap);
        if (!b) {
            fprintf(stderr, "canaryd: out of memory\n");
            abort();
        }
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *cd_arena_strndup(cd_arena *a, const char *s, size_t n)
{
    char *p = cd_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cd_arena_strdup(cd_arena *a, const char *s)
{
    return s ? cd_arena_strndup(a, s, strlen(s)) : NULL;
}

char *cd_arena_printf(cd_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = cd_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
