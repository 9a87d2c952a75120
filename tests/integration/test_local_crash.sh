#!/bin/bash
# test_local_crash.sh - kill -9 canaryd local 20 times at random moments of
# two canary runs (a healthy v2, a faulty v3) and restart it each time.
# Every run must still end in the right phase, and every request of a
# steady load must get an answer from a live backend (no connection
# errors): the router and the workloads keep serving while the controller
# is down, and the restarted controller adopts them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

RANDOM=42   # reproducible kill moments
start_canaryd
require "v1 initializes" wait_phase Initialized 60

canaryctl load "$URL" --rate 30 --concurrency 64 --duration 0 -o json >"$TEST_TMP/load.json" &
LOAD=$!
track $LOAD

kills=0
# crash_until_done N: kill -9 canaryd N times at random moments while the
# run goes on, restarting it each time; then wait for the run to end
# ($RESULT: its final phase). Not in a subshell: it updates $CPID.
crash_until_done() {
  local n=$1 i=0
  while [ $i -lt "$n" ]; do
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + (r % 250) / 100 }')"
    kill -9 "$CPID"; wait "$CPID" 2>/dev/null
    i=$((i + 1)); kills=$((kills + 1))
    start_canaryd || return 1
  done
  RESULT=$(wait_done 240)
}

set_version --version v2
crash_until_done 10
check "healthy v2 is promoted despite the kills" [ "$RESULT" = Succeeded ]
check "the primary serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"

set_version --version v3 --error-rate 0.05 --latency 300
crash_until_done 10
check "faulty v3 is rolled back despite the kills" [ "$RESULT" = Failed ]
check "the primary still serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"
check "canaryd was killed 20 times" [ "$kills" -eq 20 ]

kill -INT $LOAD; wait $LOAD 2>/dev/null
check "every request of the load got a response" /usr/bin/python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))
print("load:", r["sent"], "sent,", r["responses"])
assert r["sent"] > 1000, r
assert r["responses"].get("error", 0) == 0, r
' "$TEST_TMP/load.json"
check "decisions survive: one promotion and one rollback in the journal" bash -c "
  canaryctl events podinfo --limit 1000 | grep -c 'Promotion completed' | grep -qx 1 &&
  canaryctl events podinfo --limit 1000 | grep -c 'Canary failed' | grep -qx 1"
# the canary set scales down after the outcome (grace period): poll
i=0; while [ "$(owned_processes)" -ne 3 ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "no process left behind by the kills: 2 primary replicas and the router" \
  [ "$(owned_processes)" -eq 3 ]
[ "$(owned_processes)" -eq 3 ] || { canaryctl describe canary podinfo | sed -n '/^Processes/,/^Metrics/p'
  grep -l -a -z "CANARYD_OWNER=$(realpath "$W/.canaryd")" /proc/[0-9]*/environ 2>/dev/null |
    cut -d/ -f3 | xargs -r ps -o pid,etime,args -p; }
stop_canaryd
check "--stop-on-exit stops every process canaryd started" [ "$(owned_processes)" -eq 0 ]
finish
