/* api.c - see api.h. All network access goes through cd_kube_request. */
#include "kube/api.h"
#include "kube/decode.h"
#include "kube/kobj.h"
#include "util/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool bad_path(cd_kube_err *err, const char *what, const char *ns, const char *name)
{
    return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: invalid namespace or name (\"%s\", \"%s\")", what,
                        ns ? ns : "", name ? name : "");
}

bool cd_kube_get(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const char *name,
                 json_t **out, cd_kube_err *err)
{
    *out = NULL;
    char *path = cd_kube_path(r, ns, name, NULL, NULL, 0);
    if (!path)
        return bad_path(err, "get", ns, name);
    bool ok = cd_kube_request(c, "GET", path, NULL, NULL, out, err);
    free(path);
    return ok;
}

static bool list_pages(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                       const cd_kube_list_opts *o, int limit, json_t **items, char **rv,
                       cd_kube_err *err)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    char *cont = NULL;
    json_t *all = json_array();
    char *last_rv = NULL;
    for (;;) {
        cd_kube_param p[] = {{"labelSelector", o->label_selector},
                             {"fieldSelector", o->field_selector},
                             {"limit", limit > 0 ? lim : NULL},
                             {"continue", cont},
                             {"resourceVersion", cont ? NULL : o->resource_version}};
        char *path = cd_kube_path(r, ns, NULL, NULL, p, 5);
        if (!path) {
            free(cont);
            json_decref(all);
            free(last_rv);
            return bad_path(err, "list", ns, NULL);
        }
        json_t *page = NULL;
        bool ok = cd_kube_request_stop(c, "GET", path, NULL, NULL, o->stop, &page, err);
        free(path);
        json_t *its = NULL;
        char *prv = NULL, *next = NULL;
        if (ok)
            ok = cd_kube_list_from_json(page, &its, &prv, &next, err);
        json_decref(page);
        free(cont);
        cont = NULL;
        if (!ok) {
            json_decref(all);
            free(last_rv);
            return false;
        }
        if (o->transform) {
            size_t i;
            json_t *v;
            json_array_foreach(its, i, v) {
                json_t *t = o->transform(o->transform_ud, v);
                if (t)
                    json_array_append_new(all, t);
            }
        } else {
            json_array_extend(all, its);
        }
        json_decref(its);
        free(last_rv);
        last_rv = prv;
        if (!next)
            break;
        cont = next;
    }
    *items = all;
    if (rv)
        *rv = last_rv;
    else
        free(last_rv);
    return true;
}

bool cd_kube_list(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                  const cd_kube_list_opts *o, json_t **items, char **rv, cd_kube_err *err)
{
    cd_kube_list_opts none = {0};
    if (!o)
        o = &none;
    *items = NULL;
    if (rv)
        *rv = NULL;
    int limit = o->page_size > 0 ? o->page_size : 500;
    if (list_pages(c, r, ns, o, limit, items, rv, err))
        return true;
    if (!cd_kube_is_expired(err))
        return false;
    return list_pages(c, r, ns, o, 0, items, rv, err);    /* the continue token expired */
}

static json_t *with_type(const cd_kube_resource *r, const json_t *obj)
{
    json_t *o = json_deep_copy(obj);
    char av[128];
    if (!json_is_string(json_object_get(o, "apiVersion")))
        json_object_set_new(o, "apiVersion", json_string(cd_kube_api_version(r, av)));
    if (!json_is_string(json_object_get(o, "kind")))
        json_object_set_new(o, "kind", json_string(r->kind));
    return o;
}

bool cd_kube_create(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const json_t *obj,
                    json_t **out, cd_kube_err *err)
{
    if (out)
        *out = NULL;
    if (!json_is_object(obj))
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "create %s: not an object", r->kind);
    if (!ns)
        ns = cd_kobj_namespace(obj);
    char *path = cd_kube_path(r, r->namespaced ? ns : NULL, NULL, NULL, NULL, 0);
    if (!path || (r->namespaced && !ns)) {
        free(path);
        return bad_path(err, "create", ns, cd_kobj_name(obj));
    }
    json_t *o = with_type(r, obj);
    bool ok = cd_kube_request(c, "POST", path, NULL, o, out, err);
    json_decref(o);
    free(path);
    return ok;
}

static bool put(cd_kube_client *c, const cd_kube_resource *r, const json_t *obj, const char *sub,
                json_t **out, cd_kube_err *err)
{
    if (out)
        *out = NULL;
    const char *ns = cd_kobj_namespace(obj), *name = cd_kobj_name(obj);
    char *path = cd_kube_path(r, ns, name, sub, NULL, 0);
    if (!path)
        return bad_path(err, "update", ns, name);
    json_t *o = with_type(r, obj);
    bool ok = cd_kube_request(c, "PUT", path, NULL, o, out, err);
    json_decref(o);
    free(path);
    return ok;
}

bool cd_kube_update(cd_kube_client *c, const cd_kube_resource *r, const json_t *obj, json_t **out,
                    cd_kube_err *err)
{
    return put(c, r, obj, NULL, out, err);
}

bool cd_kube_update_status(cd_kube_client *c, const cd_kube_resource *r, const json_t *obj,
                           json_t **out, cd_kube_err *err)
{
    return put(c, r, obj, "status", out, err);
}

bool cd_kube_patch(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const char *name,
                   cd_kube_patch_type type, const json_t *patch, const char *sub, json_t **out,
                   cd_kube_err *err)
{
    if (out)
        *out = NULL;
    static const char *types[] = {"application/merge-patch+json",
                                  "application/strategic-merge-patch+json",
                                  "application/json-patch+json"};
    if (type < CD_KUBE_MERGE_PATCH || type > CD_KUBE_JSON_PATCH || !patch)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "patch: invalid patch");
    char *path = cd_kube_path(r, ns, name, sub, NULL, 0);
    if (!path)
        return bad_path(err, "patch", ns, name);
    bool ok = cd_kube_request(c, "PATCH", path, types[type], patch, out, err);
    free(path);
    return ok;
}

bool cd_kube_delete(cd_kube_client *c, const cd_kube_resource *r, const char *ns, const char *name,
                    const cd_kube_delete_opts *o, cd_kube_err *err)
{
    char *path = cd_kube_path(r, ns, name, NULL, NULL, 0);
    if (!path)
        return bad_path(err, "delete", ns, name);
    json_t *body = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    static const char *prop[] = {NULL, "Background", "Foreground", "Orphan"};
    if (o && o->propagation > CD_KUBE_PROPAGATE_DEFAULT && o->propagation <= CD_KUBE_ORPHAN)
        json_object_set_new(body, "propagationPolicy", json_string(prop[o->propagation]));
    if (o && (o->precondition_uid || o->precondition_rv)) {
        json_t *pre = json_object();
        if (o->precondition_uid)
            json_object_set_new(pre, "uid", json_string(o->precondition_uid));
        if (o->precondition_rv)
            json_object_set_new(pre, "resourceVersion", json_string(o->precondition_rv));
        json_object_set_new(body, "preconditions", pre);
    }
    bool ok = cd_kube_request(c, "DELETE", path, NULL, body, NULL, err);
    json_decref(body);
    free(path);
    return ok;
}

bool cd_kube_update_retry(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                          const char *name, bool status, cd_kube_mutate_fn fn, void *ud, json_t **out,
                          cd_kube_err *err)
{
    if (out)
        *out = NULL;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (attempt) {
            /* DefaultRetry: 10 ms steps with 10% jitter */
            struct timespec ts = {0, (10 + rand() % 2) * 1000000L};
            nanosleep(&ts, NULL);
        }
        json_t *cur = NULL;
        if (!cd_kube_get(c, r, ns, name, &cur, err))
            return false;
        int rc = fn(ud, cur, err);
        if (rc < 0) {
            json_decref(cur);
            return false;
        }
        if (rc == 0) {
            if (out)
                *out = cur;
            else
                json_decref(cur);
            return true;
        }
        bool ok = status ? cd_kube_update_status(c, r, cur, out, err) : cd_kube_update(c, r, cur, out, err);
        json_decref(cur);
        if (ok)
            return true;
        if (!cd_kube_is_conflict(err))
            return false;
    }
    return false;
}

static int add_fin(void *ud, json_t *o, cd_kube_err *err)
{
    (void)err;
    return cd_kobj_add_finalizer(o, ud) ? 1 : 0;
}

static int remove_fin(void *ud, json_t *o, cd_kube_err *err)
{
    (void)err;
    return cd_kobj_remove_finalizer(o, ud) ? 1 : 0;
}

bool cd_kube_add_finalizer(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                           const char *name, const char *finalizer, cd_kube_err *err)
{
    return cd_kube_update_retry(c, r, ns, name, false, add_fin, (void *)finalizer, NULL, err);
}

bool cd_kube_remove_finalizer(cd_kube_client *c, const cd_kube_resource *r, const char *ns,
                              const char *name, const char *finalizer, cd_kube_err *err)
{
    if (cd_kube_update_retry(c, r, ns, name, false, remove_fin, (void *)finalizer, NULL, err))
        return true;
    if (cd_kube_is_not_found(err)) {
        cd_kube_err_clear(err);
        return true;
    }
    return false;
}
