#!/bin/bash
# test_flagger_e2e_istio.sh - Flagger's own end-to-end scripts for Istio,
# unchanged, against canaryd kube (-mesh-provider=istio) on the fake API
# server with Istio's CRDs. They are
# ../shared/conformance/flagger/e2e/test/istio/ (canary, blue/green, A/B,
# revertOnDeletion with the user's own VirtualService, skipped analysis,
# delegation, session affinity); what they expect of a Kind cluster with Istio is provided
# around them (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver (with Istio 1.30's VirtualService and DestinationRule
# CRDs), canaryd kube, canaryd loadtester, kubectl and the stand-ins of
# tests/flagger-e2e/ (mesh.py: the sidecars and the ingress gateway,
# routing by the VirtualServices and reporting Istio's metrics).
#
# Not run: install.sh (it downloads Istio with curl, installs it with
# istioctl and Prometheus from GitHub; the stand-in install below does the
# rest).
# test-session-affinity.sh port-forwards to the ingress gateway's Pod
# (label app=istio-ingressgateway, port 8080): the install stand-in makes
# that Pod with the stand-in gateway's address as its status.podIP, where
# the fake API server's pods/portforward connects; it checks the cookies
# with `go run verify_session_affinity.go` (Debian's go, offline).
. "$(dirname "$0")/../flagger-e2e/harness.sh"

MESH=127.0.4.1
GATEWAY=127.0.4.2
E2E_FLAGGER_NS=istio-system
e2e_hosts "$MESH podinfo podinfo.test podinfo.test.svc podinfo.test.svc.cluster.local" \
  "$MESH podinfo-canary podinfo-canary.test podinfo-canary.test.svc podinfo-canary.test.svc.cluster.local" \
  "$MESH podinfo-primary podinfo-primary.test podinfo-primary.test.svc podinfo-primary.test.svc.cluster.local" \
  "$GATEWAY istio-ingressgateway.istio-system istio-ingressgateway.istio-system.svc istio-ingressgateway.istio-system.svc.cluster.local" \
  "$PROMETHEUS prometheus prometheus.istio-system prometheus.istio-system.svc prometheus.istio-system.svc.cluster.local"
# the destination sidecars' istio_requests_total and istio_request_duration_milliseconds
e2e_target "$MESH:15090"
crd_args=()
for f in "$CANARYD_SHARED"/conformance/crds/istio/*.yaml; do crd_args+=(--crd "$f"); done
e2e_require_go
e2e_start "${crd_args[@]}"
/usr/bin/python3 "$HERE/mesh.py" --api "$FAKE_URL" --mesh "$MESH" --gateway "$GATEWAY" >"$TEST_TMP/mesh.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-istio" "$REPO/kustomize/"
require "the mesh stand-in is up" wait_http "http://$MESH:15090/metrics" 30

# install.sh, less what cannot be done here: Istio itself (its
# VirtualService and DestinationRule CRDs are installed with the fake API
# server; the Gateway CRD is a stand-in, tests/integration/crds), the
# istio-system namespace, canaryd as `flagger` with kustomize/istio's
# settings, `set image` and `rollout status`
istio_install() {
  kubectl apply -f "$CANARYD_SRC/tests/integration/crds/istio-gateway.yaml" &&
    kubectl create ns istio-system &&
    kubectl apply -k "$REPO/kustomize/e2e-istio" &&
    kubectl -n istio-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n istio-system rollout status deployment/flagger &&
    e2e_stand_in_pod istio-system istio-ingressgateway-5d8f7c9b6-q7wz4 "$GATEWAY" 8080 \
      app=istio-ingressgateway istio=ingressgateway
}
require "install.sh's stand-in" eval 'istio_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# test-skip-analysis.sh's bad release, stefanprodan/potato:1.0.0, is an
# image no node can pull: its pods never become ready
fake_ctl stall '{"kind":"Deployment","namespace":"test","image":"potato"}' >/dev/null

# the order of test/istio/run.sh
e2e_script workloads/init.sh
e2e_script istio/test-canary.sh
e2e_script workloads/init.sh
e2e_script istio/test-skip-analysis.sh
e2e_script workloads/init.sh
e2e_script istio/test-delegation.sh
e2e_script workloads/init.sh
e2e_script istio/test-session-affinity.sh
e2e_summary
finish
