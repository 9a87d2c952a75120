#!/bin/bash
# test_local_demo.sh - `make demo`'s scenario as a test: v1 runs, v2 is
# promoted, v3 (5 % errors, +300 ms) is rolled back, and the summary says so.
. "$(dirname "$0")/../lib.sh"
"$CANARYD_SRC/examples/demo/run.sh" "$CANARYD_BUILD" >"$TEST_TMP/demo.out" 2>&1; rc=$?
tail -8 "$TEST_TMP/demo.out"
check "the demo exits 0" [ $rc -eq 0 ]
check "v2 is promoted at 50%" grep -Eq '^v2 +promoted +[0-9]+s +50% +0 ' "$TEST_TMP/demo.out"
check "v3 is rolled back with failed checks" grep -Eq '^v3 +rolled back +[0-9]+s +[0-9]+% +[1-9]' "$TEST_TMP/demo.out"
check "clients saw no errors during v2" grep -Eq '^v2 .* 0$' "$TEST_TMP/demo.out"
check "the service answers v2 at the end" grep -q '"version":"v2"' "$TEST_TMP/demo.out"
check "nothing the demo started is left running" bash -c \
  "! grep -l -a 'CANARYD_OWNER=.*canaryd-demo' /proc/[0-9]*/environ 2>/dev/null | grep -q ."
finish
