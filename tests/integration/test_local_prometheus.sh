#!/bin/bash
# test_local_prometheus.sh - a real Prometheus (Debian's) scraping the
# built-in router: Flagger's unmodified App Mesh builtin queries return the
# canary's success rate and p99 latency, and a local canary whose
# metricsServer is that Prometheus promotes a healthy release and rolls back
# a faulty one.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

PROM_PORT=$(free_port)
ROUTER_METRICS=127.0.0.1:$(free_port)
mkdir -p "$TEST_TMP/prom"
cat >"$TEST_TMP/prom/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: canaryd-router
    static_configs: [{targets: ["$ROUTER_METRICS"]}]
EOF
/usr/bin/prometheus --config.file="$TEST_TMP/prom/prometheus.yml" \
  --storage.tsdb.path="$TEST_TMP/prom/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$TEST_TMP/prom/log" 2>&1 &
track $!
check "Prometheus starts" wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 30

# the canary reads its builtin metrics from Prometheus
sed -i "s|^spec:$|spec:\n  metricsServer: http://127.0.0.1:$PROM_PORT|" "$W/podinfo-canary.yaml"
check "the canary validates with metricsServer" canaryctl validate -f "$W/podinfo-canary.yaml"
start_canaryd --router-metrics "$ROUTER_METRICS"
require "v1 initializes" wait_phase Initialized 60
check "the router's metrics pass promtool" bash -c \
  "curl -s http://$ROUTER_METRICS/metrics | promtool check metrics"

canaryctl load "$URL" --rate 40 --concurrency 64 --duration 0 -o json >/dev/null &
track $!

query() {  # query PROMQL: the value of a one-element vector, or "none"
  curl -s -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c '
import json,sys
r=json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
# Flagger's App Mesh templates (reference §3.3), rendered for podinfo.default, 30s
SR='sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", envoy_response_code!~"5.*" }[30s] ) ) / sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[30s] ) ) * 100'
P99='histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[30s] ) ) by (le) )'

set_version --version v2 --latency 20
r=$(wait_outcome 180)
check "healthy v2 is promoted with Prometheus metrics" [ "$r" = Succeeded ]
check "the judgements came from Prometheus (values in the status)" bash -c \
  "canaryctl describe canary podinfo -o json | grep -q '\"value\"'"

set_version --version v3 --latency 320 --error-rate 0.10
# while the faulty canary gets traffic, the unmodified queries see it
i=0; sr=none
while [ $i -lt 150 ]; do
  sr=$(query "$SR"); p99=$(query "$P99")
  if [ "$sr" != none ] && [ "$sr" != NaN ] && [ "$p99" != none ] && [ "$p99" != NaN ] &&
     awk -v s="$sr" -v p="$p99" 'BEGIN { exit !(s < 99 && p > 250) }'; then break; fi
  i=$((i + 1)); sleep 0.2
done
echo "App Mesh queries on the canary: success rate $sr, p99 $p99 ms"
check "Flagger's App Mesh success-rate query sees the canary's errors" \
  awk -v s="$sr" 'BEGIN { exit !(s > 50 && s < 99) }'
check "Flagger's App Mesh p99 query sees the canary's latency" \
  awk -v p="$p99" 'BEGIN { exit !(p > 250 && p < 2000) }'
r=$(wait_outcome 180)
check "faulty v3 is rolled back with Prometheus metrics" [ "$r" = Failed ]
check "the rollback came from the metric checks" bash -c \
  "canaryctl events podinfo --limit 300 | grep -q 'Rolling back podinfo.default failed checks threshold reached 2'"
finish
