/* store.h - where MetricTemplates and AlertProviders are looked up: an
 * interface the platform implements (informer caches on Kubernetes, the
 * manifest directory locally). cd_object_store is a ready implementation
 * over a list of decoded objects (object.h).
 *
 * Lifetime: a returned spec stays valid until the store's owner changes
 * the store; platforms swap stores between ticks, never during one. */
#ifndef CD_LOOKUP_STORE_H
#define CD_LOOKUP_STORE_H
#include "model/object.h"
#include "util/err.h"

typedef struct cd_store {
    void *ctx;
    /* NULL with err ("metrictemplate x.ns not found") when absent. */
    const cd_metric_template_spec *(*find_template)(void *ctx, const char *namespace_,
                                                    const char *name, cd_err *err);
    const cd_alert_provider_spec *(*find_alert_provider)(void *ctx, const char *namespace_,
                                                         const char *name, cd_err *err);
} cd_store;

const cd_metric_template_spec *cd_store_find_template(const cd_store *s, const char *namespace_,
                                                      const char *name, cd_err *err);
const cd_alert_provider_spec *cd_store_find_alert_provider(const cd_store *s,
                                                           const char *namespace_,
                                                           const char *name, cd_err *err);

/* A store over decoded objects; the list must outlive the store. */
cd_store cd_object_store(const cd_object_list *objects);

#endif
