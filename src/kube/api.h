/* api.h - typed helpers over the REST client for any resource: get, list
 * (all pages), create, update (with the object's resourceVersion: a stale
 * one is a 409), the status subresource, JSON merge / strategic / JSON
 * patches, delete with propagation and preconditions, read-modify-write
 * with a retry on 409 (client-go's RetryOnConflict), and finalizers added
 * or removed that way. Objects are jansson values; returned ones are new
 * references the caller releases. */
#ifndef CD_KUBE_API_H
#define CD_KUBE_API_H
#include "kube/client.h"
#include "kube/resource.h"

bool cd_kube_get(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const char *name,
                 json_t **out, cd_kube_err *err);

typedef struct cd_kube_list_opts {
    const char *label_selector;
    const char *field_selector;
    int page_size;              /* limit per request; 0: 500 */
    const char *resource_version; /* NULL: the latest (a consistent read) */
    const atomic_bool *stop;    /* abandon the list when set (may be NULL) */
    /* Applied to each item as its page arrives (an informer keeps less of
     * it): returns the new reference *items holds instead (NULL: none). */
    json_t *(*transform)(void *ud, json_t *item);
    void *transform_ud;
} cd_kube_list_opts;

/* Every page of a list. *items: new array; *rv (may be NULL): the list's
 * resourceVersion, malloc'd. ns NULL: all namespaces. A 410 on a later page
 * (the continue token expired) restarts the list once without paging. */
bool cd_kube_list(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                  const cd_kube_list_opts *o, json_t **items, char **rv, cd_kube_err *err);

/* ns NULL: the object's metadata.namespace. apiVersion and kind are filled
 * in when missing. */
bool cd_kube_create(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const json_t *obj,
                    json_t **out, cd_kube_err *err);
bool cd_kube_update(cd_kube_client *c, const cd_kube_resource *r, const json_t *obj, json_t **out,
                    cd_kube_err *err);
bool cd_kube_update_status(cd_kube_client *c, const cd_kube_resource *r, const json_t *obj,
                           json_t **out, cd_kube_err *err);

typedef enum {
    CD_KUBE_MERGE_PATCH,        /* application/merge-patch+json (RFC 7386) */
    CD_KUBE_STRATEGIC_PATCH,    /* application/strategic-merge-patch+json (built-in kinds) */
    CD_KUBE_JSON_PATCH,         /* application/json-patch+json (RFC 6902) */
} cd_kube_patch_type;

/* sub: NULL, "status" or "scale". */
bool cd_kube_patch(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const char *name,
                   cd_kube_patch_type type, const json_t *patch, const char *sub, json_t **out,
                   cd_kube_err *err);

typedef enum { CD_KUBE_PROPAGATE_DEFAULT, CD_KUBE_BACKGROUND, CD_KUBE_FOREGROUND, CD_KUBE_ORPHAN }
    cd_kube_propagation;

typedef struct cd_kube_delete_opts {
    cd_kube_propagation propagation;
    const char *precondition_uid;
    const char *precondition_rv;
} cd_kube_delete_opts;

/* Deleting something already gone reports CD_KR_NOT_FOUND. */
bool cd_kube_delete(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const char *name,
                    const cd_kube_delete_opts *o, cd_kube_err *err);

/* Read-modify-write: mutate gets the current object (a private copy) and
 * returns 1 when it changed it (write it), 0 when nothing is to be done, -1
 * to give up (it fills err). A 409 re-reads and retries, 5 attempts, as
 * client-go's retry.RetryOnConflict(DefaultRetry). status: write through
 * the status subresource. *out (may be NULL) gets the object as stored. */
typedef int (*cd_kube_mutate_fn)(void *ud, json_t *obj, cd_kube_err *err);
bool cd_kube_update_retry(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                          const char *name, bool status, cd_kube_mutate_fn fn, void *ud, json_t **out,
                          cd_kube_err *err);

bool cd_kube_add_finalizer(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                           const char *name, const char *finalizer, cd_kube_err *err);
/* Removing from an object already gone is a success. */
bool cd_kube_remove_finalizer(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                              const char *name, const char *finalizer, cd_kube_err *err);

#endif
