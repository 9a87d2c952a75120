/* informer.h - a list+watch cache of one resource (cluster-wide or one
 * namespace, optionally filtered by label and field selectors), kept on its
 * own thread as client-go's informers are: list every page, then watch
 * from the list's resourceVersion with bookmarks; a watch that ends is
 * resumed from the last resourceVersion seen (event or bookmark); a
 * dropped connection or a failing server is retried with exponential
 * backoff; a 410 Expired (ERROR event or HTTP status) relists, reporting
 * what changed meanwhile. Change callbacks run on the informer's thread
 * after the cache is updated, without any lock held. Objects handed to
 * handlers are borrowed for the call; get and list return fresh copies
 * (the cache keeps each object as its compact JSON text). With
 * strip_managed_fields, cached objects (and those handed to the handlers)
 * lack metadata.managedFields, as controller-runtime's
 * TransformStripManagedFields does: most of a small object's size, and
 * read by no controller. */
#ifndef CD_KUBE_INFORMER_H
#define CD_KUBE_INFORMER_H
#include "kube/client.h"
#include "kube/resource.h"
#include <stddef.h>
#include <stdint.h>

typedef struct cd_informer cd_informer;

typedef struct cd_informer_handlers {
    void (*on_add)(void *ud, const json_t *obj);
    /* Also called every resync period with old == new. */
    void (*on_update)(void *ud, const json_t *old_obj, const json_t *new_obj);
    void (*on_delete)(void *ud, const json_t *last_state);
    void *ud;
} cd_informer_handlers;

typedef struct cd_informer_opts {
    const cd_kube_resource *resource;
    const char *namespace;      /* NULL: all namespaces */
    const char *label_selector;
    const char *field_selector;
    int resync_ms;              /* 0: no periodic resync (Flagger uses 30 s) */
    int page_size;              /* 0: 500 */
    int watch_timeout_s;        /* 0: random in [300, 600) s, as client-go */
    int backoff_initial_ms;     /* 0: 800 */
    int backoff_max_ms;         /* 0: 30000 */
    bool strip_managed_fields;
} cd_informer_opts;

typedef struct cd_informer_stats {
    uint64_t lists;             /* full lists (the first one included) */
    uint64_t relists_expired;   /* lists caused by 410 Expired */
    uint64_t watches;           /* watch requests */
    uint64_t events;            /* ADDED/MODIFIED/DELETED applied */
    uint64_t bookmarks;
    uint64_t errors;            /* failed lists or watches */
} cd_informer_stats;

/* Strings in o are copied; h is copied. */
cd_informer *cd_informer_new(cd_kube_client *c, const cd_informer_opts *o,
                             const cd_informer_handlers *h);
bool cd_informer_start(cd_informer *inf);
/* Stops the thread (an open watch is abandoned within 100 ms) and waits
 * for it; callbacks are not called after this returns. */
void cd_informer_stop(cd_informer *inf);
void cd_informer_free(cd_informer *inf);

bool cd_informer_synced(cd_informer *inf);
bool cd_informer_wait_synced(cd_informer *inf, int timeout_ms);

/* A new copy of the cached object, or NULL. ns NULL for cluster-scoped. */
json_t *cd_informer_get(cd_informer *inf, const char *ns, const char *name);
/* New array of every cached object (sorted by namespace/name). */
json_t *cd_informer_list(cd_informer *inf);
size_t cd_informer_size(cd_informer *inf);
/* The last resourceVersion seen (malloc'd), or NULL before the first list. */
char *cd_informer_resource_version(cd_informer *inf);
void cd_informer_get_stats(cd_informer *inf, cd_informer_stats *out);

#endif
