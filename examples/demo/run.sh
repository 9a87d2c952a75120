#!/bin/bash
# examples/demo/run.sh - `make demo`: a whole release on one host.
#
# Starts `canaryd local` on a copy of examples/demo/manifests (the demo app
# v1 behind canaryd's built-in router), puts steady load on it with
# canaryd's own load generator, releases v2 (healthy: promoted) and v3 (5 %
# errors and 300 ms more latency: rolled back), shows the progress live,
# prints a table of the two releases, stops everything it started, and
# exits 0 only if v2 was promoted and v3 rolled back.
#
# Usage: examples/demo/run.sh [BUILD_DIR]     (DEMO_KEEP=1 keeps the work dir)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
export PATH="$build:$PATH"
for b in canaryd canaryctl demo-app; do
  command -v "$b" >/dev/null || { echo "demo: $build/$b is missing (run make)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/canaryd-demo.XXXXXX")
cp "$here"/manifests/*.yaml "$work/"
api="unix:$work/api.sock"
export CANARYD_API="$api"
# the service listens on a free port (the manifests say 18080)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^    port: 18080$/    port: $port/" "$work/podinfo-canary.yaml"
url="http://127.0.0.1:$port/"
pids=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  if [ -n "${canaryd_pid:-}" ]; then
    kill -TERM "$canaryd_pid" 2>/dev/null     # --stop-on-exit: workloads and router stop too
    wait "$canaryd_pid" 2>/dev/null
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

phase() { canaryctl get canaries -o json 2>/dev/null | /usr/bin/python3 -c '
import json,sys
try: print(json.load(sys.stdin)["items"][0]["phase"])
except Exception: print("")'; }

wait_phase() {  # wait_phase PHASE SECONDS
  local i=0
  while [ "$(phase)" != "$1" ]; do
    i=$((i + 1)); [ $i -gt $(($2 * 5)) ] && return 1; sleep 0.2
  done
}

say "starting canaryd local on $work (service on $url)"
canaryd local --dir "$work" --api "$api" --stop-on-exit --log-format text \
  >"$work/canaryd.log" 2>&1 &
canaryd_pid=$!
if ! wait_phase Initialized 60; then
  echo "demo: the canary did not initialize; log:" >&2; tail -20 "$work/canaryd.log" >&2; exit 1
fi
curl -s "$url"; echo
canaryctl get canaries

# release VERSION ARGS...: edits the workload, follows the canary, records a row
rows=()
release() {
  local version=$1; shift
  local args="\"--port\", \"{{ port }}\", \"--version\", \"$version\"$*"
  sed -i "s|^  args: .*|  args: [$args]|" "$work/podinfo-workload.yaml"
  say "releasing $version"
  canaryctl load "$url" --rate 40 --concurrency 64 --duration 0 -o json >"$work/load-$version.json" &
  local load_pid=$!
  pids="$pids $load_pid"
  local start
  start=$(date +%s)
  sleep 0.5
  canaryctl apply -f "$work/podinfo-workload.yaml" >/dev/null || return 1
  canaryctl watch podinfo --until-done
  local end
  end=$(date +%s)
  kill -INT "$load_pid"; wait "$load_pid" 2>/dev/null
  canaryctl events podinfo -o json --limit 200 >"$work/events-$version.json"
  rows+=("$(/usr/bin/python3 - "$version" "$((end - start))" "$work" <<'PY'
import json, re, sys
version, secs, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
events = [json.loads(l) for l in open("%s/events-%s.json" % (work, version)) if l.strip()]
# this release's events: after the last "New revision detected"
start = max(i for i, e in enumerate(events) if e["message"].startswith("New revision detected"))
mine = events[start:]
weights = [int(m.group(1)) for e in mine for m in [re.search(r"canary weight (\d+)", e["message"])] if m]
failed = sum(1 for e in mine if e["message"].startswith("Halt podinfo.default advancement"))
outcome = "promoted" if any(e["message"].startswith("Promotion completed") for e in mine) else \
          "rolled back" if any(e["message"].startswith("Canary failed") for e in mine) else "unfinished"
load = json.load(open("%s/load-%s.json" % (work, version)))
print("%-9s %-12s %5ds %10d%% %14d %12d %8d" % (version, outcome, secs, max(weights or [0]), failed,
      load["sent"], load["failed"]))
PY
)")
}

release v2 ", \"--latency\", \"20\", \"--jitter\", \"10\""
v2=$(phase)
release v3 ", \"--latency\", \"320\", \"--jitter\", \"10\", \"--error-rate\", \"0.05\""
v3=$(phase)

say "summary"
printf '%-9s %-12s %6s %11s %14s %12s %8s\n' REVISION OUTCOME TIME MAX-WEIGHT FAILED-CHECKS REQUESTS ERRORS
for r in "${rows[@]}"; do echo "$r"; done
echo
curl -s "$url"; echo
if [ "$v2" = Succeeded ] && [ "$v3" = Failed ]; then
  echo "demo: v2 was promoted and v3 rolled back, as expected"
  exit 0
fi
echo "demo: unexpected outcome (v2 $v2, v3 $v3); log in $work/canaryd.log" >&2
DEMO_KEEP=1
exit 1
