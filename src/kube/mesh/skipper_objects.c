/* skipper_objects.c - the canary Ingress of provider `skipper` (ingress.h;
 * Flagger's SkipperRouter): a copy of the user's Ingress whose paths to
 * the apex Service go to both <svc>-primary and <svc>-canary, weighted by
 * zalando.org/backend-weights, and given priority over the user's Ingress
 * by the Weight(100) predicate (False() switches it off at weight 0).
 * Pure functions on jansson values: must not do I/O, and must accept any
 * live JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define ROUTE_WEIGHT "Weight(100)"
#define ROUTE_OFF "False()"

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider skipper cannot %s: Flagger's Skipper canary Ingress only splits "
                   "requests by backend weight",
              what);
    return false;
}

bool cdk_skipper_check(const cd_canary_spec *spec, cd_err *err)
{
    const cd_analysis *an = &spec->analysis;
    if (an->mirror)
        return refuse(err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(err, "pin sessions to the canary (analysis.sessionAffinity)");
    if (an->n_match)
        return refuse(err, "route requests by header, cookie or path (analysis.match; use "
                           "iterations without match for blue/green)");
    return true;
}

/* Each path to the apex Service sent to <svc>-primary and followed by a
 * copy to <svc>-canary; the number of such paths. */
static size_t split_paths(json_t *spec, const char *svc)
{
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(spec, "rules"), i, r) {
        json_t *paths = kj_at(r, "http.paths");
        if (!json_is_array(paths))
            continue;
        json_t *out = json_array();
        size_t j;
        json_t *p;
        json_array_foreach(paths, j, p) {
            json_array_append(out, p);
            const char *name = kj_str(p, "backend.service.name");
            if (!name || strcmp(name, svc))
                continue;
            json_t *c = json_deep_copy(p);
            json_object_set_new(kj_at(p, "backend.service"), "name", json_string(pname));
            json_object_set_new(kj_at(c, "backend.service"), "name", json_string(cname));
            json_array_append_new(out, c);
            n++;
        }
        json_object_set_new(json_object_get(r, "http"), "paths", out);
    }
    return n;
}

/* "<insert> && <the other predicates of raw>", without earlier Weight(100)
 * or False(). */
static json_t *predicate(const char *raw, const char *insert)
{
    size_t cap = strlen(insert) + (raw ? strlen(raw) : 0) * 2 + 8, o = 0;
    char *out = malloc(cap);
    if (!out)
        abort();
    o += (size_t)snprintf(out, cap, "%s", insert);
    const char *s = raw ? raw : "";
    while (*s) {
        const char *amp = strstr(s, "&&");
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *b = s, *e = s + len;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\n'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
            e--;
        size_t n = (size_t)(e - b);
        bool ours = (n == strlen(ROUTE_WEIGHT) && !strncmp(b, ROUTE_WEIGHT, n)) ||
                    (n == strlen(ROUTE_OFF) && !strncmp(b, ROUTE_OFF, n));
        if (n && !ours)
            o += (size_t)snprintf(out + o, cap - o, " && %.*s", (int)n, b);
        s = amp ? amp + 2 : s + len;
    }
    json_t *j = json_string(out);
    free(out);
    return j;
}

static void set_weights(json_t *anns, const cdk_skipper_in *in, int primary, int canary)
{
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", in->svc);
    snprintf(cname, sizeof cname, "%s-canary", in->svc);
    json_t *w = json_pack("{s:i, s:i}", pname, primary, cname, canary);
    char *text = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);   /* as Go marshals a map */
    json_decref(w);
    json_object_set_new(anns, CDK_SKIPPER_WEIGHTS, json_string(text ? text : "{}"));
    free(text);
    const char *raw = json_string_value(json_object_get(anns, CDK_SKIPPER_PREDICATE));
    json_object_set_new(anns, CDK_SKIPPER_PREDICATE,
                        predicate(raw, canary > 0 ? ROUTE_WEIGHT : ROUTE_OFF));
}

json_t *cdk_skipper_canary_ingress(const cdk_skipper_in *in, const json_t *ingress,
                                   const char *name, cd_err *err)
{
    json_t *spec = json_is_object(json_object_get(ingress, "spec"))
                       ? json_deep_copy(json_object_get(ingress, "spec"))
                       : json_object();
    if (!split_paths(spec, in->svc)) {
        cd_errfmt(err, "backend %s not found in ingress %s", in->svc,
                  kj_str(ingress, "metadata.name") ? kj_str(ingress, "metadata.name") : "");
        json_decref(spec);
        return NULL;
    }
    json_t *anns = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(kj_at(ingress, "metadata.annotations"), k, v)
        if (json_is_string(v) && strcmp(k, LAST_APPLIED))
            json_object_set(anns, k, v);
    json_object_set_new(anns, "kustomize.toolkit.fluxcd.io/reconcile", json_string("disabled"));
    json_object_set_new(anns, "helm.toolkit.fluxcd.io/driftDetection", json_string("disabled"));
    set_weights(anns, in, 100, 0);
    /* as Flagger creates it: the canary Ingress routes (to the primary) */
    json_object_set_new(anns, CDK_SKIPPER_PREDICATE,
                        predicate(json_string_value(json_object_get(anns, CDK_SKIPPER_PREDICATE)),
                                  ROUTE_WEIGHT));
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

json_t *cdk_skipper_update(const json_t *live, const json_t *desired)
{
    const json_t *want = json_object_get(desired, "spec");
    if (json_equal(json_object_get(live, "spec"), (json_t *)want))
        return NULL;
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", json_deep_copy(want));
    json_object_del(out, "status");
    return out;
}

void cdk_skipper_set_routes(json_t *ingress, const cdk_skipper_in *in, int primary, int canary)
{
    json_t *md = kj_obj(ingress, "metadata");
    json_t *anns = kj_obj(md, "annotations");
    set_weights(anns, in, primary < 0 ? 0 : primary, canary < 0 ? 0 : canary);
}

bool cdk_skipper_get_routes(const json_t *ingress, const cdk_skipper_in *in, int *primary,
                            int *canary, cd_err *err)
{
    *primary = *canary = 0;
    const char *name = kj_str(ingress, "metadata.name") ? kj_str(ingress, "metadata.name") : "";
    const char *text =
        json_string_value(json_object_get(kj_at(ingress, "metadata.annotations"), CDK_SKIPPER_WEIGHTS));
    if (!text) {
        cd_errfmt(err, "ingress %s.%s has no annotation %s", name, in->ns, CDK_SKIPPER_WEIGHTS);
        return false;
    }
    json_t *w = json_loads(text, 0, NULL);
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", in->svc);
    snprintf(cname, sizeof cname, "%s-canary", in->svc);
    json_t *p = json_object_get(w, pname), *c = json_object_get(w, cname);
    bool ok = json_is_number(p) && json_is_number(c);
    if (ok) {
        double pv = json_number_value(p), cv = json_number_value(c);
        *primary = pv < 0 ? 0 : pv > 100 ? 100 : (int)pv;
        *canary = cv < 0 ? 0 : cv > 100 ? 100 : (int)cv;
    } else {
        cd_errfmt(err, "ingress %s.%s annotation %s: \"%.64s\" does not give %s and %s a weight", name,
                  in->ns, CDK_SKIPPER_WEIGHTS, text, pname, cname);
    }
    json_decref(w);
    return ok;
}
