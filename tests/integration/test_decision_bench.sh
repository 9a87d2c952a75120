#!/bin/bash
# test_decision_bench.sh - bench/decision.sh works and says what the issue
# asks for: a table for every case and rate, and the final summary line.
# A small run (40 releases per row, two rates): the figures are noisy, so
# only claims that hold by a wide margin are checked (docs/benchmarks.md has
# the full run).
. "$(dirname "$0")/../lib.sh"

out=$(cd "$CANARYD_SRC" && bench/decision.sh "$CANARYD_BUILD" 40 --rates 10,2 2>&1); rc=$?
check "bench/decision.sh exits 0" [ $rc -eq 0 ]
for c in "healthy, 0.1% errors" "healthy, 0.8% errors" "+2pp errors (0.1% -> 2.1%)" \
         "+30% latency (p99 400 -> 520ms)"; do
  for r in 10 2; do
    check "a row for $c at $r req/s" grep -Fq "$c" <<<"$(grep -E "^.{33} +$r \|" <<<"$out")"
  done
done
last=$(tail -n 1 <<<"$out")
check "it ends with the judge line" grep -Eq '^judge: caught_2rps=[0-9.]+ minutes_2rps=[0-9.]+ false_rollbacks=[0-9.]+ flagger_caught_2rps=[0-9.]+ flagger_minutes_2rps=[0-9.]+ flagger_false_rollbacks=[0-9.]+$' <<<"$last"
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<" $last"; }
check "the judge catches +2pp at 2 req/s (>= 90% of 40)" awk -v v="$(field caught_2rps)" 'BEGIN{exit !(v >= 90)}'
check "Flagger misses a good part of them (< 90%)" awk -v v="$(field flagger_caught_2rps)" 'BEGIN{exit !(v < 90)}'
check "the judge's false rollbacks stay low (<= 5%)" awk -v v="$(field false_rollbacks)" 'BEGIN{exit !(v <= 5)}'
check "Flagger rolls back healthy 0.8% canaries at 10 req/s (> 5%)" awk -v v="$(field flagger_false_rollbacks)" 'BEGIN{exit !(v > 5)}'
finish
