/* target.c - the target workload of one tick (platform.h's cdk_ctx): read
 * once per tick through the controller of its kind, and its metadata
 * (Flagger's GetMetadata: the selector label and value, the discovered
 * ports). Reads only; writes go through the kind's own file. */
#include "kube/workload/workload.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

const json_t *cdk_target(cdk_ctx *x, cd_err *err)
{
    if (x->target_obj)
        return x->target_obj;
    cd_kube_err ke;
    if (!cd_kube_get(x->kc, x->wl->resource, x->ns, x->target, &x->target_obj, &ke)) {
        cdk_err_from_kube(err, &ke, "%s %s.%s get query error", x->wl->word, x->target, x->ns);
        x->target_obj = NULL;
        return NULL;
    }
    return x->target_obj;
}

void cdk_target_forget(cdk_ctx *x)
{
    json_decref(x->target_obj);
    x->target_obj = NULL;
}

bool cdk_target_metadata(cdk_ctx *x, cd_err *err)
{
    if (x->have_meta)
        return true;
    if (x->wl->k == CDK_SERVICE || x->wl->k == CDK_KNATIVE) {
        x->label[0] = x->value[0] = '\0';   /* no pods of its own (Flagger's GetMetadata) */
        x->have_meta = true;
        return true;
    }
    const json_t *t = cdk_target(x, err);
    if (!t)
        return false;
    const char *label, *value;
    if (!cdk_selector_label(t, x->wl->k, &x->set->selector_labels, &label, &value, err))
        return false;
    snprintf(x->label, sizeof x->label, "%s", label);
    snprintf(x->value, sizeof x->value, "%s", value);
    free(x->ports);
    x->ports = NULL;
    x->nports = 0;
    if (x->spec->service.port_discovery)
        x->nports = cdk_discover_ports(t, &x->spec->service, &x->ports);
    x->have_meta = true;
    return true;
}
