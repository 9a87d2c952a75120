#!/bin/bash
# test_flagger_e2e_skipper.sh - Flagger's own end-to-end script for the
# Skipper ingress, unchanged, against canaryd kube (-mesh-provider=skipper)
# on the fake API server. It is ../shared/conformance/flagger/e2e/test/
# skipper/test-canary.sh (initialization, acceptance test, progressive
# weights to 100 % and promotion); what it expects of a Kind cluster with
# Skipper is provided around it (tests/flagger-e2e/harness.sh,
# docs/compatibility.md). Prints "flagger e2e: N/M scripts passed"; any
# script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester,
# kubectl and the stand-ins of tests/flagger-e2e/, among them ingress.py
# --provider skipper, the Skipper that routes by the Ingresses canaryd
# writes.
#
# Not run: install.sh (it downloads kustomize and Skipper's manifests from
# the network; the stand-in install below applies the rest of
# test/skipper/kustomization.yaml, Flagger's bases with its patch).
. "$(dirname "$0")/../flagger-e2e/harness.sh"

SKIPPER=127.0.3.1
e2e_hosts "$SKIPPER skipper-ingress.kube-system skipper-ingress.kube-system.svc skipper-ingress.kube-system.svc.cluster.local" \
  "127.0.2.1 podinfo-service-canary podinfo-service-canary.test podinfo-service-canary.test.svc podinfo-service-canary.test.svc.cluster.local"
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
# Skipper's skipper_response_duration_seconds and
# skipper_serve_route_duration_seconds, read by the builtin queries
e2e_target "$SKIPPER:9911"
e2e_start
/usr/bin/python3 "$HERE/ingress.py" --provider skipper --api "$FAKE_URL" --address "$SKIPPER" \
  --metrics-port 9911 --pod podinfo=127.0.2.1 --pod podinfo-primary=127.0.2.2 >"$TEST_TMP/skipper.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-skipper" "$REPO/kustomize/"
require "the Skipper stand-in is up" wait_http "http://$SKIPPER:9911/metrics" 30

# install.sh, less what cannot be done here (Skipper itself): Flagger's
# bases with test/skipper/patch.yaml's settings, set image, rollout status
skipper_install() {
  kubectl apply -k "$REPO/kustomize/e2e-skipper" &&
    kubectl -n flagger-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n flagger-system rollout status deployment/flagger &&
    kubectl -n flagger-system rollout status deployment/flagger-prometheus
}
require "install.sh's stand-in" eval 'skipper_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/skipper/run.sh
e2e_script workloads/init.sh
e2e_script skipper/test-canary.sh
e2e_summary
finish
