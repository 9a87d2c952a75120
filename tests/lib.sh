# tests/lib.sh - helpers for integration tests (bash). Source it:
#   . "$(dirname "$0")/../lib.sh"
# Every server a test starts runs on a loopback port picked here and is
# stopped by the EXIT trap, whatever happens.
set -u
: "${CANARYD_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${CANARYD_BUILD:=$CANARYD_SRC/build}"
: "${CANARYD_SHARED:=$CANARYD_SRC/../shared}"
# the pinned kubectl and helm (scripts/kube-tools.sh) come first on PATH
case "$PATH:" in
  "${CANARYD_TOOLS_DIR:-$CANARYD_SRC/.cache/tools}/bin:"*) ;;
  *) PATH=${CANARYD_TOOLS_DIR:-$CANARYD_SRC/.cache/tools}/bin:$PATH; export PATH ;;
esac
CANARYD=$CANARYD_BUILD/canaryd
CANARYCTL=$CANARYD_BUILD/canaryctl
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/canaryd-test.XXXXXX")
_pids=""
_passed=0
_failed=0

cleanup() {
  for p in $_pids; do kill "$p" 2>/dev/null; done
  sleep 0.2
  for p in $_pids; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TEST_TMP"
}
trap cleanup EXIT

# track PID: stop it at exit
track() { _pids="$_pids $1"; }

# free_port: a TCP port nobody listens on right now
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [SECONDS]: until URL answers (any status)
wait_http() {
  local url=$1 t=${2:-20} i=0
  while ! curl -s -o /dev/null "$url"; do
    i=$((i + 1))
    [ $i -gt $((t * 20)) ] && { echo "timeout waiting for $url" >&2; return 1; }
    sleep 0.05
  done
}

# check NAME CONDITION...: one assertion, printed as ok/FAIL
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; _passed=$((_passed + 1));
  else echo "FAIL $name"; _failed=$((_failed + 1)); return 1; fi
}

# require NAME CONDITION...: a check the rest of the test depends on; when
# it fails the test stops there (printing its summary) instead of running
# every later wait to its timeout.
require() {
  check "$@" && return 0
  echo "(stopping: the checks after this one depend on it)"
  finish
  exit 1
}

# require_kubectl / require_helm: the one check a test makes before it
# runs kubectl (or helm): is the one on PATH recent enough for deploy/ (see
# tests/integration/kubetools.py)? If not, the test stops at once with one
# FAIL naming the version found and the version needed.
require_kubectl() { require_tool kubectl; }
require_helm() { require_tool helm; }
require_tool() {
  local msg
  if msg=$(/usr/bin/python3 "$CANARYD_SRC/tests/integration/kubetools.py" "$1"); then
    echo "# $msg"
    return 0
  fi
  echo "FAIL $1: $msg"
  _failed=$((_failed + 1))
  finish
  exit 1
}

# finish: prints "N passed, N failed" and exits non-zero on failures
finish() {
  local h
  for h in ${_finish_hooks:-}; do "${h%%:*}" "${h#*:}"; done   # NAME:ARG, added by helpers
  _finish_hooks=
  echo "$_passed passed, $_failed failed"
  [ "$_failed" -eq 0 ] && [ "$_passed" -gt 0 ]
}
