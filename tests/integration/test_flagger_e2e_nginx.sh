#!/bin/bash
# test_flagger_e2e_nginx.sh - Flagger's own end-to-end scripts for
# ingress-nginx, unchanged, against canaryd kube (-mesh-provider=nginx) on
# the fake API server. They are ../shared/conformance/flagger/e2e/test/nginx/
# (test-canary.sh: progressive weights, promotion, A/B by header;
# test-lifecycle.sh: rollback on errors, no re-run when the target is
# reverted to the primary's spec, retry of a failed canary); what they
# expect of a Kind cluster with ingress-nginx is provided around them
# (tests/flagger-e2e/harness.sh, docs/compatibility.md). Prints
# "flagger e2e: N/M scripts passed"; any script that fails fails the test.
# It starts, through harness.sh: a real Prometheus (prometheus --config.file),
# the fake-apiserver, canaryd kube, canaryd loadtester,
# kubectl and the stand-ins of tests/flagger-e2e/, among them ingress.py,
# the ingress controller that routes by the Ingresses canaryd writes.
#
# Not run: install.sh (it installs ingress-nginx from its Helm repository
# on the network and Flagger from its own Helm chart; the stand-in install
# below does the same for canaryd).
E2E_FLAGGER_NS=ingress-nginx
. "$(dirname "$0")/../flagger-e2e/harness.sh"

INGRESS=127.0.3.1
e2e_hosts "$INGRESS ingress-nginx-controller.ingress-nginx ingress-nginx-controller.ingress-nginx.svc ingress-nginx-controller.ingress-nginx.svc.cluster.local" \
  "$PROMETHEUS flagger-prometheus.ingress-nginx flagger-prometheus.ingress-nginx.svc flagger-prometheus.ingress-nginx.svc.cluster.local"
# the pods behind podinfo-canary and podinfo-primary: the MetricTemplate
# `latency` reads podinfo's own histogram of the canary's pod
# (kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", path="root")
e2e_pod 127.0.2.1 test podinfo-6b5d8c7f9d-x7k2p podinfo
e2e_pod 127.0.2.2 test podinfo-primary-5f6d7c8b9-q2w4e podinfo-primary
# the controller's nginx_ingress_controller_requests, read by the builtin
# request-success-rate
e2e_target "$INGRESS:10254"
e2e_start
/usr/bin/python3 "$HERE/ingress.py" --api "$FAKE_URL" --address "$INGRESS" \
  --pod podinfo=127.0.2.1 --pod podinfo-primary=127.0.2.2 >"$TEST_TMP/ingress.log" 2>&1 &
track $!
# test-lifecycle.sh reads the primary's Pod (its pod-template-hash label)
/usr/bin/python3 "$HERE/replicasets.py" --api "$FAKE_URL" --namespace test >"$TEST_TMP/replicasets.log" 2>&1 &
track $!
e2e_repo
cp -r "$HERE/kustomize/e2e-nginx" "$REPO/kustomize/"
require "the ingress stand-in is up" wait_http "http://$INGRESS:10254/metrics" 30

# install.sh, less what cannot be done here: the ingress-nginx namespace,
# canaryd as `flagger` in it with the chart's settings, its Prometheus
nginx_install() {
  kubectl create ns ingress-nginx &&
    kubectl apply -k "$REPO/kustomize/e2e-nginx" &&
    kubectl -n ingress-nginx set image deployment/flagger flagger=test/flagger:latest &&
    kubectl -n ingress-nginx rollout status deployment/flagger &&
    kubectl -n ingress-nginx rollout status deployment/flagger-prometheus
}
require "install.sh's stand-in" eval 'nginx_install >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; false; }'

# the order of test/nginx/run.sh
e2e_script workloads/init.sh
e2e_script nginx/test-canary.sh
# init.sh deletes namespace test, and in a cluster the load tester's pod
# with it: test-canary.sh's last `hey -z 2m` (200s from the canary) must
# not run on into test-lifecycle.sh's analysis of /status/500
e2e_loadtester_restart
e2e_script workloads/init.sh
e2e_script nginx/test-lifecycle.sh
e2e_summary
finish
