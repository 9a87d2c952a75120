/* kjson.h - small helpers for building and reading Kubernetes objects held
 * as jansson values: get-or-create children, typed reads along dotted
 * paths, deep copies that tolerate NULL, and C maps/lists to JSON. Pure:
 * no I/O, no global state. */
#ifndef CD_KUBE_KJSON_H
#define CD_KUBE_KJSON_H
#include "model/canary.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* o[key] as an object, created (replacing a non-object) when missing. */
json_t *kj_obj(json_t *o, const char *key);
/* o[key] as an array, created when missing. */
json_t *kj_arr(json_t *o, const char *key);

/* Reads along a dotted path ("spec.template.spec"); NULL/default when a
 * step is missing or of another type. */
json_t *kj_at(const json_t *o, const char *dotted);
const char *kj_str(const json_t *o, const char *dotted);
int64_t kj_int(const json_t *o, const char *dotted, int64_t def);
bool kj_has(const json_t *o, const char *dotted);

/* Deep copy; NULL stays NULL. */
json_t *kj_copy(const json_t *v);
/* o[key] = deep copy of v, or removes key when v is NULL. */
void kj_set_copy(json_t *o, const char *key, const json_t *v);
/* o[key] = string, or removes key when s is NULL. */
void kj_set_str(json_t *o, const char *key, const char *s);
/* NULL-tolerant equality (NULL equals NULL and an absent value). */
bool kj_equal(const json_t *a, const json_t *b);

/* {"k":"v"} of a cd_strmap (never NULL). */
json_t *kj_strmap(const cd_strmap *m);
/* A string -> string JSON object with the same keys and values. */
bool kj_is_string_map(const json_t *o);

/* Whether s starts with prefix. */
bool kj_prefix(const char *s, const char *prefix);

#endif
