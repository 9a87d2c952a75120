#!/bin/bash
# test_flagger_e2e_keda.sh - Flagger's own end-to-end script for KEDA
# ScaledObjects, unchanged, against canaryd kube on the fake API server.
# It is ../shared/conformance/flagger/e2e/test/keda/test-scaledobject.sh
# (primary ScaledObject with its query renamed, the canary's paused and
# resumed, KEDA scaling the canary up under load, promotion); what it
# expects of a Kind cluster with KEDA is provided around it
# (tests/flagger-e2e/harness.sh, the fake API server's KEDA stand-in, which
# runs the trigger's query against the real Prometheus; docs/compatibility.md).
# Prints "flagger e2e: N/M scripts passed"; any script that fails fails
# the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester, kubectl and the
# stand-ins of tests/flagger-e2e/.
#
# Not run: install.sh (it installs KEDA from its Helm repository over the
# network, then does what kubernetes/install.sh does, which is run instead
# once KEDA's ScaledObject CRD is installed).
. "$(dirname "$0")/../flagger-e2e/harness.sh"

# the Services the script and the Canary's webhook call, and the pods
# behind them as Prometheus sees them (KEDA's trigger reads
# http_requests_total{app="podinfo"}: the canary's pods)
e2e_hosts "127.0.2.1 podinfo-svc-canary podinfo-svc-canary.test podinfo-svc-canary.test.svc.cluster.local" \
  "127.0.2.2 podinfo-svc podinfo-svc.test podinfo-svc-primary podinfo-svc-primary.test"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
e2e_start
e2e_repo

# install.sh, less the network: KEDA's CRD (the fake API server stands in
# for KEDA's operator once it is installed), then Flagger as
# kubernetes/install.sh installs it
require "KEDA's ScaledObject CRD" eval 'kubectl apply -f "$CANARYD_SHARED/conformance/crds/keda/keda.sh_scaledobjects.yaml" >"$TEST_TMP/keda-crd.log" 2>&1'
e2e_script kubernetes/install.sh

# the order of test/keda/run.sh
e2e_script workloads/init.sh
e2e_script keda/test-scaledobject.sh
e2e_summary
finish
