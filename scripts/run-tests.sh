#!/bin/sh
# Runs every registered test of one build directory with ctest and ends with
# the slowest tests' times, then one summary line "N passed, N failed" (the
# line CI reads; always the last).
# Usage: scripts/run-tests.sh BUILD_DIR [ctest args...]
set -u
build=${1:?usage: run-tests.sh BUILD_DIR}
shift
log=$(mktemp)
trap 'rm -f "$log" "$log.times"' EXIT
ctest --test-dir "$build" --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "$@" 2>&1 | tee "$log"
line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
if [ -z "$line" ]; then
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
  echo "Slowest tests (seconds; ${CTEST_JOBS:-2} at a time):"
  head -n "${SLOWEST:-10}" "$log.times" | awk '{printf "  %8.1f  %s\n", $1, $2}'
  awk '{s += $1} END {printf "  %8.1f  all %d tests added up\n", s, NR}' "$log.times"
  wall=$(sed -nE 's/^Total Test time \(real\) = +([0-9.]+) sec.*/\1/p' "$log" | tail -n 1)
  [ -n "$wall" ] && awk -v w="$wall" 'BEGIN {printf "  %8.1f  wall time\n", w}'
fi
rm -f "$log.times"
total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed.*/\1/')
passed=$((total - failed))
if [ "$total" -eq 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
