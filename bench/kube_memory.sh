#!/bin/sh
# Memory of canaryd kube with 1,000 Canaries on the fake cluster, against
# canaryd on an empty cluster and the fake API server (bench/kube_memory.py).
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/kube_memory.py "$build" "${CANARYD_BENCH_CANARIES:-1000}"
