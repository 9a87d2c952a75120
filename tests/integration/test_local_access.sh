#!/bin/bash
# test_local_access.sh - who reaches `canaryd local` (docs/security.md), as
# a user would: without --api it listens on the runtime directory's socket
# (0600 even under umask 000) and canaryctl finds it with no flag; a second
# canaryd local does not take that socket over; on TCP it needs the token,
# which canaryctl on the same host finds in the runtime directory, and
# which no workload inherits; a wrong token is a clear error (exit 2).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"
unset CANARYD_API CANARYD_TOKEN
export XDG_RUNTIME_DIR=$TEST_TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
SOCK=$XDG_RUNTIME_DIR/canaryd/local.sock

(umask 000; exec canaryd local --dir "$W" --stop-on-exit --log-format text) >>"$W/canaryd.log" 2>&1 &
CPID=$!
i=0; while [ ! -S "$SOCK" ] && [ $i -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
require "without --api it listens on \$XDG_RUNTIME_DIR/canaryd/local.sock" [ -S "$SOCK" ]
check "the socket is 0600 under umask 000" [ "$(stat -c %a "$SOCK")" = 600 ]
check "its directory is 0700" [ "$(stat -c %a "$XDG_RUNTIME_DIR/canaryd")" = 700 ]
# the API answers before the manifests are loaded: poll until the canary is there
check "canaryctl finds it with no flag" bash -c 'for i in $(seq 200); do
  canaryctl get canaries 2>/dev/null | grep -q "^podinfo " && exit 0; sleep 0.1; done; exit 1'
out=$(canaryd local --dir "$W" --state-dir "$TEST_TMP/other-state" --log-format text 2>&1); rc=$?
check "a second canaryd local does not take the socket over" \
  bash -c '[ "$0" != 0 ] && grep -q "another process is listening on" <<<"$1"' "$rc" "$out"
check "... and the first still answers" bash -c 'canaryctl get canaries >/dev/null'
# pgrep never lists itself; the path is this test's own
check "... and the one that failed left no router behind" \
  bash -c '! pgrep -f "$0/other-state/" >/dev/null' "$TEST_TMP"
stop_canaryd
check "the socket is removed on exit" [ ! -e "$SOCK" ]

# the same manifests on TCP (a fresh state: the workloads start again),
# with a token in the environment
rm -rf "$W/.canaryd"
PORT=$(free_port)
CANARYD_TOKEN=tok-$$-secret canaryd local --dir "$W" --api "127.0.0.1:$PORT" --stop-on-exit \
  --log-format text >>"$W/canaryd.log" 2>&1 &
CPID=$!
TOKFILE=$XDG_RUNTIME_DIR/canaryd/api-127.0.0.1_$PORT.token
i=0; while ! curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && [ $i -lt 200 ]; do
  i=$((i + 1)); sleep 0.05; done
require "the TCP API answers /healthz without a token" \
  [ "$(curl -s "http://127.0.0.1:$PORT/healthz")" = OK ]
check "the token is published 0600 for canaryctl" \
  bash -c '[ "$(stat -c %a "$0")" = 600 ] && [ "$(cat "$0")" = "tok-$1-secret" ]' "$TOKFILE" "$$"
check "without the token: 401" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/canaries")" = 401 ]
check "canaryctl --server host:port reads the published token" \
  bash -c 'canaryctl get canaries --server "127.0.0.1:$0" | grep -q "^podinfo "' "$PORT"
check "canaryctl hold and resume work over TCP" \
  bash -c 'canaryctl hold podinfo -s "127.0.0.1:$0" && canaryctl resume podinfo -s "127.0.0.1:$0"' "$PORT"
check "canaryctl apply works over TCP" \
  bash -c 'CANARYD_API="127.0.0.1:$0" canaryctl apply -f "$1/podinfo-canary.yaml"' "$PORT" "$W"
out=$(CANARYD_TOKEN=wrong canaryctl get canaries --server "127.0.0.1:$PORT" 2>&1); rc=$?
check "a wrong token exits 2 saying where the token came from" \
  bash -c '[ "$0" = 2 ] && grep -q "refused \$CANARYD_TOKEN: wrong token" <<<"$1"' "$rc" "$out"
check "the token is in no log line" bash -c '! grep -q "tok-$0-secret" "$1"' "$$" "$W/canaryd.log"
workload_pids() {
  canaryctl describe canary podinfo -s "127.0.0.1:$PORT" -o json | /usr/bin/python3 -c '
import json,sys
w=json.load(sys.stdin)["workload"]
print(" ".join(str(r["pid"]) for g in ("primary","canary") for r in w[g]["replicas"] if r["pid"] > 0))'
}
i=0; pids=""
while [ -z "$pids" ] && [ $i -lt 150 ]; do pids=$(workload_pids 2>/dev/null); i=$((i + 1)); sleep 0.2; done
check "the workloads run" [ -n "$pids" ]
leaked=0
for p in $pids; do grep -qa "CANARYD_TOKEN=" "/proc/$p/environ" && leaked=1; done
rpid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$W/.canaryd/router.json")
grep -qa "CANARYD_TOKEN=" "/proc/$rpid/environ" && leaked=1
check "no workload (nor the router) inherits \$CANARYD_TOKEN" [ $leaked = 0 ]
stop_canaryd
finish
