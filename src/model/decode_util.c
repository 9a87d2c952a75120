/* decode_util.c - see decode_util.h. */
#include "model/decode_util.h"
#include <math.h>
#include <stdarg.h>
#include <string.h>

void cd_dec_init(cd_dec *d, cd_arena *a, const char *file, cd_diags *diags)
{
    memset(d, 0, sizeof *d);
    d->a = a;
    cd_arena_init(&d->tmp, 4096);
    d->file = file;
    d->diags = diags;
}

void cd_dec_done(cd_dec *d) { cd_arena_free(&d->tmp); }

void cd_dec_error(cd_dec *d, const cd_node *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(d->diags, CD_DIAG_ERROR, d->file, at ? at->line : 0, at ? at->col : 0, path,
                  fmt, ap);
    va_end(ap);
}

void cd_dec_warn(cd_dec *d, const cd_node *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(d->diags, CD_DIAG_WARNING, d->file, at ? at->line : 0, at ? at->col : 0, path,
                  fmt, ap);
    va_end(ap);
}

const char *cd_dec_path(cd_dec *d, const char *base, const char *key)
{
    return cd_path_key(&d->tmp, base, key);
}

const char *cd_dec_str(cd_dec *d, const cd_node *map, const char *key)
{
    const cd_node *n = cd_map_get(map, key);
    if (!n || n->type != CD_N_STR)
        return NULL;
    return cd_arena_strndup(d->a, n->str, n->len);
}

bool cd_dec_bool(const cd_node *map, const char *key)
{
    const cd_node *n = cd_map_get(map, key);
    return n && n->type == CD_N_BOOL && n->v.b;
}

bool cd_dec_num(const cd_node *map, const char *key, double *out)
{
    const cd_node *n = cd_map_get(map, key);
    if (!n)
        return false;
    if (n->type == CD_N_INT) {
        *out = (double)n->v.i;
        return true;
    }
    if (n->type == CD_N_FLOAT && isfinite(n->v.f)) {
        *out = n->v.f;
        return true;
    }
    return false;
}

bool cd_dec_int(cd_dec *d, const cd_node *map, const char *key, const char *path, int64_t *out)
{
    const cd_node *n = cd_map_get(map, key);
    if (!n)
        return false;
    if (n->type == CD_N_INT) {
        if (n->v.i > INT32_MAX || n->v.i < INT32_MIN) {
            cd_dec_error(d, n, cd_dec_path(d, path, key), "%s does not fit in a 32-bit integer",
                         n->str);
            return false;
        }
        *out = n->v.i;
        return true;
    }
    if (n->type == CD_N_FLOAT && isfinite(n->v.f)) {
        if (n->v.f != floor(n->v.f) || fabs(n->v.f) > 2147483647.0) {
            cd_dec_error(d, n, cd_dec_path(d, path, key), "must be a whole number, got %s", n->str);
            return false;
        }
        *out = (int64_t)n->v.f;
        return true;
    }
    return false;
}

int cd_dec_int_or(cd_dec *d, const cd_node *map, const char *key, const char *path, int def)
{
    int64_t v;
    return cd_dec_int(d, map, key, path, &v) ? (int)v : def;
}

void cd_dec_strmap(cd_dec *d, const cd_node *n, cd_strmap *out)
{
    memset(out, 0, sizeof *out);
    if (!n || n->type != CD_N_MAP || n->npairs == 0)
        return;
    out->items = cd_arena_alloc(d->a, n->npairs * sizeof *out->items);
    for (size_t i = 0; i < n->npairs; i++) {
        const cd_node *v = n->pairs[i].value;
        if (!cd_node_is_scalar(v) || v->type == CD_N_NULL)
            continue;
        out->items[out->n].key = cd_arena_strndup(d->a, n->pairs[i].key->str, n->pairs[i].key->len);
        out->items[out->n].value = cd_arena_strndup(d->a, v->str, v->len);
        out->n++;
    }
}

void cd_dec_strlist(cd_dec *d, const cd_node *n, cd_strlist *out)
{
    memset(out, 0, sizeof *out);
    if (!n || n->type != CD_N_SEQ || n->nitems == 0)
        return;
    out->items = cd_arena_alloc(d->a, n->nitems * sizeof *out->items);
    for (size_t i = 0; i < n->nitems; i++)
        if (cd_node_is_scalar(n->items[i]) && n->items[i]->type != CD_N_NULL)
            out->items[out->n++] = cd_arena_strndup(d->a, n->items[i]->str, n->items[i]->len);
}

void cd_dec_string_match(cd_dec *d, const cd_node *n, cd_string_match *out)
{
    memset(out, 0, sizeof *out);
    if (!n || n->type != CD_N_MAP)
        return;
    out->exact = cd_dec_str(d, n, "exact");
    out->prefix = cd_dec_str(d, n, "prefix");
    out->suffix = cd_dec_str(d, n, "suffix");
    out->regex = cd_dec_str(d, n, "regex");
}

void cd_dec_named_matches(cd_dec *d, const cd_node *n, cd_named_matches *out)
{
    memset(out, 0, sizeof *out);
    if (!n || n->type != CD_N_MAP || n->npairs == 0)
        return;
    out->items = cd_arena_alloc(d->a, n->npairs * sizeof *out->items);
    for (size_t i = 0; i < n->npairs; i++) {
        cd_named_match *m = &out->items[out->n++];
        m->name = cd_arena_strndup(d->a, n->pairs[i].key->str, n->pairs[i].key->len);
        cd_dec_string_match(d, n->pairs[i].value, &m->match);
    }
}

static bool dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '.')
            return false;
        /* each dot-separated label starts and ends with a letter or digit */
        bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        if (edge && !alnum)
            return false;
    }
    return true;
}

static bool dns_label(const char *s)
{
    return strlen(s) <= 63 && dns_subdomain(s) && !strchr(s, '.');
}

void cd_dec_meta(cd_dec *d, const cd_node *root, const char *default_ns, cd_object_meta *out)
{
    memset(out, 0, sizeof *out);
    const cd_node *meta = cd_map_get(root, "metadata");
    if (!meta || meta->type == CD_N_NULL) {
        cd_dec_error(d, root, "metadata", "required field is missing");
        return;
    }
    if (meta->type != CD_N_MAP) {
        cd_dec_error(d, meta, "metadata", "must be an object");
        return;
    }
    const cd_node *name = cd_map_get(meta, "name");
    if (!name || name->type == CD_N_NULL)
        cd_dec_error(d, name ? name : meta, "metadata.name", "required field is missing");
    else if (name->type != CD_N_STR)
        cd_dec_error(d, name, "metadata.name", "must be a string");
    else if (!dns_subdomain(name->str))
        cd_dec_error(d, name, "metadata.name",
                     "\"%s\" is not a valid name: use lowercase letters, digits, '-' and '.', "
                     "starting and ending with a letter or digit, at most 253 characters",
                     name->str);
    out->name = cd_dec_str(d, meta, "name");
    const cd_node *ns = cd_map_get(meta, "namespace");
    if (ns && ns->type != CD_N_NULL) {
        if (ns->type != CD_N_STR)
            cd_dec_error(d, ns, "metadata.namespace", "must be a string%s",
                         ns->type == CD_N_MAP || ns->type == CD_N_SEQ ? "" : " (quote it)");
        else if (!dns_label(ns->str))
            cd_dec_error(d, ns, "metadata.namespace",
                         "\"%s\" is not a valid namespace: use lowercase letters, digits and '-', "
                         "at most 63 characters", ns->str);
        out->namespace_ = cd_dec_str(d, meta, "namespace");
    }
    if (!out->namespace_)
        out->namespace_ = cd_arena_strdup(d->a, default_ns ? default_ns : "default");
    out->uid = cd_dec_str(d, meta, "uid");
    out->resource_version = cd_dec_str(d, meta, "resourceVersion");
    int64_t g;
    if (cd_dec_int(d, meta, "generation", "metadata", &g))
        out->generation = g;
    static const char *const maps[] = {"labels", "annotations"};
    for (int i = 0; i < 2; i++) {
        const cd_node *m = cd_map_get(meta, maps[i]);
        if (!m || m->type == CD_N_NULL)
            continue;
        const char *path = cd_dec_path(d, "metadata", maps[i]);
        if (m->type != CD_N_MAP) {
            cd_dec_error(d, m, path, "must be an object");
            continue;
        }
        for (size_t k = 0; k < m->npairs; k++)
            if (m->pairs[k].value->type != CD_N_STR)
                cd_dec_error(d, m->pairs[k].value, cd_dec_path(d, path, m->pairs[k].key->str),
                             "must be a string (quote it), got %s", m->pairs[k].value->str);
        cd_dec_strmap(d, m, i == 0 ? &out->labels : &out->annotations);
    }
}

const cd_node *cd_dec_copy_node(cd_dec *d, const cd_node *n)
{
    if (!n)
        return NULL;
    cd_node *c = cd_arena_alloc(d->a, sizeof *c);
    *c = *n;
    c->aux = NULL;
    c->str = cd_arena_strndup(d->a, n->str, n->len);
    if (n->type == CD_N_MAP && n->npairs) {
        c->pairs = cd_arena_alloc(d->a, n->npairs * sizeof *c->pairs);
        for (size_t i = 0; i < n->npairs; i++) {
            c->pairs[i].key = (cd_node *)cd_dec_copy_node(d, n->pairs[i].key);
            c->pairs[i].value = (cd_node *)cd_dec_copy_node(d, n->pairs[i].value);
        }
    }
    if (n->type == CD_N_SEQ && n->nitems) {
        c->items = cd_arena_alloc(d->a, n->nitems * sizeof *c->items);
        for (size_t i = 0; i < n->nitems; i++)
            c->items[i] = (cd_node *)cd_dec_copy_node(d, n->items[i]);
    }
    return c;
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *cd_strmap_json(const cd_strmap *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < m->n; i++)
        json_object_set_new(o, m->items[i].key, json_string(m->items[i].value));
    return o;
}

json_t *cd_strlist_json(const cd_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

void cd_json_set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

json_t *cd_string_match_json(const cd_string_match *m)
{
    json_t *o = json_object();
    cd_json_set_str(o, "exact", m->exact);
    cd_json_set_str(o, "prefix", m->prefix);
    cd_json_set_str(o, "suffix", m->suffix);
    cd_json_set_str(o, "regex", m->regex);
    return o;
}

json_t *cd_named_matches_json(const cd_named_matches *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < m->n; i++)
        json_object_set_new(o, m->items[i].name, cd_string_match_json(&m->items[i].match));
    return o;
}

json_t *cd_meta_json(const cd_object_meta *m)
{
    json_t *o = json_object();
    cd_json_set_str(o, "name", m->name);
    cd_json_set_str(o, "namespace", m->namespace_);
    if (m->labels.n)
        json_object_set_new(o, "labels", cd_strmap_json(&m->labels));
    if (m->annotations.n)
        json_object_set_new(o, "annotations", cd_strmap_json(&m->annotations));
    return o;
}
