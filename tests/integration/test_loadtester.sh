# test_loadtester.sh - `canaryd loadtester` as a process, driven with curl
# the way Flagger's webhooks and its e2e scripts drive flagger-loadtester:
# Go-style flags, health, gates, a bash pre-rollout check, a native load
# test against a local nginx (Debian package), promtool on /metrics, and a
# clean exit on SIGTERM that kills running tasks.
. "$(dirname "$0")/../lib.sh"

port=$(free_port)
"$CANARYD" loadtester -port="$port" -timeout 20s -log-level info \
  -namespace-regexp '^test$' -zap-replace-globals > "$TEST_TMP/lt.log" 2>&1 &
lt=$!
track $lt
wait_http "http://127.0.0.1:$port/healthz"

payload() { # NAMESPACE [METADATA_JSON]
  printf '{"name":"podinfo","namespace":"%s","phase":"Progressing","checksum":"x"%s}' \
    "$1" "${2:+,\"metadata\":$2}"
}
post() { # PATH BODY -> "status body"
  curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$2" "http://127.0.0.1:$port$1"
  printf ' %s' "$(cat "$TEST_TMP/body")"
}

check "healthz" [ "$(curl -s "http://127.0.0.1:$port/healthz")" = "OK" ]
check "gate closed by default" [ "$(post /gate/check "$(payload test)")" = "403 Forbidden" ]
check "gate opens" [ "$(post /gate/open "$(payload test)")" = "202 " ]
check "gate approved" [ "$(post /gate/check "$(payload test)")" = "200 Approved" ]
check "other namespaces are refused" [ "$(post /gate/open "$(payload prod)")" = "403 Forbidden" ]
check "bash pre-rollout check passes" \
  [ "$(post / "$(payload test '{"type":"bash","cmd":"curl -sf http://127.0.0.1:'$port'/healthz","returnCmdOutput":"true"}')")" = "200 OK" ]
check "bash failure is a 500 with the output" \
  [ "$(post / "$(payload test '{"type":"bash","cmd":"echo nope; exit 2"}')")" = "500 command echo nope; exit 2 failed: nope
: exit status 2" ]

# a native load test against nginx: 200 requests at 100/s, half to a 404
ngx=$(free_port)
mkdir -p "$TEST_TMP/nginx/logs" "$TEST_TMP/nginx/html"
echo hello > "$TEST_TMP/nginx/html/index.html"
# workers run as the test's user: TEST_TMP is private to it
cat > "$TEST_TMP/nginx/nginx.conf" <<EOF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
pid $TEST_TMP/nginx/nginx.pid;
error_log $TEST_TMP/nginx/logs/error.log;
events { worker_connections 256; }
http {
  log_format canary '\$request \$status canary=\$http_x_canary';
  access_log $TEST_TMP/nginx/logs/access.log canary;
  client_body_temp_path $TEST_TMP/nginx/tmp; proxy_temp_path $TEST_TMP/nginx/tmp;
  fastcgi_temp_path $TEST_TMP/nginx/tmp; uwsgi_temp_path $TEST_TMP/nginx/tmp;
  scgi_temp_path $TEST_TMP/nginx/tmp;
  server { listen 127.0.0.1:$ngx; root $TEST_TMP/nginx/html;
           location = /boom { return 503; } }
}
EOF
mkdir -p "$TEST_TMP/nginx/tmp"
nginx -p "$TEST_TMP/nginx" -c "$TEST_TMP/nginx/nginx.conf" -e "$TEST_TMP/nginx/logs/error.log" \
  -g 'daemon off;' > "$TEST_TMP/nginx/out.log" 2>&1 &
track $!
wait_http "http://127.0.0.1:$ngx/"

out=$(post / "$(payload test '{"type":"load","url":"http://127.0.0.1:'$ngx'/","rate":"100","requests":"200","concurrency":"8","header.X-Canary":"1","wait":"true"}')")
status=${out%% *}; report=${out#* }
sent=$(echo "$report" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
ok2xx=$(echo "$report" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["responses"].get("2xx",0))')
check "load task answers 200 with a report" [ "$status" = 200 ]
check "load task sent exactly 200 requests" [ "$sent" = 200 ]
check "every request got a 2xx" [ "$ok2xx" = 200 ]
check "nginx received them with the header" \
  [ "$(grep -c '^GET / HTTP/1.1 200 canary=1$' "$TEST_TMP/nginx/logs/access.log")" = 200 ]

out=$(post / "$(payload test '{"type":"load","url":"http://127.0.0.1:'$ngx'/boom","requests":"20","wait":"true","maxErrorRate":"5"}')")
check "a failing target fails the load task" [ "${out%% *}" = 500 ]
check "the report counts the 5xx" \
  [ "$(echo "${out#* }" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])')" = 20 ]

# background cmd: started once, skipped while running
p=$(payload test '{"cmd":"sleep 30"}')
check "cmd task accepted" [ "$(post / "$p")" = "202 " ]
check "duplicate cmd accepted" [ "$(post / "$p")" = "202 " ]
check "duplicate is skipped" grep -q 'command skipped sleep 30 is already running' "$TEST_TMP/lt.log"

curl -s "http://127.0.0.1:$port/metrics" > "$TEST_TMP/metrics.txt"
check "metrics pass promtool" promtool check metrics < "$TEST_TMP/metrics.txt"
check "metrics count the load requests" \
  grep -q 'loadtester_load_requests_total{class="2xx"} 200' "$TEST_TMP/metrics.txt"

# SIGTERM: exits 0 and takes its running task with it
kill -TERM $lt
rc=0; wait $lt || rc=$?
check "exits 0 on SIGTERM" [ "$rc" = 0 ]
check "no sleep 30 left behind" bash -c '! pgrep -f "^sleep 30$" -P '$lt' >/dev/null'

check "bad flags are a usage error" bash -c '"$0" loadtester -nope >/dev/null 2>&1; [ $? = 2 ]' "$CANARYD"
check "a bad regexp is a usage error (exit 2)" bash -c '"$0" loadtester -port 0 -namespace-regexp "(" >/dev/null 2>&1; [ $? = 2 ]' "$CANARYD"
"$CANARYD" loadtester -port 0 -namespace-regexp "(" >"$TEST_TMP/re.out" 2>&1
check "... naming the flag and the value" grep -q 'invalid value "(" for -namespace-regexp' "$TEST_TMP/re.out"
finish
