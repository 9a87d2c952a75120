#!/bin/sh
# Runs one libFuzzer target briefly from its seed corpus (CI smoke run).
# Usage: scripts/run-fuzzer.sh FUZZER CORPUS_DIR   (FUZZ_SECONDS, default 20)
set -eu
fuzzer=$1
seeds=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 \
     -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" "$work"
