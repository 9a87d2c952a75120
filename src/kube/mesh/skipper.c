/* skipper.c - the `skipper` router (Flagger's SkipperRouter for the
 * Skipper ingress): keeps the Ingress <ingressRef>-canary, a copy of the
 * user's Ingress whose paths go to both <svc>-primary and <svc>-canary,
 * in line with it, and moves traffic by its zalando.org/backend-weights
 * annotation (the Weight(100) predicate makes Skipper prefer it to the
 * user's Ingress; False() switches it off at weight 0). A canary asking
 * for what that cannot express (mirroring, session affinity, A/B
 * matches) is refused with the reason on every tick. Objects are built by
 * skipper_objects.c. Must not write the user's Ingress. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/log.h"
#include <string.h>

static const cd_kube_resource INGRESSES = {"networking.k8s.io", "v1", "ingresses", "Ingress", true};

static void skipper_in(const cdk_ctx *x, cdk_skipper_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->ns = x->ns;
    in->svc = x->svc;
    in->owner_ref = x->owner_ref;
}

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    char name[300];
    bool ok = cdk_skipper_check(x->spec, err) &&
              cdk_ingress_canary_name("skipper", x->spec, name, sizeof name, err);
    return ok ? CD_OK : CD_ERROR;
}

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    json_t *upd = cdk_skipper_update(live, ud);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    char name[300];
    if (!cdk_skipper_check(x->spec, err) ||
        !cdk_ingress_canary_name("skipper", x->spec, name, sizeof name, err))
        return CD_ERROR;
    const char *ing = x->spec->ingress_ref.name;
    json_t *user = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &INGRESSES, x->ns, ing, &user, &ke)) {
        cdk_err_from_kube(err, &ke, "apexIngress %s.%s get query error", ing, x->ns);
        return CD_ERROR;
    }
    cdk_skipper_in in;
    skipper_in(x, &in);
    json_t *want = cdk_skipper_canary_ingress(&in, user, name, err);
    json_decref(user);
    if (!want)
        return CD_ERROR;
    bool created = false;
    bool ok = cdk_apply(x, &INGRESSES, want, bring_in_line, want, &created, &ke);
    json_decref(want);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "ingress %s.%s reconcile error", name, x->ns);
        return CD_ERROR;
    }
    if (created)
        cd_logf(CD_LOG_INFO, x->key, "Ingress %s.%s created", name, x->ns);
    return CD_OK;
}

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    char name[300];
    if (!cdk_ingress_canary_name("skipper", x->spec, name, sizeof name, err))
        return CD_ERROR;
    json_t *ing = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &INGRESSES, x->ns, name, &ing, &ke)) {
        cdk_err_from_kube(err, &ke, "ingress %s.%s get query error", name, x->ns);
        return CD_ERROR;
    }
    cdk_skipper_in in;
    skipper_in(x, &in);
    bool ok = cdk_skipper_get_routes(ing, &in, primary, canary, err);
    json_decref(ing);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_skipper_in *in;
    int primary, canary;
} weights_ud;

static int set_weights(void *ud, json_t *ing, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *before = json_deep_copy(kj_at(ing, "metadata.annotations"));
    cdk_skipper_set_routes(ing, w->in, w->primary, w->canary);
    bool same = json_equal(before, kj_at(ing, "metadata.annotations"));
    json_decref(before);
    return same ? 0 : 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    char name[300];
    if (!cdk_skipper_check(x->spec, err) ||
        !cdk_ingress_canary_name("skipper", x->spec, name, sizeof name, err))
        return CD_ERROR;
    cdk_skipper_in in;
    skipper_in(x, &in);
    weights_ud ud = {&in, primary, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &INGRESSES, x->ns, name, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "ingress %s.%s update error", name, x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the canary Ingress with it (owner
 * reference); the user's Ingress was never written. */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_skipper = {
    .provider = "skipper",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
