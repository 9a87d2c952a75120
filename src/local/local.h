/* local.h - `canaryd local`, the single-host controller: shared state of
 * its parts (controller.c: objects, scheduling and the main loop;
 * ports_local.c: the engine's ports; router_ctl.c: the router process and
 * its configuration; api.c: the HTTP API). Internal to src/local/.
 *
 * Threads: the main loop owns objects, process sets and the router
 * configuration; ticks run on worker threads; the API runs on
 * libmicrohttpd's thread. Everything shared is guarded by cd_local.lock,
 * held only for short, non-blocking sections (never across a tick, a
 * webhook or a query). */
#ifndef CD_LOCAL_LOCAL_H
#define CD_LOCAL_LOCAL_H
#include "analysis/metrics_port.h"
#include "engine/engine.h"
#include "engine/schedule.h"
#include "hooks/hooks.h"
#include "local/controller.h"
#include "local/manifests.h"
#include "local/state.h"
#include "local/target.h"
#include "lookup/secrets.h"
#include "lookup/store.h"
#include "telemetry/registry.h"
#include "notify/notify.h"
#include <pthread.h>

typedef struct cd_local cd_local;
typedef struct lc_router lc_router;

#define LC_EVENT_REPEAT_MS 60000   /* an identical event is journalled at most this often */

typedef struct lc_metric_view {
    char name[128];
    bool has_value;
    double value;
    bool passed;
    char message[256];
    int64_t at_ms;
} lc_metric_view;

/* The dashboard's history of a canary (history.c): one point per change
 * of phase or weight and per new metric value, the last LC_HISTORY_MAX
 * kept (a ring; about 160 bytes a point). In memory only: a restart of
 * canaryd local starts it again (docs/dashboard.md). */
#define LC_HISTORY_MAX 720
#define LC_HISTORY_METRICS 16       /* as lc_canary.metrics */
typedef struct lc_history_point {
    int64_t at_ms;
    int canary_weight, primary_weight;
    int phase;                      /* cd_phase */
    unsigned has;                   /* bit k: values[k] is a value measured at this point */
    double values[LC_HISTORY_METRICS];
} lc_history_point;

typedef struct lc_history {
    lc_history_point *points;       /* ring of LC_HISTORY_MAX, allocated on first use */
    size_t start, n;
    int64_t metric_at[LC_HISTORY_METRICS];   /* the metric times already taken */
} lc_history;

/* One Canary on the local platform. */
typedef struct lc_canary {
    cd_local *L;
    char *ns, *name;
    cd_object *obj;                 /* retained current Canary manifest */
    cd_local_target *target;        /* its LocalWorkload (shared with no other canary) */
    cd_canary_status status;        /* as last saved (what the API shows) */
    bool gone;                      /* its manifest was deleted */
    /* its schedule (engine/schedule.h, L->sched): in flight while a
     * worker ticks it; kicked to tick at the next loop turn */
    cd_sched_job job;
    /* routing as last set (the router has the authoritative copy) */
    int primary_weight, canary_weight;
    bool mirrored;
    bool routes_known;
    /* gates (canaryctl promote / abort / halt / resume) */
    bool promotion_held, promotion_approved, rollout_held, rollback_requested;
    /* the last value of each metric, for canaryctl describe */
    lc_metric_view metrics[LC_HISTORY_METRICS];
    size_t n_metrics;
    lc_history history;             /* weights and metric values over time */
    /* its status.json could not be read: rebuilt by reconcile once the
     * target (what the primary runs) is known */
    bool status_lost;
    char status_lost_why[700];
    /* why the router does not serve its current routes (its service port
     * is taken, ...), for its events and describe; "" when it does */
    char route_error[512];
    /* the last event journalled (type|phase|message), to fold repeats */
    char last_event[1100];
    int64_t last_event_ms;
    /* per-tick scratch owned by the worker */
    cd_canary_status tick_status;
} lc_canary;


struct cd_local {
    cd_local_options opt;
    pthread_mutex_t lock;
    cd_manifest_dir *manifests;
    cd_state *state;
    cd_registry *registry;
    lc_canary **canaries;
    size_t ncanaries;
    cd_local_target **targets;
    size_t ntargets;
    lc_router *router;
    /* providers */
    cd_secret_source secrets;
    cd_metrics_config metrics_cfg;
    cd_hooks_config hooks_cfg;
    cd_engine_config engine_cfg;
    /* worker pool */
    pthread_t *threads;
    pthread_cond_t work_cv;
    lc_canary **queue;
    size_t nqueue, capqueue;
    cd_sched sched;                 /* when each canary ticks; L->lock held */
    bool stopping;
    int wake_fd;                    /* eventfd: wakes the main loop */
    char *owner;                    /* absolute state dir: CANARYD_OWNER of our processes */
    int64_t started_ms;
    char router_err[512];           /* the last router refusal logged, to fold repeats */
    int64_t router_err_ms;
};

/* controller.c */
lc_canary *lc_find_canary(cd_local *L, const char *ns, const char *name);
/* The 404 message for a canary that is not there, as kubectl words it,
 * with the closest name of the namespace ("did you mean podinfo?") or the
 * namespace that has one by that name. L->lock held. */
void lc_not_found(cd_local *L, const char *ns, const char *name, char *out, size_t outlen);
void lc_wake(cd_local *L);

/* ports_local.c: the engine's ports for one canary's tick. Fills *ports
 * and *ref (a spec with the local gates added, the worker's status copy);
 * both stay valid until lc_tick_end. Called without L->lock. */
typedef struct lc_tick lc_tick;
lc_tick *lc_tick_begin(lc_canary *c, cd_ports *ports, cd_canary_ref *ref);
void lc_tick_end(lc_tick *t);

/* router_ctl.c */
lc_router *lc_router_start(cd_local *L, cd_err *err);
void lc_router_stop(lc_router *r, bool terminate);
/* Pushes the configuration built from every canary when it changed (or
 * force); then tells the process sets which endpoint generations the
 * router has. A listener the router cannot bind (its port taken) is left
 * out, with its previous routes if it had any, and retried every 2 s:
 * the others are updated regardless, and each listener's routes are its
 * old or its new set, never a mix. Called with L->lock held. */
bool lc_router_sync(cd_local *L, bool force, cd_err *err);
/* After a sync: true (and err says why) when the router does not serve
 * this canary's current routes, e.g. its service port is taken by another
 * process. The other canaries are not held back by it. L->lock held. */
bool lc_router_route_error(const lc_canary *c, cd_err *err);
/* The canary weight its saved status holds (0 outside a release): where
 * the route starts when the router has not had it from this canaryd. */
int lc_status_weight(const lc_canary *c);
void lc_router_port(cd_router_port *port, lc_canary *c);
/* The router's route of a canary ("name.ns", hashed beyond 63 bytes);
 * canaryctl metrics reads the same route. */
void lc_route_name(const char *name, const char *ns, char out[64]);
/* The router's measurements for a canary's builtin metrics. */
cd_metric_rc lc_router_metric(cd_local *L, lc_canary *c, const cd_metric *m, double *value,
                              cd_err *err);
cd_metric_rc lc_router_counts(cd_local *L, lc_canary *c, const cd_metric *m, const char *which,
                              uint64_t *total, uint64_t *failed, cd_err *err);
/* *values is malloc'd (the caller frees it). */
cd_metric_rc lc_router_samples(cd_local *L, lc_canary *c, const cd_metric *m, const char *which,
                               double **values, size_t *n, cd_err *err);
/* The primary's requests over the span_ms that ended ago_ms ago (the
 * judge's history): counts, and p50/p99 of its latency. */
cd_metric_rc lc_router_history(cd_local *L, lc_canary *c, const cd_metric *m, int64_t ago_ms,
                               int64_t span_ms, cd_metric_history *out, cd_err *err);
const char *lc_router_admin(const cd_local *L);
pid_t lc_router_pid(const lc_router *r);
bool lc_router_owned(const lc_router *r);   /* started by this canaryd (not adopted) */

/* revisions.c (instant rollback, docs/rollback.md); L->lock held */
void lc_revisions_note(cd_local *L, const cd_object *workload, const char *revision);
/* canaryctl rollback: an HTTP status (202, 404, 409) and its message;
 * manifest errors in diags. */
int lc_rollback(cd_local *L, const char *ns, const char *name, cd_diags *diags, char *msg,
                size_t msglen);

/* history.c; L->lock held */
/* Adds a point when the phase or a weight changed or a metric has a new
 * value since the last point. */
void lc_history_note(lc_canary *c, int64_t now_ms);
/* {"metrics": [names], "points": [{"time", "phase", "canaryWeight",
 * "primaryWeight", "values": [number or null per metric]}]}, oldest first. */
json_t *lc_history_json(const lc_canary *c);
void lc_history_free(lc_history *h);

/* api.c */
typedef struct lc_api lc_api;
lc_api *lc_api_start(cd_local *L, const char *address, cd_err *err);
/* --api's TCP form: [IPv4-ADDRESS:]PORT (out may be NULL). */
struct sockaddr_in;
bool lc_api_tcp_address(const char *address, struct sockaddr_in *out);
/* The gate a loadtester-style /gate/... or /rollback/... request body
 * ({"name": ..., "namespace": ...}) names ("name.ns", "rollback.name.ns");
 * false when the body is not such a payload. */
bool lc_gate_key(const char *url, const char *body, size_t len, char *key, size_t cap);
void lc_api_stop(lc_api *api);
json_t *lc_canary_json(lc_canary *c, bool detail);   /* L->lock held */

#endif
