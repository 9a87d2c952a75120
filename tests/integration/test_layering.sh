#!/bin/bash
# test_layering.sh - src/ keeps docs/design.md's layering table: every
# #include between folders is one the table allows and the table has no
# cycle (scripts/layering.py); and the check can fail: an include the table
# does not allow, a folder missing from it and a cycle are each refused,
# naming the file and line.
. "$(dirname "$0")/../lib.sh"
L=$CANARYD_SRC/scripts/layering.py
DESIGN=$CANARYD_SRC/docs/design.md

check "every #include of src/ is allowed by docs/design.md" /usr/bin/python3 "$L"

# a copy of src/ with one include the table forbids (util may include nothing)
cp -r "$CANARYD_SRC/src" "$TEST_TMP/src"
echo '#include "../ports.h"' >> "$TEST_TMP/src/util/buf.h"
/usr/bin/python3 "$L" "$TEST_TMP/src" "$DESIGN" >"$TEST_TMP/out1" 2>&1; rc=$?
check "util including ports.h is refused (exit 1)" [ $rc -eq 1 ]
check "... naming the file, the line and the rule" \
  grep -qE 'src/util/buf.h:[0-9]+: util includes ports.h' "$TEST_TMP/out1"

# a folder the table does not know
rm -rf "$TEST_TMP/src"; cp -r "$CANARYD_SRC/src" "$TEST_TMP/src"
mkdir "$TEST_TMP/src/newthing"; printf '#include "util/buf.h"\n' > "$TEST_TMP/src/newthing/a.c"
/usr/bin/python3 "$L" "$TEST_TMP/src" "$DESIGN" >"$TEST_TMP/out2" 2>&1; rc=$?
check "a folder missing from the table is refused" \
  bash -c "[ $rc -eq 1 ] && grep -q 'newthing is not in' '$TEST_TMP/out2'"

# a cycle in the table
sed 's/^| `util` | — |/| `util` | `net` |/' "$DESIGN" > "$TEST_TMP/design.md"
/usr/bin/python3 "$L" "$CANARYD_SRC/src" "$TEST_TMP/design.md" >"$TEST_TMP/out3" 2>&1; rc=$?
check "a cycle in the table is refused" \
  bash -c "[ $rc -eq 1 ] && grep -qE 'has a cycle: .*(util.*net|net.*util)' '$TEST_TMP/out3'"
finish
