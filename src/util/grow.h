/* grow.h - the one way canaryd grows an array: capacity doubling with
 * overflow checks, instead of a hand-written realloc loop per array. For
 * arrays of any element type; not for byte buffers (util/buf.h). */
#ifndef CD_GROW_H
#define CD_GROW_H
#include <stddef.h>

/* Returns p reallocated to hold at least need elements of elem bytes when
 * need > *cap (p itself otherwise; nothing is allocated for need 0). The
 * new capacity doubles from *cap, or from first (at least 1) when *cap is
 * 0, until it holds need; *cap is updated. Aborts when out of memory or
 * when need * elem does not fit in size_t, as every caller did by hand. */
void *cd_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first);

/* arr = room for need elements of *arr; cap is a size_t lvalue. */
#define CD_GROW(arr, cap, need, first) \
    ((arr) = cd_grow((arr), &(cap), (need), sizeof *(arr), (first)))

#endif
