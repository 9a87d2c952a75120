#!/bin/bash
# test_router_bench.sh - bench/router.sh works: it starts the real HAProxy
# (Debian's) and canaryd router side by side behind the same backends, runs
# wrk through each, and prints its tables and the ratio line. A short run
# (one round of 3 s, 200 idle connections): no figure is judged here (the
# figures are docs/benchmarks.md's); what is checked is that every target
# served every request without an error, that the report is complete, and
# that nothing it started is left running. 3 s, not 1: with a load average
# of 20 on 2 cores, 1 s of wrk through HAProxy completed no request (0 req/s,
# and bench/router.sh divided by it).
. "$(dirname "$0")/../lib.sh"

out=$(cd "$CANARYD_SRC" && TMPDIR="$TEST_TMP" DURATION=3s ROUNDS=1 IDLE_CONNS=200 \
      bench/router.sh "$CANARYD_BUILD" 2>&1); rc=$?
echo "$out" | tail -n 25
check "bench/router.sh exits 0" [ $rc -eq 0 ]
check "it names the HAProxy version it measured" grep -Eq '^# canaryd router vs HAProxy [0-9]' <<<"$out"
for t in direct haproxy router; do
  check "$t: served requests without errors" \
    grep -Eq "^  round 1 $t +[1-9][0-9]* req/s .* ok\$" <<<"$out"
done
check "memory of both proxies with idle connections" \
  grep -Eq '^  with +200 idle keep-alive connections +[1-9][0-9]* +[1-9][0-9]*$' <<<"$out"
check "it ends with the ratio line" \
  grep -Eq '^router/haproxy throughput ratio: [0-9]+\.[0-9]{2} p99 ratio: [0-9]+\.[0-9]{2}$' \
  <<<"$(tail -n 1 <<<"$out")"
# pgrep never lists itself; the patterns are the commands bench/router.sh runs
nothing_left() {
  ! pgrep -f "haproxy -f $TEST_TMP/" >/dev/null &&
    ! pgrep -f "^$CANARYD_BUILD/tiny_backend " >/dev/null &&
    ! pgrep -f "canaryd router .*$TEST_TMP/" >/dev/null
}
check "no HAProxy, router or backend left running" nothing_left
finish
