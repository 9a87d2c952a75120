#!/bin/bash
# test_local_newcomer.sh - `canaryd local` used as a newcomer uses it
# (issue 12): from a fresh shell with a relative --dir and a relative
# command; a typo in the program name says why nothing starts (in
# describe and the events, once, not twice a second); a mistyped or
# missing --dir is an error that creates nothing, and so is a
# --router-host that cannot serve; a start that fails
# leaves no process behind; a Canary moved out of the directory and back,
# and a restart after --stop-on-exit, serve again before they say
# Initialized/Succeeded, and the next release is analysed with the
# primary serving (no 503).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

# --- a project laid out as docs/local.md suggests: ./app and ./build -------
P=$TEST_TMP/project
mkdir -p "$P/build"
cp "$CANARYD_BUILD/demo-app" "$P/build/"
mv "$W" "$P/app"
ln -s "$P/app" "$W"          # local_lib's helpers keep working on $W
sed -i 's|^  command: demo-app$|  command: ../build/demo-app|' "$W/podinfo-workload.yaml"
grep -q 'command: ../build/demo-app' "$W/podinfo-workload.yaml" || echo "setup: command not rewritten" >&2
# the typo below must not reach the progress deadline before it is fixed
sed -i 's/progressDeadlineSeconds: 60/progressDeadlineSeconds: 900/' "$W/podinfo-canary.yaml"

# --- item 7: a mistyped or missing --dir ------------------------------------
out=$(cd "$P" && canaryd local --dir ./ap --api "unix:$P/x.sock" 2>&1); rc=$?
check "a mistyped --dir exits 2" [ "$rc" = 2 ]
check "... naming the directory and the reason" grep -q -- '--dir ./ap: No such file or directory' <<<"$out"
check "... and creates nothing" [ ! -e "$P/ap" ]
out=$(canaryd local --dir "$TEST_TMP/nonexistent" --api "unix:$P/x.sock" 2>&1); rc=$?
check "--dir /nonexistent exits 2 and creates nothing" \
  bash -c '[ "$0" = 2 ] && [ ! -e "$1" ]' "$rc" "$TEST_TMP/nonexistent"
: >"$TEST_TMP/afile"
out=$(canaryd local --dir "$TEST_TMP/afile" --api "unix:$P/x.sock" 2>&1); rc=$?
check "--dir on a file exits 2 (not a directory)" \
  bash -c '[ "$0" = 2 ] && grep -q "not a directory" <<<"$1"' "$rc" "$out"

# a --router-host that cannot serve (host:port, a typo, another host's
# address) is a usage error at once, not a router refusing every listener
# while canaryd runs on
for bad in "localhost:8080|a host without a port" "locahost|cannot resolve locahost" \
           "192.0.2.7|not an address of this host" "[zz]|is not an IPv6 address"; do
  out=$(cd "$P" && timeout 30 canaryd local --dir ./app --router-host "${bad%%|*}" \
        --api "unix:$P/x.sock" --stop-on-exit 2>&1)
  rc=$?
  check "--router-host ${bad%%|*} exits 2 saying why" \
    bash -c '[ "$0" = 2 ] && grep -qF -- "--router-host $1: " <<<"$2" && grep -qF -- "$3" <<<"$2"' \
    "$rc" "${bad%%|*}" "$out" "${bad#*|}"
done
check "... and creates nothing" [ ! -e "$P/app/.canaryd" ]

# a start that fails (the API's TCP port is taken) leaves nothing running
mkdir -p "$TEST_TMP/busy"
cp "$W"/*.yaml "$TEST_TMP/busy/"
sed -i 's|^  command: .*|  command: demo-app|' "$TEST_TMP/busy/podinfo-workload.yaml"
sed -i "s/^    port: $SVC_PORT$/    port: $(free_port)/" "$TEST_TMP/busy/podinfo-canary.yaml"
/usr/bin/python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(120)' \
  >"$TEST_TMP/busy.port" &
track $!
i=0; while [ ! -s "$TEST_TMP/busy.port" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
BUSY=$(cat "$TEST_TMP/busy.port")
CANARYD_TOKEN=t canaryd local --dir "$TEST_TMP/busy" --api "127.0.0.1:$BUSY" >"$TEST_TMP/busy.out" 2>&1
rc=$?
check "a busy API port fails the start (exit 1)" [ "$rc" = 1 ]
check "... and leaves no process of its own behind" \
  bash -c '! grep -l -a -z -x "CANARYD_OWNER=$0/.canaryd" /proc/[0-9]*/environ 2>/dev/null | grep -q .' \
  "$TEST_TMP/busy"
check "... nor a state directory" [ ! -e "$TEST_TMP/busy/.canaryd" ]

# a service port that is taken: said in the events, logged once (not
# every turn of the loop: 150 lines in 8 s before)
sed -i "s/^    port: [0-9]*$/    port: $BUSY/" "$TEST_TMP/busy/podinfo-canary.yaml"
canaryd local --dir "$TEST_TMP/busy" --api "unix:$TEST_TMP/busy.sock" --stop-on-exit \
  --log-format text >"$TEST_TMP/busy.log" 2>&1 &
BPID=$!
track $BPID
i=0; until CANARYD_API=unix:$TEST_TMP/busy.sock canaryctl events podinfo 2>/dev/null |
  grep -q 'Address already in use' || [ $i -gt 300 ]; do
  i=$((i + 1)); sleep 0.1; done
sleep 5
n=$(grep -c 'Address already in use' "$TEST_TMP/busy.log")
check "a taken service port is logged, once ($n lines)" bash -c "[ $n -ge 1 ] && [ $n -le 2 ]"
check "... and is in the events" bash -c \
  "CANARYD_API=unix:$TEST_TMP/busy.sock canaryctl events podinfo | grep -q 'bind 127.0.0.1:$BUSY: Address already in use'"
kill -TERM $BPID; wait $BPID 2>/dev/null

# --- item 1: a relative --dir and a relative command ---------------------
(cd "$P" && exec canaryd local --dir ./app --api "$CANARYD_API" --stop-on-exit \
  --log-format text) >>"$TEST_TMP/canaryd.log" 2>&1 &
CPID=$!
ln -sf "$TEST_TMP/canaryd.log" "$W/canaryd.log" 2>/dev/null
require "canaryd local --dir ./app initializes v1" wait_phase Initialized 90
check "... and the service answers v1" bash -c "curl -s '$URL' | grep -q '\"version\":\"v1\"'"
check "nothing failed to start" bash -c "! grep -q 'cannot start' '$TEST_TMP/canaryd.log'"
# a second canaryd local on the same directory (another --api, another
# shell): refused, naming the first, which keeps running undisturbed
out=$(cd "$P" && canaryd local --dir ./app --api "unix:$P/second.sock" 2>&1); rc=$?
check "a second canaryd local on the same state directory exits 1" [ "$rc" = 1 ]
check "... saying which one holds it" grep -q "another canaryd local (pid $CPID) uses the state directory" <<<"$out"
check "... and the first still serves" bash -c "curl -s '$URL' | grep -q '\"version\":\"v1\"'"

# a Canary whose targetRef names no LocalWorkload (a typo): a Warning
# event says so (it was in the log only; describe showed nothing)
cat >"$W/other.yaml" <<EOF
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: other}
spec:
  targetRef: {apiVersion: canaryd.dev/v1alpha1, kind: LocalWorkload, name: podinfoo}
  service: {port: $(free_port)}
  analysis: {interval: 10s, threshold: 2, stepWeight: 25, maxWeight: 50}
EOF
i=0; until canaryctl events other 2>/dev/null | grep -q 'not found' || [ $i -gt 150 ]; do
  i=$((i + 1)); sleep 0.2; done
check "a Canary with a mistyped targetRef gets a Warning event naming it" bash -c \
  "canaryctl events other | grep -q 'Warning .*LocalWorkload podinfoo.default not found'"
rm -f "$W/other.yaml"

primary() {  # primary FIELD
  canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; print(json.load(sys.stdin)["workload"]["primary"][sys.argv[1]])' "$1"
}
journal_lines() { wc -l <"$P/app/.canaryd/canaries/default/podinfo/events.jsonl"; }

# a typo in the program: the reason reaches describe and the events, once
sed -i 's|^  command: ../build/demo-app$|  command: ../build/demo-ap|' "$W/podinfo-workload.yaml"
canary_error() {
  canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; print(json.load(sys.stdin)["workload"]["canary"].get("error",""))'
}
i=0; until canary_error | grep -q 'demo-ap: No such file or directory' || [ $i -gt 150 ]; do
  i=$((i + 1)); sleep 0.2; done
says_why() { canary_error | grep -q '/project/build/demo-ap: No such file or directory'; }
check "describe -o json says why the canary cannot start" says_why
check "describe shows it under the processes" \
  bash -c "canaryctl describe canary podinfo | grep -q 'error: cannot start .*build/demo-ap: No such file or directory'"
i=0; until canaryctl events podinfo --limit 50 | grep -q 'demo-ap: No such file' || [ $i -gt 100 ]; do
  i=$((i + 1)); sleep 0.2; done
check "the events say it" bash -c "canaryctl events podinfo --limit 50 | grep -q 'demo-ap: No such file or directory'"
n1=$(journal_lines); sleep 8; n2=$(journal_lines)
check "the journal does not fill up while it waits ($n1 then $n2 lines in 8 s)" [ $((n2 - n1)) -le 3 ]
canaryctl load "$URL" --rate 20 --concurrency 32 --duration 0 -o json >"$TEST_TMP/load1.json" &
LOAD=$!
track $LOAD
sed -i 's|^  command: ../build/demo-ap$|  command: ../build/demo-app|' "$W/podinfo-workload.yaml"
set_version --version v2
r=$(wait_outcome 180)
kill -INT $LOAD; wait $LOAD 2>/dev/null
check "with the typo fixed, v2 is promoted ($r)" [ "$r" = Succeeded ]
no_error() { [ -z "$(canary_error)" ]; }
check "... and describe shows no error any more" no_error

# --- item 2: the Canary moved out and back -----------------------------------
mv "$W/podinfo-canary.yaml" "$TEST_TMP/"
i=0; while canaryctl get canaries 2>/dev/null | grep -q '^podinfo ' && [ $i -lt 100 ]; do
  i=$((i + 1)); sleep 0.1; done
check "a Canary moved out of the directory is deleted" \
  bash -c '! canaryctl get canaries | grep -q "^podinfo "'
mv "$TEST_TMP/podinfo-canary.yaml" "$W/"
wait_phase Initialized 90
check "moved back, it is Initialized again" [ "$(phase)" = Initialized ]
check "... with its primary running (2 of 2 ready, not 0/0)" \
  bash -c '[ "$(canaryctl describe canary podinfo -o json | /usr/bin/python3 -c "
import json,sys; p=json.load(sys.stdin)[\"workload\"][\"primary\"]; print(p[\"ready\"], p[\"desired\"])")" = "2 2" ]'
check "... and the service answers (not 503)" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL")" = 200 ]

# the next release is analysed while the primary serves: no request fails
canaryctl load "$URL" --rate 20 --concurrency 32 --duration 0 -o json >"$TEST_TMP/load2.json" &
LOAD=$!
track $LOAD
set_version --version v3
r=$(wait_outcome 180)
check "the next release is promoted ($r)" [ "$r" = Succeeded ]
kill -INT $LOAD; wait $LOAD 2>/dev/null
check "no request failed during it" /usr/bin/python3 -c '
import json,sys
r=json.load(open(sys.argv[1])); print("load:", r["sent"], "sent,", r["responses"])
assert r["sent"] > 100, r
assert set(r["responses"]) <= {"2xx"}, r' "$TEST_TMP/load2.json"

# --- item 2: a restart after --stop-on-exit -----------------------------------
stop_canaryd
check "--stop-on-exit stopped every process" [ "$(owned_processes)" -eq 0 ]
(cd "$P" && exec canaryd local --dir ./app --api "$CANARYD_API" --stop-on-exit \
  --log-format text) >>"$TEST_TMP/canaryd.log" 2>&1 &
CPID=$!
i=0; until canaryctl get canaries >/dev/null 2>&1 || [ $i -gt 200 ]; do i=$((i + 1)); sleep 0.05; done
served() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL")" = 200 ]; }
i=0; until served || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.2; done
check "restarted, the primary serves again" served
two_ready() { [ "$(canaryctl describe canary podinfo -o json | /usr/bin/python3 -c "
import json,sys; p=json.load(sys.stdin)[\"workload\"][\"primary\"]; print(p[\"ready\"], p[\"desired\"])")" = "2 2" ]; }
i=0; until two_ready || [ $i -gt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "... 2 of 2 primary replicas ready" two_ready
check "... still v3" bash -c "curl -s '$URL' | grep -q '\"version\":\"v3\"'"
stop_canaryd
finish
