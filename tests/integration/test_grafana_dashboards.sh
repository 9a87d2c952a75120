#!/bin/bash
# test_grafana_dashboards.sh - the Grafana dashboards under deploy/grafana
# are what scripts/grafana-dashboards.py writes from canaryd's own queries,
# and every query of every panel returns series from a real Prometheus
# (Debian's) holding canaryd's flagger_* metrics (canaryd local, scraped
# with its API token, through a promoted and a rolled-back release), its
# router's Envoy-style series (App Mesh's queries) and the series of every
# other router, served by the exporters the router tests use
# (grafana_exporters.py).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"
D=$CANARYD_SRC/deploy/grafana

check "the committed dashboards are what scripts/grafana-dashboards.py writes" \
  /usr/bin/python3 "$CANARYD_SRC/scripts/grafana-dashboards.py" --canaryctl "$CANARYCTL" --check "$D"
check "every dashboard is valid JSON with panels and queries" /usr/bin/python3 -c '
import json,sys
for p in sys.argv[1:]:
    d = json.load(open(p))
    assert d["panels"] and all(t["expr"] for x in d["panels"] for t in x["targets"]), p
' "$D"/*.json

# the routers' series
mkfifo "$TEST_TMP/exporters.in"
/usr/bin/python3 "$CANARYD_SRC/tests/integration/grafana_exporters.py" "$TEST_TMP/routers.json" \
  <"$TEST_TMP/exporters.in" >"$TEST_TMP/exporters.log" 2>&1 &
track $!
exec 7>"$TEST_TMP/exporters.in"
i=0; while [ ! -s "$TEST_TMP/routers.json" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
require "the router exporters start" test -s "$TEST_TMP/routers.json"

# canaryd local in namespace "test", its API over TCP with a token
API=127.0.0.1:$(free_port)
ROUTER_METRICS=127.0.0.1:$(free_port)
printf 'grafana-test-token-0123456789abcdef\n' >"$TEST_TMP/token"
chmod 600 "$TEST_TMP/token"
export CANARYD_API=$API CANARYD_TOKEN=grafana-test-token-0123456789abcdef
# local_lib's helpers read the canary in namespace "test"
canaryctl() {
  case "$1" in
    get|describe|events) command canaryctl "$@" -n test ;;
    *) command canaryctl "$@" ;;
  esac
}

PROM_PORT=$(free_port)
PROM=http://127.0.0.1:$PROM_PORT
cat >"$TEST_TMP/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: routers
    file_sd_configs: [{files: ["$TEST_TMP/routers.json"], refresh_interval: 1s}]
  - job_name: canaryd-router
    static_configs: [{targets: ["$ROUTER_METRICS"]}]
  - job_name: canaryd
    authorization: {credentials_file: "$TEST_TMP/token"}
    static_configs: [{targets: ["$API"]}]
EOF
/usr/bin/prometheus --config.file="$TEST_TMP/prometheus.yml" --storage.tsdb.path="$TEST_TMP/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$TEST_TMP/prometheus.log" 2>&1 &
track $!
require "Prometheus starts" wait_http "$PROM/-/ready" 30

canaryd local --dir "$W" --api "$API" --api-token-file "$TEST_TMP/token" --namespace test \
  --router-metrics "$ROUTER_METRICS" --stop-on-exit --log-format text >>"$W/canaryd.log" 2>&1 &
CPID=$!
i=0; until canaryctl get canaries >/dev/null 2>&1 || [ $i -gt 200 ]; do sleep 0.1; i=$((i + 1)); done
require "v1 initializes" wait_phase Initialized 60
canaryctl load "$URL" --rate 40 --concurrency 64 --duration 0 -o json >/dev/null 2>&1 &
track $!

set_version --version v2 --latency 20
r=$(wait_outcome 180)
check "healthy v2 is promoted" [ "$r" = Succeeded ]

# a faulty v3: while it gets traffic, the App Mesh dashboard (canaryd
# local's router) shows both sides
set_version --version v3 --latency 30 --error-rate 0.3
check "every query of the App Mesh dashboard returns series from canaryd local's router" \
  /usr/bin/python3 "$CANARYD_SRC/tests/integration/grafana_check.py" --prometheus "$PROM" \
  --namespace test --target podinfo --wait 120 "$D/router-appmesh.json"
r=$(wait_outcome 180)
check "faulty v3 is rolled back" [ "$r" = Failed ]

check "every query of the overview returns series from canaryd's flagger_* metrics" \
  /usr/bin/python3 "$CANARYD_SRC/tests/integration/grafana_check.py" --prometheus "$PROM" \
  --namespace test --target podinfo --wait 30 "$D/overview.json"
others=$(ls "$D"/router-*.json | grep -v 'router-\(appmesh\|skipper\).json')
# shellcheck disable=SC2086
check "every query of the other routers' dashboards returns series" \
  /usr/bin/python3 "$CANARYD_SRC/tests/integration/grafana_check.py" --prometheus "$PROM" \
  --namespace test --target podinfo --var ingress=podinfo --var route=podinfo --wait 30 $others
check "every query of the Skipper dashboard returns series (its Ingress podinfo-ingress as Skipper names it)" \
  /usr/bin/python3 "$CANARYD_SRC/tests/integration/grafana_check.py" --prometheus "$PROM" \
  --namespace test --target podinfo --var ingress=podinfo_ingress --wait 30 "$D/router-skipper.json"
exec 7>&-
finish
