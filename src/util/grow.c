/* grow.c - cd_grow (grow.h): capacity doubling for arrays. No state; must
 * never return a block smaller than asked for. */
#include "util/grow.h"
#include <stdint.h>
#include <stdlib.h>

void *cd_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return p;
    if (elem == 0 || need > SIZE_MAX / elem)
        abort();
    size_t c = *cap ? *cap : (first ? first : 1);
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    if (c > SIZE_MAX / elem)        /* doubling went past what fits: exactly need */
        c = need;
    void *q = realloc(p, c * elem);
    if (!q)
        abort();
    *cap = c;
    return q;
}
