#!/bin/sh
# canaryd kube with 10,000 Canaries (and their Deployments) on the fake
# cluster: time to initialize every one, RSS, CPU per canary and per tick,
# the API server's share of the wall time, against the same binary on an
# empty cluster (bench/kube_memory.py). Takes 10-20 minutes.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
CANARYD_BENCH_DEADLINE=${CANARYD_BENCH_DEADLINE:-1200} \
    exec /usr/bin/python3 bench/kube_memory.py "$build" "${CANARYD_BENCH_CANARIES:-10000}"
