#!/bin/sh
# Runs one libFuzzer target briefly from its seed corpus (CI smoke run).
# Usage: scripts/run-fuzzer.sh FUZZER SEED_DIR [MORE_SEED_DIRS...]
# (FUZZ_SECONDS, default 10: every seed runs first, then mutations until
# then). Seeds are copied; nothing is written back.
set -eu
fuzzer=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seeds in "$@"; do
  [ -d "$seeds" ] || continue
  # one cp for many files (a cp, md5sum and cut per file took minutes for
  # the ~1,000 seeds of ../shared/conformance on a loaded 2-core machine,
  # longer than the fuzzing); same-named seeds are kept as numbered backups
  find "$seeds" -type f -size -64k -exec cp --backup=numbered -t "$work" {} +
done
# crashes and leaks are kept next to the build for inspection
artifacts=$(pwd)/fuzz-artifacts/$(basename "$fuzzer")-
mkdir -p "$(dirname "$artifacts")"
# leaks fail the run too (LeakSanitizer after every input that allocated
# more than it freed; fuzz/lsan.supp suppresses nothing of canaryd's)
case ":${ASAN_OPTIONS:-}:" in *:detect_leaks=*) ;; *) export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" ;; esac
rc=0
"$fuzzer" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=2048 -detect_leaks=1 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" "$work" || rc=$?
exit $rc
