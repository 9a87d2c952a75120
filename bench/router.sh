#!/usr/bin/env bash
# bench/router.sh - canaryd router against HAProxy 2.6 and a direct
# connection, measured side by side in one run:
#   - the same tiny C backend (bench/tiny_backend.c), two instances
#     ("primary" and "canary");
#   - direct: wrk against the primary;
#   - HAProxy (Debian's), one thread, one backend with the two servers
#     weighted 90/10;
#   - canaryd router, one worker, one route: primary, canary, weight 10;
#   - wrk with the same settings for each (64 keep-alive connections);
#     ROUNDS rounds with the order rotated, medians reported.
# Then memory: RSS of each proxy idle, and with IDLE_CONNS idle keep-alive
# client connections (the cost per connection).
# Usage: bench/router.sh [BUILD_DIR]
#   env: DURATION (10s), CONNS (64), THREADS (1), ROUNDS (3), IDLE_CONNS (5000)
# Also the CPU time each proxy spends per request (less sensitive to a busy
# host than throughput). Ends with the line
# "router/haproxy throughput ratio: X.XX p99 ratio: Y.YY".
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
IDLE_CONNS=${IDLE_CONNS:-5000}

for tool in wrk haproxy python3; do
  command -v "$tool" >/dev/null || { echo "bench/router.sh: $tool is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
[ -x "$BUILD/tiny_backend" ] && [ -x "$BUILD/canaryd" ] || {
  echo "bench/router.sh: build first (cmake --build $BUILD)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/canaryd-bench.XXXXXX")
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2; tail -5 "$TMP"/*.log >&2; exit 1
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

P_PORT=$(port); C_PORT=$(port); H_PORT=$(port); R_PORT=$(port); A_PORT=$(port)
"$BUILD/tiny_backend" "$P_PORT" primary & pids="$pids $!"
"$BUILD/tiny_backend" "$C_PORT" canary & pids="$pids $!"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MAXCONN=$(( ($(ulimit -n) - 200) / 2 ))
cat > "$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $MAXCONN
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:$H_PORT
    default_backend be
backend be
    balance roundrobin
    server primary 127.0.0.1:$P_PORT weight 90
    server canary  127.0.0.1:$C_PORT weight 10
EOF
haproxy -f "$TMP/haproxy.cfg" -db > "$TMP/haproxy.log" 2>&1 & HAP=$!; pids="$pids $HAP"

cat > "$TMP/router.json" <<EOF
{"routes": [{"name": "bench", "weight": 10,
  "primary": {"backends": ["127.0.0.1:$P_PORT"]},
  "canary": {"backends": ["127.0.0.1:$C_PORT"]}}]}
EOF
"$BUILD/canaryd" router --workers 1 --listen "127.0.0.1:$R_PORT" --metrics "127.0.0.1:$A_PORT" \
  --config "$TMP/router.json" --log-level warn > "$TMP/router.log" 2>&1 & ROUTER=$!
pids="$pids $ROUTER"
for p in $P_PORT $C_PORT $H_PORT $R_PORT $A_PORT; do wait_port "$p"; done
sleep 0.5
ROUTER_IDLE0=$(rss_kib "$ROUTER"); HAP_IDLE0=$(rss_kib "$HAP")

echo "# canaryd router vs HAProxy $(haproxy -v | head -1 | awk '{print $3}') vs direct"
echo "# $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"\
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS rounds, order rotated; medians"

# wrk output -> "rps p50_ms p99_ms"
run_wrk() {
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$1/" > "$TMP/wrk.out" 2>&1
  /usr/bin/python3 - "$TMP/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errs = re.search(r"Socket errors: (.*)", t)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%.0f %.3f %.3f %s" % (rps, ms("50%"), ms("99%"),
      "errors" if errs or non2xx else "ok"))
PY
}

# CPU time (user + system, clock ticks) of a process
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

declare -A RPS P50 P99 CPU
targets=(direct haproxy router)
declare -A PORTS=([direct]=$P_PORT [haproxy]=$H_PORT [router]=$R_PORT)
declare -A PIDS=([direct]="" [haproxy]=$HAP [router]=$ROUTER)
for t in "${targets[@]}"; do RPS[$t]=""; P50[$t]=""; P99[$t]=""; CPU[$t]=""; done
secs=${DURATION%s}
for round in $(seq "$ROUNDS"); do
  order=("${targets[@]:$(( (round - 1) % 3 ))}" "${targets[@]:0:$(( (round - 1) % 3 ))}")
  for t in "${order[@]}"; do
    pid=${PIDS[$t]}
    c0=$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
    read -r rps p50 p99 status < <(run_wrk "${PORTS[$t]}")
    c1=$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
    # proxy CPU microseconds per request (the backends' work is the same)
    cpu=$(/usr/bin/python3 -c "print('%.2f' % (($c1 - $c0) * $TICK_US / ($rps * $secs)))")
    printf '  round %d %-8s %9s req/s  p50 %7s ms  p99 %7s ms  cpu %6s us/req  %s\n' \
      "$round" "$t" "$rps" "$p50" "$p99" "$([ -n "$pid" ] && echo "$cpu" || echo -)" "$status"
    RPS[$t]="${RPS[$t]} $rps"; P50[$t]="${P50[$t]} $p50"; P99[$t]="${P99[$t]} $p99"; CPU[$t]="${CPU[$t]} $cpu"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
printf '%-8s %12s %10s %10s %14s\n' target "req/s" "p50 ms" "p99 ms" "cpu us/req"
for t in "${targets[@]}"; do
  declare "M_RPS_$t=$(echo "${RPS[$t]}" | median)"
  declare "M_P50_$t=$(echo "${P50[$t]}" | median)"
  declare "M_P99_$t=$(echo "${P99[$t]}" | median)"
  declare "M_CPU_$t=$(echo "${CPU[$t]}" | median)"
  v_rps="M_RPS_$t"; v_p50="M_P50_$t"; v_p99="M_P99_$t"; v_cpu="M_CPU_$t"
  printf '%-8s %12.0f %10.3f %10.3f %14s\n' "$t" "${!v_rps}" "${!v_p50}" "${!v_p99}" \
    "$([ "$t" = direct ] && echo - || printf '%.2f' "${!v_cpu}")"
done

# ---- memory: idle, and with idle keep-alive connections ----
sleep 6     # idle backend connections close after --pool-idle-timeout (4s)
ROUTER_IDLE1=$(rss_kib "$ROUTER"); HAP_IDLE1=$(rss_kib "$HAP")
# Opens IDLE_CONNS keep-alive connections to port, one request each, and
# holds them; sets MB/MA to the proxy's RSS before and with them.
measure_conns() {  # pid port
  local ready="$TMP/ready.$2"
  MB=$(rss_kib "$1")
  /usr/bin/python3 - "$2" "$IDLE_CONNS" "$ready" <<'PY' &
import resource, socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    conns.append(s)
for s in conns:
    s.recv(4096)
open(ready, "w").close()
time.sleep(600)
PY
  local holder=$!
  for _ in $(seq 600); do [ -f "$ready" ] && break; sleep 0.1; done
  sleep 8     # settled: caches of the connection burst released
  MA=$(rss_kib "$1")
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
}
measure_conns "$ROUTER" "$R_PORT"; RB=$MB; RA=$MA
sleep 1
measure_conns "$HAP" "$H_PORT"; HB=$MB; HA=$MA
echo
echo "memory (VmRSS, KiB)       router   haproxy"
printf '  idle at start       %8d  %8d\n' "$ROUTER_IDLE0" "$HAP_IDLE0"
printf '  idle after the load %8d  %8d\n' "$ROUTER_IDLE1" "$HAP_IDLE1"
printf '  with %5d idle keep-alive connections %8d  %8d\n' "$IDLE_CONNS" "$RA" "$HA"
calc() { /usr/bin/python3 -c "print($1)"; }
printf '  per idle connection (bytes)            %8.0f  %8.0f\n' \
  "$(calc "($RA - $RB) * 1024 / $IDLE_CONNS")" "$(calc "($HA - $HB) * 1024 / $IDLE_CONNS")"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'router/haproxy CPU per request ratio: %.2f\n' "$(calc "$M_CPU_router / $M_CPU_haproxy")"
printf 'router/haproxy throughput ratio: %.2f p99 ratio: %.2f\n' \
  "$(calc "$M_RPS_router / $M_RPS_haproxy")" "$(calc "$M_P99_router / $M_P99_haproxy")"
