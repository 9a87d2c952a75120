#!/bin/bash
# test_flagger_e2e_contour.sh - Flagger's own end-to-end script for
# Contour, unchanged, against canaryd kube (-mesh-provider=contour
# -ingress-class=contour) on the fake API server. It is
# ../shared/conformance/flagger/e2e/test/contour/test-canary.sh
# (initialization with the ingress class, progressive weights and
# promotion, rollback on the latency of /delay/1, A/B by header); what it
# expects of a Kind cluster with Contour is provided around it
# (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester,
# kubectl and the stand-ins of tests/flagger-e2e/, among them ingress.py
# --provider contour, the Envoy that routes by the HTTPProxies canaryd
# writes.
#
# Not run: install.sh (it applies Contour's manifest from the network and
# installs Flagger from its own Helm chart; the stand-in install below does
# the same for canaryd).
E2E_FLAGGER_NS=projectcontour
. "$(dirname "$0")/../flagger-e2e/harness.sh"

ENVOY=127.0.3.1
e2e_hosts "$ENVOY envoy.projectcontour envoy.projectcontour.svc envoy.projectcontour.svc.cluster.local" \
  "$PROMETHEUS flagger-prometheus.projectcontour flagger-prometheus.projectcontour.svc" \
  "127.0.2.1 podinfo-canary podinfo-canary.test podinfo-canary.test.svc podinfo-canary.test.svc.cluster.local"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
# Envoy's envoy_cluster_upstream_rq and _rq_time, read by the builtin
# request-success-rate and request-duration
e2e_target "$ENVOY:8002"
e2e_start
/usr/bin/python3 "$HERE/ingress.py" --provider contour --api "$FAKE_URL" --address "$ENVOY" \
  --metrics-port 8002 --pod podinfo=127.0.2.1 --pod podinfo-primary=127.0.2.2 >"$TEST_TMP/envoy.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-contour" "$REPO/kustomize/"
require "the Envoy stand-in is up" wait_http "http://$ENVOY:8002/metrics" 30

# install.sh, less what cannot be done here: Contour's HTTPProxy CRD (the
# one canaryd writes; shared/conformance), the projectcontour namespace,
# canaryd as `flagger` in it with the chart's settings, its Prometheus
contour_install() {
  kubectl apply -f "$CANARYD_SHARED/conformance/crds/contour/projectcontour.io_httpproxies.yaml" &&
    kubectl create ns projectcontour &&
    kubectl apply -k "$REPO/kustomize/e2e-contour" &&
    kubectl -n projectcontour set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n projectcontour rollout status deployment/flagger &&
    kubectl -n projectcontour rollout status deployment/flagger-prometheus
}
require "install.sh's stand-in" eval 'contour_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/contour/run.sh
e2e_script workloads/init.sh
e2e_script contour/test-canary.sh
e2e_summary
finish
