#!/bin/bash
# test_decision_bench.sh - bench/decision.sh works and says what the issue
# asks for: a table for every case and rate (with Flagger, the judge over
# the same windows, the judge with the primary's history and the floor of
# a test that knows the baseline), the moving-baseline cases, and the
# final summary line. A small run (40 releases per row, two rates): the
# figures are noisy, so only claims that hold by a wide margin are checked
# (docs/benchmarks.md has the full run). bench/decision_bound.py prints the
# lower bound the docs quote against the target (7.19 and 7.39 minutes).
. "$(dirname "$0")/../lib.sh"

out=$(cd "$CANARYD_SRC" && bench/decision.sh "$CANARYD_BUILD" 40 --rates 10,2 --svg "$TEST_TMP/d.svg" 2>&1); rc=$?
check "bench/decision.sh exits 0" [ $rc -eq 0 ]
for c in "healthy, 0.1% errors" "healthy, 0.8% errors" "+2pp errors (0.1% -> 2.1%)" \
         "+30% latency (p99 400 -> 520ms)" "both 0.1% -> 0.8% at the release" \
         "daily cycle x2 (rate, errors)" "both +30% latency at the release"; do
  for r in 10 2; do
    check "a row for $c at $r req/s" grep -Fq "$c" <<<"$(grep -E "^.{35} *$r (false|caught) +\|" <<<"$out")"
  done
done
check "the table names the four algorithms" grep -q "flagger .*judge, same windows .*judge with history .*floor (known baseline)" <<<"$out"
last=$(tail -n 1 <<<"$out")
n='[0-9.]+'
check "it ends with the judge line" grep -Eq "^judge: caught_2rps=$n minutes_2rps=$n promote_minutes_2rps=$n false_rollbacks=$n floor_minutes_2rps=$n floor_promote_minutes_2rps=$n flagger_caught_2rps=$n flagger_minutes_2rps=$n flagger_false_rollbacks=$n\$" <<<"$last"
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<" $last"; }
check "the judge catches +2pp at 2 req/s (>= 90% of 40)" awk -v v="$(field caught_2rps)" 'BEGIN{exit !(v >= 90)}'
check "Flagger misses a good part of them (< 90%)" awk -v v="$(field flagger_caught_2rps)" 'BEGIN{exit !(v < 90)}'
check "the judge's false rollbacks stay low (<= 5%), moving baselines included" awk -v v="$(field false_rollbacks)" 'BEGIN{exit !(v <= 5)}'
check "Flagger rolls back healthy 0.8% canaries at 10 req/s (> 5%)" awk -v v="$(field flagger_false_rollbacks)" 'BEGIN{exit !(v > 5)}'
check "the floor is faster than the judge at 2 req/s" awk -v f="$(field floor_minutes_2rps)" -v j="$(field minutes_2rps)" 'BEGIN{exit !(f < j)}'
check "the history makes healthy promotions faster than the same-window judge" \
  awk -v h="$(field promote_minutes_2rps)" -v s="$(sed -nE 's/^judge, same windows +.*promote_minutes_2rps=([0-9.]+).*/\1/p' <<<"$out")" 'BEGIN{exit !(h < s)}'
# --svg FILE.svg: the same table as a chart, one bar per algorithm and row
check "--svg draws the table: well-formed SVG, a row per table row, bars carrying its shares" \
  /usr/bin/python3 -c '
import re, sys, xml.etree.ElementTree as ET
N = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == N + "svg", root.tag
rows = [r for r in root.iter(N + "g") if r.get("class") == "row"]
table = [l for l in sys.argv[2].splitlines() if re.match(r"^.{35} *[0-9.]+ (false|caught) +\|", l)]
assert len(rows) == len(table) == 18, (len(rows), len(table))   # 9 cases x 2 rates
for line in table:   # each table row: its four shares on the bars of its chart row
    case, rate = line[:35].strip(), line[35:].split()[0]
    want = [float(x) for x in re.findall(r"([0-9.]+)%\s+(?:[0-9.]+|nan)\s+[0-9.]+%", line)]
    row = [r for r in rows if (r.get("data-case"), r.get("data-rate")) == (case, rate)]
    assert len(row) == 1, (case, rate)
    have = [float(b.get("data-share")) for b in row[0].iter(N + "rect")]
    assert have == want, (case, rate, have, want)
bars = [b for b in rows[0].iter(N + "rect")]
assert [b.get("data-algorithm") for b in bars] == ["flagger", "judge, same windows",
    "judge with history", "floor (known baseline)"], bars
got = {(r.get("data-case"), r.get("data-rate")) for r in rows}
assert ("healthy, 0.1% errors", "10") in got, got
' "$TEST_TMP/d.svg" "$out"
out=$(cd "$CANARYD_SRC" && bench/decision.sh "$CANARYD_BUILD" 2 --rates 10 --svg "$TEST_TMP/d.png" 2>&1); rc=$?
check "--svg with another extension: exit 2" bash -c '[ "$0" = 2 ] && grep -q "name it FILE.svg" <<<"$1"' "$rc" "$out"
# the lower bound docs/judge.md and benchmarks.md quote against the target
bound=$(/usr/bin/python3 "$CANARYD_SRC/bench/decision_bound.py" 2>&1)
check "decision_bound.py: no test beats 7.19 minutes in the 0.8% step, 7.39 against every step" \
  grep -q "^bound: step_0.8=7.19 worst_step=7.39 worst_step_rate=0.90%$" <<<"$bound"
# the chart in docs/benchmarks.md is drawn from the table printed there
docs_chart() {
  echo "decision quality: 1000 releases per case and rate"
  awk '/^Measured on this machine \(1000 releases per row/ {m=1} m && /^```$/ {n++; next} m && n==1 {print}' \
    "$CANARYD_SRC/docs/benchmarks.md"
}
docs_chart | /usr/bin/python3 "$CANARYD_SRC/bench/decision_chart.py" >"$TEST_TMP/docs-chart.svg"
check "docs/decision-chart.svg is the chart of docs/benchmarks.md's table" \
  cmp -s "$TEST_TMP/docs-chart.svg" "$CANARYD_SRC/docs/decision-chart.svg"

finish
