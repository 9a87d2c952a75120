/* knative.c - Knative Service targets (targetRef serving.knative.dev/v1
 * Service, provider knative; docs/knative.md, Flagger's
 * KnativeController). There is no primary copy: Knative keeps every
 * revision, and the Service's spec.traffic splits requests between the
 * promoted revision (named by the annotation flagger.app/primary-revision)
 * and the latest one (router/knative.c sets the split):
 *
 *   initialize   annotation = status.latestCreatedRevisionName, traffic
 *                100 % to it, 0 % to the latest revision
 *   canary ready the latest created revision is ready
 *   hash         of status.latestCreatedRevisionName (a new revision is a
 *                new release, whatever changed in the template)
 *   promote      annotation = the latest created revision
 *
 * Readiness is read from the Service's status (Knative reports its
 * revisions there), not from Revision objects. Writes only the
 * annotation and spec.traffic of the user's Service, by merge patch;
 * scales nothing, creates nothing. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <stdio.h>
#include <string.h>

static cdk_ctx *ctx_of(void *p) { return p; }

static const char *latest_created(const json_t *svc)
{
    return kj_str(svc, "status.latestCreatedRevisionName");
}

const char *cdk_knative_primary_revision(const json_t *svc)
{
    return json_string_value(
        json_object_get(kj_at(svc, "metadata.annotations"), CDK_KNATIVE_PRIMARY_REVISION));
}

cd_rc cdk_knative_patch(cdk_ctx *x, json_t *patch, cd_err *err)
{
    cd_kube_err ke;
    bool ok = cdk_merge_patch(x, &CD_KUBE_KNATIVE_SERVICES, x->target, patch, &ke);
    json_decref(patch);
    cdk_target_forget(x);
    if (!ok) {
        cdk_err_from_kube(err, &ke, "Knative Service %s.%s update query error", x->target, x->ns);
        return CD_ERROR;
    }
    return CD_OK;
}

static cd_rc is_primary_ready(void *ctx, const cd_canary_ref *c, cd_err *err);

/* The revision every request goes to at first: Knative's latest. */
static cd_rc initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    if (!cdk_knative_check(c->spec, err))
        return CD_ERROR;
    if (c->status->phase == CD_PHASE_NONE || c->status->phase == CD_PHASE_INITIALIZING) {
        const json_t *svc = cdk_target(x, err);
        if (!svc)
            return CD_ERROR;
        const char *rev = latest_created(svc);
        if (!rev || !*rev) {
            cd_errfmt(err, "Knative Service %s.%s has no revision yet (status.latestCreatedRevisionName)",
                      x->target, x->ns);
            return CD_RETRY;
        }
        json_t *patch = json_pack("{s:{s:{s:s}}, s:{s:o}}", "metadata", "annotations",
                                  CDK_KNATIVE_PRIMARY_REVISION, rev, "spec", "traffic",
                                  cdk_knative_traffic(rev, 100, 0));
        cd_rc rc = cdk_knative_patch(x, patch, err);
        if (rc != CD_OK)
            return rc;
    }
    return require_ready ? is_primary_ready(ctx, c, err) : CD_OK;
}

static cd_rc revision_ready(cdk_ctx *x, const json_t *svc, const char *rev, cd_err *err)
{
    char msg[300];
    cd_rc rc = cdk_knative_revision_ready(svc, rev, msg, sizeof msg);
    if (rc != CD_OK)
        cd_errfmt(err, "Knative Revision %s.%s is not ready: %s", rev ? rev : "", x->ns, msg);
    return rc;
}

static cd_rc is_primary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    const char *rev = cdk_knative_primary_revision(svc);
    if (!rev) {
        cd_errfmt(err, "Knative Service %s.%s primary revision annotation not found", x->target, x->ns);
        return CD_RETRY;
    }
    return revision_ready(x, svc, rev, err);
}

static cd_rc is_canary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    return revision_ready(x, svc, latest_created(svc), err);
}

static cd_rc target_hash(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX], cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    json_t *rev = json_string(latest_created(svc) ?: "");
    char h[16];
    cd_json_hash(rev, h);
    json_decref(rev);
    snprintf(hash, CD_HASH_MAX, "%s", h);
    return CD_OK;
}

static cd_rc promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx_of(ctx);
    const json_t *svc = cdk_target(x, err);
    if (!svc)
        return CD_ERROR;
    const char *rev = latest_created(svc);
    if (!rev || !*rev) {
        cd_errfmt(err, "Knative Service %s.%s has no latest revision to promote", x->target, x->ns);
        return CD_ERROR;
    }
    return cdk_knative_patch(
        x, json_pack("{s:{s:{s:s}}}", "metadata", "annotations", CDK_KNATIVE_PRIMARY_REVISION, rev),
        err);
}

static cd_rc no_op(void *ctx, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

void cdk_knative_workload_port(cd_workload_port *p, cdk_ctx *x)
{
    memset(p, 0, sizeof *p);
    p->ctx = x;
    p->initialize = initialize;
    p->is_primary_ready = is_primary_ready;
    p->is_canary_ready = is_canary_ready;
    p->target_hash = target_hash;
    p->promote = promote;
    p->scale_to_zero = no_op;    /* Knative scales revisions itself */
    p->scale_from_zero = no_op;
}

/* ---- what the operator's other paths need (finalize.c) -------------------------- */

static cd_rc ops_ready(cdk_ctx *x, const cd_canary_ref *c, const json_t *obj, int threshold_pct,
                       char *msg, size_t msglen)
{
    return cdk_knative_revision_ready(obj, latest_created(obj), msg, msglen);
}

static cd_rc ops_no_op(cdk_ctx *x, const cd_canary_ref *c, cd_err *err) { return CD_OK; }

const cdk_workload_ops cdk_knative_ops = {
    .kind = "Service",
    .k = CDK_KNATIVE,
    .resource = &CD_KUBE_KNATIVE_SERVICES,
    .word = "Knative Service",
    .autoscalers = false,
    .ready = ops_ready,
    .scale_to_zero = ops_no_op,
    .scale_from_zero = ops_no_op,
    .restore = ops_no_op,       /* router/knative.c's finalize gives the traffic back */
};
