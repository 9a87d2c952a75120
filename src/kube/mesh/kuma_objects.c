/* kuma_objects.c - the TrafficRoute of provider `kuma` (ingress.h;
 * Flagger's KumaRouter): a cluster-scoped kuma.io/v1alpha1 TrafficRoute
 * splitting the Kuma service <svc>_<ns>_svc_<port> between the primary's
 * and the canary's; how a live one is brought in line and which weights it
 * carries; what a Canary asks for that it cannot express. Pure functions
 * on jansson values: must not do I/O, and must accept any live JSON
 * without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <string.h>

#define SERVICE_TAG "kuma.io/service"

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider kuma cannot %s: Flagger's Kuma TrafficRoute only splits requests by "
                   "weight",
              what);
    return false;
}

bool cdk_kuma_check(const cd_canary_spec *spec, cd_err *err)
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

/* "<name><suffix>_<ns>_svc_<port>" */
static void kuma_service(const cdk_kuma_in *in, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s%s_%s_svc_%d", in->svc, suffix,
             in->meta->namespace_ ? in->meta->namespace_ : "", (int)in->spec->service.port);
}

json_t *cdk_kuma_spec(const cdk_kuma_in *in, int primary, int canary)
{
    char apex[400], p[400], c[400];
    kuma_service(in, "", apex, sizeof apex);
    kuma_service(in, "-primary", p, sizeof p);
    kuma_service(in, "-canary", c, sizeof c);
    return json_pack("{s:[{s:{s:s}}], s:[{s:{s:s}}], s:{s:[{s:i, s:{s:s}}, {s:i, s:{s:s}}]}}",
                     "sources", "match", SERVICE_TAG, "*", "destinations", "match", SERVICE_TAG,
                     apex, "conf", "split", "weight", primary < 0 ? 0 : primary, "destination",
                     SERVICE_TAG, p, "weight", canary < 0 ? 0 : canary, "destination", SERVICE_TAG,
                     c);
}

static const char *mesh_of(const cd_object_meta *m)
{
    for (size_t i = 0; i < m->annotations.n; i++)
        if (!strcmp(m->annotations.items[i].key, CDK_KUMA_MESH_ANNOTATION) &&
            m->annotations.items[i].value && *m->annotations.items[i].value)
            return m->annotations.items[i].value;
    return "default";
}

json_t *cdk_kuma_object(const cdk_kuma_in *in, json_t *spec)
{
    const cd_service *s = &in->spec->service;
    json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:s, s:o}", "apiVersion", CDK_KUMA_GROUP "/v1alpha1",
                          "kind", "TrafficRoute", "metadata", "name", in->svc, "mesh",
                          mesh_of(in->meta), "spec", spec);
    json_t *md = json_object_get(o, "metadata");
    json_t *labels = s->has_apex ? kj_strmap(&s->apex.labels) : json_object();
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else
        json_decref(labels);
    json_object_set_new(md, "annotations", cdk_router_annotations(s->has_apex ? &s->apex : NULL));
    return o;
}

static json_t *without_weights(const json_t *spec)
{
    json_t *n = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    size_t i;
    json_t *x;
    json_array_foreach(kj_at(n, "conf.split"), i, x)
        if (json_is_object(x))
            json_object_del(x, "weight");
    return n;
}

static bool same_map(const json_t *a, const json_t *b)
{
    if (!json_is_object(a) || !json_object_size(a))
        a = NULL;
    if (!json_is_object(b) || !json_object_size(b))
        b = NULL;
    return kj_equal(a, b);
}

json_t *cdk_kuma_update(const json_t *live, const json_t *desired)
{
    json_t *a = without_weights(json_object_get(live, "spec"));
    json_t *b = without_weights(json_object_get(desired, "spec"));
    bool spec_ok = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    json_t *want_labels = kj_at(desired, "metadata.labels");
    json_t *want_anns = kj_at(desired, "metadata.annotations");
    if (spec_ok && same_map(want_labels, kj_at(live, "metadata.labels")) &&
        same_map(want_anns, kj_at(live, "metadata.annotations")))
        return NULL;
    json_t *out = json_deep_copy(live);
    json_t *spec = kj_copy(json_object_get(desired, "spec"));
    /* the weights the live route carries, by destination */
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(kj_at(spec, "conf.split"), i, x) {
        const char *d =
            json_string_value(json_object_get(json_object_get(x, "destination"), SERVICE_TAG));
        json_array_foreach(kj_at(live, "spec.conf.split"), j, y) {
            const char *e =
                json_string_value(json_object_get(json_object_get(y, "destination"), SERVICE_TAG));
            if (d && e && !strcmp(d, e) && json_is_integer(json_object_get(y, "weight")))
                json_object_set(x, "weight", json_object_get(y, "weight"));
        }
    }
    json_object_set_new(out, "spec", spec);
    json_t *md = kj_obj(out, "metadata");
    if (json_is_object(want_labels) && json_object_size(want_labels))
        json_object_set(md, "labels", want_labels);
    else
        json_object_del(md, "labels");
    if (json_is_object(want_anns) && json_object_size(want_anns))
        json_object_set(md, "annotations", want_anns);
    else
        json_object_del(md, "annotations");
    return out;
}

bool cdk_kuma_get_weights(const json_t *tr, const cdk_kuma_in *in, int *primary, int *canary,
                          cd_err *err)
{
    *primary = *canary = 0;
    char p[400], c[400];
    kuma_service(in, "-primary", p, sizeof p);
    kuma_service(in, "-canary", c, sizeof c);
    size_t i;
    json_t *x;
    json_array_foreach(kj_at(tr, "spec.conf.split"), i, x) {
        const char *d =
            json_string_value(json_object_get(json_object_get(x, "destination"), SERVICE_TAG));
        json_int_t w = json_integer_value(json_object_get(x, "weight"));
        w = w < 0 ? 0 : w > 100 ? 100 : w;
        if (d && !strcmp(d, p))
            *primary = (int)w;
        else if (d && !strcmp(d, c))
            *canary = (int)w;
    }
    if (!*primary && !*canary) {
        cd_errfmt(err, "TrafficRoute %s does not contain routes for %s-primary and %s-canary", in->svc,
                  in->svc, in->svc);
        return false;
    }
    return true;
}
