#!/bin/sh
# Runs every benchmark (make bench). Benchmarks print their own ratios
# against peers measured in the same run; see docs/benchmarks.md.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
for b in bench/*.sh; do
  [ "$b" = bench/run-all.sh ] && continue
  echo "== $b"
  sh "$b" "$build" || echo "($b failed)"
done
# bench/bench_*.c are benchmark programs; other bench/*.c are helpers
for src in bench/bench_*.c; do
  exe=$build/$(basename "$src" .c)
  [ -x "$exe" ] && { echo "== $exe"; "$exe"; }
done
