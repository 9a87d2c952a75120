/* weighted.c - reconcile, read and write the weights of a router's one
 * object named after the apex Service (weighted.h). Bringing the object in
 * line keeps the weights it carries instead of resetting them to 100/0 in
 * the middle of an analysis (a difference from Flagger, on purpose). */
#include "kube/mesh/weighted.h"
#include "kube/kjson.h"
#include "util/errfmt.h"
#include "util/log.h"

cd_rc cdk_weighted_precheck(const cdk_weighted_kind *k, cdk_ctx *x, cd_err *err)
{
    return k->check(x->spec, err) ? CD_OK : CD_ERROR;
}

typedef struct reconcile_ud {
    const cdk_weighted_kind *k;
    const cdk_ctx *x;
    bool updated;
} reconcile_ud;

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    reconcile_ud *u = ud;
    int primary = 100, canary = 0;
    cd_err ignored;
    if (!u->k->get_weights(u->x, live, &primary, &canary, &ignored)) {
        primary = 100;   /* not ours yet (or edited by hand): start over */
        canary = 0;
    }
    json_t *want = u->k->object(u->x, u->k->spec(u->x, primary, canary));
    json_t *upd = u->k->update(live, want);
    json_decref(want);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    u->updated = true;
    return 1;
}

cd_rc cdk_weighted_reconcile(const cdk_weighted_kind *k, cdk_ctx *x, cd_err *err)
{
    if (!k->check(x->spec, err))
        return CD_ERROR;
    json_t *obj = k->object(x, k->spec(x, 100, 0));
    reconcile_ud ud = {k, x, false};
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, k->res, obj, bring_in_line, &ud, &created, &ke);
    json_decref(obj);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "%s %s.%s reconcile error", k->res->kind, x->svc, x->ns);
        return CD_ERROR;
    }
    if (created || ud.updated)
        cd_logf(CD_LOG_INFO, x->key, "%s %s.%s %s", k->res->kind, x->svc, x->ns,
                created ? "created" : "updated");
    return CD_OK;
}

cd_rc cdk_weighted_get_routes(const cdk_weighted_kind *k, cdk_ctx *x, int *primary, int *canary,
                              bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    json_t *obj = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, k->res, x->ns, x->svc, &obj, &ke)) {
        cdk_err_from_kube(err, &ke, "%s %s.%s get query error", k->res->kind, x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = k->get_weights(x, obj, primary, canary, err);
    json_decref(obj);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_weighted_kind *k;
    const cdk_ctx *x;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *obj, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *spec = w->k->spec(w->x, w->primary, w->canary);
    if (json_equal(spec, json_object_get(obj, "spec"))) {
        json_decref(spec);
        return 0;
    }
    json_object_set_new(obj, "spec", spec);
    json_object_del(obj, "status");
    return 1;
}

cd_rc cdk_weighted_set_routes(const cdk_weighted_kind *k, cdk_ctx *x, int primary, int canary,
                              cd_err *err)
{
    if (primary == 0 && canary == 0) {
        cd_errfmt(err, "%s %s.%s update failed: no valid weights", k->res->kind, x->svc, x->ns);
        return CD_ERROR;
    }
    if (!k->check(x->spec, err))
        return CD_ERROR;
    weights_ud ud = {k, x, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, k->res, x->ns, x->svc, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "%s %s.%s update error", k->res->kind, x->svc, x->ns);
    return CD_ERROR;
}
