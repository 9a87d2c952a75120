#!/bin/sh
# Runs every registered test of one build directory with ctest and ends with
# the slowest tests' times, then one summary line "N passed, N failed" (the
# line CI reads; always the last).
# Usage: scripts/run-tests.sh BUILD_DIR [ctest args...]
# Tests run CTEST_JOBS at a time, by default twice the cores: most
# integration tests spend their time waiting on analysis intervals, not on
# a core (the few that keep cores busy say so with the PROCESSORS property,
# CMakeLists.txt). The tests labelled "e2e" (Flagger's own e2e scripts:
# long, mostly asleep) run in a second ctest beside the others,
# ${E2E_JOBS:-10} at a time, unless ctest args are given (then one ctest runs
# what they select); their output follows the others'. docs/testing.md.
set -u
build=${1:?usage: run-tests.sh BUILD_DIR}
shift
log=$(mktemp); elog=$(mktemp)
trap 'rm -f "$log" "$elog" "$log.times"' EXIT
jobs=${CTEST_JOBS:-$((2 * $(nproc 2>/dev/null || echo 1)))}
split=""
if [ $# -eq 0 ] && ctest --test-dir "$build" -N -L e2e 2>/dev/null | grep -q 'Total Tests: [1-9]'; then
  split=1
fi
if [ -n "$split" ]; then
  ctest --test-dir "$build" --output-on-failure --timeout 900 -j "${E2E_JOBS:-10}" -L e2e \
    >"$elog" 2>&1 &
  epid=$!
  ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" -LE e2e 2>&1 | tee "$log"
  wait "$epid"
  echo
  echo "--- Flagger's e2e scripts (run beside the tests above) ---"
  cat "$elog"
  cat "$elog" >>"$log"
else
  ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" "$@" 2>&1 | tee "$log"
fi
# one "N% tests passed, F tests failed out of T" line per ctest run
lines=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log")
if [ -z "$lines" ] || { [ -n "$split" ] && [ "$(echo "$lines" | wc -l)" -lt 2 ]; }; then
  echo "0 passed, 1 failed"
  exit 1
fi
# each test's time is on its ctest line ("1/80 Test #12: name ...  Passed
# 3.21 sec"): the slowest ones, and their sum against the wall time, so a
# test that comes to dominate the CI run shows up here
sed -nE 's/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: ([^ ]+) .* ([0-9]+\.[0-9]+) sec *$/\2 \1/p' "$log" |
  sort -rn > "$log.times"
if [ -s "$log.times" ]; then
  echo
  echo "Slowest tests (seconds; $jobs at a time${split:+, and the e2e scripts beside them})":
  head -n "${SLOWEST:-10}" "$log.times" | awk '{printf "  %8.1f  %s\n", $1, $2}'
  awk '{s += $1} END {printf "  %8.1f  all %d tests added up\n", s, NR}' "$log.times"
  wall=$(sed -nE 's/^Total Test time \(real\) = +([0-9.]+) sec.*/\1/p' "$log" | sort -rn | head -n 1)
  [ -n "$wall" ] && awk -v w="$wall" 'BEGIN {printf "  %8.1f  wall time\n", w}'
fi
rm -f "$log.times"
total=0 failed=0
for n in $(echo "$lines" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1:\2/'); do
  failed=$((failed + ${n%%:*})); total=$((total + ${n##*:}))
done
passed=$((total - failed))
if [ "$total" -eq 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
