/* kobj.h - reading and editing Kubernetes objects held as jansson values:
 * metadata accessors, labels, annotations, finalizers, ownerReferences and
 * conditions. Pure functions on json_t; "set" functions create the maps
 * and arrays they need and report whether anything changed, so callers
 * know when a write is due. Never does I/O. */
#ifndef CD_KUBE_KOBJ_H
#define CD_KUBE_KOBJ_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* metadata.* ("" never: NULL when absent). */
const char *cd_kobj_name(const json_t *o);
const char *cd_kobj_namespace(const json_t *o);
const char *cd_kobj_uid(const json_t *o);
const char *cd_kobj_resource_version(const json_t *o);
const char *cd_kobj_kind(const json_t *o);
const char *cd_kobj_api_version(const json_t *o);
int64_t cd_kobj_generation(const json_t *o);          /* 0 when absent */
bool cd_kobj_is_deleting(const json_t *o);            /* deletionTimestamp set */
/* "namespace/name" or "name" (cluster-scoped): the cache key. out >= 512. */
const char *cd_kobj_key(const json_t *o, char *out, size_t outlen);

/* Walks a dotted path of object keys ("spec.template.metadata"). */
json_t *cd_kobj_path(const json_t *o, const char *dotted);

const char *cd_kobj_label(const json_t *o, const char *key);
const char *cd_kobj_annotation(const json_t *o, const char *key);
/* value NULL removes the key. Returns true when the object changed. */
bool cd_kobj_set_label(json_t *o, const char *key, const char *value);
bool cd_kobj_set_annotation(json_t *o, const char *key, const char *value);

bool cd_kobj_has_finalizer(const json_t *o, const char *name);
bool cd_kobj_add_finalizer(json_t *o, const char *name);
bool cd_kobj_remove_finalizer(json_t *o, const char *name);

/* {apiVersion, kind, name, uid, controller, blockOwnerDeletion} pointing
 * at owner (which needs apiVersion, kind, name and uid), or NULL. */
json_t *cd_kobj_owner_ref(const json_t *owner, bool controller, bool block_owner_deletion);
/* Adds ref to metadata.ownerReferences, replacing one with the same uid.
 * Refuses (false) a second controller reference to another owner. */
bool cd_kobj_set_owner_ref(json_t *o, const json_t *ref, bool *changed);
bool cd_kobj_remove_owner_ref(json_t *o, const char *uid);
/* The ownerReference marked controller: true, or NULL. */
const json_t *cd_kobj_controller_ref(const json_t *o);
bool cd_kobj_is_controlled_by(const json_t *o, const json_t *owner);

/* status.conditions[type=...] or NULL; and the condition's status
 * ("True", "False", "Unknown") or NULL. */
const json_t *cd_kobj_condition(const json_t *o, const char *type);
const char *cd_kobj_condition_status(const json_t *o, const char *type);

#endif
