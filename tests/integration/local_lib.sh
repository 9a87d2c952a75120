# tests/integration/local_lib.sh - helpers for tests of `canaryd local`
# (source after ../lib.sh). A test gets its own manifest directory with the
# demo manifests, the service on a free port and the API on a Unix socket.
export PATH="$CANARYD_BUILD:$PATH"
W=$TEST_TMP/w
mkdir -p "$W"
cp "$CANARYD_SRC"/examples/demo/manifests/podinfo-{canary,workload}.yaml "$W/"
SVC_PORT=$(free_port)
sed -i "s/^    port: 18080$/    port: $SVC_PORT/" "$W/podinfo-canary.yaml"
URL="http://127.0.0.1:$SVC_PORT/"
export CANARYD_API="unix:$W/api.sock"
CPID=""

# start_canaryd [FLAGS]: canaryd local on $W (stopping everything on SIGTERM)
start_canaryd() {
  canaryd local --dir "$W" --api "$CANARYD_API" --stop-on-exit --log-format text "$@" \
    >>"$W/canaryd.log" 2>&1 &
  CPID=$!
  local i=0
  while [ ! -S "$W/api.sock" ] || ! canaryctl get canaries >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "canaryd local did not start" >&2; return 1; }
    sleep 0.05
  done
}

stop_canaryd() {
  [ -n "$CPID" ] || return 0
  kill -TERM "$CPID" 2>/dev/null
  wait "$CPID" 2>/dev/null
  CPID=""
}

# every process canaryd marked as its own (CANARYD_OWNER=<state dir>)
owned_processes() {
  local owner
  owner=$(realpath "$W/.canaryd" 2>/dev/null) || { echo 0; return; }
  grep -l -a -x -z "CANARYD_OWNER=$owner" /proc/[0-9]*/environ 2>/dev/null | wc -l
}

phase() {
  canaryctl get canaries -o json 2>/dev/null | /usr/bin/python3 -c '
import json,sys
try: print(json.load(sys.stdin)["items"][0]["status"]["phase"])
except Exception: print("")'
}

wait_phase() {  # wait_phase PHASE SECONDS
  local i=0
  while [ "$(phase)" != "$1" ]; do
    i=$((i + 1)); [ $i -gt $(($2 * 5)) ] && { echo "phase is $(phase), wanted $1" >&2; return 1; }
    sleep 0.2
  done
}

wait_done() {  # wait_done SECONDS: until Succeeded or Failed; prints it
  local i=0 p
  while :; do
    p=$(phase)
    case "$p" in Succeeded|Failed) echo "$p"; return 0 ;; esac
    i=$((i + 1)); [ $i -gt $(($1 * 5)) ] && { echo "$p"; return 1; }
    sleep 0.2
  done
}

# wait_outcome SECONDS: until the current revision's run has ended, and
# prints its phase (Succeeded or Failed). Not the previous run's outcome:
# the journal must hold a "New revision detected" since the last
# set_version followed by the run's end ("Promotion completed" or "Canary
# failed"), and lastAppliedSpec must be the workload's revision. (A Failed
# canary first notes a new revision's hash and its transition time while
# still Failed, so the status alone cannot tell.)
RELEASE_AT=0
wait_outcome() {
  local i=0 p
  while :; do
    p=$( { canaryctl describe canary podinfo -o json 2>/dev/null; echo; echo '#events'
           canaryctl events podinfo --limit 300 -o json 2>/dev/null; } | /usr/bin/python3 -c '
import json,sys,datetime
try:
    desc, evs = sys.stdin.read().split("#events", 1)
    d = json.loads(desc)
    ev = [json.loads(l) for l in evs.splitlines() if l.strip()]
    def secs(e):
        return datetime.datetime.strptime(e["ts"][:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    start = [i for i, e in enumerate(ev) if "New revision detected" in e["message"]]
    ended = start and secs(ev[start[-1]]) >= int(sys.argv[1]) and any(
        "Promotion completed" in e["message"] or "Canary failed" in e["message"]
        for e in ev[start[-1]:])
    done = ended and d["status"].get("lastAppliedSpec") == d["workload"]["revision"]
    print(d["phase"] if done and d["phase"] in ("Succeeded", "Failed") else "running")
except Exception: print("")' "$RELEASE_AT")
    case "$p" in Succeeded|Failed) echo "$p"; return 0 ;; esac
    i=$((i + 1)); [ $i -gt $(($1 * 2)) ] && { echo "$p"; return 1; }
    sleep 0.5
  done
}

# set_version ARGS...: rewrites the workload's arguments (a new revision)
set_version() {
  RELEASE_AT=$(date +%s)
  local args="\"--port\", \"{{ port }}\""
  for a in "$@"; do args="$args, \"$a\""; done
  sed -i "s|^  args: .*|  args: [$args]|" "$W/podinfo-workload.yaml"
}

# on failure, the controller's log explains what happened
show_log_on_failure() {
  if [ "$_failed" -gt 0 ] && [ -f "$W/canaryd.log" ]; then
    echo "--- last lines of canaryd.log ---"
    grep -v 'local: router: \|is ready$\|started replica\|stopping replica' "$W/canaryd.log" | tail -40
  fi
}
trap 'show_log_on_failure; stop_canaryd; cleanup' EXIT
