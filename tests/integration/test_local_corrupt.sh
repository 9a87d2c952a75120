#!/bin/bash
# test_local_corrupt.sh - state files that are damaged while canaryd local
# is down (kill -9, a disk, a person) never cost traffic nor skip analysis
# (issue 12 item 8): a truncated status.json in the middle of a faulty
# release, a wrong-typed one ({"phase": 42}), a corrupt process record of
# the primary and a corrupt router record. Each time the file is moved
# aside, a Warning event names it and what was done, what runs keeps
# serving (same PIDs, no failed request) and nothing unanalysed is
# promoted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

S=$W/.canaryd
STATUS=$S/canaries/default/podinfo/status.json
start_canaryd
require "v1 initializes" wait_phase Initialized 90
canaryctl load "$URL" --rate 30 --concurrency 64 --duration 0 -o json >"$TEST_TMP/load.json" &
LOAD=$!
track $LOAD

restart() { kill -9 "$CPID"; wait "$CPID" 2>/dev/null; "$@"; start_canaryd; }
warning_names() {  # warning_names TEXT: a Warning event contains TEXT
  canaryctl events podinfo --limit 200 -o json | /usr/bin/python3 -c '
import json,sys
text=sys.stdin.read()
try:   # one JSON object per line (or one document with items)
    ev=[json.loads(l) for l in text.splitlines() if l.strip()]
except ValueError:
    ev=json.loads(text)
if len(ev) == 1 and isinstance(ev[0], dict) and "items" in ev[0]: ev=ev[0]["items"]
assert any(e["type"]=="Warning" and sys.argv[1] in e["message"] for e in ev), sys.argv[1]' "$1"
}
primary_pids() {
  canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys
print(" ".join(sorted(str(r["pid"]) for r in json.load(sys.stdin)["workload"]["primary"]["replicas"])))'
}

# --- a truncated status.json in the middle of a healthy release ----------
set_version --version v2
require "v2 progresses" wait_phase Progressing 60
i=0; until canaryctl get canaries -o json | grep -q '"canaryWeight": *[1-9]' || [ $i -gt 300 ]; do
  i=$((i + 1)); sleep 0.2; done
restart truncate -s 25 "$STATUS"
check "a truncated status.json is moved aside" bash -c 'ls "$0".corrupt-* >/dev/null' "$STATUS"
check "a Warning event names it and says what was done" \
  warning_names "podinfo/status.json is unreadable"
check "... the primary keeps serving and the release is analysed again" \
  warning_names "is analysed from the start"
r=$(wait_outcome 240)
check "v2 is analysed again and promoted ($r)" [ "$r" = Succeeded ]
check "the analysis started over: two 'Starting canary analysis'" bash -c \
  '[ "$(canaryctl events podinfo --limit 500 | grep -c "Starting canary analysis")" -ge 2 ]'

# --- {"phase": 42} in the middle of a faulty release ----------------------
set_version --version v3 --error-rate 0.2
require "faulty v3 progresses" wait_phase Progressing 60
restart bash -c "echo '{\"phase\": 42, \"canaryWeight\": 50}' >'$STATUS'"
check "a wrong-typed status is reported with the field" warning_names "unreadable (phase: missing or not a string)"
r=$(wait_outcome 240)
check "faulty v3 is still analysed and rolled back, never promoted ($r)" [ "$r" = Failed ]
check "the primary serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"

# --- a corrupt process record of the primary -----------------------------
before=$(primary_pids)
restart bash -c "printf '{\"name\": \"podinfo-primary\", \"desired\": \"two\"' >'$S/procsets/default/podinfo-primary.json'"
sleep 3
check "the running primary is adopted, not killed (same PIDs: $before)" \
  [ "$(primary_pids)" = "$before" ]
check "a Warning event names the process record" \
  warning_names "procsets/default/podinfo-primary.json is unreadable"
check "the record is moved aside" \
  bash -c 'ls "$0"/procsets/default/podinfo-primary.json.corrupt-* >/dev/null' "$S"
check "the primary still serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"
# the adopted replicas count as ready once canaryd has probed them again:
# polled (a loaded host under ASan may take longer than the 3 s above)
ready_2_of_2() { [ "$(canaryctl describe canary podinfo -o json | /usr/bin/python3 -c "
import json,sys; p=json.load(sys.stdin)['workload']['primary']; print(p['ready'], p['desired'])")" = "2 2" ]; }
i=0; until ready_2_of_2 || [ $i -gt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "... and is ready 2 of 2" ready_2_of_2
check "... with the same PIDs still" [ "$(primary_pids)" = "$before" ]

# --- a corrupt router record ---------------------------------------------
rpid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$S/router.json")
restart bash -c "echo 'garbage' >'$S/router.json'"
check "the running router is adopted, not replaced" bash -c \
  "/usr/bin/python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"pid\"] == $rpid' '$S/router.json'"
check "the log says which file and what was done" \
  grep -q 'router record .*router.json is unreadable' "$W/canaryd.log"

# a healthy release still goes through after all that
set_version --version v4
r=$(wait_outcome 240)
check "healthy v4 is promoted ($r)" [ "$r" = Succeeded ]

kill -INT $LOAD; wait $LOAD 2>/dev/null
check "no request failed through all of it" /usr/bin/python3 -c '
import json,sys
r=json.load(open(sys.argv[1])); print("load:", r["sent"], "sent,", r["responses"])
assert r["sent"] > 500, r
assert r["responses"].get("error", 0) == 0, r
bad = {k: v for k, v in r["responses"].items() if k not in ("2xx", "5xx")}
assert not bad, r' "$TEST_TMP/load.json"
# the canary set scales down after the outcome (grace period): poll
i=0; while [ "$(owned_processes)" -ne 3 ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "no process left behind: 2 primary replicas and the router" [ "$(owned_processes)" -eq 3 ]
[ "$(owned_processes)" -eq 3 ] || { canaryctl describe canary podinfo; ps -o pid,args -p "$(grep -l -a -z "CANARYD_OWNER=$(realpath "$S")" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | paste -sd,)"; }
stop_canaryd
finish
