#!/bin/sh
# Runs every registered test of one build directory with ctest and ends with
# one summary line "N passed, N failed" (the line CI reads).
# Usage: scripts/run-tests.sh BUILD_DIR [ctest args...]
set -u
build=${1:?usage: run-tests.sh BUILD_DIR}
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$build" --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "$@" 2>&1 | tee "$log"
line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
if [ -z "$line" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed.*/\1/')
passed=$((total - failed))
if [ "$total" -eq 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
