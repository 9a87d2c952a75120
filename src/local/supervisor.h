/* supervisor.h - process sets of the local platform: what a Deployment and
 * its ReplicaSets are on Kubernetes. A process set runs N replicas of one
 * LocalWorkload spec, each on its own port, probes their readiness, restarts
 * the ones that die, rolls them to a new spec one at a time (surge 1, never
 * below the ready count), stops them gracefully (SIGTERM, then SIGKILL) and
 * can adopt the replicas of a previous canaryd after a restart (PID + start
 * time from its record, or the marks in their environment when the record
 * is lost). Paths are made absolute when a template is made: replicas
 * start long after, from wherever canaryd runs. Routing is not its business: replicas leave the endpoint list
 * first and are signalled only once the caller confirms that the router no
 * longer uses them (cd_procset_endpoints_applied).
 *
 * Not thread-safe: one owner calls cd_procset_step regularly. */
#ifndef CD_LOCAL_SUPERVISOR_H
#define CD_LOCAL_SUPERVISOR_H
#include "model/workload.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A LocalWorkload spec made independent of its manifest (owns its strings). */
typedef struct cd_proc_template {
    char *command;
    char **args;        /* may contain {{ port }} and {{ replica }} */
    size_t nargs;
    char **env;         /* "NAME=value" */
    size_t nenv;
    char *working_dir;
    int replicas;
    char *port_env, *host;
    bool has_probe;
    char *probe_path;
    int64_t probe_initial_delay_ms, probe_period_ms, probe_timeout_ms;
    int probe_success_threshold, probe_failure_threshold;
    int64_t grace_ms;
    char revision[64];  /* hash of the spec: what this template runs */
} cd_proc_template;

/* base_dir: directory relative working dirs and commands start from (the
 * manifest's directory). revision: the spec's hash. */
cd_proc_template *cd_proc_template_new(const cd_local_workload_spec *spec, const char *base_dir,
                                       const char *revision);
cd_proc_template *cd_proc_template_copy(const cd_proc_template *t);
void cd_proc_template_free(cd_proc_template *t);
json_t *cd_proc_template_to_json(const cd_proc_template *t);
cd_proc_template *cd_proc_template_from_json(const json_t *j);

typedef enum {
    CD_REP_STARTING,    /* spawned, not ready yet */
    CD_REP_READY,       /* passing its probe: receives traffic */
    CD_REP_UNREADY,     /* was ready, probe failing now */
    CD_REP_DRAINING,    /* leaving: out of the endpoints, not signalled yet */
    CD_REP_STOPPING,    /* SIGTERM sent, waiting for exit (SIGKILL at the deadline) */
} cd_rep_state;

typedef struct cd_replica {
    int index;
    pid_t pid;
    uint64_t start_time;        /* /proc start time, for adoption */
    int pidfd;
    int port;
    char revision[64];
    cd_rep_state state;
    int64_t started_ms;
    int64_t drain_gen;          /* endpoint generation that removed it */
    int64_t drained_ms;         /* when the router let go of it (0: not yet) */
    int64_t kill_at_ms;         /* SIGKILL deadline once stopping */
    int ok_streak, fail_streak;
    int64_t next_probe_ms;
    bool probing;
    bool owned;                 /* spawned by us (else adopted) */
} cd_replica;

typedef struct cd_endpoint {
    char host[64];
    int port;
    int index;
    char revision[64];
} cd_endpoint;

typedef struct cd_procset cd_procset;

/* name: "podinfo" or "podinfo-primary"; log_dir: where replica output goes
 * (NULL: inherit stdout/stderr). */
cd_procset *cd_procset_new(const char *name, const char *log_dir);
/* Marks every replica spawned from now on with CANARYD_OWNER=owner in its
 * environment, so that an owner can find replicas it spawned but did not
 * get to record (a crash right after a spawn): see cd_procs_owned_by. */
void cd_procset_set_owner(cd_procset *ps, const char *owner);
/* PIDs of running processes whose environment holds CANARYD_OWNER=owner;
 * returns how many (at most cap). */
size_t cd_procs_owned_by(const char *owner, pid_t *out, size_t cap);

/* Stops tracking; processes keep running (see cd_procset_stop_all). */
void cd_procset_free(cd_procset *ps);
const char *cd_procset_name(const cd_procset *ps);
/* Why the last attempt to start a replica failed (the working dir or the
 * program missing, ...); "" when the last one started. */
const char *cd_procset_error(const cd_procset *ps);

/* The spec to run; replicas of another revision are rolled. Takes a copy. */
void cd_procset_set_template(cd_procset *ps, const cd_proc_template *t);
const cd_proc_template *cd_procset_template(const cd_procset *ps);
void cd_procset_scale(cd_procset *ps, int replicas);
/* In-place mode (a LocalWorkload that must not run twice): the set runs
 * only the replica indices [lo, hi) (cd_procset_set_range; desired
 * becomes hi - lo, and cd_procset_scale(n) caps it to [lo, lo + n)),
 * with surge 0: a replica of another revision or outside the range is
 * drained and stopped first, and index i is started only once no process
 * of index i is left, in this set or in peer (whose own range the caller
 * keeps disjoint). So two processes of one index never run at once. */
void cd_procset_set_inplace(cd_procset *ps, const cd_procset *peer);
void cd_procset_set_range(cd_procset *ps, int lo, int hi);
int cd_procset_desired(const cd_procset *ps);

/* Reaps exits, restarts dead replicas, probes, rolls, drains, stops.
 * Never blocks longer than a few milliseconds. */
void cd_procset_step(cd_procset *ps, int64_t now_ms);

typedef struct cd_procset_counts {
    int desired;     /* wanted replicas */
    int running;     /* processes alive (any revision, not stopping) */
    int updated;     /* alive with the current revision */
    int ready;       /* ready with the current revision */
    int old;         /* alive with another revision */
    int restarts;    /* replicas restarted after dying */
} cd_procset_counts;
cd_procset_counts cd_procset_counts_of(const cd_procset *ps);

/* Ready replicas that may receive traffic, with a generation that changes
 * whenever the list does. */
size_t cd_procset_endpoints(const cd_procset *ps, cd_endpoint *out, size_t cap, int64_t *gen);
/* The caller has pushed generation gen to the router: replicas drained
 * before it may now be signalled. */
void cd_procset_endpoints_applied(cd_procset *ps, int64_t gen);

/* Sends SIGTERM to every replica now (then SIGKILL after the grace
 * period on later steps); true once none is left. */
bool cd_procset_stop_all(cd_procset *ps, int64_t now_ms);
size_t cd_procset_replica_count(const cd_procset *ps);
const cd_replica *cd_procset_replica(const cd_procset *ps, size_t i);

/* Names the set in its replicas' environment (CANARYD_SET=key, with
 * CANARYD_REVISION and CANARYD_PORT), for cd_procset_adopt_marked. */
void cd_procset_set_key(cd_procset *ps, const char *key);
/* Whether j has the shape cd_procset_save writes (why says what not). */
bool cd_procset_record_ok(const json_t *j, char *why, size_t n);
/* Adopts the running processes of owner marked as this set's replicas
 * (when its record is lost or corrupt): ready when their port answers,
 * desired raised to the replicas of the current template found. revision
 * gets the revision they run (the first found), to look its template up.
 * Returns the number adopted. */
int cd_procset_adopt_marked(cd_procset *ps, const char *owner, char *revision, size_t rlen,
                            int64_t now_ms);

/* Persisted shape for adoption after a restart. */
json_t *cd_procset_save(const cd_procset *ps);
/* Adopts the replicas in j that still run (same PID and start time) and
 * forgets the others. Returns the number adopted. */
int cd_procset_restore(cd_procset *ps, const json_t *j, int64_t now_ms);

#endif
