#!/bin/bash
# test_validate_cli.sh - `canaryctl validate` as users run it: exit codes,
# files, directories, stdin, -o json, --strict, and what it prints.
. "$(dirname "$0")/../lib.sh"

M=$CANARYD_SHARED/conformance/flagger/manifests
R=$CANARYD_SHARED/conformance/flagger/rejected-by-flagger

out=$("$CANARYCTL" validate -f "$M" 2>"$TEST_TMP/err"); rc=$?
check "the Flagger corpus validates (exit 0)" [ $rc -eq 0 ]
check "91 objects reported valid" grep -q '^91 valid, 0 errors' <<<"$out"

"$CANARYCTL" validate -f "$R/058-alertprovider-docs_gitbook_usage_alerting.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "address + secretRef is rejected (exit 1)" [ $rc -eq 1 ]
check "the error names file, line, column and path" \
  grep -q '058-alertprovider-docs_gitbook_usage_alerting.yaml:8:3: spec: must set only one of address or secretRef' "$TEST_TMP/err"

"$CANARYCTL" validate -f "$R" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "every rejected example fails (exit 1)" [ $rc -eq 1 ]
check "all errors are printed, not only the first" [ "$(grep -c ': ' "$TEST_TMP/err")" -ge 5 ]

"$CANARYCTL" validate -f /does/not/exist >/dev/null 2>&1; rc=$?
check "an unreadable path exits 2" [ $rc -eq 2 ]
"$CANARYCTL" validate >/dev/null 2>&1; rc=$?
check "no -f is a usage error (exit 2)" [ $rc -eq 2 ]
"$CANARYCTL" validate -o yaml -f "$M" >/dev/null 2>&1; rc=$?
check "an unknown output format is a usage error (exit 2)" [ $rc -eq 2 ]

cat > "$TEST_TMP/c.yaml" <<'YAML'
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 120
YAML
"$CANARYCTL" validate -f - <"$TEST_TMP/c.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "stdin is read with -f - (exit 1 for a bad weight)" [ $rc -eq 1 ]
check "stdin errors are positioned" grep -qx '<stdin>:11:17: spec.analysis.stepWeight: must be between 0 and 100, got 120' "$TEST_TMP/err"

sed -i 's/stepWeight: 120/stepWeight: 20\n    bogus: 1/' "$TEST_TMP/c.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/c.yaml" >/dev/null 2>&1; rc=$?
check "unknown fields are only warnings (exit 0)" [ $rc -eq 0 ]
"$CANARYCTL" validate --strict -f "$TEST_TMP/c.yaml" >/dev/null 2>&1; rc=$?
check "--strict turns warnings into failure (exit 1)" [ $rc -eq 1 ]

"$CANARYCTL" validate -o json -f "$TEST_TMP/c.yaml" >"$TEST_TMP/out.json" 2>/dev/null
check "-o json prints the object with defaults applied" /usr/bin/python3 -c '
import json,sys
o=json.load(open(sys.argv[1]))
s=o["spec"]
assert o["metadata"]["namespace"]=="default"
assert s["progressDeadlineSeconds"]==600 and s["service"]["portName"]=="http"
assert s["service"]["targetPort"]==9898 and s["analysis"]["maxWeight"]==100
assert s["analysis"]["stepWeight"]==20 and s["analysis"]["interval"]=="1m"
' "$TEST_TMP/out.json"

"$CANARYCTL" validate -o json -f "$M" >"$TEST_TMP/all.json" 2>/dev/null
check "-o json over a directory prints a List of 91 items" /usr/bin/python3 -c '
import json,sys
o=json.load(open(sys.argv[1])); assert o["kind"]=="List" and len(o["items"])==91' "$TEST_TMP/all.json"

# a directory with a bad file and a good one: the good one is still reported
mkdir -p "$TEST_TMP/d/sub"
cp "$M/002-canary-README.yaml" "$TEST_TMP/d/sub/"
printf 'apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: x}\nspec: {}\n' > "$TEST_TMP/d/bad.yml"
echo 'not: [valid' > "$TEST_TMP/d/ignored.txt"
out=$("$CANARYCTL" validate -f "$TEST_TMP/d" 2>"$TEST_TMP/err"); rc=$?
check "a directory is searched recursively (*.yml, *.yaml, not .txt)" grep -q '^1 valid, 3 errors' <<<"$out"
check "missing required fields are all named" [ "$(grep -c 'required field is missing' "$TEST_TMP/err")" -eq 3 ]
# symbolic links in the tree: a link to a directory is not followed (as
# kubectl apply -R), so a link back to the tree neither reports its files
# again (one link: every error 33 times) nor walks 2^32 paths (two links:
# validate never ended); a link to a file is read
ln -s . "$TEST_TMP/d/again"
ln -s .. "$TEST_TMP/d/sub/up"
ln -s sub/002-canary-README.yaml "$TEST_TMP/d/link.yaml"
out=$(timeout 60 "$CANARYCTL" validate -f "$TEST_TMP/d" 2>"$TEST_TMP/err"); rc=$?
check "links back into the tree end, each file once (exit 1)" \
  bash -c '[ "$0" = 1 ] && grep -q "^2 valid, 3 errors" <<<"$1"' "$rc" "$out"
check "... saying which link was not followed" \
  grep -q 'd/again: warning: a symbolic link to a directory, not followed' "$TEST_TMP/err"
# a thresholdRange whose min is a string: one error, not also a warning
# that there is no thresholdRange (which the file plainly has)
{ sed 's/    bogus: 1//' "$TEST_TMP/c.yaml"
  printf '    metrics:\n      - name: request-success-rate\n        thresholdRange: {min: "99"}\n'
} >"$TEST_TMP/quoted.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/quoted.yaml" >/dev/null 2>"$TEST_TMP/err"
check "a quoted thresholdRange.min is an error naming the field" \
  grep -q 'thresholdRange.min: must be a number, got "99"' "$TEST_TMP/err"
check "... and no warning that there is no thresholdRange" \
  bash -c '! grep -q "no thresholdRange" "$0"' "$TEST_TMP/err"
# names as Kubernetes takes them: every dot-separated part starts and ends
# with a letter or digit ("a..b" passed validate and kubectl refuses it);
# a namespace that YAML reads as a number is a type error, not "42 is not a
# valid namespace" (42 is one, quoted)
for bad in 'name: a..b, namespace: ok|metadata.name: "a..b" is not a valid name' \
           'name: a-.b, namespace: ok|metadata.name: "a-.b" is not a valid name' \
           'name: a, namespace: 42|metadata.namespace: must be a string (quote it)' \
           'name: a, namespace: [x]|metadata.namespace: must be a string'; do
  printf 'apiVersion: canaryd.dev/v1alpha1\nkind: LocalWorkload\nmetadata: {%s}\nspec: {command: app}\n' \
    "${bad%%|*}" >"$TEST_TMP/meta.yaml"
  "$CANARYCTL" validate -f "$TEST_TMP/meta.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
  check "metadata {${bad%%|*}}: exit 1, $(cut -d: -f1 <<<"${bad#*|}") named" \
    bash -c '[ "$0" = 1 ] && grep -qF -- "$1" "$2"' "$rc" "${bad#*|}" "$TEST_TMP/err"
done
printf 'apiVersion: canaryd.dev/v1alpha1\nkind: LocalWorkload\nmetadata: {name: a.b-c.d, namespace: "42"}\nspec: {command: app}\n' \
  >"$TEST_TMP/meta.yaml"
check "a.b-c.d in namespace \"42\" is valid" "$CANARYCTL" validate -f "$TEST_TMP/meta.yaml"
# a misspelt kind in flagger.app or canaryd.dev is an error with the kind
# meant (it was a warning, "skipped", and validate exited 0); another
# group's kind (a Deployment beside the Canary) is still only skipped
printf 'apiVersion: flagger.app/v1beta1\nkind: Canery\nmetadata: {name: a}\n' >"$TEST_TMP/kind.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/kind.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "kind: Canery in flagger.app/v1beta1 fails (exit 1), naming Canary" bash -c \
  '[ "$0" = 1 ] && grep -qF "kind.yaml:2:7: kind: flagger.app has no kind Canery; did you mean Canary?" "$1"' \
  "$rc" "$TEST_TMP/err"
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n' >"$TEST_TMP/kind.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/kind.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "an apps/v1 Deployment is skipped with a warning (exit 0)" bash -c \
  '[ "$0" = 0 ] && grep -q "warning: kind: apps/v1 Deployment is not a canaryd kind; skipped" "$1"' \
  "$rc" "$TEST_TMP/err"
# nothing to validate (an empty file, a directory of other files): a
# warning saying so, not a silent "0 valid, 0 errors" (exit 0; --strict 1)
: >"$TEST_TMP/empty.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/empty.yaml" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "an empty file: exit 0 with a warning that it holds nothing" bash -c \
  '[ "$0" = 0 ] && grep -q "empty.yaml: warning: no Canary, MetricTemplate, AlertProvider or LocalWorkload in it" "$1"' \
  "$rc" "$TEST_TMP/err"
"$CANARYCTL" validate --strict -f "$TEST_TMP/empty.yaml" >/dev/null 2>&1; rc=$?
check "... exit 1 with --strict" [ "$rc" = 1 ]
finish
