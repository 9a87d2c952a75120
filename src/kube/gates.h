/* gates.h - the Canary annotations through which people steer a release
 * on a cluster (canaryctl promote/abort/hold/resume/retry/rollback; docs/kubectl-plugin.md).
 * canaryctl writes them (a JSON merge patch on the Canary); `canaryd kube`
 * reads them at the next tick, turns them into gates of Flagger's webhook
 * types (confirm-promotion, confirm-rollout, rollback), records an Event
 * naming the value (who asked) and removes the one-shot ones. Names only:
 * no logic here. */
#ifndef CD_KUBE_GATES_H
#define CD_KUBE_GATES_H

#define CD_GATE_PREFIX "canaryd.io/"
/* one-shot: approve the next promotion (and release a rollout hold) */
#define CD_GATE_PROMOTE CD_GATE_PREFIX "promote"
/* one-shot: roll the release being analysed back */
#define CD_GATE_ABORT CD_GATE_PREFIX "abort"
/* held until promote or resume: the promotion waits (WaitingPromotion) */
#define CD_GATE_HOLD CD_GATE_PREFIX "hold"
/* held until promote or resume: new revisions wait (Waiting) */
#define CD_GATE_HOLD_ROLLOUT CD_GATE_PREFIX "hold-rollout"
/* one-shot: release the holds and a pending abort */
#define CD_GATE_RESUME CD_GATE_PREFIX "resume"
/* one-shot: analyse a Failed release of the same revision again */
#define CD_GATE_RETRY CD_GATE_PREFIX "retry"
/* one-shot, a record only: canaryctl rollback put the last promoted
 * revision back into the target (the Event names who) */
#define CD_GATE_ROLLBACK CD_GATE_PREFIX "rollback"

/* The longest annotation value canaryd acts on (a user name and a time). */
#define CD_GATE_VALUE_MAX 200

#endif
