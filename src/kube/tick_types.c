/* tick_types.c - frees the plain data of tick_types.h. Nothing else. */
#include "kube/tick_types.h"
#include <stdlib.h>
#include <string.h>

void cdk_config_refs_free(cdk_config_refs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].name);
    free(r->items);
    memset(r, 0, sizeof *r);
}
