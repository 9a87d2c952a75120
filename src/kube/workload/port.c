/* port.c - the engine's workload port over a Kubernetes Deployment or
 * DaemonSet target (reference §7.1, §2.3, §2.8, §7.2): creates
 * <target>-primary and the -primary copies of tracked ConfigMaps and
 * Secrets, answers readiness, hashes the target, promotes, scales and
 * clones the HPA. What differs by kind comes from cdk_workload_ops.
 * Every write is a create or a read-modify-write that retries on 409;
 * it never deletes anything (ownerReferences let the cluster clean up). */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/workload.h"
#include "util/errfmt.h"
#include "util/log.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cdk_workload_ops *cdk_workload_find(const char *kind)
{
    static const cdk_workload_ops *const all[] = {&cdk_deployment_ops, &cdk_daemonset_ops,
                                                  &cdk_statefulset_ops};
    for (size_t i = 0; kind && i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->kind, kind))
            return all[i];
    return NULL;
}

const cdk_workload_ops *cdk_workload_for_target(const char *kind, const char *api_version)
{
    if (kind && !strcmp(kind, "Service") && api_version &&
        !strncmp(api_version, "serving.knative.dev/", 20))
        return &cdk_knative_ops;
    if (kind && !strcmp(kind, "Service"))
        return &cdk_service_ops;
    return cdk_workload_find(kind);
}

bool cdk_random_uuid(char out[37])
{
    unsigned char u[16];
    if (RAND_bytes(u, sizeof u) != 1)
        return false;
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    return true;
}

static void primary_name(const cdk_ctx *x, char *out, size_t n)
{
    snprintf(out, n, "%s-primary", x->target);
}

bool cdk_get_primary(cdk_ctx *x, json_t **out, cd_kube_err *err)
{
    char name[300];
    primary_name(x, name, sizeof name);
    return cd_kube_get(x->kc, x->wl->resource, x->ns, name, out, err);
}

/* ---- config tracking ---------------------------------------------------- */

static const cd_kube_resource *config_resource(cdk_config_kind k)
{
    return k == CDK_SECRET ? &CD_KUBE_SECRETS : &CD_KUBE_CONFIGMAPS;
}

static const char *config_word(cdk_config_kind k) { return k == CDK_SECRET ? "secret" : "configmap"; }

static void push_tracked(cdk_ctx *x, cdk_config_kind kind, json_t *obj)
{
    const char *name = cd_kobj_name(obj);
    cdk_config_refs_add(&x->tracked, kind, name, false);
    json_array_append(x->config_objs, obj);
    cd_tracked_config *items = realloc(x->tracked_items, (x->n_tracked + 1) * sizeof *items);
    if (!items)
        abort();
    x->tracked_items = items;
    char key[512], sum[17];
    cdk_config_checksum(json_object_get(obj, "data"), sum);
    items[x->n_tracked].key = strdup(cdk_config_key(kind, name, key, sizeof key));
    items[x->n_tracked].checksum = strdup(sum);
    x->n_tracked++;
}

/* Reads every config the target uses (Flagger's GetTargetConfigs). */
static bool load_configs(cdk_ctx *x, cd_err *err)
{
    if (x->configs_loaded)
        return true;
    if (!x->set->config_tracking) {
        x->configs_loaded = true;
        return true;
    }
    const json_t *t = cdk_target(x, err);
    if (!t)
        return false;
    x->config_objs = json_array();
    cdk_config_refs refs = {0};
    cdk_scan_config_refs(kj_at(t, "spec.template.spec"), &refs);
    bool ok = true;
    for (size_t i = 0; ok && i < refs.n; i++) {
        const cdk_config_ref *r = &refs.items[i];
        json_t *obj = NULL;
        cd_kube_err ke;
        if (!cd_kube_get(x->kc, config_resource(r->kind), x->ns, r->name, &obj, &ke)) {
            if (cd_kube_is_not_found(&ke) && r->optional) {
                cd_logf(CD_LOG_DEBUG, x->key, "optional %s %s.%s not found: not tracked",
                        config_word(r->kind), r->name, x->ns);
                continue;
            }
            cdk_err_from_kube(err, &ke, "%s %s.%s get query error", config_word(r->kind), r->name,
                              x->ns);
            ok = false;
            break;
        }
        if (cdk_config_trackable(obj, r->kind))
            push_tracked(x, r->kind, obj);
        json_decref(obj);
    }
    cdk_config_refs_free(&refs);
    x->configs_loaded = ok;
    return ok;
}

static void forget_configs(cdk_ctx *x)
{
    json_decref(x->config_objs);
    x->config_objs = NULL;
    cdk_config_refs_free(&x->tracked);
    for (size_t i = 0; i < x->n_tracked; i++) {
        free(x->tracked_items[i].key);
        free(x->tracked_items[i].checksum);
    }
    free(x->tracked_items);
    x->tracked_items = NULL;
    x->n_tracked = 0;
    x->configs_loaded = false;
}

typedef struct config_copy { const json_t *want; } config_copy;

static int sync_config(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    const json_t *want = ((config_copy *)ud)->want;
    bool changed = false;
    static const char *const fields[] = {"data", "binaryData", "type"};
    for (size_t i = 0; i < 3; i++) {
        json_t *w = json_object_get(want, fields[i]);
        if (!w && !strcmp(fields[i], "type"))
            continue;   /* a Secret's type is immutable: never remove it */
        if (!kj_equal(json_object_get(live, fields[i]), w)) {
            kj_set_copy(live, fields[i], w);
            changed = true;
        }
    }
    json_t *md = kj_obj(live, "metadata");
    static const char *const mfields[] = {"labels", "ownerReferences"};
    for (size_t i = 0; i < 2; i++) {
        json_t *w = kj_at(want, "metadata");
        if (!kj_equal(json_object_get(md, mfields[i]), json_object_get(w, mfields[i]))) {
            kj_set_copy(md, mfields[i], json_object_get(w, mfields[i]));
            changed = true;
        }
    }
    return changed ? 1 : 0;
}

/* Creates or updates <name>-primary of every tracked config. */
static bool sync_primary_configs(cdk_ctx *x, cd_err *err)
{
    if (!load_configs(x, err))
        return false;
    for (size_t i = 0; i < x->tracked.n; i++) {
        cdk_config_kind kind = x->tracked.items[i].kind;
        json_t *want = cdk_primary_config(json_array_get(x->config_objs, i), kind,
                                          &x->set->label_prefixes, x->owner_ref);
        config_copy cc = {want};
        cd_kube_err ke;
        bool created;
        bool ok = cdk_apply(x, config_resource(kind), want, sync_config, &cc, &created, &ke);
        if (ok && created)
            cd_logf(CD_LOG_INFO, x->key, "%s %s.%s created", kind == CDK_SECRET ? "Secret" : "ConfigMap",
                    cd_kobj_name(want), x->ns);
        if (!ok)
            cdk_err_from_kube(err, &ke, "creating %s %s.%s failed", config_word(kind),
                              cd_kobj_name(want), x->ns);
        json_decref(want);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- port functions ------------------------------------------------------ */

static void fill_primary_in(cdk_ctx *x, cdk_primary_in *in, const json_t *target, const char *id)
{
    memset(in, 0, sizeof *in);
    in->kind = x->wl->k;
    in->target = target;
    in->selector_labels = &x->set->selector_labels;
    in->label_prefixes = &x->set->label_prefixes;
    in->tracked = &x->tracked;
    in->owner_ref = x->owner_ref;
    in->flagger_id = id;
    in->has_autoscaler = x->spec->autoscaler_ref.set;
}

static cd_rc create_primary(cdk_ctx *x, cd_err *err)
{
    const json_t *t = cdk_target(x, err);
    if (!t || !sync_primary_configs(x, err))
        return CD_ERROR;
    char id[37];
    if (!cdk_random_uuid(id)) {
        cd_errfmt(err, "no random bytes for the primary's flagger-id");
        return CD_ERROR;
    }
    cdk_primary_in in;
    fill_primary_in(x, &in, t, id);
    json_t *primary = cdk_primary_build(&in, err);
    if (!primary)
        return CD_ERROR;
    cd_kube_err ke;
    bool ok = cd_kube_create(x->kc, x->wl->resource, x->ns, primary, NULL, &ke);
    if (ok || cd_kube_is_already_exists(&ke)) {
        if (ok)
            cd_logf(CD_LOG_INFO, x->key, "%s %s.%s created", x->wl->kind, cd_kobj_name(primary), x->ns);
        json_decref(primary);
        return CD_OK;
    }
    cdk_err_from_kube(err, &ke, "creating %s %s.%s failed", x->wl->word, cd_kobj_name(primary), x->ns);
    json_decref(primary);
    return CD_ERROR;
}

static int threshold_of(int v) { return v > 0 ? v : 100; }

static cd_rc is_primary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    json_t *primary = NULL;
    cd_kube_err ke;
    char name[300];
    primary_name(x, name, sizeof name);
    if (!cdk_get_primary(x, &primary, &ke)) {
        cdk_err_from_kube(err, &ke, "%s %s.%s get query error", x->wl->word, name, x->ns);
        return CD_ERROR;
    }
    char msg[400];
    cd_rc rc = x->wl->ready(x, c, primary, threshold_of(c->spec->analysis.primary_ready_threshold),
                            msg, sizeof msg);
    json_decref(primary);
    if (rc != CD_OK)
        cd_errfmt(err, "%s.%s not ready: %s", name, x->ns, msg);
    return rc;
}

static cd_rc initialize(void *ctx, const cd_canary_ref *c, bool require_ready, cd_err *err)
{
    cdk_ctx *x = ctx;
    if (!cdk_target_metadata(x, err))
        return CD_ERROR;
    json_t *primary = NULL;
    cd_kube_err ke;
    if (!cdk_get_primary(x, &primary, &ke)) {
        if (!cd_kube_is_not_found(&ke)) {
            cdk_err_from_kube(err, &ke, "%s %s-primary.%s get query error", x->wl->word, x->target,
                              x->ns);
            return CD_ERROR;
        }
        cd_rc rc = create_primary(x, err);
        if (rc != CD_OK)
            return rc;
    }
    json_decref(primary);
    return require_ready ? is_primary_ready(ctx, c, err) : CD_OK;
}

static cd_rc is_canary_ready(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    json_t *t = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, x->wl->resource, x->ns, x->target, &t, &ke)) {
        cdk_err_from_kube(err, &ke, "%s %s.%s get query error", x->wl->word, x->target, x->ns);
        return CD_ERROR;
    }
    char msg[400];
    cd_rc rc = x->wl->ready(x, c, t, threshold_of(c->spec->analysis.canary_ready_threshold), msg,
                            sizeof msg);
    json_decref(t);
    if (rc != CD_OK)
        cd_errfmt(err, "canary %s %s.%s not ready: %s", x->wl->word, x->target, x->ns, msg);
    return rc;
}

static cd_rc target_hash(void *ctx, const cd_canary_ref *c, char hash[CD_HASH_MAX], cd_err *err)
{
    cdk_ctx *x = ctx;
    const json_t *t = cdk_target(x, err);
    if (!t)
        return CD_ERROR;
    cdk_target_hash(t, x->wl->k, hash);
    return CD_OK;
}

static cd_rc tracked_configs(void *ctx, const cd_canary_ref *c, cd_tracked_config **items,
                             size_t *n, bool *present, cd_err *err)
{
    cdk_ctx *x = ctx;
    *items = NULL;
    *n = 0;
    *present = x->set->config_tracking;
    if (!x->set->config_tracking)
        return CD_OK;
    if (!load_configs(x, err))
        return CD_ERROR;
    *items = x->tracked_items;
    *n = x->n_tracked;
    return CD_OK;
}

typedef struct promote_ud {
    cdk_ctx *x;
    const json_t *target;
    cd_err *err;
} promote_ud;

static int promote_mutate(void *ud, json_t *primary, cd_kube_err *kerr)
{
    promote_ud *p = ud;
    char id[37];
    if (!cdk_random_uuid(id)) {
        cd_kube_fail(kerr, CD_KR_CONFIG, 0, "no random bytes for the primary's flagger-id");
        return -1;
    }
    cdk_primary_in in;
    fill_primary_in(p->x, &in, p->target, id);
    if (!cdk_primary_promote(primary, &in, p->err)) {
        cd_kube_fail(kerr, CD_KR_CONFIG, 0, "%s", p->err->msg);
        return -1;
    }
    return 1;
}

static cd_rc promote(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    /* what runs now, not what the tick started with */
    cdk_target_forget(x);
    forget_configs(x);
    const json_t *t = cdk_target(x, err);
    if (!t || !sync_primary_configs(x, err))
        return CD_ERROR;
    char name[300];
    primary_name(x, name, sizeof name);
    promote_ud ud = {x, t, err};
    cd_kube_err ke;
    if (!cd_kube_update_retry(x->kc, x->wl->resource, x->ns, name, false, promote_mutate, &ud, NULL,
                              &ke)) {
        cdk_err_from_kube(err, &ke, "updating %s %s.%s template spec failed", x->wl->word, name,
                          x->ns);
        return CD_ERROR;
    }
    return CD_OK;
}

static cd_rc scale_to_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    cd_rc rc = x->wl->scale_to_zero(x, c, err);
    cdk_target_forget(x);
    return rc;
}

static cd_rc scale_from_zero(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    cdk_ctx *x = ctx;
    cd_rc rc = x->wl->scale_from_zero(x, c, err);
    cdk_target_forget(x);
    return rc;
}

/* ---- the primary HPA ------------------------------------------------------ */

typedef struct hpa_ud { const json_t *want; bool init; } hpa_ud;

static int hpa_mutate(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    hpa_ud *h = ud;
    return !h->init && cdk_hpa_update(live, h->want) ? 1 : 0;
}

static cd_rc reconcile_primary_scaler(void *ctx, const cd_canary_ref *c, bool init, cd_err *err)
{
    cdk_ctx *x = ctx;
    const cd_autoscaler_ref *ar = &c->spec->autoscaler_ref;
    if (!ar->set)
        return CD_OK;
    const char *kind = ar->ref.kind ? ar->ref.kind : "";
    bool keda = cdk_is_scaled_object(c);
    if (strcmp(kind, "HorizontalPodAutoscaler") != 0 && !keda) {
        cd_errfmt(err, "autoscalerRef kind %s is not supported by canaryd kube "
                       "(HorizontalPodAutoscaler and ScaledObject are)",
                  kind);
        return CD_ERROR;
    }
    if (!x->wl->autoscalers) {
        cd_errfmt(err, "a %s cannot have an autoscaler", x->wl->kind);
        return CD_ERROR;
    }
    if (keda)
        return cdk_keda_reconcile(x, c, init, err);
    json_t *hpa = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, &CD_KUBE_HPAS, x->ns, ar->ref.name, &hpa, &ke)) {
        cdk_err_from_kube(err, &ke, "HorizontalPodAutoscaler %s.%s get query error",
                          ar->ref.name ? ar->ref.name : "", x->ns);
        return CD_ERROR;
    }
    char pname[300];
    primary_name(x, pname, sizeof pname);
    json_t *want = cdk_primary_hpa(hpa, pname, ar, x->owner_ref);
    json_decref(hpa);
    hpa_ud ud = {want, init};
    bool created = false;
    bool ok = cdk_apply(x, &CD_KUBE_HPAS, want, hpa_mutate, &ud, &created, &ke);
    if (ok && created)
        cd_logf(CD_LOG_INFO, x->key, "HorizontalPodAutoscaler %s.%s created", cd_kobj_name(want), x->ns);
    if (!ok)
        cdk_err_from_kube(err, &ke, "reconciling HorizontalPodAutoscaler %s.%s failed",
                          cd_kobj_name(want), x->ns);
    json_decref(want);
    return ok ? CD_OK : CD_ERROR;
}

bool cdk_is_scaled_object(const cd_canary_ref *c)
{
    const cd_autoscaler_ref *ar = &c->spec->autoscaler_ref;
    return ar->set && ar->ref.kind && !strcmp(ar->ref.kind, "ScaledObject");
}

/* A KEDA ScaledObject would scale the canary back up from zero: paused
 * while it is there (Flagger's PauseTargetScaler); an HPA leaves a
 * Deployment at 0 replicas alone. */
static cd_rc pause_target_scaler(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    return cdk_is_scaled_object(c) ? cdk_keda_pause(ctx, c, err) : CD_OK;
}

static cd_rc resume_target_scaler(void *ctx, const cd_canary_ref *c, cd_err *err)
{
    return cdk_is_scaled_object(c) ? cdk_keda_resume(ctx, c, err) : CD_OK;
}

/* ---- adoption ---------------------------------------------------------------- */

static bool same_without_id(const json_t *target_ann, const json_t *primary_ann)
{
    json_t *a = cdk_without_toolkit(target_ann);   /* never copied to a primary */
    json_t *b = cdk_without_toolkit(primary_ann);
    json_object_del(a, CDK_FLAGGER_ID);
    json_object_del(b, CDK_FLAGGER_ID);
    bool eq = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return eq;
}

bool cdk_primary_matches_target(cdk_ctx *x)
{
    cd_err err = {{0}};
    const json_t *t = cdk_target(x, &err);
    if (!t || !cdk_target_metadata(x, &err) || !load_configs(x, &err))
        return false;
    json_t *primary = NULL;
    cd_kube_err ke;
    if (!cdk_get_primary(x, &primary, &ke))
        return false;
    cdk_primary_in in;
    fill_primary_in(x, &in, t, "");
    json_t *want_spec = cdk_primary_pod_spec(&in);
    char pvalue[300];
    snprintf(pvalue, sizeof pvalue, "%s-primary", x->value);
    json_t *want_labels = cdk_with_label(kj_at(t, "spec.template.metadata.labels"), x->label, pvalue);
    bool same = json_equal(want_spec, kj_at(primary, "spec.template.spec")) &&
                kj_equal(want_labels, kj_at(primary, "spec.template.metadata.labels")) &&
                same_without_id(kj_at(t, "spec.template.metadata.annotations"),
                                kj_at(primary, "spec.template.metadata.annotations"));
    json_decref(want_spec);
    json_decref(want_labels);
    json_decref(primary);
    return same;
}

void cdk_workload_port(cd_workload_port *p, cdk_ctx *x)
{
    memset(p, 0, sizeof *p);
    p->ctx = x;
    p->initialize = initialize;
    p->is_primary_ready = is_primary_ready;
    p->is_canary_ready = is_canary_ready;
    p->target_hash = target_hash;
    p->tracked_configs = tracked_configs;
    p->promote = promote;
    p->scale_to_zero = scale_to_zero;
    p->scale_from_zero = scale_from_zero;
    p->reconcile_primary_scaler = reconcile_primary_scaler;
    p->pause_target_scaler = pause_target_scaler;
    p->resume_target_scaler = resume_target_scaler;
}
