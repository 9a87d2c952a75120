/* kjson.c - helpers over jansson values for Kubernetes objects (see
 * kjson.h). Pure. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include <stdint.h>
#include <string.h>

json_t *kj_obj(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_object(v))
        return v;
    v = json_object();
    json_object_set_new(o, key, v);
    return v;
}

json_t *kj_arr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_array(v))
        return v;
    v = json_array();
    json_object_set_new(o, key, v);
    return v;
}

json_t *kj_at(const json_t *o, const char *dotted) { return cd_kobj_path(o, dotted); }

const char *kj_str(const json_t *o, const char *dotted)
{
    return json_string_value(kj_at(o, dotted));
}

int64_t kj_int(const json_t *o, const char *dotted, int64_t def)
{
    json_t *v = kj_at(o, dotted);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v)) {
        /* a real beyond int64 (1e300) saturates: converting it is undefined */
        double d = json_real_value(v);
        if (d != d)
            return def;
        if (d >= 9223372036854775807.0)
            return INT64_MAX;
        if (d <= -9223372036854775807.0)
            return INT64_MIN;
        return (int64_t)d;
    }
    return def;
}

bool kj_has(const json_t *o, const char *dotted)
{
    json_t *v = kj_at(o, dotted);
    return v && !json_is_null(v);
}

json_t *kj_copy(const json_t *v) { return v ? json_deep_copy(v) : NULL; }

void kj_set_copy(json_t *o, const char *key, const json_t *v)
{
    if (v && !json_is_null(v))
        json_object_set_new(o, key, json_deep_copy(v));
    else
        json_object_del(o, key);
}

void kj_set_str(json_t *o, const char *key, const char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
    else
        json_object_del(o, key);
}

bool kj_equal(const json_t *a, const json_t *b)
{
    if (a && json_is_null(a))
        a = NULL;
    if (b && json_is_null(b))
        b = NULL;
    if (!a || !b)
        return a == b;
    return json_equal((json_t *)a, (json_t *)b);
}

json_t *kj_strmap(const cd_strmap *m)
{
    json_t *o = json_object();
    for (size_t i = 0; m && i < m->n; i++)
        if (m->items[i].key && m->items[i].value)
            json_object_set_new(o, m->items[i].key, json_string(m->items[i].value));
    return o;
}

bool kj_is_string_map(const json_t *o)
{
    if (!json_is_object(o))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

bool kj_prefix(const char *s, const char *prefix)
{
    return s && prefix && !strncmp(s, prefix, strlen(prefix));
}
