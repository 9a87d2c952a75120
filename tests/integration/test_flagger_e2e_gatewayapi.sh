#!/bin/bash
# test_flagger_e2e_gatewayapi.sh - Flagger's own end-to-end scripts for the
# Gateway API, unchanged, against canaryd kube (gatewayapi:v1) on the fake
# API server. They are ../shared/conformance/flagger/e2e/test/gatewayapi/
# (canary, blue/green, A/B); what they expect of a Kind cluster with Istio
# is provided around them (tests/flagger-e2e/harness.sh,
# docs/compatibility.md). Prints "flagger e2e: N/M scripts passed"; any
# script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester, kubectl and the
# stand-ins of tests/flagger-e2e/.
#
# Not run: install.sh (it downloads Istio and the Gateway API CRDs from the
# network and installs Flagger from its own Helm chart; the stand-in
# install below does the same for canaryd), and test-session-affinity.sh
# (it reaches the gateway through `kubectl port-forward` and checks the
# cookies with `go run verify_session_affinity.go`).
. "$(dirname "$0")/../flagger-e2e/harness.sh"

GATEWAY=127.0.3.1
e2e_hosts "$GATEWAY gateway-istio.istio-ingress gateway-istio.istio-ingress.svc gateway-istio.istio-ingress.svc.cluster.local" \
  "$PROMETHEUS prometheus.istio-system prometheus.istio-system.svc prometheus.istio-system.svc.cluster.local" \
  "127.0.2.5 podinfo-canary.bg-test podinfo-canary.bg-test.svc podinfo-canary.bg-test.svc.cluster.local"
# test-bg.sh's load goes to the canary's Service directly; its metric reads
# podinfo's own histogram by namespace and app (Istio's Prometheus addon)
e2e_pod 127.0.2.5 bg-test podinfo-7d9c6b5f4-k8m2n podinfo
# the gateway's istio_requests_total and istio_request_duration_milliseconds
e2e_target "$GATEWAY:15090"
e2e_start
/usr/bin/python3 "$HERE/gateway.py" --api "$FAKE_URL" --address "$GATEWAY" >"$TEST_TMP/gateway.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-gatewayapi" "$REPO/kustomize/"
require "the gateway stand-in is up" wait_http "http://$GATEWAY:15090/metrics" 30

# install.sh, less what cannot be done here: the Gateway API's HTTPRoute
# CRD (the one canaryd writes; shared/conformance), the namespace of the
# Gateway, canaryd as `flagger` with the chart's settings
gw_install() {
  kubectl apply -f "$CANARYD_SHARED/conformance/crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml" &&
    kubectl create ns istio-ingress && kubectl create ns flagger-system &&
    kubectl apply -k "$REPO/kustomize/e2e-gatewayapi" &&
    kubectl -n flagger-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n flagger-system rollout status deployment/flagger
}
require "install.sh's stand-in" eval 'gw_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/gatewayapi/run.sh
e2e_script workloads/init.sh
e2e_script gatewayapi/test-canary.sh
e2e_script gatewayapi/test-bg.sh
e2e_script gatewayapi/test-ab.sh
e2e_summary
finish
