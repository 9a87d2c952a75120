/* object_store.c - cd_store over a list of decoded manifests (the local
 * platform's manifest directory, canaryctl's -f files). Read-only: never
 * modifies or frees the list. */
#include "lookup/store.h"
#include "util/errfmt.h"
#include <string.h>

const cd_metric_template_spec *cd_store_find_template(const cd_store *s, const char *namespace_,
                                                      const char *name, cd_err *err)
{
    if (!s || !s->find_template) {
        cd_errfmt(err, "metrictemplate.flagger.app \"%s\" not found", name ? name : "");
        return NULL;
    }
    return s->find_template(s->ctx, namespace_, name, err);
}

const cd_alert_provider_spec *cd_store_find_alert_provider(const cd_store *s,
                                                           const char *namespace_,
                                                           const char *name, cd_err *err)
{
    if (!s || !s->find_alert_provider) {
        cd_errfmt(err, "alertprovider.flagger.app \"%s\" not found", name ? name : "");
        return NULL;
    }
    return s->find_alert_provider(s->ctx, namespace_, name, err);
}

static const cd_object *find(const cd_object_list *l, cd_kind kind, const char *ns,
                             const char *name)
{
    for (size_t i = 0; l && i < l->n; i++) {
        const cd_object *o = l->items[i];
        if (o->kind == kind && o->meta.name && name && !strcmp(o->meta.name, name) &&
            o->meta.namespace_ && ns && !strcmp(o->meta.namespace_, ns))
            return o;
    }
    return NULL;
}

static const cd_metric_template_spec *list_find_template(void *ctx, const char *ns,
                                                         const char *name, cd_err *err)
{
    const cd_object *o = find(ctx, CD_KIND_METRIC_TEMPLATE, ns, name);
    if (!o) {
        cd_errfmt(err, "metrictemplate.flagger.app \"%s\" not found", name ? name : "");
        return NULL;
    }
    return &o->spec.metric_template;
}

static const cd_alert_provider_spec *list_find_alert_provider(void *ctx, const char *ns,
                                                              const char *name, cd_err *err)
{
    const cd_object *o = find(ctx, CD_KIND_ALERT_PROVIDER, ns, name);
    if (!o) {
        cd_errfmt(err, "alertprovider.flagger.app \"%s\" not found", name ? name : "");
        return NULL;
    }
    return &o->spec.alert_provider;
}

cd_store cd_object_store(const cd_object_list *objects)
{
    cd_store s = {(void *)objects, list_find_template, list_find_alert_provider};
    return s;
}
