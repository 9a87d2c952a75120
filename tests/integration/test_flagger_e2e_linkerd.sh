#!/bin/bash
# test_flagger_e2e_linkerd.sh - Flagger's own end-to-end scripts for
# Linkerd, unchanged, against canaryd kube (-mesh-provider=gatewayapi:v1beta1,
# as Flagger's kustomize/linkerd) on the fake API server with the Gateway
# API's HTTPRoute CRD. They are ../shared/conformance/flagger/e2e/test/linkerd/
# (canary with pre-rollout webhooks, promotion and rollback; stepWeights);
# what they expect of a Kind cluster with Linkerd is provided around them
# (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver (with the HTTPRoute CRD), canaryd kube, canaryd
# loadtester, kubectl and the stand-ins of tests/flagger-e2e/ (linkerd.py:
# the proxies, routing by the HTTPRoutes attached to Services and reporting
# Linkerd's metrics).
#
# Not run: install.sh (it downloads the linkerd CLI with curl and installs
# Linkerd and linkerd-viz with it; the stand-in install below does the rest).
. "$(dirname "$0")/../flagger-e2e/harness.sh"

MESH=127.0.6.1
e2e_hosts "$MESH podinfo podinfo.test podinfo.test.svc podinfo.test.svc.cluster.local" \
  "$MESH podinfo-canary podinfo-canary.test podinfo-canary.test.svc podinfo-canary.test.svc.cluster.local" \
  "$MESH podinfo-primary podinfo-primary.test podinfo-primary.test.svc podinfo-primary.test.svc.cluster.local" \
  "$PROMETHEUS prometheus.linkerd-viz prometheus.linkerd-viz.svc prometheus.linkerd-viz.svc.cluster.local"
# the inbound proxies' response_total and response_latency_ms
e2e_target "$MESH:4191"
e2e_start --crd "$CANARYD_SHARED/conformance/crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml"
/usr/bin/python3 "$HERE/linkerd.py" --api "$FAKE_URL" --mesh "$MESH" >"$TEST_TMP/linkerd.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-linkerd" "$REPO/kustomize/"
require "the Linkerd stand-in is up" wait_http "http://$MESH:4191/metrics" 30

# install.sh, less what cannot be done here: Linkerd and linkerd-viz
# (their namespaces; the HTTPRoute CRD is installed with the fake API
# server), canaryd as `flagger` with kustomize/linkerd's settings, `set
# image` and `rollout status`
linkerd_install() {
  kubectl create ns linkerd && kubectl create ns linkerd-viz && kubectl create ns flagger-system &&
    kubectl apply -k "$REPO/kustomize/e2e-linkerd" &&
    kubectl -n flagger-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n flagger-system rollout status deployment/flagger
}
require "install.sh's stand-in" eval 'linkerd_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/linkerd/run.sh, with its own command after init.sh
run_sh_delete_ds() {
  (cd "$REPO" && kubectl -n test delete ds podinfo-ds) >>"$TEST_TMP/run-sh.log" 2>&1
  check "run.sh's command before the next script (delete ds podinfo-ds)" [ $? = 0 ]
}
e2e_script workloads/init.sh
run_sh_delete_ds
e2e_script linkerd/test-canary.sh
e2e_script workloads/init.sh
run_sh_delete_ds
e2e_script linkerd/test-steps.sh
e2e_summary
finish
