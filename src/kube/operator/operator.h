/* operator.h - internal to src/kube/operator: the state of `canaryd kube`
 * (clients, informers, the canaries it schedules, the work queue) and the
 * functions its files share: the sync of a Canary (Flagger's syncHandler,
 * sync.c), one analysis tick (tick.c), lookups over the informer caches
 * and Kubernetes Secrets (lookups.c), revertOnDeletion (finalize.c) and
 * the controller (controller.c: informers, scheduler, workers, leader
 * election, /metrics). */
#ifndef CD_KUBE_OPERATOR_OPERATOR_H
#define CD_KUBE_OPERATOR_OPERATOR_H
#include "analysis/metrics_port.h"
#include "engine/engine.h"
#include "engine/schedule.h"
#include "hooks/hooks.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/gates.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/operator/options.h"
#include "kube/platform.h"
#include "lookup/secrets.h"
#include "lookup/store.h"
#include "telemetry/endpoint.h"
#include "telemetry/registry.h"
#include "notify/notify.h"
#include <pthread.h>
#include <stdatomic.h>

#define CDK_FINALIZER "finalizer.flagger.app"

/* One Canary the operator knows, from its informer event to its deletion. */
typedef struct cdk_entry {
    char *ns, *name;
    char key[320];              /* "<name>.<namespace>" */
    /* its schedule (engine/schedule.h): armed once stored (passed sync,
     * Flagger's canary map) with the job period and target, due times on
     * the monotonic clock; its own timer is a sync to retry */
    cd_sched_job job;
    bool queued, busy, want_sync, want_tick, deleted;
    struct cdk_entry *qnext;    /* work queue link */
    struct cdk_entry *hnext;    /* hash chain */
    struct cdk_point *hist;     /* -dashboard: weights and phases over time (a ring) */
    unsigned hstart, hn;
} cdk_entry;

/* One change of a Canary's phase or weight, for the dashboard's chart. */
typedef struct cdk_point {
    int64_t at_ms;
    int canary_weight;
    int phase;                  /* cd_phase */
} cdk_point;
/* Changes kept per Canary (about 16 bytes each), only with -dashboard. */
#define CDK_HISTORY_MAX 128

typedef struct cdk_operator {
    cdk_options opt;
    cdk_settings set;
    char *selector_buf, *prefix_buf;    /* storage of set's lists */
    cd_kube_config kcfg;
    cd_kube_client *kc;
    cd_kube_events *events;
    cd_informer *canaries, *templates, *providers;
    cd_registry *registry;
    cd_telemetry_endpoint *endpoint;
    cd_leader *leader;
    cd_engine_config engine;
    cd_hooks_config hooks;
    cd_notify_config notify;
    cd_secret_source secrets;
    cd_provider_cluster cluster;    /* the API server for metric providers */

    pthread_mutex_t mu;
    pthread_cond_t cv;              /* work queued / stopping */
    cdk_entry **buckets;
    size_t nbuckets, nentries;
    cd_sched sched;                 /* due ticks and sync retries, totals, targets */
    cdk_entry *qhead, *qtail;
    pthread_t *workers;
    int nworkers;
    pthread_t scheduler;
    bool running;                   /* controllers started */
    atomic_bool stopping;
    atomic_bool lost_leadership;
    atomic_bool start_requested;
    atomic_int busy_workers;
    /* the dashboard's view of the Canaries' cache (-dashboard): set once
     * the caches are synced, cleared before they are freed */
    pthread_mutex_t dash_mu;
    cd_informer *dash_canaries;
} cdk_operator;

/* dashboard.c: the read-only pages under /ui (-dashboard), for the
 * metrics endpoint's page hook; ctx is the operator. */
void cdk_dashboard_page(void *ctx, const char *url, cd_telemetry_page *out);

/* controller.c */
int cdk_operator_run(const cdk_options *o);
/* -dashboard: notes a status written (a point when its phase or weight
 * changed), and the history as the dashboard draws it (NULL when the
 * canary is unknown). */
void cdk_history_note(cdk_operator *op, const char *ns, const char *name,
                      const cd_canary_status *st);
json_t *cdk_history_json(cdk_operator *op, const char *ns, const char *name);
void cdk_enqueue_sync(cdk_operator *op, const char *ns, const char *name);
/* The same, a little later (a sync that failed for a transient reason). */
void cdk_enqueue_sync_later(cdk_operator *op, const char *ns, const char *name);
/* Marks ns/name stored with a job period (restarting the job when the
 * period changes) or unscheduled (interval_ms < 0). */
void cdk_schedule(cdk_operator *op, const char *ns, const char *name, int64_t interval_ms,
                  const char *target);

/* sync.c: Flagger's syncHandler for one Canary. */
void cdk_sync(cdk_operator *op, const char *ns, const char *name);

/* tick.c: one analysis tick (advanceCanary) of one Canary. */
void cdk_tick(cdk_operator *op, const char *ns, const char *name);
/* Decodes a flagger.app object as read from the API (kind fills a missing
 * apiVersion/kind); NULL with err (the first diagnostic). */
cd_object *cdk_decode(const json_t *obj, const char *kind, cd_err *err);
/* Records an event on the canary: log line, Kubernetes Event. */
void cdk_record_event(cdk_operator *op, const json_t *canary, const char *key, bool warning,
                      const char *msg);
/* Writes status as the canary's status subresource (read-modify-write,
 * retried on conflict); keeps status fields canaryd does not manage. */
bool cdk_write_status(cdk_operator *op, const char *ns, const char *name,
                      const cd_canary_status *status, cd_err *err);

/* gates.c: the canaryd.io/... annotations (kube/gates.h) as gates of one
 * tick. begin reads them from canary, acts on resume and retry (retry
 * rewrites st's lastAppliedSpec), adds the gates to an's webhooks and
 * wraps *port; end records what was used, removes the one-shot
 * annotations and puts an and *port back. */
typedef struct cdk_gates {
    cdk_operator *op;
    const json_t *canary;
    const char *ns, *name, *key;
    char promote[CD_GATE_VALUE_MAX + 1], hold[CD_GATE_VALUE_MAX + 1],
        hold_rollout[CD_GATE_VALUE_MAX + 1], abort_[CD_GATE_VALUE_MAX + 1],
        resume[CD_GATE_VALUE_MAX + 1], retry[CD_GATE_VALUE_MAX + 1],
        rollback[CD_GATE_VALUE_MAX + 1];
    char raw[7][CD_GATE_VALUE_MAX + 1];   /* the values as written, same order as begin reads */
    bool promote_used, abort_used;
    char names[3][CD_GATE_VALUE_MAX + 48];
    cd_webhook *hooks;
    cd_analysis *an;
    cd_webhook *saved;
    size_t saved_n;
    cd_hooks_port inner, *port;
} cdk_gates;
void cdk_gates_begin(cdk_gates *g, cdk_operator *op, const json_t *canary, const char *key,
                     cd_analysis *an, cd_canary_status *st, cd_hooks_port *port);
void cdk_gates_end(cdk_gates *g);
/* The informer's update of a Canary: records the Event of a hold set. */
void cdk_gates_changed(cdk_operator *op, const json_t *old_obj, const json_t *new_obj);

/* lookups.c: MetricTemplates and AlertProviders from the informer caches,
 * decoded for one tick (freed by cdk_lookups_release). */
typedef struct cdk_lookups {
    cdk_operator *op;
    pthread_mutex_t mu;
    cd_object_list decoded;
} cdk_lookups;
void cdk_lookups_init(cdk_lookups *l, cdk_operator *op);
cd_store cdk_lookups_store(cdk_lookups *l);
void cdk_lookups_release(cdk_lookups *l);
/* Kubernetes Secrets read through the client. */
cd_secret_source cdk_secret_source(cdk_operator *op);
/* Requests to the API server for the metric providers that use it
 * (externalmetrics, keptn), with canaryd's own credentials. */
cd_provider_cluster cdk_provider_cluster(cdk_operator *op);

/* finalize.c: revertOnDeletion (Flagger's finalize). */
cd_rc cdk_finalize(cdk_operator *op, const json_t *canary, const cd_object *obj, cd_err *err);
/* The tick context of one canary (platform.h) with the workload controller
 * of its target kind and the router of its provider (or -mesh-provider).
 * False with err, for an event, when canaryd has none for them; the
 * context is then still safe to release. */
bool cdk_open_ctx(cdk_operator *op, cdk_ctx *x, const json_t *canary, const cd_object *obj,
                  cd_err *err);

#endif
