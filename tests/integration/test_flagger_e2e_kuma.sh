#!/bin/bash
# test_flagger_e2e_kuma.sh - Flagger's own end-to-end script for Kuma,
# unchanged, against canaryd kube (-mesh-provider=kuma) on the fake API
# server with Kuma's TrafficRoute CRD. It is
# ../shared/conformance/flagger/e2e/test/kuma/test-canary.sh (progressive
# weights and promotion on Kuma's Envoy metrics, then a rollback on the
# error rate of /status/500); what it expects of a Kind cluster with Kuma
# is provided around it (tests/flagger-e2e/harness.sh,
# docs/compatibility.md). Prints "flagger e2e: N/M scripts passed"; any
# script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver (with Kuma's TrafficRoute CRD), canaryd kube, canaryd
# loadtester, kubectl and the stand-ins of tests/flagger-e2e/ (kuma.py: the
# sidecars, routing by the TrafficRoutes and reporting Envoy's metrics).
#
# Not run: install.sh (it downloads Kuma with curl and installs it with
# kumactl; the stand-in install below does the rest).
. "$(dirname "$0")/../flagger-e2e/harness.sh"

MESH=127.0.5.1
E2E_FLAGGER_NS=kong-mesh-system
e2e_hosts "$MESH podinfo podinfo.test podinfo.test.svc podinfo.test.svc.cluster.local" \
  "$MESH podinfo-canary podinfo-canary.test podinfo-canary.test.svc podinfo-canary.test.svc.cluster.local" \
  "$MESH podinfo-primary podinfo-primary.test podinfo-primary.test.svc podinfo-primary.test.svc.cluster.local" \
  "$PROMETHEUS prometheus-server.mesh-observability prometheus-server.mesh-observability.svc prometheus-server.mesh-observability.svc.cluster.local"
# the sidecars' envoy_cluster_upstream_rq and envoy_cluster_upstream_rq_time
e2e_target "$MESH:5670"
e2e_start --crd "$CANARYD_SHARED/conformance/crds/kuma/kuma.io_trafficroutes.yaml"
/usr/bin/python3 "$HERE/kuma.py" --api "$FAKE_URL" --mesh "$MESH" >"$TEST_TMP/kuma.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-kuma" "$REPO/kustomize/"
require "the Kuma stand-in is up" wait_http "http://$MESH:5670/metrics" 30

# install.sh, less what cannot be done here: Kuma itself (its TrafficRoute
# CRD is installed with the fake API server; TrafficPermission's is a
# stand-in, tests/integration/crds), the kong-mesh-system namespace,
# canaryd as `flagger` with kustomize/kuma's settings, `set image` and
# `rollout status`
kuma_install() {
  kubectl apply -f "$CANARYD_SRC/tests/integration/crds/kuma-trafficpermission.yaml" &&
    kubectl create ns kong-mesh-system &&
    kubectl apply -k "$REPO/kustomize/e2e-kuma" &&
    kubectl -n kong-mesh-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n kong-mesh-system rollout status deployment/flagger
}
require "install.sh's stand-in" eval 'kuma_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/kuma/run.sh, with its own commands between the scripts
e2e_script workloads/init.sh
(cd "$REPO" && kubectl label namespace test kuma.io/sidecar-injection=enabled --overwrite &&
   kubectl delete -n test ds podinfo-ds) >"$TEST_TMP/run-sh.log" 2>&1
check "run.sh's commands before test-canary.sh" [ $? = 0 ]
e2e_script kuma/test-canary.sh
e2e_summary
finish
