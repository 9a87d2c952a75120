#!/bin/bash
# test_simulate_judge.sh - the statistical judge as users meet it through
# canaryctl: validating a judged canary (and its mistakes), simulating it
# against traffic scenarios (rollback at once, a held promotion, the same
# rollout twice from one seed), the explanation table and the JSON rows.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

cat > "$TEST_TMP/canary.yaml" <<'YAML'
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
      judge:
        allowedIncrease: 0.5pp
    - name: request-duration
      thresholdRange: {max: 500}
      judge:
        allowedIncrease: 10%
        minSamples: 300
YAML

# ---- validate ----------------------------------------------------------------
out=$("$CANARYCTL" validate -f "$TEST_TMP/canary.yaml" -o json 2>"$TEST_TMP/err"); rc=$?
check "a judged canary validates" [ $rc -eq 0 ]
check "no warning for judged metrics" [ ! -s "$TEST_TMP/err" ]
check_spec() {
  "$PY" -c '
import json, sys
o = json.loads(sys.stdin.read())
o = o[0] if isinstance(o, list) else o
ms = o["spec"]["analysis"]["metrics"]
assert ms[0]["judge"] == {"test": "errors", "direction": "increase", "allowedIncrease": "0.5pp",
    "allowedDecrease": "0.5pp", "detectIncrease": "2pp", "detectDecrease": "2pp",
    "critical": True, "noData": "wait", "minSamples": 100, "alpha": 0.005,
    "history": "1h"}, ms[0]["judge"]
assert ms[1]["judge"]["test"] == "latency" and ms[1]["judge"]["minSamples"] == 300
assert ms[0]["interval"] == "1m"
' <<<"$out"
}
check "-o json shows the judge with its defaults" check_spec

sed 's/allowedIncrease: 10%/allowedIncrease: 2pp/' "$TEST_TMP/canary.yaml" > "$TEST_TMP/bad.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/bad.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "a latency allowance in percentage points is refused (exit 1)" [ $rc -eq 1 ]
check "...with its line, column and path" grep -q "bad.yaml:22:26: spec.analysis.metrics\[1\].judge.allowedIncrease: \"2pp\": a latency effect is relative" "$TEST_TMP/err"

sed 's/        minSamples: 300/        minSamples: 300\n        direction: sideways/' "$TEST_TMP/canary.yaml" > "$TEST_TMP/bad2.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/bad2.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "an unknown direction is refused by the schema" [ $rc -eq 1 ]
check "...naming the allowed values" grep -q "bad2.yaml:24:20: spec.analysis.metrics\[1\].judge.direction: unsupported value \"sideways\": must be one of \"increase\", \"decrease\", \"either\"" "$TEST_TMP/err"

# ---- simulate: a bad release --------------------------------------------------
cat > "$TEST_TMP/bad-release.yaml" <<'YAML'
traffic:
  seed: 7
  rate: 10
  primary: {errorRate: 0.1, latency: {median: 100, p99: 400}}
  canary: {errorRate: 2.1}
YAML
out=$("$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/bad-release.yaml" 2>"$TEST_TMP/err"); rc=$?
check "simulating a +2pp release exits 0" [ $rc -eq 0 ]
check "the judge rolls it back at once" grep -q "Rolling back podinfo.test the statistical judge found request-success-rate worse than the primary" <<<"$out"
check "...without counting failed checks to the threshold" bash -c '! grep -q "failed checks threshold reached" <<<"$1"' _ "$out"
check "the final phase is Failed" grep -q "^final phase: Failed" <<<"$out"
check "the explanation table follows" grep -q "^  METRIC  *TEST  *VERDICT  *CANARY  *PRIMARY  *ESTIMATE  *INTERVAL  *STATISTIC  *P-VALUE$" <<<"$out"
check "...with the failing metric, its verdict and e-value" grep -Eq "^  request-success-rate +errors +Fail +[0-9]+/[0-9]+ \([0-9.]+%\) .* e-value=" <<<"$out"
check "...and its reason" grep -q "^  request-success-rate: worse than the primary: canary .* more than the allowed +0.5pp; always-valid p .* <= alpha 0.005 (Fail after" <<<"$out"

# ---- simulate: a healthy release at low traffic ------------------------------------
cat > "$TEST_TMP/quiet.yaml" <<'YAML'
traffic: {seed: 1, rate: 2}
YAML
out=$("$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/quiet.yaml"); rc=$?
check "a healthy release at 2 req/s exits 0" [ $rc -eq 0 ]
check "traffic still steps up to maxWeight" grep -q "^6m  *Progressing  *50  *50  *false  *0  *0  *Advance podinfo.test canary weight 50$" <<<"$out"
check "then the judge holds promotion, no failed check" grep -q "^7m  *Progressing  *50  *50  *false  *0  *0  *Halt podinfo.test promotion the statistical judge is waiting for request-success-rate not yet conclusive: canary .*, could still be +[0-9.]*pp (+2pp must be ruled out to promote)" <<<"$out"
check "and it is promoted in the end" grep -q "^final phase: Succeeded" <<<"$out"
check "both metrics pass" bash -c '[ "$(grep -Ec "^  request-(success-rate|duration) +(errors|latency) +Pass " <<<"$1")" = 2 ]' _ "$out"

# ---- JSON rows and determinism ---------------------------------------------------------
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/bad-release.yaml" -o json >"$TEST_TMP/a.json"
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/bad-release.yaml" -o json >"$TEST_TMP/b.json"
check "one seed, one rollout: identical output twice" cmp -s "$TEST_TMP/a.json" "$TEST_TMP/b.json"
check_rows() {
  "$PY" - "$TEST_TMP/a.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
judged = [r for r in rows if "judge" in r]
assert judged, "rows carry status.judge once the judge has run"
last = judged[-1]["judge"]
names = [j["metric"] for j in last]
assert names == ["request-success-rate", "request-duration"] or names == ["request-success-rate"], names
j = last[0]
for k in ["metric", "test", "verdict", "reason", "windows", "canary", "primary", "estimate",
          "lower", "upper", "unit", "statistic", "statisticName", "pValue", "alpha"]:
    assert k in j, k
assert "state" not in j, "the test's state stays out of the rows"
assert j["verdict"] == "Fail" and j["pValue"] <= 0.005 and j["unit"] == "pp"
assert j["lower"] <= j["estimate"] <= j["upper"]
assert j["canary"]["errors"] > j["primary"]["errors"] * j["canary"]["samples"] / j["primary"]["samples"]
PY
}
check "JSON rows carry the judge's verdicts" check_rows

# ---- the primary's history (traffic.history) ---------------------------------------------
# without it the primary is a new service: the judge says so and compares
# over the same windows only
out=$("$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/quiet.yaml")
check "no traffic.history: the baseline is Missing, and why" grep -q "^  request-success-rate baseline (Missing): no data of the primary in the 1h before the release (a new service?): the scenario gives the primary no history (traffic.history): compared over the same windows only$" <<<"$out"
# an hour before the simulation: the judge learns the baseline and uses it
cat > "$TEST_TMP/history.yaml" <<'YAML'
traffic:
  seed: 1
  rate: 2
  history: 1h
YAML
out=$("$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/history.yaml"); rc=$?
check "a scenario with an hour of history exits 0" [ $rc -eq 0 ]
check "the baseline comes from the history" grep -Eq "^  request-success-rate baseline \(Used\): primary [0-9.]+% \([0-9]+/7[0-9]{3}\) over the 1h before the release: the canary is tested against [0-9.]+% and the primary watched for a move$" <<<"$out"
check "...and the latency history is watched" grep -q "^  request-duration baseline (Used): primary p50 .* over the 1h before the release: the primary is watched for a move" <<<"$out"
check "the healthy release is promoted sooner than without history" bash -c '
  w=$(grep -c "Halt podinfo.test promotion" <<<"$1"); wo=$(grep -c "Halt podinfo.test promotion" <<<"$2")
  [ "$w" -lt "$wo" ]' _ "$out" "$("$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/quiet.yaml")"
# the primary's error rate steps up on both sides when the release starts:
# the judge sees the primary move, falls back, and does not blame the canary
cat > "$TEST_TMP/step.yaml" <<'YAML'
traffic:
  seed: 1
  rate: 2
  history: 1h
  primary:
  - {at: -1h, errorRate: 0.1}
  - {at: 2m, errorRate: 0.8}
YAML
out=$("$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/step.yaml")
check "a step on both sides at the release: promoted, not rolled back" grep -q "^final phase: Succeeded" <<<"$out"
check "...the judge fell back to the same windows, and says when and why" grep -Eq "^  request-success-rate baseline \(FellBack\): the primary's error rate moved up during the release: .* compared over the same windows only from window [0-9]+$" <<<"$out"
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/step.yaml" -o json >"$TEST_TMP/step.json"
check "JSON rows carry the history" "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
h = [r for r in rows if "judge" in r][-1]["judge"][0]["history"]
assert h["status"] == "FellBack" and h["window"] == "1h" and h["samples"] > 6000, h
assert h["fellBackAtWindow"] >= 1 and 0 < h["rate"] < 0.005, h
' "$TEST_TMP/step.json"

# ---- bad traffic scenarios ----------------------------------------------------------------
printf 'traffic:\n  rate: 2\n  history: 25h\n' > "$TEST_TMP/s.yaml"
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/s.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "a history over a day is refused (exit 1)" [ $rc -eq 1 ]
check "...with its position" grep -q "s.yaml:3:12: traffic.history: longer than 24h" "$TEST_TMP/err"
printf 'traffic:\n  history: 30m\n  primary:\n  - {at: -1h, errorRate: 1}\n' > "$TEST_TMP/s.yaml"
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/s.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "a step before the history starts is refused" [ $rc -eq 1 ]
check "...with its position" grep -q 's.yaml:4:10: traffic.primary\[0\].at: "-1h" is before traffic.history starts' "$TEST_TMP/err"
printf 'traffic:\n  primary:\n  - {at: -1m, errorRate: 1}\n' > "$TEST_TMP/s.yaml"
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/s.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "a step before 0 without traffic.history is refused, with a hint" bash -c \
  "[ $rc -eq 1 ] && grep -q 's.yaml:3:10: traffic.primary\[0\].at: \"-1m\" is negative: times count from the start of the simulation (traffic steps may start before it within traffic.history)' '$TEST_TMP/err'"

printf 'traffic:\n  rate: 2\n  canary: {errorRate: 2, latency: {median: 300, p99: 100}}\n' > "$TEST_TMP/s.yaml"
"$CANARYCTL" simulate -f "$TEST_TMP/canary.yaml" -s "$TEST_TMP/s.yaml" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check "an impossible latency profile is refused (exit 1)" [ $rc -eq 1 ]
check "...with its position" grep -q "s.yaml:3:35: traffic.canary.latency: p99 (100) is below the median (300)" "$TEST_TMP/err"
check "...and nothing is simulated" [ ! -s "$TEST_TMP/out" ]

finish
