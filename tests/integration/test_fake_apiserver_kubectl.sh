#!/bin/bash
# test_fake_apiserver_kubectl.sh - the real kubectl works against the fake
# API server as a user would use it: apply (client-side, create then
# patch with the last-applied annotation), get (tables, -o yaml, -o
# jsonpath, custom resources with printer columns), patch (merge, json,
# strategic), set image, scale, rollout status, label/annotate, wait,
# delete (with --wait), and errors from the server (422 on a bad Canary).
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
require_kubectl

fake_apiserver_start --step 0.05 || exit 1
K="kubectl --request-timeout=20s"
out=$TEST_TMP/out

cat >"$TEST_TMP/webapp.yaml" <<'EOF2'
apiVersion: v1
kind: Namespace
metadata:
  name: appmesh-demo
  labels:
    appmesh.k8s.aws/sidecarInjectorWebhook: enabled
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: webapp
  namespace: appmesh-demo
  labels: {app: webapp}
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
        image: example.com/webapp:v1
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: COLOR, value: blue}
EOF2

check "apply creates a namespace and a deployment" \
  bash -c "$K apply -f '$TEST_TMP/webapp.yaml' >'$out' 2>&1 && grep -q 'deployment.apps/webapp created' '$out'"
check "apply stored the last-applied annotation" \
  bash -c "$K -n appmesh-demo get deploy webapp -o jsonpath='{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}' | grep -q example.com/webapp:v1"
check "rollout status waits for the fake controller" \
  bash -c "$K -n appmesh-demo rollout status deploy/webapp --timeout=30s | grep -q 'successfully rolled out'"
check "get prints the server-side table" \
  bash -c "$K -n appmesh-demo get deploy webapp | grep -Eq '^webapp +2/2 +2 +2 '"
check "get -o wide shows images" \
  bash -c "$K -n appmesh-demo get deploy -o wide | grep -q 'example.com/webapp:v1'"
check "get -o yaml shows defaults filled by the server" \
  bash -c "$K -n appmesh-demo get deploy webapp -o yaml | grep -q 'progressDeadlineSeconds: 600'"

sed -i 's/replicas: 2/replicas: 3/; s/value: blue/value: green/' "$TEST_TMP/webapp.yaml"
check "apply again patches (configured)" \
  bash -c "$K apply -f '$TEST_TMP/webapp.yaml' | grep -q 'deployment.apps/webapp configured'"
check "the patch changed replicas and the env var, kept one container" \
  bash -c "[ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[*].env[0].value} {.metadata.generation}')\" = '3 green 2' ]"
check "set image" \
  bash -c "$K -n appmesh-demo set image deployment/webapp webapp=example.com/webapp:v2 | grep -q 'image updated'"
check "set image changed the image only" \
  bash -c "[ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}')\" = 'example.com/webapp:v2 8080' ]"
check "rollout to v2 completes" \
  bash -c "$K -n appmesh-demo rollout status deploy/webapp --timeout=30s | grep -q 'successfully rolled out'"
check "revision annotation counts template changes (3)" \
  bash -c "[ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')\" = 3 ]"
check "scale" \
  bash -c "$K -n appmesh-demo scale deployment webapp --replicas=1 | grep -q scaled && [ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.spec.replicas}')\" = 1 ]"
check "patch --type merge" \
  bash -c "$K -n appmesh-demo patch deploy webapp --type merge -p '{\"metadata\":{\"labels\":{\"team\":\"a\"}}}' >/dev/null && $K -n appmesh-demo get deploy -l team=a -o name | grep -q deployment.apps/webapp"
check "patch --type json" \
  bash -c "$K -n appmesh-demo patch deploy webapp --type json -p '[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]' >/dev/null && [ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.spec.replicas}')\" = 2 ]"
check "patch (strategic) adds a sidecar" \
  bash -c "$K -n appmesh-demo patch deploy webapp -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"envoy\",\"image\":\"envoy:v1\"}]}}}}' >/dev/null && [ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.spec.template.spec.containers[*].name}')\" = 'webapp envoy' ]"
check "label and annotate" \
  bash -c "$K -n appmesh-demo label deploy webapp tier=front >/dev/null && $K -n appmesh-demo annotate deploy webapp note=hi >/dev/null && [ \"\$($K -n appmesh-demo get deploy webapp -o jsonpath='{.metadata.labels.tier}{.metadata.annotations.note}')\" = fronthi ]"
# polled, not fixed sleeps (1 s for kubectl to start watching, 3.5 s for the
# rollout, the watch cut at 4 s: short for a loaded host)
timeout 60 $K -n appmesh-demo get deploy webapp -w >"$TEST_TMP/watch.out" 2>&1 &
WATCH=$!
track $WATCH
i=0; until grep -q '^webapp ' "$TEST_TMP/watch.out" || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done
$K -n appmesh-demo scale deployment webapp --replicas=3 >/dev/null
table_watch() {
  [ "$(grep -c '^webapp ' "$TEST_TMP/watch.out")" -ge 3 ] && grep -q '^webapp *3/3' "$TEST_TMP/watch.out" &&
    [ "$(grep -c '^NAME' "$TEST_TMP/watch.out")" -eq 1 ]
}
i=0; until table_watch || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done
check "get -w prints table rows as the rollout moves (table watch)" table_watch
kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null
check "wait --for=condition=Available" \
  bash -c "$K -n appmesh-demo wait --for=condition=Available deploy/webapp --timeout=30s | grep -q 'condition met'"

# custom resources: canaryd's CRDs, then the seed's Canary
check "apply canaryd's CRDs" \
  bash -c "$K apply -f '$CANARYD_SRC/deploy/crds/' | grep -c created | grep -qx 4"
cat >"$TEST_TMP/canary.yaml" <<'EOF2'
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: webapp
  namespace: appmesh-demo
spec:
  provider: appmesh:v1beta2
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: webapp}
  service:
    port: 80
    targetPort: 8080
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
EOF2
check "apply a Canary" \
  bash -c "$K apply -f '$TEST_TMP/canary.yaml' | grep -q 'canary.flagger.app/webapp created'"
fake_ctl requests >/dev/null
curl -s -X PATCH -H 'Content-Type: application/merge-patch+json' \
  -d '{"status":{"phase":"Progressing","canaryWeight":20,"failedChecks":1}}' \
  "$FAKE_URL/apis/flagger.app/v1beta1/namespaces/appmesh-demo/canaries/webapp/status" >/dev/null
check "get canaries prints the CRD's printer columns" \
  bash -c "$K -n appmesh-demo get canaries | grep -Eq '^webapp +Progressing +20 '"
check "get canary -o wide shows priority columns" \
  bash -c "$K -n appmesh-demo get canary webapp -o wide | head -1 | grep -q FAILEDCHECKS"
check "get all includes canaries (category all)" \
  bash -c "$K -n appmesh-demo get all | grep -q canary.flagger.app/webapp"
check "apply a changed Canary uses a merge patch" \
  bash -c "sed -i 's/stepWeight: 10/stepWeight: 5/' '$TEST_TMP/canary.yaml' && $K apply -f '$TEST_TMP/canary.yaml' | grep -q configured && [ \"\$($K -n appmesh-demo get canary webapp -o jsonpath='{.spec.analysis.stepWeight} {.status.phase}')\" = '5 Progressing' ]"
check "... and it was sent as application/merge-patch+json" \
  bash -c "fake_ctl() { curl -s \"$FAKE_URL/fake/\$1\"; }; fake_ctl requests | grep -q 'application/merge-patch+json'"
sed 's/name: webapp$/name: broken/; s/interval: 1m$/interval: one minute/' "$TEST_TMP/canary.yaml" >"$TEST_TMP/bad.yaml"
check "a Canary breaking the schema is refused with the field path" \
  bash -c "! $K apply -f '$TEST_TMP/bad.yaml' >'$out' 2>&1 && grep -q 'spec.analysis.interval' '$out' && grep -q 'is invalid' '$out'"
check "describe canary shows events recorded for it" \
  bash -c "curl -s -X POST -H 'Content-Type: application/json' '$FAKE_URL/api/v1/namespaces/appmesh-demo/events' -d '{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"generateName\":\"webapp.\"},\"involvedObject\":{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"name\":\"webapp\",\"namespace\":\"appmesh-demo\",\"uid\":\"'\$($K -n appmesh-demo get canary webapp -o jsonpath='{.metadata.uid}')'\"},\"reason\":\"Synced\",\"message\":\"Advance webapp.appmesh-demo canary weight 20\",\"type\":\"Normal\",\"source\":{\"component\":\"canaryd\"},\"count\":1}' >/dev/null && $K -n appmesh-demo describe canary webapp | grep -q 'Advance webapp.appmesh-demo canary weight 20'"
check "get events" \
  bash -c "$K -n appmesh-demo get events | grep -q 'canary/webapp'"

check "delete the canary (waits for it to be gone)" \
  bash -c "$K -n appmesh-demo delete canary webapp --timeout=20s | grep -q deleted && ! $K -n appmesh-demo get canary webapp 2>/dev/null"
check "delete the deployment" \
  bash -c "$K -n appmesh-demo delete deployment webapp --timeout=20s | grep -q deleted"
check "get of a deleted object: NotFound from the server" \
  bash -c "! $K -n appmesh-demo get deploy webapp >'$out' 2>&1 && grep -q 'NotFound' '$out'"
# kubectl's typed client sends protobuf for `kubectl create <kind>`
check "kubectl create namespace / configmap / secret (protobuf bodies)" \
  bash -c "$K create namespace proto-ns >/dev/null && $K -n proto-ns create configmap cm --from-literal=a=b >/dev/null && $K -n proto-ns create secret generic s --from-literal=k=v >/dev/null && [ \"\$($K -n proto-ns get cm cm -o jsonpath='{.data.a}')\$($K -n proto-ns get secret s -o jsonpath='{.data.k}')\$($K get ns proto-ns -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}')\" = bdg==proto-ns ]"
check "a protobuf body of a kind the fake does not decode: 415 saying so, nothing created" \
  bash -c "! $K -n proto-ns create deployment d --image=x >'$out' 2>&1 && grep -q 'reads protobuf bodies only for' '$out' && ! $K -n proto-ns get deploy d >/dev/null 2>&1"
check "delete the namespace" \
  bash -c "$K delete namespace appmesh-demo --timeout=30s | grep -q deleted && ! $K get ns appmesh-demo 2>/dev/null"
finish
