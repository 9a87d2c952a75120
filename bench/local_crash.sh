#!/bin/bash
# bench/local_crash.sh - the crash soak of `canaryd local` (issue 12):
# N kill -9s of canaryd at random moments across a series of releases that
# alternate healthy (promoted) and faulty (30 % errors: rolled back), with
# a restart after each kill and a steady load on the service throughout.
#
# A release has a wrong outcome when it does not end in the right phase
# (Succeeded / Failed), when the primary then serves another version than
# it should, or when a process canaryd started is left over (more than the
# primary's replicas and the router once the release is over). A request
# fails when it gets no answer or a 502/503/504 from the router (a backend
# that was gone: a request sent to a stopped process); the faulty
# release's own 500s are its purpose, not failures.
#
# Prints exactly: kill -9 runs: N, wrong outcomes: W, failed requests: K of M
# and exits 0 only when W and K are 0.
#
# Usage: bench/local_crash.sh [N] [BUILD_DIR]   (N default 100; bench/run-all.sh
#        passes BUILD_DIR alone, which is accepted too)
#   env: RATE (requests/s, 30), SEED (kill moments, random), KEEP=1 keeps the work dir
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
N=100
build=build
for a in "$@"; do
  case "$a" in
    *[!0-9]*|'') build=$a ;;
    *) N=$a ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
export CANARYD_SRC=$(cd "$here/.." && pwd)
case "$build" in /*) ;; *) build="$CANARYD_SRC/$build" ;; esac
export CANARYD_BUILD=$build
for b in canaryd canaryctl demo-app; do
  [ -x "$build/$b" ] || { echo "bench/local_crash.sh: $build/$b is missing (make build)" >&2; exit 2; }
done
. "$CANARYD_SRC/tests/lib.sh"
. "$CANARYD_SRC/tests/integration/local_lib.sh"
RATE=${RATE:-30}
RANDOM=${SEED:-$$}

# the binaries are copied: a rebuild during the soak must not change them
mkdir -p "$TEST_TMP/bin"
cp "$build/canaryd" "$build/canaryctl" "$build/demo-app" "$TEST_TMP/bin/"
[ -x "$build/canaryd-router" ] && cp "$build/canaryd-router" "$TEST_TMP/bin/"
export PATH="$TEST_TMP/bin:$PATH"
# the latency limit is loose: this is about crashes, and p99 on a loaded
# host is not what is measured here
sed -i 's/progressDeadlineSeconds: 60/progressDeadlineSeconds: 120/' "$W/podinfo-canary.yaml"
sed -i "s/^          max: 200$/          max: 2000/" "$W/podinfo-canary.yaml"
# interrupted: stop whatever canaryd started, even when it is down
leftovers() {
  local owner p
  owner=$(realpath "$W/.canaryd" 2>/dev/null) || return 0
  for p in $(grep -l -a -x -z "CANARYD_OWNER=$owner" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
    kill -9 "$p" 2>/dev/null
  done
}
trap 'exit 130' INT TERM
trap 'stop_canaryd; leftovers; cleanup' EXIT

start_canaryd || { echo "bench/local_crash.sh: canaryd local did not start" >&2; exit 1; }
wait_phase Initialized 120 || { echo "bench/local_crash.sh: v1 did not initialize" >&2; exit 1; }

/usr/bin/python3 "$here/local_load.py" "$URL" "$RATE" "$TEST_TMP/load.json" &
LOAD=$!
track $LOAD

kills=0 wrong=0 release=1 serving=v1
note() { echo "# $*" >&2; }
crash() {   # one kill -9 at a random moment, then a restart
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 400) / 100 }')"
  kill -9 "$CPID"; wait "$CPID" 2>/dev/null
  kills=$((kills + 1))
  start_canaryd || { note "restart $kills failed"; return 1; }
}
while [ $kills -lt "$N" ]; do
  release=$((release + 1))
  v=v$release
  if [ $((release % 2)) = 0 ]; then
    set_version --version $v; want=Succeeded
  else
    set_version --version $v --error-rate 0.3; want=Failed
  fi
  k=$((1 + RANDOM % 5))
  [ $((kills + k)) -gt "$N" ] && k=$((N - kills))
  for _ in $(seq "$k"); do crash || break; done
  got=$(wait_outcome 300)
  [ "$want" = Succeeded ] && [ "$got" = Succeeded ] && serving=$v
  body=$(curl -s "$URL")
  # the canary set scales down after the outcome (its grace period): poll
  i=0; while [ "$(owned_processes)" -ne 3 ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.2; done
  procs=$(owned_processes)
  if [ "$got" != "$want" ] || ! grep -q "\"version\":\"$serving\"" <<<"$body" || [ "$procs" -ne 3 ]; then
    wrong=$((wrong + 1))
    note "release $v: wanted $want, got $got; serves $(grep -o '"version":"[^"]*"' <<<"$body"); $procs processes"
  else
    note "release $v: $got after $k kills ($kills so far)"
  fi
done

kill -INT $LOAD; wait $LOAD 2>/dev/null
stop_canaryd
[ "$(owned_processes)" -eq 0 ] || { wrong=$((wrong + 1)); note "--stop-on-exit left processes"; }
read -r failed sent detail < <(/usr/bin/python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))
print(r["failed"], r["sent"], json.dumps(r["failures"], separators=(",", ":")))' "$TEST_TMP/load.json")
[ "$failed" = 0 ] || note "failed requests by kind: $detail"
[ -n "${KEEP:-}" ] && { cp -r "$W" "${TMPDIR:-/tmp}/canaryd-crash-keep.$$"; note "kept ${TMPDIR:-/tmp}/canaryd-crash-keep.$$"; }
echo "kill -9 runs: $kills, wrong outcomes: $wrong, failed requests: $failed of $sent"
[ "$wrong" = 0 ] && [ "$failed" = 0 ]
