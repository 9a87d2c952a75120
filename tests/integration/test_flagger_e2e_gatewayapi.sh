#!/bin/bash
# test_flagger_e2e_gatewayapi.sh - Flagger's own end-to-end scripts for the
# Gateway API, unchanged, against canaryd kube (gatewayapi:v1) on the fake
# API server. They are ../shared/conformance/flagger/e2e/test/gatewayapi/
# (canary, blue/green, A/B, session affinity); what they expect of a Kind cluster with Istio
# is provided around them (tests/flagger-e2e/harness.sh,
# docs/compatibility.md). Prints "flagger e2e: N/M scripts passed"; any
# script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester, kubectl and the
# stand-ins of tests/flagger-e2e/.
#
# Not run: install.sh (it downloads Istio and the Gateway API CRDs from the
# network and installs Flagger from its own Helm chart; the stand-in
# install below does the same for canaryd).
# test-session-affinity.sh reaches the gateway through `kubectl
# port-forward svc/gateway-istio 8888:80`: the gateway's Service and Pod,
# which Istio would create for the Gateway, are made here, the Pod's
# status.podIP being the stand-in's address, where the fake API server's
# pods/portforward connects; it checks the cookies with `go run
# verify_session_affinity.go` (Debian's go, offline).
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
e2e_require_go
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
    kubectl -n flagger-system rollout status deployment/flagger &&
    gw_service
}
# what Istio makes for the Gateway istio-ingress/gateway: its Pod (here the
# stand-in's address) and the Service gateway-istio in front of it
gw_service() {
  e2e_stand_in_pod istio-ingress gateway-istio-7c9d8b5f6-x2lqp "$GATEWAY" 80 \
    gateway.networking.k8s.io/gateway-name=gateway istio.io/gateway-name=gateway &&
    kubectl apply -f - <<EOF
apiVersion: v1
kind: Service
metadata: {name: gateway-istio, namespace: istio-ingress}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: gateway}
  ports: [{name: http, port: 80, targetPort: 80}]
EOF
}
require "install.sh's stand-in" eval 'gw_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# test-session-affinity.sh checks the primary's cookie against
# PRIMARY_VERSION=6.0.4 while test/workloads/deployment.yaml runs podinfo
# 6.0.0: its verification times out in any cluster, and the script then
# exits 0 (`echo ...; exit $?`), which Flagger's CI counts as passed, its
# promotion and cookie-cleanup checks never run. Around it, sa_rest runs
# the same verify_session_affinity.go with the version the primary runs,
# and the rest of the script: its own lines, unchanged, from its start to
# its `source test-utils.sh`, from its port-forward to its trap, and from
# the promotion wait to the end.
sa_rest() {
  local src=$REPO/test/gatewayapi/test-session-affinity.sh rest=$TEST_TMP/sa-rest.sh
  {
    sed -n '1,/^source /p' "$src"
    sed -n "/^echo '>>> Port forwarding load balancer'/,/^trap /p" "$src"
    printf '%s\n' "echo '>>> Verifying session affinity (PRIMARY_VERSION=6.0.0, the version deployment.yaml runs)'" \
      'sleep 2' \
      'URL=http://localhost:8888 HOST=www.example.com CANARY_VERSION=6.1.0 CANARY_COOKIE_NAME=canary-flagger-cookie \' \
      '  PRIMARY_VERSION=6.0.0 PRIMARY_COOKIE_NAME=primary-flagger-cookie go run ${REPO_ROOT}/test/verify_session_affinity.go'
    sed -n "/^echo '>>> Waiting for canary promotion'/,\$p" "$src"
  } >"$rest"
  (cd "$REPO" && exec timeout 800 bash "$rest") >>"$1" 2>&1 &&
    grep -q "successfully verified session affinity" "$1" &&
    grep -q "^✔ Canary release with session affinity promotion test passed" "$1"
}

# the order of test/gatewayapi/run.sh
e2e_script workloads/init.sh
e2e_script gatewayapi/test-canary.sh
e2e_script gatewayapi/test-bg.sh
e2e_script gatewayapi/test-ab.sh
e2e_script gatewayapi/test-session-affinity.sh "" sa_rest
e2e_summary
finish
