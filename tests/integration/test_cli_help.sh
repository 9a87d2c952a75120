#!/bin/bash
# test_cli_help.sh - help texts and flag spellings, the same everywhere
# (issue 12, item 9): every canaryctl command's --help lists its flags and
# the environment it reads; --log-format is checked the same way by every
# canaryd process (Flagger's -zap-encoding too where Flagger has it); logs
# are text on a terminal; validation explains a pattern in words and
# suggests the field meant; `load --duration 0` says what it does; the
# README runs no command into another by accident.
. "$(dirname "$0")/../lib.sh"

# --- every canaryctl command: --help exits 0 and lists its flags ----------
for c in validate simulate apply get describe events watch promote abort hold resume retry load metrics; do
  "$CANARYCTL" "$c" --help >"$TEST_TMP/help-$c" 2>&1; rc=$?
  check "canaryctl $c --help exits 0 and has a Flags section" \
    bash -c "[ $rc -eq 0 ] && grep -q '^Usage: canaryctl $c ' '$TEST_TMP/help-$c' && grep -q '^Flags:' '$TEST_TMP/help-$c' && grep -q -- '--help' '$TEST_TMP/help-$c'"
done
for c in apply get describe events watch promote abort hold resume; do
  check "canaryctl $c --help lists --server, --token-file, \$CANARYD_API and \$CANARYD_TOKEN" \
    bash -c "grep -q -- '-s, --server ADDR' '$TEST_TMP/help-$c' && grep -q -- '--token-file FILE' '$TEST_TMP/help-$c' && grep -q '^  CANARYD_API ' '$TEST_TMP/help-$c' && grep -q '^  CANARYD_TOKEN ' '$TEST_TMP/help-$c' && grep -q '^Exit status:' '$TEST_TMP/help-$c'"
done
for c in get describe events watch promote abort hold resume retry; do
  check "canaryctl $c --help lists -n, --namespace" grep -q -- '-n, --namespace NS' "$TEST_TMP/help-$c"
done
# load: every flag it accepts is listed with an explanation
for f in rate concurrency duration requests timeout header method data max-error-rate output insecure progress; do
  check "canaryctl load --help explains --$f" \
    bash -c "grep -Eq -- \"--$f( [^ ']+| '[^']+')? {2,}[a-z]\" '$TEST_TMP/help-load'"
done
check "canaryctl load --help: --duration 0 runs until interrupted" \
  grep -q '0: until interrupted' "$TEST_TMP/help-load"

# --- canaryctl load --duration 0 says what it does at once -----------------
"$CANARYCTL" load http://127.0.0.1:9/ --duration 0 --rate 5 >"$TEST_TMP/load.out" 2>"$TEST_TMP/load.err" &
LP=$!
sleep 1
kill -INT $LP; wait $LP
check "load --duration 0 announces that it runs until interrupted" \
  grep -q 'until interrupted (Ctrl-C stops and prints the report)' "$TEST_TMP/load.err"
check "and prints its report when interrupted" grep -q '^sent [0-9]*, succeeded' "$TEST_TMP/load.out"

# --- canaryctl load's progress: redrawn on a terminal, quiet otherwise ------
WEB_PORT=$(free_port)
/usr/bin/python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 >/dev/null 2>&1 &
track $!
wait_http "http://127.0.0.1:$WEB_PORT/" 20
"$CANARYCTL" load "http://127.0.0.1:$WEB_PORT/" --duration 2500ms --rate 10 >"$TEST_TMP/q.out" 2>"$TEST_TMP/q.err"
check "load with stderr not a terminal prints no progress (stderr empty)" [ ! -s "$TEST_TMP/q.err" ]
check "and its report on stdout" grep -q '^sent [0-9]*, succeeded' "$TEST_TMP/q.out"
script -qec "'$CANARYCTL' load http://127.0.0.1:$WEB_PORT/ --duration 2500ms --rate 10" /dev/null >"$TEST_TMP/tty.out" 2>&1
check "load on a terminal redraws one progress line in place, with how far it is" \
  bash -c "grep -a -q \$'\r\033\\[Kcanaryctl load: \\[ *[0-9]*%\\] [0-9]s: sent [0-9]*, failed 0' '$TEST_TMP/tty.out'"
check "and ends it before the report" grep -a -q $'req/s\r*$' "$TEST_TMP/tty.out"
script -qec "'$CANARYCTL' load http://127.0.0.1:$WEB_PORT/ --duration 1500ms --rate 10 --progress never" /dev/null >"$TEST_TMP/never.out" 2>&1
check "load --progress never on a terminal prints no progress" bash -c "! grep -a -q 'canaryctl load:' '$TEST_TMP/never.out'"

# --- --log-format: the same choices and message in every process ---------
for p in "local --dir $TEST_TMP" router kube loadtester; do
  "$CANARYD" $p --log-format xml >/dev/null 2>"$TEST_TMP/lf.err"; rc=$?
  check "canaryd ${p%% *} --log-format xml is refused (exit 2, json or text)" \
    bash -c "[ $rc -eq 2 ] && grep -q 'invalid value \"xml\" for --log-format: expected json or text' '$TEST_TMP/lf.err'"
  "$CANARYD" $p --help 2>&1 | tr -s ' \n' '  ' >"$TEST_TMP/lf.help"
  check "canaryd ${p%% *} --help: logs are text on a terminal, json otherwise" \
    grep -q 'log format[^)]*) (default text on a terminal, json otherwise)\|log format (default text on a terminal, json otherwise)' "$TEST_TMP/lf.help"
done
for p in kube loadtester; do
  "$CANARYD" $p -zap-encoding xml >/dev/null 2>"$TEST_TMP/zap.err"; rc=$?
  check "canaryd $p keeps Flagger's -zap-encoding, checked (json or console)" \
    bash -c "[ $rc -eq 2 ] && grep -q 'invalid value \"xml\" for -zap-encoding: expected json or console' '$TEST_TMP/zap.err'"
done

check "canaryd kube -h names the Gateway API routers" bash -c \
  "'$CANARYD' kube -h | tr -s ' \n' '  ' | grep -q 'the Gateway API (gatewayapi:v1, gatewayapi:v1beta1)'"

# --- logs on a terminal are text -------------------------------------------
mkdir -p "$TEST_TMP/tty"
/usr/bin/python3 - "$CANARYD" "$TEST_TMP/tty" >"$TEST_TMP/tty.out" <<'PY'
import os, pty, select, sys, time
canaryd, d = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(canaryd, [canaryd, "local", "--dir", d, "--api", "unix:" + d + "/api.sock",
                       "--stop-on-exit"])
out, end = b"", time.time() + 90   # generous: a loaded CI host starts it slowly
while time.time() < end and b"local: watching " not in out:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
os.kill(pid, 15)
while True:   # drain until it exits
    try:
        if not os.read(fd, 4096):
            break
    except OSError:
        break
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
PY
[ -s "$TEST_TMP/tty.out" ] || echo "  (canaryd local printed nothing on the terminal)"
check "canaryd local on a terminal logs text, not JSON" \
  bash -c "grep -q ' info  local: watching ' '$TEST_TMP/tty.out' && ! grep -q '^{' '$TEST_TMP/tty.out'" ||
  head -n 20 "$TEST_TMP/tty.out" | sed 's/^/  tty: /'

# --- validation: patterns in words, did you mean ---------------------------
sed 's/maxWeight: 50/maxWeigth: 50/; s/^    interval: 10s$/    interval: 10x/' \
  "$CANARYD_SRC/examples/demo/manifests/podinfo-canary.yaml" >"$TEST_TMP/typo.yaml"
"$CANARYCTL" validate -f "$TEST_TMP/typo.yaml" >/dev/null 2>"$TEST_TMP/typo.err"
check "an unknown field gets 'did you mean maxWeight?'" \
  grep -q 'typo.yaml:[0-9]*:[0-9]*: warning: spec.analysis.maxWeigth: unknown field (ignored); did you mean maxWeight?' "$TEST_TMP/typo.err"
check "a pattern error is explained in words, not as a regular expression" \
  bash -c "grep -q 'spec.analysis.interval: must be a whole number of seconds or minutes, such as 30s or 1m: \"10x\"' '$TEST_TMP/typo.err' && ! grep -q '\^\[0-9\]' '$TEST_TMP/typo.err'"

# --- the README pipes no canaryctl command into another --------------------
check "README.md has no 'canaryctl ... | canaryctl ...' line" \
  bash -c "! grep -Eq 'canaryctl [^|#]*\| *canaryctl' '$CANARYD_SRC/README.md' '$CANARYD_SRC/docs/local.md'"
finish
