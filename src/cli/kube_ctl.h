/* kube_ctl.h - canaryctl against a Kubernetes cluster (docs/kubectl-plugin.md):
 * the connection (the user's kubeconfig resolved as kubectl resolves it,
 * or the pod's service account), the read commands (get, describe,
 * events, watch) over Canary objects, their workloads and their core/v1
 * Events, and the actions (promote, abort, hold, resume, retry), which
 * set canaryd.io/... annotations on the Canary that `canaryd kube` honours
 * (src/kube/operator/gates.c); rollback writes the target's earlier
 * template back, as kubectl rollout undo does (kube_rollback.c). Prints to stdout/stderr; never prints a
 * credential. */
#ifndef CD_CLI_KUBE_CTL_H
#define CD_CLI_KUBE_CTL_H
#include "kube/client.h"
#include "util/buf.h"
#include "util/flags.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The flags that select and configure the cluster mode. */
typedef struct cd_ctl_kube_flags {
    const char *kubeconfig, *context;
    bool kube;
} cd_ctl_kube_flags;

#define CD_KUBE_FLAGS(f)                                                                        \
    {.name = "kube", .type = CD_FLAG_BOOL, .target = &(f)->kube,                                 \
     .help = "talk to a Kubernetes cluster (canaryd kube) instead of canaryd local; implied by " \
             "--kubeconfig, --context and by running as kubectl-canary"},                        \
    {.name = "kubeconfig", .type = CD_FLAG_STRING, .target = &(f)->kubeconfig, .arg = "FILE",    \
     .help = "the kubeconfig file (default $KUBECONFIG, else ~/.kube/config, else the pod's "    \
             "service account)"},                                                                \
    {.name = "context", .type = CD_FLAG_STRING, .target = &(f)->context, .arg = "NAME",          \
     .help = "the kubeconfig context (default its current-context)"}
#define CD_KUBE_NFLAGS 3

/* Set by main when canaryctl runs as kubectl-canary (a kubectl plugin). */
extern bool cd_ctl_as_plugin;

/* Whether these flags (or the program's name) select the cluster. */
bool cd_ctl_kube_wanted(const cd_ctl_kube_flags *f);

typedef struct cd_ctl_kube {
    cd_kube_config cfg;
    cd_kube_client *kc;
    const char *ns;             /* -n, else the context's (or pod's) namespace */
    char who[256];              /* the user, for the Events of actions */
} cd_ctl_kube;

/* ns_flag: -n's value when given, else NULL. False with a message on
 * stderr (exit 2). */
bool cd_ctl_kube_open(cd_ctl_kube *k, const cd_ctl_kube_flags *f, const char *ns_flag);
void cd_ctl_kube_close(cd_ctl_kube *k);

/* The commands; each returns the exit status (0 done, 1 no such canary or
 * watch saw Failed, 2 usage, refused or the cluster unreachable). */
int cd_ctl_kube_get(cd_ctl_kube *k, bool all_ns, bool json);
int cd_ctl_kube_describe(cd_ctl_kube *k, const char *name, bool json);
int cd_ctl_kube_events(cd_ctl_kube *k, const char *name, int limit, bool json);
/* timeout_ms 0: none (exit 3 when it runs out). */
int cd_ctl_kube_watch(cd_ctl_kube *k, const char *name, bool until_done, int64_t timeout_ms);
/* action: promote, abort, hold, hold-rollout, resume, retry, rollback. */
int cd_ctl_kube_act(cd_ctl_kube *k, const char *name, const char *action);

/* k->who: the user as the API server authenticated them (SelfSubjectReview),
 * else the kubeconfig's user entry. */
void cd_ctl_kube_whoami(cd_ctl_kube *k);

/* kube_rollback.c: the canary's last promoted revision back into its
 * Deployment, StatefulSet or DaemonSet (from its ReplicaSets or
 * ControllerRevisions),
 * for canaryd kube's instant rollback. */
int cd_ctl_kube_rollback(cd_ctl_kube *k, const char *name);

/* kube_detail.c: one Canary as canaryctl shows it (the shape of canaryd
 * local's detail, view.h, plus "kube": targets, images, steps, gates).
 * NULL with *rc set (1 not found, 2 other) and a message on stderr. */
json_t *cd_ctl_kube_detail(cd_ctl_kube *k, const char *name, int *rc);
/* The describe page of a detail. */
void cd_ctl_kube_describe_page(cd_buf *out, const json_t *detail);
/* LAST SEEN TYPE REASON COUNT MESSAGE of a detail's events, the last `last` (0: all). */
void cd_ctl_kube_events_table(cd_buf *out, const json_t *events, size_t last, const char *indent);
/* watch --until-done on a cluster: 0 Succeeded, 1 Failed, -1 not done. */
int cd_ctl_kube_outcome(const json_t *detail);

#endif
