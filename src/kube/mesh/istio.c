/* istio.c - the `istio` router (reference §7.5, Flagger's IstioRouter):
 * keeps the DestinationRules <svc>-canary and <svc>-primary and the
 * VirtualService <svc> in line with the canary, and moves traffic by
 * rewriting the VirtualService's routes. The objects come from
 * istio_objects.c (networking.istio.io/v1beta1, as Flagger writes them).
 *
 * Differences from Flagger, on purpose: bringing the VirtualService in
 * line keeps the weights (mirror, cookies) it carries instead of resetting
 * it to 100/0 in the middle of an analysis; a VirtualService the canary did
 * not create is taken over only with spec.revertOnDeletion, and every
 * Gateway service.gateways names must exist (otherwise the precheck
 * refuses the canary, CD_FATAL, before anything is written). Must not
 * write Gateways or any Istio object it did not name. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/router.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const cd_kube_resource VIRTUAL_SERVICES = {CDK_ISTIO_GROUP, "v1beta1", "virtualservices",
                                                  "VirtualService", true};
static const cd_kube_resource GATEWAYS = {CDK_ISTIO_GROUP, "v1beta1", "gateways", "Gateway", true};
static const cd_kube_resource DESTINATION_RULES = {CDK_ISTIO_GROUP, "v1beta1", "destinationrules",
                                                   "DestinationRule", true};

/* in->spec_json is a new reference: release with json_decref. */
static void istio_in(const cdk_ctx *x, cdk_istio_in *in)
{
    memset(in, 0, sizeof *in);
    in->spec = x->spec;
    in->meta = &x->obj->meta;
    in->owner_ref = x->owner_ref;
    json_t *o = cd_object_to_json(x->obj);
    in->spec_json = json_incref(json_object_get(o, "spec"));
    json_decref(o);
}

static bool is_tcp(const cdk_ctx *x)
{
    const char *p = x->spec->service.app_protocol;
    return p && !strcasecmp(p, "tcp");
}

/* ---- DestinationRules -------------------------------------------------------------- */

static int dr_in_line(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    json_t *upd = cdk_istio_dr_update(live, ud);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    return 1;
}

static cd_rc reconcile_dr(cdk_ctx *x, const cdk_istio_in *in, const char *host, cd_err *err)
{
    json_t *want = cdk_istio_dr_object(in, host);
    bool created = false;
    cd_kube_err ke;
    bool ok = cdk_apply(x, &DESTINATION_RULES, want, dr_in_line, want, &created, &ke);
    json_decref(want);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "DestinationRule %s.%s reconcile error", host, x->ns);
        return CD_ERROR;
    }
    if (created)
        cd_logf(CD_LOG_INFO, x->key, "DestinationRule %s.%s created", host, x->ns);
    return CD_OK;
}

/* ---- the VirtualService ------------------------------------------------------------ */

typedef struct vs_ud {
    const cdk_ctx *x;
    const cdk_istio_in *in;
    const cd_canary_ref *c;
    bool set;                 /* set_routes: these weights; reconcile: the live ones */
    int primary, canary;
    bool mirrored;
    bool updated, refused;
    cd_err why;
} vs_ud;

static int refuse(vs_ud *u, cd_kube_err *kerr)
{
    u->refused = true;
    cd_kube_fail(kerr, CD_KR_INVALID, 0, "%s", u->why.msg);
    return -1;
}

static int vs_in_line(void *ud, json_t *live, cd_kube_err *kerr)
{
    vs_ud *u = ud;
    if (!cdk_istio_vs_writable(live, u->in, &u->why))
        return refuse(u, kerr);
    int primary = u->primary, canary = u->canary;
    bool mirrored = u->mirrored;
    if (!u->set) {
        cd_err ignored = {{0}};
        if (!cdk_istio_get_weights(live, u->x->svc, is_tcp(u->x),
                                   u->in->spec->analysis.session_affinity.set, &primary, &canary,
                                   &mirrored, &ignored)) {
            primary = 100;   /* not ours yet: start over */
            canary = 0;
            mirrored = false;
        }
    }
    json_t *spec = cdk_istio_vs_spec(u->in, primary, canary, mirrored, u->c->status, &u->why);
    if (!spec)
        return refuse(u, kerr);
    json_t *want = cdk_istio_vs_object(u->in, spec);
    json_t *upd = cdk_istio_vs_update(live, want, u->in);
    if (u->set) {   /* the weights themselves are what changes */
        if (!upd)
            upd = json_deep_copy(live);
        json_object_set(upd, "spec", json_object_get(want, "spec"));
        if (kj_equal(upd, live)) {
            json_decref(upd);
            upd = NULL;
        }
    }
    json_decref(want);
    if (!upd)
        return 0;
    json_object_clear(live);
    json_object_update(live, upd);
    json_decref(upd);
    u->updated = true;
    return 1;
}

static cd_rc reconcile_vs(cdk_ctx *x, const cdk_istio_in *in, const cd_canary_ref *c, cd_err *err)
{
    vs_ud ud = {x, in, c, false, 100, 0, false, false, false, {{0}}};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &VIRTUAL_SERVICES, x->ns, x->svc, false, vs_in_line, &ud, NULL,
                             &ke)) {
        if (ud.updated)
            cd_logf(CD_LOG_INFO, x->key, "VirtualService %s.%s updated", x->svc, x->ns);
        return CD_OK;
    }
    if (ud.refused) {
        *err = ud.why;
        return CD_ERROR;
    }
    if (!cd_kube_is_not_found(&ke)) {
        cdk_err_from_kube(err, &ke, "VirtualService %s.%s reconcile error", x->svc, x->ns);
        return CD_ERROR;
    }
    json_t *spec = cdk_istio_vs_spec(in, 100, 0, false, c->status, err);
    if (!spec)
        return CD_ERROR;
    json_t *vs = cdk_istio_vs_object(in, spec);
    bool ok = cd_kube_create(x->kc, &VIRTUAL_SERVICES, x->ns, vs, NULL, &ke);
    json_decref(vs);
    if (ok) {
        cd_logf(CD_LOG_INFO, x->key, "VirtualService %s.%s created", x->svc, x->ns);
        return CD_OK;
    }
    if (cd_kube_is_already_exists(&ke) &&   /* someone created it meanwhile */
        cd_kube_update_retry(x->kc, &VIRTUAL_SERVICES, x->ns, x->svc, false, vs_in_line, &ud, NULL,
                             &ke))
        return CD_OK;
    if (ud.refused) {
        *err = ud.why;
        return CD_ERROR;
    }
    cdk_err_from_kube(err, &ke, "VirtualService %s.%s create error", x->svc, x->ns);
    return CD_ERROR;
}

/* A VirtualService <svc> the canary may write, or none yet: CD_OK; one
 * it may not take over: CD_FATAL (a refusal); the API failing: CD_ERROR. */
static cd_rc vs_writable(cdk_ctx *x, const cdk_istio_in *in, cd_err *err)
{
    json_t *vs = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &VIRTUAL_SERVICES, x->ns, x->svc, &vs, &ke)) {
        if (cd_kube_is_not_found(&ke))
            return CD_OK;
        cdk_err_from_kube(err, &ke, "VirtualService %s.%s get query error", x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_istio_vs_writable(vs, in, err);
    json_decref(vs);
    return ok ? CD_OK : CD_FATAL;
}

/* Every Gateway spec.service.gateways names exists: CD_FATAL naming the
 * first that does not. Istio itself would take a VirtualService bound to
 * a missing Gateway and route nothing through it. Without the right to
 * read Gateways (a ClusterRole written for Flagger) the check is skipped. */
static cd_rc gateways_exist(cdk_ctx *x, const cdk_istio_in *in, cd_err *err)
{
    const cd_strlist *g = &x->spec->service.gateways;
    for (size_t i = 0; i < g->n; i++) {
        char ns[256], name[256];
        if (!cdk_istio_gateway_ref(in, i, ns, sizeof ns, name, sizeof name)) {
            if (g->items[i] && strcmp(g->items[i], "mesh")) {
                cd_errfmt(err, "spec.service.gateways[%zu]: \"%s\" is not a gateway name (mesh, "
                               "<namespace>/<name>, <name>.<namespace>.svc.cluster.local or <name>)",
                          i, g->items[i]);
                return CD_FATAL;
            }
            continue;
        }
        json_t *gw = NULL;
        cd_kube_err ke;
        if (cd_kube_get(x->kc, &GATEWAYS, ns, name, &gw, &ke)) {
            json_decref(gw);
            continue;
        }
        if (ke.reason == CD_KR_FORBIDDEN)
            return CD_OK;
        if (!cd_kube_is_not_found(&ke)) {
            cdk_err_from_kube(err, &ke, "Gateway %s/%s get query error", ns, name);
            return CD_ERROR;
        }
        cd_errfmt(err, "Gateway %s/%s named in spec.service.gateways[%zu] (\"%s\") does not exist: "
                       "create it, or name an existing Gateway; nothing was written",
                  ns, name, i, g->items[i]);
        return CD_FATAL;
    }
    return CD_OK;
}

/* What Istio cannot be given, a VirtualService the canary may not write
 * and a missing Gateway are refusals (CD_FATAL): checked before anything
 * is written. */
static cd_rc refusals(cdk_ctx *x, const cdk_istio_in *in, cd_err *err)
{
    if (!cdk_istio_check(in, err))
        return CD_FATAL;
    cd_rc rc = vs_writable(x, in, err);
    return rc == CD_OK ? gateways_exist(x, in, err) : rc;
}

/* Before the Services and the primary. */
static cd_rc precheck(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    (void)c;
    cdk_istio_in in;
    istio_in(x, &in);
    cd_rc rc = refusals(x, &in, err);
    json_decref((json_t *)in.spec_json);
    return rc;
}

static cd_rc reconcile(cdk_ctx *x, const cd_canary_ref *c, cd_err *err)
{
    cdk_istio_in in;
    istio_in(x, &in);
    cd_rc rc;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", x->svc);
    snprintf(cname, sizeof cname, "%s-canary", x->svc);
    /* refused before anything is written: nothing half-applied */
    rc = refusals(x, &in, err);
    if (rc == CD_OK) {
        rc = reconcile_dr(x, &in, cname, err);
        if (rc == CD_OK)
            rc = reconcile_dr(x, &in, pname, err);
        if (rc == CD_OK)
            rc = reconcile_vs(x, &in, c, err);
    }
    json_decref((json_t *)in.spec_json);
    return rc;
}

/* ---- weights ------------------------------------------------------------------------ */

static cd_rc get_routes(cdk_ctx *x, const cd_canary_ref *c, int *primary, int *canary,
                        bool *mirrored, cd_err *err)
{
    (void)c;
    *primary = *canary = 0;
    *mirrored = false;
    json_t *vs = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &VIRTUAL_SERVICES, x->ns, x->svc, &vs, &ke)) {
        cdk_err_from_kube(err, &ke, "VirtualService %s.%s get query error", x->svc, x->ns);
        return CD_ERROR;
    }
    bool ok = cdk_istio_get_weights(vs, x->svc, is_tcp(x), x->spec->analysis.session_affinity.set,
                                    primary, canary, mirrored, err);
    json_decref(vs);
    return ok ? CD_OK : CD_ERROR;
}

static cd_rc set_routes(cdk_ctx *x, const cd_canary_ref *c, int primary, int canary, bool mirrored,
                        cd_err *err)
{
    cdk_istio_in in;
    istio_in(x, &in);
    vs_ud ud = {x, &in, c, true, primary, canary, mirrored, false, false, {{0}}};
    cd_kube_err ke;
    bool ok = cd_kube_update_retry(x->kc, &VIRTUAL_SERVICES, x->ns, x->svc, false, vs_in_line, &ud,
                                   NULL, &ke);
    json_decref((json_t *)in.spec_json);
    if (ok)
        return CD_OK;
    if (ud.refused)
        *err = ud.why;
    else
        cdk_err_from_kube(err, &ke, "VirtualService %s.%s update failed", x->svc, x->ns);
    return CD_ERROR;
}

/* ---- revertOnDeletion ---------------------------------------------------------------- */

static int restore(void *ud, json_t *live, cd_kube_err *kerr)
{
    cd_err *why = ud;
    json_t *orig = NULL;
    if (!cdk_istio_original_spec(live, &orig, why)) {
        cd_kube_fail(kerr, CD_KR_INVALID, 0, "%s", why->msg);
        return -1;
    }
    if (!orig)
        return 0;
    json_object_set_new(live, "spec", orig);
    cd_kobj_set_annotation(live, CDK_ISTIO_ORIGINAL, NULL);
    return 1;
}

/* The VirtualService the user had gets its spec back; one canaryd created
 * goes with the Canary (owner reference). */
static cd_rc finalize(cdk_ctx *x, cd_err *err)
{
    cd_err why = {{0}};
    cd_kube_err ke;
    if (cd_kube_update_retry(x->kc, &VIRTUAL_SERVICES, x->ns, x->svc, false, restore, &why, NULL,
                             &ke) ||
        cd_kube_is_not_found(&ke))
        return CD_OK;
    if (why.msg[0])
        *err = why;
    else
        cdk_err_from_kube(err, &ke, "VirtualService %s.%s update error", x->svc, x->ns);
    return CD_ERROR;
}

const cdk_mesh_router cdk_router_istio = {
    .provider = "istio",
    .reconcile_first = false,
    .precheck = precheck,
    .reconcile = reconcile,
    .get_routes = get_routes,
    .set_routes = set_routes,
    .finalize = finalize,
};
