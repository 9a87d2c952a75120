#!/usr/bin/env bash
# test_router_cli.sh - `canaryd router` flags and startup errors: help,
# unknown or invalid flags (exit 2), a configuration file that is not JSON
# or not valid (exit 1, with the position or the field path), a listen
# address in use (exit 1); a pid file is written.
. "$(dirname "$0")/../lib.sh"

out=$("$CANARYD" router --help 2>&1); rc=$?
check "--help exits 0 and lists the flags" test "$rc" -eq 0 -a -n "$(echo "$out" | grep -- '--takeover PATH')"

out=$("$CANARYD" router --bogus 2>&1); rc=$?
check "an unknown flag exits 2 and says so" test "$rc" -eq 2 -a -n "$(echo "$out" | grep 'unknown flag "--bogus"')"

out=$("$CANARYD" router --workers 0 2>&1); rc=$?
check "--workers 0 exits 2" test "$rc" -eq 2 -a -n "$(echo "$out" | grep 'from 1 to 64')"

out=$("$CANARYD" router --read-timeout soon 2>&1); rc=$?
check "an invalid duration exits 2" test "$rc" -eq 2 -a -n "$(echo "$out" | grep 'invalid duration "soon"')"

printf '{"routes": [\n  {"name": "a",,}]}\n' > "$TEST_TMP/broken.json"
out=$("$CANARYD" router --config "$TEST_TMP/broken.json" 2>&1); rc=$?
check "a file that is not JSON exits 1 with its position" \
  test "$rc" -eq 1 -a -n "$(echo "$out" | grep 'broken.json:2:')"

printf '{"routes": [{"name": "a", "weight": 200, "primary": {"backends": []}}]}\n' > "$TEST_TMP/invalid.json"
out=$("$CANARYD" router --config "$TEST_TMP/invalid.json" 2>&1); rc=$?
check "an invalid configuration exits 1 naming the field" \
  test "$rc" -eq 1 -a -n "$(echo "$out" | grep 'routes\[0\].weight: must be between 0 and 100')"

busy=$(free_port)
/usr/bin/python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$busy)); s.listen(1); time.sleep(30)" &
track $!
sleep 0.3
out=$("$CANARYD" router --listen "127.0.0.1:$busy" 2>&1); rc=$?
check "a listen address in use exits 1" test "$rc" -eq 1 -a -n "$(echo "$out" | grep 'Address already in use')"

port=$(free_port)
"$CANARYD" router --listen "127.0.0.1:$port" --pid-file "$TEST_TMP/router.pid" --log-format text \
  > "$TEST_TMP/r.log" 2>&1 &
pid=$!
track $pid
wait_http "http://127.0.0.1:$port/"
check "without routes every request gets 404" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 404
check "the pid file holds the router's pid" test "$(cat "$TEST_TMP/router.pid")" = "$pid"
kill -TERM $pid
wait $pid; rc=$?
check "SIGTERM exits 0" test "$rc" -eq 0
finish
