#!/bin/bash
# test_local_port_taken.sh - one canary whose service port another process
# holds must not stop the others (issue 12): canaryd local runs podinfo and
# a second canary, `other`, whose port a listener started here occupies.
# podinfo initializes, releases v2 and is promoted while `other` is blocked;
# `other` says why (describe names the port and EADDRINUSE, and so do its
# events); when the port is freed, `other` initializes and serves. Then
# `other` moves to another taken port: it keeps its previous listener and
# routes (never a mix) until that port frees.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

# the second canary: a copy of the demo's, on its own port
OTHER_PORT=$(free_port)
sed -e 's/name: podinfo/name: other/' -e "s/^    port: $SVC_PORT\$/    port: $OTHER_PORT/" \
  "$W/podinfo-canary.yaml" >"$W/other-canary.yaml"
sed -e 's/name: podinfo/name: other/' "$W/podinfo-workload.yaml" >"$W/other-workload.yaml"

# hold_port PORT: another process listens on PORT (plain TCP, answers
# nothing); sets HOLDER to its PID
hold_port() {
  rm -f "$TEST_TMP/holder.out"
  /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
time.sleep(3600)' "$1" >"$TEST_TMP/holder.out" 2>&1 &
  HOLDER=$!
  track $HOLDER
  local i=0
  until grep -q listening "$TEST_TMP/holder.out" 2>/dev/null || [ $i -gt 100 ]; do
    i=$((i + 1)); sleep 0.1
  done
  grep -q listening "$TEST_TMP/holder.out"
}
require "a test listener holds port $OTHER_PORT" hold_port "$OTHER_PORT"

start_canaryd

# describe_field NAME EXPR: a Python expression over canaryctl describe -o json (d)
describe_field() {
  canaryctl describe canary "$1" -o json 2>/dev/null | /usr/bin/python3 -c '
import json,sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except Exception: print("")' "$2"
}
wait_phase_of() {  # wait_phase_of NAME PHASE SECONDS
  local i=0
  while [ "$(describe_field "$1" 'd["phase"]')" != "$2" ]; do
    i=$((i + 1)); [ $i -gt $(($3 * 5)) ] && {
      echo "$1 is $(describe_field "$1" 'd["phase"]'), wanted $2" >&2; return 1; }
    sleep 0.2
  done
}

require "podinfo initializes although other's port is taken" wait_phase_of podinfo Initialized 90
check "podinfo serves v1 on its port" bash -c "curl -s '$URL' | grep -q '\"version\":\"v1\"'"

# the blocked canary says why, naming the port and the reason
blocked() {
  describe_field other 'd.get("routeError", "")' | grep -q "service port $OTHER_PORT: .*EADDRINUSE"
}
i=0; until blocked || [ $i -gt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "describe -o json of other names port $OTHER_PORT and EADDRINUSE" blocked
check "canaryctl describe other shows the error under the service port" bash -c \
  "canaryctl describe canary other | grep -A1 '^Service port: $OTHER_PORT' | grep -q 'error: service port $OTHER_PORT: the router cannot listen on 127.0.0.1:$OTHER_PORT.*EADDRINUSE'"
warned() {
  canaryctl events other --limit 100 -o json | /usr/bin/python3 -c '
import json, re, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
sys.exit(0 if any(e["type"] == "Warning" and re.search(
    "service port %s: the router cannot listen on .*EADDRINUSE" % sys.argv[1], e["message"])
    for e in ev) else 1)' "$OTHER_PORT"
}
check "other's events carry it as a Warning" warned
check "other is not initialized while its port is taken" \
  [ "$(describe_field other 'd["phase"]')" != Initialized ]
check "podinfo has no route error" [ "$(describe_field podinfo '"routeError" in d')" = False ]

# podinfo releases and is promoted meanwhile
canaryctl load "$URL" --rate 20 --concurrency 8 --duration 0 -o json >"$TEST_TMP/load.json" &
track $!
set_version --version v2 --latency 20 --jitter 10
r=$(wait_outcome 180)
check "podinfo's v2 is promoted while other is blocked ($r)" [ "$r" = Succeeded ]
check "podinfo serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"
check "other is still blocked, saying so" blocked
check "the test listener still has port $OTHER_PORT" kill -0 $HOLDER

# the port frees: other recovers
kill $HOLDER; wait $HOLDER 2>/dev/null
check "other initializes once its port is free" wait_phase_of other Initialized 90
check "other serves v1 on port $OTHER_PORT" bash -c \
  "curl -s 'http://127.0.0.1:$OTHER_PORT/' | grep -q '\"version\":\"v1\"'"
check "other's route error is gone" [ "$(describe_field other '"routeError" in d')" = False ]
check "the recovery is logged" grep -q "service port $OTHER_PORT is free again" "$W/canaryd.log"
check "podinfo still serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"

# a listener that has routes keeps them while its new port is taken: other
# moves to a port another process holds; its old port still serves it
NEW_PORT=$(free_port)
require "a test listener holds port $NEW_PORT" hold_port "$NEW_PORT"
sed -i "s/^    port: $OTHER_PORT\$/    port: $NEW_PORT/" "$W/other-canary.yaml"
moved_blocked() {
  describe_field other 'd.get("routeError", "")' |
    grep -q "service port $NEW_PORT: .*EADDRINUSE.*the router keeps its previous routes"
}
i=0; until moved_blocked || [ $i -gt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "other's move to a taken port is refused, its previous routes kept" moved_blocked
check "other still serves on its old port $OTHER_PORT" bash -c \
  "curl -s 'http://127.0.0.1:$OTHER_PORT/' | grep -q '\"version\":\"v1\"'"
check "podinfo still serves v2" bash -c "curl -s '$URL' | grep -q '\"version\":\"v2\"'"
kill $HOLDER; wait $HOLDER 2>/dev/null
i=0; until curl -s "http://127.0.0.1:$NEW_PORT/" | grep -q '"version":"v1"' || [ $i -gt 150 ]; do
  i=$((i + 1)); sleep 0.2
done
check "once $NEW_PORT is free, other serves there" bash -c \
  "curl -s 'http://127.0.0.1:$NEW_PORT/' | grep -q '\"version\":\"v1\"'"
check "and no longer on $OTHER_PORT" bash -c "! curl -s -o /dev/null 'http://127.0.0.1:$OTHER_PORT/'"
i=0; until [ "$(describe_field other '"routeError" in d')" = False ] || [ $i -gt 50 ]; do
  i=$((i + 1)); sleep 0.2
done
check "other's route error is gone again" [ "$(describe_field other '"routeError" in d')" = False ]
finish
