/* kobj.c - see kobj.h. Pure; no I/O. */
#include "kube/kobj.h"
#include <stdio.h>
#include <string.h>

static const char *meta_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), key));
    return s && *s ? s : NULL;
}

const char *cd_kobj_name(const json_t *o) { return meta_str(o, "name"); }
const char *cd_kobj_namespace(const json_t *o) { return meta_str(o, "namespace"); }
const char *cd_kobj_uid(const json_t *o) { return meta_str(o, "uid"); }
const char *cd_kobj_resource_version(const json_t *o) { return meta_str(o, "resourceVersion"); }

const char *cd_kobj_kind(const json_t *o)
{
    const char *s = json_string_value(json_object_get(o, "kind"));
    return s && *s ? s : NULL;
}

const char *cd_kobj_api_version(const json_t *o)
{
    const char *s = json_string_value(json_object_get(o, "apiVersion"));
    return s && *s ? s : NULL;
}

int64_t cd_kobj_generation(const json_t *o)
{
    json_t *g = json_object_get(json_object_get(o, "metadata"), "generation");
    return json_is_integer(g) ? json_integer_value(g) : 0;
}

bool cd_kobj_is_deleting(const json_t *o) { return meta_str(o, "deletionTimestamp") != NULL; }

const char *cd_kobj_key(const json_t *o, char *out, size_t outlen)
{
    const char *ns = cd_kobj_namespace(o), *name = cd_kobj_name(o);
    if (ns)
        snprintf(out, outlen, "%s/%s", ns, name ? name : "");
    else
        snprintf(out, outlen, "%s", name ? name : "");
    return out;
}

json_t *cd_kobj_path(const json_t *o, const char *dotted)
{
    char part[256];
    const char *p = dotted;
    json_t *cur = (json_t *)o;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof part)
            return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        cur = json_object_get(cur, part);
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

static json_t *meta_map(json_t *o, const char *key, bool create)
{
    json_t *md = json_object_get(o, "metadata");
    if (!json_is_object(md)) {
        if (!create || !json_is_object(o))
            return NULL;
        md = json_object();
        json_object_set_new(o, "metadata", md);
    }
    json_t *m = json_object_get(md, key);
    if (!json_is_object(m)) {
        if (!create)
            return NULL;
        m = json_object();
        json_object_set_new(md, key, m);
    }
    return m;
}

static const char *map_get(const json_t *o, const char *map, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), map), key));
}

static bool map_set(json_t *o, const char *map, const char *key, const char *value)
{
    if (!json_is_object(o) || !key)
        return false;
    if (!value) {
        json_t *m = meta_map(o, map, false);
        return m && json_object_del(m, key) == 0;
    }
    json_t *m = meta_map(o, map, true);
    const char *cur = json_string_value(json_object_get(m, key));
    if (cur && !strcmp(cur, value))
        return false;
    json_object_set_new(m, key, json_string(value));
    return true;
}

const char *cd_kobj_label(const json_t *o, const char *key) { return map_get(o, "labels", key); }
const char *cd_kobj_annotation(const json_t *o, const char *key) { return map_get(o, "annotations", key); }
bool cd_kobj_set_label(json_t *o, const char *key, const char *v) { return map_set(o, "labels", key, v); }
bool cd_kobj_set_annotation(json_t *o, const char *key, const char *v)
{
    return map_set(o, "annotations", key, v);
}

static json_t *meta_array(const json_t *o, const char *key)
{
    json_t *a = json_object_get(json_object_get(o, "metadata"), key);
    return json_is_array(a) ? a : NULL;
}

bool cd_kobj_has_finalizer(const json_t *o, const char *name)
{
    json_t *a = meta_array(o, "finalizers");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), name))
            return true;
    }
    return false;
}

bool cd_kobj_add_finalizer(json_t *o, const char *name)
{
    if (!json_is_object(o) || !name || cd_kobj_has_finalizer(o, name))
        return false;
    json_t *md = json_object_get(o, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(o, "metadata", md);
    }
    json_t *a = json_object_get(md, "finalizers");
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(md, "finalizers", a);
    }
    json_array_append_new(a, json_string(name));
    return true;
}

bool cd_kobj_remove_finalizer(json_t *o, const char *name)
{
    json_t *a = meta_array(o, "finalizers");
    bool changed = false;
    for (size_t i = 0; a && i < json_array_size(a);) {
        json_t *v = json_array_get(a, i);
        if (json_is_string(v) && !strcmp(json_string_value(v), name)) {
            json_array_remove(a, i);
            changed = true;
        } else {
            i++;
        }
    }
    if (a && json_array_size(a) == 0)
        json_object_del(json_object_get(o, "metadata"), "finalizers");
    return changed;
}

json_t *cd_kobj_owner_ref(const json_t *owner, bool controller, bool block)
{
    const char *av = cd_kobj_api_version(owner), *kind = cd_kobj_kind(owner);
    const char *name = cd_kobj_name(owner), *uid = cd_kobj_uid(owner);
    if (!av || !kind || !name || !uid)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", av, "kind", kind, "name", name,
                     "uid", uid, "controller", controller, "blockOwnerDeletion", block);
}

static bool is_true(const json_t *ref, const char *key)
{
    return json_is_true(json_object_get(ref, key));
}

bool cd_kobj_set_owner_ref(json_t *o, const json_t *ref, bool *changed)
{
    if (changed)
        *changed = false;
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    if (!json_is_object(o) || !uid)
        return false;
    json_t *md = json_object_get(o, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(o, "metadata", md);
    }
    json_t *a = json_object_get(md, "ownerReferences");
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(md, "ownerReferences", a);
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *vu = json_string_value(json_object_get(v, "uid"));
        if (is_true(ref, "controller") && is_true(v, "controller") && vu && strcmp(vu, uid))
            return false;   /* one controller only */
    }
    json_array_foreach(a, i, v) {
        const char *vu = json_string_value(json_object_get(v, "uid"));
        if (vu && !strcmp(vu, uid)) {
            if (json_equal(v, (json_t *)ref))
                return true;
            json_array_set_new(a, i, json_deep_copy(ref));
            if (changed)
                *changed = true;
            return true;
        }
    }
    json_array_append_new(a, json_deep_copy(ref));
    if (changed)
        *changed = true;
    return true;
}

bool cd_kobj_remove_owner_ref(json_t *o, const char *uid)
{
    json_t *a = meta_array(o, "ownerReferences");
    bool changed = false;
    for (size_t i = 0; a && uid && i < json_array_size(a);) {
        const char *vu = json_string_value(json_object_get(json_array_get(a, i), "uid"));
        if (vu && !strcmp(vu, uid)) {
            json_array_remove(a, i);
            changed = true;
        } else {
            i++;
        }
    }
    if (a && json_array_size(a) == 0)
        json_object_del(json_object_get(o, "metadata"), "ownerReferences");
    return changed;
}

const json_t *cd_kobj_controller_ref(const json_t *o)
{
    json_t *a = meta_array(o, "ownerReferences");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (is_true(v, "controller"))
            return v;
    }
    return NULL;
}

bool cd_kobj_is_controlled_by(const json_t *o, const json_t *owner)
{
    const json_t *ref = cd_kobj_controller_ref(o);
    const char *uid = cd_kobj_uid(owner);
    const char *ru = json_string_value(json_object_get(ref, "uid"));
    return ref && uid && ru && !strcmp(uid, ru);
}

const json_t *cd_kobj_condition(const json_t *o, const char *type)
{
    json_t *a = json_object_get(json_object_get(o, "status"), "conditions");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *t = json_string_value(json_object_get(v, "type"));
        if (t && !strcmp(t, type))
            return v;
    }
    return NULL;
}

const char *cd_kobj_condition_status(const json_t *o, const char *type)
{
    return json_string_value(json_object_get(cd_kobj_condition(o, type), "status"));
}
