/* platform.c - the per-tick context the Kubernetes workload controllers and
 * routers share (platform.h): which controller and router a canary uses,
 * the target read once per tick, its selector label and ports, and the
 * create-or-update helper every reconciler uses. Does I/O only through
 * the Kubernetes client. */
#include "kube/platform.h"
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/router/router.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t wall_now(void) { return cd_wall_ms(); }

bool cdk_ctx_init(cdk_ctx *x, cd_kube_client *kc, const cdk_settings *set, const json_t *canary,
                  const cd_object *obj, cd_err *err)
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
    const char *kind = x->spec->target_ref.kind ? x->spec->target_ref.kind : "Deployment";
    x->wl = cdk_workload_find(kind);
    if (!x->wl) {
        cd_errfmt(err, "target kind %s is not supported by canaryd kube (Deployment, DaemonSet and "
                       "StatefulSet are)",
                  kind);
        return false;
    }
    const char *provider = x->spec->provider && *x->spec->provider ? x->spec->provider
                                                                    : set->mesh_provider;
    if (x->wl->k == CDK_STATEFULSET) {
        /* traffic follows the pods the partition updates (docs/statefulset.md) */
        if (x->spec->provider && *x->spec->provider && strcmp(x->spec->provider, "kubernetes")) {
            cd_errfmt(err, "a StatefulSet target is released by its partition, traffic following "
                           "the pods: provider %s is not supported for it (use kubernetes or none)",
                      x->spec->provider);
            return false;
        }
        provider = "kubernetes";   /* for revertOnDeletion's paths only */
    }
    x->router = cdk_router_find(provider, err);
    return x->router != NULL;
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

const json_t *cdk_target(cdk_ctx *x, cd_err *err)
{
    if (x->target_obj)
        return x->target_obj;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, x->wl->resource, x->ns, x->target, &x->target_obj, &ke)) {
        cdk_err_from_kube(err, &ke, "%s %s.%s get query error", x->wl->word, x->target, x->ns);
        x->target_obj = NULL;
        return NULL;
    }
    return x->target_obj;
}

void cdk_target_forget(cdk_ctx *x)
{
    json_decref(x->target_obj);
    x->target_obj = NULL;
}

bool cdk_target_metadata(cdk_ctx *x, cd_err *err)
{
    if (x->have_meta)
        return true;
    const json_t *t = cdk_target(x, err);
    if (!t)
        return false;
    const char *label, *value;
    if (!cdk_selector_label(t, x->wl->k, &x->set->selector_labels, &label, &value, err))
        return false;
    snprintf(x->label, sizeof x->label, "%s", label);
    snprintf(x->value, sizeof x->value, "%s", value);
    free(x->ports);
    x->ports = NULL;
    x->nports = 0;
    if (x->spec->service.port_discovery)
        x->nports = cdk_discover_ports(t, &x->spec->service, &x->ports);
    x->have_meta = true;
    return true;
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
