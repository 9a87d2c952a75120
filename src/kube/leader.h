/* leader.h - leader election on a coordination.k8s.io/v1 Lease, as
 * client-go's leaderelection that Flagger uses: lease 60 s, renew deadline
 * 15 s, retry 5 s by default; a lease is taken over only when its holder has
 * not renewed it for the lease duration as observed on the local clock (no
 * trust in other hosts' clocks); the leader renews every retry period and
 * loses leadership when renewals keep failing for the renew deadline, or
 * when another holder shows up. Losing leadership calls on_stopped_leading
 * at once, from the elector's thread: it must stop all work (cancel the
 * work client: cd_kube_client_cancel). The elector has its own client, so
 * cancelling the work client does not stop the election. On stop, a held
 * lease is released (holder emptied) so the next leader starts at once. */
#ifndef CD_KUBE_LEADER_H
#define CD_KUBE_LEADER_H
#include "kube/client.h"
#include <stdint.h>

typedef struct cd_leader cd_leader;

typedef struct cd_leader_opts {
    const char *namespace;      /* the Lease's namespace (required) */
    const char *name;           /* NULL: "canaryd-leader-election" */
    const char *identity;       /* NULL: "<hostname>_<uuid>" */
    int lease_duration_ms;      /* 0: 60000 */
    int renew_deadline_ms;      /* 0: 15000 */
    int retry_period_ms;        /* 0: 5000 */
    bool keep_on_stop;          /* do not release the lease on stop */
    /* Called on the elector's thread; must return quickly. */
    void (*on_started_leading)(void *ud);
    void (*on_stopped_leading)(void *ud);
    void (*on_new_leader)(void *ud, const char *identity);
    void *ud;
} cd_leader_opts;

/* Checks the options and starts campaigning on a thread. cfg is copied
 * into the elector's own client. */
cd_leader *cd_leader_start(const cd_kube_config *cfg, const cd_leader_opts *o, cd_kube_err *err);
bool cd_leader_is_leader(cd_leader *l);
const char *cd_leader_identity(cd_leader *l);
/* The holder last observed (malloc'd), or NULL. */
char *cd_leader_holder(cd_leader *l);
/* Stops campaigning; releases a held lease (unless keep_on_stop) and calls
 * on_stopped_leading if this process was leading. */
void cd_leader_stop(cd_leader *l);
void cd_leader_free(cd_leader *l);

/* The decision, pure: may `me` write the lease now? holder is the
 * record's holderIdentity ("" or NULL: free), duration_s its
 * leaseDurationSeconds, observed_ms the local monotonic time the record
 * was last seen to change. */
bool cd_lease_may_write(const char *holder, int duration_s, const char *me, int64_t observed_ms,
                        int64_t now_ms);

#endif
