#!/bin/bash
# examples/demo/run.sh - `make demo`: a whole release on one host.
#
# Starts `canaryd local` on a copy of examples/demo/manifests: the demo app
# v1 twice, behind canaryd's built-in router, once analysed with Flagger's
# fixed thresholds (podinfo) and once with canaryd's statistical judge
# (podinfo-judged). Puts steady load on both with canaryd's own load
# generator, releases v2 (healthy: promoted) and v3 (5 % errors and
# 300 ms more latency: rolled back), shows the progress live, prints a
# table of the releases, stops everything it started, and exits 0 only if
# v2 was promoted and v3 rolled back on both.
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
py=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/canaryd-demo.XXXXXX")
cp "$here"/manifests/*.yaml "$work/"
export CANARYD_API="unix:$work/api.sock"
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# the services listen on free ports (the manifests say 18080 and 18081)
port1=$(free_port); port2=$(free_port)
sed -i "s/^    port: 18080$/    port: $port1/" "$work/podinfo-canary.yaml"
sed -i "s/^    port: 18081$/    port: $port2/" "$work/podinfo-judged.yaml"
canaries="podinfo podinfo-judged"
declare -A url=([podinfo]="http://127.0.0.1:$port1/" [podinfo-judged]="http://127.0.0.1:$port2/")
declare -A file=([podinfo]="$work/podinfo-workload.yaml" [podinfo-judged]="$work/podinfo-judged.yaml")
declare -A how=([podinfo]="thresholds" [podinfo-judged]="judge")
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

# phases: "name=phase name=phase"
phases() { canaryctl get canaries -o json 2>/dev/null | $py -c '
import json,sys
try:
    print(" ".join("%s=%s" % (c["metadata"]["name"], c["status"]["phase"])
                   for c in json.load(sys.stdin)["items"]))
except Exception: print("")'; }
phase_of() { phases | tr ' ' '\n' | sed -n "s/^$1=//p"; }

wait_all() {  # wait_all PHASE SECONDS
  local i=0 c ok
  while :; do
    ok=1
    for c in $canaries; do [ "$(phase_of "$c")" = "$1" ] || ok=0; done
    [ $ok = 1 ] && return 0
    i=$((i + 1)); [ $i -gt $(($2 * 5)) ] && return 1; sleep 0.2
  done
}

# follow: prints both canaries whenever one changes, until both are done
follow() {
  local last="" now
  while :; do
    now=$(canaryctl get canaries -o json 2>/dev/null | $py -c '
import json,sys
def bar(w): n=(w*20+50)//100; return "[" + "#"*n + "."*(20-n) + "]"
for c in json.load(sys.stdin)["items"]:
    s = c["status"]
    print("  %-15s %-17s canary %s %3d%%  failed checks %d" % (c["metadata"]["name"], s["phase"],
          bar(s["canaryWeight"]), s["canaryWeight"], s["failedChecks"]))')
    if [ "$now" != "$last" ]; then
      printf '%s  %s\n%s\n' "$(date +%T)" "" "$now"
      last=$now
    fi
    case "$(phases)" in
      *Progressing*|*Promoting*|*Finalising*|*Waiting*|*Initializ*) sleep 0.5 ;;
      *) return 0 ;;
    esac
  done
}

say "starting canaryd local on $work"
canaryd local --dir "$work" --stop-on-exit --api "$CANARYD_API" --log-format text \
  >"$work/canaryd.log" 2>&1 &
canaryd_pid=$!
if ! wait_all Initialized 60; then
  echo "demo: the canaries did not initialize; log:" >&2; tail -20 "$work/canaryd.log" >&2; exit 1
fi
canaryctl get canaries
for c in $canaries; do echo "$c -> ${url[$c]}: $(curl -s "${url[$c]}")"; done

rows=()
# release VERSION EXTRA-ARGS: edits both workloads, follows both canaries
release() {
  local version=$1 extra=$2 c start end
  say "releasing $version to both: $extra"
  for c in $canaries; do
    canaryctl load "${url[$c]}" --rate 40 --concurrency 64 --duration 0 -o json \
      >"$work/load-$c-$version.json" &
    pids="$pids $!"
  done
  local loads=$pids
  sleep 0.5
  start=$(date +%s)
  for c in $canaries; do
    sed -i "s|^  args: .*|  args: [\"--port\", \"{{ port }}\", \"--version\", \"$version\"$extra]|" "${file[$c]}"
    canaryctl apply -f "${file[$c]}" >/dev/null || return 1
  done
  follow
  end=$(date +%s)
  for p in $loads; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  pids=""
  for c in $canaries; do
    canaryctl events "$c" -o json --limit 300 >"$work/events-$c-$version.json"
    rows+=("$($py - "$c" "${how[$c]}" "$version" "$work" <<'PY'
import json, re, sys, datetime
name, how, version, work = sys.argv[1:5]
events = [json.loads(l) for l in open("%s/events-%s-%s.json" % (work, name, version)) if l.strip()]
start = max(i for i, e in enumerate(events) if e["message"].startswith("New revision detected"))
mine = events[start:]
ts = lambda e: datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
end = next((e for e in mine if e["message"].startswith(("Promotion completed", "Canary failed"))), mine[-1])
weights = [int(m.group(1)) for e in mine for m in [re.search(r"canary weight (\d+)", e["message"])] if m]
failed = sum(1 for e in mine if e["message"].startswith("Halt %s.default advancement" % name))
outcome = "promoted" if end["message"].startswith("Promotion completed") else \
          "rolled back" if end["message"].startswith("Canary failed") else "unfinished"
load = json.load(open("%s/load-%s-%s.json" % (work, name, version)))
print("%-9s %-11s %-12s %5ds %10d%% %14d %10d %8d" % (version, how, outcome,
      (ts(end) - ts(mine[0])).total_seconds(), max(weights or [0]), failed, load["sent"], load["failed"]))
PY
)")
  done
  v_podinfo=$(phase_of podinfo); v_judged=$(phase_of podinfo-judged)
}

release v2 ', "--latency", "20", "--jitter", "10"'
v2="$v_podinfo/$v_judged"
release v3 ', "--latency", "320", "--jitter", "10", "--error-rate", "0.05"'
v3="$v_podinfo/$v_judged"

say "summary (TIME: from 'New revision detected' to promotion or rollback)"
printf '%-9s %-11s %-12s %6s %11s %14s %10s %8s\n' REVISION ANALYSIS OUTCOME TIME MAX-WEIGHT FAILED-CHECKS REQUESTS ERRORS
for r in "${rows[@]}"; do echo "$r"; done
echo
for c in $canaries; do echo "$c now serves: $(curl -s "${url[$c]}")"; done
if [ "$v2" = Succeeded/Succeeded ] && [ "$v3" = Failed/Failed ]; then
  echo "demo: v2 was promoted and v3 rolled back, as expected"
  exit 0
fi
echo "demo: unexpected outcome (v2 $v2, v3 $v3); log in $work/canaryd.log" >&2
DEMO_KEEP=1
exit 1
