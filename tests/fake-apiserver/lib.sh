# tests/fake-apiserver/lib.sh - start the fake API server from a bash test.
# Source it after tests/lib.sh:
#   . "$(dirname "$0")/../lib.sh"; . "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
#   fake_apiserver_start [fake_apiserver.py options...]
# sets FAKE_PORT, FAKE_URL, KUBECONFIG (a kubeconfig for kubectl and canaryd,
# namespace "default") and KUBECACHEDIR (kubectl's discovery cache, per test);
# the server is stopped by tests/lib.sh's EXIT trap.
# fake_ctl WHAT [JSON] drives the /fake/ control endpoints (POST; GET when no JSON).

fake_apiserver_start() {
  local dir=$TEST_TMP/fake-apiserver.$$.$RANDOM
  mkdir -p "$dir"
  /usr/bin/python3 "$CANARYD_SRC/tests/fake-apiserver/fake_apiserver.py" --port-file "$dir/port" "$@" \
    >"$dir/log" 2>&1 &
  local pid=$!
  track $pid
  local i=0
  while [ ! -s "$dir/port" ]; do
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 $pid 2>/dev/null; then
      echo "fake-apiserver did not start:" >&2; cat "$dir/log" >&2; return 1
    fi
    sleep 0.05
  done
  FAKE_PORT=$(cat "$dir/port")
  _finish_hooks="${_finish_hooks:-} fake_check_fields_lost:$FAKE_PORT"
  FAKE_URL=http://127.0.0.1:$FAKE_PORT
  FAKE_PID=$pid
  FAKE_LOG=$dir/log
  KUBECONFIG=$dir/kubeconfig
  KUBECACHEDIR=$dir/kube-cache
  export KUBECONFIG KUBECACHEDIR
  cat >"$KUBECONFIG" <<KC
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $FAKE_URL
users:
- name: fake-user
  user: {}
contexts:
- name: fake
  context: {cluster: fake, user: fake-user, namespace: default}
current-context: fake
KC
}

fake_ctl() {
  if [ $# -ge 2 ]; then
    curl -s -X POST -H 'Content-Type: application/json' -d "$2" "$FAKE_URL/fake/$1"
  else
    curl -s "$FAKE_URL/fake/$1"
  fi
}

# fake_check_fields_lost PORT: a check that no write canaryd made to the
# fake at PORT lost a field (unknown or duplicate: what a real API server
# drops silently or refuses under fieldValidation=Strict). Run by
# tests/lib.sh's finish when canaryd wrote anything.
fake_check_fields_lost() {
  local url=http://127.0.0.1:$1 n lost
  n=$(curl -s "$url/fake/requests" | /usr/bin/python3 -c 'import json,sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r["userAgent"].startswith("canaryd")
      and r["method"] in ("POST", "PUT", "PATCH")))' 2>/dev/null) || return 0
  [ "${n:-0}" -gt 0 ] || return 0
  lost=$(curl -s "$url/fake/fields-lost" | /usr/bin/python3 -c 'import json,sys
for w in json.load(sys.stdin)["writes"]:
    if w["userAgent"].startswith("canaryd"):
        print("%s %s: %s" % (w["method"], w["path"], ", ".join(w["errors"])))')
  [ -z "$lost" ] || echo "$lost" | head -10
  check "the API server dropped no field of canaryd's $n writes (fieldValidation)" test -z "$lost"
}
