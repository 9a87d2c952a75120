/* nginx_objects.c - the canary Ingress of provider `nginx` and the NGINX
 * canary annotations on it (ingress.h; Flagger's IngressRouter): built,
 * compared, read and written as pure functions on jansson values. Must not
 * do I/O, and must accept any live JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "kube/workload/builders.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static bool has(const char *s) { return s && *s; }

static const char *prefix_of(const cdk_nginx_in *in)
{
    return has(in->prefix) ? in->prefix : CDK_NGINX_PREFIX;
}

/* "<prefix>/<suffix>" */
static const char *key(char *buf, size_t n, const cdk_nginx_in *in, const char *suffix)
{
    snprintf(buf, n, "%s/%s", prefix_of(in), suffix);
    return buf;
}

/* ---- what NGINX can do ------------------------------------------------------------ */

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider nginx cannot %s: NGINX canary annotations split requests by weight or "
                   "route one header and one cookie to the canary",
              what);
    return false;
}

/* One analysis.match entry's headers into ab. */
static bool match_headers(const cd_http_match *m, size_t idx, cdk_nginx_ab *ab, cd_err *err)
{
    char what[160];
    for (size_t j = 0; j < m->headers.n; j++) {
        const cd_named_match *h = &m->headers.items[j];
        const cd_string_match *s = &h->match;
        if (!has(h->name))
            continue;
        if (!strcasecmp(h->name, "cookie")) {
            if (!has(s->exact)) {
                snprintf(what, sizeof what, "match a cookie other than by its name "
                                            "(analysis.match[%zu].headers.cookie needs exact)", idx);
                return refuse(err, what);
            }
            if (ab->cookie && strcmp(ab->cookie, s->exact)) {
                snprintf(what, sizeof what, "match two cookies (analysis.match[%zu])", idx);
                return refuse(err, what);
            }
            ab->cookie = s->exact;
            continue;
        }
        if (s->prefix || s->suffix) {
            snprintf(what, sizeof what, "match header %s by prefix or suffix "
                                        "(analysis.match[%zu]; exact or regex only)", h->name, idx);
            return refuse(err, what);
        }
        if (ab->header && strcasecmp(ab->header, h->name)) {
            snprintf(what, sizeof what, "match two headers (%s and %s, analysis.match[%zu])",
                     ab->header, h->name, idx);
            return refuse(err, what);
        }
        ab->header = h->name;
        ab->value = s->exact;
        ab->pattern = s->exact ? NULL : s->regex;
    }
    return true;
}

bool cdk_nginx_check(const cd_canary_spec *spec, cdk_nginx_ab *ab, cd_err *err)
{
    memset(ab, 0, sizeof *ab);
    const cd_analysis *an = &spec->analysis;
    if (an->mirror)
        return refuse(err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(err, "pin sessions to the canary (analysis.sessionAffinity)");
    char what[160];
    for (size_t i = 0; i < an->n_match; i++) {
        const cd_http_match *m = &an->match[i];
        const char *other = cd_string_match_set(&m->uri)         ? "uri"
                            : cd_string_match_set(&m->method)    ? "method"
                            : cd_string_match_set(&m->scheme)    ? "scheme"
                            : cd_string_match_set(&m->authority) ? "authority"
                            : m->query_params.n                  ? "queryParams"
                            : m->without_headers.n               ? "withoutHeaders"
                            : m->has_port                        ? "port"
                            : m->source_labels.n                 ? "sourceLabels"
                            : has(m->source_namespace)           ? "sourceNamespace"
                                                                 : NULL;
        if (other) {
            snprintf(what, sizeof what, "match requests by %s (analysis.match[%zu].%s)", other, i,
                     other);
            return refuse(err, what);
        }
        if (!match_headers(m, i, ab, err))
            return false;
    }
    if (an->n_match && !ab->header && !ab->cookie)
        return refuse(err, "run an A/B test without a header or cookie (analysis.match)");
    return true;
}

bool cdk_ingress_canary_name(const char *provider, const cd_canary_spec *spec, char *out, size_t n,
                             cd_err *err)
{
    const char *ing = spec->has_ingress_ref ? spec->ingress_ref.name : NULL;
    if (!has(ing)) {
        cd_errfmt(err, "provider %s needs spec.ingressRef.name (the Ingress to copy)", provider);
        return false;
    }
    int len = snprintf(out, n, "%s-canary", ing);
    if (len < 0 || (size_t)len >= n || len > 253) {
        cd_errfmt(err, "spec.ingressRef.name %.64s...: <name>-canary is too long for an Ingress name",
                  ing);
        return false;
    }
    return true;
}

/* ---- the canary Ingress ------------------------------------------------------------- */

/* Flux's reconcile and drift detection off on what canaryd writes. */
static void toolkit_off(json_t *a)
{
    json_object_set_new(a, "kustomize.toolkit.fluxcd.io/reconcile", json_string("disabled"));
    json_object_set_new(a, "helm.toolkit.fluxcd.io/driftDetection", json_string("disabled"));
}

/* annotations without any "<prefix>/canary*" key (nor last-applied),
 * then canary: "true" and canary-weight: "0". New object. */
static json_t *reset_annotations(const json_t *annotations, const cdk_nginx_in *in)
{
    char canary[300], weight[300];
    key(canary, sizeof canary, in, "canary");
    key(weight, sizeof weight, in, "canary-weight");
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)annotations, k, v)
        if (json_is_string(v) && strncmp(k, canary, strlen(canary)) && strcmp(k, LAST_APPLIED))
            json_object_set(out, k, v);
    toolkit_off(out);
    json_object_set_new(out, canary, json_string("true"));
    json_object_set_new(out, weight, json_string("0"));
    return out;
}

/* Paths of spec's rules whose backend is the apex Service, sent to
 * <svc>-canary; the number changed. */
static size_t to_canary(json_t *spec, const char *svc)
{
    char cname[300];
    snprintf(cname, sizeof cname, "%s-canary", svc);
    size_t n = 0, i, j;
    json_t *r, *p;
    json_array_foreach(json_object_get(spec, "rules"), i, r) {
        json_array_foreach(kj_at(r, "http.paths"), j, p) {
            json_t *s = kj_at(p, "backend.service");
            const char *name = kj_str(s, "name");
            if (json_is_object(s) && name && !strcmp(name, svc)) {
                json_object_set_new(s, "name", json_string(cname));
                n++;
            }
        }
    }
    return n;
}

json_t *cdk_nginx_canary_ingress(const cdk_nginx_in *in, const json_t *ingress, const char *name,
                                 cd_err *err)
{
    json_t *spec = json_is_object(json_object_get(ingress, "spec"))
                       ? json_deep_copy(json_object_get(ingress, "spec"))
                       : json_object();
    if (!to_canary(spec, in->svc)) {
        cd_errfmt(err, "backend %s not found in ingress %s", in->svc,
                  kj_str(ingress, "metadata.name") ? kj_str(ingress, "metadata.name") : "");
        json_decref(spec);
        return NULL;
    }
    json_t *a = kj_at(ingress, "metadata.annotations");
    json_t *anns = reset_annotations(json_is_object(a) ? a : NULL, in);
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:o}", "apiVersion", "networking.k8s.io/v1",
                          "kind", "Ingress", "metadata", "name", name, "namespace", in->ns,
                          "annotations", anns, "spec", spec);
    json_t *labels = kj_at(ingress, "metadata.labels");
    if (kj_is_string_map(labels) && json_object_size(labels))
        json_object_set_new(json_object_get(o, "metadata"), "labels", json_deep_copy(labels));
    if (in->owner_ref)
        json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
                            json_pack("[O]", in->owner_ref));
    return o;
}

json_t *cdk_nginx_update(const json_t *live, const json_t *desired)
{
    const json_t *want = json_object_get(desired, "spec");
    if (json_equal(json_object_get(live, "spec"), (json_t *)want))
        return NULL;
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", json_deep_copy(want));
    json_object_del(out, "status");
    return out;
}

/* ---- weights -------------------------------------------------------------------------- */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (has(v))
        json_object_set_new(o, k, json_string(v));
}

void cdk_nginx_set_routes(json_t *ingress, const cdk_nginx_in *in, const cdk_nginx_ab *ab,
                          int canary)
{
    json_t *md = kj_obj(ingress, "metadata");
    json_t *anns = reset_annotations(json_is_object(json_object_get(md, "annotations"))
                                         ? json_object_get(md, "annotations")
                                         : NULL,
                                     in);
    char k[300];
    if (canary > 0 && in->spec->analysis.n_match) {   /* A/B; canary-weight stays "0" */
        set_str(anns, key(k, sizeof k, in, "canary-by-cookie"), ab->cookie);
        set_str(anns, key(k, sizeof k, in, "canary-by-header"), ab->header);
        set_str(anns, key(k, sizeof k, in, "canary-by-header-value"), ab->value);
        set_str(anns, key(k, sizeof k, in, "canary-by-header-pattern"), ab->pattern);
    } else if (canary > 0) {
        char w[16];
        snprintf(w, sizeof w, "%d", canary > 100 ? 100 : canary);
        json_object_set_new(anns, key(k, sizeof k, in, "canary-weight"), json_string(w));
    }
    json_object_set_new(md, "annotations", anns);
}

bool cdk_nginx_get_routes(const json_t *ingress, const cdk_nginx_in *in, int *primary,
                          int *canary, cd_err *err)
{
    json_t *anns = kj_at(ingress, "metadata.annotations");
    char k[300];
    *primary = 100;
    *canary = 0;
    if (in->spec->analysis.n_match &&
        (json_object_get(anns, key(k, sizeof k, in, "canary-by-cookie")) ||
         json_object_get(anns, key(k, sizeof k, in, "canary-by-header")))) {
        *primary = 0;
        *canary = 100;
        return true;
    }
    const char *w = json_string_value(json_object_get(anns, key(k, sizeof k, in, "canary-weight")));
    if (!w)
        return true;
    char *end = NULL;
    long v = strtol(w, &end, 10);
    if (!*w || *end || v < 0 || v > 100) {
        cd_errfmt(err, "ingress %s.%s annotation %s: \"%.32s\" is not a weight (0 to 100)",
                  kj_str(ingress, "metadata.name") ? kj_str(ingress, "metadata.name") : "", in->ns,
                  k, w);
        return false;
    }
    *canary = (int)v;
    *primary = 100 - *canary;
    return true;
}
