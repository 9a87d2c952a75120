#!/bin/bash
# test_flagger_e2e_knative.sh - Flagger's own end-to-end scripts for
# Knative, unchanged, against canaryd kube (provider knative) on the fake
# API server. They are ../shared/conformance/flagger/e2e/test/knative/
# (init.sh, test-canary.sh: initialization, promotion, rollback on a slow
# revision); what they expect of a Kind cluster with Knative Serving and
# Kourier is provided around them (tests/flagger-e2e/harness.sh, the fake
# API server's Knative stand-in, tests/flagger-e2e/kourier.py;
# docs/compatibility.md). Prints "flagger e2e: N/M scripts passed"; any
# script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester, kubectl and the
# stand-ins of tests/flagger-e2e/.
#
# Not run: install.sh (it downloads Knative Serving and Kourier from the
# network and installs Flagger from kustomize/knative, which is not in
# shared/conformance); the stand-in install below does the same for canaryd.
. "$(dirname "$0")/../flagger-e2e/harness.sh"

KOURIER=127.0.3.2
# the load goes to the Knative Service's own host, through Kourier
e2e_hosts "$KOURIER podinfo.test podinfo.test.svc podinfo.test.svc.cluster.local"
# Kourier's Envoy series, envoy_cluster_name="<namespace>/<revision>"
e2e_target "$KOURIER:15090"
e2e_start
/usr/bin/python3 "$HERE/kourier.py" --api "$FAKE_URL" --address "$KOURIER" >"$TEST_TMP/kourier.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-knative" "$REPO/kustomize/"
require "the Kourier stand-in is up" wait_http "http://$KOURIER:15090/metrics" 30

# install.sh, less what cannot be done here: Knative's Service CRD (the
# fake API server stands in for Knative Serving's controller once it is
# installed), canaryd as `flagger` with kustomize/knative's settings
kn_install() {
  kubectl apply -f "$CANARYD_SHARED/conformance/crds/knative/serving.knative.dev_services.yaml" &&
    kubectl create ns flagger-system &&
    kubectl apply -k "$REPO/kustomize/e2e-knative" &&
    kubectl -n flagger-system set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n flagger-system rollout status deployment/flagger
}
require "install.sh's stand-in" eval 'kn_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/knative/run.sh
e2e_script knative/init.sh
e2e_script knative/test-canary.sh
e2e_summary
finish
