/* metrics_local.h - canaryctl metrics on the local platform: the builtin
 * request-success-rate and request-duration of a Canary whose target is a
 * LocalWorkload and that sets no metricsServer are canaryd local's router's
 * own measurements (docs/local.md#metrics), read from its admin socket as
 * src/local/ports_local.c reads them; everything else goes to the
 * providers. Reads only; must not change the router's configuration. */
#ifndef CD_CLI_METRICS_LOCAL_H
#define CD_CLI_METRICS_LOCAL_H
#include "analysis/metrics_port.h"
#include "model/object.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct cd_local_metrics {
    const cd_object *obj;
    cd_metrics_port inner;   /* the providers' port, for the other metrics */
    char admin[512];         /* "unix:STATE/router.sock" */
    char route[64];
    long timeout_ms;
    double *samples;         /* the last samples handed out (owned here) */
} cd_local_metrics;

/* Whether the router answers this metric of this canary. */
bool cd_local_router_metric(const cd_object *obj, const cd_metric *m);
/* "unix:STATE/router.sock": state_dir, else .canaryd beside the manifest. */
void cd_local_router_admin(const char *state_dir, const cd_object *obj, char *out, size_t n);
/* What the router is asked, in words (malloc'd): it has no query. */
char *cd_local_router_query(const cd_object *obj, const cd_metric *m);
/* The canary's metrics port as canaryd local builds it: the router for
 * its metrics, inner for the rest (released by cd_local_metrics_release). */
cd_metrics_port cd_local_metrics_port(cd_local_metrics *lp, const char *state_dir, long timeout_ms,
                                      const cd_object *obj, cd_metrics_port inner);
void cd_local_metrics_release(cd_local_metrics *lp);
/* --render-only for a judged metric the router answers. */
void cd_local_print_judged(const char *key, const cd_metric *m, const cd_local_metrics *lp);

#endif
