#!/bin/bash
# test_validate_flagger_fields.sh - `canaryctl validate` accepts the fields
# Flagger 1.41-1.44 added (service.headless, trafficDistribution,
# unmanagedMetadata, backendTimeout, Istio outlier detection for local
# origin errors, session affinity cookie attributes and primaryCookieName,
# MetricTemplate headers and the provider types stackdriver, keptn, splunk,
# externalmetrics) with no warning, keeps them in -o json, and refuses each
# with a wrong type, naming file, line, column and field path.
. "$(dirname "$0")/../lib.sh"

cat > "$TEST_TMP/ok.yaml" <<'YAML'
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: gatewayapi:v1
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service:
    port: 9898
    headless: true                       # 1.41
    trafficDistribution: PreferSameZone  # 1.42
    unmanagedMetadata:                   # 1.42
      labels: [team.example.com/owner]
      annotations: [external-dns.alpha.kubernetes.io/hostname]
    timeout: 30s
    backendTimeout: 10s                  # 1.44
    gatewayRefs: [{name: gateway, namespace: istio-ingress}]
    trafficPolicy:                       # 1.44 (Istio)
      outlierDetection:
        consecutive5xxErrors: 3
        splitExternalLocalOriginErrors: true
        consecutiveLocalOriginFailures: 2
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    sessionAffinity:
      cookieName: flagger-cookie
      primaryCookieName: flagger-primary  # 1.41 (Gateway API), 1.43 (Istio)
      maxAge: 3600
      domain: example.com                 # 1.42 cookie attributes
      path: /
      secure: true
      httpOnly: true
      sameSite: Strict
      partitioned: true
    metrics:
      - name: gcp
        templateRef: {name: gcp}
        thresholdRange: {max: 1}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: prom
  namespace: test
spec:
  provider:
    type: prometheus
    address: http://prometheus:9090
    headers:                             # 1.41
      X-Scope-OrgID: [tenant-1]
  query: vector(1)
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: gcp, namespace: test}
spec:
  provider: {type: stackdriver, secretRef: {name: gcp}}
  query: fetch k8s_container
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: keptn, namespace: test}
spec:
  provider: {type: keptn}
  query: keptnmetric/test/response-time
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: splunk, namespace: test}
spec:
  provider: {type: splunk, address: https://api.us1.signalfx.com, secretRef: {name: splunk}}
  query: data('service.request.count').sum().publish()
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: external, namespace: test}
spec:
  provider: {type: externalmetrics}
  query: test/s0-rps?labelSelector=app%3Dpodinfo
YAML
out=$("$CANARYCTL" validate --strict -f "$TEST_TMP/ok.yaml" 2>"$TEST_TMP/err"); rc=$?
check "every newest field validates with --strict (no warning)" [ $rc -eq 0 ]
check "6 objects valid, 0 warnings" grep -q '^6 valid, 0 errors, 0 warnings' <<<"$out"

"$CANARYCTL" validate -o json -f "$TEST_TMP/ok.yaml" >"$TEST_TMP/out.json" 2>/dev/null
check "-o json keeps every newest field with its type" /usr/bin/python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))["items"]
s=d[0]["spec"]["service"]
assert s["headless"] is True and s["trafficDistribution"]=="PreferSameZone", s
assert s["backendTimeout"]=="10s" and s["timeout"]=="30s", s
assert s["unmanagedMetadata"]=={"labels":["team.example.com/owner"],
    "annotations":["external-dns.alpha.kubernetes.io/hostname"]}, s
od=s["trafficPolicy"]["outlierDetection"]
assert od["splitExternalLocalOriginErrors"] is True and od["consecutiveLocalOriginFailures"]==2, od
sa=d[0]["spec"]["analysis"]["sessionAffinity"]
assert sa=={"cookieName":"flagger-cookie","primaryCookieName":"flagger-primary","maxAge":3600,
    "domain":"example.com","path":"/","secure":True,"httpOnly":True,"sameSite":"Strict",
    "partitioned":True}, sa
assert d[1]["spec"]["provider"]["headers"]=={"X-Scope-OrgID":["tenant-1"]}, d[1]
assert [o["spec"]["provider"]["type"] for o in d[2:]]==["stackdriver","keptn","splunk","externalmetrics"]
' "$TEST_TMP/out.json"

# each field with a wrong type: exit 1 and a positioned error naming it
bad() {   # sed-expression expected-error
  sed "$1" "$TEST_TMP/ok.yaml" > "$TEST_TMP/bad.yaml"
  "$CANARYCTL" validate -f "$TEST_TMP/bad.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
  check "refused: $2" bash -c "[ $rc -eq 1 ] && grep -qF -- '$2' '$TEST_TMP/err'"
}
bad 's/backendTimeout: 10s /backendTimeout: 10 /' 'bad.yaml:17:21: spec.service.backendTimeout: must be a string, got 10'
bad 's/headless: true /headless: "yes" /' 'bad.yaml:11:15: spec.service.headless: must be a boolean (true or false), got "yes"'
bad 's/PreferSameZone /PreferFar /' 'bad.yaml:12:26: spec.service.trafficDistribution: unsupported value "PreferFar"'
bad 's/labels: \[team.example.com\/owner\]/labels: {a: b}/' 'bad.yaml:14:15: spec.service.unmanagedMetadata.labels: must be a list, got an object'
bad 's/splitExternalLocalOriginErrors: true/splitExternalLocalOriginErrors: 1/' 'bad.yaml:22:41: spec.service.trafficPolicy.outlierDetection.splitExternalLocalOriginErrors: must be a boolean'
bad 's/sameSite: Strict/sameSite: Sometimes/' 'bad.yaml:37:17: spec.analysis.sessionAffinity.sameSite: unsupported value "Sometimes"'
bad 's/partitioned: true/partitioned: 3/' 'bad.yaml:38:20: spec.analysis.sessionAffinity.partitioned: must be a boolean (true or false), got 3'
bad 's/primaryCookieName: flagger-primary/primaryCookieName: flagger-cookie/' 'spec.analysis.sessionAffinity.primaryCookieName'
bad 's/X-Scope-OrgID: \[tenant-1\]/X-Scope-OrgID: tenant-1/' 'bad.yaml:54:22: spec.provider.headers.X-Scope-OrgID: must be a list, got "tenant-1"'
bad 's/type: stackdriver/type: stackdrivr/' 'bad.yaml:61:20: spec.provider.type: unsupported value "stackdrivr"'

finish
