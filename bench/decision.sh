#!/bin/sh
# bench/decision.sh [BUILD_DIR] [RELEASES] - decision quality of canaryd's
# statistical judge next to Flagger's fixed thresholds (seed configuration:
# interval 1m, threshold 5, stepWeight 10, maxWeight 50, success rate >= 99%,
# p99 <= 500ms) on the same simulated releases: healthy with 0.1% and 0.8%
# error baselines, +2pp errors, +30% p99 latency, at 100, 10, 2 and 0.2 req/s.
# Prints a table, then the line
#   judge: caught_2rps=.. minutes_2rps=.. false_rollbacks=.. flagger_caught_2rps=..
#          flagger_minutes_2rps=.. flagger_false_rollbacks=..
# (docs/benchmarks.md explains the figures). Extra arguments go to the
# program (bench/decision.c): --metrics both, --rates 10,2, --judge-errors
# 'minSamples: 2000', ...
set -eu
build=${1:-build}
releases=${2:-1000}
[ $# -ge 2 ] && shift 2 || shift $#
cd "$(dirname "$0")/.."
exe=$build/decision
if [ ! -x "$exe" ]; then
  echo "decision.sh: $exe is not built (cmake --build $build)" >&2
  exit 2
fi
exec "$exe" -n "$releases" "$@"
