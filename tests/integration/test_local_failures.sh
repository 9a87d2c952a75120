#!/bin/bash
# test_local_failures.sh - the local platform when things go wrong and when
# people intervene: a revision that never becomes ready reaches the
# progress deadline and is rolled back; a dying process is restarted; bad
# manifests (applied or edited in place) are rejected with nothing
# changed; canaryctl hold / promote / abort work through the gates; a
# second canary on the same target gets Flagger's error.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

sed -i 's/progressDeadlineSeconds: 60/progressDeadlineSeconds: 12/' "$W/podinfo-canary.yaml"
start_canaryd
require "v1 initializes" wait_phase Initialized 60
canaryctl load "$URL" --rate 20 --concurrency 32 --duration 0 -o json >"$TEST_TMP/load.json" &
track $!

# --- a workload process that dies is restarted -----------------------------
pid=$(canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; print(json.load(sys.stdin)["workload"]["primary"]["replicas"][0]["pid"])')
kill -9 "$pid"
restarted() {
  canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys
p=json.load(sys.stdin)["workload"]["primary"]
assert p["restarts"] == 1 and p["ready"] == 2, p'
}
i=0; until restarted 2>/dev/null || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done
check "a killed primary replica is replaced (restarts 1, 2 ready)" restarted
check "the dead PID is gone from the process set" bash -c "
  ! canaryctl describe canary podinfo -o json | grep -q '\"pid\": $pid,'"

# --- bad manifests change nothing -----------------------------------------
cp "$W/podinfo-canary.yaml" "$TEST_TMP/bad.yaml"
before=$(md5sum "$W"/*.yaml)
sed -i 's/stepWeight: 25/stepWeight: 120/' "$TEST_TMP/bad.yaml"
canaryctl apply -f "$TEST_TMP/bad.yaml" >"$TEST_TMP/apply.out" 2>&1; rc=$?
check "apply of an invalid canary is refused (exit 1)" [ $rc -eq 1 ]
check "the refusal names file, line, column and field" \
  grep -q 'bad.yaml:[0-9]*:[0-9]*: spec.analysis.stepWeight: must be between 0 and 100, got 120' "$TEST_TMP/apply.out"
check "the manifest directory is unchanged" [ "$(md5sum "$W"/*.yaml)" = "$before" ]
stepw() { canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; print(json.load(sys.stdin)["analysis"]["stepWeight"])'; }
check "the running canary keeps stepWeight 25" [ "$(stepw)" = 25 ]
sed -i 's/stepWeight: 25/stepWeight: 250/' "$W/podinfo-canary.yaml"   # an edit in place
# until canaryd has read the edit (it logs the rejection), not a fixed 1 s
# after which "still 25" held whether or not the edit had been read yet
rejected() { grep -q 'podinfo-canary.yaml:[0-9]*:[0-9]*: spec.analysis.stepWeight: must be between 0 and 100, got 250' "$W/canaryd.log"; }
i=0; until rejected || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done
check "the rejection is logged with its position" rejected
check "an invalid edit in place is rejected: still 25" [ "$(stepw)" = 25 ]
sed -i 's/stepWeight: 250/stepWeight: 25/' "$W/podinfo-canary.yaml"

# --- gates: hold promotion, then promote ----------------------------------
canaryctl hold podinfo >/dev/null
set_version --version v2
check "a held promotion waits (WaitingPromotion)" wait_phase WaitingPromotion 90
canaryctl promote podinfo >/dev/null
check "canaryctl promote opens the gate: Succeeded" wait_phase Succeeded 90
check "the primary serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"

# --- abort: roll back now ---------------------------------------------------
set_version --version v3
check "v3 starts" wait_phase Progressing 30
canaryctl abort podinfo >/dev/null
check "canaryctl abort rolls back (Failed)" wait_phase Failed 40
check "the rollback came from the manual gate" bash -c \
  "canaryctl events podinfo --limit 100 | grep -q 'Rolling back podinfo.default manual webhook invoked'"

# --- a revision that never becomes ready -----------------------------------
set_version --version v4 --ready-delay 100000
# the previous run ended Failed too: wait for this revision's own outcome
check "v4 starts" wait_phase Progressing 60
r=$(wait_outcome 120)
check "a never-ready revision fails at the progress deadline ($r)" [ "$r" = Failed ]
check "the deadline is in the events" bash -c \
  "canaryctl events podinfo --limit 200 | grep -q 'exceeded its progress deadline'"
check "the primary still serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"

# --- two canaries on one target: Flagger's error, logged once ---------------
sed -e 's/^  name: podinfo$/  name: podinfo-twin/' -e "s/^    port: $SVC_PORT$/    port: $(free_port)/" \
  "$W/podinfo-canary.yaml" >"$W/podinfo-twin.yaml"
shared() { grep -c 'Bad things will happen! Found more than one canary with the same target podinfo.default' "$W/canaryd.log"; }
i=0; until [ "$(shared)" -ge 1 ] || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
sleep 1
check "a second canary on podinfo is logged as Flagger does, once" [ "$(shared)" = 1 ]
finish
