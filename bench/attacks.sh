#!/bin/bash
# attacks.sh - tries every attack of issue 13 on canaryd's listeners (the
# local API, the router's admin and metrics listeners, the load tester)
# against the real binaries and prints one line per attack, ending with
# "attacks tried: N, succeeded: S"; exits non-zero when one succeeded.
# What is tried and why: bench/attacks.py and docs/security.md.
# Usage: bench/attacks.sh [BUILD_DIR] [--short]
#   --short: fewer slow-loris connections and shorter runs (the suite's test)
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/attacks.py" "$@"
