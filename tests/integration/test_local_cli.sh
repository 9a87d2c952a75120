#!/bin/bash
# test_local_cli.sh - canaryctl against a running `canaryd local`, as a
# newcomer uses it (issue 12):
#   - get canaries -o json prints the Kubernetes List shape (a v1 List of Canary
#     objects with metadata, spec and status), secrets redacted;
#   - abort on a canary with no release in progress is refused and arms
#     nothing: describe shows no gate, resume says there was nothing to
#     release, and the next healthy release is promoted;
#   - watch shows weights that add up to 100 and match the traffic in
#     WaitingPromotion;
#   - watch --until-done exits 0 on Succeeded and, started right after an
#     edit, waits for the new revision's outcome (1 on Failed) instead of
#     reporting the previous run's;
#   - metrics -f DIR reads a local canary's builtin metrics from the local
#     router (no Prometheus), under a table header;
#   - get canaries NAME as the Kubernetes CLI takes it; a misspelt or misplaced name
#     is named in the error with the closest one (exit 1); describe without
#     the kind says what was meant.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

start_canaryd
require "v1 initializes" wait_phase Initialized 60

# --- get canaries -o json: a List of Canary objects ------------------------
canaryctl get canaries -o json >"$TEST_TMP/get.json"
check "get -o json is a v1 List of flagger.app/v1beta1 Canaries with metadata, spec and status" \
  /usr/bin/python3 -c '
import json,sys
l = json.load(open(sys.argv[1]))
assert l["apiVersion"] == "v1" and l["kind"] == "List", l
c = l["items"][0]
assert c["apiVersion"] == "flagger.app/v1beta1" and c["kind"] == "Canary", c
assert c["metadata"]["name"] == "podinfo" and c["metadata"]["namespace"] == "default", c
assert c["spec"]["targetRef"]["kind"] == "LocalWorkload", c
assert c["spec"]["analysis"]["stepWeight"] == 25, c
assert c["status"]["phase"] == "Initialized" and c["status"]["canaryWeight"] == 0, c
' "$TEST_TMP/get.json"
check "get -n other -o json is an empty List" bash -c \
  "canaryctl get canaries -n other -o json | /usr/bin/python3 -c '
import json,sys; l=json.load(sys.stdin); assert l[\"kind\"] == \"List\" and l[\"items\"] == []'"

# --- names as the Kubernetes CLI takes them; a misspelt one is named, closest offered
check "get canaries NAME lists only that one" bash -c \
  "[ \"\$(canaryctl get canaries podinfo | awk 'NR > 1 {print \$1}')\" = podinfo ]"
check "get canary NAME -o json is the Canary object itself" bash -c \
  "canaryctl get canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; c=json.load(sys.stdin); assert c[\"kind\"] == \"Canary\" and c[\"metadata\"][\"name\"] == \"podinfo\", c'"
out=$(canaryctl get canaries podinf 2>&1); rc=$?
check "get canaries with a misspelt NAME: exit 1, named, closest offered" bash -c \
  '[ "$0" = 1 ] && grep -qx "canaryctl: canary \"podinf\" not found in namespace default; did you mean podinfo?" <<<"$1"' "$rc" "$out"
out=$(canaryctl describe canary podnifo 2>&1); rc=$?
check "describe canary with a misspelt NAME: exit 1, the same words" bash -c \
  '[ "$0" = 1 ] && grep -q "canary \"podnifo\" not found in namespace default; did you mean podinfo?" <<<"$1"' "$rc" "$out"
out=$(canaryctl promote podinfo -n prod 2>&1); rc=$?
check "promote in the wrong namespace: exit 1, naming the one that has it" bash -c \
  '[ "$0" = 1 ] && grep -q "canary \"podinfo\" not found in namespace prod (namespace default has one: -n default)" <<<"$1"' "$rc" "$out"
out=$(canaryctl describe podinfo 2>&1); rc=$?
check "describe without the kind: exit 2, saying the command meant" bash -c \
  '[ "$0" = 2 ] && grep -q "did you mean canaryctl describe canary podinfo?" <<<"$1"' "$rc" "$out"

# --- the table sizes its columns to the content ----------------------------
check "get's table: columns three spaces apart, sized to the longest cell" bash -c \
  "canaryctl get canaries | head -1 | grep -Eq '^NAME      STATUS        WEIGHT   FAILEDCHECKS   LASTTRANSITIONTIME$'"

# --- abort with no release in progress is refused ---------------------------
canaryctl abort podinfo >"$TEST_TMP/abort.out" 2>&1; rc=$?
check "abort on an Initialized canary fails (exit 2)" [ $rc -eq 2 ]
check "abort says why: nothing to roll back" \
  grep -q 'podinfo.default is Initialized: no release is being analysed, so there is nothing to roll back' "$TEST_TMP/abort.out"
check "describe shows no gate armed" bash -c "! canaryctl describe canary podinfo | grep -q 'Gates:'"
check "describe -o json: rollbackRequested false" bash -c \
  "canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; assert json.load(sys.stdin)[\"gates\"][\"rollbackRequested\"] is False'"
check "resume says there was nothing to release" bash -c \
  "canaryctl resume podinfo | grep -q 'nothing to release: no hold or pending rollback'"

# --- a held release: weights in WaitingPromotion ----------------------------
canaryctl load "$URL" --rate 40 --concurrency 16 --duration 0 >/dev/null 2>&1 &
track $!
canaryctl hold podinfo >/dev/null
check "describe shows the promotion hold" bash -c \
  "canaryctl describe canary podinfo | grep -q 'Gates: *promotion held'"
set_version --version v2
canaryctl watch podinfo --until-done >"$TEST_TMP/watch-v2.out" 2>&1 &
WPID=$!
track $WPID
require "v2 waits for promotion (WaitingPromotion)" wait_phase WaitingPromotion 120
# a second of watch lines, and at least one in the phase (a fixed 1 s alone
# was short for a loaded host)
sleep 1
i=0; until grep -q WaitingPromotion "$TEST_TMP/watch-v2.out" || [ $i -gt 150 ]; do
  i=$((i + 1)); sleep 0.2; done
weights=$(canaryctl describe canary podinfo -o json | /usr/bin/python3 -c '
import json,sys; c=json.load(sys.stdin); print(c["primaryWeight"])')
line=$(grep WaitingPromotion "$TEST_TMP/watch-v2.out" | tail -1)
echo "# watch: $line"
check "watch in WaitingPromotion: canary and primary add up to 100" bash -c "
  echo '$line' | /usr/bin/python3 -c '
import re,sys
m = re.search(r\"canary +([0-9]+)% primary +([0-9]+)%\", sys.stdin.read())
assert m and int(m.group(1)) + int(m.group(2)) == 100, m'"
check "watch in WaitingPromotion shows the router's split (canary 50%)" bash -c \
  "echo '$line' | grep -Eq 'canary +50% primary +50%'"
check "the API's primaryWeight is 50 too" [ "$weights" = 50 ]
v2=0
for _ in $(seq 40); do curl -s "$URL" | grep -q '"version":"v2"' && v2=$((v2 + 1)); done
echo "# $v2 of 40 requests reached v2"
check "about half the requests reach the canary (10..30 of 40)" [ $v2 -ge 10 -a $v2 -le 30 ]

# --- metrics -f DIR on a local canary: the router, with a header ------------
canaryctl metrics -f "$W" --render-only >"$TEST_TMP/render.out" 2>&1
check "metrics --render-only names the local router, not Prometheus" bash -c \
  "grep -q '^# podinfo.default request-success-rate (router unix:$W/.canaryd/router.sock)' '$TEST_TMP/render.out' && ! grep -qi 'prometheus\|envoy_' '$TEST_TMP/render.out'"
canaryctl metrics -f "$W" >"$TEST_TMP/metrics.out" 2>&1; rc=$?
cat "$TEST_TMP/metrics.out"
check "metrics runs against the router and passes (exit 0)" [ $rc -eq 0 ]
check "the metrics table has a header" \
  grep -Eq '^CANARY +METRIC +PROVIDER +VALUE +STATUS +MESSAGE$' "$TEST_TMP/metrics.out"
check "request-success-rate is measured by the router" \
  grep -Eq '^podinfo.default +request-success-rate +router +100 +pass' "$TEST_TMP/metrics.out"

# --- promote: watch --until-done exits 0 on Succeeded -----------------------
canaryctl promote podinfo >/dev/null
check "v2 is promoted" wait_phase Succeeded 90
i=0; while kill -0 $WPID 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
wait $WPID; rc=$?
check "watch --until-done exits 0 after Succeeded" [ $rc -eq 0 ]

# --- right after an edit, --until-done waits for the new revision -----------
check "abort after Succeeded is refused too" bash -c "! canaryctl abort podinfo 2>/dev/null"
set_version --version v3 --error-rate 0.5
timeout 180 canaryctl watch podinfo --until-done >"$TEST_TMP/watch-v3.out" 2>&1; rc=$?
tail -3 "$TEST_TMP/watch-v3.out"
check "watch --until-done right after an edit reports v3's outcome: Failed (exit 1)" [ $rc -eq 1 ]
check "and v3 did fail" [ "$(phase)" = Failed ]

# --- the refused aborts armed nothing: a healthy release is promoted --------
set_version --version v4
timeout 180 canaryctl watch podinfo --until-done >"$TEST_TMP/watch-v4.out" 2>&1; rc=$?
check "the next healthy release (v4) is promoted (watch exits 0)" [ $rc -eq 0 ]
check "no manual rollback happened" bash -c \
  "! canaryctl events podinfo --limit 300 | grep -q 'manual webhook invoked'"
check "the service answers v4" bash -c "curl -s '$URL' | grep -q '\"version\":\"v4\"'"
finish
