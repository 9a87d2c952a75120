#!/bin/bash
# test_local_prometheus_judge.sh - the statistical judge on Prometheus, end
# to end: a real Prometheus (Debian's) scrapes the built-in router; a local
# canary with metricsServer judges request-success-rate and request-duration
# from it (the canary's requests and the primary's, T and T-primary, over
# the same windows; per-step latencies by range queries). A healthy release
# is promoted by the judge, a faulty one (10 % errors, +300 ms) is rolled
# back by the judge, and Prometheus' query log shows the judge's queries.
# Before each rollout the judge reads the primary's history
# (judge.history, 1h by default): from Prometheus by range queries, then,
# once the canary reads the router itself (no metricsServer), from the
# router's own windows; status.judge[].history and canaryctl describe show
# what it read.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

PROM_PORT=$(free_port)
ROUTER_METRICS=127.0.0.1:$(free_port)
mkdir -p "$TEST_TMP/prom"
cat >"$TEST_TMP/prom/prometheus.yml" <<EOF
global: {scrape_interval: 500ms, evaluation_interval: 1s, query_log_file: $TEST_TMP/prom/queries.log}
scrape_configs:
  - job_name: canaryd-router
    static_configs: [{targets: ["$ROUTER_METRICS"]}]
EOF
/usr/bin/prometheus --config.file="$TEST_TMP/prom/prometheus.yml" \
  --storage.tsdb.path="$TEST_TMP/prom/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$TEST_TMP/prom/log" 2>&1 &
track $!
check "Prometheus starts" wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 30

# the demo canary, reading its metrics from Prometheus and judged against
# the primary instead of thresholds (step 1s: twice the scrape interval)
/usr/bin/python3 - "$W/podinfo-canary.yaml" "http://127.0.0.1:$PROM_PORT" <<'EOF'
import sys
path, prom = sys.argv[1], sys.argv[2]
s = open(path).read()
s = s.replace("spec:\n", "spec:\n  metricsServer: %s\n" % prom, 1)
s = s.replace("""        thresholdRange:
          min: 99
""", """        thresholdRange:
          min: 99
        judge: {allowedIncrease: 0.5pp, detectIncrease: 2pp}
""")
s = s.replace("""        thresholdRange:
          max: 200
""", """        thresholdRange:
          max: 200
        judge: {step: 1s, minSamples: 10, allowedIncrease: 50%, detectIncrease: 100%}
""")
s = s.replace("        interval: 10s\n", "")
open(path, "w").write(s)
EOF
check "the judged canary validates" canaryctl validate -f "$W/podinfo-canary.yaml"
check "both metrics are judged" bash -c \
  "[ \$(canaryctl validate -f '$W/podinfo-canary.yaml' -o json | grep -c '\"judge\"') -ge 2 ]"
start_canaryd --router-metrics "$ROUTER_METRICS"
require "v1 initializes" wait_phase Initialized 60

canaryctl load "$URL" --rate 40 --concurrency 64 --duration 0 -o json >/dev/null &
track $!

judge_json() { canaryctl describe canary podinfo -o json; }

set_version --version v2 --latency 20
r=$(wait_outcome 240)
check "healthy v2 is promoted by the judge on Prometheus data" [ "$r" = Succeeded ]
judge_json >"$TEST_TMP/v2.json"
/usr/bin/python3 - "$TEST_TMP/v2.json" >"$TEST_TMP/v2.txt" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
st = st.get("status", st)
for j in st.get("judge", []):
    h = j.get("history", {})
    print(j["metric"], j["verdict"], int(j["canary"]["samples"]), int(j["primary"]["samples"]),
          j["windows"], h.get("status"), int(h.get("samples") or 0), h.get("window"),
          h.get("covered"), "|", j["reason"], "|", h.get("reason"))
EOF
cat "$TEST_TMP/v2.txt"
check "the judge passed both metrics of v2" bash -c \
  "grep -q '^request-success-rate Pass ' '$TEST_TMP/v2.txt' && grep -q '^request-duration Pass ' '$TEST_TMP/v2.txt'"
check "the errors test counted both sides' requests" \
  awk '$1 == "request-success-rate" { exit !($3 >= 100 && $4 >= 100) }' "$TEST_TMP/v2.txt"
check "the latency test read per-step values of both sides" \
  awk '$1 == "request-duration" { exit !($3 >= 10 && $4 >= 10) }' "$TEST_TMP/v2.txt"
check "Prometheus answered the judge's queries for the primary (T-primary)" \
  grep -q 'increase( envoy_cluster_upstream_rq{ kubernetes_namespace=\\"default\\", kubernetes_pod_name=~\\"podinfo-primary-' \
  "$TEST_TMP/prom/queries.log"
check "... and its range queries at a 1s step" bash -c \
  "grep 'query_range\|\"step\":1' '$TEST_TMP/prom/queries.log' | grep -q 'envoy_cluster_upstream_rq_time_bucket'"
# the history: the primary's requests before v2's first window, by range queries
check "the judge read the primary's history from Prometheus (Used, >= 100 requests: the load started just before v2)" \
  awk '$1 == "request-success-rate" { exit !(($6 == "Used" || $6 == "FellBack") && $7 >= 100 && $8 == "1h") }' "$TEST_TMP/v2.txt"
check "... less than the hour asked for: it says how much Prometheus had" \
  grep -q '^request-success-rate .*(the source had ' "$TEST_TMP/v2.txt"
check "... and the latency history: the primary's per-step values" \
  awk '$1 == "request-duration" { exit !(($6 == "Used" || $6 == "FellBack") && $7 >= 5) }' "$TEST_TMP/v2.txt"
check "... read with range queries of the primary's requests at the window's step" bash -c \
  "grep 'query_range' '$TEST_TMP/prom/queries.log' | grep 'podinfo-primary-' | grep -q 'increase( envoy_cluster_upstream_rq{'"
check "canaryctl describe shows the baseline" bash -c \
  "canaryctl describe canary podinfo | grep -q 'request-success-rate baseline (\\(Used\\|FellBack\\)): primary '"

set_version --version v3 --latency 320 --error-rate 0.10
r=$(wait_outcome 240)
check "faulty v3 is rolled back" [ "$r" = Failed ]
check "the rollback came from the judge" bash -c \
  "canaryctl events podinfo --limit 400 | grep -q 'Rolling back podinfo.default the statistical judge found'"
check "no metric check failed for lack of Prometheus data" bash -c \
  "! canaryctl events podinfo --limit 400 | grep -q 'gives no samples\|query failed'"

# the router's own windows: the same canary without metricsServer reads the
# router (it keeps 65 minutes per second), history included
sed -i '/^  metricsServer: /d' "$W/podinfo-canary.yaml"
set_version --version v4 --latency 20
r=$(wait_outcome 240)
check "healthy v4 is promoted by the judge on the router's data" [ "$r" = Succeeded ]
judge_json >"$TEST_TMP/v4.json"
/usr/bin/python3 - "$TEST_TMP/v4.json" >"$TEST_TMP/v4.txt" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
st = st.get("status", st)
for j in st.get("judge", []):
    h = j.get("history", {})
    print(j["metric"], j["verdict"], h.get("status"), int(h.get("samples") or 0), h.get("covered"),
          h.get("p50"), "|", h.get("reason"))
EOF
cat "$TEST_TMP/v4.txt"
check "the history came from the router: the primary's requests since it started (>= 2000)" \
  awk '$1 == "request-success-rate" { exit !(($3 == "Used" || $3 == "FellBack") && $4 >= 2000) }' "$TEST_TMP/v4.txt"
check "... the router covered less than the hour, and the reason says so" \
  grep -q '^request-success-rate .*(the source had ' "$TEST_TMP/v4.txt"
check "... and the latency history: the router's p50 of the primary (v2 after v3's rollback: ~20 ms)" \
  awk '$1 == "request-duration" { exit !(($3 == "Used" || $3 == "FellBack") && $4 >= 2000 && $6 > 5 && $6 < 200) }' "$TEST_TMP/v4.txt"
finish
