/* target.h - a LocalWorkload under a Canary's control on the local
 * platform: its canary process set ("<name>", always running the current
 * manifest) and its primary process set ("<name>-primary", running the
 * promoted spec), as Flagger keeps a Deployment and <name>-primary. Also
 * the engine's workload port over them (readiness with the progress
 * deadline, promotion, scaling to and from zero).
 *
 * Every function takes the target's lock itself; the process sets are
 * stepped by the controller's loop. */
#ifndef CD_LOCAL_TARGET_H
#define CD_LOCAL_TARGET_H
#include "local/supervisor.h"
#include "model/object.h"
#include "ports.h"
#include <pthread.h>

typedef struct cd_local_target {
    char *name;                 /* the LocalWorkload's name (T) */
    char *ns;
    pthread_mutex_t lock;
    cd_object *workload;        /* retained current manifest */
    char *base_dir;             /* the manifest's directory */
    char revision[CD_HASH_MAX]; /* hash of the current spec */
    cd_procset *canary;         /* "T" */
    cd_procset *primary;        /* "T-primary" */
    /* wall-clock ms (the workload port's clock: every caller passes
     * cd_wall_ms(), or the progress deadline compares two clocks) */
    int64_t canary_changed_ms;  /* last scale-up or spec change of the canary set */
    int64_t primary_changed_ms; /* creation or promotion of the primary set */
    bool canary_scaled_up;      /* ScaleFromZero happened and not ScaleToZero since */
    /* strategy InPlace (fixed at the workload's first load): both sets
     * share the indices 0..replicas-1, T-primary running [0, partition)
     * and T [partition, replicas), the partition following the canary
     * weight as a StatefulSet's does (docs/statefulset.md) */
    bool inplace;
    int inplace_weight;         /* the canary weight the partition follows */
    /* the controller's bookkeeping (under the controller's lock) */
    char saved_template[2][CD_HASH_MAX];   /* revisions of canary/primary templates stored */
    char warning[1024];         /* a state problem found at restore, for its canaries' events */
} cd_local_target;

cd_local_target *cd_local_target_new(const char *ns, const char *name, const char *log_dir);
void cd_local_target_free(cd_local_target *t);
/* A new version of the LocalWorkload manifest (retained): the canary set
 * follows it at once, as a Deployment's pods follow its template. */
void cd_local_target_set_workload(cd_local_target *t, cd_object *workload, int64_t now_ms);
/* A primary set that exists but was scaled to zero (stopped with
 * --stop-on-exit, or its Canary deleted) is scaled back to the workload's
 * replicas: the primary always serves. */
void cd_local_target_primary_up(cd_local_target *t, int64_t now_ms);
/* InPlace: the canary weight the router was given; moves the partition
 * (replicas - ceil(replicas * weight / 100)). No-op under Surge. */
void cd_local_target_set_weight(cd_local_target *t, int canary_weight);
/* InPlace: the canary weight the engine last set (its saved status),
 * given before the workload's first load, so that the process sets
 * adopted after a restart keep the partition they ran at (the first
 * router sync sets the same weight). No-op once the workload is loaded. */
void cd_local_target_resume_weight(cd_local_target *t, int canary_weight);
/* InPlace: the canary weight the router should apply now: 0 while the
 * canary set has no ready replica, 100 while the primary has none (an
 * empty backend answers 503), else weight. */
int cd_local_target_route_weight(cd_local_target *t, int weight);
/* Steps both process sets. */
void cd_local_target_step(cd_local_target *t, int64_t now_ms);

/* The spec hash Flagger would compare with lastAppliedSpec. */
void cd_local_workload_hash(const cd_object *workload, char out[CD_HASH_MAX]);

/* Fills a workload port whose ctx is a cd_local_target_ctx. */
typedef struct cd_local_target_ctx {
    cd_local_target *target;
    int64_t (*now_ms)(void);
} cd_local_target_ctx;
void cd_local_workload_port(cd_workload_port *port, cd_local_target_ctx *ctx);

#endif
