#!/bin/bash
# test_local_rollback.sh - instant rollback on the local platform
# (spec.rollbackWindow, docs/rollback.md): v2 goes through the whole
# analysis; `canaryctl rollback` then writes v1's LocalWorkload back into
# the manifest directory and the engine promotes it at once, without
# analysis, with the "Instant rollback" event; status.promotedRevisions
# keeps the history; rollback is refused with a clear message when there
# is nothing to go back to, when the LocalWorkload shares its file with
# other objects, and without spec.rollbackWindow.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"

# stepWeight 50 (fewer ticks) and the extension under spec
sed -i 's/stepWeight: 25/stepWeight: 50/; s/^  progressDeadlineSeconds: 60$/  progressDeadlineSeconds: 60\n  rollbackWindow:\n    revisions: 3/' \
  "$W/podinfo-canary.yaml"
require "the manifest has rollbackWindow" grep -q '^  rollbackWindow:' "$W/podinfo-canary.yaml"
start_canaryd
require "v1 initializes" wait_phase Initialized 60
canaryctl load "$URL" --rate 20 --concurrency 16 --duration 0 -o json >"$TEST_TMP/load.json" &
track $!

status_json() { canaryctl describe canary podinfo -o json | /usr/bin/python3 -c "
import json,sys; s=json.load(sys.stdin)['status']; print(json.dumps(s.get('promotedRevisions', [])))"; }
revisions() { status_json | /usr/bin/python3 -c "
import json,sys; print(' '.join(e['revision'] for e in json.load(sys.stdin)))"; }
serves() { curl -s "$URL" | grep -q "\"version\":\"$1\""; }
# every one of 6 requests in a row: the primary's replicas are replaced one
# by one, so right after a rollout some requests still reach the old one
serves_all() { local n; for n in 1 2 3 4 5 6; do serves "$1" || return 1; done; }

rev1=$(revisions)
check "initialization records v1's revision" [ -n "$rev1" -a "$(echo "$rev1" | wc -w)" -eq 1 ]
canaryctl rollback podinfo >"$TEST_TMP/rb0.out" 2>&1; rc=$?
check "rollback with nothing earlier is refused (exit 2)" [ $rc -eq 2 ]
check "...saying why" grep -q 'no earlier promoted revision to roll back to' "$TEST_TMP/rb0.out"

# --- v2: the whole analysis ------------------------------------------------
set_version --version v2 --latency 20 --jitter 10
require "v2 starts" wait_phase Progressing 30
require "v2 completes" [ "$(wait_done 180)" = Succeeded ]
check "v2 went through the analysis" bash -c \
  "canaryctl events podinfo --limit 200 | grep -q 'Starting canary analysis for podinfo.default'"
check "the primary serves v2" serves v2
revs=$(revisions)
check "promotedRevisions: v2's, then v1's" [ "$(echo "$revs" | awk '{print $2}')" = "$rev1" -a \
  "$(echo "$revs" | wc -w)" -eq 2 ]
rev2=$(echo "$revs" | awk '{print $1}')
status_json | /usr/bin/python3 -c '
import json,sys; e=json.load(sys.stdin); assert all(x.get("promotedAt","").endswith("Z") for x in e), e' \
  >/dev/null 2>&1
check "each entry has its promotedAt time" [ $? -eq 0 ]

# --- canaryctl rollback: v1 again, at once ----------------------------------
before=$(canaryctl events podinfo --limit 1000 | wc -l)
canaryctl rollback podinfo >"$TEST_TMP/rb1.out" 2>&1; rc=$?
check "canaryctl rollback exits 0" [ $rc -eq 0 ]
check "...naming the revision" grep -q "rolling back to revision $rev1" "$TEST_TMP/rb1.out"
check "the workload's manifest is v1's again" grep -q '"v1"' "$W/podinfo-workload.yaml"
instant() { canaryctl events podinfo --limit 1000 | tail -n +"$((before + 1))" | \
  grep -q "Instant rollback of podinfo.default to revision $rev1 promoted .* within rollbackWindow, skipping analysis"; }
i=0; until instant || [ $i -gt 150 ]; do i=$((i + 1)); sleep 0.2; done
check "the Instant rollback event is recorded" instant
check "it completes (Succeeded) in the same tick" wait_phase Succeeded 10
check "without any analysis" bash -c "! canaryctl events podinfo --limit 1000 | tail -n +$((before + 1)) | \
  grep -q 'Starting canary analysis\|Advance podinfo.default canary weight'"
check "the completion event names the revision" bash -c "canaryctl events podinfo --limit 1000 | \
  grep -q 'Promotion completed! Instant rollback to revision $rev1 of podinfo.default'"
i=0; until serves_all v1 || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.2; done
serves_all v1 || echo "  (the service answers: $(curl -s "$URL" | head -c 200))"
check "the primary serves v1 (every request)" serves_all v1
revs=$(revisions)
check "promotedRevisions: v1's first again, then v2's" [ "$revs" = "$rev1 $rev2" ]

# --- a LocalWorkload sharing its file: refused, nothing written ---------------
{ cat "$W/podinfo-canary.yaml"; echo "---"; cat "$W/podinfo-workload.yaml"; } >"$TEST_TMP/both.yaml"
rm "$W/podinfo-workload.yaml"
mv "$TEST_TMP/both.yaml" "$W/podinfo-canary.yaml"
i=0; until grep -q 'podinfo-canary.yaml applied (2 objects)' "$W/canaryd.log" || [ $i -gt 100 ]; do
  i=$((i + 1)); sleep 0.1; done
canaryctl rollback podinfo >"$TEST_TMP/rb2.out" 2>&1; rc=$?
check "a workload that shares its file is not rewritten (exit 2)" [ $rc -eq 2 ]
check "...with the manifest error" \
  grep -q 'LocalWorkload default/podinfo is already defined in podinfo-canary.yaml' "$TEST_TMP/rb2.out"
check "...and no other file was written" [ "$(ls "$W"/*.yaml | wc -l)" -eq 1 ]
check "the canary is still Succeeded on v1" bash -c "[ \"\$(canaryctl get canaries -o json | /usr/bin/python3 \
  -c 'import json,sys; print(json.load(sys.stdin)[\"items\"][0][\"status\"][\"phase\"])')\" = Succeeded ]"

# --- without the field: refused ---------------------------------------------
sed -i '/^  rollbackWindow:$/,/^    revisions: 3$/d' "$W/podinfo-canary.yaml"
norb() { canaryctl rollback podinfo 2>&1 | grep -q 'has no spec.rollbackWindow'; }
i=0; until norb || [ $i -gt 50 ]; do i=$((i + 1)); sleep 0.2; done
check "without spec.rollbackWindow rollback is refused, saying why" norb
check "...and nothing changed" bash -c "grep -q '\"v1\"' '$W/podinfo-canary.yaml' && [ \$(ls '$W'/*.yaml | wc -l) -eq 1 ]"
finish
