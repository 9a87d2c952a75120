#!/bin/bash
# test_kube_client.sh - canaryd's Kubernetes client (src/kube/) against the
# fake API server: CRUD and patches, error decoding, retries, rate limits,
# cancellation, Events (events.k8s.io/v1 and the core v1 fallback),
# informers through cut watches, 500 storms and compaction, 409 on the
# first write, and leader election. The scenarios live in
# tests/tools/kube_client_check.c; each prints its own ok/FAIL lines.
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
CHECK=$CANARYD_BUILD/kube_client_check

scenario() {   # scenario NAME [args]: runs one scenario, its output is shown
  local name=$1; shift
  echo "== $name"
  timeout 180 "$CHECK" "$name" "$@"
}

fake_apiserver_start --crd "$CANARYD_SRC/deploy/crds/canaries.yaml" --step 0.05 \
  --bookmark-interval 0.5 || exit 1
for s in crud errors retry ratelimit cancel events faults informer leader; do
  check "scenario $s" scenario $s
done

# a server without events.k8s.io/v1: Events fall back to core v1
fake_apiserver_start --crd "$CANARYD_SRC/deploy/crds/canaries.yaml" --disable events.k8s.io/v1 || exit 1
check "scenario events-core (no events.k8s.io/v1)" scenario events-core
finish
