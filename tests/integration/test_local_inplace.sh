#!/bin/bash
# test_local_inplace.sh - LocalWorkloads released in place (strategy InPlace) on the local
# platform (docs/local.md): three replicas that must never run twice
# (each holds `flock -n` on its index's file, so a second process of one
# index would fail and be restarted). A good release replaces replica 2,
# then 1, then 0 in place as the analysis passes and is promoted; a bad one
# (half its requests fail) is rolled back, its replaced replicas replaced
# back. In the middle of the good release canaryd is killed and started
# again: it resumes at the same partition, replacing no replica. A watcher checks every 0.1 s that no index has two live processes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

cat >"$W/podinfo-workload.yaml" <<YAML
apiVersion: canaryd.dev/v1alpha1
kind: LocalWorkload
metadata:
  name: podinfo
spec:
  strategy: InPlace
  command: /usr/bin/flock
  args: ["-n", "$W/lock.{{ replica }}", "demo-app", "--port", "{{ port }}", "--version", "v1"]
  replicas: 3
  readinessProbe:
    httpGet: {path: /readyz}
    periodSeconds: 0.5
    failureThreshold: 2
  terminationGracePeriodSeconds: 5
YAML
sed -i 's/stepWeight: 25/stepWeight: 33/; s/maxWeight: 50/maxWeight: 99/; s/^    interval: 10s$/    interval: 5s/' \
  "$W/podinfo-canary.yaml"
require "the canary steps 33/66/99" grep -q 'maxWeight: 99' "$W/podinfo-canary.yaml"

release() {  # release VERSION [DEMO-ARGS...]: a new revision of the workload
  RELEASE_AT=$(date +%s)
  local v=$1; shift
  local extra=""
  for a in "$@"; do extra="$extra, \"$a\""; done
  sed -i "s|\"--version\", \"v[0-9]*\".*\]|\"--version\", \"$v\"$extra]|" "$W/podinfo-workload.yaml"
}

# every live flock of this canaryd: (replica index, version, pid); "list"
# prints them once, "watch" records until OUT.stop exists whether one
# index ever ran twice and which mixed versions were seen
cat >"$TEST_TMP/flocks.py" <<'PY'
import os, sys, time
def flocks(owner):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "flock":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if env.get(b"CANARYD_OWNER", b"").decode() != owner:
            continue
        ver = argv[argv.index(b"--version") + 1].decode() if b"--version" in argv else "?"
        out.append((int(env.get(b"CANARYD_REPLICA", b"-1")), ver, pid))
    return sorted(out)
mode, owner = sys.argv[1], sys.argv[2]
if mode == "list":
    print(" ".join(f"{i}={v}:{p}" for i, v, p in flocks(owner)))
    sys.exit(0)
out = sys.argv[3]
obs = twice = 0
mixed = set()
while not os.path.exists(out + ".stop"):
    seen = {}
    for idx, ver, _ in flocks(owner):
        seen.setdefault(idx, []).append(ver)
    obs += 1
    if any(len(v) > 1 for v in seen.values()):
        twice += 1
        print("twice:", seen, flush=True)
    if len(seen) == 3 and len({v[0] for v in seen.values()}) == 2:
        mixed.add(" ".join(f"{i}={seen[i][0]}" for i in sorted(seen)))
    time.sleep(0.1)
with open(out, "w") as f:
    f.write(f"observations {obs}\ntwice {twice}\n")
    for m in sorted(mixed):
        f.write(f"mixed {m}\n")
PY

start_canaryd
require "v1 initializes" wait_phase Initialized 60
/usr/bin/python3 "$TEST_TMP/flocks.py" watch "$(realpath "$W/.canaryd")" "$TEST_TMP/watch.out" \
  >"$TEST_TMP/watch.log" 2>&1 &
WATCH=$!
track $WATCH
canaryctl load "$URL" --rate 20 --concurrency 8 --duration 0 -o json >"$TEST_TMP/load.json" &
track $!
serves() { curl -s "$URL" | grep -q "\"version\":\"$1\""; }
check "three replicas of v1 serve" serves v1

# --- a good release: replaced in place, step by step, promoted ---------------
release v2
require "v2 starts" wait_phase Progressing 30

# --- canaryd killed in the middle of the release (partition 1) and started
# again: it adopts the processes and the router and resumes at partition 1,
# replacing no replica; the release then goes on from there
replicas() { /usr/bin/python3 "$TEST_TMP/flocks.py" list "$(realpath "$W/.canaryd")"; }
at_partition_1() {
  grep -q "podinfo: partition 1 " "$W/canaryd.log" &&
    replicas | grep -Eqx '0=v1:[0-9]+ 1=v2:[0-9]+ 2=v2:[0-9]+' &&
    [ "$(canaryctl get canary podinfo -o json | /usr/bin/python3 -c \
         'import json,sys; print(json.load(sys.stdin)["status"].get("canaryWeight"))')" = 66 ]
}
i=0; until at_partition_1 || [ $i -gt 600 ]; do i=$((i + 1)); sleep 0.2; done
require "the release reaches partition 1 (replicas 1 and 2 at v2, weight 66)" at_partition_1
sleep 1   # replica 1 of v2 probed ready
before=$(replicas)
echo "replicas before the restart: $before"
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
restart_line=$(wc -l <"$W/canaryd.log")
require "canaryd starts again" start_canaryd
after_restart() { tail -n +"$((restart_line + 1))" "$W/canaryd.log"; }
i=0; until after_restart | grep -q "podinfo: partition 0 " || [ $i -gt 600 ]; do
  i=$((i + 1)); sleep 0.2; done
after=$(replicas)
echo "replicas when the release went on (partition 0): $after"
check "the restarted canaryd adopted the canary's two replicas" bash -c "tail -n +$((restart_line + 1)) '$W/canaryd.log' | grep -q 'adopted 2 running replicas of podinfo$'"
check "the release went on to partition 0 after the restart" bash -c "tail -n +$((restart_line + 1)) '$W/canaryd.log' | grep -q 'podinfo: partition 0 '"
check "no replica was started between the restart and partition 0" \
  bash -c "! tail -n +$((restart_line + 1)) '$W/canaryd.log' | sed '/podinfo: partition 0 /q' | grep -q 'started replica'"
check "replicas 1 and 2 (v2) kept their processes across the restart" \
  [ "$(echo "$before" | grep -Eo '[12]=v2:[0-9]+')" = "$(echo "$after" | grep -Eo '[12]=v2:[0-9]+')" ]

out=$(wait_outcome 240)
check "v2 is promoted (Succeeded)" [ "$out" = Succeeded ]
for p in 2 1 0; do
  check "the partition went to $p" grep -q "podinfo: partition $p " "$W/canaryd.log"
done
i=0; until serves v2 && [ "$(grep -c 'podinfo-primary: started replica .* revision' "$W/canaryd.log")" -ge 6 ] || \
  [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.2; done
check "the primary serves v2" serves v2

# --- a bad release: rolled back, its replicas replaced back ------------------
release v3 --error-rate 0.5
out=$(wait_outcome 240)
check "v3 is rolled back (Failed)" [ "$out" = Failed ]
all_v2() { [ "$(for i in 1 2 3 4 5 6; do curl -s "$URL"; done | grep -c '"version":"v2"')" -eq 6 ]; }
i=0; until all_v2 || [ $i -gt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "after the rollback every request is served by v2" all_v2

touch "$TEST_TMP/watch.out.stop"
wait $WATCH
cat "$TEST_TMP/watch.out"
check "the watcher observed the whole run" [ "$(awk '/^observations/ {print $2}' "$TEST_TMP/watch.out")" -gt 100 ]
check "no replica index ever ran twice" grep -qx 'twice 0' "$TEST_TMP/watch.out"
check "replicas were replaced in place from the highest index (v2 on 2 while v1 on 0 and 1)" \
  grep -qx 'mixed 0=v1 1=v1 2=v2' "$TEST_TMP/watch.out"
check "...and the bad release ran on some indices only" grep -q '^mixed .*=v3' "$TEST_TMP/watch.out"
check "no replica failed to take its lock (no restart)" bash -c "! grep -q 'exited unexpectedly' '$W/canaryd.log'"
finish
