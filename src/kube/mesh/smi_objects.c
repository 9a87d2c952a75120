/* smi_objects.c - the SMI TrafficSplit of providers linkerd, smi:v1alpha1,
 * smi:v1alpha2, smi:v1alpha3 and osm (ingress.h; Flagger's SmiRouter and
 * its v1alpha2/v1alpha3 twins): its spec at a pair of weights, the object
 * around it, how a live one is brought in line and which weights it
 * carries, and what a Canary asks for that it cannot express. Pure
 * functions on jansson values: must not do I/O, and must accept any live
 * JSON without crashing. */
#include "kube/kjson.h"
#include "kube/mesh/ingress.h"
#include "util/errfmt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(const cdk_smi_in *in, cd_err *err, const char *what)
{
    cd_errfmt(err, "provider %s cannot %s: Flagger's SMI TrafficSplit only splits requests by "
                   "weight",
              in->provider, what);
    return false;
}

bool cdk_smi_check(const cdk_smi_in *in, cd_err *err)
{
    const cd_analysis *an = &in->spec->analysis;
    if (an->mirror)
        return refuse(in, err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(in, err, "pin sessions to the canary (analysis.sessionAffinity)");
    if (an->n_match)
        return refuse(in, err, "route requests by header, cookie or path (analysis.match; use "
                               "iterations without match for blue/green)");
    return true;
}

static bool quantities(const cdk_smi_in *in) { return !strcmp(in->version, "v1alpha1"); }

static json_t *weight(const cdk_smi_in *in, int w)
{
    if (w < 0)
        w = 0;
    if (!quantities(in))
        return json_integer(w);
    char s[16];
    snprintf(s, sizeof s, "%d", w);
    return json_string(s);
}

json_t *cdk_smi_spec(const cdk_smi_in *in, int primary, int canary)
{
    const cd_strlist *hosts = &in->spec->service.hosts;
    const char *service = hosts->n && hosts->items[0] && *hosts->items[0] ? hosts->items[0] : in->svc;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", in->svc);
    snprintf(cname, sizeof cname, "%s-canary", in->svc);
    return json_pack("{s:s, s:[{s:s, s:o}, {s:s, s:o}]}", "service", service, "backends", "service",
                     cname, "weight", weight(in, canary), "service", pname, "weight",
                     weight(in, primary));
}

json_t *cdk_smi_object(const cdk_smi_in *in, json_t *spec)
{
    char av[64];
    snprintf(av, sizeof av, CDK_SMI_GROUP "/%s", in->version);
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", av, "kind", "TrafficSplit",
                          "metadata", "name", in->svc, "namespace", in->ns, "spec", spec);
    if (in->owner_ref)
        json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
                            json_pack("[O]", in->owner_ref));
    return o;
}

static json_t *without_weights(const json_t *spec)
{
    json_t *n = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(n, "backends"), i, b)
        if (json_is_object(b))
            json_object_del(b, "weight");
    return n;
}

json_t *cdk_smi_update(const json_t *live, const json_t *desired)
{
    json_t *a = without_weights(json_object_get(live, "spec"));
    json_t *b = without_weights(json_object_get(desired, "spec"));
    bool same = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (same)
        return NULL;
    json_t *out = json_deep_copy(live);
    json_object_set_new(out, "spec", kj_copy(json_object_get(desired, "spec")));
    return out;
}

/* A weight as a number: an integer or number, or a quantity string
 * ("100", "100m"); -1 when it is neither. */
static int weight_of(const json_t *w)
{
    double v = -1;
    if (json_is_number(w)) {
        v = json_number_value(w);
    } else if (json_is_string(w)) {
        const char *s = json_string_value(w);
        char *end = NULL;
        double d = strtod(s, &end);
        if (end != s && (!*end || (end[0] == 'm' && !end[1])))
            v = *end == 'm' ? d / 1000 : d;
    }
    if (!isfinite(v) || v < 0)
        return -1;
    return v > 100 ? 100 : (int)v;
}

bool cdk_smi_get_weights(const json_t *ts, const char *svc, int *primary, int *canary,
                         cd_err *err)
{
    *primary = *canary = 0;
    char pname[300], cname[300];
    snprintf(pname, sizeof pname, "%s-primary", svc);
    snprintf(cname, sizeof cname, "%s-canary", svc);
    size_t i;
    json_t *b;
    json_array_foreach(kj_at(ts, "spec.backends"), i, b) {
        const char *n = kj_str(b, "service");
        int w = weight_of(json_object_get(b, "weight"));
        if (!n || w < 0)
            continue;
        if (!strcmp(n, pname))
            *primary = w;
        else if (!strcmp(n, cname))
            *canary = w;
    }
    if (!*primary && !*canary) {
        cd_errfmt(err, "TrafficSplit %s.%s does not contain routes for %s and %s", svc,
                  kj_str(ts, "metadata.namespace") ? kj_str(ts, "metadata.namespace") : "", pname,
                  cname);
        return false;
    }
    return true;
}
