/* lookups.c - where a tick finds MetricTemplates and AlertProviders (the
 * informer caches, decoded with the same rules as canaryctl validate) and
 * Secrets (read from the API server each time, as Flagger does, so a
 * rotated credential is used at once). Decoded objects live until the
 * tick's cdk_lookups_release. Also the API access metric providers get
 * (cdk_provider_cluster); only the keptn provider writes with it (the
 * Analysis objects it creates and deletes), nothing here does. */
#include "kube/api.h"
#include "kube/kjson.h"
#include "kube/operator/operator.h"
#include "util/errfmt.h"
#include <stdlib.h>
#include <string.h>

void cdk_lookups_init(cdk_lookups *l, cdk_operator *op)
{
    memset(l, 0, sizeof *l);
    l->op = op;
    pthread_mutex_init(&l->mu, NULL);
}

void cdk_lookups_release(cdk_lookups *l)
{
    cd_object_list_free(&l->decoded);
    pthread_mutex_destroy(&l->mu);
}

static cd_object *decode_cached(cdk_lookups *l, cd_informer *inf, const char *kind, const char *ns,
                                const char *name, const char *what, cd_err *err)
{
    json_t *j = inf ? cd_informer_get(inf, ns, name) : NULL;
    if (!j) {
        cd_errfmt(err, "%s.flagger.app \"%s\" not found", what, name ? name : "");
        return NULL;
    }
    cd_err derr = {{0}};
    cd_object *o = cdk_decode(j, kind, &derr);
    json_decref(j);
    if (!o) {
        cd_errfmt(err, "%s %s.%s is invalid: %s", what, name, ns, derr.msg);
        return NULL;
    }
    pthread_mutex_lock(&l->mu);
    cd_object_list_push(&l->decoded, o);
    pthread_mutex_unlock(&l->mu);
    return o;
}

static const cd_metric_template_spec *find_template(void *ctx, const char *ns, const char *name,
                                                    cd_err *err)
{
    cdk_lookups *l = ctx;
    cd_object *o = decode_cached(l, l->op->templates, "MetricTemplate", ns, name, "metrictemplate", err);
    return o && o->kind == CD_KIND_METRIC_TEMPLATE ? &o->spec.metric_template : NULL;
}

static const cd_alert_provider_spec *find_alert_provider(void *ctx, const char *ns, const char *name,
                                                         cd_err *err)
{
    cdk_lookups *l = ctx;
    cd_object *o = decode_cached(l, l->op->providers, "AlertProvider", ns, name, "alertprovider", err);
    return o && o->kind == CD_KIND_ALERT_PROVIDER ? &o->spec.alert_provider : NULL;
}

cd_store cdk_lookups_store(cdk_lookups *l)
{
    cd_store s = {l, find_template, find_alert_provider};
    return s;
}

/* ---- Secrets ----------------------------------------------------------------- */

static cd_secret_rc load_secret(void *ctx, const char *ns, const char *name, cd_secret *out,
                                cd_err *err)
{
    cdk_operator *op = ctx;
    json_t *sec = NULL;
    cd_kube_err ke;
    if (!cd_kube_get(op->kc, &CD_KUBE_SECRETS, ns, name, &sec, &ke)) {
        cdk_err_from_kube(err, &ke, "secret %s.%s", name ? name : "", ns ? ns : "");
        return cd_kube_is_not_found(&ke) ? CD_SECRET_NOT_FOUND : CD_SECRET_ERROR;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sec, "data"), k, v) {
        const char *b64 = json_string_value(v);
        cd_kube_blob blob = {0};
        if (!b64 || !cd_kube_base64_decode(b64, strlen(b64), &blob)) {
            cd_errfmt(err, "secret %s.%s: key %s is not base64", name, ns, k);
            json_decref(sec);
            return CD_SECRET_ERROR;
        }
        if (blob.len > CD_SECRET_MAX_VALUE) {
            free(blob.data);
            cd_errfmt(err, "secret %s.%s: key %s is larger than 1 MiB", name, ns, k);
            json_decref(sec);
            return CD_SECRET_ERROR;
        }
        cd_secret_put(out, k, (const char *)(blob.data ? blob.data : (unsigned char *)""), blob.len);
        free(blob.data);
    }
    json_decref(sec);
    return CD_SECRET_FOUND;
}

cd_secret_source cdk_secret_source(cdk_operator *op)
{
    cd_secret_source s = {op, load_secret};
    return s;
}

/* ---- the API server, for metric providers (externalmetrics) ------------------ */

static bool cluster_request(void *ctx, const char *method, const char *path, const json_t *body,
                            json_t **out, bool *not_found, cd_err *err)
{
    cdk_operator *op = ctx;
    cd_kube_err ke;
    if (cd_kube_request(op->kc, method, path, NULL, body, out, &ke))
        return true;
    if (not_found)
        *not_found = cd_kube_is_not_found(&ke);
    cdk_err_from_kube(err, &ke, "%s %s", method, path);
    return false;
}

cd_provider_cluster cdk_provider_cluster(cdk_operator *op)
{
    cd_provider_cluster c = {op, cluster_request};
    return c;
}
