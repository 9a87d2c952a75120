#!/bin/bash
# test_local_demo.sh - `make demo`'s scenario as a test: v1 runs twice (fixed
# thresholds and the statistical judge), v2 is promoted by both, v3 (5 %
# errors, +300 ms) is rolled back by both, the judge sooner, and the summary
# says so.
. "$(dirname "$0")/../lib.sh"
"$CANARYD_SRC/examples/demo/run.sh" "$CANARYD_BUILD" >"$TEST_TMP/demo.out" 2>&1; rc=$?
tail -10 "$TEST_TMP/demo.out"
row() { grep -E "^$1 +$2 " "$TEST_TMP/demo.out"; }
secs() { row "$1" "$2" | awk '{print $(NF-4)}' | tr -d s; }
check "the demo exits 0" [ $rc -eq 0 ]
check "v2 is promoted at 50% by the thresholds" bash -c "grep -Eq '^v2 +thresholds +promoted +[0-9]+s +50% +0 ' '$TEST_TMP/demo.out'"
check "v2 is promoted by the judge" bash -c "grep -Eq '^v2 +judge +promoted ' '$TEST_TMP/demo.out'"
check "v3 is rolled back by the thresholds" bash -c "grep -Eq '^v3 +thresholds +rolled back ' '$TEST_TMP/demo.out'"
check "v3 is rolled back by the judge" bash -c "grep -Eq '^v3 +judge +rolled back ' '$TEST_TMP/demo.out'"
check "the judge rolls v3 back sooner than the thresholds" \
  [ "$(secs v3 judge)" -lt "$(secs v3 thresholds)" ]
check "clients saw no errors during v2" bash -c "grep -E '^v2 ' '$TEST_TMP/demo.out' | awk '{exit \$NF != 0}'"
check "the services answer v2 at the end" [ "$(grep -c 'now serves: .*"version":"v2"' "$TEST_TMP/demo.out")" -eq 2 ]
check "nothing the demo started is left running" bash -c \
  "! grep -l -a 'CANARYD_OWNER=.*canaryd-demo' /proc/[0-9]*/environ 2>/dev/null | grep -q ."
finish
