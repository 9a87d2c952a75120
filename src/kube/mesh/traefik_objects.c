/* traefik_objects.c - the TraefikService of provider `traefik` (ingress.h;
 * Flagger's TraefikRouter): a weighted round robin over <svc>-primary and
 * <svc>-canary, the object around it, how a live one is brought in line
 * and which weights it carries, and what a Canary asks for that it cannot
 * express. Pure functions on jansson values: must not do I/O, and must
 * accept any live JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/builders.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <string.h>

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider traefik cannot %s: Flagger's TraefikService only splits requests by "
                   "weight",
              what);
    return false;
}

bool cdk_traefik_check(const cd_canary_spec *spec, cd_err *err)
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

static json_t *service(const cdk_traefik_in *in, const char *suffix, int weight)
{
    char name[300];
    snprintf(name, sizeof name, "%s-%s", in->svc, suffix);
    return json_pack("{s:s, s:s, s:i, s:i}", "name", name, "namespace", in->ns, "port",
                     (int)in->spec->service.port, "weight", weight < 0 ? 0 : weight);
}

json_t *cdk_traefik_spec(const cdk_traefik_in *in, int primary, int canary)
{
    json_t *services = json_pack("[o]", service(in, "primary", primary));
    if (canary > 0)
        json_array_append_new(services, service(in, "canary", canary));
    return json_pack("{s:{s:o}}", "weighted", "services", services);
}

json_t *cdk_traefik_object(const cdk_traefik_in *in, json_t *spec)
{
    const cd_service *s = &in->spec->service;
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", CDK_TRAEFIK_GROUP "/v1alpha1",
                          "kind", "TraefikService", "metadata", "name", in->svc, "namespace", in->ns,
                          "spec", spec);
    json_t *md = json_object_get(o, "metadata");
    json_t *labels = s->has_apex ? kj_strmap(&s->apex.labels) : json_object();
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else
        json_decref(labels);
    json_object_set_new(md, "annotations", cdk_router_annotations(s->has_apex ? &s->apex : NULL));
    if (in->owner_ref)
        json_object_set_new(md, "ownerReferences", json_pack("[O]", in->owner_ref));
    return o;
}

static json_t *without_weights(const json_t *spec)
{
    json_t *n = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    size_t i;
    json_t *s;
    json_array_foreach(kj_at(n, "weighted.services"), i, s)
        if (json_is_object(s))
            json_object_del(s, "weight");
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

json_t *cdk_traefik_update(const json_t *live, const json_t *desired)
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
    json_object_set_new(out, "spec", kj_copy(json_object_get(desired, "spec")));
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

bool cdk_traefik_get_weights(const json_t *ts, const char *svc, int *primary, int *canary,
                             cd_err *err)
{
    *primary = *canary = 0;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    bool found = false;
    size_t i;
    json_t *s;
    json_array_foreach(kj_at(ts, "spec.weighted.services"), i, s) {
        const char *n = kj_str(s, "name");
        json_int_t w = json_integer_value(json_object_get(s, "weight"));
        w = w < 0 ? 0 : w > 100 ? 100 : w;
        if (n && !strcmp(n, pname)) {
            *primary = (int)w;
            found = true;
        } else if (n && !strcmp(n, cname)) {
            *canary = (int)w;
        }
    }
    if (!found) {
        cd_errfmt(err, "TraefikService %s.%s services not found (no weighted service %s)", svc,
                  kj_str(ts, "metadata.namespace") ? kj_str(ts, "metadata.namespace") : "", pname);
        return false;
    }
    return true;
}
