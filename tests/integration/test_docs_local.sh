#!/bin/bash
# test_docs_local.sh - every canaryctl and canaryd local example of
# README.md ("Using it") and docs/local.md, run as written from a working
# directory holding ./deploy (the demo's manifests), canary.yaml and
# s.yaml, against `canaryd local --dir ./deploy &` on its default socket
# (XDG_RUNTIME_DIR points into the test's directory). Every command line of
# their sh blocks and every row of local.md's canaryctl table must be known
# to this test (EXAMPLES / ROWS below) and each known one must still be in
# the docs: the pages cannot drift from what is tested.
#
# What the test adds to a command: `canaryd local` gets --stop-on-exit (so
# that nothing is left running), a command that never ends on its own
# (`watch` without --until-done) runs for 3 seconds. `make demo` is
# examples/demo/run.sh, run by test_local_demo.
. "$(dirname "$0")/../lib.sh"
export PATH="$CANARYD_BUILD:$PATH"
D=$TEST_TMP/docs
mkdir -p "$D/deploy" "$TEST_TMP/run"
chmod 700 "$TEST_TMP/run"
export XDG_RUNTIME_DIR=$TEST_TMP/run
unset CANARYD_API CANARYD_TOKEN
cp "$CANARYD_SRC"/examples/demo/manifests/podinfo-{canary,workload}.yaml "$D/deploy/"
SVC_PORT=$(free_port)
sed -i "s/^    port: 18080$/    port: $SVC_PORT/" "$D/deploy/podinfo-canary.yaml"
URL="http://127.0.0.1:$SVC_PORT/"
cp "$D/deploy/podinfo-canary.yaml" "$D/canary.yaml"
cat >"$D/s.yaml" <<'YAML'
duration: 10m
metrics:
  request-success-rate: [{at: 0s, value: 99.9}]
  request-duration: [{at: 0s, value: 50}]
YAML
CPID=""
stop_local() {
  [ -n "$CPID" ] || return 0
  kill -TERM "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; CPID=""
}
trap 'stop_local; cleanup' EXIT

# the examples: "command as the docs write it (comment stripped)" -> how it runs
declare -A EXAMPLES=(
  ["canaryctl validate -f canary.yaml"]=ex_validate
  ["canaryctl validate -o json -f canary.yaml"]=ex_validate_json
  ["canaryctl simulate -f canary.yaml --scenario s.yaml"]=ex_simulate
  ["canaryd local --dir ./deploy &"]=ex_local
  ["canaryctl get canaries"]=ex_get
  ["canaryctl watch podinfo"]=ex_watch
  ["canaryctl promote podinfo"]=ex_promote
  ["canaryctl abort podinfo"]=ex_abort
  ["canaryctl metrics -f ./deploy --render-only"]=ex_metrics_render
  ["canaryctl metrics -f ./deploy"]=ex_metrics
  ["make demo"]=ex_demo
)
# local.md's canaryctl table: "first cell" -> a concrete command line
declare -A ROWS=(
  ['get canaries [NAME] [-n NS \| -A] [-o json]']="get canaries -n default -o json;get canaries -A;get canaries podinfo;get canaries podinfo -o json"
  ['describe canary NAME [-n NS] [-o json]']="describe canary podinfo -n default;describe canary podinfo -o json"
  ['events NAME [--limit N] [-o json]']="events podinfo --limit 5;events podinfo --limit 5 -o json"
  ['watch NAME [--until-done]']="watch podinfo --until-done"
  ['apply -f FILE']="apply -f deploy/podinfo-canary.yaml"
  ['promote NAME']="promote podinfo"
  ['abort NAME']="abort podinfo"
  ['hold NAME [--rollout]']="hold podinfo;hold podinfo --rollout"
  ['resume NAME']="resume podinfo"
  ['rollback NAME']="rollback podinfo"
  ['load URL --rate N']="load $URL --rate 20 --duration 2s"
)

# sh-block command lines of a page, comments stripped
commands_of() {
  awk '/^```sh$/ {b=1; next} /^```/ {b=0} b' "$1" | sed 's/  *#.*$//; s/[[:space:]]*$//' | grep -v '^$'
}
declare -A SEEN=()
for page in README.md docs/local.md; do
  while IFS= read -r cmd; do
    case "$cmd" in canaryctl*|canaryd*|"make demo"*) ;; *) continue ;; esac
    SEEN["$cmd"]=1
    check "$page: '$cmd' is an example this test runs" test -n "${EXAMPLES[$cmd]:-}"
  done < <(commands_of "$CANARYD_SRC/$page")
done
for cmd in "${!EXAMPLES[@]}"; do
  check "'$cmd' is still in the docs" test -n "${SEEN[$cmd]:-}"
done
while IFS= read -r cell; do
  check "docs/local.md's row '$cell' is run by this test" test -n "${ROWS[$cell]:-}"
done < <(awk '/^\| canaryctl \| API \| what \|$/ {t=1; next} t && !/^\|/ {t=0} t' "$CANARYD_SRC/docs/local.md" |
         sed -n 's/^| `\([^`]*\)` |.*/\1/p')

cd "$D" || exit 1
phase() {
  canaryctl get canaries -o json 2>/dev/null | /usr/bin/python3 -c '
import json,sys
try: print(json.load(sys.stdin)["items"][0]["status"]["phase"])
except Exception: print("")'
}
wait_phase() {
  local i=0
  while [ "$(phase)" != "$1" ]; do
    i=$((i + 1)); [ $i -gt $(($2 * 5)) ] && { echo "phase is $(phase), wanted $1" >&2; return 1; }
    sleep 0.2
  done
}
new_version() { sed -i "s|\"--version\", \"[^\"]*\"|\"--version\", \"$1\"|" deploy/podinfo-workload.yaml; }

# --- the offline commands --------------------------------------------------
ex_validate() { canaryctl validate -f canary.yaml >"$TEST_TMP/out" 2>&1; }
ex_validate_json() {
  canaryctl validate -o json -f canary.yaml | /usr/bin/python3 -c '
import json,sys; o=json.load(sys.stdin); assert o["kind"] == "Canary" and o["spec"]["analysis"]["threshold"] == 2, o'
}
ex_simulate() { canaryctl simulate -f canary.yaml --scenario s.yaml | grep -q '^final phase: Succeeded'; }
ex_demo() { return 0; }   # examples/demo/run.sh: test_local_demo
check "canaryctl validate -f canary.yaml exits 0" ex_validate
check "canaryctl validate -o json -f canary.yaml prints the canary" ex_validate_json
check "canaryctl simulate -f canary.yaml --scenario s.yaml ends Succeeded" ex_simulate

# --- canaryd local --dir ./deploy & on the default socket -----------------
# as the page writes it: a relative --dir (issue 12 item 1)
canaryd local --dir ./deploy --stop-on-exit >>"$TEST_TMP/canaryd.log" 2>&1 &
CPID=$!
i=0; until canaryctl get canaries >/dev/null 2>&1 || [ $i -gt 200 ]; do i=$((i + 1)); sleep 0.1; done
require "canaryd local --dir ./deploy & serves the default socket" \
  test -S "$XDG_RUNTIME_DIR/canaryd/local.sock"
require "podinfo initializes" wait_phase Initialized 60
check "canaryctl get canaries lists podinfo" bash -c "canaryctl get canaries | grep -Eq '^podinfo +Initialized +0 +0 '"
timeout 3 canaryctl watch podinfo >"$TEST_TMP/watch.out" 2>&1
check "canaryctl watch podinfo follows it (podinfo Initialized, canary 0% primary 100%)" \
  grep -Eq '^podinfo Initialized +canary +0% primary 100%' "$TEST_TMP/watch.out"

# --- the table's rows that read ------------------------------------------------
run_row() {   # run_row "cmd;cmd": each must exit 0
  local IFS=';' c
  for c in $1; do
    IFS=' ' read -r -a argv <<<"$c"
    canaryctl "${argv[@]}" >"$TEST_TMP/row.out" 2>&1 || { echo "# canaryctl $c failed:"; cat "$TEST_TMP/row.out"; return 1; }
  done
}
for cell in 'get canaries [NAME] [-n NS \| -A] [-o json]' 'describe canary NAME [-n NS] [-o json]' \
            'events NAME [--limit N] [-o json]' 'apply -f FILE' 'load URL --rate N'; do
  check "table row '$cell' runs: ${ROWS[$cell]}" run_row "${ROWS[$cell]}"
done
# the demo canary has no spec.rollbackWindow: the row's refusal (test_local_rollback runs the rest)
canaryctl ${ROWS['rollback NAME']} >"$TEST_TMP/rollback.out" 2>&1; rc=$?
check "table row 'rollback NAME' runs: refused with the reason (exit 2) without spec.rollbackWindow" \
  bash -c "[ $rc -eq 2 ] && grep -q 'has no spec.rollbackWindow' '$TEST_TMP/rollback.out'"

# --- metrics -f ./deploy: the local router --------------------------------------
canaryctl load "$URL" --rate 20 --duration 0 >/dev/null 2>&1 &
LOADPID=$!
track $LOADPID
sleep 2
check "canaryctl metrics -f ./deploy --render-only names the local router" bash -c \
  "canaryctl metrics -f ./deploy --render-only | grep -q '^# podinfo.default request-success-rate (router unix:./deploy/.canaryd/router.sock)$'"

# --- hold, then promote (README: canaryctl promote podinfo) -------------------
check "table row 'hold NAME [--rollout]' runs (hold)" run_row "hold podinfo"
new_version v2
require "v2 waits in WaitingPromotion" wait_phase WaitingPromotion 120
canaryctl metrics -f ./deploy >"$TEST_TMP/metrics.out" 2>&1; rc=$?
check "canaryctl metrics -f ./deploy: the router's values pass (exit 0, a header)" \
  bash -c "[ $rc -eq 0 ] && grep -Eq '^CANARY +METRIC +PROVIDER' '$TEST_TMP/metrics.out' && grep -Eq '^podinfo.default +request-duration +router +[0-9.]+ms +pass' '$TEST_TMP/metrics.out'"
check "canaryctl promote podinfo promotes v2" bash -c "canaryctl promote podinfo | grep -q 'promotion gate opened'"
check "table row 'watch NAME [--until-done]' runs: Succeeded exits 0" \
  timeout 120 canaryctl watch podinfo --until-done
check "the service answers v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"

# --- hold --rollout, resume --------------------------------------------------
check "table row 'hold NAME [--rollout]' runs (--rollout)" run_row "hold podinfo --rollout"
check "table row 'resume NAME' runs and says what it released" bash -c \
  "canaryctl resume podinfo | grep -q 'released: rollout hold'"

# --- abort a release being analysed (README: canaryctl abort podinfo) --------
new_version v3
require "v3 starts (Progressing)" wait_phase Progressing 60
check "canaryctl abort podinfo requests the rollback" bash -c "canaryctl abort podinfo | grep -q 'rollback requested'"
check "v3 is rolled back (Failed)" wait_phase Failed 60
check "the service still answers v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"
kill $LOADPID 2>/dev/null
stop_local
finish
