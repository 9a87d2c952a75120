#!/bin/bash
# loadgen_vs_wrk.sh - benchmark: the load tester's native load generator
# against wrk (Debian package), both closed-loop at the same concurrency
# for the same time, hitting the same local nginx, measured in one run.
# Prints both request rates and their ratio; asserts nothing.
# Usage: bench/loadgen_vs_wrk.sh [BUILD_DIR] [SECONDS] [CONCURRENCY]
set -u
build=${1:-build}
secs=${2:-5}
conc=${3:-16}
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; sleep 0.2; rm -rf "$tmp"' EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ngx=$(port)
mkdir -p "$tmp/logs" "$tmp/html" "$tmp/t"
echo hello > "$tmp/html/index.html"
cat > "$tmp/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $tmp/t; proxy_temp_path $tmp/t;
       fastcgi_temp_path $tmp/t; uwsgi_temp_path $tmp/t; scgi_temp_path $tmp/t;
       server { listen 127.0.0.1:$ngx; root $tmp/html; } }
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" -g 'daemon off;' &
pids="$pids $!"
lt=$(port)
"$build/canaryd" loadtester -port "$lt" -log-level error &
pids="$pids $!"
sleep 0.5

wrk_rps=$(wrk -t1 -c"$conc" -d"${secs}s" "http://127.0.0.1:$ngx/" | awk '/Requests\/sec/ {print $2}')
native=$(curl -s -d '{"name":"bench","namespace":"bench","metadata":{"type":"load","url":"http://127.0.0.1:'$ngx'/","concurrency":"'$conc'","duration":"'$secs's","wait":"true"}}' \
  "http://127.0.0.1:$lt/")
native_rps=$(echo "$native" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requestsPerSecond"])')
echo "wrk:    $wrk_rps req/s (1 thread, $conc connections, ${secs}s)"
echo "native: $native_rps req/s (concurrency $conc, ${secs}s): $native"
/usr/bin/python3 -c "print('native/wrk ratio: %.2f' % ($native_rps / $wrk_rps))"
