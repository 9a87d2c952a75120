/* knative_objects.c - a Knative Service target as pure functions
 * (builders.h, Flagger's KnativeRouter and KnativeController): the
 * spec.traffic block splitting requests between the promoted revision
 * and the latest one, the split read back, and a revision's readiness as
 * the Service's status reports it. No I/O; never reads the clock. */
#include "kube/kjson.h"
#include "kube/workload/builders.h"
#include "util/errfmt.h"
#include <stdio.h>
#include <string.h>

static bool refuse(cd_err *err, const char *what)
{
    cd_errfmt(err, "provider knative cannot %s: a Knative Service's traffic block only splits "
                   "requests by percent",
              what);
    return false;
}

bool cdk_knative_check(const cd_canary_spec *spec, cd_err *err)
{
    const cd_analysis *an = &spec->analysis;
    if (an->mirror)
        return refuse(err, "mirror traffic (analysis.mirror)");
    if (an->session_affinity.set)
        return refuse(err, "pin sessions to the canary (analysis.sessionAffinity)");
    if (an->n_match)
        return refuse(err, "route requests by header, cookie or path (analysis.match)");
    return true;
}

json_t *cdk_knative_traffic(const char *primary_revision, int primary, int canary)
{
    return json_pack("[{s:b, s:I}, {s:s, s:I}]", "latestRevision", 1, "percent", (json_int_t)canary,
                     "revisionName", primary_revision ? primary_revision : "", "percent",
                     (json_int_t)primary);
}

static bool is_latest(const json_t *t) { return json_is_true(json_object_get(t, "latestRevision")); }

bool cdk_knative_routes(const json_t *svc, const char *primary_revision, int *primary, int *canary,
                        char *msg, size_t msglen)
{
    const json_t *traffic = kj_at(svc, "spec.traffic");
    const json_t *latest = NULL, *prim = NULL, *other = NULL;
    size_t i, n_other = 0;
    const json_t *t;
    json_array_foreach(traffic, i, t) {
        if (is_latest(t)) {
            if (!latest)
                latest = t;
            continue;
        }
        other = t;
        n_other++;
        /* after a promotion both entries name the same revision: the
         * primary's is the one not following the latest */
        if (!prim && primary_revision && !strcmp(kj_str(t, "revisionName") ?: "", primary_revision))
            prim = t;
    }
    /* between a promotion (the annotation names the new revision) and the
     * next split, the previous primary still serves the primary's share */
    if (!prim && n_other == 1)
        prim = other;
    if (!latest || !prim) {
        snprintf(msg, msglen, "traffic spec invalid: no %s entry",
                 !latest ? "latestRevision" : "primary revision");
        return false;
    }
    if (!json_is_integer(json_object_get(prim, "percent")) ||
        !json_is_integer(json_object_get(latest, "percent"))) {
        snprintf(msg, msglen, "%s revision traffic percent does not exist",
                 !json_is_integer(json_object_get(prim, "percent")) ? "primary" : "canary");
        return false;
    }
    *primary = (int)json_integer_value(json_object_get(prim, "percent"));
    *canary = (int)json_integer_value(json_object_get(latest, "percent"));
    return true;
}

static const json_t *condition(const json_t *svc, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(kj_at(svc, "status.conditions"), i, c)
        if (!strcmp(kj_str(c, "type") ?: "", type))
            return c;
    return NULL;
}

cd_rc cdk_knative_revision_ready(const json_t *svc, const char *revision, char *msg, size_t msglen)
{
    if (!revision || !*revision) {
        snprintf(msg, msglen, "no revision created yet");
        return CD_RETRY;
    }
    const char *ready = kj_str(svc, "status.latestReadyRevisionName");
    if (ready && !strcmp(ready, revision))
        return CD_OK;
    /* an older revision the route still sends requests to is ready */
    size_t i;
    const json_t *t;
    json_array_foreach(kj_at(svc, "status.traffic"), i, t)
        if (!strcmp(kj_str(t, "revisionName") ?: "", revision))
            return CD_OK;
    const char *created = kj_str(svc, "status.latestCreatedRevisionName");
    const json_t *cr = condition(svc, "ConfigurationsReady");
    if (created && !strcmp(created, revision) && cr && !strcmp(kj_str(cr, "status") ?: "", "False")) {
        snprintf(msg, msglen, "revision %s is not ready: %s", revision,
                 kj_str(cr, "message") ?: kj_str(cr, "reason") ?: "ConfigurationsReady False");
        return CD_RETRY;
    }
    snprintf(msg, msglen, "revision %s is not ready", revision);
    return CD_RETRY;
}
