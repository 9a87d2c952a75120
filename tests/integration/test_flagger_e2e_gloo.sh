#!/bin/bash
# test_flagger_e2e_gloo.sh - Flagger's own end-to-end script for Gloo
# Edge, unchanged, against canaryd kube (-mesh-provider=gloo) on the fake
# API server. It is ../shared/conformance/flagger/e2e/test/gloo/
# test-canary.sh (initialization with the settings of an upstreamRef
# Upstream in another namespace, their reconciliation when it changes,
# progressive weights behind a confirm-rollout gate and a pre-rollout
# acceptance test through the gateway, promotion, then A/B by header);
# what it expects of a Kind cluster with Gloo is provided around it
# (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester,
# kubectl and the stand-ins of tests/flagger-e2e/, among them ingress.py
# --provider gloo, the gateway-proxy that routes by the VirtualService, the
# RouteTable and the Upstreams.
#
# Not run: install.sh (it installs Gloo from its Helm repository on the
# network and Flagger from its own Helm chart; the stand-in install below
# does the same for canaryd).
E2E_FLAGGER_NS=gloo-system
. "$(dirname "$0")/../flagger-e2e/harness.sh"

PROXY=127.0.3.1
e2e_hosts "$PROXY gateway-proxy.gloo-system gateway-proxy.gloo-system.svc gateway-proxy.gloo-system.svc.cluster.local" \
  "$PROMETHEUS flagger-prometheus.gloo-system flagger-prometheus.gloo-system.svc"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
# Envoy's envoy_cluster_upstream_rq and _rq_time (clusters
# <upstream>_<namespace>), read by the builtin request-success-rate and
# request-duration
e2e_target "$PROXY:8081"
e2e_start
/usr/bin/python3 "$HERE/ingress.py" --provider gloo --api "$FAKE_URL" --address "$PROXY" \
  --metrics-port 8081 --pod podinfo=127.0.2.1 --pod podinfo-primary=127.0.2.2 >"$TEST_TMP/gateway-proxy.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-gloo" "$REPO/kustomize/"
require "the gateway-proxy stand-in is up" wait_http "http://$PROXY:8081/metrics" 30

# install.sh, less what cannot be done here: Gloo's RouteTable and Upstream
# CRDs (the ones canaryd writes; shared/conformance), a stand-in for its
# VirtualService CRD (tests/flagger-e2e/crds), the gloo-system namespace,
# canaryd as `flagger` in it with the chart's settings, its Prometheus
gloo_install() {
  kubectl apply -f "$CANARYD_SHARED/conformance/crds/gloo/" &&
    kubectl apply -f "$HERE/crds/gateway.solo.io_virtualservices.yaml" &&
    kubectl create ns gloo-system &&
    kubectl apply -k "$REPO/kustomize/e2e-gloo" &&
    kubectl -n gloo-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n gloo-system rollout status deployment/flagger &&
    kubectl -n gloo-system rollout status deployment/flagger-prometheus
}
require "install.sh's stand-in" eval 'gloo_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/gloo/run.sh
e2e_script workloads/init.sh
e2e_script gloo/test-canary.sh
e2e_summary
finish
