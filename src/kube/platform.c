/* platform.c - the per-tick context the Kubernetes workload controllers and
 * routers share (platform.h): the controller and router a canary uses (the
 * operator picks them: kube/operator/tick.c's cdk_open_ctx),
 * the target read once per tick, its selector label and ports, and the
 * create-or-update helper every reconciler uses. Does I/O only through
 * the Kubernetes client. */
#include "kube/platform.h"
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t wall_now(void) { return cd_wall_ms(); }

void cdk_ctx_init(cdk_ctx *x, cd_kube_client *kc, const cdk_settings *set, const json_t *canary,
                  const cd_object *obj, const struct cdk_workload_ops *wl,
                  const struct cdk_mesh_router *router)
{
    memset(x, 0, sizeof *x);
    x->kc = kc;
    x->set = set;
    x->canary = canary;
    x->obj = obj;
    x->spec = &obj->spec.canary;
    x->ns = obj->meta.namespace_ ? obj->meta.namespace_ : "default";
    x->name = obj->meta.name ? obj->meta.name : "";
    x->target = x->spec->target_ref.name ? x->spec->target_ref.name : "";
    x->svc = cd_canary_service_name(x->spec);
    x->now_ms = wall_now;
    snprintf(x->key, sizeof x->key, "%s.%s", x->name, x->ns);
    x->owner_ref = cd_kobj_owner_ref(canary, true, true);
    x->wl = wl;
    x->router = router;
}

void cdk_ctx_release(cdk_ctx *x)
{
    json_decref(x->owner_ref);
    json_decref(x->target_obj);
    json_decref(x->config_objs);
    free(x->ports);
    cdk_config_refs_free(&x->tracked);
    for (size_t i = 0; i < x->n_tracked; i++) {
        free(x->tracked_items[i].key);
        free(x->tracked_items[i].checksum);
    }
    free(x->tracked_items);
    memset(x, 0, sizeof *x);
}

void cdk_err_from_kube(cd_err *err, const cd_kube_err *kerr, const char *fmt, ...)
{
    if (!err)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", what,
             kerr && kerr->msg[0] ? kerr->msg : "error");
}

bool cdk_apply(cdk_ctx *x, const cd_kube_resource *r, const json_t *obj, cd_kube_mutate_fn mutate,
               void *ud, bool *created, cd_kube_err *err)
{
    if (created)
        *created = false;
    const char *name = cd_kobj_name(obj);
    if (cd_kube_update_retry(x->kc, r, x->ns, name, false, mutate, ud, NULL, err))
        return true;
    if (!cd_kube_is_not_found(err))
        return false;
    if (cd_kube_create(x->kc, r, x->ns, obj, NULL, err)) {
        if (created)
            *created = true;
        return true;
    }
    /* someone created it meanwhile: bring theirs in line */
    if (cd_kube_is_already_exists(err))
        return cd_kube_update_retry(x->kc, r, x->ns, name, false, mutate, ud, NULL, err);
    return false;
}

bool cdk_merge_patch(cdk_ctx *x, const cd_kube_resource *r, const char *name, const json_t *patch,
                     cd_kube_err *err)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (cd_kube_patch(x->kc, r, x->ns, name, CD_KUBE_MERGE_PATCH, patch, NULL, NULL, err))
            return true;
        if (!cd_kube_is_conflict(err))
            return false;
    }
    return false;
}
