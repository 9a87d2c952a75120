/* nginx.c - the `nginx` router (Flagger's IngressRouter for ingress-nginx):
 * keeps the Ingress <ingressRef>-canary, a copy of the user's Ingress sent
 * to <svc>-canary, in line with it, and moves traffic by the NGINX canary
 * annotations on that copy (canary-weight, or canary-by-header /
 * -by-cookie for A/B; prefix from -ingress-annotations-prefix). A canary
 * asking for what NGINX cannot do (mirroring, session affinity, matches
 * on anything but one header and one cookie) is refused with the reason
 * on every tick, where Flagger would ignore it. Objects are built by
 * nginx_objects.c. Must not write the user's Ingress. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/mesh/router.h"
#include "util/log.h"
#include <string.h>

static const cd_kube_resource INGRESSES = {"networking.k8s.io", "v1", "ingresses", "Ingress", true};

static void nginx_in(const cdk_ctx *x, cdk_nginx_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->ns = x->ns;
    in->svc = x->svc;
    in->prefix = x->set->ingress_annotations_prefix;
    in->owner_ref = x->owner_ref;
}

/* Before the Services and the primary: what the canary asks for that this
 * router cannot do refuses it with nothing written. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_nginx_ab ab;
    char name[300];
    bool ok = cdk_nginx_check(x->spec, &ab, err) &&
              cdk_ingress_canary_name("nginx", x->spec, name, sizeof name, err);
    return ok ? CD_OK : CD_ERROR;
}

/* ---- reconcile ------------------------------------------------------------------ */

static int bring_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    json_t *upd = cdk_nginx_update(live, ud);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_nginx_ab ab;
    char name[300];
    if (!cdk_nginx_check(x->spec, &ab, err) ||
        !cdk_ingress_canary_name("nginx", x->spec, name, sizeof name, err))
        return CD_ERROR;
    const char *ing = x->spec->ingress_ref.name;
    json_t *user = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &INGRESSES, x->ns, ing, &user, &ke)) {
        cdk_err_from_kube(err, &ke, "ingress %s.%s get query error", ing, x->ns);
        return CD_ERROR;
    }
    cdk_nginx_in in;
    nginx_in(x, &in);
    json_t *want = cdk_nginx_canary_ingress(&in, user, name, err);
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

/* ---- weights ---------------------------------------------------------------------- */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    *primary = *canary = 0;
    *mirrored = false;
    char name[300];
    if (!cdk_ingress_canary_name("nginx", x->spec, name, sizeof name, err))
        return CD_ERROR;
    json_t *ing = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &INGRESSES, x->ns, name, &ing, &ke)) {
        cdk_err_from_kube(err, &ke, "ingress %s.%s get query error", name, x->ns);
        return CD_ERROR;
    }
    cdk_nginx_in in;
    nginx_in(x, &in);
    bool ok = cdk_nginx_get_routes(ing, &in, primary, canary, err);
    json_decref(ing);
    return ok ? CD_OK : CD_ERROR;
}

typedef struct weights_ud {
    const cdk_nginx_in *in;
    const cdk_nginx_ab *ab;
    int canary;
} weights_ud;

static int set_weights(void *ud, json_t *ing, cd_kube_err *kerr)
{
    weights_ud *w = ud;
    json_t *before = json_deep_copy(kj_at(ing, "metadata.annotations"));
    cdk_nginx_set_routes(ing, w->in, w->ab, w->canary);
    bool same = json_equal(before, kj_at(ing, "metadata.annotations"));
    json_decref(before);
    return same ? 0 : 1;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_nginx_ab ab;
    char name[300];
    if (!cdk_nginx_check(x->spec, &ab, err) ||
        !cdk_ingress_canary_name("nginx", x->spec, name, sizeof name, err))
        return CD_ERROR;
    cdk_nginx_in in;
    nginx_in(x, &in);
    weights_ud ud = {&in, &ab, canary};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &INGRESSES, x->ns, name, false, set_weights, &ud, NULL, &ke))
        return CD_OK;
    cdk_err_from_kube(err, &ke, "ingress %s.%s update error", name, x->ns);
    return CD_ERROR;
}

/* Deleting the Canary deletes the canary Ingress with it (owner
 * reference); the user's Ingress was never written. */
static cd_rc finalize(cdk_ctx *x, cd_err *err) { return CD_OK; }

const cdk_mesh_router cdk_router_nginx = {
    .provider = "nginx",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
