#!/bin/bash
# test_flagger_e2e_apisix.sh - Flagger's own end-to-end script for APISIX,
# unchanged, against canaryd kube (-mesh-provider=apisix) on the fake API
# server. It is ../shared/conformance/flagger/e2e/test/apisix/
# test-canary.sh (initialization, the apex selector, progressive weights
# and promotion); what it expects of a Kind cluster with APISIX is provided
# around it (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester,
# kubectl and the stand-ins of tests/flagger-e2e/, among them ingress.py
# --provider apisix, the gateway that routes by the ApisixRoutes canaryd
# writes.
#
# Not run: install.sh (it installs APISIX and its ingress controller from
# their Helm repository on the network and Flagger from its own Helm chart;
# the stand-in install below does the same for canaryd).
E2E_FLAGGER_NS=apisix
. "$(dirname "$0")/../flagger-e2e/harness.sh"

GATEWAY=127.0.3.1
e2e_hosts "$GATEWAY apisix-gateway.apisix apisix-gateway.apisix.svc apisix-gateway.apisix.svc.cluster.local" \
  "$PROMETHEUS flagger-prometheus.apisix flagger-prometheus.apisix.svc"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
# APISIX's apisix_http_status and apisix_http_latency, read by the builtin
# request-success-rate and request-duration
e2e_target "$GATEWAY:9091"
e2e_start
/usr/bin/python3 "$HERE/ingress.py" --provider apisix --api "$FAKE_URL" --address "$GATEWAY" \
  --metrics-port 9091 --pod podinfo=127.0.2.1 --pod podinfo-primary=127.0.2.2 >"$TEST_TMP/apisix.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-apisix" "$REPO/kustomize/"
require "the APISIX stand-in is up" wait_http "http://$GATEWAY:9091/metrics" 30

# install.sh, less what cannot be done here: the ApisixRoute CRD (the one
# canaryd writes; shared/conformance), the apisix namespace, canaryd as
# `flagger` in it with the chart's settings, its Prometheus
apisix_install() {
  kubectl apply -f "$CANARYD_SHARED/conformance/crds/apisix/apisix.apache.org_apisixroutes.yaml" &&
    kubectl create ns apisix &&
    kubectl apply -k "$REPO/kustomize/e2e-apisix" &&
    kubectl -n apisix rollout status deployment/flagger &&
    kubectl -n apisix rollout status deployment/flagger-prometheus
}
require "install.sh's stand-in" eval 'apisix_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/apisix/run.sh
e2e_script workloads/init.sh
e2e_script apisix/test-canary.sh
e2e_summary
finish
