/* texts.h - every event and alert text the engine emits, quoted from
 * Flagger (reference §2, §3.1, §4.2, §5) because users' tooling matches
 * on them. printf formats: "C.ns" is <canary>.<namespace>, "T.ns" is
 * <target>.<namespace>. Data only; docs/engine.md lists them for users. */
#ifndef CD_ENGINE_TEXTS_H
#define CD_ENGINE_TEXTS_H

/* lifecycle */
#define EV_SUSPENDED            "skipping canary run as object is suspended"
#define EV_PROVIDERS_OK         "all the metrics providers are available!"
#define EV_PROVIDERS_ERROR      "Error checking metric providers: %s"
#define EV_INIT_DONE            "Initialization done! %s"                       /* C.ns */
#define AL_INIT_DONE            "New %s detected, initialization completed."    /* kind */
#define EV_NEW_REVISION         "New revision detected! Scaling up %s"          /* T.ns */
#define AL_NEW_REVISION         "New revision detected, progressing canary analysis."
#define EV_RESTART              "New revision detected! Restarting analysis for %s" /* T.ns */
#define EV_STARTING             "Starting canary analysis for %s"               /* T.ns */

/* traffic */
#define EV_ADVANCE_WEIGHT       "Advance %s canary weight %d"                   /* C.ns */
#define EV_ADVANCE_ITERATION    "Advance %s canary iteration %d/%d"             /* C.ns */
#define EV_ADVANCE_PRIMARY      "Advance %s primary weight %d"                  /* C.ns */
#define EV_ROUTE_ALL_CANARY     "Routing all traffic to canary"
#define EV_STOP_MIRRORING       "Stop traffic mirroring and route all traffic to canary"
#define EV_ROUTE_ALL_PRIMARY    "Routing all traffic to primary"
#define EV_COPYING              "Copying %s template spec to %s-primary.%s"     /* T.ns, T, ns */
/* a StatefulSet target has no primary (canaryd's extension, docs/statefulset.md) */
#define EV_STS_PROMOTING        "Updating every ordinal of statefulset %s (partition 0)"  /* T.ns */

/* outcomes */
#define EV_PROMOTION_DONE       "Promotion completed! Scaling down %s"          /* T.ns */
#define AL_PROMOTION_DONE       "Canary analysis completed successfully, promotion finished."
#define EV_SKIPPED_DONE         "Promotion completed! Canary analysis was skipped for %s" /* T.ns */
#define AL_SKIPPED_DONE         "Canary analysis was skipped, promotion finished."
#define EV_THRESHOLD_REACHED    "Rolling back %s failed checks threshold reached %d" /* C.ns */
#define AL_THRESHOLD_REACHED    "Failed checks threshold reached %d"
#define EV_CANARY_FAILED        "Canary failed! Scaling down %s"                /* C.ns */
#define EV_PROMOTION_FAILED     "Promotion failed, primary not ready: %s"
#define AL_PROMOTION_FAILED     "Promotion failed, primary not ready: %s"
#define EV_DEADLINE_EXCEEDED    "Rolling back %s progress deadline exceeded %s" /* C.ns */
#define AL_DEADLINE_EXCEEDED    "Progress deadline exceeded %s"
#define EV_MANUAL_ROLLBACK      "Rolling back %s manual webhook invoked"        /* C.ns */
#define AL_MANUAL_ROLLBACK      "Rolling back manual webhook invoked"

/* webhooks (gates) */
#define EV_CONFIRM_ROLLOUT_OK   "Confirm-rollout check %s passed"
#define EV_CONFIRM_ROLLOUT_WAIT "Halt %s advancement waiting for approval %s"   /* C.ns, hook */
#define AL_CONFIRM_ROLLOUT_WAIT "Canary is waiting for approval."
#define EV_PRE_ROLLOUT_OK       "Pre-rollout check %s passed"
#define EV_PRE_ROLLOUT_FAIL     "Halt %s advancement pre-rollout check %s failed %s"
#define EV_ROLLOUT_FAIL         "Halt %s advancement external check %s failed %s"
#define EV_TRAFFIC_OK           "Confirm-traffic-increase check %s passed"
#define EV_TRAFFIC_WAIT         "Halt %s advancement waiting for traffic increase approval %s"
#define AL_TRAFFIC_WAIT         "Canary traffic increase is waiting for approval."
#define EV_PROMOTION_OK         "Confirm-promotion check %s passed"
#define EV_PROMOTION_WAIT       "Halt %s advancement waiting for promotion approval %s"
#define AL_PROMOTION_WAIT       "Canary promotion is waiting for approval."
#define EV_POST_ROLLOUT_OK      "Post-rollout check %s passed"
#define EV_POST_ROLLOUT_FAIL    "Post-rollout hook %s failed %s"
#define EV_ROLLBACK_NO          "Rollback hook %s not signaling a rollback"
#define EV_ROLLBACK_YES         "Rollback check %s passed"

/* provider kubernetes */
#define EV_K8S_NO_AB            "A/B testing is not supported when using the kubernetes provider"
#define EV_K8S_NO_PROGRESSIVE   "Progressive traffic is not supported when using the kubernetes provider"
#define EV_K8S_ITERATIONS       "Setting canaryAnalysis.iterations: 10"

/* metric checks */
#define EV_NO_VALUES_BUILTIN    "Halt advancement no values found for %s metric %s probably %s is not receiving traffic"
#define EV_NO_VALUES_QUERY      "Halt advancement no values found for metric: %s"
#define EV_NO_VALUES_TEMPLATE   "Halt advancement no values found for custom metric: %s: %s"
#define EV_QUERY_FAILED_BUILTIN "Prometheus query failed: %s"
#define EV_QUERY_FAILED_QUERY   "Prometheus query failed for %s: %s"
#define EV_QUERY_FAILED_TEMPLATE "Metric query failed for %s: %s"
#define EV_NO_USABLE_METRIC     "Metric query failed for %s: no usable metrics template and query were configured"
#define EV_METRIC_HALT          "Halt %s advancement %s"                        /* C.ns, why */
#define EV_NO_JUDGE             "Metric %s asks for a statistical judge, but none is configured"

/* the statistical judge (canaryd's extension; not Flagger texts) */
#define EV_JUDGE_ROLLBACK       "Rolling back %s the statistical judge found %s"   /* C.ns, "<metric> <reason>" */
#define AL_JUDGE_ROLLBACK       "Statistical judge: %s"
#define EV_JUDGE_HOLD           "Halt %s promotion the statistical judge is waiting for %s" /* C.ns, "<metric> <reason>" */

/* instant rollback (canaryd's extension, spec.rollbackWindow; not Flagger texts) */
#define EV_INSTANT_ROLLBACK     "Instant rollback of %s to revision %s promoted %s: within rollbackWindow, skipping analysis" /* T.ns, revision, "5m0s ago" */
#define AL_INSTANT_ROLLBACK     "Instant rollback to revision %s, analysis skipped."
#define EV_INSTANT_DONE         "Promotion completed! Instant rollback to revision %s of %s"   /* revision, T.ns */
#define AL_INSTANT_DONE         "Instant rollback finished, promotion completed."

#endif
