#!/bin/bash
# test_attacks.sh - bench/attacks.sh --short against the binaries of this
# build: every attack of issue 13 on the local API, the router's admin and
# metrics listeners and the load tester (CSRF-style posts, foreign Origin
# and Host, socket modes under umask 000, missing or wrong tokens, commands
# off the allowlist, -namespace-regexp bypasses, oversized and hostile
# bodies, a thousand slow-loris connections) is refused, and nothing it
# started is left running.
. "$(dirname "$0")/../lib.sh"

out=$(cd "$CANARYD_SRC" && TMPDIR="$TEST_TMP" bench/attacks.sh "$CANARYD_BUILD" --short 2>&1); rc=$?
echo "$out" | grep -v '^refused' | tail -n 20
check "bench/attacks.sh exits 0" [ $rc -eq 0 ]
check "it tried at least 60 attacks and none succeeded" \
  bash -c '[[ "$(tail -n 1 <<<"$0")" =~ ^attacks\ tried:\ ([0-9]+),\ succeeded:\ 0$ ]] && [ "${BASH_REMATCH[1]}" -ge 60 ]' "$out"
check "no attack line says it succeeded" bash -c '! grep -q "^ATTACK SUCCEEDED" <<<"$0"' "$out"
# pgrep never lists itself; the paths are the ones attacks.py starts under TMPDIR
check "nothing it started is left running" \
  bash -c '! pgrep -f "$0/canaryd-attacks-" >/dev/null' "$TEST_TMP"
finish
