#!/bin/bash
# test_simulate_cli.sh - `canaryctl simulate` as users run it: the table and
# JSON outputs, scenarios, the Flagger corpus, and clear errors (with exit
# codes) for bad input.
. "$(dirname "$0")/../lib.sh"

M=$CANARYD_SHARED/conformance/flagger/manifests
ISTIO=$M/004-canary-artifacts_examples_istio-canary.yaml
PY=/usr/bin/python3

# ---- table ---------------------------------------------------------------
out=$("$CANARYCTL" simulate -f "$ISTIO" 2>"$TEST_TMP/err"); rc=$?
check "a plain simulation exits 0" [ $rc -eq 0 ]
check "the table has its header" grep -q '^TIME  *PHASE  *CANARY  *PRIMARY  *MIRRORED  *FAILED  *ITER  *EVENTS$' <<<"$out"
check "weights climb by stepWeight 5 to maxWeight 50" grep -q '^2m45s  *Progressing  *50  *50  *false  *0  *0  *Advance podinfo.test canary weight 50$' <<<"$out"
check "the summary names phase, duration and ticks" grep -q '^final phase: Succeeded   simulated duration: 3m30s   ticks: 15$' <<<"$out"
check "nothing on stderr for a valid canary" [ ! -s "$TEST_TMP/err" ]

# ---- JSON ------------------------------------------------------------------
"$CANARYCTL" simulate -f "$ISTIO" -o json >"$TEST_TMP/run.json" 2>"$TEST_TMP/err"; rc=$?
check "-o json exits 0" [ $rc -eq 0 ]
check_json() {
  "$PY" - "$TEST_TMP/run.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
*ticks, summary = rows
keys = ["t", "phase", "canaryWeight", "primaryWeight", "mirrored", "failedChecks", "iterations", "events"]
assert all(list(r.keys()) == keys for r in ticks), "tick keys"
assert [r["t"] for r in ticks] == [15 * i for i in range(len(ticks))], "one tick per 15s interval"
assert all(r["canaryWeight"] + r["primaryWeight"] == 100 for r in ticks)
assert all(isinstance(e, str) for r in ticks for e in r["events"])
assert ticks[0]["phase"] == "Initialized" and ticks[0]["events"][-1] == "Initialization done! podinfo.test"
assert summary == {"summary": True, "phase": "Succeeded", "duration": 210, "ticks": 15}, summary
PY
}
check "JSON lines: keys, times, weights, summary" check_json

# ---- scenarios ---------------------------------------------------------------
cat > "$TEST_TMP/latency.yaml" <<'YAML'
duration: 30m
metrics:
  request-duration: [{at: 0s, value: 120}, {at: 1m, value: 900}]
YAML
out=$("$CANARYCTL" simulate -f "$ISTIO" --scenario "$TEST_TMP/latency.yaml" 2>&1); rc=$?
check "a latency regression simulates (exit 0)" [ $rc -eq 0 ]
check "it halts with Flagger's text" grep -q 'Halt podinfo.test advancement request duration 900ms > 500ms' <<<"$out"
check "it rolls back after threshold (10) failed checks" grep -q 'Rolling back podinfo.test failed checks threshold reached 10' <<<"$out"
check "and ends Failed" grep -q '^final phase: Failed ' <<<"$out"

cat > "$TEST_TMP/gate.yaml" <<'YAML'
revisions: [0s, 10m]
webhooks:
  conformance-test: [{at: 0s, pass: false}, {at: 2m, pass: true}]
ready:
  canary: [{at: 0s, value: true}]
YAML
out=$("$CANARYCTL" simulate -f "$ISTIO" -s "$TEST_TMP/gate.yaml" -o json 2>&1); rc=$?
check "a failing pre-rollout hook then a second revision (exit 0)" [ $rc -eq 0 ]
check "the pre-rollout failure counts a failed check" grep -q '"failedChecks":1,"iterations":0,"events":\["Starting canary analysis for podinfo.test","Halt podinfo.test advancement pre-rollout check conformance-test failed' <<<"$out"
check "the second revision starts a second run" [ "$(grep -c 'New revision detected! Scaling up podinfo.test' <<<"$out")" -eq 2 ]

# the whole Flagger corpus simulates
ok=1
for f in "$M"/*-canary-*.yaml; do
  "$CANARYCTL" simulate -f "$f" -o json >"$TEST_TMP/o.json" 2>/dev/null || { echo "failed: $f"; ok=0; continue; }
  tail -n 1 "$TEST_TMP/o.json" | grep -q '"summary":true,"phase":"Succeeded"' || { echo "not Succeeded: $f"; ok=0; }
done
check "every Canary of the Flagger corpus simulates to Succeeded" [ $ok -eq 1 ]

# stdin, --name
out=$(cat "$ISTIO" | "$CANARYCTL" simulate -f - 2>&1); rc=$?
check "the canary can come from stdin" [ $rc -eq 0 ]
cat "$ISTIO" > "$TEST_TMP/two.yaml"
printf -- '---\n' >> "$TEST_TMP/two.yaml"
sed 's/name: podinfo$/name: backend/' "$ISTIO" | sed -n '/^apiVersion/,$p' >> "$TEST_TMP/two.yaml"
"$CANARYCTL" simulate -f "$TEST_TMP/two.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "two canaries without --name: exit 1" [ $rc -eq 1 ]
check "... saying how to pick one" grep -q 'has 2 Canaries; pick one with --name' "$TEST_TMP/err"
out=$("$CANARYCTL" simulate -f "$TEST_TMP/two.yaml" --name backend 2>&1); rc=$?
check "--name picks one" [ $rc -eq 0 ]
check "... the right one" grep -q 'Initialization done! backend.test' <<<"$out"

# ---- errors ------------------------------------------------------------------
"$CANARYCTL" simulate >"$TEST_TMP/out" 2>&1; rc=$?
check "no -f is a usage error (exit 2)" [ $rc -eq 2 ]
"$CANARYCTL" simulate -f "$ISTIO" -o yaml >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "an unknown output is a usage error (exit 2)" [ $rc -eq 2 ]
check "... named in the message" grep -q 'invalid value "yaml" for -o: expected table or json' "$TEST_TMP/err"
"$CANARYCTL" simulate -f /does/not/exist >"$TEST_TMP/out" 2>&1; rc=$?
check "an unreadable canary exits 2" [ $rc -eq 2 ]
"$CANARYCTL" simulate -f "$ISTIO" --scenario /does/not/exist >"$TEST_TMP/out" 2>&1; rc=$?
check "an unreadable scenario exits 2" [ $rc -eq 2 ]

cat > "$TEST_TMP/bad.yaml" <<'YAML'
metrics:
  request-succes-rate: [{at: 0s, value: 10}]
  request-duration: [{at: 5m, value: 1}, {at: 2m, value: 2}]
YAML
"$CANARYCTL" simulate -f "$ISTIO" -s "$TEST_TMP/bad.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "an invalid scenario exits 1" [ $rc -eq 1 ]
check "... printing nothing on stdout" [ ! -s "$TEST_TMP/out" ]
check "... with the position of the bad step" grep -q "bad.yaml:3:47: metrics.request-duration\[1\].at: steps must be in increasing time order" "$TEST_TMP/err"

cat > "$TEST_TMP/typo.yaml" <<'YAML'
metrics:
  request-succes-rate: [{at: 0s, value: 10}]
YAML
"$CANARYCTL" simulate -f "$ISTIO" -s "$TEST_TMP/typo.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "a metric the canary does not have exits 1" [ $rc -eq 1 ]
check "... naming it" grep -q 'typo.yaml:2:3: metrics: the canary has no metric named "request-succes-rate" in analysis.metrics' "$TEST_TMP/err"

sed 's/stepWeight: 5$/stepWeight: 500/' "$ISTIO" > "$TEST_TMP/invalid.yaml"
"$CANARYCTL" simulate -f "$TEST_TMP/invalid.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "an invalid canary exits 1" [ $rc -eq 1 ]
check "... with the validator's message" grep -q 'spec.analysis.stepWeight: must be between 0 and 100, got 500' "$TEST_TMP/err"

"$CANARYCTL" simulate -f "$M/008-metrictemplate-docs_gitbook_dev_upgrade-guide.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "a file without a Canary exits 1" [ $rc -eq 1 ]
check "... saying so" grep -q 'has no Canary' "$TEST_TMP/err"

printf 'duration: 100000h\n' > "$TEST_TMP/long.yaml"
"$CANARYCTL" simulate -f "$ISTIO" -s "$TEST_TMP/long.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "an absurd duration is refused (exit 1)" [ $rc -eq 1 ]
check "... saying why" grep -q 'duration 100000h at an interval of 15s is 24000001 ticks; at most 1000000 are simulated' "$TEST_TMP/err"

"$CANARYCTL" --help | grep -q '^  simulate ' ; rc=$?
check "canaryctl --help lists simulate" [ $rc -eq 0 ]
"$CANARYCTL" simulate --help | grep -q 'Usage: canaryctl simulate' ; rc=$?
check "simulate --help prints its usage" [ $rc -eq 0 ]

# ---- --plot FILE.svg: weights, phases and metric values as a picture --------
cat >"$TEST_TMP/plot-s.yaml" <<'YAML'
duration: 10m
metrics:
  request-success-rate: [{at: 0s, value: 99.9}, {at: 40s, value: 97.5}]
  request-duration: [{at: 0s, value: 120}]
YAML
"$CANARYCTL" simulate -f "$CANARYD_SRC/examples/demo/manifests/podinfo-canary.yaml" \
  --scenario "$TEST_TMP/plot-s.yaml" -o json --plot "$TEST_TMP/run.svg" >"$TEST_TMP/plot.json" 2>"$TEST_TMP/err"
rc=$?
check "simulate --plot exits 0 and writes the picture" bash -c "[ $rc -eq 0 ] && [ -s '$TEST_TMP/run.svg' ]"
check "the SVG is well-formed, self-contained, and holds every series of the run" $PY -c '
import json, sys, xml.etree.ElementTree as ET
svg, rows = sys.argv[1], [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ticks = [r for r in rows if not r.get("summary")]
root = ET.parse(svg).getroot()          # raises on anything not well-formed
N = "{http://www.w3.org/2000/svg}"
assert root.tag == N + "svg", root.tag
ids = {e.get("id"): e for e in root.iter() if e.get("id")}
for want in ("canary-weight", "primary-weight", "phases", "metric-request-success-rate",
             "metric-request-duration"):
    assert want in ids, (want, sorted(ids))
# nothing external: no href, no script, no foreign element
assert not any(k.endswith("href") for e in root.iter() for k in e.attrib), "an external reference"
assert not any(e.tag in (N + "script", N + "image", N + "foreignObject") for e in root.iter())
# the weights: one vertex per tick (two where it steps), canary reaching maxWeight 50
pts = [tuple(map(float, p.split(","))) for p in ids["canary-weight"].get("points").split()]
assert len(pts) >= len(ticks), (len(pts), len(ticks))
ys = sorted({y for _, y in pts})
assert len(ys) == len({t["canaryWeight"] for t in ticks}), (ys, {t["canaryWeight"] for t in ticks})
# the phases: one band per run of a phase, in order
runs = [t["phase"] for i, t in enumerate(ticks) if i == 0 or t["phase"] != ticks[i - 1]["phase"]]
bands = [r.find(N + "title").text for r in ids["phases"].iter(N + "rect") if r.get("class") == "phase"]
assert bands == runs, (bands, runs)
# the metric values: a dot per reading, the failing 97.5 among them, the limit drawn
sr = ids["metric-request-success-rate"]
vals = [float(c.find(N + "title").text) for c in sr.iter(N + "circle")]
assert vals and 97.5 in vals and 99.9 in vals, vals
assert any("min 99" in (t.text or "") for t in sr.iter(N + "text")), "no min 99 line"
assert ticks[-1]["phase"] == "Failed", ticks[-1]
print("svg: %d ticks, %d phase bands, %d success-rate readings" % (len(ticks), len(bands), len(vals)))
' "$TEST_TMP/run.svg" "$TEST_TMP/plot.json"
out=$("$CANARYCTL" simulate -f "$ISTIO" --plot "$TEST_TMP/run.png" 2>&1); rc=$?
check "--plot with another extension: exit 2 saying it is SVG" bash -c \
  '[ "$0" = 2 ] && grep -q "the picture is SVG: name it FILE.svg" <<<"$1"' "$rc" "$out"
out=$("$CANARYCTL" simulate -f "$ISTIO" --plot "$TEST_TMP/no/such/dir/x.svg" 2>&1 >/dev/null); rc=$?
check "--plot into a missing directory: exit 2 naming the file" bash -c \
  '[ "$0" = 2 ] && grep -q -- "--plot .*/no/such/dir/x.svg: cannot write: No such file or directory" <<<"$1"' "$rc" "$out"

# --- progress of a long simulation: on a terminal only -------------------
cat >"$TEST_TMP/gated.yaml" <<'EOF'
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo}
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 80}
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - {name: request-success-rate, judge: {}}
    webhooks:
    - {name: gate, type: confirm-promotion, url: http://gate.test/}
EOF
# a closed gate keeps the release going for the whole duration: seconds of
# real time at 5000 simulated requests a second
cat >"$TEST_TMP/long.yaml" <<'EOF'
duration: 8h
traffic: {rate: 5000}
webhooks:
  gate: [{at: 0s, pass: false}]
EOF
script -qec "'$CANARYCTL' simulate -f '$TEST_TMP/gated.yaml' -s '$TEST_TMP/long.yaml' >'$TEST_TMP/long.out'" \
  /dev/null >"$TEST_TMP/long.tty" 2>&1
check "a long simulation shows how far it got on a terminal, redrawn in place" \
  grep -a -q $'\r\033\\[Kcanaryctl simulate: \\[ *[0-9]*%\\] [0-9hms]* of 8h simulated' "$TEST_TMP/long.tty"
check "and its rows still go whole to stdout" grep -q "WaitingPromotion" "$TEST_TMP/long.out"
"$CANARYCTL" simulate -f "$TEST_TMP/gated.yaml" -s "$TEST_TMP/long.yaml" >/dev/null 2>"$TEST_TMP/long.err"
check "with stderr not a terminal it prints no progress" [ ! -s "$TEST_TMP/long.err" ]

# a StatefulSet target: the canary strategy on its partition (docs/statefulset.md);
# with the scenario's replicas the partition is a column and a JSON key
cat >"$TEST_TMP/sts.yaml" <<'EOF'
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: db, namespace: apps}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  service: {port: 5432}
  analysis:
    interval: 1m
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
EOF
cat >"$TEST_TMP/sts-sc.yaml" <<'EOF'
replicas: 4
revisions: [0s, 10m]
metrics:
  request-success-rate: [{at: 0s, value: 99.9}, {at: 10m, value: 90}]
EOF
out=$("$CANARYCTL" simulate -f "$TEST_TMP/sts.yaml" -s "$TEST_TMP/sts-sc.yaml" 2>&1); rc=$?
check "a StatefulSet scenario simulates (exit 0)" [ $rc -eq 0 ]
check "its table has a PARTITION column" \
  grep -q '^TIME  *PHASE  *CANARY  *PRIMARY  *PARTITION  *MIRRORED  *FAILED  *ITER  *EVENTS$' <<<"$out"
check "weight 25 of 4 replicas is partition 3, 50 is 2" bash -c '
  grep -q "^2m  *Progressing  *25  *75  *3  *false" <<<"$1" && grep -q "^3m  *Progressing  *50  *50  *2  *false" <<<"$1"' _ "$out"
check "promotion updates every ordinal (partition 0), then the hold (4)" bash -c '
  grep -q "^4m  *Promoting  *50  *50  *0  .*Updating every ordinal of statefulset db.apps (partition 0)" <<<"$1" &&
  grep -q "^6m  *Succeeded  *0  *100  *4 " <<<"$1"' _ "$out"
check "the bad release is rolled back after its first step" bash -c '
  grep -q "^12m  *Progressing  *25  *75  *3  *false  *1 " <<<"$1" && grep -q "^14m  *Failed  *0  *100  *4 .*Rolling back db.apps" <<<"$1"' _ "$out"
json=$("$CANARYCTL" simulate -f "$TEST_TMP/sts.yaml" -s "$TEST_TMP/sts-sc.yaml" -o json 2>&1)
check "JSON rows carry the partition" grep -q '"t":180,"phase":"Progressing","canaryWeight":50,"primaryWeight":50,"partition":2,' <<<"$json"
out=$("$CANARYCTL" simulate -f "$TEST_TMP/sts.yaml" 2>&1)
check "without replicas no partition column" grep -q '^TIME  *PHASE  *CANARY  *PRIMARY  *MIRRORED ' <<<"$out"
printf 'replicas: 0\n' >"$TEST_TMP/sts-bad.yaml"
out=$("$CANARYCTL" simulate -f "$TEST_TMP/sts.yaml" -s "$TEST_TMP/sts-bad.yaml" 2>&1); rc=$?
check "replicas 0 is refused with file, line, column and field" \
  bash -c '[ $1 -eq 1 ] && grep -q "sts-bad.yaml:1:11: replicas: must be a whole number from 1 to 10000" <<<"$2"' _ $rc "$out"
sed 's/kind: StatefulSet/kind: Deployment/' "$TEST_TMP/sts.yaml" >"$TEST_TMP/sts-dep.yaml"
out=$("$CANARYCTL" simulate -f "$TEST_TMP/sts-dep.yaml" -s "$TEST_TMP/sts-sc.yaml" 2>&1); rc=$?
check "replicas with a Deployment target is refused" \
  bash -c '[ $1 -eq 1 ] && grep -q "sts-sc.yaml:1:11: replicas: .*the canary targets a Deployment" <<<"$2"' _ $rc "$out"

# the picture in docs/simulate.md is what simulate draws today from its scenario
(cd "$CANARYD_SRC/docs" && "$CANARYCTL" simulate -f ../examples/demo/manifests/podinfo-canary.yaml \
  --scenario simulate-plot.yaml --plot "$TEST_TMP/docs-plot.svg" >/dev/null 2>&1)
check "docs/simulate-plot.svg is what simulate-plot.yaml gives (regenerate it: see the yaml)" \
  cmp -s "$TEST_TMP/docs-plot.svg" "$CANARYD_SRC/docs/simulate-plot.svg"

finish
