#!/bin/bash
# test_flagger_e2e_traefik.sh - Flagger's own end-to-end script for
# Traefik, unchanged, against canaryd kube (-mesh-provider=traefik) on the
# fake API server. It is ../shared/conformance/flagger/e2e/test/traefik/
# test-canary.sh (initialization, the apex metadata on the TraefikService,
# the confirm-rollout gate, acceptance tests, progressive weights and
# promotion); what it expects of a Kind cluster with Traefik is provided
# around it (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester,
# kubectl and the stand-ins of tests/flagger-e2e/, among them ingress.py
# --provider traefik, the Traefik that routes by the IngressRoute and the
# TraefikService canaryd writes.
#
# Not run: install.sh (it installs Traefik from its Helm repository on the
# network and Flagger from its own Helm chart; the stand-in install below
# does the same for canaryd).
E2E_FLAGGER_NS=traefik
. "$(dirname "$0")/../flagger-e2e/harness.sh"

TRAEFIK=127.0.3.1
e2e_hosts "$TRAEFIK traefik.traefik traefik.traefik.svc traefik.traefik.svc.cluster.local" \
  "$PROMETHEUS flagger-prometheus.traefik flagger-prometheus.traefik.svc" \
  "127.0.2.1 podinfo-canary podinfo-canary.test podinfo-canary.test.svc podinfo-canary.test.svc.cluster.local"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
# Traefik's traefik_service_request_duration_seconds, read by the builtin
# request-success-rate and request-duration
e2e_target "$TRAEFIK:9100"
e2e_start
/usr/bin/python3 "$HERE/ingress.py" --provider traefik --api "$FAKE_URL" --address "$TRAEFIK" \
  --metrics-port 9100 --pod podinfo=127.0.2.1 --pod podinfo-primary=127.0.2.2 >"$TEST_TMP/traefik.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-traefik" "$REPO/kustomize/"
require "the Traefik stand-in is up" wait_http "http://$TRAEFIK:9100/metrics" 30

# install.sh, less what cannot be done here: Traefik's CRDs (TraefikService,
# the one canaryd writes, from shared/conformance; IngressRoute, which the
# script applies, as an open stand-in: tests/flagger-e2e/crds/), the
# traefik namespace, canaryd as `flagger` in it with the chart's settings,
# its Prometheus
traefik_install() {
  kubectl apply -f "$CANARYD_SHARED/conformance/crds/traefik/traefik.io_traefikservices.yaml" &&
    kubectl apply -f "$HERE/crds/traefik.io_ingressroutes.yaml" &&
    kubectl create ns traefik &&
    kubectl apply -k "$REPO/kustomize/e2e-traefik" &&
    kubectl -n traefik rollout status deployment/flagger &&
    kubectl -n traefik rollout status deployment/flagger-prometheus
}
require "install.sh's stand-in" eval 'traefik_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/traefik/run.sh
e2e_script workloads/init.sh
e2e_script traefik/test-canary.sh
e2e_summary
finish
