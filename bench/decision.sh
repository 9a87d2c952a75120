#!/bin/sh
# bench/decision.sh [BUILD_DIR] [RELEASES] - decision quality of canaryd's
# statistical judge next to Flagger's fixed thresholds (seed configuration:
# interval 1m, threshold 5, stepWeight 10, maxWeight 50, success rate >= 99%,
# p99 <= 500ms) and next to the floor (an SPRT that knows the baseline), on
# the same simulated releases: healthy with 0.1% and 0.8% error baselines,
# +2pp errors, +30% p99 latency, and baselines that move on both sides (a
# step from 0.1% to 0.8% errors at the release, a daily cycle of traffic and
# errors, +30% latency at the release), at 100, 10, 2 and 0.2 req/s. The
# judge runs twice: over the same windows only (judge.history: 0s) and with
# the primary's last hour (the default).
# Prints a table, then the line
#   judge: caught_2rps=.. minutes_2rps=.. promote_minutes_2rps=.. false_rollbacks=..
#          floor_minutes_2rps=.. floor_promote_minutes_2rps=.. flagger_caught_2rps=..
#          flagger_minutes_2rps=.. flagger_false_rollbacks=..
# (docs/benchmarks.md explains the figures). Extra arguments go to the
# program (bench/decision.c): --metrics both, --rates 10,2, --cases step,
# --judge-errors 'minSamples: 2000', ...; `--svg FILE.svg` (anywhere among
# them) also draws the table as a chart into FILE.svg
# (bench/decision_chart.py: a bar per algorithm, case and rate).
set -eu
build=${1:-build}
releases=${2:-1000}
[ $# -ge 2 ] && shift 2 || shift $#
svg=""
n=$#
while [ "$n" -gt 0 ]; do   # take --svg FILE out of the program's arguments
  a=$1; shift; n=$((n - 1))
  if [ "$a" = --svg ]; then
    [ "$n" -gt 0 ] || { echo "decision.sh: --svg needs a FILE.svg" >&2; exit 2; }
    svg=$1; shift; n=$((n - 1))
    continue
  fi
  set -- "$@" "$a"
done
case "$svg" in
  "") ;;
  /*) ;;
  *) svg=$PWD/$svg ;;   # relative to where it was run (before the cd below)
esac
cd "$(dirname "$0")/.."
exe=$build/decision
if [ ! -x "$exe" ]; then
  echo "decision.sh: $exe is not built (cmake --build $build)" >&2
  exit 2
fi
[ -n "$svg" ] || exec "$exe" -n "$releases" "$@"
case "$svg" in
  *.svg) ;;
  *) echo "decision.sh: --svg $svg: the chart is SVG: name it FILE.svg" >&2; exit 2 ;;
esac
table=$(mktemp)
trap 'rm -f "$table" "$svg.tmp"' EXIT
"$exe" -n "$releases" "$@" >"$table"   # its exit status counts (set -e)
cat "$table"
/usr/bin/python3 bench/decision_chart.py <"$table" >"$svg.tmp"
mv "$svg.tmp" "$svg"
