#!/bin/bash
# test_docs_testing.sh - docs/testing.md says how to run one test, and it is
# true: its catalogue lists every test of the tree (scripts/test-catalogue.py
# --check), every command of its "One test" section runs, and the cmocka
# case selection it documents selects exactly the cases it names.
. "$(dirname "$0")/../lib.sh"
DOC=$CANARYD_SRC/docs/testing.md

check "the catalogue lists every unit, integration and fuzz test" \
  /usr/bin/python3 "$CANARYD_SRC/scripts/test-catalogue.py" --check "$DOC"

# the catalogue's check must itself be able to fail: a page with a test
# missing from it is refused
sed '/it.test_docs_testing/d' "$DOC" > "$TEST_TMP/stale.md"
check "... and refuses a page that misses one" \
  bash -c "! /usr/bin/python3 '$CANARYD_SRC/scripts/test-catalogue.py' --check '$TEST_TMP/stale.md' 2>/dev/null"

# the page's own examples, as written (build/ is this build here)
run_doc() { (cd "$CANARYD_SRC" && env "$@" 2>&1) | grep -E '^\[ RUN' | sed 's/.*\] //'; }
all=$(run_doc "$CANARYD_BUILD/test_util_redact" | wc -l)
one=$(run_doc CMOCKA_TEST_FILTER=test_url_rules "$CANARYD_BUILD/test_util_redact")
some=$(run_doc CMOCKA_TEST_FILTER='test_t*' CMOCKA_SKIP_FILTER=test_text "$CANARYD_BUILD/test_util_redact")
check "the unit test program runs every case ($all)" [ "$all" -ge 4 ]
check "CMOCKA_TEST_FILTER runs the one case named" [ "$one" = test_url_rules ]
check "a glob with CMOCKA_SKIP_FILTER runs what matches and is not skipped" [ "$some" = test_truncation ]
check "the page shows those exact commands" bash -c \
  "grep -qF 'CMOCKA_TEST_FILTER=test_url_rules build/test_util_redact' '$DOC' &&
   grep -qF \"CMOCKA_TEST_FILTER='test_t*' CMOCKA_SKIP_FILTER=test_text build/test_util_redact\" '$DOC'"
# a filter that matches nothing runs nothing (and says so), it does not run all
none=$(run_doc CMOCKA_TEST_FILTER=no_such_case "$CANARYD_BUILD/test_util_redact" | wc -l)
check "a filter that matches no case runs none" [ "$none" -eq 0 ]

# the documented ctest lines name tests that exist
for t in unit.test_router_route unit.test_util_redact; do
  check "ctest knows $t (named by the page)" bash -c \
    "ctest --test-dir '$CANARYD_BUILD' -N -R '^$t\$' | grep -q 'Total Tests: 1'"
done
check "the page's by-hand integration run works" bash -c \
  "cd '$CANARYD_SRC' && CANARYD_BUILD='$CANARYD_BUILD' bash tests/integration/test_validate_cli.sh >'$TEST_TMP/by-hand.log' 2>&1 &&
   tail -n 1 '$TEST_TMP/by-hand.log' | grep -qE '^[0-9]+ passed, 0 failed$'"
finish
