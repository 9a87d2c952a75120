#!/bin/bash
# test_flagger_e2e.sh - Flagger's own end-to-end scripts for plain
# Kubernetes, unchanged, against canaryd kube on the fake API server. They
# are ../shared/conformance/flagger/e2e/test/kubernetes/ (install, init,
# deployment, daemonset, hpa); what they expect of a Kind cluster is
# provided around them by tests/flagger-e2e/harness.sh (docs/compatibility.md,
# "Flagger's own end-to-end scripts"). Prints "flagger e2e: N/M scripts
# passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester, kubectl and the
# stand-ins of tests/flagger-e2e/.
. "$(dirname "$0")/../flagger-e2e/harness.sh"

# the Services the scripts and the Canaries' webhooks call, and the pods
# behind them as Prometheus sees them (the builtin queries select
# kubernetes_pod_name=~"<target>-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)")
e2e_hosts "127.0.2.1 podinfo-svc-canary podinfo-svc-canary.test podinfo-svc-canary.test.svc.cluster.local" \
  "127.0.2.2 podinfo-svc podinfo-svc.test podinfo-svc-primary podinfo-svc-primary.test" \
  "127.0.2.3 podinfo-ds-canary podinfo-ds-canary.test podinfo-ds-canary.test.svc.cluster.local" \
  "127.0.2.4 podinfo-ds podinfo-ds.test podinfo-ds-primary podinfo-ds-primary.test"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
e2e_pod 127.0.2.3 test podinfo-ds-h7j2k podinfo-ds
e2e_pod 127.0.2.4 test podinfo-ds-primary-m3n4b podinfo-ds-primary
e2e_start
e2e_repo

# test-daemonset.sh's last check deletes `canary podinfo` (not podinfo-ds)
# and waits for podinfo-ds to have a ready pod: it passes only when it runs
# before the Finalising tick that scales the target down after promotion
# (in Flagger as in canaryd); once the target is scaled down, nothing will
# scale it up again and the script would wait 500 s for nothing. Lost when
# the script is at that wait, everything before it passed, and the target
# carries the scale-to-zero node selector.
ds_race_lost() {
  local log=$1
  grep -q '>>> Waiting for primary to revert' "$log" || return 1
  grep -q 'Canary promotion test passed' "$log" && grep -q 'finalizer.flagger.app' "$log" &&
    grep -q 'canary.flagger.app "podinfo" deleted' "$log" || return 1
  sleep 3
  kubectl -n test get daemonset podinfo-ds -o jsonpath='{.spec.template.spec.nodeSelector}' 2>/dev/null |
    grep -q 'flagger.app/scale-to-zero' || return 1
  ! kubectl -n test get daemonset podinfo-ds -o jsonpath='{.status.numberReady}' | grep -q 1
}

# what that last check means to test: deleting a Canary with
# revertOnDeletion gives the target back its pods
revert_on_deletion() {
  kubectl -n test delete canary podinfo-ds >/dev/null || return 1
  local i=0
  until kubectl -n test get daemonset podinfo-ds -o jsonpath='{.status.numberReady}' | grep -q 1; do
    i=$((i + 1)); [ $i -gt 60 ] && return 1; sleep 1
  done
}

# the order of test/kubernetes/run.sh
e2e_script kubernetes/install.sh
e2e_script workloads/init.sh
e2e_script kubernetes/test-deployment.sh
e2e_script kubernetes/test-daemonset.sh ds_race_lost
check "deleting canary podinfo-ds (revertOnDeletion) scales podinfo-ds back up" revert_on_deletion
# run.sh's own commands between test-daemonset.sh and test-hpa.sh
(cd "$REPO" && kubectl -n test delete deploy podinfo && kubectl -n test delete svc podinfo-svc &&
   kubectl apply -f "$REPO/test/workloads/deployment.yaml" -n test) >"$TEST_TMP/run-sh.log" 2>&1
check "run.sh's commands before test-hpa.sh" [ $? = 0 ]
e2e_script kubernetes/test-hpa.sh
e2e_summary
finish
