#!/bin/sh
# Runs one libFuzzer target briefly from its seed corpus (CI smoke run).
# Usage: scripts/run-fuzzer.sh FUZZER SEED_DIR [MORE_SEED_DIRS...]
# (FUZZ_SECONDS, default 20). Seeds are copied; nothing is written back.
set -eu
fuzzer=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seeds in "$@"; do
  [ -d "$seeds" ] || continue
  find "$seeds" -type f -size -64k | while read -r f; do
    cp "$f" "$work/$(echo "$f" | md5sum | cut -c1-16)"
  done
done
# crashes and leaks are kept next to the build for inspection
artifacts=$(pwd)/fuzz-artifacts/$(basename "$fuzzer")-
mkdir -p "$(dirname "$artifacts")"
rc=0
"$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" "$work" || rc=$?
exit $rc
