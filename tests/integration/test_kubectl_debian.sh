#!/bin/bash
# test_kubectl_debian.sh - Debian 12's own kubectl (package
# kubernetes-client, kubectl 1.20.2, unpacked into the project's cache by
# scripts/debian-kubectl.sh, which scripts/deps.sh test runs) works against
# the fake API server for what docs/kubernetes.md lets it do: it fetches
# /openapi/v2 (as the protocol buffer) before every apply and validates
# client-side against it (issue 22: with no /openapi/v2 every apply failed
# with NotFound); apply -f of canaryd's CRDs and of a Deployment and a
# Canary, get (server-side tables, printer columns), get -o yaml, patch
# (merge and strategic), apply again, delete. What it cannot do - build
# deploy/kubernetes's kustomizations with its kustomize v2 - is checked to
# fail, and docs/kubernetes.md to name the kubectl version that can (which
# the current kubectl here builds). Nothing is skipped: without the
# package the test fails and says how to get it.
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"

K120=$("$CANARYD_SRC/scripts/debian-kubectl.sh" --path)
require "Debian's kubectl is in the project cache ($K120; scripts/deps.sh test puts it there)" \
  test -x "$K120"
require "it is kubectl 1.20 (Debian 12's kubernetes-client)" \
  bash -c "'$K120' version --client --short 2>/dev/null | grep -q 'Client Version: v1.20\\.'"

fake_apiserver_start || exit 1
K="$K120 --request-timeout=20s"
out=$TEST_TMP/out
CRDS=$CANARYD_SRC/deploy/crds

check "kubectl 1.20: apply -f canaryd's three CRDs, as docs/kubernetes.md shows" \
  bash -c "$K apply -f '$CRDS/canaries.yaml' -f '$CRDS/metrictemplates.yaml' -f '$CRDS/alertproviders.yaml' >'$out' 2>&1 && [ \$(grep -c 'customresourcedefinition.apiextensions.k8s.io/.* created' '$out') -eq 3 ] && ! grep -qi 'warning\|error' '$out'"
cat "$out"
check "it fetched /openapi/v2 as the protocol buffer and got it (no NotFound)" \
  bash -c "fake_ctl() { curl -s \"$FAKE_URL/fake/\$1\"; }; fake_ctl requests | /usr/bin/python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin)[\"requests\"] if r[\"path\"] == \"/openapi/v2\" and r[\"userAgent\"].startswith(\"kubectl/v1.20\")]
sys.exit(0 if rs and all(r[\"code\"] == 200 and \"protobuf\" in r[\"accept\"] for r in rs) else 1)'"

cat >"$TEST_TMP/app.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: webapp
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: webapp}
  template:
    metadata:
      labels: {app: webapp}
    spec:
      containers:
      - name: webapp
        image: public.ecr.aws/r5m2h0c9/webapp:v1
        ports:
        - {name: http, containerPort: 80}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: webapp
  namespace: default
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: webapp}
  service: {port: 80, targetPort: 80}
  analysis:
    interval: 1m
    threshold: 5
    iterations: 10
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
EOF
check "kubectl 1.20: apply -f a Deployment and a Canary" \
  bash -c "$K apply -f '$TEST_TMP/app.yaml' >'$out' 2>&1 && grep -q 'deployment.apps/webapp created' '$out' && grep -q 'canary.flagger.app/webapp created' '$out'"
cat "$out"
check "kubectl 1.20: get canaries prints the CRD's printer columns" \
  bash -c "$K get canaries >'$out' 2>&1 && head -1 '$out' | grep -Eq '^NAME +STATUS +WEIGHT +LASTTRANSITIONTIME' && grep -q '^webapp ' '$out'"
check "kubectl 1.20: get deploy prints the server-side table" \
  bash -c "$K get deploy webapp | grep -Eq '^webapp +[0-9]/2 '"
check "kubectl 1.20: get canary -o yaml shows the spec as stored" \
  bash -c "$K get canary webapp -o yaml >'$out' && grep -q 'kind: Canary' '$out' && grep -q 'iterations: 10' '$out' && grep -q 'uid:' '$out'"
check "kubectl 1.20: patch --type merge a Canary" \
  bash -c "$K patch canary webapp --type merge -p '{\"spec\":{\"analysis\":{\"iterations\":5}}}' | grep -q patched && [ \"\$($K get canary webapp -o jsonpath='{.spec.analysis.iterations}')\" = 5 ]"
check "kubectl 1.20: patch (strategic) a Deployment's container by name" \
  bash -c "$K patch deploy webapp -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"webapp\",\"image\":\"public.ecr.aws/r5m2h0c9/webapp:v2\"}]}}}}' | grep -q patched && [ \"\$($K get deploy webapp -o jsonpath='{.spec.template.spec.containers[*].image}')\" = public.ecr.aws/r5m2h0c9/webapp:v2 ]"
sed -i 's/threshold: 5/threshold: 7/' "$TEST_TMP/app.yaml"
check "kubectl 1.20: apply again configures the changed Canary (last-applied three-way patch)" \
  bash -c "$K apply -f '$TEST_TMP/app.yaml' | grep -q 'canary.flagger.app/webapp configured' && [ \"\$($K get canary webapp -o jsonpath='{.spec.analysis.threshold}')\" = 7 ]"
sed 's/name: webapp$/name: typo/; s/iterations: 10/iterations: 10\n    stepWeigth: 5/' "$TEST_TMP/app.yaml" >"$TEST_TMP/typo.yaml"
check "kubectl 1.20 validates client-side against /openapi/v2, CRDs included" \
  bash -c "! $K apply -f '$TEST_TMP/typo.yaml' >'$out' 2>&1 && grep -q 'ValidationError(Canary.spec.analysis): unknown field \"stepWeigth\" in app.flagger.v1beta1.Canary.spec.analysis' '$out'"
cat "$out"
check "kubectl 1.20: delete the Canary and the Deployment" \
  bash -c "$K delete canary webapp | grep -q deleted && $K delete deploy webapp | grep -q deleted && ! $K get canary webapp >/dev/null 2>&1"
check "kubectl 1.20: delete the CRDs" \
  bash -c "$K delete -f '$CRDS/canaries.yaml' -f '$CRDS/metrictemplates.yaml' -f '$CRDS/alertproviders.yaml' | grep -c deleted | grep -qx 3"

# what kubectl 1.20 cannot do, and what the docs say about it
check "kubectl 1.20 cannot build deploy/kubernetes (kustomize v2): it fails, naming the field" \
  bash -c "! $K120 kustomize '$CANARYD_SRC/deploy/kubernetes/base' >'$out' 2>&1 && grep -q 'unknown field \"labels\"' '$out'"
check "... nor the App Mesh overlay" \
  bash -c "! $K120 kustomize '$CANARYD_SRC/deploy/kubernetes/overlays/appmesh' >/dev/null 2>&1"
check "docs/kubernetes.md names the minimum kubectl (1.22), in the prerequisites and its own section" \
  bash -c "grep -q '^- the AWS CLI.*kubectl\`\$' '$CANARYD_SRC/docs/kubernetes.md' && grep -q '^  1.22 or later' '$CANARYD_SRC/docs/kubernetes.md' && grep -q '^canaryd.s install needs \*\*kubectl 1.22 or later\*\*' '$CANARYD_SRC/docs/kubernetes.md'"
check "the current kubectl builds every kustomization of deploy/ (so the minimum is not today's)" \
  bash -c "for d in crds kubernetes/base kubernetes/overlays/appmesh kubernetes/overlays/gatewayapi; do kubectl kustomize '$CANARYD_SRC/deploy/'\$d >/dev/null || exit 1; done"
finish
