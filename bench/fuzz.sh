#!/bin/sh
# bench/fuzz.sh [SECONDS] [TARGET...] - the fuzzing campaign (issue 24):
# every libFuzzer target (fuzz/fuzz_*.c; or the ones named) in turn for
# SECONDS each (default 3600) under ASan + UBSan with leak detection, seeded
# from fuzz/corpus/TARGET and ../shared/conformance (as `make asan` seeds
# them). New inputs that add coverage beyond those seeds are merged into
# fuzz/corpus/TARGET; a finding (crash, leak, timeout, out-of-memory, UBSan
# report) ends that target's run, is minimized and saved in
# fuzz/findings/TARGET/ with the fuzzer's report. Ends with the line
#   fuzz: N targets, S seconds each, findings: K
# and exits 1 when K > 0. The build is FUZZ_BUILD (default build-asan,
# configured as `make asan` does when missing; FUZZ_NO_BUILD=1 takes its
# targets as they are); runs under `nice`.
# Writes only fuzz/corpus/, fuzz/findings/ and a temporary directory.
set -u
seconds=${1:-3600}
[ $# -ge 1 ] && shift
cd "$(dirname "$0")/.."
src=$(pwd)
build=${FUZZ_BUILD:-build-asan}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number" >&2; exit 2 ;; esac

if [ -n "${FUZZ_NO_BUILD:-}" ]; then
  :   # the targets in $build are taken as they are
elif [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-14 \
      -DCANARYD_SANITIZE=ON -DCANARYD_FUZZ=ON >/dev/null || exit 2
fi
if [ $# -gt 0 ]; then
  targets="$*"
else
  targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
fi
# shellcheck disable=SC2086
[ -n "${FUZZ_NO_BUILD:-}" ] || nice cmake --build "$build" -j "${JOBS:-2}" --target $targets >/dev/null || {
  echo "fuzz.sh: building the fuzz targets in $build failed" >&2; exit 2; }

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$src/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# the shared seeds, copied once (files under 64 KiB, as scripts/run-fuzzer.sh)
mkdir -p "$tmp/shared"
if [ -d ../shared/conformance ]; then
  find ../shared/conformance -type f -size -64k -exec cp --backup=numbered -t "$tmp/shared" {} +
fi

n=0
findings=0
for t in $targets; do
  exe=$build/$t
  [ -x "$exe" ] || { echo "fuzz.sh: $exe missing" >&2; exit 2; }
  n=$((n + 1))
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus"
  new=$tmp/$t.new
  art=$tmp/$t.art
  rm -rf "$new" "$art"
  mkdir -p "$new" "$art"
  before=$(ls "$corpus" | wc -l)
  start=$(date +%s)
  # new inputs go to the first directory; the seeds are only read
  nice "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -detect_leaks=1 \
      -print_final_stats=1 -artifact_prefix="$art/" "$new" "$corpus" "$tmp/shared" \
      >"$tmp/$t.log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$tmp/$t.log")
  cov=$(grep -oE 'cov: [0-9]+' "$tmp/$t.log" | tail -n 1 | cut -d' ' -f2)
  # keep only what adds coverage beyond the committed corpus and the shared
  # seeds (these are not copied: they stay in ../shared)
  base=$tmp/$t.base
  rm -rf "$base"
  mkdir -p "$base"
  cp -l "$tmp"/shared/* "$base"/ 2>/dev/null || cp "$tmp"/shared/* "$base"/ 2>/dev/null
  for f in "$corpus"/*; do
    [ -f "$f" ] && cp "$f" "$base/corpus-$(basename "$f")"
  done
  ls "$base" | sort >"$tmp/$t.before"
  if nice "$exe" -merge=1 -rss_limit_mb=2048 -timeout=10 "$base" "$new" >"$tmp/$t.merge" 2>&1; then
    ls "$base" | sort | comm -13 "$tmp/$t.before" - | while read -r f; do
      cp "$base/$f" "$corpus/$f"
    done
  else
    echo "fuzz.sh: $t: merging new inputs failed; $tmp/$t.merge:" >&2
    tail -n 5 "$tmp/$t.merge" >&2
  fi
  rm -rf "$base"
  added=$(( $(ls "$corpus" | wc -l) - before ))
  found=0
  for a in "$art"/*; do
    [ -f "$a" ] || continue
    found=$((found + 1))
    kind=$(basename "$a" | cut -d- -f1)
    sum=$(sha1sum "$a" | cut -c1-12)
    dir=fuzz/findings/$t
    mkdir -p "$dir"
    cp "$a" "$dir/$kind-$sum"
    cp "$tmp/$t.log" "$dir/$kind-$sum.log"
    case "$kind" in
      crash|leak|oom)
        nice "$exe" -minimize_crash=1 -max_total_time=120 -rss_limit_mb=2048 -timeout=10 \
            -exact_artifact_path="$dir/$kind-$sum.min" "$a" >"$dir/$kind-$sum.minimize.log" 2>&1
        ;;
    esac
    echo "fuzz: $t: $kind finding saved as $dir/$kind-$sum" >&2
  done
  if [ "$found" -eq 0 ] && [ "$rc" -ne 0 ]; then
    # stopped without an artifact (killed, or the fuzzer itself failed)
    found=1
    mkdir -p "fuzz/findings/$t"
    cp "$tmp/$t.log" "fuzz/findings/$t/exit-$rc.log"
    echo "fuzz: $t: exited $rc without an input; log in fuzz/findings/$t/exit-$rc.log" >&2
  fi
  findings=$((findings + found))
  echo "fuzz: $t: ${took}s, ${execs:-0} runs, cov ${cov:-?}, corpus +$added, findings $found"
done
echo "fuzz: $n targets, $seconds seconds each, findings: $findings"
[ "$findings" -eq 0 ]
