#!/bin/bash
# test_kube_operator_cli.sh - `canaryd kube` refuses bad input clearly and
# changes nothing: unknown or malformed flags (exit 2), a -mesh-provider
# canaryd has no router for, an unreadable
# kubeconfig, an unreachable API server, a cluster without canaryd's CRDs,
# a /metrics port already taken (exit 1, one error line saying why); -h and
# -version answer; a healthy start serves /healthz and /metrics.
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
require_kubectl

out=$TEST_TMP/out
run() { "$CANARYD" kube "$@" >"$out" 2>&1; echo $?; }

check "-h lists the flags" [ "$(run -h)" = 0 ]
check "-h mentions -mesh-provider" grep -q -- "-mesh-provider" "$out"
check "-version prints the version" [ "$(run -version)" = 0 ]
check "unknown flag: exit 2" [ "$(run -no-such-flag)" = 2 ]
check "unknown flag: says which" grep -q "unknown flag \"-no-such-flag\"" "$out"
check "bad duration: exit 2" [ "$(run -control-loop-interval soon)" = 2 ]
check "bad duration: says which" grep -q "invalid duration \"soon\" for -control-loop-interval" "$out"
check "bad leader timings: exit 2" [ "$(run -leader-election-renew-deadline 90s)" = 2 ]
check "unsupported -mesh-provider: exit 1" [ "$(run -mesh-provider istioo -kubeconfig "$TEST_TMP/none")" = 1 ]
check "unsupported -mesh-provider: names it and the providers canaryd routes" \
  grep -qF 'mesh-provider: provider \"istioo\" is not supported by canaryd kube (supported: appmesh:v1beta2, gatewayapi:v1, gatewayapi:v1beta1, istio, kubernetes, nginx, contour, traefik, gloo, skipper, linkerd, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, osm, apisix, kuma, knative)' "$out"
check "missing kubeconfig: exit 1" [ "$(run -kubeconfig "$TEST_TMP/none")" = 1 ]
check "missing kubeconfig: says so" grep -q "Error building kubeconfig: kubeconfig $TEST_TMP/none" "$out"

# an API server that does not answer
port=$(free_port)
cat >"$TEST_TMP/kc" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:$port"}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
KC
check "unreachable API server: exit 1" [ "$(run -kubeconfig "$TEST_TMP/kc" -port 0)" = 1 ]
check "unreachable API server: the CRD check says why" grep -q "canaries.flagger.app: cannot list" "$out"

# a cluster without canaryd's CRDs
fake_apiserver_start
count_objects() { curl -s "$FAKE_URL/fake/state" | /usr/bin/python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["objects"].values()))'; }
before=$(count_objects)
check "no CRDs: exit 1" [ "$(run -kubeconfig "$KUBECONFIG" -port 0)" = 1 ]
check "no CRDs: says so" grep -q "is the CRD installed" "$out"
after=$(count_objects)

# with the CRDs: serves /healthz and /metrics; a taken port is refused
kubectl apply -f "$CANARYD_SRC/deploy/crds/canaries.yaml" -f "$CANARYD_SRC/deploy/crds/metrictemplates.yaml" \
  -f "$CANARYD_SRC/deploy/crds/alertproviders.yaml" >/dev/null
check "the failed start created nothing" [ "$after" = "$before" ]
mport=$(free_port)
"$CANARYD" kube -kubeconfig "$KUBECONFIG" -port "$mport" -metrics-server http://127.0.0.1:1 \
  -log-level info >"$TEST_TMP/op.log" 2>&1 &
pid=$!
track $pid
check "/healthz answers OK" wait_http "http://127.0.0.1:$mport/healthz" 20
check "/healthz body" [ "$(curl -s "http://127.0.0.1:$mport/healthz")" = OK ]
check "/metrics has flagger_info" sh -c "curl -s http://127.0.0.1:$mport/metrics | grep -q '^flagger_info{'"
check "port taken: exit 1" [ "$(run -kubeconfig "$KUBECONFIG" -port "$mport")" = 1 ]
check "port taken: says so" grep -q "cannot serve /metrics on port $mport" "$out"
kill -TERM $pid
wait $pid
check "SIGTERM: exit 0" [ $? = 0 ]
check "logs are JSON lines" sh -c "head -1 '$TEST_TMP/op.log' | /usr/bin/python3 -c 'import json,sys; json.loads(sys.stdin.readline())'"
finish
