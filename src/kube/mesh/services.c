/* services.c - the Services of a canary on the cluster (reference §7.1,
 * Flagger's KubernetesDefaultRouter): <svc>-canary and <svc>-primary at
 * every tick's start, the apex <svc> selecting the primary once it exists,
 * and on revertOnDeletion a user's own apex Service pointed back at the
 * target. The objects themselves come from service_objects.c; this file
 * must not decide what they contain. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

typedef struct svc_ud {
    const cdk_svc_in *in;
    const char *canary_name;
} svc_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    svc_ud *u = ud;
    json_t *upd = cdk_service_update(live, u->in, u->canary_name);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static cd_rc reconcile_service(cdk_ctx *x, const char *name, const char *selector_value,
                               const char *revision, const cd_metadata *md, cd_err *err)
{
    cdk_svc_in in = {x->spec, x->ns, name, x->label, selector_value, md, x->ports, x->nports,
                     x->owner_ref, revision};
    json_t *want = cdk_service_build(&in);
    svc_ud ud = {&in, x->name};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &CD_KUBE_SERVICES, want, bring_in_line, &ud, &created, &ke);
    json_decref(want);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "service %s.%s reconcile error", name, x->ns);
        return CD_ERROR;
    }
    if (created)
        cd_logf(CD_LOG_INFO, x->key, "Service %s.%s created", name, x->ns);
    return CD_OK;
}

static const cd_metadata *md_of(bool set, const cd_metadata *m) { return set ? m : NULL; }

cd_rc cdk_services_initialize(cdk_ctx *x, cd_err *err)
{
    if (!cdk_target_metadata(x, err))
        return CD_ERROR;
    const cd_service *s = &x->spec->service;
    char name[300], value[300];
    snprintf(name, sizeof name, "%s-canary", x->svc);
    cd_rc rc = reconcile_service(x, name, x->value, NULL, md_of(s->has_canary, &s->canary), err);
    if (rc != CD_OK)
        return rc;
    snprintf(name, sizeof name, "%s-primary", x->svc);
    snprintf(value, sizeof value, "%s-primary", x->value);
    return reconcile_service(x, name, value, NULL, md_of(s->has_primary, &s->primary), err);
}

cd_rc cdk_services_reconcile_apex(cdk_ctx *x, cd_err *err)
{
    if (!cdk_target_metadata(x, err))
        return CD_ERROR;
    const cd_service *s = &x->spec->service;
    char value[300];
    snprintf(value, sizeof value, "%s-primary", x->value);
    return reconcile_service(x, x->svc, value, NULL, md_of(s->has_apex, &s->apex), err);
}

/* A StatefulSet target under a mesh (statefulset_mesh.c): no primary
 * copy, so <svc>-canary selects the pods at canary_rev, <svc>-primary
 * those at primary_rev (NULL: every pod of the set), the apex every pod. */
cd_rc cdk_services_statefulset(cdk_ctx *x, const char *canary_rev, const char *primary_rev,
                               cd_err *err)
{
    if (!cdk_target_metadata(x, err))
        return CD_ERROR;
    const cd_service *s = &x->spec->service;
    char name[300];
    snprintf(name, sizeof name, "%s-canary", x->svc);
    cd_rc rc = reconcile_service(x, name, x->value, canary_rev, md_of(s->has_canary, &s->canary),
                                 err);
    if (rc != CD_OK)
        return rc;
    snprintf(name, sizeof name, "%s-primary", x->svc);
    rc = reconcile_service(x, name, x->value, primary_rev, md_of(s->has_primary, &s->primary), err);
    if (rc != CD_OK)
        return rc;
    return reconcile_service(x, x->svc, x->value, NULL, md_of(s->has_apex, &s->apex), err);
}

/* ---- revertOnDeletion ------------------------------------------------------ */

typedef struct selector_ud { json_t *selector; } selector_ud;

static int set_selector(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    json_t *sel = ((selector_ud *)ud)->selector;
    json_t *spec = kj_obj(live, "spec");
    if (kj_equal(json_object_get(spec, "selector"), sel))
        return 0;
    json_object_set(spec, "selector", sel);
    return 1;
}

cd_rc cdk_services_finalize(cdk_ctx *x, cd_err *err)
{
    json_t *svc = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_SERVICES, x->ns, x->svc, &svc, &ke)) {
        if (cd_kube_is_not_found(&ke))
            return CD_OK;
        cdk_err_from_kube(err, &ke, "service %s.%s get query error", x->svc, x->ns);
        return CD_ERROR;
    }
    const json_t *ref = cd_kobj_controller_ref(svc);
    bool canary_owned = ref && !strcmp(kj_str(ref, "kind") ?: "", "Canary");
    if (canary_owned) {
        json_decref(svc);
        return CD_OK;   /* ours: garbage-collected with the canary */
    }
    json_t *selector = NULL;
    const char *applied = cd_kobj_annotation(svc, "kubectl.kubernetes.io/last-applied-configuration");
    if (applied) {
        json_t *orig = json_loads(applied, 0, NULL);
        selector = kj_copy(kj_at(orig, "spec.selector"));
        json_decref(orig);
    }
    json_decref(svc);
    if (!selector) {
        if (!cdk_target_metadata(x, err))
            return CD_ERROR;
        selector = json_pack("{s:s}", x->label, x->value);
    }
    selector_ud ud = {selector};
    bool ok = cd_kube_update_retry(x->kc, &CD_KUBE_SERVICES, x->ns, x->svc, false, set_selector, &ud,
                                   NULL, &ke);
    json_decref(selector);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "service %s.%s update error", x->svc, x->ns);
        return CD_ERROR;
    }
    return CD_OK;
}
